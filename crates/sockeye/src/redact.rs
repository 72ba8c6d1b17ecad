//! Hides secrets before anything is printed: in every trace line and every error message.
//!
//! What counts as a secret:
//!
//! - the values of the `Authorization` and `Proxy-Authorization` headers (the scheme, such as
//!   `Basic` or `Bearer`, stays visible), of `Cookie` and `Set-Cookie` (cookie names and
//!   attributes stay visible), and of any header whose name looks like a secret (`X-Api-Key`,
//!   `X-Auth-Token`, `X-Amz-Security-Token`…; never the `Sec-WebSocket-*` headers, whose key and
//!   accept are what a handshake diagnosis needs);
//! - credentials in URLs: `user:pass@` becomes `user:[redacted]@`, a lone `token@` becomes
//!   `[redacted]@`;
//! - query, fragment and path (`;jsessionid=…`) parameters whose name looks like a secret
//!   ([`is_secret_param`] has the rule and the lists): `token`, `access_token`, `id_token`,
//!   `refresh_token`, `code` (an OAuth authorization code), `api_key`, `key`, `secret`,
//!   `client_secret`, `password`, `sig`, `X-Amz-Signature`, `X-Amz-Credential`,
//!   `X-Goog-Signature`, `session`, `sid`, `jwt`, `ticket`, `otp`…;
//! - JSON Web Tokens (`eyJ…`.`…`.`…`) and Kubernetes bearer subprotocols
//!   (`base64url.bearer.authorization.k8s.io.…`) in other header values.
//!
//! Each becomes [`REDACTED`]. The functions return the input unchanged (borrowed) when there is
//! nothing to hide. [`ClientConfig::show_secrets`](crate::ClientConfig::show_secrets) turns
//! redaction off for a connection's trace, and [`Error::unredacted`](crate::Error::unredacted)
//! for one error message.
//!
//! ```
//! use sockeye::redact;
//!
//! assert_eq!(
//!     redact::url("wss://bob:hunter2@example.com/feed?token=abc&room=7"),
//!     "wss://bob:[redacted]@example.com/feed?token=[redacted]&room=7"
//! );
//! assert_eq!(
//!     redact::header("Authorization", "Bearer abc.def"),
//!     "Bearer [redacted]"
//! );
//! assert_eq!(redact::header("Cookie", "sid=1; theme=dark"), "sid=[redacted]; theme=[redacted]");
//! ```

use std::borrow::Cow;
use std::cell::Cell;

/// What a secret is replaced with.
pub use sockeye_proto::handshake::headers::REDACTED;

/// Words that make a query parameter or header name a secret, wherever they appear in the name
/// (`X-Amz-Signature`, `client_assertion`, `oauth_verifier`, `AWSAccessKeyId`).
const SECRET_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "passcode",
    "pin",
    "otp",
    "apikey",
    "key",
    "jwt",
    "sig",
    "signature",
    "hmac",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "assertion",
    "verifier",
    "ticket",
    "session",
    "sessionid",
    "sessid",
    "sid",
    "cookie",
    "bearer",
];

/// Endings that make a name a secret when it is written as one word (`accesstoken`, `APIKEY`,
/// `jsessionid`, `totp`). `key` is not one: `monkey`, `hotkey` and `turkey` are no secrets.
const SECRET_SUFFIXES: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "passcode",
    "otp",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "authkey",
    "signature",
    "sessionid",
    "sessid",
    "credential",
    "credentials",
];

/// Names that are secrets only as the whole name, because the word alone is common in ordinary
/// parameters: `code` is an OAuth authorization code (RFC 6749 §4.1.2), but `country_code`
/// and `code_lang` are not secrets; likewise the device code of RFC 8628, the PKCE verifier of
/// RFC 7636 and SAML's responses and artifacts in the redirect binding.
const SECRET_NAMES: &[&str] = &[
    "code",
    "devicecode",
    "codeverifier",
    "samlresponse",
    "samlart",
];

