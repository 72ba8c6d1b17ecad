//! The rustls configuration that [`TlsOptions`] describe, and the client handshake over a
//! connected stream (blocking and tokio).

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConnection, RootCertStore, StreamOwned};

use super::verify::{NoVerification, Pinning, SkipHostnameCheck};
use super::TlsOptions;
use crate::config::ClientConfig;
use crate::error::{Error, Stage};
use crate::tls_problem::{problem_with, words, Context, TlsProblem};
use crate::transport::Stream;

/// How many of the peer's first bytes are kept, to say what it sent when it is not TLS.
const RECORDED: usize = 64;

/// The crypto provider, chosen here and passed explicitly: rustls' process-level default is
/// never consulted, so it can neither be missing (a panic) nor be someone else's choice.
pub(super) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())))
}

fn tls(problem: TlsProblem) -> Error {
    Error::Tls(problem)
}

pub(super) fn file_problem(what: &'static str, path: &Path, why: impl Into<String>) -> Error {
    tls(TlsProblem::File {
        what,
        path: path.to_path_buf(),
        why: why.into(),
    })
}

/// Builds the rustls client configuration `options` describe (or returns
/// [`TlsOptions::rustls_config`] when set): ring provider, TLS 1.3 and 1.2, the verifier the
/// switches ask for, the client certificate, ALPN `http/1.1` and `SSLKEYLOGFILE` support.
///
/// Reading files happens here, so a missing or unusable CA, certificate or key file fails before
/// any connection is made. Reuse the result with [`TlsOptions::rustls_config`] to read them once
/// for many connections.
pub fn client_config(options: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, Error> {
    if let Some(config) = &options.rustls_config {
        return Ok(Arc::clone(config));
    }
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|err| tls(TlsProblem::Other(err)))?;
    let builder = if options.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(
                provider.signature_verification_algorithms,
            )))
    } else {
        let (roots, pinned) = trust(options)?;
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|err| tls(TlsProblem::Other(rustls::Error::General(err.to_string()))))?;
        let verifier: Arc<dyn ServerCertVerifier> = if options.skip_hostname_check {
            Arc::new(SkipHostnameCheck(webpki))
        } else {
            webpki
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinning {
                verifier,
                pinned,
                check_hostname: !options.skip_hostname_check,
            }))
    };
    let mut config = match client_identity(options)? {
        Some((cert_path, chain, key)) => {
            builder.with_client_auth_cert(chain, key).map_err(|err| {
                let why = match err {
                    rustls::Error::InconsistentKeys(_) => {
                        "the private key does not belong to the certificate".to_string()
                    }
                    other => words::error(&other, "the server"),
                };
                file_problem("client certificate and key", cert_path, why)
            })?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if options.key_log {
        // Does nothing unless SSLKEYLOGFILE names a file it can append to.
        config.key_log = Arc::new(rustls::KeyLogFile::new());
    }
    Ok(Arc::new(config))
}

/// Which roots verification trusts, in words, for error messages.
fn trusted(options: &TlsOptions) -> String {
    match &options.ca_file {
        Some(path) => format!("the CA file {}", path.display()),
        None => "the operating system's trust store".into(),
    }
}

/// The roots to verify with, and the certificates pinned as they are: the CA file's
/// certificates for both, or else the system's roots and nothing pinned.
fn trust(
    options: &TlsOptions,
) -> Result<(Arc<RootCertStore>, Vec<CertificateDer<'static>>), Error> {
    let Some(path) = &options.ca_file else {
        return Ok((system_roots()?, Vec::new()));
    };
    let certs = read_certs(path, "CA file")?;
    let count = certs.len();
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(certs.iter().cloned());
    if added == 0 {
        return Err(file_problem(
            "CA file",
            path,
            format!("none of its {count} certificates can be used as a trust anchor"),
        ));
    }
    Ok((Arc::new(store), certs))
}

/// The operating system's trust store, read once per process by rustls-native-certs.
fn system_roots() -> Result<Arc<RootCertStore>, Error> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut store = RootCertStore::empty();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added > 0 {
                return Ok(Arc::new(store));
            }
            let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
            Err(if errors.is_empty() {
                "no certificates found".into()
            } else {
                errors.join("; ")
            })
        })
        .clone()
        .map_err(|why| tls(TlsProblem::NoSystemRoots { why }))
}

pub(super) fn read_certs(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| file_problem(what, path, pem_why(err)))?;
    if certs.is_empty() {
        return Err(file_problem(
            what,
            path,
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certs)
}

pub(super) fn pem_why(err: pem::Error) -> String {
    let why = match err {
        pem::Error::Io(err) => return err.to_string(),
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "a section does not end (no {} line)",
            String::from_utf8_lossy(&end_marker).trim()
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "a section starts inside another ({})",
            String::from_utf8_lossy(&line).trim()
        ),
        pem::Error::Base64Decode(why) => format!("a section is not valid base64 ({why})"),
        pem::Error::NoItemsFound => "it holds nothing in PEM".to_string(),
        pem::Error::SectionTooLarge => "a section is larger than 10 MB".to_string(),
        other => other.to_string(),
    };
    format!("not a valid PEM file: {why}")
}

type Identity<'a> = (
    &'a Path,
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
);

