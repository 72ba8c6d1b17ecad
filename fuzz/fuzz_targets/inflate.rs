//! The permessage-deflate inflater, through its public entry point: a server-role `Connection`
//! with the extension on, receiving compressed messages (RSV1, fragmented into arbitrary
//! frames, masked) whose data is arbitrary bytes, real DEFLATE output of arbitrary text, or a
//! "bomb" (megabytes of one byte, compressed to a few kilobytes), with an arbitrary
//! `max_message_size`, fed in arbitrary pieces.
//!
//! Checks, besides "never panics":
//! - never more than the limit inflated: a delivered message (or, frame by frame, a message's
//!   frames together) is at most `max_message_size`; the inflated bytes the connection holds
//!   (`memory_use` less its buffers and zlib's state) stay within the limit and one inflate
//!   step; the heap measured by a counting allocator never grows by more than that either;
//! - errors, not panics: the only failures are "too large" (1009), "not valid DEFLATE" (1007)
//!   and invalid UTF-8 (1007);
//! - real DEFLATE data inflates back to what was compressed, or fails as too large exactly when
//!   it is larger than the limit.

#![no_main]

use bytes::BytesMut;
use flate2::{Compress, Compression, FlushCompress};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sockeye_fuzz::{pieces, CountingAllocator};
use sockeye_proto::extensions::deflate::{DeflateConfig, PerMessageDeflate};
use sockeye_proto::frame::codec::encode_frame;
use sockeye_proto::frame::header::RSV1;
use sockeye_proto::{Config, Connection, Message, OpCode, ProtocolError, Role};

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

/// What one inflate step may add beyond the limit (`INFLATE_STEP` in `extensions::deflate`).
const INFLATE_STEP: usize = 64 * 1024;

/// Largest bomb: what it inflates to.
const MAX_BOMB: usize = 1 << 20;

#[derive(Arbitrary, Debug)]
enum Data {
    /// Arbitrary bytes as the compressed payload.
    Raw(Vec<u8>),
    /// `plain` compressed with a sync flush, its tail removed (RFC 7692 section 7.2.1).
    Compressed { plain: Vec<u8>, level: u8 },
    /// `len` (up to [`MAX_BOMB`]) copies of `byte`, compressed.
    Bomb { byte: u8, len: u32 },
}

#[derive(Arbitrary, Debug)]
struct MessageSpec {
    data: Data,
    text: bool,
    /// Fragment sizes (the whole message in one frame when empty).
    fragments: Vec<u8>,
    /// Flip one bit of the compressed data: (position, bit).
    corrupt: Option<(u16, u8)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The client's window (8 + n % 8 bits) and its no-context-takeover flag.
    client_window: u8,
    client_no_context_takeover: bool,
    /// `max_message_size`: n (small limits), or n << 8.
    limit: u16,
    limit_shift: bool,
    validate_utf8: bool,
    assemble_messages: bool,
    messages: Vec<MessageSpec>,
    chunks: Vec<u8>,
    chunk_scale: u8,
}

/// One message on the wire, and what it should inflate to when that is known.
struct Built {
    plain: Option<Vec<u8>>,
    text: bool,
}

