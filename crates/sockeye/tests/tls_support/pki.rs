//! Certificates for the TLS tests, made fresh in each test with rcgen: a CA, and the server and
//! client certificates it issues, written to a temporary directory when a file is needed.
//!
//! Shared by `crates/sockeye/tests/tls.rs` and `crates/sockeye-cli/tests/nginx_tls.rs` (which
//! includes this file by path).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// A directory under the system's temporary directory, removed when dropped.
pub(crate) struct TestDir(PathBuf);

impl TestDir {
    pub(crate) fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "sockeye-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", path.display()));
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `name` in the directory and returns its path.
    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents)
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
        path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A certificate authority made for one test.
pub(crate) struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub(crate) cert_pem: String,
    /// The CA certificate, DER.
    pub(crate) cert_der: Vec<u8>,
}

/// A certificate issued by a [`Ca`], with its private key.
pub(crate) struct Leaf {
    pub(crate) cert_pem: String,
    pub(crate) cert_der: Vec<u8>,
    /// PKCS#8, PEM.
    pub(crate) key_pem: String,
    /// PKCS#8, DER.
    pub(crate) key_der: Vec<u8>,
}

/// A self-signed certificate as `openssl req -x509` makes one: marked as a CA (basicConstraints
/// `CA:TRUE`), naming `names` in its subjectAltName, no extended key usage, valid now.
pub(crate) fn self_signed_ca(names: &[&str]) -> Leaf {
    self_signed(names, true, None)
}

/// [`self_signed_ca`], valid only from `from` to `to` (year, month, day).
pub(crate) fn self_signed_ca_between(
    names: &[&str],
    from: (i32, u8, u8),
    to: (i32, u8, u8),
) -> Leaf {
    self_signed(names, true, Some((from, to)))
}

/// A self-signed certificate that is not a CA (basicConstraints `CA:FALSE`), naming `names`.
pub(crate) fn self_signed_leaf(names: &[&str]) -> Leaf {
    self_signed(names, false, None)
}

type Dates = ((i32, u8, u8), (i32, u8, u8));

fn self_signed(names: &[&str], ca: bool, dates: Option<Dates>) -> Leaf {
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let mut params = CertificateParams::new(names.clone()).expect("certificate parameters");
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    params.is_ca = if ca {
        IsCa::Ca(BasicConstraints::Unconstrained)
    } else {
        IsCa::ExplicitNoCa
    };
    if let Some(((y1, m1, d1), (y2, m2, d2))) = dates {
        params.not_before = date_time_ymd(y1, m1, d1);
        params.not_after = date_time_ymd(y2, m2, d2);
    }
    let key = KeyPair::generate().expect("a key");
    let cert = params.self_signed(&key).expect("a self-signed certificate");
    Leaf {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
        key_der: key.serialize_der(),
    }
}

impl Ca {
    pub(crate) fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("a CA key");
        let cert = params
            .self_signed(&key)
            .expect("a self-signed CA certificate");
        Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names` (DNS names, or IP addresses as text), valid now.
    pub(crate) fn server_cert(&self, names: &[&str]) -> Leaf {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth, false)
    }

    /// A server certificate for `names` that expired on 2021-01-01.
    pub(crate) fn expired_server_cert(&self, names: &[&str]) -> Leaf {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth, true)
    }

    /// A client certificate (for mutual TLS) naming `name`.
    pub(crate) fn client_cert(&self, name: &str) -> Leaf {
        self.issue(&[name], ExtendedKeyUsagePurpose::ClientAuth, false)
    }

    /// Issues a certificate for `names`; `expired`: valid from 2020-01-01 to 2021-01-01.
    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose, expired: bool) -> Leaf {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf parameters");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().expect("a leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("a certificate signed by the CA");
        Leaf {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        }
    }
}
