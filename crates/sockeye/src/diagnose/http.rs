//! The HTTP stage: a reply that is not HTTP, a status other than 101 (one rule per status),
//! redirects that cannot be followed, and a server waiting for a client's request.

use std::time::Duration;

use sockeye_proto::handshake::body::KnownPage;

use super::{millis, Builder, RequestFacts};
use crate::error::RedirectProblem;

/// Whether an escaped preview (`\x16\x03…`) starts like a TLS record: a handshake or an alert.
pub(super) fn tls_record(preview: &str) -> bool {
    ["\\x15\\x03", "\\x16\\x03"]
        .iter()
        .any(|start| preview.starts_with(start))
}

pub(super) fn malformed(b: &mut Builder<'_, '_>, why: &str, preview: &str) {
    b.quote_escaped("first_bytes", preview)
        .fact("why", why.to_string());
    if tls_record(preview) {
        b.cause("not-tls-expected").hint(
            "the server answered with TLS (its reply starts like a TLS record): this port speaks TLS, so use wss:// instead of ws://",
        );
    } else if preview.starts_with("SSH-") {
        b.cause("not-http")
            .hint("an SSH server listens on this port: check the port");
    } else {
        b.cause("not-http").hint(
            "the reply is not HTTP/1.1: something else listens on this port (check it), or a proxy in between mangles the connection",
        );
    }
}

/// What is wrong with a refusal's body, for the evidence `body_problem`.
pub(super) fn body_problem(problem: &sockeye_proto::handshake::BodyProblem) -> String {
    use sockeye_proto::handshake::BodyProblem;
    let what = match problem {
        BodyProblem::Chunked(chunked) if chunked.is_endless() => "never ended",
        BodyProblem::Chunked(_) => "malformed chunked framing",
        BodyProblem::TooLong => "never ended",
        BodyProblem::CutShort { .. } => "cut short",
        _ => "unfinished",
    };
    format!("{what}: {problem}")
}

/// Headers of a refusal quoted as evidence, in this order.
const STATUS_HEADERS: &[(&str, &str)] = &[
    ("location", "Location"),
    ("server", "Server"),
    ("via", "Via"),
    ("www_authenticate", "WWW-Authenticate"),
    ("sec_websocket_version", "Sec-WebSocket-Version"),
    ("upgrade", "Upgrade"),
    ("allow", "Allow"),
    ("retry_after", "Retry-After"),
    ("content_type", "Content-Type"),
    ("x_squid_error", "X-Squid-Error"),
    ("x_cache", "X-Cache"),
];

