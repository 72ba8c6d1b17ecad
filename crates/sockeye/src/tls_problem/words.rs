//! rustls' verdicts in words. rustls' own `Display` prints many of its enums with `{:?}`
//! (`peer misbehaved: IllegalMiddleboxChangeCipherSpec`), so every variant a user can meet is
//! named here, and the messages of [`TlsProblem`](super::TlsProblem) use these instead.
//!
//! Each function says what failed and why, about `peer` ("the server", "the client" or "the
//! peer"); what to try is left to the caller, which knows the role and the options.

use rustls::{
    AlertDescription, CertRevocationListError, CertificateError, ContentType,
    EncryptedClientHelloError, ExtendedKeyPurpose, HandshakeType, InvalidMessage, PeerIncompatible,
    PeerMisbehaved,
};

use super::CaCertificateAsServer;

/// An alert by its name in the TLS RFCs (`handshake_failure`), or its number when unknown.
pub(crate) fn alert_name(alert: AlertDescription) -> String {
    use AlertDescription as A;
    let name = match alert {
        A::CloseNotify => "close_notify",
        A::UnexpectedMessage => "unexpected_message",
        A::BadRecordMac => "bad_record_mac",
        A::DecryptionFailed => "decryption_failed",
        A::RecordOverflow => "record_overflow",
        A::DecompressionFailure => "decompression_failure",
        A::HandshakeFailure => "handshake_failure",
        A::NoCertificate => "no_certificate",
        A::BadCertificate => "bad_certificate",
        A::UnsupportedCertificate => "unsupported_certificate",
        A::CertificateRevoked => "certificate_revoked",
        A::CertificateExpired => "certificate_expired",
        A::CertificateUnknown => "certificate_unknown",
        A::IllegalParameter => "illegal_parameter",
        A::UnknownCA => "unknown_ca",
        A::AccessDenied => "access_denied",
        A::DecodeError => "decode_error",
        A::DecryptError => "decrypt_error",
        A::ExportRestriction => "export_restriction",
        A::ProtocolVersion => "protocol_version",
        A::InsufficientSecurity => "insufficient_security",
        A::InternalError => "internal_error",
        A::InappropriateFallback => "inappropriate_fallback",
        A::UserCanceled => "user_canceled",
        A::NoRenegotiation => "no_renegotiation",
        A::MissingExtension => "missing_extension",
        A::UnsupportedExtension => "unsupported_extension",
        A::CertificateUnobtainable => "certificate_unobtainable",
        A::UnrecognisedName => "unrecognized_name",
        A::BadCertificateStatusResponse => "bad_certificate_status_response",
        A::BadCertificateHashValue => "bad_certificate_hash_value",
        A::UnknownPSKIdentity => "unknown_psk_identity",
        A::CertificateRequired => "certificate_required",
        A::NoApplicationProtocol => "no_application_protocol",
        A::EncryptedClientHelloRequired => "ech_required",
        other => return format!("number {}", u8::from(other)),
    };
    name.to_string()
}