/// Names with a secret word that say what kind of secret another parameter holds, not the
/// secret itself: OAuth's `token_type=Bearer` (RFC 6749 §5.1) and `token_type_hint` (RFC 7009).
const PUBLIC_NAMES: &[&str] = &["tokentype", "tokentypehint"];
/// Header names that are secrets whatever the heuristics say (defined once, in the core).
use sockeye_proto::handshake::headers::CREDENTIAL_HEADERS as SECRET_HEADERS;

/// Headers with URLs or challenges in them that are not secrets although their names contain a
/// secret-looking word.
const PUBLIC_HEADERS: &[&str] = &[
    "www-authenticate",
    "proxy-authenticate",
    "access-control-allow-credentials",
];

/// True if a query parameter (or cookie, or form field) with this name holds a secret.
///
/// The name may be percent-encoded. It is split into words at `-`, `_`, `.`, spaces, brackets
/// and camelCase, and compared in lower case. It is a secret when
///
/// - one of its words is a secret word: `token`, `secret`, `password`, `passwd`, `pwd`, `pass`,
///   `passphrase`, `passcode`, `pin`, `otp`, `apikey`, `key`, `jwt`, `sig`, `signature`,
///   `hmac`, `auth`, `authorization`, `credential(s)`, `assertion`, `verifier`, `ticket`,
///   `session`, `sessionid`, `sessid`, `sid`, `cookie`, `bearer` (so `access_token`,
///   `X-Amz-Credential`, `X-Goog-Signature`, `subscription-key`, `client_assertion`);
/// - written as one word, it ends in a secret: `…token`, `…secret`, `…password`, `…passwd`,
///   `…passcode`, `…otp`, `…apikey`, `…accesskey`, `…secretkey`, `…privatekey`, `…authkey`,
///   `…signature`, `…sessionid`, `…sessid`, `…credential(s)` (so `accesstoken`, `APIKEY`,
///   `jsessionid`, `totp`);
/// - the whole name is `code` (an OAuth authorization code), `device_code`, `code_verifier`,
///   `SAMLResponse` or `SAMLart`: as a word among others `code` is ordinary (`country_code`).
///
/// Whole words, not substrings: `keyboard`, `monkey`, `hotkeys`, `passenger`, `author`,
/// `signal`, `design` and `spinner` stay visible. Left visible on purpose: OAuth's `state` and
/// OpenID's `nonce` (values the client made up to check the answer, which grant nothing and are
/// what one compares when a login callback fails), `code_challenge` (a hash, public by design)
/// and `token_type` / `token_type_hint` (`Bearer`, `refresh_token`: a kind, not a token).
pub fn is_secret_param(name: &str) -> bool {
    let decoded = percent_decode(name);
    let words = words(&decoded);
    let joined: String = words.concat();
    if PUBLIC_NAMES.contains(&joined.as_str()) {
        return false;
    }
    if words
        .iter()
        .any(|word| SECRET_WORDS.contains(&word.as_str()))
    {
        return true;
    }
    SECRET_NAMES.contains(&joined.as_str())
        || SECRET_SUFFIXES
            .iter()
            .any(|suffix| joined.ends_with(suffix))
}

/// True if the value of the header `name` holds a secret.
pub fn is_secret_header(name: &str) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    if lower.starts_with("sec-websocket-") || PUBLIC_HEADERS.contains(&lower.as_str()) {
        return false;
    }
    SECRET_HEADERS.contains(&lower.as_str()) || is_secret_param(&lower)
}

