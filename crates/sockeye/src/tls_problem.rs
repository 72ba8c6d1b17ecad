//! What went wrong with TLS, in words, with what to try.
//!
//! Messages name the library's options (`TlsOptions::ca_file`); a front-end such as the CLI
//! knows which of its flags sets each. No rustls type is printed with `{:?}`: [`words`]
//! names every verdict.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::UnixTime;
use rustls::{AlertDescription, CertificateError, InvalidMessage, OtherError, PeerIncompatible};

pub(crate) mod words;

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
    /// The server presented a CA certificate (basicConstraints `CA:TRUE`) as its own — a
    /// self-signed certificate made with `openssl req -x509` is one — and it is not
    /// byte-identical to a certificate in [`TlsOptions::ca_file`](crate::TlsOptions::ca_file),
    /// the one case where such a certificate is accepted.
    CaCertificate {
        /// The name the certificate was checked for.
        server: String,
        /// The CA file, when one was given.
        ca_file: Option<PathBuf>,
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
    /// The server and sockeye have no TLS version, cipher suite, key exchange group or signature
    /// algorithm in common.
    Incompatible {
        /// What is missing, as rustls reported it.
        why: PeerIncompatible,
    },
    /// The server broke the TLS protocol: a corrupt or unexpected message, a record that does
    /// not decrypt, a forbidden choice.
    ProtocolViolation {
        /// rustls' verdict.
        error: rustls::Error,
    },
    /// The peer does not speak TLS (for example a plain HTTP server on a `wss://` URL).
    NotTls {
        /// The first bytes it sent, when they were recorded.
        received: Option<Vec<u8>>,
    },
    /// The peer closed the connection in the middle of the handshake.
    ClosedDuringHandshake,
    /// Anything else rustls reported (and every failure of a server's handshake).
    Other(rustls::Error),
}

/// What to try when the certificate is not trusted.
const TRUST_HINT: &str = "if the server uses a private CA, trust that CA with \
     TlsOptions::ca_file; if its certificate is self-signed, TlsOptions::ca_file can name a file \
     holding that certificate itself; TlsOptions::insecure_skip_verify skips verification (the \
     connection is then not authenticated)";
