//! Proxy handshakes as byte vectors, grouped by specification: HTTP `CONNECT` (RFC 9110
//! section 9.3.6, Basic authentication RFC 7617), SOCKS4 and SOCKS4a, SOCKS5 (RFC 1928) with
//! username/password (RFC 1929). Then properties: any chunking that respects `read_limit` gives
//! the same outcome and never reads past the reply; garbage and truncated replies never panic.
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::BytesMut;
use proptest::prelude::*;
use sockeye_proto::proxy::{
    socks4_reply_meaning, socks5_reply_meaning, Credentials, Destination, ProxyError,
    ProxyHandshake, ProxyProtocol, Tunnel,
};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// What a driver that follows the documented loop observed.
#[derive(Debug, PartialEq)]
struct Run {
    outcome: Result<Tunnel, ProxyError>,
    /// Everything the handshake asked to send, in order.
    sent: Vec<u8>,
    /// Bytes of the proxy's stream never read (they belong to the tunnel).
    unread: usize,
}

/// Drives `handshake` against `incoming` (everything the proxy will ever send), reading at most
/// `read_limit` and at most `chunk` bytes at a time; end of `incoming` is the end of stream.
fn drive(mut handshake: ProxyHandshake, incoming: &[u8], chunk: usize) -> Run {
    let mut sent = Vec::new();
    let mut rest = incoming;
    let mut buf = BytesMut::new();
    loop {
        let pending = handshake.pending_output().to_vec();
        handshake.consume_output(pending.len());
        sent.extend_from_slice(&pending);
        let want = handshake.read_limit(&buf);
        assert!(want > 0, "a handshake waiting for input allows reading");
        if rest.is_empty() {
            return Run {
                outcome: Err(handshake.receive_eof(&mut buf)),
                sent,
                unread: 0,
            };
        }
        let n = want.min(chunk.max(1)).min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        match handshake.receive(&mut buf) {
            Ok(Some(tunnel)) => {
                assert!(buf.is_empty(), "read past the reply: {buf:?}");
                assert_eq!(handshake.read_limit(&buf), 0);
                return Run {
                    outcome: Ok(tunnel),
                    sent,
                    unread: rest.len(),
                };
            }
            Ok(None) => {}
            Err(err) => {
                // Sticky: the same error again, and nothing more to send or read.
                assert_eq!(handshake.receive(&mut buf).unwrap_err(), err);
                assert!(handshake.pending_output().is_empty());
                assert_eq!(handshake.read_limit(&buf), 0);
                return Run {
                    outcome: Err(err),
                    sent,
                    unread: rest.len(),
                };
            }
        }
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> Destination {
    Destination::Addr(SocketAddr::from((Ipv4Addr::new(a, b, c, d), port)))
}

fn name(host: &str, port: u16) -> Destination {
    Destination::Name {
        host: host.to_string(),
        port,
    }
}

fn handshake(
    protocol: ProxyProtocol,
    destination: Destination,
    credentials: Option<(&str, &str)>,
) -> ProxyHandshake {
    ProxyHandshake::new(
        protocol,
        destination,
        credentials.map(|(user, pass)| Credentials::new(user, pass)),
    )
    .unwrap()
}

/// Bytes that the destination sends through the tunnel, after the proxy's reply.
const TUNNEL: &[u8] = b"\x81\x05hello";

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// ---------------------------------------------------------------------------------------------
// Destinations and credentials
// ---------------------------------------------------------------------------------------------

#[test]
fn destinations_from_url_hosts() {
    assert_eq!(Destination::new("192.0.2.1", 80), v4(192, 0, 2, 1, 80));
    let v6 = Destination::Addr(SocketAddr::from((Ipv6Addr::LOCALHOST, 443)));
    assert_eq!(Destination::new("::1", 443), v6);
    assert_eq!(Destination::new("[::1]", 443), v6);
    assert_eq!(v6.authority(), "[::1]:443");
    assert_eq!(
        Destination::new("example.com", 8080),
        name("example.com", 8080)
    );
    assert_eq!(name("example.com", 8080).to_string(), "example.com:8080");
}

#[test]
fn credentials_debug_hides_the_password() {
    let debug = format!("{:?}", Credentials::new("alice", "hunter2"));
    assert!(
        debug.contains("alice") && !debug.contains("hunter2"),
        "{debug}"
    );
}

// ---------------------------------------------------------------------------------------------
// HTTP CONNECT (RFC 9110 section 9.3.6; Basic, RFC 7617)
// ---------------------------------------------------------------------------------------------

#[test]
fn connect_request_bytes() {
    let h = handshake(ProxyProtocol::HttpConnect, name("example.com", 443), None);
    assert_eq!(
        h.pending_output(),
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    );
    let h = handshake(
        ProxyProtocol::HttpConnect,
        Destination::new("2001:db8::1", 80),
        None,
    );
    assert!(h
        .pending_output()
        .starts_with(b"CONNECT [2001:db8::1]:80 HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n"));
}

#[test]
fn connect_request_with_basic_credentials_rfc7617_example() {
    // RFC 7617 section 2: user "Aladdin", password "open sesame".
    let h = handshake(
        ProxyProtocol::HttpConnect,
        name("example.com", 443),
        Some(("Aladdin", "open sesame")),
    );
    let request = String::from_utf8(h.pending_output().to_vec()).unwrap();
    assert!(
        request.contains("\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"),
        "{request}"
    );
    assert!(request.ends_with("\r\n\r\n"));
}

#[test]
fn connect_refuses_what_it_cannot_send() {
    let err = ProxyHandshake::new(
        ProxyProtocol::HttpConnect,
        name("evil.example\r\nX-Injected: 1", 80),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, ProxyError::UnsupportedDestination { .. }));
    let err = ProxyHandshake::new(
        ProxyProtocol::HttpConnect,
        name("example.com", 80),
        Some(Credentials::new("a:b", "c")),
    )
    .unwrap_err();
    assert!(matches!(err, ProxyError::UnsupportedCredentials { .. }));
}

#[test]
fn connect_200_opens_the_tunnel_and_keeps_what_follows() {
    for reply in [
        &b"HTTP/1.1 200 Connection established\r\n\r\n"[..],
        b"HTTP/1.0 200 Connection established\r\nProxy-agent: test\r\n\r\n",
        // A 2xx reply to CONNECT has no body, whatever it announces (RFC 9110 section 9.3.6).
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n",
        // Bare LF line endings.
        b"HTTP/1.1 200 OK\nX: y\n\n",
    ] {
        let incoming = concat(&[reply, TUNNEL]);
        for chunk in [1, 2, 3, 7, 4096] {
            let run = drive(
                handshake(ProxyProtocol::HttpConnect, name("example.com", 443), None),
                &incoming,
                chunk,
            );
            let tunnel = run.outcome.unwrap();
            assert_eq!(tunnel.status, Some(200));
            assert_eq!(&tunnel.reply[..], reply);
            assert_eq!(run.unread, TUNNEL.len(), "chunk {chunk}");
        }
    }
}

#[test]
fn connect_refusal_with_content_length_body() {
    let body = b"<html><body><h1>Denied</h1><p>Not on this port.</p></body></html>";
    let head = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Length: {}\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\n\r\n",
        body.len()
    );
    let incoming = concat(&[head.as_bytes(), body, b"ignored"]);
    let run = drive(
        handshake(ProxyProtocol::HttpConnect, name("example.com", 9001), None),
        &incoming,
        4096,
    );
    let err = run.outcome.unwrap_err();
    let ProxyError::HttpRefused {
        status,
        reason,
        headers,
        body: kept,
        sent_credentials,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*status, reason.as_str()), (403, "Forbidden"));
    assert_eq!(headers.get("x-squid-error"), Some("ERR_ACCESS_DENIED 0"));
    assert_eq!(&kept[..], body);
    assert!(!sent_credentials);
    let text = err.to_string();
    assert!(
        text.contains("\"403 Forbidden\" to CONNECT example.com:9001"),
        "{text}"
    );
    assert!(
        text.contains("X-Squid-Error: ERR_ACCESS_DENIED 0"),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("port 443"));
    assert_eq!(
        sockeye_proto::proxy::body_text(kept, 100),
        "Denied Not on this port."
    );
}