/// The value of header `name` as it may be shown: secrets replaced, everything else as given.
///
/// `Authorization: Bearer abc` keeps its scheme (`Bearer [redacted]`); `Cookie: a=1; b=2` keeps
/// its names (`a=[redacted]; b=[redacted]`); `Set-Cookie` keeps its attributes. Other values
/// have URL credentials, secret query parameters and tokens hidden.
pub fn header<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    let lower = name.trim().to_ascii_lowercase();
    if !is_secret_header(&lower) {
        return header_value_tokens(value);
    }
    if value.trim().is_empty() {
        return Cow::Borrowed(value);
    }
    Cow::Owned(match lower.as_str() {
        "authorization" | "proxy-authorization" => redact_credentials(value),
        "cookie" => redact_cookie_pairs(value, false),
        "set-cookie" | "set-cookie2" => redact_cookie_pairs(value, true),
        _ => REDACTED.to_string(),
    })
}

/// `Bearer abc` → `Bearer [redacted]`; a value without a scheme → `[redacted]`.
fn redact_credentials(value: &str) -> String {
    let trimmed = value.trim_start();
    let leading = &value[..value.len() - trimmed.len()];
    match trimmed.split_once(' ') {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme.len() <= 32
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            format!("{leading}{scheme} {REDACTED}")
        }
        _ => format!("{leading}{REDACTED}"),
    }
}

/// `a=1; b=2` → `a=[redacted]; b=[redacted]`; for `Set-Cookie` only the first pair is the
/// cookie, the rest are attributes (`Path=/`, `HttpOnly`) and stay.
fn redact_cookie_pairs(value: &str, set_cookie: bool) -> String {
    value
        .split(';')
        .enumerate()
        .map(|(index, pair)| {
            if set_cookie && index > 0 {
                return pair.to_string();
            }
            match pair.split_once('=') {
                Some((name, _)) => format!("{name}={REDACTED}"),
                None if pair.trim().is_empty() => pair.to_string(),
                None => {
                    let leading = &pair[..pair.len() - pair.trim_start().len()];
                    format!("{leading}{REDACTED}")
                }
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// A URL, or a request target (`/path?query`), with credentials and secret parameters hidden.
pub fn url(input: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut rest_start = 0;
    // userinfo: between "://" and the last '@' of the authority.
    if let Some(scheme_end) = input.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = input[authority_start..]
            .find(['/', '?', '#'])
            .map_or(input.len(), |at| authority_start + at);
        let authority = &input[authority_start..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            let mut redacted = String::with_capacity(input.len());
            redacted.push_str(&input[..authority_start]);
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    redacted.push_str(user);
                    redacted.push(':');
                    redacted.push_str(REDACTED);
                }
                None => redacted.push_str(REDACTED),
            }
            redacted.push('@');
            out = Some(redacted);
            rest_start = authority_start + at + 1;
        }
    }
    let rest = &input[rest_start..];
    let params = redact_params_after(rest);
    match (out, params) {
        (None, Cow::Borrowed(_)) => Cow::Borrowed(input),
        (None, Cow::Owned(params)) => {
            let mut redacted = input[..rest_start].to_string();
            redacted.push_str(&params);
            Cow::Owned(redacted)
        }
        (Some(mut redacted), params) => {
            redacted.push_str(&params);
            Cow::Owned(redacted)
        }
    }
}

/// Hides the secret parameters of the query (after `?`), of the fragment (after `#`) and of
/// the path (`;name=value` in a segment, as in `/app;jsessionid=…/page`).
fn redact_params_after(text: &str) -> Cow<'_, str> {
    let Some(start) = text.find(['?', '#', ';']) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + REDACTED.len());
    out.push_str(&text[..=start]);
    let mut changed = false;
    let mut in_path = text.as_bytes()[start] == b';';
    // In the path only what follows a ';' is a parameter; a segment after '/' is not.
    let mut piece_is_param = true;
    let mut piece_start = start + 1;
    let mut pieces = text[start + 1..]
        .char_indices()
        .map(|(at, c)| (start + 1 + at, c));
    loop {
        let end = pieces.find(|&(_, c)| match c {
            ';' | '#' => true,
            '&' => !in_path,
            '/' | '?' => in_path,
            _ => false,
        });
        let at = end.map_or(text.len(), |(at, _)| at);
        let piece = &text[piece_start..at];
        if piece_is_param {
            changed |= push_param(&mut out, piece);
        } else {
            out.push_str(piece);
        }
        let Some((_, separator)) = end else { break };
        out.push(separator);
        in_path &= !matches!(separator, '?' | '#');
        piece_is_param = separator != '/';
        piece_start = at + 1;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// Appends `name=value`, hiding the value if the name is a secret's. True if it hid something.
fn push_param(out: &mut String, piece: &str) -> bool {
    match piece.split_once('=') {
        Some((name, value)) if !value.is_empty() && is_secret_param(name) => {
            out.push_str(name);
            out.push('=');
            out.push_str(REDACTED);
            true
        }
        _ => {
            out.push_str(piece);
            false
        }
    }
}

/// An HTTP head (request or response, lines separated by CRLF or LF) with every secret hidden:
/// the request target's credentials and parameters, and secret header values.
pub fn head(head: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(head.len());
    let mut changed = false;
    let mut first = true;
    for line in head.split_inclusive('\n') {
        let (content, ending) = split_line_ending(line);
        let shown = if first {
            first = false;
            request_line(content)
        } else {
            header_line(content)
        };
        changed |= matches!(shown, Cow::Owned(_));
        out.push_str(&shown);
        out.push_str(ending);
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(head)
    }
}

fn split_line_ending(line: &str) -> (&str, &str) {
    let content = line.trim_end_matches(['\r', '\n']);
    (content, &line[content.len()..])
}

/// `GET /path?token=x HTTP/1.1` → the target redacted; a status line is left alone.
fn request_line(line: &str) -> Cow<'_, str> {
    let mut parts = line.splitn(3, ' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Cow::Borrowed(line);
    };
    if method.starts_with("HTTP/") {
        return Cow::Borrowed(line);
    }
    match url(target) {
        Cow::Borrowed(_) => Cow::Borrowed(line),
        Cow::Owned(target) => Cow::Owned(format!("{method} {target} {version}")),
    }
}