/// What the sender of `alert` means by it.
pub(crate) fn alert_meaning(alert: AlertDescription) -> &'static str {
    use AlertDescription as A;
    match alert {
        A::CloseNotify | A::UserCanceled => "it closed the connection",
        A::UnexpectedMessage => "it received a TLS message it did not expect",
        A::BadRecordMac | A::DecryptionFailed | A::DecryptError => {
            "a record or signature it received did not verify: the traffic was altered on the \
             way, or the keys do not match"
        }
        A::RecordOverflow => "it received a TLS record that is too long",
        A::DecompressionFailure => "it could not decompress a record",
        A::HandshakeFailure => "it found no acceptable set of security parameters",
        A::NoCertificate => "no certificate was given",
        A::BadCertificate => "a certificate it received is corrupt or its signature is wrong",
        A::UnsupportedCertificate => "a certificate it received is of a type it does not support",
        A::CertificateRevoked => "a certificate it received was revoked by its issuer",
        A::CertificateExpired => "a certificate it received has expired or is not valid yet",
        A::CertificateUnknown => "a certificate it received is unacceptable",
        A::IllegalParameter => "a field of a message it received is out of range",
        A::UnknownCA => "it does not trust the CA that issued a certificate it received",
        A::AccessDenied => "it refuses access",
        A::DecodeError => "it could not decode a message it received",
        A::ExportRestriction => "an export-restricted setting was attempted",
        A::ProtocolVersion => "it supports none of the TLS versions offered",
        A::InsufficientSecurity => "it requires stronger cipher suites than those offered",
        A::InternalError => "it failed internally",
        A::InappropriateFallback => "a downgraded retry was attempted",
        A::NoRenegotiation => "it refuses renegotiation",
        A::MissingExtension => "a message it received lacks an extension it requires",
        A::UnsupportedExtension => "a message it received has an extension it did not ask for",
        A::CertificateUnobtainable => "it could not fetch a certificate from a URL",
        A::UnrecognisedName => "it serves no site for the name sent in SNI",
        A::BadCertificateStatusResponse => "a certificate status (OCSP) response was invalid",
        A::BadCertificateHashValue => "a certificate hash did not match",
        A::UnknownPSKIdentity => "it does not know the pre-shared key offered",
        A::CertificateRequired => "it requires a client certificate",
        A::NoApplicationProtocol => "it accepts none of the application protocols offered (ALPN)",
        A::EncryptedClientHelloRequired => "it requires encrypted client hello",
        _ => "an alert this version of sockeye does not know",
    }
}

/// Why a certificate was refused, in words.
pub(crate) fn certificate(error: &CertificateError) -> String {
    use CertificateError as C;
    let words = match error {
        C::BadEncoding => "it is not a well-formed X.509 certificate (bad DER encoding)",
        C::Expired | C::ExpiredContext { .. } => "it has expired",
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet",
        C::Revoked => "it was revoked by its issuer",
        C::UnhandledCriticalExtension => {
            "it has an extension marked critical that cannot be checked, so it cannot be trusted"
        }
        C::UnknownIssuer => "it was not issued by a trusted CA (unknown issuer)",
        C::UnknownRevocationStatus => "its revocation status is unknown",
        C::ExpiredRevocationList | C::ExpiredRevocationListContext { .. } => {
            "the certificate revocation list to check it against has expired"
        }
        C::BadSignature => {
            "its signature does not verify with the key of the trusted certificate that bears \
             the name of its issuer: another key signed it (a self-signed certificate made again \
             under the same name is such a case), or it was altered"
        }
        #[allow(deprecated)]
        C::UnsupportedSignatureAlgorithm
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "it is signed with an algorithm that is not supported (such as SHA-1 or MD5, or a \
             key and algorithm that do not match); RSA (PKCS#1 or PSS) with SHA-256 or more, \
             ECDSA with P-256 or P-384, and Ed25519 are"
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it is not valid for the name it was checked for"
        }
        C::InvalidPurpose => {
            "it is not meant for this use (its extended key usage does not allow it)"
        }
        C::InvalidPurposeContext {
            required,
            presented,
        } => {
            let allowed: Vec<String> = presented.iter().map(purpose).collect();
            return format!(
                "it is not meant for {}: its extended key usage allows only {}",
                purpose(required),
                if allowed.is_empty() {
                    "nothing".to_string()
                } else {
                    allowed.join(", ")
                }
            );
        }
        C::InvalidOcspResponse => "the certificate status (OCSP) response stapled to it is invalid",
        C::ApplicationVerificationFailure => "the application's own verifier refused it",
        C::Other(other) => {
            if other.0.downcast_ref::<CaCertificateAsServer>().is_some() {
                "it is a CA certificate (basicConstraints CA:TRUE) presented as the server's own \
                 certificate, and it is not pinned"
            } else {
                return webpki(&other.0.to_string());
            }
        }
        _ => "it is unacceptable for a reason this version of sockeye does not know",
    };
    words.to_string()
}