#[test]
fn connect_refusal_bodies_chunked_or_until_close() {
    let chunked = b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    let run = drive(
        handshake(ProxyProtocol::HttpConnect, name("h", 1), None),
        chunked,
        3,
    );
    let err = run.outcome.unwrap_err();
    assert!(
        matches!(&err, ProxyError::HttpRefused { status: 407, body, .. } if &body[..] == b"hello world"),
        "{err:?}"
    );
    assert!(err.to_string().contains("it asks for: Basic realm=\"x\""));
    assert_eq!(
        err.hint(),
        Some("the proxy wants credentials: put user:password@ in the proxy URL")
    );

    // No length: the body ends with the connection (tinyproxy's "Connection: close").
    let close = b"HTTP/1.0 401 Unauthorized\r\nConnection: close\r\n\r\n<p>not you</p>";
    let run = drive(
        handshake(ProxyProtocol::HttpConnect, name("h", 1), Some(("u", "p"))),
        close,
        5,
    );
    let err = run.outcome.unwrap_err();
    assert!(
        matches!(&err, ProxyError::HttpRefused { status: 401, body, sent_credentials: true, .. } if &body[..] == b"<p>not you</p>"),
        "{err:?}"
    );
    assert!(err.hint().unwrap().contains("rejected the credentials"));
}

