//! The proxy stage: a proxy that cannot be reached, or that refused the tunnel (HTTP
//! `CONNECT` statuses, SOCKS reply codes).

use super::Builder;
use crate::error::Stage;

pub(super) fn refused(
    b: &mut Builder<'_, '_>,
    proxy: &str,
    reason: &sockeye_proto::proxy::ProxyError,
    hint: Option<&str>,
) {
    use sockeye_proto::proxy::ProxyError;
    b.quote("proxy", proxy);
    let cause: String = match reason {
        ProxyError::HttpRefused {
            status,
            reason,
            headers,
            body,
            sent_credentials,
            ..
        } => {
            b.quote("status", &format!("{status} {reason}"));
            for (name, header) in [
                ("proxy_authenticate", "Proxy-Authenticate"),
                ("server", "Server"),
                ("x_squid_error", "X-Squid-Error"),
            ] {
                if let Some(value) = headers.get(header) {
                    b.header(name, header, value);
                }
            }
            let text = sockeye_proto::proxy::body_text(body, 240);
            if !text.is_empty() {
                b.quote("body", &text);
            }
            b.fact(
                "credentials_sent",
                if *sent_credentials { "yes" } else { "no" },
            );
            match (status, sent_credentials) {
                (407, false) => "proxy-auth-required".into(),
                (401 | 407, true) => "proxy-auth-rejected".into(),
                (401, false) => "proxy-auth-required".into(),
                (403, _) => "proxy-forbidden".into(),
                _ => "proxy-refused".into(),
            }
        }
        ProxyError::MalformedHttp { preview, .. } => {
            b.quote_escaped("first_bytes", preview);
            "proxy-not-http".into()
        }
        ProxyError::HeadTooLarge { .. } => "proxy-not-http".into(),
        ProxyError::WrongProtocol { preview, .. } => {
            b.quote_escaped("first_bytes", preview);
            "proxy-wrong-protocol".into()
        }
        ProxyError::NoAcceptableMethod {
            offered_password: false,
        } => "socks-auth-required".into(),
        ProxyError::NoAcceptableMethod { .. } => "socks-auth-unsupported".into(),
        ProxyError::UnexpectedMethod { method: 0x02, .. } => "socks-auth-required".into(),
        ProxyError::UnexpectedMethod { .. } => "socks-malformed".into(),
        ProxyError::AuthenticationFailed { .. } => "socks-auth-rejected".into(),
        ProxyError::Socks5Refused { code, .. } => {
            b.fact(
                "socks_reply",
                format!(
                    "{code:#04x} ({})",
                    sockeye_proto::proxy::socks5_reply_meaning(*code)
                ),
            );
            match code {
                0x01 => "socks-failure",
                0x02 => "socks-forbidden",
                0x03 => "socks-network-unreachable",
                0x04 => "socks-host-unreachable",
                0x05 => "socks-connection-refused",
                0x06 => "socks-ttl-expired",
                0x07 => "socks-command-unsupported",
                0x08 => "socks-address-unsupported",
                _ => "socks-refused",
            }
            .into()
        }
        ProxyError::Socks4Refused { code, .. } => {
            b.fact(
                "socks_reply",
                format!(
                    "{code} ({})",
                    sockeye_proto::proxy::socks4_reply_meaning(*code)
                ),
            );
            match code {
                92 | 93 => "socks-identd",
                _ => "socks-rejected",
            }
            .into()
        }
        ProxyError::MalformedReply { .. } => "socks-malformed".into(),
        ProxyError::Closed { .. } => "proxy-closed".into(),
        ProxyError::UnsupportedDestination { .. } => "proxy-unsupported-destination".into(),
        ProxyError::UnsupportedCredentials { .. } => "proxy-unsupported-credentials".into(),
        _ => "proxy-failed".into(),
    };
    b.cause(cause);
    b.hint(hint.unwrap_or("the proxy did not open the tunnel; the message says what it answered"));
}

/// [`Error::ProxyUnreachable`](crate::Error::ProxyUnreachable): no connection to the proxy.
pub(super) fn unreachable(
    b: &mut Builder<'_, '_>,
    proxy: &str,
    failed_at: Stage,
    source: &std::io::Error,
) {
    let os = source.to_string();
    let cause = if failed_at == Stage::Dns {
        "proxy-dns-not-found"
    } else if source.kind() == std::io::ErrorKind::ConnectionRefused {
        "proxy-connection-refused"
    } else {
        "proxy-unreachable"
    };
    b.cause(cause)
        .quote("proxy", proxy)
        .fact("os_error", os)
        .hint("the proxy cannot be reached: check the proxy URL's host and port (ClientConfig::proxy, or the *_proxy variables) and that the proxy runs; ClientConfig::no_proxy with the host, or ProxyConfig::Direct, connects directly");
}
