//! Messages as the application sees them, and incremental UTF-8 validation.

pub mod utf8;

use std::fmt;

use bytes::Bytes;

use crate::connection::close::CloseFrame;
use crate::frame::Frame;

/// Bytes that hold valid UTF-8: the payload of a text message, shared without copying.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Checks `bytes` and wraps them, or gives them back if they are not UTF-8.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, Bytes> {
        match simdutf8::basic::from_utf8(&bytes) {
            Ok(_) => Ok(Self(bytes)),
            Err(_) => Err(bytes),
        }
    }

    /// Wraps `bytes`, replacing invalid sequences with U+FFFD.
    pub fn from_bytes_lossy(bytes: Bytes) -> Self {
        Self::try_from_bytes(bytes)
            .unwrap_or_else(|bytes| Self(Bytes::from(String::from_utf8_lossy(&bytes).into_owned())))
    }

    /// Wraps bytes the caller has already validated (the connection's incremental validator).
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Self(bytes)
    }

    /// The text.
    ///
    /// The bytes were validated when the value was made; this checks them again with SIMD
    /// (tens of GB/s) rather than trust them without `unsafe`.
    pub fn as_str(&self) -> &str {
        simdutf8::basic::from_utf8(&self.0).unwrap_or_default()
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, as a cheaply cloned buffer.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Self(Bytes::from(text))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(text: &str) -> Self {
        Self(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

/// What a connection receives, or what the application sends.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A whole text message, valid UTF-8.
    Text(Utf8Bytes),
    /// A whole binary message.
    Binary(Bytes),
    /// A ping with its payload (at most 125 bytes). The connection answers it by itself.
    Ping(Bytes),
    /// A pong with its payload.
    Pong(Bytes),
    /// A close frame: `None` when it carried no status code (seen as 1005).
    Close(Option<CloseFrame>),
    /// A raw frame, when the connection delivers frames instead of messages
    /// ([`Config::assemble_messages`](crate::Config::assemble_messages) off), or to send as is.
    Frame(Frame),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }

    /// The payload length in bytes (for a close, code and reason).
    pub fn len(&self) -> usize {
        match self {
            Self::Text(text) => text.len(),
            Self::Binary(data) | Self::Ping(data) | Self::Pong(data) => data.len(),
            Self::Close(None) => 0,
            Self::Close(Some(frame)) => 2 + frame.reason.len(),
            Self::Frame(frame) => frame.payload.len(),
        }
    }

    /// True for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
