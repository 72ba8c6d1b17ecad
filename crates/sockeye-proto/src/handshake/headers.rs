//! HTTP header lists: ordered, repeatable, case-insensitive lookup, token lists.

use crate::handshake::HandshakeError;

/// Headers whose values are credentials, whatever else is true of them. [`Headers`]' `Debug`
/// never shows their values; sockeye's redaction (traces, error messages) starts from this list
/// and adds heuristics for secret-looking names and URL parameters.
pub const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "set-cookie2",
];

/// What a hidden secret is shown as.
pub const REDACTED: &str = "[redacted]";

/// True if `name` is one of the [`CREDENTIAL_HEADERS`] (any case).
pub fn is_credential_header(name: &str) -> bool {
    CREDENTIAL_HEADERS
        .iter()
        .any(|credential| name.trim().eq_ignore_ascii_case(credential))
}

/// HTTP headers in the order they were sent or received. Names compare case-insensitively.
///
/// `Debug` shows the values of [`CREDENTIAL_HEADERS`] as `[redacted]`, so a request or response
/// printed with `{:?}` (or inside an error) does not leak them; the values themselves are intact.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, value)| {
                let shown = if is_credential_header(name) {
                    REDACTED
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            }))
            .finish()
    }
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a header (repeats are kept).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True if some header `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The comma-separated tokens of every `name` header, trimmed, empty ones skipped.
    pub fn tokens<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name)
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|token| !token.is_empty())
    }

    /// True if a `name` header lists `token` (case-insensitive), as `Connection: keep-alive, Upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.tokens(name).any(|t| t.eq_ignore_ascii_case(token))
    }

    /// Iterates over `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn from_httparse(raw: &[httparse::Header<'_>]) -> Self {
        Self(
            raw.iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect(),
        )
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a str)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<T: IntoIterator<Item = (N, V)>>(iter: T) -> Self {
        Self(
            iter.into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        )
    }
}

/// Refuses a header that could split the request: CR, LF or NUL anywhere, an empty name, or a
/// name that is not an HTTP token. Checked before anything is sent.
pub fn check_header(name: &str, value: &str) -> Result<(), HandshakeError> {
    let bad_name = name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if bad_name {
        return Err(HandshakeError::InvalidHeader {
            name: name.to_string(),
            why: "the name must be a non-empty HTTP token (letters, digits and !#$%&'*+-.^_`|~)",
        });
    }
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | b'\0')) {
        return Err(HandshakeError::InvalidHeader {
            name: name.to_string(),
            why: "the value contains CR, LF or NUL, which would split the HTTP request",
        });
    }
    Ok(())
}

pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lists_are_case_insensitive_and_span_repeats() {
        let headers: Headers = [("connection", "keep-alive, Upgrade"), ("X", "1")]
            .into_iter()
            .collect();
        assert!(headers.has_token("Connection", "upgrade"));
        assert!(!headers.has_token("Connection", "close"));
        let headers: Headers = [
            ("Sec-WebSocket-Protocol", "a, b"),
            ("sec-websocket-protocol", "c"),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            headers.tokens("sec-websocket-protocol").collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn header_injection_is_refused() {
        assert!(check_header("X-Test", "ok value").is_ok());
        assert!(check_header("X-Test", "a\r\nEvil: 1").is_err());
        assert!(check_header("X-Test", "a\nb").is_err());
        assert!(check_header("X-Test", "a\0b").is_err());
        assert!(check_header("X Test", "a").is_err());
        assert!(check_header("", "a").is_err());
        assert!(check_header("X-\r\nTest", "a").is_err());
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_hides_credentials_and_keeps_the_rest() {
        let mut headers = Headers::new();
        headers.push("Host", "example.com");
        headers.push("authorization", "Bearer abc123");
        headers.push("Cookie", "session=s3cr3t");
        headers.push("Set-Cookie", "id=42");
        let shown = format!("{headers:?}");
        assert!(shown.contains("example.com"), "{shown}");
        for secret in ["abc123", "s3cr3t", "id=42"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert_eq!(shown.matches(REDACTED).count(), 3, "{shown}");
        assert_eq!(headers.get("Authorization"), Some("Bearer abc123"));
    }
}
