//! A TLS WebSocket echo server for the TLS tests: rustls over a blocking `TcpListener` on
//! 127.0.0.1 port 0, sockeye's blocking server inside. It reports what each handshake showed
//! (SNI, ALPN, client certificate, outcome) and stops when dropped.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    RootCertStore, ServerConfig, ServerConnection, StreamOwned, SupportedProtocolVersion,
};
use sockeye::Message;

use super::pki::{Ca, Leaf};

/// The longest a test waits for the server to report, and the server's socket timeouts.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// A rustls server configuration presenting `leaf`, requiring a client certificate issued by
/// `client_ca` when given, offering ALPN `http/1.1`, with the given TLS versions.
pub(crate) fn server_config(
    leaf: &Leaf,
    client_ca: Option<&Ca>,
    versions: &[&'static SupportedProtocolVersion],
) -> ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .expect("ring supports these versions");
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots
                .add(CertificateDer::from(ca.cert_der.clone()))
                .expect("the client CA is a valid trust anchor");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("a client certificate verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(
            vec![CertificateDer::from(leaf.cert_der.clone())],
            PrivatePkcs8KeyDer::from(leaf.key_der.clone()).into(),
        )
        .expect("the certificate and key match");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// What the server saw in one TLS handshake.
#[derive(Debug)]
pub(crate) struct Seen {
    /// The server name the client sent (SNI).
    pub(crate) sni: Option<String>,
    /// The ALPN protocol agreed on.
    pub(crate) alpn: Option<Vec<u8>>,
    /// Whether the client presented a certificate.
    pub(crate) client_cert: bool,
    /// The handshake's outcome, as the server saw it.
    pub(crate) handshake: Result<(), String>,
}

/// The echo server; dropping it stops the accept loop.
pub(crate) struct EchoServer {
    pub(crate) addr: SocketAddr,
    seen: Receiver<Seen>,
    stop: Arc<AtomicBool>,
    accept_loop: Option<JoinHandle<()>>,
}

impl EchoServer {
    pub(crate) fn start(config: ServerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("a local address");
        let config = Arc::new(config);
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, seen) = mpsc::channel();
        let accept_loop = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (config, tx) = (Arc::clone(&config), tx.clone());
                    thread::spawn(move || serve_one(stream, config, tx));
                }
            })
        };
        Self {
            addr,
            seen,
            stop,
            accept_loop: Some(accept_loop),
        }
    }

    /// `wss://HOST:PORT/echo` for this server.
    pub(crate) fn url(&self, host: &str) -> String {
        format!("wss://{host}:{}/echo", self.addr.port())
    }

    /// What the next handshake showed, waiting at most [`WAIT`].
    pub(crate) fn next_seen(&self) -> Seen {
        self.seen
            .recv_timeout(WAIT)
            .expect("the TLS server reports each handshake")
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept_loop) = self.accept_loop.take() {
            let _ = accept_loop.join();
        }
    }
}

fn serve_one(mut tcp: TcpStream, config: Arc<ServerConfig>, tx: Sender<Seen>) {
    let _ = tcp.set_read_timeout(Some(WAIT));
    let _ = tcp.set_write_timeout(Some(WAIT));
    let Ok(mut conn) = ServerConnection::new(config) else {
        return;
    };
    let mut handshake = Ok(());
    while conn.is_handshaking() {
        if let Err(err) = conn.complete_io(&mut tcp) {
            handshake = Err(err.to_string());
            break;
        }
    }
    let failed = handshake.is_err();
    let _ = tx.send(Seen {
        sni: conn.server_name().map(str::to_string),
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        client_cert: conn
            .peer_certificates()
            .is_some_and(|certs| !certs.is_empty()),
        handshake,
    });
    if failed {
        // The alert is written; closing now, with the client's request unread, would reset the
        // connection before the client reads the alert. Half-close and wait for its end instead.
        let _ = tcp.shutdown(Shutdown::Write);
        let _ = io::copy(&mut tcp, &mut io::sink());
        return;
    }
    let Ok(mut socket) = sockeye::blocking::accept(StreamOwned::new(conn, tcp)) else {
        return;
    };
    loop {
        let sent = match socket.read() {
            Ok(Message::Text(text)) => socket.send_text(text.as_str()),
            Ok(Message::Binary(data)) => socket.send_binary(&data),
            Ok(_) => Ok(()),
            Err(_) => break,
        };
        if sent.is_err() {
            break;
        }
    }
    let mut tls = socket.into_inner();
    tls.conn.send_close_notify();
    let _ = tls.flush();
    let _ = tls.sock.shutdown(Shutdown::Write);
    let _ = tls.sock.read(&mut [0; 64]);
}

/// A TCP server that answers whatever arrives with a plain HTTP 400, as a web server without TLS
/// does when a TLS client says hello.
pub(crate) fn plain_http_server() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("a local address");
    let handle = thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(WAIT));
        let _ = stream.read(&mut [0; 4096]);
        let _ = stream.write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        let _ = stream.shutdown(Shutdown::Write);
        let _ = io::copy(&mut stream, &mut io::sink());
    });
    (addr, handle)
}

/// A TCP server that accepts one connection and never says anything; it lets go of the
/// connection when `release` is dropped (or after [`WAIT`]).
pub(crate) fn silent_server() -> (SocketAddr, Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("a local address");
    let (release, released) = mpsc::channel::<()>();
    thread::spawn(move || {
        let Ok((_stream, _)) = listener.accept() else {
            return;
        };
        let _ = released.recv_timeout(WAIT);
    });
    (addr, release)
}
