//! The frame header (RFC 6455 section 5.2): parse and encode.

use crate::error::ProtocolError;
use crate::frame::opcode::OpCode;

/// RSV1: the bit permessage-deflate claims (RFC 7692).
pub const RSV1: u8 = 0b100;
/// RSV2.
pub const RSV2: u8 = 0b010;
/// RSV3.
pub const RSV3: u8 = 0b001;

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// The three reserved bits, RSV1 as `0b100`, RSV2 as `0b010`, RSV3 as `0b001`.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

/// The longest header: 2 bytes, 8 bytes of extended length, 4 bytes of mask key.
pub const MAX_HEADER_LEN: usize = 14;

impl FrameHeader {
    /// A header with FIN set, no RSV bits, no mask.
    pub fn new(opcode: OpCode, payload_len: u64) -> Self {
        Self {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Parses a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` if `buf` does not hold a whole header yet, or the header and its length
    /// in bytes. Checks only what the header alone decides: the 64-bit length's top bit and the
    /// minimal length encoding. Opcode, RSV, masking and size rules depend on the connection and
    /// are checked there.
    pub fn parse(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        let [b0, b1, rest @ ..] = buf else {
            return Ok(None);
        };
        let masked = b1 & 0x80 != 0;
        let (payload_len, len_bytes) = match b1 & 0x7F {
            126 => {
                let Some(ext) = rest.first_chunk::<2>() else {
                    return Ok(None);
                };
                let len = u64::from(u16::from_be_bytes(*ext));
                if len < 126 {
                    return Err(ProtocolError::NonMinimalLength {
                        len,
                        encoded_bytes: 2,
                    });
                }
                (len, 2)
            }
            127 => {
                let Some(ext) = rest.first_chunk::<8>() else {
                    return Ok(None);
                };
                let len = u64::from_be_bytes(*ext);
                if len & (1 << 63) != 0 {
                    return Err(ProtocolError::LengthTopBitSet);
                }
                if len <= u64::from(u16::MAX) {
                    return Err(ProtocolError::NonMinimalLength {
                        len,
                        encoded_bytes: 8,
                    });
                }
                (len, 8)
            }
            short => (u64::from(short), 0),
        };
        let mask = if masked {
            let Some(key) = rest[len_bytes..].first_chunk::<4>() else {
                return Ok(None);
            };
            Some(*key)
        } else {
            None
        };
        let header = Self {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0b111,
            opcode: OpCode::from_bits(*b0),
            mask,
            payload_len,
        };
        Ok(Some((header, 2 + len_bytes + if masked { 4 } else { 0 })))
    }

    /// The header's length on the wire.
    pub fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Encodes the header into `out` and returns the number of bytes written.
    ///
    /// The length always uses the minimal encoding.
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0b111) << 4) | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut at = match self.payload_len {
            len @ 0..=125 => {
                out[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[at..at + 4].copy_from_slice(&key);
            at += 4;
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_headers_need_more_bytes() {
        let mut header = FrameHeader::new(OpCode::Binary, 70_000);
        header.mask = Some([1, 2, 3, 4]);
        let mut buf = [0u8; MAX_HEADER_LEN];
        let len = header.encode(&mut buf);
        assert_eq!(len, 14);
        for cut in 0..len {
            assert_eq!(FrameHeader::parse(&buf[..cut]).unwrap(), None, "cut {cut}");
        }
        assert_eq!(FrameHeader::parse(&buf[..len]).unwrap(), Some((header, 14)));
    }

    #[test]
    fn top_bit_of_64_bit_length_is_an_error() {
        let buf = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            FrameHeader::parse(&buf).unwrap_err(),
            ProtocolError::LengthTopBitSet
        );
    }

    #[test]
    fn non_minimal_lengths_are_errors() {
        assert!(FrameHeader::parse(&[0x82, 126, 0, 125]).is_err());
        assert!(FrameHeader::parse(&[0x82, 126, 0, 126]).is_ok());
        assert!(FrameHeader::parse(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]).is_err());
        assert!(FrameHeader::parse(&[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]).is_ok());
    }
}