/// The last resort for a certificate that is trusted but not acceptable.
const INSECURE_HINT: &str = "TlsOptions::insecure_skip_verify connects anyway, unauthenticated, \
     only if you accept the risk";

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { what, path, why } => {
                write!(f, "cannot use the {what} {}: {why}", path.display())
            }
            Self::NoSystemRoots { why } => write!(
                f,
                "the operating system's trust store has no usable CA certificate ({why}); \
                 install the ca-certificates package, set SSL_CERT_FILE, or trust a CA file \
                 with TlsOptions::ca_file"
            ),
            Self::InvalidServerName { name } => write!(
                f,
                "{name:?} is not a DNS name or IP address that a certificate can be checked \
                 against; name another with TlsOptions::server_name"
            ),
            Self::UnknownIssuer { server, trusted } => write!(
                f,
                "the certificate of {server} was not issued by a CA in {trusted} (unknown \
                 issuer); {TRUST_HINT}"
            ),
            Self::CaCertificate { server, ca_file } => {
                write!(
                    f,
                    "the certificate of {server} is a CA certificate (basicConstraints CA:TRUE, \
                     as `openssl req -x509` makes it), and a CA certificate is accepted as a \
                     server's own only when it is byte-identical to a certificate in \
                     TlsOptions::ca_file"
                )?;
                match ca_file {
                    Some(path) => write!(
                        f,
                        "; it is not one of those in the CA file {}: if it is this server's \
                         self-signed certificate, add a copy of it (PEM) to that file",
                        path.display()
                    )?,
                    None => f.write_str(
                        ", and no CA file is set: if it is this server's self-signed \
                         certificate, save a copy of it (PEM) and name that file in \
                         TlsOptions::ca_file",
                    )?,
                }
                write!(
                    f,
                    "; otherwise the server should present a certificate issued by its CA, not \
                     the CA's own; {INSECURE_HINT}"
                )
            }
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
                write!(
                    f,
                    "; check this machine's clock, or the dates the certificate was made with; \
                     {INSECURE_HINT}"
                )
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
                    "; to resolve the name mismatch, connect with a name it carries, check it \
                     for another name with TlsOptions::server_name, or skip only the name check \
                     with TlsOptions::skip_hostname_check"
                )
            }
            Self::BadCertificate { server, error } => {
                write!(
                    f,
                    "the certificate of {server} was refused: {}",
                    words::certificate(error)
                )?;
                f.write_str(match error {
                    CertificateError::Revoked | CertificateError::BadEncoding => {
                        "; the server needs a new certificate, from its CA"
                    }
                    CertificateError::BadSignature => {
                        "; if the server's self-signed certificate was made again, put the new \
                         one in the file named by TlsOptions::ca_file; otherwise the server \
                         needs a certificate its CA signed"
                    }
                    #[allow(deprecated)]
                    CertificateError::UnsupportedSignatureAlgorithm
                    | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
                    | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext {
                        ..
                    } => "; the server needs a certificate signed with a supported algorithm",
                    CertificateError::InvalidPurpose
                    | CertificateError::InvalidPurposeContext { .. } => {
                        "; the server needs a certificate for TLS servers (extended key usage \
                         serverAuth, or none)"
                    }
                    _ => "; the server's operator must fix its certificate",
                })?;
                write!(f, "; {INSECURE_HINT}")
            }
            Self::ClientCertificateRequired => f.write_str(
                "the server requires a client certificate and none was given; give one with \
                 TlsOptions::client_auth",
            ),
            Self::ClientCertificateRefused { alert } => write!(
                f,
                "the server refused the client certificate (TLS alert {}: {}); check that it \
                 is issued by a CA the server trusts, still valid, and meant for client \
                 authentication (TlsOptions::client_auth)",
                words::alert_name(*alert),
                words::alert_meaning(*alert)
            ),
            Self::AlertReceived { alert } => {
                write!(
                    f,
                    "the server ended the handshake with the TLS alert {} ({})",
                    words::alert_name(*alert),
                    words::alert_meaning(*alert)
                )?;
                f.write_str(alert_hint(*alert))
            }
            Self::Incompatible { why } => write!(
                f,
                "the server and sockeye have {}; sockeye speaks TLS 1.2 and 1.3 with AES-GCM \
                 and CHACHA20-POLY1305 cipher suites and ECDHE key exchange, so the server must \
                 enable one of those (a server limited to TLS 1.0 or 1.1 cannot be reached)",
                words::incompatible(why)
            ),
            Self::ProtocolViolation { error } => write!(
                f,
                "{}; this is a fault of the server, or of something between that alters the \
                 traffic (a proxy, firewall or inspecting middlebox): try another network path, \
                 or tell the server's operator",
                words::error(error, "the server")
            ),
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
            Self::Other(err) => f.write_str(&words::error(err, "the peer")),
        }
    }
}

/// What to try after the server ended the handshake with `alert`.
fn alert_hint(alert: AlertDescription) -> &'static str {
    use AlertDescription as A;
    match alert {
        A::HandshakeFailure => {
            ": no protocol version, cipher suite or key exchange in common, or it requires a \
             client certificate (TlsOptions::client_auth)"
        }
        A::ProtocolVersion | A::InsufficientSecurity => {
            ": sockeye speaks TLS 1.2 and 1.3 with modern cipher suites; a server limited to \
             TLS 1.0 or 1.1 cannot be reached"
        }
        A::UnrecognisedName => {
            ": check the host, or send another name with TlsOptions::server_name"
        }
        A::NoApplicationProtocol => {
            ": sockeye offers only http/1.1, which the WebSocket upgrade needs; the server may \
             accept only h2 on this port"
        }
        A::InternalError => ": its logs say why",
        A::AccessDenied => ": it refuses this client",
        A::UnexpectedMessage
        | A::BadRecordMac
        | A::DecryptionFailed
        | A::DecryptError
        | A::RecordOverflow
        | A::DecodeError
        | A::IllegalParameter => {
            ": it could not read what sockeye sent; something between may alter the traffic \
             (a proxy or middlebox), or the server has a bug"
        }
        _ => "",
    }
}