/// The refusals that rustls passes on from webpki without a variant of their own; webpki writes
/// them as the names of its error variants, which are matched here.
fn webpki(name: &str) -> String {
    let words = match name {
        "CaUsedAsEndEntity" => "it is a CA certificate presented as the server's own certificate",
        "EndEntityUsedAsCa" => "a certificate in its chain that is not a CA was used as one",
        "CertDistrusted" => "it is issued by a CA that is no longer trusted",
        "EmptyEkuExtension" => "its extended key usage extension is empty",
        "ExtensionValueInvalid" | "MalformedExtensions" => "one of its extensions is malformed",
        "InvalidNetworkMaskConstraint" | "MalformedNameConstraint" => {
            "a name constraint in its chain is malformed"
        }
        "MalformedDnsIdentifier" => "a DNS name in it is malformed",
        "NameConstraintViolation" => "it names a host its CA is not allowed to issue for",
        "PathLenConstraintViolated" => "its chain is longer than a CA in it allows",
        "MaximumPathDepthExceeded" => "its chain is too long",
        "MaximumNameConstraintComparisonsExceeded"
        | "MaximumPathBuildCallsExceeded"
        | "MaximumSignatureChecksExceeded" => {
            "checking its chain took too much work (too many certificates or names)"
        }
        "SignatureAlgorithmMismatch" => "its signature algorithm fields disagree with each other",
        "UnsupportedCertVersion" => "it is not an X.509 version 3 certificate",
        "UnsupportedCriticalExtension" => {
            "it has an extension marked critical that cannot be checked, so it cannot be trusted"
        }
        "UnsupportedNameType" => "the name it was checked for is of an unsupported type",
        _ => return format!("it is unacceptable (webpki: {name})"),
    };
    words.to_string()
}

fn purpose(purpose: &ExtendedKeyPurpose) -> String {
    match purpose {
        ExtendedKeyPurpose::ServerAuth => "TLS servers".to_string(),
        ExtendedKeyPurpose::ClientAuth => "TLS clients".to_string(),
        ExtendedKeyPurpose::Other(arcs) => {
            let arcs: Vec<String> = arcs.iter().map(ToString::to_string).collect();
            format!("the purpose {}", arcs.join("."))
        }
    }
}

/// What a corrupt message was.
pub(crate) fn invalid_message(message: &InvalidMessage) -> String {
    use InvalidMessage as M;
    let words = match message {
        M::CertificatePayloadTooLarge => "a certificate message that is too large",
        M::HandshakePayloadTooLarge => "a handshake message that is too large",
        M::InvalidCcs => "a malformed change_cipher_spec message",
        M::InvalidContentType => "a record of an unknown content type",
        M::InvalidCertificateStatusType => "a certificate status of an unknown type",
        M::InvalidCertRequest => "a malformed certificate request",
        M::InvalidDhParams => "invalid Diffie-Hellman parameters",
        M::InvalidEmptyPayload => "an empty message where content is required",
        M::InvalidKeyUpdate => "a malformed key update",
        M::InvalidServerName => "a malformed server name",
        M::MessageTooLarge => "a message that is too large",
        M::MessageTooShort => "a message that is too short",
        M::MissingData(_) => "a message that ends before all its fields",
        M::MissingKeyExchange => "a handshake without a key exchange",
        M::NoSignatureSchemes => "an empty list of signature schemes",
        M::TrailingData(_) => "extra bytes after the end of a message",
        M::UnexpectedMessage(_) => "a message of a kind not allowed at that point",
        M::UnknownProtocolVersion => "a record with an unknown protocol version",
        M::UnsupportedCompression => "a compression method other than none",
        M::UnsupportedCurveType => "an elliptic curve given other than by name",
        M::UnsupportedKeyExchangeAlgorithm(_) => {
            "a key exchange of another kind than the one agreed"
        }
        M::EmptyTicketValue => "an empty session ticket",
        M::IllegalEmptyList(_) => "an empty list where at least one item is required",
        M::IllegalEmptyValue => "an empty value where one is required",
        M::DuplicateExtension(number) => {
            return format!("the same extension ({number}) twice in one message");
        }
        M::PreSharedKeyIsNotFinalExtension => "a pre-shared key extension that is not the last",
        M::UnknownHelloRetryRequestExtension => "an unknown extension in a hello retry request",
        M::UnknownCertificateExtension => "an unknown extension in a certificate message",
        _ => "a malformed message",
    };
    words.to_string()
}

