//! The TLS stage: one rule per [`TlsProblem`](crate::tls_problem::TlsProblem) (files, trust,
//! dates, names, client certificates, alerts, a peer that is not TLS).

use super::{format_utc, Builder};

pub(super) fn tls(b: &mut Builder<'_, '_>, problem: &crate::transport::tls::TlsProblem) {
    use crate::transport::tls::TlsProblem;
    const TRUST: &str = "if the server uses a private or self-signed CA, trust it with TlsOptions::ca_file; TlsOptions::insecure_skip_verify skips verification (the connection is then not authenticated)";
    match problem {
        TlsProblem::File { what, path, why } => {
            b.cause("tls-bad-file")
                .fact("file", format!("{what} {}", path.display()))
                .fact("why", why.clone())
                .hint("fix the file: PEM certificates (-----BEGIN CERTIFICATE-----) and a PEM private key");
        }
        TlsProblem::NoSystemRoots { why } => {
            b.cause("tls-no-trust-store").fact("why", why.clone()).hint(
                "install the ca-certificates package, set SSL_CERT_FILE, or trust a CA file with TlsOptions::ca_file",
            );
        }
        TlsProblem::InvalidServerName { name } => {
            b.cause("tls-invalid-server-name")
                .quote("server_name", name)
                .hint("name one a certificate can carry with TlsOptions::server_name");
        }
        TlsProblem::UnknownIssuer { server, trusted } => {
            b.cause("tls-unknown-issuer")
                .quote("server_name", server)
                .fact("trusted", trusted.clone())
                .hint(format!(
                    "the certificate was not issued by a CA in {trusted}: {TRUST}"
                ));
        }
        TlsProblem::Expired {
            server,
            not_after,
            now,
        } => {
            b.cause("tls-expired").quote("server_name", server);
            if let Some(not_after) = not_after {
                b.fact("not_after", format_utc(*not_after));
            }
            if let Some(now) = now {
                b.fact("now", format_utc(*now));
            }
            b.hint("the server's certificate has expired: it needs a new one (or this machine's clock is wrong); TlsOptions::insecure_skip_verify connects anyway, unauthenticated");
        }
        TlsProblem::NotYetValid {
            server,
            not_before,
            now,
        } => {
            b.cause("tls-not-yet-valid").quote("server_name", server);
            if let Some(not_before) = not_before {
                b.fact("not_before", format_utc(*not_before));
            }
            if let Some(now) = now {
                b.fact("now", format_utc(*now));
            }
            b.hint("the certificate is not valid yet: check this machine's clock");
        }
        TlsProblem::HostnameMismatch {
            expected,
            presented,
        } => {
            let names = if presented.is_empty() {
                "(none: no subjectAltName)".to_string()
            } else {
                presented.join(", ")
            };
            b.cause("tls-hostname-mismatch")
                .quote("expected_name", expected)
                .quote("certificate_names", &names)
                .hint("the certificate is for other names: connect with a name it carries, check it for another with TlsOptions::server_name, or skip only the name check with TlsOptions::skip_hostname_check");
        }
        TlsProblem::CaCertificate { server, ca_file } => {
            b.cause("tls-bad-certificate")
                .quote("server_name", server)
                .fact(
                    "why",
                    "a CA certificate (CA:TRUE) presented as the server's own, and not pinned",
                );
            if let Some(path) = ca_file {
                b.fact("trusted", format!("the CA file {}", path.display()));
            }
            b.hint("if it is the server's self-signed certificate (openssl req -x509 makes them CA:TRUE), trust that very certificate with TlsOptions::ca_file: a CA certificate is accepted as the server's own only when it is byte-identical to one in that file");
        }
        TlsProblem::BadCertificate { server, error } => {
            b.cause("tls-bad-certificate")
                .quote("server_name", server)
                .fact("why", TlsProblem::certificate_words(error))
                .hint(TRUST);
        }
        TlsProblem::ClientCertificateRequired => {
            b.cause("tls-client-cert-required")
                .hint("the server requires a client certificate: present one with TlsOptions::client_auth");
        }
        TlsProblem::ClientCertificateRefused { alert } => {
            b.cause("tls-client-cert-refused")
                .fact("alert", TlsProblem::alert_name(*alert))
                .hint("the server refused the client certificate: check that a CA it trusts issued it, that it is valid, and meant for client authentication");
        }
        TlsProblem::AlertReceived { alert } => {
            b.cause("tls-alert")
                .fact("alert", TlsProblem::alert_name(*alert))
                .hint("the server ended the TLS handshake: no TLS version or cipher suite in common, no site for the name sent in SNI (set with TlsOptions::server_name), or it wants a client certificate");
        }
        TlsProblem::NotTls { received } => {
            if let Some(received) = received.as_deref().filter(|bytes| !bytes.is_empty()) {
                let text = String::from_utf8_lossy(received);
                b.quote("first_bytes", &text);
            }
            b.cause("tls-not-tls").hint(
                "the server answered in plain text, not TLS: this port does not speak TLS, so use ws:// instead of wss:// (or the port that serves TLS, usually 443)",
            );
        }
        TlsProblem::Incompatible { .. } => {
            b.cause("tls-incompatible")
                .fact("why", problem.to_string())
                .hint("the server and sockeye share no TLS version, cipher suite, key exchange or signature algorithm: sockeye speaks TLS 1.2 and 1.3 with modern cipher suites, so a server limited to TLS 1.0/1.1 or to old ciphers must be reconfigured");
        }
        TlsProblem::ProtocolViolation { .. } => {
            b.cause("tls-protocol-error")
                .fact("why", problem.to_string())
                .hint("the server broke the TLS protocol: a fault of the server, or of a proxy, firewall or middlebox that alters the traffic; try another network path, or tell the server's operator");
        }
        TlsProblem::ClosedDuringHandshake => {
            b.cause("tls-closed").hint(
                "the server closed the connection during the TLS handshake: it may not speak TLS on this port (try ws://), or refused our hello (no version or cipher in common, no site for this SNI name)",
            );
        }
        _ => {
            b.cause("tls-error").fact("why", problem.to_string());
        }
    }
}