/// The client certificate chain and key, when configured.
fn client_identity(options: &TlsOptions) -> Result<Option<Identity<'_>>, Error> {
    let Some(cert_path) = options.client_cert.as_deref() else {
        return match &options.client_key {
            Some(key) => Err(file_problem(
                "client key",
                key,
                "a key needs its certificate: give both to TlsOptions::client_auth",
            )),
            None => Ok(None),
        };
    };
    let chain = read_certs(cert_path, "client certificate")?;
    let key_path = options.client_key.as_deref().unwrap_or(cert_path);
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|err| match err {
        pem::Error::NoItemsFound if options.client_key.is_none() => file_problem(
            "client certificate",
            key_path,
            "it holds no private key; give the key file too (the key of TlsOptions::client_auth)",
        ),
        pem::Error::NoItemsFound => file_problem(
            "client key",
            key_path,
            "it holds no PEM private key (PKCS#8, RSA or EC)",
        ),
        other => file_problem("client key", key_path, pem_why(other)),
    })?;
    Ok(Some((cert_path, chain, key)))
}

fn server_name(name: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(name.to_string()).map_err(|_| {
        tls(TlsProblem::InvalidServerName {
            name: name.to_string(),
        })
    })
}

/// The name to send in SNI and check the certificate against: the override, or the URL's host.
fn target_name(config: &ClientConfig) -> &str {
    config
        .tls
        .server_name
        .as_deref()
        .unwrap_or(&config.target.host)
}

/// Wraps the route to a `wss://` target in TLS within [`ClientConfig::tls_timeout`] (blocking).
pub(crate) fn secure(stream: Stream, config: &ClientConfig) -> Result<Stream, Error> {
    let timeouts = stream
        .set_read_timeout(config.tls_timeout)
        .and_then(|()| stream.set_write_timeout(config.tls_timeout));
    timeouts.map_err(|err| Error::io(Stage::Tls, err))?;
    connect_tls(stream, target_name(config), &config.tls)
}

/// Wraps the route to a `wss://` target in TLS within [`ClientConfig::tls_timeout`] (tokio).
#[cfg(feature = "tokio")]
pub(crate) async fn secure_async(
    stream: crate::transport::AsyncStream,
    config: &ClientConfig,
) -> Result<crate::transport::AsyncStream, Error> {
    let handshake = connect_tls_async(stream, target_name(config), &config.tls);
    crate::transport::async_stream::within(config.tls_timeout, Stage::Tls, handshake).await
}

/// Runs the TLS client handshake over `stream` (blocking) and returns the encrypted stream.
///
/// `server_name` goes into SNI and is what the certificate must name (apply
/// [`TlsOptions::server_name`] before calling). The whole handshake must finish within the
/// stream's read timeout, counted from the start as one deadline, not per read; without a read
/// timeout it may wait forever. The read timeout is restored afterwards.
pub(crate) fn connect_tls(
    mut stream: Stream,
    server_name: &str,
    options: &TlsOptions,
) -> Result<Stream, Error> {
    let config = client_config(options)?;
    let mut conn = ClientConnection::new(config, self::server_name(server_name)?)
        .map_err(|err| tls(TlsProblem::Other(err)))?;
    let limit = stream
        .read_timeout()
        .map_err(|err| Error::io(Stage::Tls, err))?;
    let mut io = Recording {
        stream: &mut stream,
        deadline: limit.map(|limit| Instant::now() + limit),
        received: Vec::new(),
    };
    while conn.is_handshaking() {
        if let Err(err) = conn.complete_io(&mut io) {
            let cx = Context {
                server: Some(server_name),
                trusted: Some(trusted(options)),
                ca_file: options.ca_file.as_deref(),
                received: Some(&io.received),
            };
            return Err(handshake_error(err, &cx, limit));
        }
    }
    stream
        .set_read_timeout(limit)
        .map_err(|err| Error::io(Stage::Tls, err))?;
    Ok(Stream::Tls(Box::new(StreamOwned::new(conn, stream))))
}

/// The tokio twin of [`connect_tls`]. It sets no time limit of its own: wrap it in one (`dial_async`
/// uses [`ClientConfig::tls_timeout`](crate::ClientConfig::tls_timeout)).
#[cfg(feature = "tokio")]
pub(crate) async fn connect_tls_async(
    stream: crate::transport::AsyncStream,
    server_name: &str,
    options: &TlsOptions,
) -> Result<crate::transport::AsyncStream, Error> {
    let config = client_config(options)?;
    let name = self::server_name(server_name)?;
    match tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
    {
        Ok(stream) => Ok(crate::transport::AsyncStream::Tls(Box::new(stream))),
        Err(err) => {
            let cx = Context {
                server: Some(server_name),
                trusted: Some(trusted(options)),
                ca_file: options.ca_file.as_deref(),
                received: None,
            };
            Err(handshake_error(err, &cx, None))
        }
    }
}

/// Names an I/O error of the handshake: a rustls verdict, the deadline, or the peer leaving.
fn handshake_error(err: io::Error, cx: &Context<'_>, limit: Option<Duration>) -> Error {
    if let Some(problem) = problem_with(&err, cx) {
        return tls(problem);
    }
    match (err.kind(), limit) {
        (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Some(after)) => Error::Timeout {
            stage: Stage::Tls,
            after,
        },
        (io::ErrorKind::UnexpectedEof, _) => tls(TlsProblem::ClosedDuringHandshake),
        _ => Error::io(Stage::Tls, err),
    }
}

/// The socket during the handshake: each read waits only until the deadline, and the peer's
/// first bytes are kept to tell a non-TLS server.
struct Recording<'a> {
    stream: &'a mut Stream,
    deadline: Option<Instant>,
    received: Vec<u8>,
}

impl Read for Recording<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        let read = self.stream.read(buf)?;
        let keep = read.min(RECORDED.saturating_sub(self.received.len()));
        self.received.extend_from_slice(&buf[..keep]);
        Ok(read)
    }
}

impl Write for Recording<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