/// `Name: value` with the value redacted as [`header`] says.
fn header_line(line: &str) -> Cow<'_, str> {
    let Some((name, value)) = line.split_once(':') else {
        // A malformed line without the colon still carries the credentials.
        return match line.split_once(' ') {
            Some((name, _)) if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) => {
                Cow::Owned(format!("{name} {REDACTED}"))
            }
            _ => Cow::Borrowed(line),
        };
    };
    let leading = &value[..value.len() - value.trim_start().len()];
    match header(name, value.trim_start()) {
        Cow::Borrowed(_) => Cow::Borrowed(line),
        Cow::Owned(shown) => Cow::Owned(format!("{name}:{leading}{shown}")),
    }
}

/// A non-secret header's value: URLs, query strings and tokens inside it hidden.
fn header_value_tokens(value: &str) -> Cow<'_, str> {
    let mut shown = text(value);
    if let Some(replaced) = kubernetes_bearer(&shown) {
        shown = Cow::Owned(replaced);
    }
    shown
}

/// `base64url.bearer.authorization.k8s.io.TOKEN` (a token carried as a subprotocol).
fn kubernetes_bearer(value: &str) -> Option<String> {
    const PREFIX: &str = "bearer.authorization.k8s.io.";
    let lower = value.to_ascii_lowercase();
    let start = lower.find(PREFIX)? + PREFIX.len();
    let end = value[start..]
        .find([',', ' ', ';'])
        .map_or(value.len(), |at| start + at);
    if end == start {
        return None;
    }
    Some(format!("{}{REDACTED}{}", &value[..start], &value[end..]))
}

/// Free text (an error message, a line of a log) with secrets hidden: URLs with credentials or
/// secret parameters, query strings, JSON Web Tokens, and `Name: value` header lines with a
/// secret name (at the start of the text or of a line, including lines escaped as `\n`).
pub fn text(input: &str) -> Cow<'_, str> {
    let headers = header_lines_in_text(input);
    let words = urls_in_text(&headers);
    match words {
        Cow::Borrowed(_) => headers,
        Cow::Owned(owned) => Cow::Owned(owned),
    }
}

