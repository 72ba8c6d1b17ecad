//! Errors: what the peer did wrong ([`ProtocolError`]) and what the caller asked for that cannot be
//! sent ([`SendError`]).
//!
//! Every protocol failure maps to its close code in exactly one place:
//! [`ProtocolError::close_code`].

use thiserror::Error;

use crate::connection::close_code::CloseCode;

/// The peer broke RFC 6455 (or a configured limit). Fatal: the connection fails with
/// [`close_code`](Self::close_code) and every later call reports the same error.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// RSV1, RSV2 or RSV3 set without a negotiated extension that defines it (section 5.2).
    #[error("received a frame with reserved bits {bits:#05b} set, but no negotiated extension defines them (RFC 6455 section 5.2)")]
    ReservedBitsSet {
        /// The three RSV bits, RSV1 as the highest.
        bits: u8,
    },
    /// RSV1 on a control frame while permessage-deflate is in use: control frames are never
    /// compressed (RFC 7692 section 6).
    #[error("received a control frame with RSV1 set; control frames are never compressed (RFC 7692 section 6)")]
    CompressedControlFrame,
    /// RSV1 on a continuation frame while permessage-deflate is in use: only the first frame of
    /// a compressed message has it (RFC 7692 section 6).
    #[error("received a continuation frame with RSV1 set; only the first frame of a compressed message has RSV1 (RFC 7692 section 6)")]
    CompressedContinuationFrame,
    /// An opcode in 0x3-0x7 or 0xB-0xF (section 5.2).
    #[error("received a frame with reserved opcode {0:#X} (RFC 6455 section 5.2)")]
    ReservedOpcode(u8),
    /// A control frame with FIN clear (section 5.5).
    #[error("received a fragmented control frame; control frames must not be fragmented (RFC 6455 section 5.5)")]
    FragmentedControlFrame,
    /// A control frame with more than 125 bytes of payload (section 5.5).
    #[error("received a control frame with a {0}-byte payload; the limit is 125 bytes (RFC 6455 section 5.5)")]
    ControlFrameTooLong(u64),
    /// A server received an unmasked frame (section 5.1).
    #[error("received an unmasked frame from the client; clients must mask every frame (RFC 6455 section 5.1)")]
    UnmaskedFrameFromClient,
    /// A client received a masked frame (section 5.1).
    #[error("received a masked frame from the server; servers must not mask frames (RFC 6455 section 5.1)")]
    MaskedFrameFromServer,
    /// A 64-bit payload length with the most significant bit set (section 5.2).
    #[error(
        "received a 64-bit payload length with the most significant bit set (RFC 6455 section 5.2)"
    )]
    LengthTopBitSet,
    /// A payload length not encoded in the minimal number of bytes (section 5.2).
    #[error("received a {len}-byte payload length encoded in {encoded_bytes} bytes; the minimal encoding is required (RFC 6455 section 5.2)")]
    NonMinimalLength {
        /// The payload length.
        len: u64,
        /// The bytes the length was encoded in (2 or 8).
        encoded_bytes: u8,
    },
    /// A continuation frame with no message in progress (section 5.4).
    #[error("received a continuation frame but no fragmented message was in progress (RFC 6455 section 5.4)")]
    ContinuationWithoutStart,
    /// A new text or binary frame while a fragmented message was unfinished (section 5.4).
    #[error("received a new {0} frame before the fragmented message in progress was finished (RFC 6455 section 5.4)")]
    MessageInsideFragmentedMessage(&'static str),
    /// A frame larger than [`Config::max_frame_size`](crate::Config::max_frame_size).
    #[error("received a frame of {size} bytes; the limit is {limit} bytes (raise max_frame_size to accept it)")]
    FrameTooLarge {
        /// Announced payload length.
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A message larger than [`Config::max_message_size`](crate::Config::max_message_size).
    #[error("received a message of at least {size} bytes; the limit is {limit} bytes (raise max_message_size to accept it)")]
    MessageTooLarge {
        /// Bytes of the message so far, including the frame that crossed the limit (for a
        /// compressed message, whose inflating stops at the limit: the limit plus one).
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A text message (or close reason) that is not valid UTF-8 (section 8.1).
    #[error("received a text message that is not valid UTF-8 (invalid sequence at byte {offset} of the message) (RFC 6455 section 8.1)")]
    InvalidUtf8 {
        /// Byte offset of the first invalid sequence within the message.
        offset: u64,
    },
    /// A close frame with a one-byte payload (section 5.5.1).
    #[error("received a close frame with a 1-byte payload; it must be empty or start with a 2-byte code (RFC 6455 section 5.5.1)")]
    CloseFrameOneByte,
    /// A close code that may not appear on the wire (section 7.4).
    #[error("received close code {0}, which is not allowed on the wire (RFC 6455 section 7.4)")]
    InvalidCloseCode(u16),
    /// A close reason that is not valid UTF-8 (section 5.5.1).
    #[error("received a close frame whose reason is not valid UTF-8 (RFC 6455 section 5.5.1)")]
    CloseReasonNotUtf8,
    /// The transport ended before the close handshake (section 7.1.5: code 1006).
    #[error("the connection closed without a close frame (1006 abnormal closure): the peer or something in between dropped it")]
    ClosedWithoutCloseFrame,
    /// Keepalive: a ping got no pong in time.
    #[error("no pong arrived within {after:?} of a keepalive ping: the peer or the network path is not responding")]
    PingTimeout {
        /// The configured ping timeout.
        after: std::time::Duration,
    },
    /// No complete frame arrived for the configured idle time, while no message was in
    /// progress (`KeepaliveConfig::idle_timeout`).
    #[error("no complete frame arrived for {after:?} (idle_timeout); the peer is silent or gone")]
    IdleTimeout {
        /// The configured idle timeout.
        after: std::time::Duration,
    },
    /// A frame or message took longer than the configured time to arrive in full
    /// (`KeepaliveConfig::message_timeout`):
    /// the peer sends too slowly, or trickles bytes to hold the connection.
    #[error("a message took more than {after:?} to arrive in full (message_timeout); the peer sends too slowly")]
    MessageTimeout {
        /// The configured message timeout.
        after: std::time::Duration,
    },
    /// The server's memory budget was reached and this connection held the most; it was closed
    /// so that the others can go on. `receiving`: most of what it held was a message arriving
    /// (closed with 1009), else output its peer did not read (1008).
    #[error("closed to keep the server within its memory budget of {budget} bytes: this connection held {held} bytes (raise max_memory, or lower max_message_size)")]
    MemoryBudgetExceeded {
        /// Bytes this connection held.
        held: usize,
        /// The server's budget for all connections together.
        budget: usize,
        /// Most of it was received data (a message in progress) rather than unread output.
        receiving: bool,
    },
    /// An extension could not process a frame (for example, compressed data that is not valid
    /// DEFLATE: 1007, as the message's data does not fit its kind).
    #[error("extension {extension} failed: {reason}")]
    Extension {
        /// The extension's name.
        extension: &'static str,
        /// What went wrong.
        reason: String,
    },
}

impl ProtocolError {
    /// The close code this failure is reported with. The one place that maps failures to codes:
    /// 1002 protocol, 1007 invalid data, 1009 too big, 1006 (never sent) for a lost transport,
    /// 1011 for a ping without a pong, 1001 for an idle peer, 1008 for a message that arrives
    /// too slowly or unread output over the memory budget.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 { .. } | Self::CloseReasonNotUtf8 => CloseCode::InvalidPayload,
            Self::FrameTooLarge { .. } | Self::MessageTooLarge { .. } => CloseCode::MessageTooBig,
            Self::ClosedWithoutCloseFrame => CloseCode::AbnormalClosure,
            Self::PingTimeout { .. } => CloseCode::InternalError,
            Self::IdleTimeout { .. } => CloseCode::GoingAway,
            Self::MessageTimeout { .. } => CloseCode::PolicyViolation,
            Self::MemoryBudgetExceeded {
                receiving: true, ..
            } => CloseCode::MessageTooBig,
            Self::MemoryBudgetExceeded { .. } => CloseCode::PolicyViolation,
            Self::Extension { .. } => CloseCode::InvalidPayload,
            Self::ReservedBitsSet { .. }
            | Self::ReservedOpcode(_)
            | Self::CompressedControlFrame
            | Self::CompressedContinuationFrame
            | Self::FragmentedControlFrame
            | Self::ControlFrameTooLong(_)
            | Self::UnmaskedFrameFromClient
            | Self::MaskedFrameFromServer
            | Self::LengthTopBitSet
            | Self::NonMinimalLength { .. }
            | Self::ContinuationWithoutStart
            | Self::MessageInsideFragmentedMessage(_)
            | Self::CloseFrameOneByte
            | Self::InvalidCloseCode(_) => CloseCode::ProtocolError,
        }
    }

    /// The short reason sent in the close frame: generic, so no internal detail leaks to the peer.
    pub fn close_reason(&self) -> &'static str {
        match self {
            Self::MessageTimeout { .. } => return "message too slow",
            Self::MemoryBudgetExceeded { .. } => return "server memory budget reached",
            _ => {}
        }
        match self.close_code() {
            CloseCode::InvalidPayload => "invalid data",
            CloseCode::MessageTooBig => "message too big",
            CloseCode::InternalError => "keepalive ping timeout",
            CloseCode::GoingAway => "idle timeout",
            _ => "protocol error",
        }
    }
}

