//! Failures any stage can meet, each a table by stage: running out of time, and I/O errors.

use std::time::Duration;

use super::{millis, Builder};
use crate::error::Stage;

pub(super) fn timeout(b: &mut Builder<'_, '_>, stage: Stage, after: Duration) {
    b.fact("after", millis(after));
    if matches!(stage, Stage::Dns | Stage::Tcp) {
        b.bypassed_proxy();
    }
    let ws = b.cx.secure() == Some(false);
    let (cause, hint): (String, String) = match stage {
        Stage::Dns => {
            let mut hint = String::from(
                "the host name was not resolved in time: the DNS server does not answer or is slow; check the network connection and the resolver (/etc/resolv.conf), connect to an IP address, or raise ClientConfig::connect_timeout, which resolving counts against",
            );
            if b.cx.through_proxy() {
                hint.push_str("; through a SOCKS proxy, socks5h:// lets the proxy resolve the name");
            }
            ("dns-timeout".into(), hint)
        }
        Stage::Tcp => (
            "tcp-timeout".into(),
            "the host did not accept the connection in time: a firewall may drop the packets, or the host is down; check the address and port (or raise ClientConfig::connect_timeout)".into(),
        ),
        Stage::Proxy => (
            "timeout-proxy".into(),
            "the proxy did not open the tunnel in time: check the proxy URL, that its scheme matches the proxy's protocol (http:// vs socks5://), and that the proxy can reach the server (it answers only once it has)".into(),
        ),
        Stage::Tls => (
            "timeout-tls".into(),
            "the server accepted TCP but did not complete the TLS handshake: is this a TLS port? A plain HTTP server waits silently for a request: try ws:// (or raise ClientConfig::tls_timeout)".into(),
        ),
        Stage::Http | Stage::Handshake => {
            let received = b.cx.raw_response.map_or(0, <[u8]>::len);
            if received > 0 {
                b.fact("received_bytes", received.to_string());
            }
            let mut hint = String::from(
                "the server accepted the connection but never finished its answer to the upgrade request: is this a WebSocket endpoint (and the right port)?",
            );
            if ws && received == 0 {
                hint.push_str(" A TLS port waits silently for a TLS hello: try wss://.");
            }
            hint.push_str(" A slow server needs more time: raise ClientConfig::handshake_timeout.");
            ("timeout-http".into(), hint)
        }
        Stage::Open => (
            "timeout-open".into(),
            "the open connection was silent longer than the read (or write) timeout; the connection is still usable".into(),
        ),
        other => (format!("timeout-{other}"), String::new()),
    };
    b.cause(cause).hint(hint);
}

pub(super) fn io_error(b: &mut Builder<'_, '_>, stage: Stage, source: &std::io::Error) {
    use std::io::ErrorKind;
    b.fact("os_error", source.to_string());
    let reset = matches!(
        source.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
    );
    let closed = matches!(
        source.kind(),
        ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof
    );
    let (cause, hint): (String, &str) = match stage {
        Stage::Http | Stage::Handshake if reset => (
            "reset-during-handshake".into(),
            "the server (or a firewall, load balancer or proxy in between) reset the connection during the upgrade: it does not speak HTTP here, or refuses WebSocket requests, or crashed; a TLS port resets plain text too (try wss://)",
        ),
        Stage::Http | Stage::Handshake if closed => (
            "closed-during-handshake".into(),
            "the server closed the connection during the upgrade: its logs say why",
        ),
        Stage::Open if reset => (
            "reset-after-open".into(),
            "the server or something in between reset the open connection",
        ),
        Stage::Tls if reset => (
            "tls-reset".into(),
            "the server reset the connection during the TLS handshake: it may not speak TLS on this port, or refuse our hello",
        ),
        Stage::Proxy if reset => (
            "proxy-reset".into(),
            "the proxy reset the connection: check the proxy URL's scheme and port",
        ),
        other => (format!("{other}-io-error"), "the operating system's error says why"),
    };
    b.cause(cause).hint(hint);
}
