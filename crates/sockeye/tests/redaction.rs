//! Redaction: the rules of `sockeye::redact` one by one, then the proof that a secret set in
//! each place a user can put one (header, cookie, URL credentials, query, proxy) never reaches
//! a trace or an error message, and does with `show_secrets`.
#![allow(clippy::unwrap_used)]

mod trace_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use base64::Engine as _;
use sockeye::redact::{self, REDACTED};
use sockeye::{blocking, ClientConfig, CloseCode, Message, ServerConfig};
use trace_support::SharedBuf;

// ----- the rules -----

#[test]
fn authorization_keeps_its_scheme_only() {
    assert_eq!(
        redact::header("Authorization", "Bearer abc.def"),
        "Bearer [redacted]"
    );
    assert_eq!(
        redact::header("Authorization", "Basic dXNlcjpwYXNz"),
        "Basic [redacted]"
    );
    assert_eq!(redact::header("Authorization", "abc123"), REDACTED);
    assert_eq!(
        redact::header("Proxy-Authorization", "Basic Ym9iOnB3"),
        "Basic [redacted]"
    );
}

#[test]
fn cookies_keep_their_names_and_attributes() {
    assert_eq!(
        redact::header("Cookie", "sid=abc; theme=dark"),
        "sid=[redacted]; theme=[redacted]"
    );
    assert_eq!(
        redact::header("Set-Cookie", "sid=abc; Path=/; HttpOnly"),
        "sid=[redacted]; Path=/; HttpOnly"
    );
}

#[test]
fn header_names_match_case_insensitively() {
    for name in [
        "AUTHORIZATION",
        "authorization",
        "Proxy-authorization",
        "COOKIE",
        "set-cookie",
    ] {
        assert!(redact::is_secret_header(name), "{name}");
        assert!(
            !redact::header(name, "Basic secret").contains("secret"),
            "{name}"
        );
    }
}

#[test]
fn headers_whose_names_look_like_secrets_are_hidden() {
    for name in [
        "X-Api-Key",
        "X-Auth-Token",
        "X-Amz-Security-Token",
        "Api-Key",
        "X-CSRF-Token",
    ] {
        assert!(redact::is_secret_header(name), "{name}");
        assert_eq!(redact::header(name, "s3cr3t"), REDACTED, "{name}");
    }
}

#[test]
fn handshake_and_ordinary_headers_stay_visible() {
    for (name, value) in [
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        (
            "Sec-WebSocket-Extensions",
            "permessage-deflate; client_max_window_bits",
        ),
        ("Host", "example.com:8080"),
        ("Origin", "https://example.com"),
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"),
        ("WWW-Authenticate", "Bearer realm=\"api\""),
        ("Keep-Alive", "timeout=5"),
        ("Location", "wss://example.com/next?room=7"),
    ] {
        assert!(!redact::is_secret_header(name), "{name}");
        assert_eq!(redact::header(name, value), value, "{name}");
    }
}

#[test]
fn urls_inside_header_values_are_redacted() {
    assert_eq!(
        redact::header("Location", "wss://example.com/next?token=abc&room=7"),
        "wss://example.com/next?token=[redacted]&room=7"
    );
    assert_eq!(
        redact::header("Referer", "https://bob:pw@example.com/"),
        "https://bob:[redacted]@example.com/"
    );
}

#[test]
fn tokens_carried_as_subprotocols_are_hidden() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    assert_eq!(
        redact::header("Sec-WebSocket-Protocol", &format!("access_token, {jwt}")),
        "access_token, [redacted]"
    );
    assert_eq!(
        redact::header(
            "Sec-WebSocket-Protocol",
            "base64url.bearer.authorization.k8s.io.c2VjcmV0, base64.binary.k8s.io"
        ),
        "base64url.bearer.authorization.k8s.io.[redacted], base64.binary.k8s.io"
    );
}

