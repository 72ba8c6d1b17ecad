//! What went wrong with TLS, in words, with what to try.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::UnixTime;
use rustls::{AlertDescription, CertificateError, InvalidMessage};

/// Why a TLS connection failed: the cause, the facts needed to act on it, and (in the message)
/// what to try. Carried by [`Error::Tls`](crate::Error::Tls).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TlsProblem {
    /// A CA, certificate or key file could not be read, or holds nothing usable.
    File {
        /// What the file was for: "CA file", "client certificate", "client key".
        what: &'static str,
        /// The path as given.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The operating system's trust store holds no usable CA certificate.
    NoSystemRoots {
        /// What rustls-native-certs reported.
        why: String,
    },
    /// The name to check the certificate against is neither a DNS name nor an IP address.
    InvalidServerName {
        /// The name.
        name: String,
    },
    /// The certificate chain does not lead to a trusted CA.
    UnknownIssuer {
        /// The name the certificate was checked for.
        server: String,
        /// Which roots were trusted: the system's, or a CA file.
        trusted: String,
    },
    /// The certificate has expired.
    Expired {
        /// The name the certificate was checked for.
        server: String,
        /// The certificate's `notAfter`, when rustls reported it.
        not_after: Option<SystemTime>,
        /// The time of the check.
        now: Option<SystemTime>,
    },
    /// The certificate is not valid yet.
    NotYetValid {
        /// The name the certificate was checked for.
        server: String,
        /// The certificate's `notBefore`, when rustls reported it.
        not_before: Option<SystemTime>,
        /// The time of the check.
        now: Option<SystemTime>,
    },
    /// The certificate is valid, but for other names.
    HostnameMismatch {
        /// The name that was checked.
        expected: String,
        /// The DNS names and IP addresses the certificate's subjectAltName carries.
        presented: Vec<String>,
    },
    /// Another certificate problem: revoked, badly signed, meant for another purpose…
    BadCertificate {
        /// The name the certificate was checked for.
        server: String,
        /// rustls' verdict.
        error: CertificateError,
    },
    /// The server requires a client certificate and none was configured.
    ClientCertificateRequired,
    /// The server refused the client certificate, with this alert.
    ClientCertificateRefused {
        /// The TLS alert the server sent.
        alert: AlertDescription,
    },
    /// The server ended the handshake with this alert.
    AlertReceived {
        /// The TLS alert.
        alert: AlertDescription,
    },
    /// The peer does not speak TLS (for example a plain HTTP server on a `wss://` URL).
    NotTls {
        /// The first bytes it sent, when they were recorded.
        received: Option<Vec<u8>>,
    },
    /// The peer closed the connection in the middle of the handshake.
    ClosedDuringHandshake,
    /// Anything else rustls reported.
    Other(rustls::Error),
}

const CACERT_HINT: &str = "if the server uses a private or self-signed CA, trust it with \
     --cacert FILE (TlsOptions::ca_file), or skip verification with -k/--insecure";
