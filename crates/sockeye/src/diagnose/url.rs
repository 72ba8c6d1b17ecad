//! The URL stage: a URL or option that cannot be used, a build or platform that cannot make
//! the connection.

use super::Builder;
use crate::error::UrlProblem;

pub(super) fn invalid_url(
    b: &mut Builder<'_, '_>,
    url: &str,
    problem: &UrlProblem,
    hint: Option<&str>,
) {
    use url::ParseError;
    let cause = match problem {
        UrlProblem::HttpScheme => "url-http-scheme",
        UrlProblem::HttpsScheme => "url-https-scheme",
        UrlProblem::Proxy { .. } => "url-proxy-invalid",
        UrlProblem::UnsupportedScheme(_) => "url-bad-scheme",
        UrlProblem::Fragment => "url-fragment",
        UrlProblem::NoHost | UrlProblem::Unparsable(ParseError::EmptyHost) => "url-missing-host",
        UrlProblem::Unparsable(ParseError::InvalidPort) => "url-bad-port",
        UrlProblem::Unparsable(
            ParseError::RelativeUrlWithoutBase | ParseError::RelativeUrlWithCannotBeABaseBase,
        ) => "url-not-absolute",
        _ => "url-invalid",
    };
    let shown = b.cx.url(url);
    b.cause(cause)
        .quote("url", &shown)
        .quote("why", &problem.to_string());
    let text = match cause {
        "url-http-scheme" => "http:// is for web pages: a WebSocket URL starts with ws:// (the same host and path)".to_string(),
        "url-https-scheme" => "https:// is for web pages: a WebSocket URL over TLS starts with wss:// (the same host and path)".to_string(),
        "url-bad-port" => "a port is a number from 1 to 65535".to_string(),
        "url-missing-host" => "give the host: ws://HOST[:PORT]/path".to_string(),
        _ => match hint {
            Some(hint) => format!("try {hint}"),
            None => "check the URL: ws://HOST[:PORT]/path or wss://…".to_string(),
        },
    };
    b.hint(text);
}

/// [`Error::Unsupported`](crate::Error::Unsupported): this build or platform lacks something.
pub(super) fn unsupported(b: &mut Builder<'_, '_>) {
    b.cause("url-unsupported")
        .hint("this build or platform cannot make this connection; the message says what it lacks");
}