#[test]
fn url_credentials() {
    assert_eq!(
        redact::url("ws://user:pass@example.com/"),
        "ws://user:[redacted]@example.com/"
    );
    assert_eq!(
        redact::url("wss://ghp_token123@example.com:8443/x"),
        "wss://[redacted]@example.com:8443/x"
    );
    assert_eq!(
        redact::url("ws://user:p%40ss@example.com/"),
        "ws://user:[redacted]@example.com/"
    );
    // An '@' after the authority is not a credential.
    assert_eq!(redact::url("ws://example.com/a@b"), "ws://example.com/a@b");
    assert_eq!(
        redact::url("ws://example.com/path"),
        "ws://example.com/path"
    );
}

/// The parameter names the issue lists, each with the variants people write.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "key",
    "api_key",
    "apikey",
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "jwt",
    "sig",
    "signature",
    "auth",
    "session",
    "sessionid",
    "sid",
    "auth_token",
    "private_key",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "X-Amz-Credential",
];

#[test]
fn each_secret_query_parameter_is_hidden() {
    for name in SECRET_PARAMS {
        let variants = [
            name.to_string(),
            name.to_uppercase(),
            name.replace('_', "-"),
            name.replace(['_', '-'], ""),
            camel_case(name),
        ];
        for variant in variants {
            let url = format!("wss://example.com/feed?room=7&{variant}=SECRET-VALUE&page=2");
            assert_eq!(
                redact::url(&url),
                format!("wss://example.com/feed?room=7&{variant}=[redacted]&page=2"),
                "{variant}"
            );
            assert!(redact::is_secret_param(&variant), "{variant}");
        }
    }
}

fn camel_case(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' || c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn percent_encoded_names_fragments_and_targets() {
    assert_eq!(
        redact::url("/chat?api%5Fkey=abc"),
        "/chat?api%5Fkey=[redacted]"
    );
    assert_eq!(
        redact::url("https://app.example/cb#access_token=abc&state=1"),
        "https://app.example/cb#access_token=[redacted]&state=1"
    );
    assert_eq!(redact::url("/chat?token=&room=1"), "/chat?token=&room=1");
}

#[test]
fn ordinary_parameters_are_untouched() {
    let url = "ws://example.com/feed?room=7&page=2&id=42&name=bob&user=alice&limit=10&v=3&monkey=1&keyword=rust&sort=asc&code_lang=rs";
    assert_eq!(redact::url(url), url);
    for name in [
        "room",
        "page",
        "id",
        "user",
        "monkey",
        "keyword",
        "hotkeys",
        "passenger",
    ] {
        assert!(!redact::is_secret_param(name), "{name}");
    }
}

#[test]
fn heads_are_redacted_line_by_line() {
    let head = "GET /chat?token=abc&room=1 HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer abc\r\nCookie: sid=abc\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    assert_eq!(
        redact::head(head),
        "GET /chat?token=[redacted]&room=1 HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer [redacted]\r\nCookie: sid=[redacted]\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let response =
        "HTTP/1.1 302 Found\r\nLocation: /login?session=abc\r\nSet-Cookie: sid=abc; Secure\r\n\r\n";
    assert_eq!(
        redact::head(response),
        "HTTP/1.1 302 Found\r\nLocation: /login?session=[redacted]\r\nSet-Cookie: sid=[redacted]; Secure\r\n\r\n"
    );
}

#[test]
fn free_text_hides_urls_headers_and_tokens() {
    // An escaped preview as error messages quote it.
    let preview = r"first bytes: GET /chat?token=abc HTTP/1.1\r\nAuthorization: Bearer abc\r\nCookie: a=b\r\n…";
    assert_eq!(
        redact::text(preview),
        r"first bytes: GET /chat?token=[redacted] HTTP/1.1\r\nAuthorization: Bearer [redacted]\r\nCookie: a=[redacted]\r\n…"
    );
    assert_eq!(
        redact::text("cannot reach \"wss://u:p@h/x?apikey=1\" (refused)"),
        "cannot reach \"wss://u:[redacted]@h/x?apikey=[redacted]\" (refused)"
    );
    // A header line without its colon still carries credentials.
    assert_eq!(
        redact::text(r"GET / HTTP/1.1\r\nAuthorization Bearer abc\r\n"),
        r"GET / HTTP/1.1\r\nAuthorization Bearer [redacted]\r\n"
    );
    assert_eq!(
        redact::text("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln expired"),
        "token [redacted] expired"
    );
    let plain = "the server answered 403 Forbidden instead of 101 Switching Protocols";
    assert_eq!(redact::text(plain), plain);
}

