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

use std::path::PathBuf;
#[cfg(feature = "tls")]
use std::sync::Arc;

#[cfg(feature = "tls")]
mod certificate;
#[cfg(feature = "tls")]
mod connect;
#[cfg(feature = "tls")]
mod server;
#[cfg(feature = "tls")]
mod verify;

#[cfg(feature = "tls")]
pub use connect::client_config;
#[cfg(all(feature = "tls", feature = "tokio"))]
pub(crate) use server::accept_tls;
#[cfg(feature = "tls")]
pub use server::server_config;
// `connect_tls` and `connect_tls_async` also serve the proxy transport (TLS to an https:// proxy).
#[cfg(feature = "tls")]
pub use crate::tls_problem::TlsProblem;
#[cfg(feature = "tls")]
#[allow(unused_imports)]
pub(crate) use connect::{connect_tls, secure};
#[cfg(all(feature = "tls", feature = "tokio"))]
#[allow(unused_imports)]
pub(crate) use connect::{connect_tls_async, secure_async};

/// How a client sets up TLS: whom to trust, how to prove who it is, what to check.
///
/// Plain data, available in every build; connecting with it needs the `tls` feature. Build with
/// [`TlsOptions::new`] (or `default()`) and the setters:
///
/// ```
/// use sockeye::{ClientConfig, TlsOptions};
///
/// let config = ClientConfig::new("wss://localhost:8443/chat")?.tls(
///     TlsOptions::new()
///         .ca_file("ca.pem")
///         .client_auth("client.pem", Some("client.key")),
/// );
/// # Ok::<(), sockeye::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TlsOptions {
    /// A PEM file of CA certificates to trust *instead of* the operating system's trust store
    /// (like curl's `--cacert`). A server certificate byte-identical to one in the file is
    /// trusted as it is, even a self-signed `CA:TRUE` one, once its dates and (unless
    /// [`skip_hostname_check`](Self::skip_hostname_check)) its names are checked (see
    /// [Trust](crate::transport::tls#trust)). Default: none, the system's roots.
    pub ca_file: Option<PathBuf>,
    /// A PEM file with the client certificate chain, leaf first, for servers that require one
    /// (mutual TLS). Default: none.
    pub client_cert: Option<PathBuf>,
    /// A PEM file with the client certificate's private key (PKCS#8, PKCS#1 or SEC1). Default:
    /// none, the key is looked for in [`client_cert`](Self::client_cert).
    pub client_key: Option<PathBuf>,
    /// Accept any server certificate: no chain, date or name check. The handshake signatures are
    /// still checked, so the connection is encrypted, but anyone in the middle can read it.
    /// Default: false.
    pub insecure_skip_verify: bool,
    /// Check the chain, dates and revocation, but not that the certificate names the server.
    /// Default: false.
    pub skip_hostname_check: bool,
    /// The name sent in SNI and checked against the certificate, instead of the URL's host. The
    /// `Host` header does not change. Default: none.
    pub server_name: Option<String>,
    /// Append the session secrets to the file named by the `SSLKEYLOGFILE` environment variable,
    /// when it is set (NSS key log format, for Wireshark). Default: true.
    pub key_log: bool,
    /// A complete rustls configuration, used as it is: every other field but
    /// [`server_name`](Self::server_name) is then ignored. Default: none.
    #[cfg(feature = "tls")]
    pub rustls_config: Option<Arc<rustls::ClientConfig>>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            ca_file: None,
            client_cert: None,
            client_key: None,
            insecure_skip_verify: false,
            skip_hostname_check: false,
            server_name: None,
            key_log: true,
            #[cfg(feature = "tls")]
            rustls_config: None,
        }
    }
}

impl TlsOptions {
    /// Verification against the system's roots, no client certificate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts only the CA certificates in this PEM file (instead of the system's roots).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Presents this client certificate chain (PEM) and key; `key: None` reads the key from the
    /// certificate file.
    pub fn client_auth(
        mut self,
        cert: impl Into<PathBuf>,
        key: Option<impl Into<PathBuf>>,
    ) -> Self {
        self.client_cert = Some(cert.into());
        self.client_key = key.map(Into::into);
        self
    }

    /// Skips certificate verification altogether (see the field's documentation).
    pub fn insecure_skip_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_verify = skip;
        self
    }

    /// Skips only the check that the certificate names the server.
    pub fn skip_hostname_check(mut self, skip: bool) -> Self {
        self.skip_hostname_check = skip;
        self
    }

    /// Sends `name` in SNI and checks the certificate against it, instead of the URL's host.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Turns `SSLKEYLOGFILE` support on or off.
    pub fn key_log(mut self, enabled: bool) -> Self {
        self.key_log = enabled;
        self
    }

    /// Uses this rustls configuration as it is (see the field's documentation).
    #[cfg(feature = "tls")]
    pub fn rustls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.rustls_config = Some(config);
        self
    }
}

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
