//! Frame bytes written field by field, legal or not, and a parser for wire logs.
//!
//! [`sockeye_proto::frame::encode_frame`] only writes what RFC 6455 allows (a minimal length, a
//! 4-bit opcode). [`RawFrame`] writes anything: reserved opcodes and bits, fragmented control
//! frames, non-minimal or lying lengths, masked or unmasked regardless of direction — the bad
//! input a connection must refuse.

use bytes::BytesMut;
use sockeye_proto::frame::FrameDecoder;
use sockeye_proto::{Frame, ProtocolError};

use crate::side::Side;

/// The masking key of the RFC 6455 section 5.7 examples.
pub const RFC_MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// How a [`RawFrame`]'s payload length is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LengthEncoding {
    /// The shortest form: 7 bits up to 125, then 16 bits up to 65535, then 64 bits.
    #[default]
    Minimal,
    /// The 7-bit field holds `126` and a 16-bit length follows, whatever the length (the value is
    /// truncated to 16 bits). Non-minimal below 126.
    Bits16,
    /// The 7-bit field holds `127` and a 64-bit length follows, whatever the length. Non-minimal
    /// below 65536.
    Bits64,
}

/// Whether a [`RawFrame`] is masked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Masking {
    /// As a conforming peer would: masked with [`RFC_MASK_KEY`] when sent to a server, unmasked
    /// when sent to a client. [`RawFrame::to_bytes`], which knows no receiver, leaves it unmasked.
    #[default]
    ForReceiver,
    /// Masked with this key, whoever receives it.
    Key([u8; 4]),
    /// Not masked, whoever receives it.
    Unmasked,
}

/// One frame, every header field under the test's control.
///
/// ```
/// use sockeye_test::{LengthEncoding, RawFrame, Side};
///
/// // "Hi" as a text frame whose length is (illegally) written in 16 bits.
/// let bytes = RawFrame::text("Hi").length(LengthEncoding::Bits16).encode_for(Side::Client);
/// assert_eq!(bytes, [0x81, 126, 0, 2, b'H', b'i']);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    /// FIN.
    pub fin: bool,
    /// RSV1-RSV3, RSV1 as `0b100`; only the low three bits are written.
    pub rsv: u8,
    /// The opcode; only the low four bits are written, so reserved opcodes are fine.
    pub opcode: u8,
    /// Whether, and with which key, the payload is masked.
    pub masking: Masking,
    /// How the length is written.
    pub length: LengthEncoding,
    /// A length to announce instead of the payload's real one (to claim a frame bigger than
    /// the bytes that follow, or set the 64-bit length's top bit).
    pub declared_len: Option<u64>,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// A frame with `opcode` (any 4-bit value), FIN set, no RSV bits, masked for its receiver,
    /// with a minimal length.
    pub fn new(opcode: u8, payload: impl AsRef<[u8]>) -> Self {
        Self {
            fin: true,
            rsv: 0,
            opcode,
            masking: Masking::ForReceiver,
            length: LengthEncoding::Minimal,
            declared_len: None,
            payload: payload.as_ref().to_vec(),
        }
    }

    /// A text frame (opcode 0x1). The payload need not be UTF-8.
    pub fn text(payload: impl AsRef<[u8]>) -> Self {
        Self::new(0x1, payload)
    }

    /// A binary frame (opcode 0x2).
    pub fn binary(payload: impl AsRef<[u8]>) -> Self {
        Self::new(0x2, payload)
    }

    /// A continuation frame (opcode 0x0).
    pub fn continuation(payload: impl AsRef<[u8]>) -> Self {
        Self::new(0x0, payload)
    }

    /// A ping (opcode 0x9).
    pub fn ping(payload: impl AsRef<[u8]>) -> Self {
        Self::new(0x9, payload)
    }

    /// A pong (opcode 0xA).
    pub fn pong(payload: impl AsRef<[u8]>) -> Self {
        Self::new(0xA, payload)
    }

    /// A close frame (opcode 0x8) with `code` (any value, valid or not) and `reason` (any bytes).
    pub fn close(code: u16, reason: impl AsRef<[u8]>) -> Self {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_ref());
        Self::new(0x8, payload)
    }

    /// A close frame with an empty payload (no status code).
    pub fn close_empty() -> Self {
        Self::new(0x8, [])
    }

    /// Sets FIN.
    pub fn fin(mut self, fin: bool) -> Self {
        self.fin = fin;
        self
    }

    /// Sets the RSV bits (RSV1 = `0b100`).
    pub fn rsv(mut self, rsv: u8) -> Self {
        self.rsv = rsv;
        self
    }

    /// Masks with `key`, whoever receives the frame.
    pub fn masked(mut self, key: [u8; 4]) -> Self {
        self.masking = Masking::Key(key);
        self
    }

    /// Leaves the frame unmasked, whoever receives it.
    pub fn unmasked(mut self) -> Self {
        self.masking = Masking::Unmasked;
        self
    }

    /// Writes the length as `encoding` says.
    pub fn length(mut self, encoding: LengthEncoding) -> Self {
        self.length = encoding;
        self
    }

    /// Announces `len` as the payload length instead of the real one.
    pub fn declare_len(mut self, len: u64) -> Self {
        self.declared_len = Some(len);
        self
    }

    /// The mask key used when the frame goes to `receiver`.
    pub fn mask_key_for(&self, receiver: Side) -> Option<[u8; 4]> {
        match (self.masking, receiver) {
            (Masking::ForReceiver, Side::Server) => Some(RFC_MASK_KEY),
            (Masking::ForReceiver, Side::Client) | (Masking::Unmasked, _) => None,
            (Masking::Key(key), _) => Some(key),
        }
    }

    /// The header bytes for a frame sent to `receiver`, without the payload: for announcing a
    /// frame whose payload never arrives.
    pub fn header_for(&self, receiver: Side) -> Vec<u8> {
        self.header_with_mask(self.mask_key_for(receiver))
    }

    /// Header and payload, for a frame sent to `receiver`.
    pub fn encode_for(&self, receiver: Side) -> Vec<u8> {
        let key = self.mask_key_for(receiver);
        let mut out = self.header_with_mask(key);
        let start = out.len();
        out.extend_from_slice(&self.payload);
        if let Some(key) = key {
            for (i, byte) in out[start..].iter_mut().enumerate() {
                *byte ^= key[i % 4];
            }
        }
        out
    }

    /// Header and payload; [`Masking::ForReceiver`] counts as unmasked.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_for(Side::Client)
    }

    fn header_with_mask(&self, key: Option<[u8; 4]>) -> Vec<u8> {
        let len = self.declared_len.unwrap_or(self.payload.len() as u64);
        let mut out =
            vec![(u8::from(self.fin) << 7) | ((self.rsv & 0b111) << 4) | (self.opcode & 0x0F)];
        let mask_bit = if key.is_some() { 0x80 } else { 0 };
        let encoding = match self.length {
            LengthEncoding::Minimal if len <= 125 => None,
            LengthEncoding::Minimal if len <= 0xFFFF => Some(LengthEncoding::Bits16),
            LengthEncoding::Minimal => Some(LengthEncoding::Bits64),
            other => Some(other),
        };
        match encoding {
            None => out.push(mask_bit | len as u8),
            Some(LengthEncoding::Bits16) => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            Some(_) => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        if let Some(key) = key {
            out.extend_from_slice(&key);
        }
        out
    }
}

