//! The codec a connection uses: the compressor and decompressor of one connection, for the
//! parameters negotiated in the parent module.

use std::fmt;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{
    DeflateConfig, PerMessageDeflate, DEFAULT_WINDOW_BITS, MIN_ZLIB_WINDOW_BITS, PERMESSAGE_DEFLATE,
};
use crate::error::ProtocolError;

/// What a sync flush ends with, removed from each compressed message and put back before
/// inflating it (RFC 7692 sections 7.2.1 and 7.2.2).
const SYNC_FLUSH_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Inflated output is produced in steps of at most this many bytes, each checked against the
/// message size limit (and validated, for text) before the next is allocated.
const INFLATE_STEP: usize = 64 * 1024;

/// The compressor and decompressor of one connection. zlib state is allocated on first use, so
/// a connection that never sends or receives a compressed message keeps none.
pub(crate) struct DeflateCodec {
    agreed: PerMessageDeflate,
    pub(crate) deflater: Deflater,
    pub(crate) inflater: Inflater,
}

impl fmt::Debug for DeflateCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeflateCodec")
            .field("agreed", &self.agreed)
            .finish_non_exhaustive()
    }
}

impl DeflateCodec {
    /// The codec of a server (`is_server`) or a client for the agreed parameters.
    pub(crate) fn new(is_server: bool, agreed: PerMessageDeflate, config: &DeflateConfig) -> Self {
        let (local_bits, local_reset, remote_bits, remote_reset) = if is_server {
            (
                agreed.server_max_window_bits,
                agreed.server_no_context_takeover,
                agreed.client_max_window_bits,
                agreed.client_no_context_takeover,
            )
        } else {
            (
                agreed.client_max_window_bits,
                agreed.client_no_context_takeover,
                agreed.server_max_window_bits,
                agreed.server_no_context_takeover,
            )
        };
        Self {
            agreed,
            deflater: Deflater {
                compress: None,
                // An 8-bit window cannot be compressed with: send uncompressed (section 6).
                window_bits: (local_bits >= MIN_ZLIB_WINDOW_BITS)
                    .then_some(local_bits.min(DEFAULT_WINDOW_BITS)),
                no_context_takeover: local_reset,
                level: config.level.min(9),
                min_size: config.min_size,
                scratch: Vec::new(),
            },
            inflater: Inflater {
                decompress: None,
                window_bits: remote_bits.clamp(MIN_ZLIB_WINDOW_BITS, DEFAULT_WINDOW_BITS),
                no_context_takeover: remote_reset,
                output: Vec::new(),
                message_size: 0,
                compressed_size: 0,
                stream_ended: false,
            },
        }
    }

    /// The agreed parameters.
    pub(crate) fn agreed(&self) -> &PerMessageDeflate {
        &self.agreed
    }

    /// Bytes held: buffers, and the zlib state once allocated, estimated with zlib's own
    /// formulas (zconf.h: deflate `(1 << (windowBits + 2)) + (1 << (memLevel + 9))` with the
    /// default memLevel 8, inflate `1 << windowBits` plus about 7 KiB of tables), which zlib-rs
    /// follows.
    pub(crate) fn memory_use(&self) -> usize {
        let deflate_state = match (&self.deflater.compress, self.deflater.window_bits) {
            (Some(_), Some(bits)) => (1usize << (bits + 2)) + (1 << 17) + 6 * 1024,
            _ => 0,
        };
        let inflate_state = match &self.inflater.decompress {
            Some(_) => (1usize << self.inflater.window_bits) + 7 * 1024,
            None => 0,
        };
        self.deflater.scratch.capacity()
            + self.inflater.output.capacity()
            + deflate_state
            + inflate_state
    }
}

/// Compresses outgoing messages.
pub(crate) struct Deflater {
    compress: Option<Compress>,
    /// `None`: this side may not compress with a window zlib supports; it sends uncompressed.
    window_bits: Option<u8>,
    no_context_takeover: bool,
    level: u32,
    min_size: usize,
    scratch: Vec<u8>,
}

impl Deflater {
    /// Whether to compress a message that starts with a `len`-byte frame (`fin`: the whole
    /// message).
    pub(crate) fn wants(&self, len: usize, fin: bool) -> bool {
        self.window_bits.is_some() && (!fin || len >= self.min_size)
    }

