//! Misbehaving servers for the diagnosis tests, all on 127.0.0.1 port 0: a raw TCP server that
//! answers each connection as told (a refusal, a broken 101, a close or a reset in the middle,
//! silence), fake HTTP and SOCKS5 proxies that refuse, and an in-process sockeye echo server to
//! put behind nginx and squid ([`peers`]).
//!
//! Every wait is bounded by [`WAIT`]; nothing sleeps to synchronise.

#![allow(dead_code)]

pub(crate) mod peers;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::Duration;

/// The longest anything here waits.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// How the raw server answers a connection.
#[derive(Clone, Debug)]
pub(crate) enum Behaviour {
    /// Reads the request head, writes these bytes, then closes its side.
    Answer(String),
    /// Reads the request head and writes this 101 template, with `{accept}` replaced by the
    /// right `Sec-WebSocket-Accept` for the request's key; then holds the connection until
    /// the client leaves.
    Switch(String),
    /// Reads the request head, writes these bytes (the start of an answer), then closes.
    CloseAfter(String),
    /// Waits for the request's first bytes and closes without reading them: the kernel then
    /// resets the connection.
    Reset,
    /// Reads the request and never answers (until the client leaves, or [`WAIT`]).
    Silent,
}

/// A raw TCP server answering every connection with one [`Behaviour`]; it reports each
/// request head it read. Stops accepting when dropped.
pub(crate) struct RawServer {
    pub(crate) addr: SocketAddr,
    requests: Receiver<String>,
    stop: Sender<()>,
}

impl RawServer {
    pub(crate) fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("a local address");
        let (tx, requests) = mpsc::channel();
        let (stop, stopped) = mpsc::channel::<()>();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if !matches!(stopped.try_recv(), Err(mpsc::TryRecvError::Empty)) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (behaviour, tx) = (behaviour.clone(), tx.clone());
                thread::spawn(move || serve(stream, &behaviour, &tx));
            }
        });
        Self {
            addr,
            requests,
            stop,
        }
    }

    /// `ws://127.0.0.1:PORT{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// The next request head the server read, waiting at most [`WAIT`].
    pub(crate) fn request(&self) -> String {
        self.requests
            .recv_timeout(WAIT)
            .expect("the raw server reports each request")
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        // Wake the accept loop so that it sees the message.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Reads up to the end of an HTTP head (or the end of the stream).
pub(crate) fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// The value of header `name` in a head.
pub(crate) fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

/// Closes the write side and waits (bounded) for the peer to close too, so that what was
/// written is read before any reset.
fn finish(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = io::copy(&mut stream, &mut io::sink());
}

fn serve(mut stream: TcpStream, behaviour: &Behaviour, requests: &Sender<String>) {
    let _ = stream.set_read_timeout(Some(WAIT));
    let _ = stream.set_write_timeout(Some(WAIT));
    if let Behaviour::Reset = behaviour {
        // Closing a socket with unread data makes the kernel send RST instead of FIN.
        let _ = stream.peek(&mut [0u8; 1]);
        return;
    }
    let request = read_head(&mut stream);
    let key = header(&request, "Sec-WebSocket-Key").unwrap_or_default();
    let _ = requests.send(request);
    match behaviour {
        Behaviour::Answer(bytes) | Behaviour::CloseAfter(bytes) => {
            let _ = stream.write_all(bytes.as_bytes());
            finish(stream);
        }
        Behaviour::Switch(template) => {
            let accept = sockeye::proto::handshake::accept_key(&key);
            let _ = stream.write_all(template.replace("{accept}", &accept).as_bytes());
            finish(stream);
        }
        Behaviour::Silent => {
            let _ = io::copy(&mut stream, &mut io::sink());
        }
        Behaviour::Reset => {}
    }
}

/// An HTTP proxy that answers every `CONNECT` with `reply`.
pub(crate) fn refusing_http_proxy(reply: &'static str) -> RawServer {
    RawServer::start(Behaviour::Answer(reply.to_string()))
}

/// A SOCKS5 proxy that accepts "no authentication" and refuses every `CONNECT` with the
/// reply code `code`.
pub(crate) fn refusing_socks5_proxy(code: u8) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("a local address");
    thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(WAIT));
        // Greeting: version, method count, methods.
        let mut greeting = [0u8; 2];
        if stream.read_exact(&mut greeting).is_err() {
            return;
        }
        let mut methods = vec![0u8; usize::from(greeting[1])];
        let _ = stream.read_exact(&mut methods);
        let _ = stream.write_all(&[0x05, 0x00]);
        // Request: VER CMD RSV ATYP, then the address and the port.
        let mut request = [0u8; 4];
        if stream.read_exact(&mut request).is_err() {
            return;
        }
        let address_len = match request[3] {
            0x01 => 4,
            0x04 => 16,
            _ => {
                let mut len = [0u8; 1];
                let _ = stream.read_exact(&mut len);
                usize::from(len[0])
            }
        };
        let mut rest = vec![0u8; address_len + 2];
        let _ = stream.read_exact(&mut rest);
        let _ = stream.write_all(&[0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
        finish(stream);
    });
    addr
}
