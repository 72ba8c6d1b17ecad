//! Frames: header, opcode, masking and the codec (RFC 6455 section 5).

pub mod codec;
pub mod header;
pub mod mask;
pub mod opcode;

use bytes::Bytes;

pub use codec::{encode_frame, FrameDecoder};
pub use header::{FrameHeader, MAX_HEADER_LEN, RSV1, RSV2, RSV3};
pub use opcode::OpCode;

/// A whole frame: its header and its payload, already unmasked.
///
/// Received frames keep the mask key they arrived with in [`FrameHeader::mask`], for tracing;
/// when a frame is sent, the connection decides the mask by its role and ignores that field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The header. `payload_len` equals `payload.len()`.
    pub header: FrameHeader,
    /// The unmasked payload.
    pub payload: Bytes,
}

impl Frame {
    /// A frame with FIN set and no RSV bits.
    pub fn new(opcode: OpCode, payload: impl Into<Bytes>) -> Self {
        let payload = payload.into();
        Self {
            header: FrameHeader::new(opcode, payload.len() as u64),
            payload,
        }
    }

    /// Sets FIN.
    pub fn with_fin(mut self, fin: bool) -> Self {
        self.header.fin = fin;
        self
    }

    /// Sets the three RSV bits (RSV1 = `0b100`).
    pub fn with_rsv(mut self, rsv: u8) -> Self {
        self.header.rsv = rsv & 0b111;
        self
    }

    /// The opcode.
    pub fn opcode(&self) -> OpCode {
        self.header.opcode
    }

    /// FIN.
    pub fn is_final(&self) -> bool {
        self.header.fin
    }
}