/// Characters that end a word in free text: a URL or token never contains them.
fn is_word_break(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '<' | '>' | '`' | '(' | ')' | ',')
}

fn urls_in_text(input: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut changed = false;
    let mut last = 0;
    let mut word_start = None;
    for (at, c) in input.char_indices().chain([(input.len(), ' ')]) {
        match (word_start, is_word_break(c)) {
            (None, false) => word_start = Some(at),
            (Some(start), true) => {
                let word = &input[start..at];
                let shown = if word.contains("://") || word.contains('?') || word.contains('#') {
                    url(word)
                } else if looks_like_jwt(word) {
                    Cow::Borrowed(REDACTED)
                } else {
                    Cow::Borrowed(word)
                };
                let shown = match shown {
                    Cow::Borrowed(s) if s == word => None,
                    shown => Some(shown),
                };
                if let Some(shown) = shown {
                    out.push_str(&input[last..start]);
                    out.push_str(&shown);
                    last = at;
                    changed = true;
                }
                word_start = None;
            }
            _ => {}
        }
    }
    if !changed {
        return Cow::Borrowed(input);
    }
    out.push_str(&input[last..]);
    Cow::Owned(out)
}

/// `eyJ…` with three base64url parts separated by dots: a JSON Web Token.
fn looks_like_jwt(word: &str) -> bool {
    let word = word.trim_matches(|c: char| matches!(c, ';' | ':' | '[' | ']'));
    let word = word.rsplit_once('=').map_or(word, |(_, value)| value);
    if !word.starts_with("eyJ") {
        return false;
    }
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && parts[..2].iter().all(|part| part.len() >= 4)
        && parts.iter().all(|part| {
            part.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Redacts `Name: value` where `Name` is a secret header, at the start of `input` or of a line
/// (after `\n`, or after the two characters `\n` of an escaped preview).
fn header_lines_in_text(input: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut changed = false;
    let mut copied = 0;
    let mut line_start = Some(0);
    let bytes = input.as_bytes();
    let mut i = 0;
    while i <= bytes.len() {
        if let Some(start) = line_start.take() {
            if let Some((value_start, value_end)) = secret_header_value_at(input, start) {
                out.push_str(&input[copied..value_start]);
                let name = input[start..value_start].trim_end_matches([':', ' ']);
                let value = &input[value_start..value_end];
                out.push_str(&header(name, value));
                copied = value_end;
                changed = true;
                i = value_end;
                continue;
            }
        }
        if i == bytes.len() {
            break;
        }
        if bytes[i] == b'\n' {
            line_start = Some(i + 1);
        } else if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'n') {
            line_start = Some(i + 2);
            i += 1;
        }
        i += 1;
    }
    if !changed {
        return Cow::Borrowed(input);
    }
    out.push_str(&input[copied..]);
    Cow::Owned(out)
}

/// If a secret header `Name: value` starts at `start`, the byte range of its value (up to the
/// end of the line, real or escaped).
fn secret_header_value_at(input: &str, start: usize) -> Option<(usize, usize)> {
    let rest = &input[start..];
    let name_len = rest
        .bytes()
        .take_while(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        .count();
    let name = &rest[..name_len];
    match rest.as_bytes().get(name_len) {
        Some(b':') if is_secret_header(name) => {}
        // A malformed line without the colon still carries the credentials.
        Some(b' ') if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) => {}
        _ => return None,
    }
    let after_colon = &rest[name_len + 1..];
    let spaces = after_colon.len() - after_colon.trim_start_matches(' ').len();
    let value_start = start + name_len + 1 + spaces;
    let value = &input[value_start..];
    let end = [
        value.find('\r'),
        value.find('\n'),
        value.find("\\r"),
        value.find("\\n"),
        value.find('"'),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(value.len());
    let end = value[..end].trim_end_matches('…').len();
    (end > 0).then_some((value_start, value_start + end))
}

/// Splits a name into lowercase words at `-`, `_`, `.`, spaces and camelCase boundaries.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.' | ' ' | '[' | ']') {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Decodes `%XX` escapes (and `+` as a space), keeping invalid escapes as they are.
fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let spaced = text.replace('+', " ");
    Cow::Owned(crate::options::percent_decode(&spaced))
}

thread_local! {
    /// Set while [`Error::unredacted`](crate::Error::unredacted) formats an error.
    static SHOW_SECRETS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `format` with error messages unredacted on this thread, then restores the setting
/// (also if `format` panics).
pub(crate) fn showing_secrets<T>(format: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SHOW_SECRETS.with(|show| show.set(self.0));
        }
    }
    let _restore = Restore(SHOW_SECRETS.with(|show| show.replace(true)));
    format()
}

/// A URL as an error message shows it: redacted unless [`showing_secrets`] is running.
pub(crate) fn error_url(input: &str) -> Cow<'_, str> {
    if SHOW_SECRETS.with(Cell::get) {
        Cow::Borrowed(input)
    } else {
        url(input)
    }
}

