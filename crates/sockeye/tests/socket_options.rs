//! `ClientConfig`'s TCP socket options (`tcp_nodelay`, `tcp_keepalive`, `local_address`)
//! through both front-ends: the source address as the server sees it, and the options as the
//! client's socket reports them.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread;

use sockeye::transport::{AsyncStream, Stream};
use sockeye::{blocking, Accept, ClientConfig, ServerConfig};

/// A server for one connection on 127.0.0.1 that reports where it came from.
fn server() -> (String, mpsc::Receiver<SocketAddr>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, peer) = listener.accept().unwrap();
        let _ = tx.send(peer);
        let (mut socket, _) =
            blocking::accept_with(stream, &ServerConfig::default(), |_| Ok(Accept::default()))
                .unwrap();
        while socket.read().is_ok() {}
    });
    (url, rx)
}

fn config(url: &str) -> ClientConfig {
    ClientConfig::new(url)
        .unwrap()
        .proxy(sockeye::ProxyConfig::Direct)
        .tcp_nodelay(false)
        .tcp_keepalive(true)
        .local_address(Some(IpAddr::from([127, 0, 0, 2])))
}

/// (nodelay, keepalive) of a connected TCP socket.
fn options(tcp: socket2::SockRef<'_>) -> (bool, bool) {
    (tcp.tcp_nodelay().unwrap(), tcp.keepalive().unwrap())
}

#[test]
fn blocking_dial_applies_the_socket_options() {
    let (url, peer) = server();
    let (socket, _) = blocking::connect_with(config(&url)).unwrap();
    let Stream::Tcp(tcp) = socket.get_ref() else {
        panic!("a TCP stream")
    };
    assert_eq!(options(socket2::SockRef::from(tcp)), (false, true));
    assert_eq!(peer.recv().unwrap().ip(), IpAddr::from([127, 0, 0, 2]));
    // The defaults: Nagle off, no SO_KEEPALIVE, any source address.
    let (url, peer) = server();
    let config = ClientConfig::new(&url)
        .unwrap()
        .proxy(sockeye::ProxyConfig::Direct);
    let (socket, _) = blocking::connect_with(config).unwrap();
    let Stream::Tcp(tcp) = socket.get_ref() else {
        panic!("a TCP stream")
    };
    assert_eq!(options(socket2::SockRef::from(tcp)), (true, false));
    assert_eq!(peer.recv().unwrap().ip(), IpAddr::from([127, 0, 0, 1]));
}

#[test]
fn tokio_dial_applies_the_socket_options() {
    let (url, peer) = server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (socket, _) = sockeye::tokio::connect_async_with(config(&url))
            .await
            .unwrap();
        let AsyncStream::Tcp(tcp) = socket.get_ref() else {
            panic!("a TCP stream")
        };
        assert_eq!(options(socket2::SockRef::from(tcp)), (false, true));
    });
    assert_eq!(peer.recv().unwrap().ip(), IpAddr::from([127, 0, 0, 2]));
}

#[test]
fn a_local_address_of_the_other_family_is_a_clear_error() {
    let (url, _peer) = server();
    let config = ClientConfig::new(&url)
        .unwrap()
        .proxy(sockeye::ProxyConfig::Direct)
        .local_address(Some("::1".parse().unwrap()));
    let err = blocking::connect_with(config).err().unwrap();
    assert!(err.to_string().contains("family"), "{err}");
}