/// A send that the connection refused. Nothing was queued.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SendError {
    /// A close frame was already sent: RFC 6455 forbids sending anything after it (section 5.5.1).
    #[error("cannot send: this side already sent a close frame (RFC 6455 section 5.5.1); open a new connection")]
    AlreadyClosed,
    /// The connection failed earlier; see the error that `next_message` returned.
    #[error("cannot send: the connection failed earlier ({0})")]
    Failed(ProtocolError),
    /// Ping and pong payloads are limited to 125 bytes.
    #[error("cannot send a {0}-byte control frame payload; the limit is 125 bytes (RFC 6455 section 5.5)")]
    ControlPayloadTooLong(usize),
    /// The close reason does not fit in a control frame.
    #[error("cannot send a {0}-byte close reason; the limit is 123 bytes")]
    CloseReasonTooLong(usize),
    /// The close code may not be sent (1004-1006, 1015, below 1000, 1016-2999, 5000 and up).
    #[error("cannot send close code {0}: only 1000-1003, 1007-1014 and 3000-4999 may be sent (RFC 6455 section 7.4)")]
    InvalidCloseCode(u16),
    /// A continuation was sent with no fragmented message in progress, or a new message started
    /// inside one.
    #[error("cannot send: {0}")]
    FragmentOrder(&'static str),
    /// permessage-deflate could not compress the message (a zlib failure; the compressor's
    /// state is unknown afterwards, so close the connection).
    #[error("cannot send: compressing the message failed ({0}); close the connection")]
    Compression(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_by_failure_kind() {
        assert_eq!(
            ProtocolError::InvalidUtf8 { offset: 3 }.close_code(),
            CloseCode::InvalidPayload
        );
        assert_eq!(
            ProtocolError::MessageTooLarge { size: 9, limit: 8 }.close_code(),
            CloseCode::MessageTooBig
        );
        assert_eq!(
            ProtocolError::ReservedOpcode(3).close_code(),
            CloseCode::ProtocolError
        );
        assert_eq!(
            ProtocolError::ClosedWithoutCloseFrame.close_code(),
            CloseCode::AbnormalClosure
        );
    }
}