// ----- secrets set by the user never reach a trace or an error -----

/// Every place a user can put a secret, each with its own marker.
const SECRETS: [&str; 5] = [
    "SECRET-AUTH-1",
    "SECRET-COOKIE-2",
    "SECRET-PASSWORD-3",
    "SECRET-TOKEN-4",
    "SECRET-APIKEY-5",
];

/// The URL credentials travel as `Authorization: Basic base64(user:password)`: that must not
/// show either.
fn basic_credentials() -> String {
    base64::engine::general_purpose::STANDARD.encode("alice:SECRET-PASSWORD-3")
}

fn config_with_every_secret(addr: &str) -> ClientConfig {
    ClientConfig::new(&format!(
        "ws://alice:SECRET-PASSWORD-3@{addr}/feed?token=SECRET-TOKEN-4&api_key=SECRET-APIKEY-5&room=7"
    ))
    .unwrap()
    .header("X-Auth", "SECRET-AUTH-1")
    .header("Cookie", "session=SECRET-COOKIE-2")
}

/// Runs a session with every secret against an in-process echo server; returns the client's
/// and the server's traces.
fn session(show_secrets: bool) -> (String, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server_trace = SharedBuf::default();
    let server_buf = server_trace.clone();
    let server = thread::spawn(move || {
        trace_support::capture(sockeye::trace::human_subscriber(server_buf), || {
            let (stream, _) = listener.accept().unwrap();
            let mut config = ServerConfig::default();
            config.show_secrets = show_secrets;
            let (mut socket, request) =
                blocking::accept_with(stream, &config, |_| Ok(sockeye::Accept::default())).unwrap();
            assert!(request.target.contains("SECRET-TOKEN-4"));
            loop {
                match socket.read() {
                    Ok(message @ Message::Text(_)) => socket.send(message).unwrap(),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        })
    });
    let client_trace = SharedBuf::default();
    trace_support::capture(
        sockeye::trace::human_subscriber(client_trace.clone()),
        || {
            let config = config_with_every_secret(&addr).show_secrets(show_secrets);
            let (mut socket, _) = blocking::connect_with(config).unwrap();
            socket.send_text("hello").unwrap();
            socket.read().unwrap();
            socket.close(CloseCode::Normal, "").unwrap();
        },
    );
    server.join().unwrap();
    (client_trace.text(), server_trace.text())
}

#[test]
fn no_secret_reaches_either_trace() {
    let (client, server) = session(false);
    for trace in [&client, &server] {
        for secret in SECRETS
            .iter()
            .copied()
            .chain([basic_credentials().as_str()])
        {
            assert!(!trace.contains(secret), "{secret} leaked:\n{trace}");
        }
        assert!(
            trace.contains("?token=[redacted]&api_key=[redacted]&room=7"),
            "{trace}"
        );
        assert!(trace.contains("Authorization: Basic [redacted]"), "{trace}");
        assert!(trace.contains("Cookie: session=[redacted]"), "{trace}");
        assert!(trace.contains("X-Auth: [redacted]"), "{trace}");
        // The data itself is shown.
        assert!(trace.contains("text 5 bytes \"hello\""), "{trace}");
    }
}

#[test]
fn show_secrets_shows_them_all() {
    let (client, server) = session(true);
    for trace in [&client, &server] {
        for secret in [
            "SECRET-AUTH-1",
            "SECRET-COOKIE-2",
            "SECRET-TOKEN-4",
            "SECRET-APIKEY-5",
        ] {
            assert!(trace.contains(secret), "{secret} hidden:\n{trace}");
        }
        assert!(trace.contains(&basic_credentials()), "{trace}");
        assert!(!trace.contains(REDACTED), "{trace}");
    }
}

#[test]
fn invalid_urls_do_not_print_their_secrets() {
    let err =
        ClientConfig::new("wss://alice:SECRET-PASSWORD-3@example.com:99999/?token=SECRET-TOKEN-4")
            .unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("invalid URL"), "{shown}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(
        shown.contains("wss://alice:[redacted]@example.com:99999/?token=[redacted]"),
        "{shown}"
    );
    let unredacted = err.unredacted().to_string();
    assert!(unredacted.contains("SECRET-PASSWORD-3"), "{unredacted}");
    assert!(unredacted.contains("SECRET-TOKEN-4"), "{unredacted}");
    // Redaction is back on after an unredacted message.
    assert_eq!(err.to_string(), shown);
}

#[test]
fn proxy_credentials_do_not_reach_the_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy = sockeye::transport::proxy::ProxyUrl::parse(&format!(
        "http://bob:SECRET-PROXY-6@127.0.0.1:{port}"
    ))
    .unwrap();
    let trace = SharedBuf::default();
    let err = trace_support::capture(sockeye::trace::human_subscriber(trace.clone()), || {
        let config = ClientConfig::new("ws://example.invalid/")
            .unwrap()
            .proxy(sockeye::transport::proxy::ProxyConfig::Url(proxy));
        blocking::connect_with(config).unwrap_err()
    });
    let shown = err.to_string();
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
    assert!(!shown.contains("SECRET-PROXY-6"), "{shown}");
    assert!(!trace.text().contains("SECRET-PROXY-6"), "{}", trace.text());
    let invalid = sockeye::transport::proxy::ProxyUrl::parse("ftp://bob:SECRET-PROXY-6@proxy:1")
        .unwrap_err()
        .to_string();
    assert!(!invalid.contains("SECRET-PROXY-6"), "{invalid}");
}