/// What the peer did against the protocol.
pub(crate) fn misbehaved(why: &PeerMisbehaved) -> &'static str {
    use PeerMisbehaved as P;
    match why {
        P::AttemptedDowngradeToTls12WhenTls13IsSupported => {
            "it moved the connection down to TLS 1.2 although both sides support TLS 1.3, as an \
             attacker in the middle would"
        }
        P::SelectedTls12UsingTls13VersionExtension
        | P::SelectedUnofferedApplicationProtocol
        | P::SelectedUnofferedCertCompression
        | P::SelectedUnofferedCipherSuite
        | P::SelectedUnofferedCompression
        | P::SelectedUnofferedKxGroup
        | P::SelectedUnofferedPsk
        | P::SelectedUnusableCipherSuiteForVersion
        | P::SelectedInvalidPsk
        | P::SelectedDifferentCipherSuiteAfterRetry
        | P::ResumptionOfferedWithIncompatibleCipherSuite => {
            "it chose a version, cipher suite, key exchange or other option that was not offered"
        }
        P::UnsolicitedCertExtension
        | P::UnsolicitedEncryptedExtension
        | P::UnsolicitedSctList
        | P::UnsolicitedServerHelloExtension
        | P::UnsolicitedEchExtension
        | P::UnexpectedCleartextExtension
        | P::DisallowedEncryptedExtension
        | P::BadCertChainExtensions
        | P::ServerEchoedCompatibilitySessionId => {
            "it sent an extension or field that was not asked for, or in the wrong place"
        }
        P::DuplicateClientHelloExtensions
        | P::DuplicateEncryptedExtensions
        | P::DuplicateHelloRetryRequestExtensions
        | P::DuplicateNewSessionTicketExtensions
        | P::DuplicateServerHelloExtensions
        | P::DuplicateServerNameTypes
        | P::OfferedDuplicateCertificateCompressions
        | P::OfferedDuplicateKeyShares => "it sent the same extension or value twice",
        P::CipherSuiteDifferedOnRetry
        | P::HandshakeHashVariedAfterRetry
        | P::EchAcceptanceVariedAfterRetry
        | P::ServerNameDifferedOnRetry
        | P::IllegalHelloRetryRequestWithEmptyCookie
        | P::IllegalHelloRetryRequestWithNoChanges
        | P::IllegalHelloRetryRequestWithOfferedGroup
        | P::IllegalHelloRetryRequestWithUnofferedCipherSuite
        | P::IllegalHelloRetryRequestWithUnofferedNamedGroup
        | P::IllegalHelloRetryRequestWithUnsupportedVersion
        | P::IllegalHelloRetryRequestWithWrongSessionId
        | P::IllegalHelloRetryRequestWithInvalidEch
        | P::RefusedToFollowHelloRetryRequest => {
            "its hello retry request, or its answer to one, broke the rules of TLS 1.3"
        }
        P::InvalidKeyShare | P::MissingKeyShare | P::WrongGroupForKeyShare => {
            "its key share is missing or invalid"
        }
        P::SignedKxWithWrongAlgorithm | P::SignedHandshakeWithUnadvertisedSigScheme => {
            "it signed the handshake with an algorithm that was not agreed"
        }
        P::ServerHelloMustOfferUncompressedEcPoints => {
            "it does not accept uncompressed elliptic curve points"
        }
        P::EarlyDataAttemptedInSecondClientHello
        | P::EarlyDataExtensionWithoutResumption
        | P::EarlyDataOfferedWithVariedCipherSuite
        | P::OfferedEarlyDataWithOldProtocolVersion
        | P::RejectedEarlyDataInterleavedWithHandshakeMessage
        | P::TooMuchEarlyDataReceived
        | P::InvalidMaxEarlyDataSize => "it used early data (0-RTT) against the rules",
        P::IncorrectBinder
        | P::MissingBinderInPskExtension
        | P::MissingPskModesExtension
        | P::MissingPskExtensionInSecondClientHello
        | P::PskExtensionMustBeLast
        | P::PskExtensionWithMismatchedIdsAndBinders
        | P::ResumptionAttemptedWithVariedEms
        | P::ResumptionOfferedWithVariedCipherSuite
        | P::ResumptionOfferedWithVariedEms => "it resumed a session against the rules",
        P::IllegalMiddleboxChangeCipherSpec
        | P::IllegalTlsInnerPlaintext
        | P::KeyEpochWithPendingFragment
        | P::MessageInterleavedWithHandshakeMessage => {
            "it sent records out of order or framed wrongly"
        }
        P::TooManyEmptyFragments
        | P::TooManyKeyUpdateRequests
        | P::TooManyRenegotiationRequests
        | P::TooManyWarningAlertsReceived => {
            "it sent too many empty records, key updates, renegotiation requests or warnings"
        }
        P::InvalidCertCompression => "it sent a compressed certificate that does not decompress",
        P::OfferedEmptyApplicationProtocol => "it offered an empty application protocol name",
        P::OfferedIncorrectCompressions => "it offered compression, which TLS forbids",
        P::ServerNameMustContainOneHostName => "its server name extension holds no host name",
        P::KeyUpdateReceivedInQuicConnection | P::MissingQuicTransportParameters => {
            "it broke a rule of TLS over QUIC"
        }
        _ => "it broke a rule of the TLS protocol",
    }
}

