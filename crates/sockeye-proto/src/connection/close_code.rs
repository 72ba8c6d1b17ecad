//! Close status codes (RFC 6455 section 7.4): vocabulary that errors and close frames both
//! use, so it imports nothing from either.

use std::fmt;

/// A close status code.
///
/// Named variants cover the codes RFC 6455 and the IANA registry define; anything else is
/// [`CloseCode::Other`]. Equality and hashing compare the numeric value, so `Other(1000)` equals
/// [`CloseCode::Normal`]; [`CloseCode::from`] always picks the named variant.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    Normal,
    /// 1001: the endpoint is going away (server shutting down, page navigated away).
    GoingAway,
    /// 1002: the peer broke the protocol.
    ProtocolError,
    /// 1003: the endpoint received a type of data it cannot accept.
    UnsupportedData,
    /// 1004: reserved; never sent.
    Reserved,
    /// 1005: no status code was present in the close frame. Never sent on the wire.
    NoStatusReceived,
    /// 1006: the connection closed without a close frame. Never sent on the wire.
    AbnormalClosure,
    /// 1007: a message's data was inconsistent with its type (invalid UTF-8 in text).
    InvalidPayload,
    /// 1008: a message violated the endpoint's policy.
    PolicyViolation,
    /// 1009: a message was too big to process.
    MessageTooBig,
    /// 1010: the client expected the server to negotiate an extension it did not.
    MandatoryExtension,
    /// 1011: the server met an unexpected condition.
    InternalError,
    /// 1012: the service is restarting.
    ServiceRestart,
    /// 1013: try again later.
    TryAgainLater,
    /// 1014: a gateway or proxy received an invalid response from upstream.
    BadGateway,
    /// 1015: the TLS handshake failed. Never sent on the wire.
    TlsHandshake,
    /// Any other code: 3000-3999 (registered), 4000-4999 (private use), or an invalid value.
    Other(u16),
}

impl CloseCode {
    /// The numeric value.
    pub fn as_u16(self) -> u16 {
        u16::from(self)
    }

    /// True if RFC 6455 allows this code in a close frame on the wire:
    /// 1000-1003, 1007-1014 and 3000-4999.
    pub fn is_allowed_on_wire(self) -> bool {
        matches!(self.as_u16(), 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// A short lowercase name ("normal", "going away", …), or the range for unnamed codes.
    pub fn name(self) -> &'static str {
        match self.as_u16() {
            1000 => "normal",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1004 => "reserved",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid payload",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake",
            3000..=3999 => "registered",
            4000..=4999 => "private use",
            _ => "invalid",
        }
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        match code {
            1000 => Self::Normal,
            1001 => Self::GoingAway,
            1002 => Self::ProtocolError,
            1003 => Self::UnsupportedData,
            1004 => Self::Reserved,
            1005 => Self::NoStatusReceived,
            1006 => Self::AbnormalClosure,
            1007 => Self::InvalidPayload,
            1008 => Self::PolicyViolation,
            1009 => Self::MessageTooBig,
            1010 => Self::MandatoryExtension,
            1011 => Self::InternalError,
            1012 => Self::ServiceRestart,
            1013 => Self::TryAgainLater,
            1014 => Self::BadGateway,
            1015 => Self::TlsHandshake,
            other => Self::Other(other),
        }
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        match code {
            CloseCode::Normal => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::ProtocolError => 1002,
            CloseCode::UnsupportedData => 1003,
            CloseCode::Reserved => 1004,
            CloseCode::NoStatusReceived => 1005,
            CloseCode::AbnormalClosure => 1006,
            CloseCode::InvalidPayload => 1007,
            CloseCode::PolicyViolation => 1008,
            CloseCode::MessageTooBig => 1009,
            CloseCode::MandatoryExtension => 1010,
            CloseCode::InternalError => 1011,
            CloseCode::ServiceRestart => 1012,
            CloseCode::TryAgainLater => 1013,
            CloseCode::BadGateway => 1014,
            CloseCode::TlsHandshake => 1015,
            CloseCode::Other(other) => other,
        }
    }
}

impl PartialEq for CloseCode {
    fn eq(&self, other: &Self) -> bool {
        self.as_u16() == other.as_u16()
    }
}

impl Eq for CloseCode {}

impl std::hash::Hash for CloseCode {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_u16().hash(state);
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_u16(), self.name())
    }
}