pub(super) fn http_status(
    b: &mut Builder<'_, '_>,
    status: u16,
    reason: &str,
    headers: &sockeye_proto::handshake::Headers,
    body: &[u8],
) {
    b.quote("status", format!("{status} {reason}").trim_end());
    for (name, header) in STATUS_HEADERS {
        if let Some(value) = headers.get(header) {
            b.header(name, header, value);
        }
    }
    let text = sockeye_proto::proxy::body_text(body, 240);
    if !text.is_empty() {
        b.quote("body", &text);
    }
    let facts = b.cx.facts;
    let path = b.cx.path();
    let at_path = path
        .as_deref()
        .map_or(String::new(), |path| format!(" at {path}"));
    let server = headers
        .get("Server")
        .or_else(|| headers.get("Via"))
        .map(|who| format!(" ({})", b.cx.header("Server", who)))
        .unwrap_or_default();
    b.cause(format!("status-{status}"));
    let hint = match status {
        200..=299 => format!(
            "the server answered the upgrade request with a plain HTTP response{}: there is no WebSocket endpoint{at_path}, so check the path; if a proxy or CDN is in front, it may not pass WebSocket upgrades on",
            headers
                .get("Content-Type")
                .map(|kind| format!(" ({})", b.cx.header("Content-Type", kind)))
                .unwrap_or_default()
        ),
        301 | 302 | 303 | 307 | 308 => redirect_hint(b, headers),
        400 if KnownPage::recognize(status, body) == Some(KnownPage::PlainHttpToTlsPort) => {
            b.cause("not-tls-expected");
            "this port serves TLS and got plain text: use wss:// instead of ws://".to_string()
        }
        400 => {
            let mut hint = String::from(
                "the server found the request malformed or incomplete: it may want a header this request lacks (an Origin, a subprotocol, a token) or dislike one given with ClientConfig::header; the body may say which",
            );
            if facts.is_some_and(|facts| facts.origin.is_none()) {
                hint.push_str(" (no Origin was sent: try ClientConfig::origin)");
            }
            hint
        }
        401 => match facts {
            Some(facts) if facts.authorization.is_some() || facts.cookie => format!(
                "the server refused the credentials sent ({}): check them, and whether they expired",
                credentials_sent(facts)
            ),
            Some(_) => "the endpoint needs credentials and none were sent: ClientConfig::bearer_token, ClientConfig::basic_auth, a cookie with ClientConfig::cookie, or a token in the URL, as the server expects (WWW-Authenticate names the scheme)".to_string(),
            None => "the endpoint needs credentials, or refused those sent: a bearer token, Basic credentials, a cookie or a token in the URL, as the server expects (WWW-Authenticate names the scheme)".to_string(),
        },
        403 => forbidden_hint(b),
        404 => format!(
            "the server has nothing{at_path}: check the path (its case, a trailing slash, a prefix such as /ws); a reverse proxy may route only some paths to the WebSocket server"
        ),
        405 => format!(
            "the server does not accept GET{at_path}: this is not a WebSocket endpoint; check the path"
        ),
        408 => "the server timed out waiting for the request: a proxy in between may hold it back".to_string(),
        413 | 414 | 431 => "the request is too large for the server: fewer or shorter headers and cookies, or a shorter URL".to_string(),
        426 => upgrade_required_hint(headers, &server),
        429 => format!(
            "the server limits how often clients connect: wait{} and connect less often",
            headers
                .get("Retry-After")
                .map(|after| format!(" (Retry-After: {})", b.cx.header("Retry-After", after)))
                .unwrap_or_default()
        ),
        500 => "the server failed while handling the upgrade: its logs say why (the body may too)".to_string(),
        501 => "the server does not implement this request (WebSocket upgrades, or GET) here: check the path and the server".to_string(),
        502 => format!(
            "a gateway or proxy in front{server} got no valid answer from the server behind it: that server is down, crashed, or speaks something the gateway does not expect (TLS where it expects plain HTTP, or the reverse)"
        ),
        503 => format!(
            "the service is unavailable{server}: overloaded, in maintenance, or no server is up behind the proxy{}",
            headers
                .get("Retry-After")
                .map(|after| format!("; Retry-After: {}", b.cx.header("Retry-After", after)))
                .unwrap_or_default()
        ),
        504 => format!(
            "a gateway{server} timed out waiting for the server behind it: that server is slow, or unreachable from the gateway"
        ),
        505 => format!(
            "HTTP Version Not Supported{server}: most often a reverse proxy that talks HTTP/1.0 to the WebSocket server, which then sees no upgrade (nginx: `proxy_http_version 1.1;` with `proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";`)"
        ),
        other if (300..400).contains(&other) => "the server answered with a redirection sockeye does not follow: the headers and body say where to go".to_string(),
        other if (400..500).contains(&other) => "the server refused the request; the body may say why".to_string(),
        other if (500..600).contains(&other) => format!("the server{server} failed; its logs say why"),
        _ => "the server answered with a status that does not open a WebSocket".to_string(),
    };
    b.hint(hint);
}

/// `Authorization: Bearer`, `Cookie`: what credentials went out, without their values.
pub(super) fn credentials_sent(facts: &RequestFacts) -> String {
    let mut sent = Vec::new();
    if let Some(scheme) = &facts.authorization {
        sent.push(format!("Authorization: {scheme}"));
    }
    if facts.cookie {
        sent.push("a Cookie".to_string());
    }
    sent.join(" and ")
}

pub(super) fn redirect_hint(
    b: &mut Builder<'_, '_>,
    headers: &sockeye_proto::handshake::Headers,
) -> String {
    let Some(location) = headers.get("Location").map(str::trim) else {
        return "a redirect without a Location header: the server is misconfigured".to_string();
    };
    let resolved =
        b.cx.facts
            .and_then(|facts| crate::redirect::resolve(&facts.target, location).ok());
    let shown = match &resolved {
        Some(url) => b.cx.url(url.as_str()),
        None => b.cx.url(location),
    };
    if resolved.is_some() {
        b.quote("redirects_to", &shown);
    }
    let upgrade_to_tls = b.cx.secure() == Some(false)
        && (location.starts_with("https://") || location.starts_with("wss://"));
    if upgrade_to_tls {
        return format!(
            "the server redirects to TLS ({shown}): the site wants wss://; connect to that URL (or follow redirects with ClientConfig::follow_redirects)"
        );
    }
    format!(
        "the server redirects to {shown}: connect to that URL, or follow redirects with ClientConfig::follow_redirects"
    )
}

pub(super) fn forbidden_hint(b: &mut Builder<'_, '_>) -> String {
    let Some(facts) = b.cx.facts else {
        return "the server forbids this request: if it checks Origin, send one it allows with ClientConfig::origin; else it refuses the credentials (or their absence) or the client's address".to_string();
    };
    let credentials = if facts.authorization.is_some() || facts.cookie {
        format!(
            "the credentials sent ({}) may not be enough",
            credentials_sent(facts)
        )
    } else {
        "no credentials were sent".to_string()
    };
    match &facts.origin {
        Some(origin) => {
            let origin = b.cx.url(origin);
            b.quote("origin_sent", &origin);
            format!(
                "the server forbids this request. An Origin was sent ({origin}): if the server checks Origin, it does not allow this one, so send the origin of a page it serves with ClientConfig::origin. Otherwise {credentials}, or it refuses the client's address"
            )
        }
        None => {
            b.fact("origin_sent", "none");
            let scheme = if facts.target.secure { "https" } else { "http" };
            format!(
                "the server forbids this request. No Origin was sent: servers that check Origin (most that serve browsers) refuse requests without one, so try ClientConfig::origin with {scheme}://{} (the origin of a page it serves). Otherwise {credentials}, or it refuses the client's address",
                facts.target.host_header
            )
        }
    }
}

pub(super) fn upgrade_required_hint(
    headers: &sockeye_proto::handshake::Headers,
    server: &str,
) -> String {
    let versions: Vec<&str> = headers.tokens("Sec-WebSocket-Version").collect();
    if !versions.is_empty() && !versions.contains(&"13") {
        return format!(
            "the server wants WebSocket version {} and sockeye speaks 13 (RFC 6455) only: the server implements an old draft (8 is hybi-08 to -12); upgrade the server",
            versions.join(", ")
        );
    }
    let wants = if versions.is_empty() {
        String::new()
    } else {
        format!(
            "; it supports version {}, and 13 was sent",
            versions.join(", ")
        )
    };
    format!(
        "the server wants a WebSocket upgrade, yet the request carried one (Upgrade: websocket, Sec-WebSocket-Version: 13){wants}: the Upgrade and Connection headers were lost on the way. A reverse proxy in front{server} does not pass them on (nginx: `proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";`; squid, and many CDNs and corporate proxies, drop them)"
    )
}

/// [`Error::Redirect`](crate::Error::Redirect): a redirect that is not followed.
pub(super) fn redirect(
    b: &mut Builder<'_, '_>,
    status: u16,
    from: &str,
    location: &str,
    reason: &RedirectProblem,
) {
    let cause = match reason {
        RedirectProblem::TooMany { .. } => "redirect-limit",
        RedirectProblem::Downgrade => "redirect-downgrade",
        _ => "redirect-invalid",
    };
    let (from, location) = (b.cx.url(from), b.cx.url(location));
    b.cause(cause)
        .fact("status", status.to_string())
        .quote("from", &from)
        .quote("location", &location)
        .hint(match cause {
            "redirect-limit" => "the redirects go on (a loop?): connect to the last Location directly, or raise ClientConfig::max_redirects",
            "redirect-downgrade" => "the server redirects wss:// to unencrypted ws://, which is never followed: ask for a wss:// endpoint, or connect to the ws:// URL on purpose",
            _ => "the Location cannot be followed: connect to the URL it means yourself",
        });
}

/// [`Error::RequestTimeout`](crate::Error::RequestTimeout): a server's client did not send
/// its request in time.
pub(super) fn request_timeout(b: &mut Builder<'_, '_>, after: Duration) {
    b.cause("request-timeout")
        .fact("after", millis(after))
        .hint("the client connected but did not send a complete upgrade request within handshake_timeout: a slow or stalled client, or one that opens connections without speaking (a port scanner, a health check, a browser's pre-connect); raise handshake_timeout only if real clients need more time");
}
