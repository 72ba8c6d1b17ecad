//! Encoding whole frames, and a stand-alone incremental decoder.
//!
//! [`Connection`](crate::Connection) decodes with the same [`FrameHeader::parse`] but adds the
//! connection's rules (opcodes, masking by role, fragmentation, limits, UTF-8). [`FrameDecoder`]
//! is for frame-level tools and fuzzing: it checks only what one frame alone decides.

use bytes::{Buf, BytesMut};

use crate::error::ProtocolError;
use crate::frame::header::{FrameHeader, MAX_HEADER_LEN};
use crate::frame::mask::apply_mask;
use crate::frame::{Frame, OpCode};

/// The most buffer space reserved ahead for a payload that is still arriving. A header's claim
/// alone never allocates more: a peer could announce 2^63 bytes (with the limits lifted) or make
/// every connection reserve its full `max_frame_size` with a few bytes. Larger payloads grow the
/// buffer as their bytes actually arrive.
pub(crate) const MAX_PAYLOAD_RESERVE: usize = 64 * 1024;

/// Appends one frame to `out`: header, then payload, masked in place when `mask` is given.
///
/// The payload is copied once, into `out`.
pub fn encode_frame(
    out: &mut BytesMut,
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) {
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; MAX_HEADER_LEN];
    let head_len = header.encode(&mut head);
    out.reserve(head_len + payload.len());
    out.extend_from_slice(&head[..head_len]);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key);
    }
}

/// Splits whole frames off the front of a buffer, unmasking payloads in place.
#[derive(Debug)]
pub struct FrameDecoder {
    max_frame_size: usize,
    header: Option<FrameHeader>,
}

impl FrameDecoder {
    /// A decoder that refuses frames whose payload exceeds `max_frame_size` bytes.
    pub fn new(max_frame_size: usize) -> Self {
        Self {
            max_frame_size,
            header: None,
        }
    }

    /// Takes the next whole frame from the front of `buf`, or `Ok(None)` if more bytes are needed.
    ///
    /// Consumed bytes are removed from `buf`; the payload is split off without copying.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let header = match self.header {
            Some(header) => header,
            None => {
                let Some((header, header_len)) = FrameHeader::parse(buf)? else {
                    return Ok(None);
                };
                if header.payload_len > self.max_frame_size as u64 {
                    return Err(ProtocolError::FrameTooLarge {
                        size: header.payload_len,
                        limit: self.max_frame_size,
                    });
                }
                buf.advance(header_len);
                self.header = Some(header);
                header
            }
        };
        let len = header.payload_len as usize;
        if buf.len() < len {
            buf.reserve((len - buf.len()).min(MAX_PAYLOAD_RESERVE));
            return Ok(None);
        }
        self.header = None;
        let mut payload = buf.split_to(len);
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key);
        }
        Ok(Some(Frame {
            header,
            payload: payload.freeze(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 section 5.7 examples.
    mod rfc6455_section_5_7 {
        use super::*;

        fn decode_all(bytes: &[u8]) -> Vec<Frame> {
            let mut buf = BytesMut::from(bytes);
            let mut decoder = FrameDecoder::new(usize::MAX);
            let mut frames = Vec::new();
            while let Some(frame) = decoder.decode(&mut buf).unwrap() {
                frames.push(frame);
            }
            assert!(buf.is_empty());
            frames
        }

        fn encode(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
            let mut out = BytesMut::new();
            encode_frame(&mut out, fin, 0, opcode, mask, payload);
            out.to_vec()
        }

        #[test]
        fn single_frame_unmasked_text() {
            let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
            let frames = decode_all(&wire);
            assert_eq!(frames.len(), 1);
            assert_eq!(frames[0].opcode(), OpCode::Text);
            assert!(frames[0].is_final());
            assert_eq!(&frames[0].payload[..], b"Hello");
            assert_eq!(encode(true, OpCode::Text, None, b"Hello"), wire);
        }

        #[test]
        fn single_frame_masked_text() {
            let wire = [
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ];
            let frames = decode_all(&wire);
            assert_eq!(&frames[0].payload[..], b"Hello");
            assert_eq!(frames[0].header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
            assert_eq!(
                encode(true, OpCode::Text, Some([0x37, 0xfa, 0x21, 0x3d]), b"Hello"),
                wire
            );
        }

        #[test]
        fn fragmented_unmasked_text() {
            let wire = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
            let frames = decode_all(&wire);
            assert_eq!(frames.len(), 2);
            assert_eq!(
                (frames[0].opcode(), frames[0].is_final()),
                (OpCode::Text, false)
            );
            assert_eq!(&frames[0].payload[..], b"Hel");
            assert_eq!(
                (frames[1].opcode(), frames[1].is_final()),
                (OpCode::Continuation, true)
            );
            assert_eq!(&frames[1].payload[..], b"lo");
            let mut again = encode(false, OpCode::Text, None, b"Hel");
            again.extend(encode(true, OpCode::Continuation, None, b"lo"));
            assert_eq!(again, wire);
        }

        #[test]
        fn unmasked_ping_and_masked_pong() {
            let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
            assert_eq!(decode_all(&ping)[0].opcode(), OpCode::Ping);
            assert_eq!(&decode_all(&ping)[0].payload[..], b"Hello");
            let pong = [
                0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ];
            assert_eq!(decode_all(&pong)[0].opcode(), OpCode::Pong);
            assert_eq!(&decode_all(&pong)[0].payload[..], b"Hello");
            assert_eq!(
                encode(true, OpCode::Pong, Some([0x37, 0xfa, 0x21, 0x3d]), b"Hello"),
                pong
            );
        }

        #[test]
        fn binary_256_bytes_uses_16_bit_length() {
            let payload = vec![0xAB; 256];
            let wire = encode(true, OpCode::Binary, None, &payload);
            assert_eq!(&wire[..4], &[0x82, 0x7E, 0x01, 0x00]);
            assert_eq!(wire.len(), 4 + 256);
            assert_eq!(decode_all(&wire)[0].payload, payload);
        }

        #[test]
        fn binary_65536_bytes_uses_64_bit_length() {
            let payload = vec![0xCD; 65536];
            let wire = encode(true, OpCode::Binary, None, &payload);
            assert_eq!(
                &wire[..10],
                &[0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
            );
            assert_eq!(decode_all(&wire)[0].payload, payload);
        }
    }

    #[test]
    fn oversized_frame_is_refused_from_its_header() {
        let mut buf = BytesMut::from(&[0x82u8, 0x7E, 0x01, 0x00][..]);
        let err = FrameDecoder::new(255).decode(&mut buf).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::FrameTooLarge {
                size: 256,
                limit: 255
            }
        );
    }
}