/// Splits a wire log into frames: payloads unmasked, each header keeping the mask key it came
/// with ([`FrameHeader::mask`](sockeye_proto::FrameHeader::mask)).
///
/// # Panics
/// If `bytes` are not whole frames with legal length encodings — a wire log written by a sockeye
/// connection always is, so a panic here is a failed test.
pub fn parse_frames(bytes: &[u8]) -> Vec<Frame> {
    let mut buf = BytesMut::from(bytes);
    // The log's length bounds every frame in it, and keeps the decoder from reserving more.
    let mut decoder = FrameDecoder::new(bytes.len());
    let mut frames = Vec::new();
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => break,
            // No frame in the log can be longer than the log: this one is cut short.
            Err(ProtocolError::FrameTooLarge { size, .. }) => {
                panic!("the wire log ends with an incomplete frame announcing {size} bytes")
            }
            Err(err) => panic!("the wire log is not a sequence of frames: {err}"),
        }
    }
    assert!(
        buf.is_empty(),
        "the wire log ends with {} bytes of an incomplete frame",
        buf.len()
    );
    frames
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;
    use sockeye_proto::frame::encode_frame;
    use sockeye_proto::OpCode;

    #[test]
    fn rfc6455_section_5_7_vectors() {
        assert_eq!(RawFrame::text("Hello").to_bytes(), b"\x81\x05Hello");
        assert_eq!(
            RawFrame::text("Hello").encode_for(Side::Server),
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        assert_eq!(
            RawFrame::text("Hel").fin(false).to_bytes(),
            [0x01, 0x03, 0x48, 0x65, 0x6c]
        );
        assert_eq!(
            RawFrame::binary(vec![0; 65536]).to_bytes()[..10],
            [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        );
    }

    #[test]
    fn minimal_frames_match_the_proto_encoder() {
        for len in [0usize, 1, 125, 126, 127, 65535, 65536] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let mut expected = BytesMut::new();
                encode_frame(&mut expected, false, 0b101, OpCode::Binary, mask, &payload);
                let mut raw = RawFrame::binary(&payload).fin(false).rsv(0b101);
                raw = match mask {
                    Some(key) => raw.masked(key),
                    None => raw.unmasked(),
                };
                assert_eq!(raw.to_bytes(), expected.to_vec(), "len {len} mask {mask:?}");
                assert_eq!(parse_frames(&expected)[0].payload, payload);
            }
        }
    }

    #[test]
    fn illegal_shapes_are_written_as_asked() {
        assert_eq!(
            RawFrame::new(0xF, "").rsv(0b111).fin(false).to_bytes(),
            [0x7F, 0x00]
        );
        assert_eq!(
            RawFrame::binary("ab")
                .length(LengthEncoding::Bits64)
                .to_bytes(),
            [0x82, 127, 0, 0, 0, 0, 0, 0, 0, 2, b'a', b'b']
        );
        assert_eq!(
            RawFrame::binary("")
                .declare_len(1 << 63)
                .header_for(Side::Client),
            [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            RawFrame::ping("")
                .masked([9, 9, 9, 9])
                .header_for(Side::Client),
            [0x89, 0x80, 9, 9, 9, 9]
        );
        assert_eq!(
            RawFrame::ping("").unmasked().header_for(Side::Server),
            [0x89, 0x00]
        );
        assert_eq!(RawFrame::close(1000, "").to_bytes(), [0x88, 2, 0x03, 0xe8]);
    }

    #[test]
    #[should_panic(expected = "incomplete frame")]
    fn parse_frames_refuses_a_truncated_log() {
        parse_frames(&[0x81, 0x05, b'H']);
    }
}
