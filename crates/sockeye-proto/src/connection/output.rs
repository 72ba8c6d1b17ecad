//! The output queue of a connection: the bytes waiting to be written, with large payloads
//! queued without a copy.

use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use super::Connection;

/// Queued output above which [`Connection::should_flush`] asks for a write at once: 256 KiB.
pub const OUTPUT_HIGH_WATER: usize = 256 * 1024;

/// Payloads at least this large that a server sends unmasked and uncompressed are not copied
/// into the output buffer: the frame's header is, and the payload follows it as its own slice
/// ([`Connection::pending_output_slices`]), so one vectored write sends both. 8 KiB: below it
/// the copy costs less than another slice.
pub const SHARED_PAYLOAD_MIN: usize = 8 * 1024;

/// How many slices a front-end should offer [`Connection::pending_output_slices`] for one
/// vectored write: each large payload queued without a copy takes two (its header's part of the
/// output buffer, and itself).
pub const OUTPUT_SLICES: usize = 64;

/// A payload queued without a copy, after `at` bytes of the output buffer.
#[derive(Debug)]
pub(super) struct SharedPayload {
    pub(super) at: usize,
    pub(super) bytes: Bytes,
}

impl Connection {
    // ----- output -----

    /// The first bytes waiting to be written to the transport: everything, or, when a large
    /// payload was queued without a copy, the part up to it (then the payload itself, and so on).
    /// [`pending_output_slices`](Self::pending_output_slices) gives all of it for one vectored
    /// write; it is empty only when nothing waits.
    pub fn pending_output(&self) -> &[u8] {
        match self.shared_output.front() {
            None => &self.output,
            Some(shared) if shared.at == 0 => &shared.bytes,
            Some(shared) => &self.output[..shared.at],
        }
    }

    /// All bytes waiting to be written.
    pub fn pending_output_len(&self) -> usize {
        self.output.len() + self.shared_len
    }

    /// Fills `slices` with the output waiting to be written, in order, for one vectored write;
    /// returns how many it filled (fewer than all when `slices` is short).
    pub fn pending_output_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut filled = 0;
        let mut from = 0;
        let mut push = |bytes: &'a [u8], filled: &mut usize| {
            if !bytes.is_empty() && *filled < slices.len() {
                slices[*filled] = IoSlice::new(bytes);
                *filled += 1;
            }
        };
        for shared in &self.shared_output {
            push(&self.output[from..shared.at], &mut filled);
            push(&shared.bytes, &mut filled);
            from = shared.at;
        }
        push(&self.output[from..], &mut filled);
        filled
    }

    /// Marks the first `written` bytes of the pending output as sent.
    pub fn consume_output(&mut self, written: usize) {
        let mut left = written;
        while left > 0 {
            let Some(shared) = self.shared_output.front_mut() else {
                let step = left.min(self.output.len());
                self.output.advance(step);
                break;
            };
            if shared.at > 0 {
                let step = left.min(shared.at);
                self.output.advance(step);
                for later in &mut self.shared_output {
                    later.at -= step;
                }
                left -= step;
            } else {
                let step = left.min(shared.bytes.len());
                shared.bytes.advance(step);
                self.shared_len -= step;
                left -= step;
                if shared.bytes.is_empty() {
                    self.shared_output.pop_front();
                }
            }
        }
        if self.pending_output_len() == 0 {
            self.auto_reply_queued = false;
        }
        if self.deferred_pong.is_some() && self.pending_output_len() < OUTPUT_HIGH_WATER {
            self.queue_deferred_pong();
        }
    }

    /// Takes all pending output at once (copied into one buffer when large payloads were queued
    /// without a copy).
    pub fn take_output(&mut self) -> Bytes {
        self.auto_reply_queued = false;
        if self.shared_output.is_empty() {
            let all = self.output.split().freeze();
            self.queue_deferred_pong();
            return all;
        }
        let mut all = BytesMut::with_capacity(self.pending_output_len());
        let mut from = 0;
        for shared in self.shared_output.drain(..) {
            all.extend_from_slice(&self.output[from..shared.at]);
            all.extend_from_slice(&shared.bytes);
            from = shared.at;
        }
        all.extend_from_slice(&self.output[from..]);
        self.output.clear();
        self.shared_len = 0;
        self.queue_deferred_pong();
        all.freeze()
    }

    /// True when a front-end that just received a message should write the output now rather
    /// than at the end of the batch: an automatic reply (pong, close echo, failure close) is
    /// queued and no further whole frame is buffered, or the output reached
    /// [`OUTPUT_HIGH_WATER`] bytes. Writing at the end of a batch lets one write carry the
    /// replies to every frame of one read.
    pub fn should_flush(&self) -> bool {
        self.pending_output_len() >= OUTPUT_HIGH_WATER
            || (self.auto_reply_queued && !self.has_buffered_frame())
    }
}
