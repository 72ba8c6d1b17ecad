//! TLS options: whom a client trusts, how it proves who it is, what it checks ([`TlsOptions`]).
//! Plain data, in every build; `transport::tls` builds the rustls configuration from it and
//! re-exports it.

use std::path::PathBuf;
#[cfg(feature = "tls")]
use std::sync::Arc;

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
    /// [`skip_hostname_check`](Self::skip_hostname_check)) its names are checked (see Trust in
    /// the `transport::tls` module docs). Default: none, the system's roots.
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