const INSECURE_HINT: &str = "skip verification with -k/--insecure only if you accept the risk";

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { what, path, why } => {
                write!(f, "cannot use the {what} {}: {why}", path.display())
            }
            Self::NoSystemRoots { why } => write!(
                f,
                "the operating system's trust store has no usable CA certificate ({why}); \
                 install the ca-certificates package, set SSL_CERT_FILE, or pass --cacert FILE"
            ),
            Self::InvalidServerName { name } => write!(
                f,
                "{name:?} is not a DNS name or IP address that a certificate can be checked \
                 against; name another with --sni NAME (TlsOptions::server_name)"
            ),
            Self::UnknownIssuer { server, trusted } => write!(
                f,
                "the certificate of {server} was not issued by a CA in {trusted} (unknown \
                 issuer); {CACERT_HINT}"
            ),
            Self::Expired {
                server,
                not_after,
                now,
            } => {
                write!(f, "the certificate of {server} has expired")?;
                if let Some(not_after) = not_after {
                    write!(f, " (valid until {})", utc(*not_after))?;
                }
                if let Some(now) = now {
                    write!(f, " (it is now {})", utc(*now))?;
                }
                write!(
                    f,
                    "; the server needs a new certificate (or this machine's clock is wrong); \
                     {INSECURE_HINT}"
                )
            }
            Self::NotYetValid {
                server,
                not_before,
                now,
            } => {
                write!(f, "the certificate of {server} is not valid yet")?;
                if let Some(not_before) = not_before {
                    write!(f, " (valid from {})", utc(*not_before))?;
                }
                if let Some(now) = now {
                    write!(f, " (it is now {})", utc(*now))?;
                }
                write!(f, "; check this machine's clock; {INSECURE_HINT}")
            }
            Self::HostnameMismatch {
                expected,
                presented,
            } => {
                if presented.is_empty() {
                    write!(
                        f,
                        "the certificate is not valid for {expected}: it names no host \
                         (no subjectAltName; the subject's CN is not used)"
                    )?;
                } else {
                    write!(
                        f,
                        "the certificate is not valid for {expected}: it names {}",
                        presented.join(", ")
                    )?;
                }
                write!(
                    f,
                    "; connect with a name it carries, check it for another name with \
                     --sni NAME, or skip only the name check with --no-hostname-check"
                )
            }
            Self::BadCertificate { server, error } => {
                write!(f, "the certificate of {server} was refused: {error}")
            }
            Self::ClientCertificateRequired => f.write_str(
                "the server requires a client certificate and none was given; pass one with \
                 --cert FILE --key FILE (TlsOptions::client_auth)",
            ),
            Self::ClientCertificateRefused { alert } => write!(
                f,
                "the server refused the client certificate (TLS alert {alert:?}); check that it \
                 is issued by a CA the server trusts, still valid, and meant for client \
                 authentication"
            ),
            Self::AlertReceived { alert } => {
                write!(
                    f,
                    "the server ended the handshake with the TLS alert {alert:?}"
                )?;
                match alert {
                    AlertDescription::HandshakeFailure => f.write_str(
                        " (no protocol version or cipher suite in common, or it requires a \
                         client certificate: --cert FILE --key FILE)",
                    ),
                    AlertDescription::ProtocolVersion => {
                        f.write_str(" (it speaks no TLS version sockeye does: 1.2 and 1.3)")
                    }
                    AlertDescription::UnrecognisedName => f.write_str(
                        " (it serves no site for the name sent in SNI; check the host, or \
                         --sni NAME)",
                    ),
                    _ => Ok(()),
                }
            }
            Self::NotTls { received } => {
                f.write_str("the server did not answer with TLS")?;
                let received = received.as_deref().unwrap_or_default();
                if !received.is_empty() {
                    // Redacted like every quote from the peer: a cookie could be in there.
                    let sent = crate::redact::error_text(&String::from_utf8_lossy(received));
                    write!(f, "; it sent {sent:?}")?;
                }
                if received.is_empty() || received.starts_with(b"HTTP/") {
                    f.write_str(": it looks like a plain HTTP server, try ws:// instead of wss://")
                } else {
                    f.write_str(": check that this port serves TLS")
                }
            }
            Self::ClosedDuringHandshake => f.write_str(
                "the server closed the connection during the TLS handshake: it may not speak \
                 TLS on this port, or refused our hello (no protocol version or cipher suite in \
                 common, or no site for the name sent in SNI)",
            ),
            Self::Other(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for TlsProblem {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Other(err) => Some(err),
            _ => None,
        }
    }
}

/// Where a rustls error was met: what is known about the handshake it ended.
#[derive(Debug, Default)]
pub(super) struct Context<'a> {
    /// The name the certificate is checked for (none after the handshake).
    pub(super) server: Option<&'a str>,
    /// Which roots were trusted, in words.
    pub(super) trusted: Option<String>,
    /// The first bytes the peer sent, when they were recorded.
    pub(super) received: Option<&'a [u8]>,
}

