//! TLS for `wss://` (feature `tls`, on by default): rustls with the *ring* crypto provider.
//!
//! [`dial`](super::dial) and `dial_async` wrap the route (TCP, Unix socket or proxy tunnel) in TLS
//! when the URL is `wss://`, within [`ClientConfig::tls_timeout`](crate::ClientConfig::tls_timeout),
//! before the HTTP upgrade. Failures are [`Error::Tls`](crate::Error::Tls) with a
//! [`TlsProblem`] that says what failed and what to try.
//!
//! # Trust
//!
//! Verification is on by default. It uses the operating system's trust store, read by
//! rustls-native-certs: on Linux the bundle and directory that openssl-probe finds (such as
//! `/etc/ssl/certs/ca-certificates.crt` and `/etc/ssl/certs`), or only `SSL_CERT_FILE` /
//! `SSL_CERT_DIR` when either is set; on macOS the keychain; on Windows the system certificate
//! store. The store is read once per process. [`TlsOptions::ca_file`] *replaces* those roots with
//! the CA certificates of one PEM file, as curl's `--cacert` does.
//!
//! A server certificate that is byte-identical to a certificate in that file is trusted as it
//! is (pinned), even when it is marked as a CA: a self-signed certificate made the usual way
//! (`openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext
//! subjectAltName=DNS:localhost`) says `CA:TRUE`, which webpki refuses in a server's own
//! certificate, while curl, Python's `ssl` and websocket-client (OpenSSL) accept it when it is
//! the trusted one. A pinned certificate is still checked for
//! - its dates: an expired or not yet valid certificate is refused, as OpenSSL refuses it even
//!   when it is the trusted certificate itself. Pinning names a certificate, not a key: when it
//!   expires, the server needs a new one, and the file a copy of it. Expiry is also what limits
//!   the harm of a leaked key, which a pin cannot revoke;
//! - its names, unless [`TlsOptions::skip_hostname_check`] is set;
//! - the handshake signature, made with its key, so the server proves it holds that key.
//!
//! Its CA flag, key usages, extended key usages and issuer are not checked: the file names that
//! exact certificate. Every other certificate gets webpki's full verification against the
//! file's certificates as roots. Pinning needs no option, and only applies to a CA file, never
//! to the operating system's trust store.
//!
//! Two separate switches weaken verification: [`TlsOptions::insecure_skip_verify`] accepts any
//! certificate (the connection is still encrypted, but not authenticated);
//! [`TlsOptions::skip_hostname_check`] still checks the chain, the dates and revocation, and
//! ignores only whether the certificate names the server.
//!
//! # Crypto provider
//!
//! The configuration is always built with `rustls::crypto::ring::default_provider()` passed
//! explicitly, so a process that installed no default provider (or another one) never hits
//! rustls' "no process-level CryptoProvider" panic.
//!
//! # Protocol details
//!
//! TLS 1.3 and 1.2; ALPN offers `http/1.1` (the WebSocket upgrade is HTTP/1.1); SNI carries the
//! URL's host, or [`TlsOptions::server_name`] (no SNI is sent for an IP address, as RFC 6066
//! requires). When `SSLKEYLOGFILE` is set, session secrets are appended to that file in the NSS
//! key log format, for Wireshark ([`TlsOptions::key_log`] turns this off).
//!
//! A peer that closes TCP without a TLS `close_notify` is read as an ordinary end of stream: the
//! WebSocket close handshake, not TLS, is what tells a complete conversation from a cut one.
//!
//! # Servers
//!
//! [`server_config`] reads a PEM certificate chain and key into a rustls server configuration
//! (same provider, TLS versions and ALPN), and
//! [`Listener::tls`](crate::tokio::Listener::tls) serves `wss://` with it.

#[cfg(feature = "tls")]
mod certificate;
#[cfg(feature = "tls")]
mod connect;
#[cfg(feature = "tls")]
mod server;
#[cfg(feature = "tls")]
mod verify;

pub use crate::options::tls::TlsOptions;
#[cfg(feature = "tls")]
pub use crate::tls_problem::TlsProblem;
#[cfg(feature = "tls")]
pub use connect::client_config;
#[cfg(all(feature = "tls", feature = "tokio"))]
pub(crate) use server::accept_tls;
#[cfg(feature = "tls")]
pub use server::server_config;
// `connect_tls` and `connect_tls_async` also serve the proxy transport (TLS to an https:// proxy).
#[cfg(feature = "tls")]
#[allow(unused_imports)]
pub(crate) use connect::{connect_tls, secure};
#[cfg(all(feature = "tls", feature = "tokio"))]
#[allow(unused_imports)]
pub(crate) use connect::{connect_tls_async, secure_async};

#[cfg(all(test, not(feature = "tls")))]
mod tests {
    use crate::{ClientConfig, Error};

    #[test]
    fn a_build_without_tls_refuses_wss_instead_of_connecting_in_the_clear() {
        let config = ClientConfig::new("wss://127.0.0.1:9/").expect("a valid URL");
        let err = crate::transport::dial(&config).expect_err("wss:// needs TLS");
        assert!(matches!(err, Error::Unsupported(_)), "{err:?}");
        assert!(
            err.to_string().contains("without the `tls` feature"),
            "{err}"
        );
    }
}
