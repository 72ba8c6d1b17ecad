//! Frame opcodes (RFC 6455 section 5.2 and 11.8).

use std::fmt;

/// The 4-bit opcode of a frame.
///
/// Reserved opcodes are representable so that raw frames can carry them (for testing peers); a
/// connection that *receives* one fails with [`ProtocolError::ReservedOpcode`](crate::ProtocolError::ReservedOpcode).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum OpCode {
    /// `0x0`: continues a fragmented message.
    Continuation,
    /// `0x1`: the first frame of a text message.
    Text,
    /// `0x2`: the first frame of a binary message.
    Binary,
    /// `0x8`: close.
    Close,
    /// `0x9`: ping.
    Ping,
    /// `0xA`: pong.
    Pong,
    /// A reserved opcode: `0x3`-`0x7` (data) or `0xB`-`0xF` (control). The value is the 4-bit code.
    Reserved(u8),
}

impl OpCode {
    /// Decodes the low four bits of `bits`.
    pub fn from_bits(bits: u8) -> Self {
        match bits & 0x0F {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            other => Self::Reserved(other),
        }
    }

    /// The 4-bit value on the wire.
    pub fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
            Self::Reserved(bits) => bits & 0x0F,
        }
    }

    /// Control opcodes have the high bit of the nibble set (`0x8`-`0xF`).
    pub fn is_control(self) -> bool {
        self.bits() & 0x08 != 0
    }

    /// True for `0x3`-`0x7` and `0xB`-`0xF`.
    pub fn is_reserved(self) -> bool {
        matches!(self, Self::Reserved(_))
    }

    /// A short lowercase name, as traces print it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Continuation => "continuation",
            Self::Text => "text",
            Self::Binary => "binary",
            Self::Close => "close",
            Self::Ping => "ping",
            Self::Pong => "pong",
            Self::Reserved(_) => "reserved",
        }
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reserved(bits) => write!(f, "reserved(0x{bits:X})"),
            other => f.write_str(other.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nibble_round_trips() {
        for bits in 0u8..16 {
            let op = OpCode::from_bits(bits);
            assert_eq!(op.bits(), bits);
            assert_eq!(op.is_control(), bits >= 8);
            assert_eq!(op.is_reserved(), matches!(bits, 3..=7 | 0xB..=0xF));
        }
    }
}