#[test]
fn connect_refusal_reports_once_the_head_is_in_when_time_runs_out() {
    let mut h = handshake(ProxyProtocol::HttpConnect, name("h", 1), None);
    h.consume_output(h.pending_output().len());
    let mut buf =
        BytesMut::from(&b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 100\r\n\r\npart"[..]);
    assert_eq!(h.receive(&mut buf), Ok(None));
    assert!(h.refusal_pending());
    let err = h.receive_eof(&mut buf);
    assert!(
        matches!(&err, ProxyError::HttpRefused { status: 502, body, .. } if &body[..] == b"part")
    );
    assert!(err
        .hint()
        .unwrap()
        .contains("could not reach the destination"));
}

#[test]
fn connect_reply_that_is_not_http() {
    // A SOCKS5 server answering an HTTP request.
    let run = drive(
        handshake(ProxyProtocol::HttpConnect, name("h", 1), None),
        b"\x05\xff",
        4096,
    );
    let err = run.outcome.unwrap_err();
    assert!(matches!(err, ProxyError::MalformedHttp { .. }), "{err:?}");
    assert!(err.hint().unwrap().contains("socks5://"));
    // A TLS alert: the proxy wants https://.
    let run = drive(
        handshake(ProxyProtocol::HttpConnect, name("h", 1), None),
        b"\x15\x03\x01\x00\x02\x02\x46",
        4096,
    );
    assert!(run
        .outcome
        .unwrap_err()
        .hint()
        .unwrap()
        .contains("https://"));
}

#[test]
fn connect_reply_head_too_large() {
    let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
    while huge.len() <= 17 * 1024 {
        huge.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let run = drive(
        handshake(ProxyProtocol::HttpConnect, name("h", 1), None),
        &huge,
        4096,
    );
    assert!(matches!(
        run.outcome.unwrap_err(),
        ProxyError::HeadTooLarge { .. }
    ));
}

#[test]
fn connect_closed_before_the_reply() {
    let run = drive(
        handshake(ProxyProtocol::HttpConnect, name("h", 1), None),
        b"HTTP/1.1 200 Conn",
        4096,
    );
    assert_eq!(
        run.outcome.unwrap_err(),
        ProxyError::Closed {
            protocol: ProxyProtocol::HttpConnect,
            during: "before answering CONNECT",
            received: 17,
        }
    );
}

// ---------------------------------------------------------------------------------------------
// SOCKS4 and SOCKS4a
// ---------------------------------------------------------------------------------------------

#[test]
fn socks4_request_and_granted_reply() {
    let h = handshake(
        ProxyProtocol::Socks4,
        v4(192, 0, 2, 1, 80),
        Some(("alice", "ignored")),
    );
    // VN 4, CD 1 (CONNECT), DSTPORT, DSTIP, USERID, NUL.
    assert_eq!(
        h.pending_output(),
        b"\x04\x01\x00\x50\xc0\x00\x02\x01alice\x00"
    );
    let reply = b"\x00\x5a\x00\x50\xc0\x00\x02\x01";
    let run = drive(h, &concat(&[reply, TUNNEL]), 1);
    let tunnel = run.outcome.unwrap();
    assert_eq!(tunnel.bound, Some(v4(192, 0, 2, 1, 80)));
    assert_eq!(run.unread, TUNNEL.len());
    // Zeros in the reply mean "no bound address".
    let run = drive(
        handshake(ProxyProtocol::Socks4, v4(192, 0, 2, 1, 80), None),
        b"\x00\x5a\x00\x00\x00\x00\x00\x00",
        8,
    );
    assert_eq!(run.sent, b"\x04\x01\x00\x50\xc0\x00\x02\x01\x00");
    assert_eq!(run.outcome.unwrap().bound, None);
}

#[test]
fn socks4a_sends_the_name() {
    let h = handshake(ProxyProtocol::Socks4, name("example.com", 443), None);
    // DSTIP 0.0.0.1, empty USERID, then the name.
    assert_eq!(
        h.pending_output(),
        b"\x04\x01\x01\xbb\x00\x00\x00\x01\x00example.com\x00"
    );
}

#[test]
fn socks4_refusals_carry_their_code_and_meaning() {
    for (code, meaning) in [
        (91, "request rejected or failed"),
        (
            92,
            "request rejected because the proxy cannot reach the client's identd",
        ),
        (
            93,
            "request rejected because identd reports a different user ID",
        ),
    ] {
        assert_eq!(socks4_reply_meaning(code), meaning);
        let run = drive(
            handshake(ProxyProtocol::Socks4, v4(10, 0, 0, 1, 80), None),
            &[0, code, 0, 0, 0, 0, 0, 0],
            4096,
        );
        let err = run.outcome.unwrap_err();
        assert_eq!(
            err,
            ProxyError::Socks4Refused {
                destination: "10.0.0.1:80".into(),
                code
            }
        );
        assert!(err.to_string().contains(meaning));
        assert!(err.hint().is_some());
    }
    // Refused and closed after two bytes: the code still comes through.
    let run = drive(
        handshake(ProxyProtocol::Socks4, v4(10, 0, 0, 1, 80), None),
        &[0, 91],
        1,
    );
    assert!(matches!(
        run.outcome.unwrap_err(),
        ProxyError::Socks4Refused { code: 91, .. }
    ));
}

#[test]
fn socks4_cannot_carry_ipv6_or_nul() {
    let err = ProxyHandshake::new(
        ProxyProtocol::Socks4,
        Destination::new("2001:db8::1", 80),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, ProxyError::UnsupportedDestination { .. }));
    assert!(err.hint().unwrap().contains("socks5://"));
    let err = ProxyHandshake::new(
        ProxyProtocol::Socks4,
        v4(10, 0, 0, 1, 1),
        Some(Credentials::new("a\0b", "")),
    )
    .unwrap_err();
    assert!(matches!(err, ProxyError::UnsupportedCredentials { .. }));
}

#[test]
fn socks4_reply_with_the_wrong_version() {
    let run = drive(
        handshake(ProxyProtocol::Socks4, v4(10, 0, 0, 1, 80), None),
        b"HTTP/1.1 400 Bad Request\r\n\r\n",
        4096,
    );
    let err = run.outcome.unwrap_err();
    assert!(matches!(err, ProxyError::WrongProtocol { .. }), "{err:?}");
    assert!(err.to_string().contains("HTTP/1.1"));
}

// ---------------------------------------------------------------------------------------------
// SOCKS5 (RFC 1928) and username/password (RFC 1929)
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc1928_section3_method_negotiation() {
    // VER 5, NMETHODS, METHODS: X'00' NO AUTHENTICATION REQUIRED, X'02' USERNAME/PASSWORD.
    let h = handshake(ProxyProtocol::Socks5, v4(127, 0, 0, 1, 8080), None);
    assert_eq!(h.pending_output(), [5, 1, 0]);
    let h = handshake(
        ProxyProtocol::Socks5,
        v4(127, 0, 0, 1, 8080),
        Some(("u", "p")),
    );
    assert_eq!(h.pending_output(), [5, 2, 0, 2]);
}

#[test]
fn rfc1928_section4_requests_for_each_address_type() {
    let reply_v4 = [5, 0, 0, 1, 10, 1, 2, 3, 0x04, 0x38];
    let cases: [(Destination, Vec<u8>); 3] = [
        // ATYP X'01' IP V4 address.
        (
            v4(127, 0, 0, 1, 8080),
            vec![5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90],
        ),
        // ATYP X'03' DOMAINNAME: a length octet, then the name, no NUL.
        (
            name("example.com", 443),
            concat(&[&[5, 1, 0, 3, 11], b"example.com", &[0x01, 0xbb]]),
        ),
        // ATYP X'04' IP V6 address, 16 octets.
        (
            Destination::new("2001:db8::1", 80),
            concat(&[
                &[5, 1, 0, 4],
                &"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets(),
                &[0, 80],
            ]),
        ),
    ];
    for (destination, request) in cases {
        let run = drive(
            handshake(ProxyProtocol::Socks5, destination, None),
            &concat(&[&[5, 0], &reply_v4, TUNNEL]),
            1,
        );
        assert_eq!(run.sent, concat(&[&[5, 1, 0], &request]));
        let tunnel = run.outcome.unwrap();
        assert_eq!(tunnel.bound, Some(v4(10, 1, 2, 3, 1080)));
        assert_eq!(&tunnel.reply[..], reply_v4);
        assert_eq!(run.unread, TUNNEL.len());
    }
}

#[test]
fn rfc1928_section6_replies_with_each_bound_address_type() {
    let v6 = "2001:db8::2".parse::<Ipv6Addr>().unwrap();
    let cases: [(Vec<u8>, Destination); 2] = [
        (
            concat(&[&[5, 0, 0, 4], &v6.octets(), &[0x1f, 0x90]]),
            Destination::Addr(SocketAddr::from((v6, 8080))),
        ),
        (
            concat(&[&[5, 0, 0, 3, 9], b"proxy.lan", &[0, 1]]),
            name("proxy.lan", 1),
        ),
    ];
    for (reply, bound) in cases {
        for chunk in [1, 3, 64] {
            let run = drive(
                handshake(ProxyProtocol::Socks5, name("example.com", 80), None),
                &concat(&[&[5, 0], &reply, TUNNEL]),
                chunk,
            );
            assert_eq!(run.outcome.unwrap().bound, Some(bound.clone()));
            assert_eq!(run.unread, TUNNEL.len());
        }
    }
}

#[test]
fn rfc1928_section6_reply_codes_in_words() {
    let meanings = [
        (1, "general SOCKS server failure"),
        (2, "connection not allowed by ruleset"),
        (3, "network unreachable"),
        (4, "host unreachable"),
        (5, "connection refused"),
        (6, "TTL expired"),
        (7, "command not supported"),
        (8, "address type not supported"),
        (9, "unassigned reply code"),
        (0xff, "unassigned reply code"),
    ];
    for (code, meaning) in meanings {
        assert_eq!(socks5_reply_meaning(code), meaning);
        let reply = [5, code, 0, 1, 0, 0, 0, 0, 0, 0];
        let run = drive(
            handshake(ProxyProtocol::Socks5, name("example.com", 80), None),
            &concat(&[&[5, 0], &reply]),
            4096,
        );
        let err = run.outcome.unwrap_err();
        assert_eq!(
            err,
            ProxyError::Socks5Refused {
                destination: "example.com:80".into(),
                code
            }
        );
        let text = err.to_string();
        assert!(text.contains(meaning), "{text}");
        assert!(text.contains(&format!("reply {code:#04x}")), "{text}");
    }
}

#[test]
fn rfc1928_no_acceptable_methods() {
    let run = drive(
        handshake(ProxyProtocol::Socks5, v4(10, 0, 0, 1, 80), None),
        &[5, 0xff],
        4096,
    );
    let err = run.outcome.unwrap_err();
    assert_eq!(
        err,
        ProxyError::NoAcceptableMethod {
            offered_password: false
        }
    );
    assert!(err.hint().unwrap().contains("user:password@"));
    // A method that was not offered (GSSAPI, or username/password without credentials).
    for method in [1, 2] {
        let run = drive(
            handshake(ProxyProtocol::Socks5, v4(10, 0, 0, 1, 80), None),
            &[5, method],
            4096,
        );
        assert!(matches!(
            run.outcome.unwrap_err(),
            ProxyError::UnexpectedMethod { .. }
        ));
    }
}

#[test]
fn rfc1929_username_password() {
    let reply = [5, 0, 0, 1, 127, 0, 0, 1, 0, 80];
    // VER 1, ULEN, UNAME, PLEN, PASSWD; then the status: X'00' success.
    let run = drive(
        handshake(
            ProxyProtocol::Socks5,
            v4(127, 0, 0, 1, 80),
            Some(("alice", "s3cret")),
        ),
        &concat(&[&[5, 2], &[1, 0], &reply]),
        1,
    );
    assert_eq!(
        run.sent,
        concat(&[
            &[5, 2, 0, 2],
            b"\x01\x05alice\x06s3cret",
            &[5, 1, 0, 1, 127, 0, 0, 1, 0, 80]
        ])
    );
    assert!(run.outcome.is_ok());
    // The server may still pick "no authentication".
    let run = drive(
        handshake(
            ProxyProtocol::Socks5,
            v4(127, 0, 0, 1, 80),
            Some(("alice", "s3cret")),
        ),
        &concat(&[&[5, 0], &reply]),
        4096,
    );
    assert!(run.outcome.is_ok());
    // A status other than X'00': failure, and the connection must close.
    let run = drive(
        handshake(
            ProxyProtocol::Socks5,
            v4(127, 0, 0, 1, 80),
            Some(("alice", "wrong")),
        ),
        &[5, 2, 1, 1],
        4096,
    );
    let err = run.outcome.unwrap_err();
    assert_eq!(err, ProxyError::AuthenticationFailed { status: 1 });
    assert!(!err.to_string().contains("wrong"));
}

#[test]
fn rfc1929_limits_are_checked_before_sending() {
    let long = "x".repeat(256);
    for (user, pass) in [("", "p"), (long.as_str(), "p"), ("u", long.as_str())] {
        let err = ProxyHandshake::new(
            ProxyProtocol::Socks5,
            v4(10, 0, 0, 1, 1),
            Some(Credentials::new(user, pass)),
        )
        .unwrap_err();
        assert!(matches!(err, ProxyError::UnsupportedCredentials { .. }));
    }
    let err =
        ProxyHandshake::new(ProxyProtocol::Socks5, name(&"a".repeat(256), 1), None).unwrap_err();
    assert!(matches!(err, ProxyError::UnsupportedDestination { .. }));
}

#[test]
fn socks5_malformed_and_foreign_replies() {
    let run = drive(
        handshake(ProxyProtocol::Socks5, v4(10, 0, 0, 1, 80), None),
        b"HTTP/1.1 400 Bad Request\r\n\r\n",
        4096,
    );
    assert!(matches!(
        run.outcome.unwrap_err(),
        ProxyError::WrongProtocol { .. }
    ));
    for reply in [
        &[5, 0, 1, 1, 0, 0, 0, 0, 0, 0][..], // RSV not 0
        &[5, 0, 0, 9, 0, 0, 0, 0, 0, 0],     // unknown ATYP
        &[4, 0, 0, 1, 0, 0, 0, 0, 0, 0],     // not version 5
    ] {
        let run = drive(
            handshake(ProxyProtocol::Socks5, v4(10, 0, 0, 1, 80), None),
            &concat(&[&[5, 0], reply]),
            4096,
        );
        assert!(
            matches!(
                run.outcome,
                Err(ProxyError::MalformedReply { .. } | ProxyError::WrongProtocol { .. })
            ),
            "{reply:?}: {:?}",
            run.outcome
        );
    }
    // Truncated at every point: a Closed error that says what was awaited.
    let whole = [5u8, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0, 80];
    for cut in 0..whole.len() {
        let run = drive(
            handshake(ProxyProtocol::Socks5, v4(127, 0, 0, 1, 80), None),
            &whole[..cut],
            4096,
        );
        assert!(
            matches!(run.outcome, Err(ProxyError::Closed { .. })),
            "cut {cut}: {:?}",
            run.outcome
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// A handshake of any protocol, with or without credentials, to a name or an address.
fn any_handshake() -> impl Strategy<Value = (ProxyProtocol, Destination, Option<(String, String)>)>
{
    let protocol = prop_oneof![
        Just(ProxyProtocol::HttpConnect),
        Just(ProxyProtocol::Socks4),
        Just(ProxyProtocol::Socks5),
    ];
    let destination = prop_oneof![
        Just(name("example.com", 443)),
        Just(v4(192, 0, 2, 1, 80)),
        Just(Destination::new("2001:db8::1", 8080)),
    ];
    let credentials = proptest::option::of(("[a-z]{1,8}", "[a-z0-9]{0,8}"));
    (protocol, destination, credentials)
}

fn build(
    protocol: ProxyProtocol,
    destination: &Destination,
    credentials: &Option<(String, String)>,
) -> Option<ProxyHandshake> {
    ProxyHandshake::new(
        protocol,
        destination.clone(),
        credentials
            .as_ref()
            .map(|(user, pass)| Credentials::new(user.clone(), pass.clone())),
    )
    .ok()
}

/// A valid successful reply for the protocol, including SOCKS5's method and auth replies.
fn success_reply(protocol: ProxyProtocol, credentials: bool) -> Vec<u8> {
    match protocol {
        ProxyProtocol::HttpConnect => b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec(),
        ProxyProtocol::Socks4 => vec![0, 90, 0, 0, 0, 0, 0, 0],
        ProxyProtocol::Socks5 if credentials => {
            vec![5, 2, 1, 0, 5, 0, 0, 3, 3, b'a', b'b', b'c', 0, 1]
        }
        ProxyProtocol::Socks5 => vec![5, 0, 5, 0, 0, 1, 1, 2, 3, 4, 0, 1],
        other => unimplemented!("no reply for {other:?}"),
    }
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_outcome_and_never_reads_the_tunnel(
        (protocol, destination, credentials) in any_handshake(),
        chunk in 1usize..20,
        tunnel in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let Some(whole) = build(protocol, &destination, &credentials) else {
            return Ok(());
        };
        let incoming = concat(&[&success_reply(protocol, credentials.is_some()), &tunnel]);
        let expected = drive(whole, &incoming, 4096);
        let Some(chunked) = build(protocol, &destination, &credentials) else {
            unreachable!()
        };
        let run = drive(chunked, &incoming, chunk);
        prop_assert!(run.outcome.is_ok(), "{:?}", run.outcome);
        prop_assert_eq!(run.unread, tunnel.len());
        prop_assert_eq!(&run, &expected);
    }

    #[test]
    fn garbage_and_truncated_replies_never_panic(
        (protocol, destination, credentials) in any_handshake(),
        garbage in proptest::collection::vec(any::<u8>(), 0..256),
        prefix in any::<bool>(),
        chunk in 1usize..64,
    ) {
        let Some(handshake) = build(protocol, &destination, &credentials) else {
            return Ok(());
        };
        // Sometimes a valid start, then garbage; always ends with the end of stream.
        let mut incoming = if prefix {
            let valid = success_reply(protocol, credentials.is_some());
            valid[..valid.len() / 2].to_vec()
        } else {
            Vec::new()
        };
        incoming.extend_from_slice(&garbage);
        let run = drive(handshake, &incoming, chunk);
        if let Err(err) = &run.outcome {
            // Every failure can be displayed.
            let _ = err.to_string();
            let _ = err.hint();
        }
    }

    #[test]
    fn feeding_any_bytes_without_read_limits_never_panics(
        (protocol, destination, credentials) in any_handshake(),
        pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..8),
    ) {
        let Some(mut handshake) = build(protocol, &destination, &credentials) else {
            return Ok(());
        };
        let mut buf = BytesMut::new();
        for piece in pieces {
            let n = handshake.pending_output().len();
            handshake.consume_output(n);
            buf.extend_from_slice(&piece);
            let _ = handshake.read_limit(&buf);
            if handshake.receive(&mut buf).is_err() {
                break;
            }
        }
        let _ = handshake.receive_eof(&mut buf);
    }
}