impl TlsProblem {
    /// Names what rustls reported, in the terms of the handshake `cx` describes.
    pub(super) fn from_rustls(err: rustls::Error, cx: &Context<'_>) -> Self {
        let server = || cx.server.unwrap_or("the server").to_string();
        match err {
            rustls::Error::InvalidCertificate(cert) => match cert {
                CertificateError::UnknownIssuer => Self::UnknownIssuer {
                    server: server(),
                    trusted: cx
                        .trusted
                        .clone()
                        .unwrap_or_else(|| "the trusted roots".into()),
                },
                CertificateError::Expired => Self::Expired {
                    server: server(),
                    not_after: None,
                    now: None,
                },
                CertificateError::ExpiredContext { time, not_after } => Self::Expired {
                    server: server(),
                    not_after: Some(system_time(not_after)),
                    now: Some(system_time(time)),
                },
                CertificateError::NotValidYet => Self::NotYetValid {
                    server: server(),
                    not_before: None,
                    now: None,
                },
                CertificateError::NotValidYetContext { time, not_before } => Self::NotYetValid {
                    server: server(),
                    not_before: Some(system_time(not_before)),
                    now: Some(system_time(time)),
                },
                CertificateError::NotValidForName => Self::HostnameMismatch {
                    expected: server(),
                    presented: Vec::new(),
                },
                CertificateError::NotValidForNameContext {
                    expected,
                    presented,
                } => Self::HostnameMismatch {
                    expected: expected.to_str().into_owned(),
                    presented: presented.into_iter().map(plain_name).collect(),
                },
                error => Self::BadCertificate {
                    server: server(),
                    error,
                },
            },
            rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => {
                Self::ClientCertificateRequired
            }
            rustls::Error::AlertReceived(
                alert @ (AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnknownCA
                | AlertDescription::AccessDenied),
            ) => Self::ClientCertificateRefused { alert },
            rustls::Error::AlertReceived(alert) => Self::AlertReceived { alert },
            rustls::Error::InvalidMessage(
                InvalidMessage::InvalidContentType | InvalidMessage::UnknownProtocolVersion,
            ) if cx.server.is_some() && cx.received.is_none_or(|bytes| !looks_like_tls(bytes)) => {
                Self::NotTls {
                    received: cx.received.map(<[u8]>::to_vec),
                }
            }
            other => Self::Other(other),
        }
    }
}

/// A name as rustls lists it (`DnsName("example.com")`, `IpAddress(10.0.0.1)`), without the
/// wrapping; any other form is kept as it is.
fn plain_name(presented: String) -> String {
    let dns = presented
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"));
    let ip = presented
        .strip_prefix("IpAddress(")
        .and_then(|rest| rest.strip_suffix(')'));
    match dns.or(ip) {
        Some(name) => name.to_string(),
        None => presented,
    }
}

/// Whether `bytes` start like a TLS record: a known content type, then version 3.x.
fn looks_like_tls(bytes: &[u8]) -> bool {
    matches!(bytes, [0x14..=0x18, 0x03, ..] | [0x14..=0x18] | [])
}

fn system_time(time: UnixTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(time.as_secs())
}

/// `2024-05-01 12:00:00 UTC`.
fn utc(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_printed_in_utc() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3661);
        assert_eq!(utc(leap_day), "2000-02-29 01:01:01 UTC");
        let new_year = UNIX_EPOCH + Duration::from_secs(1_735_689_599);
        assert_eq!(utc(new_year), "2024-12-31 23:59:59 UTC");
    }

    #[test]
    fn presented_names_lose_their_wrapping() {
        let names = [
            "DnsName(\"example.com\")",
            "DnsName(\"*.example.com\")",
            "IpAddress(10.1.2.3)",
            "IpAddress(2001:db8::1)",
            "DirectoryName",
        ];
        let plain: Vec<String> = names
            .map(String::from)
            .into_iter()
            .map(plain_name)
            .collect();
        assert_eq!(
            plain,
            [
                "example.com",
                "*.example.com",
                "10.1.2.3",
                "2001:db8::1",
                "DirectoryName"
            ]
        );
    }

    #[test]
    fn plain_http_is_not_tls() {
        let cx = Context {
            server: Some("localhost"),
            received: Some(b"HTTP/1.1 400 Bad Request\r\n"),
            ..Context::default()
        };
        let err = rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType);
        let problem = TlsProblem::from_rustls(err, &cx);
        assert!(matches!(problem, TlsProblem::NotTls { .. }), "{problem:?}");
        let message = problem.to_string();
        assert!(
            message.contains("\"HTTP/1.1 400 Bad Request\\r\\n\""),
            "{message}"
        );
        assert!(message.contains("try ws://"), "{message}");
    }
}