/// A server that answers whatever it is asked with `reply`, then closes.
fn raw_server(reply: &'static [u8]) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let _ = stream.write_all(reply);
    });
    (addr, server)
}

fn traced_connect(url: &str) -> (sockeye::Error, String) {
    let trace = SharedBuf::default();
    let err = trace_support::capture(sockeye::trace::human_subscriber(trace.clone()), || {
        blocking::connect(url).unwrap_err()
    });
    (err, trace.text())
}

#[test]
fn a_redirect_location_with_a_token_is_hidden() {
    let (addr, server) = raw_server(
        b"HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:1/next?access_token=SECRET-9\r\nSet-Cookie: sid=SECRET-10\r\nContent-Length: 0\r\n\r\n",
    );
    let (err, trace) = traced_connect(&format!("ws://{addr}/"));
    server.join().unwrap();
    let shown = err.to_string();
    assert!(shown.contains("302"), "{shown}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(!trace.contains("SECRET"), "{trace}");
    assert!(
        trace.contains("< Location: ws://127.0.0.1:1/next?access_token=[redacted]"),
        "{trace}"
    );
    assert!(err.unredacted().to_string().contains("SECRET-9"));
}

#[test]
fn a_malformed_reply_quoting_a_cookie_is_hidden() {
    let (addr, server) = raw_server(b"HTTP/1.1 2x0 Weird\r\nSet-Cookie: sid=SECRET-10\r\n\r\n");
    let (err, trace) = traced_connect(&format!("ws://{addr}/"));
    server.join().unwrap();
    let shown = err.to_string();
    assert!(shown.contains("not a valid HTTP/1.1 message"), "{shown}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(shown.contains("Set-Cookie: sid=[redacted]"), "{shown}");
    assert!(!trace.contains("SECRET"), "{trace}");
}

#[test]
fn a_server_does_not_print_the_secrets_of_a_malformed_request() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(
                b"GET /chat?token=SECRET-11 HTTP/1.1\r\nAuthorization Bearer SECRET-12\r\n\r\n",
            )
            .unwrap();
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        reply
    });
    let trace = SharedBuf::default();
    let err = trace_support::capture(sockeye::trace::human_subscriber(trace.clone()), || {
        let (stream, _) = listener.accept().unwrap();
        blocking::accept(stream).unwrap_err()
    });
    let reply = client.join().unwrap();
    assert!(reply.starts_with(b"HTTP/1.1 400"), "{reply:?}");
    let shown = err.to_string();
    assert!(!shown.contains("SECRET"), "{shown}");
    let trace = trace.text();
    assert!(!trace.contains("SECRET"), "{trace}");
    assert!(
        trace.contains("< GET /chat?token=[redacted] HTTP/1.1"),
        "{trace}"
    );
    assert!(trace.contains("> HTTP/1.1 400"), "{trace}");
}
