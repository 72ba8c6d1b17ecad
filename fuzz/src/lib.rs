//! Helpers shared by the fuzz targets: cutting a stream into pieces, inputs that repeat a
//! pattern (so that short fuzzer inputs reach the size limits), checking a connection's output,
//! and a heap counter.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use sockeye_proto::frame::{Frame, FrameDecoder};
use sockeye_proto::{Connection, OpCode, Role};

/// Yields `stream` in pieces whose sizes are taken from `sizes` in turn (0 counts as 1; each
/// size is multiplied by `scale`), the whole stream at once when `sizes` is empty.
pub fn pieces<'a>(
    stream: &'a [u8],
    sizes: &'a [u8],
    scale: usize,
) -> impl Iterator<Item = &'a [u8]> {
    let mut sizes = sizes.iter().cycle();
    let mut rest = stream;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = sizes
            .next()
            .map_or(rest.len(), |&size| usize::from(size).max(1) * scale.max(1));
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        Some(piece)
    })
}

/// A pattern written many times: how a short fuzzer input describes a long stream (an
/// endless chunk-size line, a flood of pings, a long body). Coverage does not grow with a
/// stream's length, so the fuzzer gets there by chance: most values of `times` make a stream
/// long enough to reach the limits.
#[derive(Arbitrary, Debug, Clone)]
pub struct Repeat {
    /// What to repeat (nothing is written when empty).
    pub pattern: Vec<u8>,
    /// How many times, in units of 64 (plus one).
    pub times: u16,
}

impl Repeat {
    /// How many times the pattern is written: `(times + 1) * 64`.
    pub fn count(&self) -> usize {
        (usize::from(self.times) + 1) * 64
    }

    /// Appends the pattern [`count`](Self::count) times to `out`, stopping once `out` holds
    /// `max_total` bytes.
    pub fn write_to(&self, out: &mut Vec<u8>, max_total: usize) {
        for _ in 0..self.count() {
            if out.len() >= max_total || self.pattern.is_empty() {
                break;
            }
            let room = max_total - out.len();
            out.extend_from_slice(&self.pattern[..self.pattern.len().min(room)]);
        }
    }
}

/// Takes the pending output and checks it is whole, well-formed frames, masked only by a
/// client, none of them after a close frame (`close_sent` remembers one from earlier output).
/// Returns the frames.
pub fn take_frames(connection: &mut Connection, close_sent: &mut bool) -> Vec<Frame> {
    let mut output = BytesMut::from(&connection.take_output()[..]);
    let mut decoder = FrameDecoder::new(usize::MAX >> 1);
    let mut frames = Vec::new();
    while let Some(frame) = decoder.decode(&mut output).expect("own output decodes") {
        assert!(!*close_sent, "a frame was queued after the close frame");
        assert_eq!(
            frame.header.mask.is_some(),
            connection.role() == Role::Client
        );
        *close_sent = frame.opcode() == OpCode::Close;
        frames.push(frame);
    }
    assert!(output.is_empty(), "own output ends in a partial frame");
    frames
}

/// The system allocator, counting the bytes live on the heap and their peak. A target that
/// installs it (`#[global_allocator]`) can measure what a piece of code holds after a call
/// ([`live`](Self::live)) and the most it held during one ([`reset_peak`](Self::reset_peak),
/// [`peak`](Self::peak)), independently of what the code reports about itself.
pub struct CountingAllocator {
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl CountingAllocator {
    /// A counter at zero.
    pub const fn new() -> Self {
        Self {
            live: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Bytes allocated and not yet freed.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// The most bytes live at once since the last [`reset_peak`](Self::reset_peak).
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Starts a new peak measurement from what is live now.
    pub fn reset_peak(&self) {
        self.peak.store(self.live(), Ordering::Relaxed);
    }

    fn add(&self, bytes: usize) {
        let live = self.live.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(live, Ordering::Relaxed);
    }

    fn sub(&self, bytes: usize) {
        self.live.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl Default for CountingAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is `System`'s; the counting touches only atomics.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            self.add(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            self.add(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        self.sub(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            self.sub(layout.size());
            self.add(new_size);
        }
        new
    }
}
