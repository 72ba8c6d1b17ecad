//! Server certificate verification beyond webpki's, each a `ServerCertVerifier`: certificates
//! pinned by the CA file ([`Pinning`]), and the two ways to weaken verification
//! ([`SkipHostnameCheck`], [`NoVerification`]).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, SignatureScheme};

use super::certificate;
use crate::tls_problem::CaCertificateAsServer;

/// Verifies with `verifier` (webpki, or [`SkipHostnameCheck`]) and, when it refuses, accepts a
/// server certificate that is byte-identical to one of `pinned` — the certificates of
/// [`TlsOptions::ca_file`](super::TlsOptions::ca_file) — once its dates and (with
/// `check_hostname`) its names are checked.
///
/// This is how a self-signed certificate made the usual way (`openssl req -x509`, which marks
/// it `CA:TRUE`) is trusted: webpki refuses any CA certificate as a server's own certificate,
/// while curl and Python's `ssl` (OpenSSL) accept it when it is the trusted certificate itself.
/// Everything else about a pinned certificate — its CA flag, key usages, extended key usages,
/// issuer, the intermediates sent with it — is not looked at: the user named this exact
/// certificate. The handshake signature is still verified with its key, so the server proves
/// it holds that key.
///
/// A refusal that pinning does not lift is passed on, except that a CA certificate refused as
/// a server's own certificate is reported as [`CaCertificateAsServer`] (webpki's own error for
/// it is a bare name).
#[derive(Debug)]
pub(super) struct Pinning {
    pub(super) verifier: Arc<dyn ServerCertVerifier>,
    pub(super) pinned: Vec<CertificateDer<'static>>,
    pub(super) check_hostname: bool,
}

impl Pinning {
    fn is_pinned(&self, end_entity: &CertificateDer<'_>) -> bool {
        self.pinned
            .iter()
            .any(|pinned| pinned.as_ref() == end_entity.as_ref())
    }

    /// The checks a pinned certificate still passes: its dates, as OpenSSL checks them for a
    /// trusted certificate too, and its names unless the hostname check is off.
    fn verify_pinned(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let validity = certificate::validity(end_entity).ok_or(CertificateError::BadEncoding)?;
        if now.as_secs() < validity.not_before.as_secs() {
            return Err(CertificateError::NotValidYetContext {
                time: now,
                not_before: validity.not_before,
            }
            .into());
        }
        if now.as_secs() > validity.not_after.as_secs() {
            return Err(CertificateError::ExpiredContext {
                time: now,
                not_after: validity.not_after,
            }
            .into());
        }
        if self.check_hostname {
            let parsed = ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_name(&parsed, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }
}

impl ServerCertVerifier for Pinning {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let refusal = match self.verifier.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => return Ok(verified),
            Err(refusal) => refusal,
        };
        if self.is_pinned(end_entity) {
            return self.verify_pinned(end_entity, server_name, now);
        }
        match refusal {
            // webpki checks the dates before the CA flag, so this is not hiding an expiry.
            Error::InvalidCertificate(CertificateError::Other(webpki))
                if certificate::is_ca(end_entity) == Some(true) =>
            {
                Err(
                    CertificateError::Other(OtherError(Arc::new(CaCertificateAsServer { webpki })))
                        .into(),
                )
            }
            refusal => Err(refusal),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.verifier.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.verifier.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier.supported_verify_schemes()
    }
}

/// Verifies the chain, dates and revocation as usual, and ignores only a certificate that does
/// not name the server. rustls checks the name last, after the chain is proven, so an error about
/// the name means everything else passed.
#[derive(Debug)]
pub(super) struct SkipHostnameCheck(pub(super) Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for SkipHostnameCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            verdict => verdict,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Accepts any certificate. The handshake signatures are still verified with the provider's
/// algorithms, so the session keys belong to whoever holds the certificate's key — only nobody
/// vouches for who that is.
#[derive(Debug)]
pub(super) struct NoVerification(pub(super) WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