    /// Compresses the payload of one frame of a compressed message and returns the bytes to
    /// send (give them back with [`recycle`](Self::recycle)). `fin`: the message's last frame,
    /// whose sync-flush tail is removed (section 7.2.1).
    pub(crate) fn compress(&mut self, payload: &[u8], fin: bool) -> Result<Vec<u8>, String> {
        let Some(window_bits) = self.window_bits else {
            return Err("compression is not available for this connection".into());
        };
        let level = self.level;
        let compress = self.compress.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level), false, window_bits)
        });
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        out.reserve(payload.len() / 2 + 64);
        let mut input = payload;
        loop {
            // zlib asks for more than six bytes of room with a sync flush, or it may repeat the
            // flush marker.
            if out.capacity() - out.len() < 64 {
                out.reserve(out.len().max(4096));
            }
            let before = compress.total_in();
            compress
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|err| err.to_string())?;
            let consumed = usize::try_from(compress.total_in() - before).unwrap_or(input.len());
            input = &input[consumed.min(input.len())..];
            // Done when all input is in and the flush did not run out of room.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if fin {
            if out.ends_with(&SYNC_FLUSH_TAIL) {
                out.truncate(out.len() - SYNC_FLUSH_TAIL.len());
            } else if out.is_empty() {
                // Nothing new since the last flush (an empty message, or an empty last frame):
                // zlib emits nothing, but the receiver appends `00 00 ff ff` all the same. A
                // lone `00` (an empty stored block's header, section 7.2.3.6) makes that tail a
                // whole, empty block, as zlib's own output would after fresh input.
                out.push(0x00);
            }
            if self.no_context_takeover {
                compress.reset();
            }
        }
        Ok(out)
    }

    /// Gives back the buffer [`compress`](Self::compress) returned, for the next message.
    pub(crate) fn recycle(&mut self, buffer: Vec<u8>) {
        self.scratch = buffer;
    }

    /// Frees the output buffer kept between messages if it grew past `keep` bytes; returns
    /// the bytes freed.
    pub(crate) fn release_scratch(&mut self, keep: usize) -> usize {
        let capacity = self.scratch.capacity();
        if capacity <= keep {
            return 0;
        }
        self.scratch = Vec::new();
        capacity
    }
}

/// Inflates incoming messages.
pub(crate) struct Inflater {
    decompress: Option<Decompress>,
    window_bits: u8,
    no_context_takeover: bool,
    /// Inflated bytes not yet delivered: the message so far, or the frame in frame mode.
    output: Vec<u8>,
    /// Bytes inflated for the current message so far.
    message_size: u64,
    /// Compressed bytes received for the current message so far.
    compressed_size: u64,
    /// The DEFLATE stream ended (a block with BFINAL set, section 7.2.3.4): the rest of the
    /// message is ignored, and the next message starts a new stream.
    stream_ended: bool,
}

impl Inflater {
    /// A compressed message starts: a new stream when the sender takes no context over (or
    /// ended its stream).
    pub(crate) fn start_message(&mut self) {
        if self.no_context_takeover || self.stream_ended {
            if let Some(decompress) = &mut self.decompress {
                decompress.reset(false);
            }
        }
        self.stream_ended = false;
        self.message_size = 0;
        self.compressed_size = 0;
        self.output.clear();
    }