/// What the two sides lack in common.
pub(crate) fn incompatible(why: &PeerIncompatible) -> &'static str {
    use PeerIncompatible as P;
    match why {
        P::ServerDoesNotSupportTls12Or13
        | P::ServerTlsVersionIsDisabledByOurConfig
        | P::Tls12NotOffered
        | P::Tls12NotOfferedOrEnabled
        | P::SupportedVersionsExtensionRequired
        | P::Tls13RequiredForQuic => "no TLS version in common (sockeye speaks TLS 1.2 and 1.3)",
        P::NoCipherSuitesInCommon => "no cipher suite in common",
        P::NoKxGroupsInCommon | P::NamedGroupsExtensionRequired | P::KeyShareExtensionRequired => {
            "no key exchange group in common (sockeye offers X25519, P-256 and P-384)"
        }
        P::NoSignatureSchemesInCommon
        | P::NoCertificateRequestSignatureSchemesInCommon
        | P::SignatureAlgorithmsExtensionRequired => "no signature algorithm in common",
        P::EcPointsExtensionRequired
        | P::NoEcPointFormatsInCommon
        | P::UncompressedEcPointsRequired => "no elliptic curve point format in common",
        P::ExtendedMasterSecretExtensionRequired => {
            "the extended master secret extension (RFC 7627), which is required, is missing"
        }
        P::NullCompressionRequired => "no compression method in common (TLS requires none)",
        P::IncorrectCertificateTypeExtension | P::UnsolicitedCertificateTypeExtension => {
            "no certificate type in common"
        }
        P::ServerSentHelloRetryRequestWithUnknownExtension => {
            "the server's hello retry request asks for an extension that is not supported"
        }
        P::ServerRejectedEncryptedClientHello(_) => "the server rejected encrypted client hello",
        _ => "nothing to agree on",
    }
}