/// A header value as an error message shows it: redacted unless [`showing_secrets`] is running.
pub(crate) fn error_header<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if SHOW_SECRETS.with(Cell::get) {
        Cow::Borrowed(value)
    } else {
        header(name, value)
    }
}

/// Free text as an error message shows it: redacted unless [`showing_secrets`] is running.
pub(crate) fn error_text(input: &str) -> String {
    if SHOW_SECRETS.with(Cell::get) {
        input.to_string()
    } else {
        text(input).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_at_separators_and_camel_case() {
        assert_eq!(words("accessToken"), ["access", "token"]);
        assert_eq!(words("X-Api-Key"), ["x", "api", "key"]);
        assert_eq!(words("client_secret"), ["client", "secret"]);
        assert_eq!(words("APIKEY"), ["apikey"]);
    }

    #[test]
    fn unchanged_input_is_borrowed() {
        assert!(matches!(url("ws://example.com/a?b=1"), Cow::Borrowed(_)));
        assert!(matches!(
            head("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(text("nothing to see"), Cow::Borrowed(_)));
    }

    /// Each credential parameter real services put in URLs, as they spell it.
    #[test]
    fn credential_parameters_of_real_services_are_hidden() {
        for name in [
            // OAuth 2.0 and OpenID Connect (RFC 6749, 8628, 7636, 7523)
            "code",
            "Code",
            "CODE",
            "access_token",
            "id_token",
            "refresh_token",
            "id_token_hint",
            "device_code",
            "code_verifier",
            "client_secret",
            "client_assertion",
            "oauth_token",
            "oauth_verifier",
            "oauth_signature",
            // API keys and generic credentials
            "token",
            "auth",
            "authorization",
            "api_key",
            "apikey",
            "api-key",
            "apiKey",
            "API_KEY",
            "key",
            "subscription-key",
            "secret",
            "password",
            "passwd",
            "pwd",
            "passcode",
            "pin",
            "otp",
            "totp",
            "jwt",
            "ticket",
            "hmac",
            // Signed URLs: AWS SigV4 and SigV2, Azure SAS, Google Cloud Storage
            "sig",
            "signature",
            "Signature",
            "X-Amz-Signature",
            "X-Amz-Credential",
            "X-Amz-Security-Token",
            "AWSAccessKeyId",
            "X-Goog-Signature",
            "X-Goog-Credential",
            // Sessions
            "session",
            "sessionid",
            "session_id",
            "sid",
            "jsessionid",
            "PHPSESSID",
            "SAMLResponse",
            "SAMLart",
        ] {
            assert!(is_secret_param(name), "{name} should be a secret");
            let url_text = format!("https://svc.example/cb?room=7&{name}=SeCrEt&page=2");
            let shown = url(&url_text);
            assert_eq!(
                shown,
                format!("https://svc.example/cb?room=7&{name}=[redacted]&page=2"),
                "{name}"
            );
        }
    }

    /// Names that contain a secret word's letters but not the word, and the OAuth parameters
    /// that are not credentials.
    #[test]
    fn look_alikes_and_non_credentials_stay_visible() {
        for name in [
            "keyboard",
            "monkey",
            "turkey",
            "hotkeys",
            "keyword",
            "passenger",
            "bypass",
            "compass",
            "author",
            "authority",
            "signal",
            "design",
            "spinner",
            "pinned",
            "tokenizer_lang",
            "secretary_name",
            "country_code",
            "code_lang",
            "zip_code",
            "status_code",
            "codec",
            "barcode",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
            "token_type",
            "token_type_hint",
            "redirect_uri",
            "scope",
            "response_type",
            "client_id",
            "expires",
            "X-Amz-Date",
            "X-Amz-Expires",
            "sp",
            "sv",
            "se",
        ] {
            assert!(!is_secret_param(name), "{name} should stay visible");
            let url_text = format!("https://svc.example/cb?{name}=visible");
            assert_eq!(url(&url_text), url_text, "{name}");
        }
    }

    #[test]
    fn oauth_callbacks_hide_the_code_and_keep_the_state() {
        assert_eq!(
            url("https://app.example/callback?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz"),
            "https://app.example/callback?code=[redacted]&state=xyz"
        );
        assert_eq!(
            url("https://app.example/cb#state=1&id_token=eyJ.x.y&token_type=Bearer"),
            "https://app.example/cb#state=1&id_token=[redacted]&token_type=Bearer"
        );
        assert_eq!(
            text("redirected to https://app.example/cb?code=abc&state=s (302)"),
            "redirected to https://app.example/cb?code=[redacted]&state=s (302)"
        );
    }

    #[test]
    fn signed_urls_hide_their_signatures() {
        assert_eq!(
            url("https://b.s3.amazonaws.com/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20260101&X-Amz-Date=20260101T000000Z&X-Amz-Signature=abcd"),
            "https://b.s3.amazonaws.com/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[redacted]&X-Amz-Date=20260101T000000Z&X-Amz-Signature=[redacted]"
        );
        assert_eq!(
            url("https://acct.blob.core.windows.net/c/b?sv=2022-11-02&se=2026-01-01&sp=r&sig=abc%3D"),
            "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&se=2026-01-01&sp=r&sig=[redacted]"
        );
    }

    #[test]
    fn path_parameters_hide_session_ids() {
        assert_eq!(
            url("wss://h.example/app;jsessionid=ABC123/feed?room=1"),
            "wss://h.example/app;jsessionid=[redacted]/feed?room=1"
        );
        assert_eq!(
            url("/chat;jsessionid=ABC;v=2?token=t&x=1"),
            "/chat;jsessionid=[redacted];v=2?token=[redacted]&x=1"
        );
        // A path segment after '/' is not a parameter, nor is a path without ';'.
        assert_eq!(url("/a;v=1/token=x"), "/a;v=1/token=x");
        assert_eq!(url("/token=x/b"), "/token=x/b");
        // '&' separates parameters in the query only.
        assert_eq!(url("/a;v=1&token=x"), "/a;v=1&token=x");
        assert!(matches!(url("/a;v=1/b?c=2#d"), Cow::Borrowed(_)));
    }

    #[test]
    fn showing_secrets_is_scoped() {
        let secret = "ws://a:b@h/";
        assert_eq!(error_url(secret), "ws://a:[redacted]@h/");
        assert_eq!(showing_secrets(|| error_url(secret).into_owned()), secret);
        assert_eq!(error_url(secret), "ws://a:[redacted]@h/");
    }
}