fuzz_target!(|input: Input| {
    let window_bits = 8 + input.client_window % 8;
    let agreed = PerMessageDeflate {
        client_no_context_takeover: input.client_no_context_takeover,
        client_max_window_bits: window_bits,
        ..PerMessageDeflate::default()
    };
    let limit = if input.limit_shift {
        usize::from(input.limit) << 8
    } else {
        usize::from(input.limit)
    };
    let mut config = Config::default();
    config.max_message_size = limit;
    config.max_frame_size = 1 << 24;
    config.validate_utf8 = input.validate_utf8;
    config.assemble_messages = input.assemble_messages;

    // The sender's compressor: one for the whole connection when it takes context over. zlib
    // cannot compress with an 8-bit window, so then only stored blocks (level 0) are sent.
    let sender_bits = window_bits.max(9);
    let mut compressor: Option<(Compress, u32)> = None;
    let mut stream = Vec::new();
    let mut expected: Vec<Built> = Vec::new();
    // After a corrupted or arbitrary message, the sender's and receiver's contexts differ.
    let mut in_sync = true;
    for spec in input.messages.iter().take(8) {
        let (compressed, plain) = match &spec.data {
            Data::Raw(bytes) => {
                in_sync &= input.client_no_context_takeover;
                (bytes.clone(), None)
            }
            Data::Compressed { plain, level } => {
                let level = if window_bits == 8 {
                    0
                } else {
                    u32::from(*level % 10)
                };
                let out = compress(
                    &mut compressor,
                    sender_bits,
                    level,
                    plain,
                    input.client_no_context_takeover,
                );
                (out, Some(plain.clone()))
            }
            Data::Bomb { byte, len } => {
                let plain = vec![*byte; (*len as usize) % (MAX_BOMB + 1)];
                // Level 1 is fast and still shrinks a run of one byte about 250 times.
                let level = if window_bits == 8 { 0 } else { 1 };
                let out = compress(
                    &mut compressor,
                    sender_bits,
                    level,
                    &plain,
                    input.client_no_context_takeover,
                );
                (out, Some(plain))
            }
        };
        let mut compressed = compressed;
        if let Some((at, bit)) = spec.corrupt {
            if let Some(byte) = compressed.get_mut(usize::from(at)) {
                *byte ^= 1 << (bit % 8);
                in_sync &= input.client_no_context_takeover;
            }
        }
        let known = plain.filter(|_| {
            in_sync
                && spec
                    .corrupt
                    .is_none_or(|(at, _)| usize::from(at) >= compressed.len())
        });
        stream.extend_from_slice(&frames(&compressed, spec.text, &spec.fragments));
        expected.push(Built {
            plain: known,
            text: spec.text,
        });
    }

    let mut connection =
        Connection::new(Role::Server, config).with_deflate(agreed, &DeflateConfig::default());
    let zlib_state = (1usize << window_bits.max(9)) + 7 * 1024;
    let mut delivered = 0usize; // whole messages delivered
    let mut partial = 0usize; // frame mode: inflated bytes of the message so far
    let mut failure = None;
    let mut fed_all = true;
    let scale = usize::from(input.chunk_scale).max(1);
    // Each message is checked and dropped as it comes (no copies), so the heap measures what
    // the connection holds and the one message in hand.
    let mut check = |message: Message| match message {
        Message::Text(text) => {
            // Unvalidated text is delivered with U+FFFD (3 bytes) for each invalid byte.
            let most = if input.validate_utf8 {
                limit
            } else {
                3 * limit
            };
            assert!(
                text.len() <= most,
                "a text of {} bytes, limit {limit}",
                text.len()
            );
            if input.validate_utf8 {
                compare(&expected, delivered, text.as_bytes());
            }
            delivered += 1;
        }
        Message::Binary(data) => {
            assert!(
                data.len() <= limit,
                "a message of {} bytes, limit {limit}",
                data.len()
            );
            compare(&expected, delivered, &data);
            delivered += 1;
        }
        Message::Frame(frame) => {
            partial += frame.payload.len();
            assert!(
                partial <= limit,
                "frames of one message inflated to {partial} > {limit}"
            );
            if frame.header.fin {
                partial = 0;
                delivered += 1;
            }
        }
        other => panic!("only data was sent, got {other:?}"),
    };
    for piece in pieces(&stream, &input.chunks, scale) {
        let heap_before = HEAP.live();
        HEAP.reset_peak();
        connection.receive_data(piece);
        let result = loop {
            match connection.next_message() {
                Ok(Some(message)) => check(message),
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            }
        };
        // The heap, counted independently, during the step: the piece's bytes and the input
        // buffer's growth, the inflated data, the message in hand, zlib's state (allocated
        // once). Unvalidated text is delivered with U+FFFD (3 bytes) for each invalid byte,
        // in a string that grows while the inflated bytes are still there: three times the
        // limit, and twice that while the string's buffer is reallocated.
        let grew = HEAP.peak() - heap_before;
        let in_hand = if input.validate_utf8 {
            2 * limit
        } else {
            8 * limit
        };
        let allowed = 4 * (piece.len() + stream.len().min(1 << 16))
            + in_hand
            + 2 * INFLATE_STEP
            + 4 * zlib_state
            + 64 * 1024;
        assert!(
            grew <= allowed,
            "the heap grew by {grew} bytes in one step (allowed {allowed}, limit {limit})"
        );
        // What the connection holds beyond its buffers is inflated data and zlib's state.
        let inflated_held = connection
            .memory_use()
            .saturating_sub(connection.buffer_capacity() + zlib_state);
        assert!(
            inflated_held <= limit + 1 + INFLATE_STEP,
            "holds {inflated_held} inflated bytes, limit {limit}"
        );
        if let Err(error) = result {
            assert!(
                matches!(
                    error,
                    ProtocolError::MessageTooLarge { .. }
                        | ProtocolError::Extension { .. }
                        | ProtocolError::InvalidUtf8 { .. }
                ),
                "unexpected failure {error:?}"
            );
            failure = Some(error);
            fed_all = false;
            break;
        }
    }
    drop(connection);

    // Real DEFLATE data is delivered whole unless it is over the limit (or invalid text).
    if let Some(built) = expected.get(delivered) {
        let plain = built
            .plain
            .as_ref()
            .filter(|_| expected[..=delivered].iter().all(|b| b.plain.is_some()));
        if let Some(plain) = plain {
            // Text is validated as it is inflated: invalid text within the limit fails first.
            let invalid_text = built.text
                && input.validate_utf8
                && std::str::from_utf8(&plain[..plain.len().min(limit)])
                    .is_err_and(|error| error.error_len().is_some());
            if plain.len() > limit && !invalid_text {
                assert!(
                    matches!(failure, Some(ProtocolError::MessageTooLarge { .. })),
                    "{} bytes over a limit of {limit}: {failure:?}",
                    plain.len()
                );
            } else if fed_all && !(built.text && input.validate_utf8) {
                panic!(
                    "a message of {} bytes (limit {limit}) was not delivered",
                    plain.len()
                );
            }
        }
    }
});