    /// Inflates `input` (part of a compressed frame's payload, or the tail) into the output, in
    /// steps of at most [`INFLATE_STEP`] bytes. After each step the message size is checked
    /// against `limit` and the new bytes are handed to `check`, so a message that is too large or
    /// invalid fails before more is inflated.
    pub(crate) fn inflate(
        &mut self,
        mut input: &[u8],
        limit: usize,
        mut check: impl FnMut(&[u8]) -> Result<(), ProtocolError>,
    ) -> Result<(), ProtocolError> {
        self.compressed_size += input.len() as u64;
        let window_bits = self.window_bits;
        let decompress = self
            .decompress
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, window_bits));
        while !self.stream_ended {
            let spare = self.output.capacity() - self.output.len();
            if spare < INFLATE_STEP / 4 {
                // Grow with the output, but never by more than one step beyond the limit.
                let room = (limit as u64)
                    .saturating_add(1)
                    .saturating_sub(self.message_size);
                let grow = self
                    .output
                    .len()
                    .clamp(INFLATE_STEP / 4, INFLATE_STEP)
                    .min(usize::try_from(room).unwrap_or(usize::MAX).max(1024));
                self.output.reserve_exact(grow);
            }
            let (in_before, out_before) = (decompress.total_in(), decompress.total_out());
            let start = self.output.len();
            let result = decompress.decompress_vec(input, &mut self.output, FlushDecompress::Sync);
            let consumed = usize::try_from(decompress.total_in() - in_before).unwrap_or(usize::MAX);
            let produced = decompress.total_out() - out_before;
            input = &input[consumed.min(input.len())..];
            // What this step inflated is checked in stream order, whatever the step boundaries
            // (they depend on how the bytes arrived): the bytes within the limit first, then the
            // limit, then the data's own validity. So any chunking gives the same error.
            let room = (limit as u64).saturating_sub(self.message_size);
            let within = usize::try_from(produced.min(room)).unwrap_or(usize::MAX);
            check(&self.output[start..start + within])?;
            self.message_size += produced;
            if produced > room {
                return Err(ProtocolError::MessageTooLarge {
                    size: (limit as u64).saturating_add(1),
                    limit,
                });
            }
            // zlib's own message is left out: for the same data it can differ with how the
            // bytes arrived ("repeated call with bad state"), and the error must not.
            let status = result.map_err(|_| ProtocolError::Extension {
                extension: PERMESSAGE_DEFLATE,
                reason: "a compressed message is not valid DEFLATE data (RFC 7692 section 7.2.2)"
                    .into(),
            })?;
            let full = self.output.len() == self.output.capacity();
            match status {
                Status::StreamEnd => self.stream_ended = true,
                _ if input.is_empty() && !full => break,
                // No progress with room to spare: nothing more can come of this input.
                _ if consumed == 0 && produced == 0 && !full => break,
                _ => {}
            }
        }
        Ok(())
    }

    /// The end of a compressed message: inflates the removed tail `00 00 ff ff` (section 7.2.2).
    ///
    /// Except after a message with no compressed data at all, which some zlib-based senders
    /// make for an empty message (zlib flushes nothing right after a flush): such a message
    /// ends where the last flush ended, and the tail would open a block that never ends,
    /// breaking every later message.
    pub(crate) fn finish_message(
        &mut self,
        limit: usize,
        check: impl FnMut(&[u8]) -> Result<(), ProtocolError>,
    ) -> Result<(), ProtocolError> {
        if self.compressed_size == 0 {
            return Ok(());
        }
        self.inflate(&SYNC_FLUSH_TAIL, limit, check)?;
        self.compressed_size -= SYNC_FLUSH_TAIL.len() as u64;
        Ok(())
    }

    /// Takes the inflated bytes not yet delivered. A message much smaller than the buffer it
    /// was inflated into is copied out, and the buffer kept for the next one: handing the buffer
    /// over would make every small message hold at least a quarter of an inflate step (16 KiB
    /// for 5 bytes) for as long as the application keeps it.
    pub(crate) fn take_output(&mut self) -> Bytes {
        if self.output.len() <= INFLATE_STEP && self.output.capacity() - self.output.len() > 1024 {
            let message = Bytes::copy_from_slice(&self.output);
            self.output.clear();
            return message;
        }
        Bytes::from(std::mem::take(&mut self.output))
    }

    /// Frees the output buffer kept between messages if it is empty and grew past `keep`
    /// bytes; returns the bytes freed.
    pub(crate) fn release_output(&mut self, keep: usize) -> usize {
        let capacity = self.output.capacity();
        if !self.output.is_empty() || capacity <= keep {
            return 0;
        }
        self.output = Vec::new();
        capacity
    }

    /// Drops everything of the message in progress (the connection failed).
    pub(crate) fn clear(&mut self) {
        self.output = Vec::new();
        self.message_size = 0;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn sync_flush_output_drops_the_tail_and_inflates_back() {
        let agreed = PerMessageDeflate::default();
        let mut server = DeflateCodec::new(true, agreed, &DeflateConfig::default());
        let mut client = DeflateCodec::new(false, agreed, &DeflateConfig::default());
        let data = server.deflater.compress(b"Hello", true).unwrap();
        assert!(!data.ends_with(&SYNC_FLUSH_TAIL));
        client.inflater.start_message();
        client.inflater.inflate(&data, 100, |_| Ok(())).unwrap();
        client.inflater.finish_message(100, |_| Ok(())).unwrap();
        assert_eq!(&client.inflater.take_output()[..], b"Hello");
    }
}