/// A rustls verdict about `peer`, in one clause: what failed and why.
pub(crate) fn error(err: &rustls::Error, peer: &str) -> String {
    use rustls::Error as E;
    match err {
        E::InappropriateMessage { got_type, .. } => format!(
            "{peer} sent {} where the TLS protocol expects another message",
            content_type(*got_type)
        ),
        E::InappropriateHandshakeMessage { got_type, .. } => format!(
            "{peer} sent the handshake message {} where the TLS protocol expects another",
            handshake_type(*got_type)
        ),
        E::InvalidEncryptedClientHello(why) => format!(
            "encrypted client hello failed: {}",
            match why {
                EncryptedClientHelloError::InvalidConfigList => "its configuration list is invalid",
                EncryptedClientHelloError::NoCompatibleConfig => "no configuration is compatible",
                EncryptedClientHelloError::SniRequired => "it needs a server name (SNI)",
                _ => "it could not be used",
            }
        ),
        E::InvalidMessage(message) => format!(
            "{peer} sent a corrupt TLS message: {}",
            invalid_message(message)
        ),
        E::NoCertificatesPresented => format!("{peer} sent no certificate"),
        E::UnsupportedNameType => {
            "the server name is of a type a certificate cannot be checked against".to_string()
        }
        E::DecryptError => format!(
            "a TLS record from {peer} did not decrypt: the traffic was altered on the way, or \
             the two sides do not hold the same keys"
        ),
        E::EncryptError => "a TLS record could not be encrypted".to_string(),
        E::PeerIncompatible(why) => {
            format!("{peer} and sockeye have {}", incompatible(why))
        }
        E::PeerMisbehaved(why) => {
            format!("{peer} broke the TLS protocol: {}", misbehaved(why))
        }
        E::AlertReceived(alert) => format!(
            "{peer} sent the TLS alert {} ({})",
            alert_name(*alert),
            alert_meaning(*alert)
        ),
        E::InvalidCertificate(why) => {
            format!(
                "the certificate of {peer} was refused: {}",
                certificate(why)
            )
        }
        E::InvalidCertRevocationList(why) => format!(
            "a certificate revocation list cannot be used: {}",
            revocation_list(why)
        ),
        E::General(why) => why.clone(),
        E::FailedToGetCurrentTime => "the system clock could not be read".to_string(),
        E::FailedToGetRandomBytes => "the system's random number source failed".to_string(),
        E::HandshakeNotComplete => "the TLS handshake is not complete".to_string(),
        E::PeerSentOversizedRecord => {
            format!("{peer} sent a TLS record larger than the protocol allows")
        }
        E::NoApplicationProtocol => format!(
            "{peer} and sockeye have no application protocol (ALPN) in common; sockeye speaks \
             http/1.1, which the WebSocket upgrade needs"
        ),
        E::BadMaxFragmentSize => {
            "the maximum TLS fragment size is out of range (32 to 16389 bytes)".to_string()
        }
        E::InconsistentKeys(_) => "the private key does not belong to the certificate".to_string(),
        E::Other(other) => other.to_string(),
        other => format!("rustls reported: {other}"),
    }
}

fn revocation_list(why: &CertRevocationListError) -> &'static str {
    use CertRevocationListError as R;
    match why {
        R::BadSignature => "its signature does not verify",
        #[allow(deprecated)]
        R::UnsupportedSignatureAlgorithm
        | R::UnsupportedSignatureAlgorithmContext { .. }
        | R::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "it is signed with an algorithm that is not supported"
        }
        R::InvalidCrlNumber => "its number is invalid",
        R::InvalidRevokedCertSerialNumber => "a serial number in it is invalid",
        R::IssuerInvalidForCrl => "its issuer may not sign revocation lists",
        R::ParseError => "it is malformed",
        R::UnsupportedCrlVersion => "its version is not supported",
        R::UnsupportedCriticalExtension => "it has a critical extension that is not supported",
        R::UnsupportedDeltaCrl => "delta revocation lists are not supported",
        R::UnsupportedIndirectCrl => "indirect revocation lists are not supported",
        R::UnsupportedRevocationReason => "a revocation reason in it is not supported",
        _ => "it is unusable",
    }
}

fn content_type(kind: ContentType) -> String {
    let words = match kind {
        ContentType::ChangeCipherSpec => "a change_cipher_spec record",
        ContentType::Alert => "an alert",
        ContentType::Handshake => "a handshake message",
        ContentType::ApplicationData => "application data",
        ContentType::Heartbeat => "a heartbeat",
        other => return format!("a record of type {}", u8::from(other)),
    };
    words.to_string()
}

fn handshake_type(kind: HandshakeType) -> String {
    use HandshakeType as H;
    let name = match kind {
        H::HelloRequest => "hello_request",
        H::ClientHello => "client_hello",
        H::ServerHello => "server_hello",
        H::HelloVerifyRequest => "hello_verify_request",
        H::NewSessionTicket => "new_session_ticket",
        H::EndOfEarlyData => "end_of_early_data",
        H::HelloRetryRequest => "hello_retry_request",
        H::EncryptedExtensions => "encrypted_extensions",
        H::Certificate => "certificate",
        H::ServerKeyExchange => "server_key_exchange",
        H::CertificateRequest => "certificate_request",
        H::ServerHelloDone => "server_hello_done",
        H::CertificateVerify => "certificate_verify",
        H::ClientKeyExchange => "client_key_exchange",
        H::Finished => "finished",
        H::CertificateURL => "certificate_url",
        H::CertificateStatus => "certificate_status",
        H::KeyUpdate => "key_update",
        H::CompressedCertificate => "compressed_certificate",
        H::MessageHash => "message_hash",
        other => return format!("number {}", u8::from(other)),
    };
    name.to_string()
}