/// Checks the `index`th message delivered against what was compressed, when that is known
/// (every message up to it was real DEFLATE data, so both sides' contexts agree).
fn compare(expected: &[Built], index: usize, delivered: &[u8]) {
    let known = expected[..=index.min(expected.len().saturating_sub(1))]
        .iter()
        .all(|built| built.plain.is_some());
    if let (
        true,
        Some(Built {
            plain: Some(plain), ..
        }),
    ) = (known, expected.get(index))
    {
        assert_eq!(
            delivered.len(),
            plain.len(),
            "message {index}'s inflated length"
        );
        assert!(
            delivered == plain,
            "message {index} did not inflate to what was compressed"
        );
    }
}

/// Compresses one message as a permessage-deflate sender does: sync flush, tail removed.
fn compress(
    compressor: &mut Option<(Compress, u32)>,
    window_bits: u8,
    level: u32,
    plain: &[u8],
    no_context_takeover: bool,
) -> Vec<u8> {
    let (compress, _) = match compressor {
        // One compressor for the connection; its level is fixed by the first message.
        Some(state) => state,
        None => compressor.insert((
            Compress::new_with_window_bits(Compression::new(level), false, window_bits),
            level,
        )),
    };
    let mut out = Vec::with_capacity(plain.len() / 2 + 64);
    let mut input = plain;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.len().max(4096));
        }
        let before = compress.total_in();
        if compress
            .compress_vec(input, &mut out, FlushCompress::Sync)
            .is_err()
        {
            break;
        }
        let consumed = (compress.total_in() - before) as usize;
        input = &input[consumed.min(input.len())..];
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
    if no_context_takeover {
        *compressor = None;
    }
    out
}

/// A compressed message as masked client frames: RSV1 on the first, then continuations.
fn frames(compressed: &[u8], text: bool, fragments: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let parts: Vec<&[u8]> = if fragments.is_empty() || compressed.is_empty() {
        vec![compressed]
    } else {
        let mut parts = Vec::new();
        let mut rest = compressed;
        for &size in fragments.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (part, tail) = rest.split_at((usize::from(size) + 1).min(rest.len()));
            parts.push(part);
            rest = tail;
        }
        parts
    };
    let last = parts.len() - 1;
    for (i, part) in parts.iter().enumerate() {
        let (opcode, rsv) = match (i, text) {
            (0, true) => (OpCode::Text, RSV1),
            (0, false) => (OpCode::Binary, RSV1),
            _ => (OpCode::Continuation, 0),
        };
        encode_frame(
            &mut out,
            i == last,
            rsv,
            opcode,
            Some([0x37, 0xfa, 0x21, 0x3d]),
            part,
        );
    }
    out.to_vec()
}
