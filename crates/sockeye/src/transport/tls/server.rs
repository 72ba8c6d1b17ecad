//! The server side of TLS: a rustls server configuration from PEM files, and the server
//! handshake over an accepted stream (tokio).
//!
//! The provider is *ring*, passed explicitly as on the client side, so a process that installed
//! no process-level `CryptoProvider` (or another one) never panics. ALPN offers `http/1.1` only:
//! the WebSocket upgrade is HTTP/1.1, and a client that offers ALPN without it is refused during
//! the handshake rather than left to send an HTTP/2 preface.

#[cfg(feature = "tokio")]
use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::PrivateKeyDer;

use super::connect::{file_problem, pem_why, provider, read_certs};
use crate::error::Error;
#[cfg(feature = "tokio")]
use crate::error::Stage;
use crate::tls_problem::{words, TlsProblem};

/// Builds a rustls server configuration from a PEM certificate chain (leaf first) and its
/// private key (PKCS#8, PKCS#1 or SEC1): ring provider, TLS 1.3 and 1.2, no client
/// certificates, ALPN `http/1.1`, and `SSLKEYLOGFILE` support.
///
/// Both files are read here, so a missing or unusable file fails before the server listens.
/// `key` may be the same file as `cert`.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use sockeye::tokio::{Listener, Server};
///
/// let tls = sockeye::transport::tls::server_config("cert.pem", "key.pem")?;
/// let tcp = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
/// # struct Echo;
/// # impl sockeye::tokio::ServerHandler for Echo {}
/// Server::new(sockeye::ServerConfig::default())
///     .serve(Listener::tls(tcp, tls), || Echo)
///     .await?;
/// # Ok(()) }
/// ```
pub fn server_config(
    cert: impl AsRef<Path>,
    key: impl AsRef<Path>,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let (cert, key) = (cert.as_ref(), key.as_ref());
    let chain = read_certs(cert, "server certificate")?;
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|err| match err {
        pem::Error::NoItemsFound => file_problem(
            "server key",
            key,
            "it holds no PEM private key (PKCS#8, RSA or EC)",
        ),
        other => file_problem("server key", key, pem_why(other)),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|err| Error::Tls(TlsProblem::Other(err)))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|err| {
            let why = match err {
                rustls::Error::InconsistentKeys(_) => {
                    "the private key does not belong to the certificate".to_string()
                }
                other => words::error(&other, "the client"),
            };
            file_problem("server certificate and key", cert, why)
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Does nothing unless SSLKEYLOGFILE names a file it can append to.
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(Arc::new(config))
}

/// Runs the TLS server handshake over an accepted stream. It sets no time limit of its own: the
/// [`Server`](crate::tokio::Server) bounds it, with the HTTP handshake, by
/// [`ServerConfig::handshake_timeout`](crate::ServerConfig::handshake_timeout).
#[cfg(feature = "tokio")]
pub(crate) async fn accept_tls(
    stream: crate::transport::AsyncStream,
    acceptor: &tokio_rustls::TlsAcceptor,
) -> Result<crate::transport::AsyncStream, Error> {
    match acceptor.accept(stream).await {
        Ok(stream) => Ok(crate::transport::AsyncStream::TlsServer(Box::new(stream))),
        Err(err) => Err(handshake_error(err)),
    }
}

/// Names a failed server handshake: the client left, or what rustls objected to (a client that
/// speaks plain HTTP to a TLS port shows up here as an invalid message).
#[cfg(feature = "tokio")]
fn handshake_error(err: io::Error) -> Error {
    if err.kind() == io::ErrorKind::UnexpectedEof {
        return Error::Tls(TlsProblem::ClosedDuringHandshake);
    }
    match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(verdict) => Error::Tls(TlsProblem::Other(verdict.clone())),
        None => Error::io(Stage::Tls, err),
    }
}