impl std::error::Error for TlsProblem {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Other(err) | Self::ProtocolViolation { error: err } => Some(err),
            _ => None,
        }
    }
}

/// Where a rustls error was met: what is known about the handshake it ended.
#[derive(Debug, Default)]
pub(crate) struct Context<'a> {
    /// The name the certificate is checked for (none after the handshake).
    pub(crate) server: Option<&'a str>,
    /// Which roots were trusted, in words.
    pub(crate) trusted: Option<String>,
    /// The CA file, when one was given.
    pub(crate) ca_file: Option<&'a Path>,
    /// The first bytes the peer sent, when they were recorded.
    pub(crate) received: Option<&'a [u8]>,
}

impl TlsProblem {
    /// Names what rustls reported, in the terms of the handshake `cx` describes.
    pub(crate) fn from_rustls(err: rustls::Error, cx: &Context<'_>) -> Self {
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
                CertificateError::Other(other)
                    if other.0.downcast_ref::<CaCertificateAsServer>().is_some() =>
                {
                    Self::CaCertificate {
                        server: server(),
                        ca_file: cx.ca_file.map(Path::to_path_buf),
                    }
                }
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
            rustls::Error::PeerIncompatible(why) => Self::Incompatible { why },
            error @ (rustls::Error::InvalidMessage(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. }
            | rustls::Error::PeerMisbehaved(_)
            | rustls::Error::DecryptError
            | rustls::Error::PeerSentOversizedRecord
            | rustls::Error::NoCertificatesPresented) => Self::ProtocolViolation { error },
            other => Self::Other(other),
        }
    }

    /// An alert's name in the TLS RFCs, such as `handshake_failure`, for diagnosis facts.
    pub(crate) fn alert_name(alert: AlertDescription) -> String {
        words::alert_name(alert)
    }

    /// Why rustls refused a certificate, in words, for diagnosis facts.
    pub(crate) fn certificate_words(error: &CertificateError) -> String {
        words::certificate(error)
    }
}

/// The TLS problem rustls reported inside `err`, if any, in the terms of the handshake `cx`
/// describes.
pub(crate) fn problem_with(err: &io::Error, cx: &Context<'_>) -> Option<TlsProblem> {
    let rustls_error = err.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(TlsProblem::from_rustls(rustls_error.clone(), cx))
}

/// The TLS problem inside an I/O error from an established client TLS stream, if any: a server
/// that refuses a client certificate does so after the client's side of a TLS 1.3 handshake is
/// done, so its alert arrives with the HTTP response.
pub(crate) fn problem_in(err: &io::Error) -> Option<TlsProblem> {
    problem_with(err, &Context::default())
}

/// The server presented a certificate marked as a CA (basicConstraints `CA:TRUE`) as its own,
/// and it is not pinned. Carried in `CertificateError::Other`; `TlsProblem` says it in words.
#[derive(Debug)]
pub(crate) struct CaCertificateAsServer {
    /// webpki's refusal, kept as the source.
    pub(crate) webpki: OtherError,
}

impl fmt::Display for CaCertificateAsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CA certificate was presented as the server's own certificate")
    }
}

impl std::error::Error for CaCertificateAsServer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.webpki)
    }
}

