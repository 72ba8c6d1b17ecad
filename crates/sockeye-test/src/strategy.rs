//! proptest strategies: frames of every shape, streams of them, and ways to cut bytes.
//!
//! Pure random bytes rarely get past a connection's first header check (a server wants the mask
//! bit, everyone wants RSV 0 and a known opcode), so these strategies build streams that are
//! mostly well-formed — fragmented messages with control frames in between, valid and invalid
//! UTF-8, close frames with good and bad codes — with illegal frames mixed in.

use proptest::prelude::*;

use crate::drive::Chunking;
use crate::frames::{LengthEncoding, Masking, RawFrame};
use crate::pair::Side;

/// Payload lengths at and around every length-encoding boundary (0, 125/126, 65535/65536), plus
/// small ones.
pub fn boundary_len() -> BoxedStrategy<usize> {
    prop_oneof![0usize..=3, 123usize..=128, 65533usize..=65538, 0usize..300,].boxed()
}

/// `len` bytes, derived from `seed` (cheap to generate and to shrink, unlike a 64 KiB vector).
pub fn seeded_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A way to cut a byte stream: whole, fixed sizes, or a repeating pattern of sizes.
pub fn chunking() -> BoxedStrategy<Chunking> {
    prop_oneof![
        Just(Chunking::Whole),
        (1usize..24).prop_map(Chunking::Fixed),
        proptest::collection::vec(0usize..40, 1..8).prop_map(Chunking::Pattern),
    ]
    .boxed()
}

/// Text payloads: mostly UTF-8 (with multi-byte code points), sometimes arbitrary bytes.
pub fn text_payload() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        4 => "\\PC{0,24}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..24),
    ]
    .boxed()
}

/// Close payloads: empty, good codes with UTF-8 reasons, bad codes, one byte, bad reasons.
pub fn close_payload() -> BoxedStrategy<Vec<u8>> {
    let code = prop_oneof![
        4 => prop_oneof![1000u16..=1003, 1007u16..=1014, 3000u16..=4999],
        1 => any::<u16>(),
    ];
    prop_oneof![
        1 => Just(Vec::new()),
        1 => any::<u8>().prop_map(|b| vec![b]),
        6 => (code, text_payload()).prop_map(|(code, reason)| {
            let mut payload = code.to_be_bytes().to_vec();
            payload.extend(reason.into_iter().take(123));
            payload
        }),
    ]
    .boxed()
}

/// A control frame a conforming peer could send (ping or pong, up to 125 bytes).
pub fn ping_or_pong() -> BoxedStrategy<RawFrame> {
    (
        prop_oneof![Just(0x9u8), Just(0xAu8)],
        proptest::collection::vec(any::<u8>(), 0..=125),
    )
        .prop_map(|(opcode, payload)| RawFrame::new(opcode, payload))
        .boxed()
}

/// One message as a conforming peer sends it: a text or binary message cut into 1-4 fragments,
/// with pings and pongs possibly between them (the text may still be invalid UTF-8).
pub fn conforming_message() -> BoxedStrategy<Vec<RawFrame>> {
    let payload = prop_oneof![
        text_payload().prop_map(|p| (true, p)),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|p| (false, p)),
    ];
    (
        payload,
        proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
        proptest::collection::vec(proptest::option::weighted(0.3, ping_or_pong()), 4),
    )
        .prop_map(|((text, payload), cuts, controls)| {
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(payload.len() + 1)).collect();
            cuts.sort_unstable();
            cuts.push(payload.len());
            let mut frames = Vec::new();
            let mut start = 0;
            for (n, &end) in cuts.iter().enumerate() {
                let piece = &payload[start..end];
                let first = n == 0;
                let mut frame = match (first, text) {
                    (true, true) => RawFrame::text(piece),
                    (true, false) => RawFrame::binary(piece),
                    (false, _) => RawFrame::continuation(piece),
                };
                frame = frame.fin(n + 1 == cuts.len());
                frames.push(frame);
                if n + 1 < cuts.len() {
                    frames.extend(controls[n].clone());
                }
                start = end;
            }
            frames
        })
        .boxed()
}

/// Any frame at all: every opcode, FIN, RSV, masking and length encoding, with a payload suited
/// to the opcode most of the time, and now and then a length that does not match the payload.
pub fn any_frame() -> BoxedStrategy<RawFrame> {
    let opcode = prop_oneof![
        6 => prop_oneof![Just(0x0u8), Just(0x1), Just(0x2), Just(0x8), Just(0x9), Just(0xA)],
        1 => 0u8..16,
    ];
    let masking = prop_oneof![
        8 => Just(Masking::ForReceiver),
        1 => Just(Masking::Unmasked),
        1 => any::<[u8; 4]>().prop_map(Masking::Key),
    ];
    let length = prop_oneof![
        8 => Just(LengthEncoding::Minimal),
        1 => Just(LengthEncoding::Bits16),
        1 => Just(LengthEncoding::Bits64),
    ];
    (
        opcode,
        proptest::bool::weighted(0.8),
        prop_oneof![6 => Just(0u8), 1 => 0u8..8],
        masking,
        length,
        prop_oneof![
            text_payload(),
            close_payload(),
            proptest::collection::vec(any::<u8>(), 0..140)
        ],
        // Sometimes a lying length: small, huge, or with the 64-bit top bit.
        proptest::option::weighted(
            0.1,
            prop_oneof![0u64..300, any::<u64>(), (1u64 << 32)..(1u64 << 63)],
        ),
    )
        .prop_map(
            |(opcode, fin, rsv, masking, length, payload, declared_len)| {
                let mut frame = RawFrame::new(opcode, payload)
                    .fin(fin)
                    .rsv(rsv)
                    .length(length);
                frame.masking = masking;
                frame.declared_len = declared_len;
                frame
            },
        )
        .boxed()
}

/// Conforming messages in order, perhaps followed by a close frame (whose code or reason may
/// still be invalid).
pub fn conforming_stream() -> BoxedStrategy<Vec<RawFrame>> {
    (
        proptest::collection::vec(conforming_message(), 0..5),
        proptest::option::weighted(0.4, close_payload()),
    )
        .prop_map(|(messages, close)| {
            let mut frames: Vec<RawFrame> = messages.into_iter().flatten().collect();
            frames.extend(close.map(|payload| RawFrame::new(0x8, payload)));
            frames
        })
        .boxed()
}

/// A stream of frames to one receiver: a [`conforming_stream`], or any frames at all, or a
/// conforming stream with one arbitrary frame spliced in.
pub fn frame_stream() -> BoxedStrategy<Vec<RawFrame>> {
    prop_oneof![
        3 => conforming_stream(),
        1 => proptest::collection::vec(any_frame(), 0..8),
        2 => (conforming_stream(), any_frame(), any::<prop::sample::Index>()).prop_map(
            |(mut frames, odd, at)| {
                let at = at.index(frames.len() + 1);
                frames.insert(at, odd);
                frames
            }
        ),
    ]
    .boxed()
}

/// The bytes of `frames` as sent to `receiver`.
pub fn encode_stream(frames: &[RawFrame], receiver: Side) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|frame| frame.encode_for(receiver))
        .collect()
}
