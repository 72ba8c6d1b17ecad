//! The TCP stage: no connection to the server's address, or to the Unix socket that stands
//! where it would (its time-outs are in `io.rs`).

use super::Builder;

pub(super) fn connect(b: &mut Builder<'_, '_>, addr: &str, source: &std::io::Error) {
    use std::io::ErrorKind;
    b.quote("address", addr)
        .fact("os_error", source.to_string())
        .bypassed_proxy();
    if let Some(path) = addr.strip_prefix("unix:") {
        let (cause, hint) = match source.kind() {
            ErrorKind::NotFound => (
                "unix-socket-missing",
                format!("no socket at {path}: check the path, and that the server runs"),
            ),
            ErrorKind::PermissionDenied => (
                "unix-socket-denied",
                format!("this user may not open {path}: check its permissions (and its directory's)"),
            ),
            ErrorKind::ConnectionRefused => (
                "unix-socket-refused",
                format!("{path} exists but nothing listens on it: the server stopped and left it behind"),
            ),
            _ => ("unix-socket-failed", "check the socket path".to_string()),
        };
        b.cause(cause).hint(hint);
        return;
    }
    let scheme_port = match b.cx.secure() {
        Some(true) => " (wss:// defaults to 443)",
        Some(false) => " (ws:// defaults to 80)",
        None => "",
    };
    match source.kind() {
        ErrorKind::ConnectionRefused => {
            b.cause("tcp-refused").hint(format!(
                "nothing listens on {addr}: check the port{scheme_port}, that the server runs, and that it listens on this address (a server bound to 127.0.0.1 takes no connections from elsewhere)"
            ));
        }
        ErrorKind::TimedOut => {
            b.cause("tcp-timeout").hint(format!(
                "{addr} did not answer: a firewall may drop the packets, or the host is down; check the address and port"
            ));
        }
        ErrorKind::HostUnreachable
        | ErrorKind::NetworkUnreachable
        | ErrorKind::AddrNotAvailable => {
            b.cause("tcp-unreachable").hint(format!(
                "there is no route to {addr}: check the address, the network connection, and VPN or routes; a proxy may be needed to reach it"
            ));
        }
        ErrorKind::PermissionDenied => {
            b.cause("tcp-denied").hint(
                "this machine refused to open the connection: a local firewall rule or a sandbox forbids it",
            );
        }
        ErrorKind::ConnectionReset => {
            b.cause("tcp-reset").hint(
                "the host reset the connection as it opened: a firewall that rejects it, or a server that is overloaded",
            );
        }
        _ => {
            b.cause("tcp-failed")
                .hint("the operating system's error says why");
        }
    }
}