#[cfg(test)]
impl CaCertificateAsServer {
    /// The refusal as webpki words it, for tests of how it is told.
    pub(crate) fn for_tests() -> Self {
        Self {
            webpki: OtherError(std::sync::Arc::new(std::io::Error::other(
                "CaUsedAsEndEntity",
            ))),
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

    // -----------------------------------------------------------------------------------------
    // Every verdict in words

    use std::sync::Arc;

    use rustls::pki_types::ServerName;
    use rustls::{
        CertRevocationListError, ContentType, EncryptedClientHelloError, ExtendedKeyPurpose,
        HandshakeType, InconsistentKeys, OtherError, PeerMisbehaved,
    };

    fn at(secs: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(secs))
    }

    /// Every `CertificateError` of rustls 0.23.
    #[allow(deprecated)]
    fn certificate_errors() -> Vec<CertificateError> {
        use CertificateError as C;
        vec![
            C::BadEncoding,
            C::Expired,
            C::ExpiredContext {
                time: at(1_700_000_000),
                not_after: at(1_600_000_000),
            },
            C::NotValidYet,
            C::NotValidYetContext {
                time: at(1_600_000_000),
                not_before: at(1_700_000_000),
            },
            C::Revoked,
            C::UnhandledCriticalExtension,
            C::UnknownIssuer,
            C::UnknownRevocationStatus,
            C::ExpiredRevocationList,
            C::ExpiredRevocationListContext {
                time: at(1_700_000_000),
                next_update: at(1_600_000_000),
            },
            C::BadSignature,
            C::UnsupportedSignatureAlgorithm,
            C::UnsupportedSignatureAlgorithmContext {
                signature_algorithm_id: vec![1, 2, 3],
                supported_algorithms: Vec::new(),
            },
            C::UnsupportedSignatureAlgorithmForPublicKeyContext {
                signature_algorithm_id: vec![1, 2, 3],
                public_key_algorithm_id: vec![4, 5, 6],
            },
            C::NotValidForName,
            C::NotValidForNameContext {
                expected: ServerName::try_from("example.com".to_string()).expect("a name"),
                presented: vec!["DnsName(\"other.test\")".into()],
            },
            C::InvalidPurpose,
            C::InvalidPurposeContext {
                required: ExtendedKeyPurpose::ServerAuth,
                presented: vec![
                    ExtendedKeyPurpose::ClientAuth,
                    ExtendedKeyPurpose::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 4]),
                ],
            },
            C::InvalidOcspResponse,
            C::ApplicationVerificationFailure,
            C::Other(OtherError(Arc::new(CaCertificateAsServer::for_tests()))),
            C::Other(OtherError(Arc::new(Named("CaUsedAsEndEntity")))),
            C::Other(OtherError(Arc::new(Named("PathLenConstraintViolated")))),
            C::Other(OtherError(Arc::new(Named("NameConstraintViolation")))),
            C::Other(OtherError(Arc::new(Named("UnsupportedCertVersion")))),
        ]
    }

    /// An error whose text is a webpki error name, as webpki's `Display` writes it.
    #[derive(Debug)]
    struct Named(&'static str);

    impl fmt::Display for Named {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Named {}

    /// Every `AlertDescription` of rustls 0.23, and one it does not know.
    fn alerts() -> Vec<AlertDescription> {
        (0..=u8::MAX)
            .map(AlertDescription::from)
            .filter(|alert| alert.as_str().is_some())
            .chain([AlertDescription::from(200)])
            .collect()
    }

    #[allow(deprecated)]
    fn revocation_list_errors() -> Vec<CertRevocationListError> {
        use CertRevocationListError as R;
        vec![
            R::BadSignature,
            R::UnsupportedSignatureAlgorithm,
            R::UnsupportedSignatureAlgorithmContext {
                signature_algorithm_id: vec![1],
                supported_algorithms: Vec::new(),
            },
            R::UnsupportedSignatureAlgorithmForPublicKeyContext {
                signature_algorithm_id: vec![1],
                public_key_algorithm_id: vec![2],
            },
            R::InvalidCrlNumber,
            R::InvalidRevokedCertSerialNumber,
            R::IssuerInvalidForCrl,
            R::ParseError,
            R::UnsupportedCrlVersion,
            R::UnsupportedCriticalExtension,
            R::UnsupportedDeltaCrl,
            R::UnsupportedIndirectCrl,
            R::UnsupportedRevocationReason,
        ]
    }

    fn invalid_messages() -> Vec<InvalidMessage> {
        use InvalidMessage as M;
        vec![
            M::CertificatePayloadTooLarge,
            M::HandshakePayloadTooLarge,
            M::InvalidCcs,
            M::InvalidContentType,
            M::InvalidCertificateStatusType,
            M::InvalidCertRequest,
            M::InvalidDhParams,
            M::InvalidEmptyPayload,
            M::InvalidKeyUpdate,
            M::InvalidServerName,
            M::MessageTooLarge,
            M::MessageTooShort,
            M::MissingData("ServerHelloPayload"),
            M::MissingKeyExchange,
            M::NoSignatureSchemes,
            M::TrailingData("ClientHelloPayload"),
            M::UnexpectedMessage("HelloRetryRequest"),
            M::UnknownProtocolVersion,
            M::UnsupportedCompression,
            M::UnsupportedCurveType,
            M::UnsupportedKeyExchangeAlgorithm(rustls::crypto::KeyExchangeAlgorithm::DHE),
            M::EmptyTicketValue,
            M::IllegalEmptyList("ProtocolNames"),
            M::IllegalEmptyValue,
            M::DuplicateExtension(43),
            M::PreSharedKeyIsNotFinalExtension,
            M::UnknownHelloRetryRequestExtension,
            M::UnknownCertificateExtension,
        ]
    }

    fn misbehaviours() -> Vec<PeerMisbehaved> {
        use PeerMisbehaved as P;
        vec![
            P::AttemptedDowngradeToTls12WhenTls13IsSupported,
            P::BadCertChainExtensions,
            P::CipherSuiteDifferedOnRetry,
            P::DisallowedEncryptedExtension,
            P::DuplicateClientHelloExtensions,
            P::DuplicateEncryptedExtensions,
            P::DuplicateHelloRetryRequestExtensions,
            P::DuplicateNewSessionTicketExtensions,
            P::DuplicateServerHelloExtensions,
            P::DuplicateServerNameTypes,
            P::EarlyDataAttemptedInSecondClientHello,
            P::EarlyDataExtensionWithoutResumption,
            P::EarlyDataOfferedWithVariedCipherSuite,
            P::EchAcceptanceVariedAfterRetry,
            P::HandshakeHashVariedAfterRetry,
            P::IllegalHelloRetryRequestWithEmptyCookie,
            P::IllegalHelloRetryRequestWithNoChanges,
            P::IllegalHelloRetryRequestWithOfferedGroup,
            P::IllegalHelloRetryRequestWithUnofferedCipherSuite,
            P::IllegalHelloRetryRequestWithUnofferedNamedGroup,
            P::IllegalHelloRetryRequestWithUnsupportedVersion,
            P::IllegalHelloRetryRequestWithWrongSessionId,
            P::IllegalHelloRetryRequestWithInvalidEch,
            P::IllegalMiddleboxChangeCipherSpec,
            P::IllegalTlsInnerPlaintext,
            P::IncorrectBinder,
            P::InvalidCertCompression,
            P::InvalidMaxEarlyDataSize,
            P::InvalidKeyShare,
            P::KeyEpochWithPendingFragment,
            P::KeyUpdateReceivedInQuicConnection,
            P::MessageInterleavedWithHandshakeMessage,
            P::MissingBinderInPskExtension,
            P::MissingKeyShare,
            P::MissingPskExtensionInSecondClientHello,
            P::MissingPskModesExtension,
            P::MissingQuicTransportParameters,
            P::OfferedDuplicateCertificateCompressions,
            P::OfferedDuplicateKeyShares,
            P::OfferedEarlyDataWithOldProtocolVersion,
            P::OfferedEmptyApplicationProtocol,
            P::OfferedIncorrectCompressions,
            P::PskExtensionMustBeLast,
            P::PskExtensionWithMismatchedIdsAndBinders,
            P::RefusedToFollowHelloRetryRequest,
            P::RejectedEarlyDataInterleavedWithHandshakeMessage,
            P::ResumptionAttemptedWithVariedEms,
            P::ResumptionOfferedWithVariedCipherSuite,
            P::ResumptionOfferedWithVariedEms,
            P::ResumptionOfferedWithIncompatibleCipherSuite,
            P::SelectedDifferentCipherSuiteAfterRetry,
            P::SelectedInvalidPsk,
            P::SelectedTls12UsingTls13VersionExtension,
            P::SelectedUnofferedApplicationProtocol,
            P::SelectedUnofferedCertCompression,
            P::SelectedUnofferedCipherSuite,
            P::SelectedUnofferedCompression,
            P::SelectedUnofferedKxGroup,
            P::SelectedUnofferedPsk,
            P::SelectedUnusableCipherSuiteForVersion,
            P::ServerEchoedCompatibilitySessionId,
            P::ServerHelloMustOfferUncompressedEcPoints,
            P::ServerNameDifferedOnRetry,
            P::ServerNameMustContainOneHostName,
            P::SignedKxWithWrongAlgorithm,
            P::SignedHandshakeWithUnadvertisedSigScheme,
            P::TooManyEmptyFragments,
            P::TooManyKeyUpdateRequests,
            P::TooManyRenegotiationRequests,
            P::TooManyWarningAlertsReceived,
            P::TooMuchEarlyDataReceived,
            P::UnexpectedCleartextExtension,
            P::UnsolicitedCertExtension,
            P::UnsolicitedEncryptedExtension,
            P::UnsolicitedSctList,
            P::UnsolicitedServerHelloExtension,
            P::WrongGroupForKeyShare,
            P::UnsolicitedEchExtension,
        ]
    }

    fn incompatibilities() -> Vec<PeerIncompatible> {
        use PeerIncompatible as P;
        vec![
            P::EcPointsExtensionRequired,
            P::ExtendedMasterSecretExtensionRequired,
            P::IncorrectCertificateTypeExtension,
            P::KeyShareExtensionRequired,
            P::NamedGroupsExtensionRequired,
            P::NoCertificateRequestSignatureSchemesInCommon,
            P::NoCipherSuitesInCommon,
            P::NoEcPointFormatsInCommon,
            P::NoKxGroupsInCommon,
            P::NoSignatureSchemesInCommon,
            P::NullCompressionRequired,
            P::ServerDoesNotSupportTls12Or13,
            P::ServerSentHelloRetryRequestWithUnknownExtension,
            P::ServerTlsVersionIsDisabledByOurConfig,
            P::SignatureAlgorithmsExtensionRequired,
            P::SupportedVersionsExtensionRequired,
            P::Tls12NotOffered,
            P::Tls12NotOfferedOrEnabled,
            P::Tls13RequiredForQuic,
            P::UncompressedEcPointsRequired,
            P::UnsolicitedCertificateTypeExtension,
            P::ServerRejectedEncryptedClientHello(None),
        ]
    }

    /// Every kind of `rustls::Error`, each inner enum in all its variants.
    fn rustls_errors() -> Vec<rustls::Error> {
        use rustls::Error as E;
        let mut errors = vec![
            E::InappropriateMessage {
                expect_types: vec![ContentType::Handshake],
                got_type: ContentType::ApplicationData,
            },
            E::InappropriateMessage {
                expect_types: vec![ContentType::Handshake],
                got_type: ContentType::from(99),
            },
            E::InappropriateHandshakeMessage {
                expect_types: vec![HandshakeType::ServerHello],
                got_type: HandshakeType::CertificateRequest,
            },
            E::InappropriateHandshakeMessage {
                expect_types: vec![HandshakeType::Finished],
                got_type: HandshakeType::from(99),
            },
            E::InvalidEncryptedClientHello(EncryptedClientHelloError::InvalidConfigList),
            E::InvalidEncryptedClientHello(EncryptedClientHelloError::NoCompatibleConfig),
            E::InvalidEncryptedClientHello(EncryptedClientHelloError::SniRequired),
            E::NoCertificatesPresented,
            E::UnsupportedNameType,
            E::DecryptError,
            E::EncryptError,
            E::General("the crypto provider failed for a reason of its own".into()),
            E::FailedToGetCurrentTime,
            E::FailedToGetRandomBytes,
            E::HandshakeNotComplete,
            E::PeerSentOversizedRecord,
            E::NoApplicationProtocol,
            E::BadMaxFragmentSize,
            E::InconsistentKeys(InconsistentKeys::KeyMismatch),
            E::InconsistentKeys(InconsistentKeys::Unknown),
            E::Other(OtherError(Arc::new(std::io::Error::other(
                "the crypto provider failed for a reason of its own",
            )))),
        ];
        errors.extend(invalid_messages().into_iter().map(E::InvalidMessage));
        errors.extend(incompatibilities().into_iter().map(E::PeerIncompatible));
        errors.extend(misbehaviours().into_iter().map(E::PeerMisbehaved));
        errors.extend(alerts().into_iter().map(E::AlertReceived));
        errors.extend(certificate_errors().into_iter().map(E::InvalidCertificate));
        errors.extend(
            revocation_list_errors()
                .into_iter()
                .map(E::InvalidCertRevocationList),
        );
        errors
    }

    /// Words that look like a Rust identifier printed with `{:?}`: `CaUsedAsEndEntity`,
    /// `Unknown(200)`. Option paths (`TlsOptions::ca_file`), X.509 field names and "WebSocket" pass.
    fn debug_text(message: &str) -> Vec<String> {
        const WORDS: &[&str] = &[
            "basicConstraints",
            "serverAuth",
            "subjectAltName",
            "WebSocket",
        ];
        let mut found: Vec<String> = message
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .filter(|word| !word.contains("::") && !WORDS.contains(word))
            .filter(|word| {
                word.as_bytes()
                    .windows(2)
                    .any(|pair| pair[0].is_ascii_lowercase() && pair[1].is_ascii_uppercase())
            })
            .map(str::to_string)
            .collect();
        for marker in ["Unknown(", "{", "}", "\"", "Some(", "None"] {
            if message.contains(marker) {
                found.push(marker.to_string());
            }
        }
        found
    }

    fn assert_in_words(message: &str, what: &str) {
        assert!(message.len() > 20, "{what}: too short: {message:?}");
        let found = debug_text(message);
        assert!(found.is_empty(), "{what}: {found:?} in {message:?}");
    }

    #[test]
    fn every_rustls_error_is_told_in_words_on_both_sides() {
        let cx = Context {
            server: Some("example.com"),
            trusted: Some("the CA file ca.pem".into()),
            ca_file: Some(Path::new("ca.pem")),
            received: Some(b"\x16\x03\x03"),
        };
        let errors = rustls_errors();
        assert!(errors.len() > 200, "{} errors", errors.len());
        for err in errors {
            let what = format!("{err:?}");
            let client = TlsProblem::from_rustls(err.clone(), &cx);
            assert_in_words(&client.to_string(), &what);
            // A server's handshake failures are `Other`, whatever they are.
            assert_in_words(&TlsProblem::Other(err).to_string(), &what);
        }
    }

    #[test]
    fn certificate_errors_and_alerts_are_told_in_words_for_diagnosis() {
        for error in certificate_errors() {
            let words = TlsProblem::certificate_words(&error);
            assert!(
                ["it ", "its ", "the "]
                    .iter()
                    .any(|start| words.starts_with(start)),
                "{error:?}: {words}"
            );
            assert!(debug_text(&words).is_empty(), "{error:?}: {words}");
        }
        for alert in alerts() {
            let name = TlsProblem::alert_name(alert);
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    || name.starts_with("number "),
                "{alert:?}: {name}"
            );
            assert!(!words::alert_meaning(alert).is_empty());
        }
        assert_eq!(
            TlsProblem::alert_name(AlertDescription::HandshakeFailure),
            "handshake_failure"
        );
        assert_eq!(
            TlsProblem::alert_name(AlertDescription::from(200)),
            "number 200"
        );
    }

    #[test]
    fn each_kind_of_failure_has_its_own_problem_and_advice() {
        let cx = Context {
            server: Some("example.com"),
            trusted: Some("the CA file ca.pem".into()),
            ca_file: Some(Path::new("ca.pem")),
            received: Some(b"\x16\x03\x03"),
        };
        let problem = |err: rustls::Error| TlsProblem::from_rustls(err, &cx);
        let ca = problem(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(CaCertificateAsServer::for_tests())),
        )));
        assert!(matches!(ca, TlsProblem::CaCertificate { .. }), "{ca:?}");
        let message = ca.to_string();
        for expected in [
            "the certificate of example.com is a CA certificate",
            "byte-identical to a certificate in TlsOptions::ca_file",
            "not one of those in the CA file ca.pem",
        ] {
            assert!(message.contains(expected), "{expected:?} not in {message}");
        }

        let message = problem(rustls::Error::AlertReceived(
            AlertDescription::HandshakeFailure,
        ))
        .to_string();
        assert!(
            message
                .starts_with("the server ended the handshake with the TLS alert handshake_failure"),
            "{message}"
        );
        assert!(message.contains("TlsOptions::client_auth"), "{message}");

        let message = problem(rustls::Error::AlertReceived(
            AlertDescription::ProtocolVersion,
        ))
        .to_string();
        assert!(message.contains("protocol_version"), "{message}");
        assert!(message.contains("TLS 1.0 or 1.1"), "{message}");

        let refused = problem(rustls::Error::AlertReceived(AlertDescription::UnknownCA));
        assert!(
            matches!(refused, TlsProblem::ClientCertificateRefused { .. }),
            "{refused:?}"
        );
        assert!(refused.to_string().contains("unknown_ca"), "{refused}");

        let incompatible = problem(rustls::Error::PeerIncompatible(
            PeerIncompatible::NoCipherSuitesInCommon,
        ));
        assert!(
            matches!(incompatible, TlsProblem::Incompatible { .. }),
            "{incompatible:?}"
        );
        assert!(
            incompatible
                .to_string()
                .contains("no cipher suite in common"),
            "{incompatible}"
        );

        let corrupt = problem(rustls::Error::InvalidMessage(
            InvalidMessage::MessageTooShort,
        ));
        assert!(
            matches!(corrupt, TlsProblem::ProtocolViolation { .. }),
            "{corrupt:?}"
        );
        assert!(
            corrupt
                .to_string()
                .starts_with("the server sent a corrupt TLS message: a message that is too short"),
            "{corrupt}"
        );

        let misbehaved = problem(rustls::Error::PeerMisbehaved(
            PeerMisbehaved::AttemptedDowngradeToTls12WhenTls13IsSupported,
        ));
        assert!(
            matches!(misbehaved, TlsProblem::ProtocolViolation { .. }),
            "{misbehaved:?}"
        );
        assert!(misbehaved.to_string().contains("TLS 1.2"), "{misbehaved}");

        let revoked = problem(rustls::Error::InvalidCertificate(CertificateError::Revoked));
        assert_eq!(
            revoked.to_string(),
            "the certificate of example.com was refused: it was revoked by its issuer; the \
             server needs a new certificate, from its CA; TlsOptions::insecure_skip_verify \
             connects anyway, unauthenticated, only if you accept the risk"
        );
    }

    #[test]
    fn no_message_names_a_command_line_flag() {
        let cx = Context {
            server: Some("example.com"),
            ..Context::default()
        };
        for err in rustls_errors() {
            let message = TlsProblem::from_rustls(err, &cx).to_string();
            for flag in [
                "--cacert",
                "--insecure",
                "-k/",
                "--no-hostname-check",
                "--sni",
                "--cert",
            ] {
                assert!(!message.contains(flag), "{flag} in {message}");
            }
        }
    }
}
