//! RFC 6455 section 8.1: text must be UTF-8. Validation is incremental and fails fast — at the
//! first byte that can no longer be part of valid text, even before the rest of the frame has
//! arrived — with 1007; a code point split across fragments or reads is fine.

#![allow(clippy::unwrap_used)] // In tests, a failed unwrap is a failed assertion.

use sockeye_proto::{Config, Message, ProtocolError};
use sockeye_test::check::assert_fails_with;
use sockeye_test::{Chunking, Pair, RawFrame, Side};

const CHUNKINGS: [Chunking; 4] = [
    Chunking::Whole,
    Chunking::Fixed(1),
    Chunking::Fixed(2),
    Chunking::Fixed(3),
];

/// Text with 1-, 2-, 3- and 4-byte code points.
const MIXED: &str = "a\u{e9}\u{20ac}\u{1f600}z\u{10ffff}";

fn frames(side: Side, frames: &[RawFrame]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|frame| frame.encode_for(side))
        .collect()
}

#[test]
fn a_code_point_split_across_fragments_is_fine_at_every_split() {
    let bytes = MIXED.as_bytes();
    for side in [Side::Client, Side::Server] {
        for cut in 0..=bytes.len() {
            for chunking in CHUNKINGS {
                let mut pair = Pair::new().with_chunking(chunking.clone());
                pair.inject(
                    side,
                    &frames(
                        side,
                        &[
                            RawFrame::text(&bytes[..cut]).fin(false),
                            RawFrame::ping(""),
                            RawFrame::continuation(&bytes[cut..]),
                        ],
                    ),
                );
                assert_eq!(
                    pair.endpoint(side).messages().last(),
                    Some(&Message::text(MIXED)),
                    "{side:?} cut {cut} {chunking:?}"
                );
                assert_eq!(pair.endpoint(side).errors(), []);
            }
        }
    }
}

#[test]
fn a_code_point_split_into_three_fragments_is_fine() {
    let euro = "\u{20ac}".as_bytes();
    let mut pair = Pair::new();
    pair.inject(
        Side::Server,
        &frames(
            Side::Server,
            &[
                RawFrame::text(&euro[..1]).fin(false),
                RawFrame::continuation(&euro[1..2]).fin(false),
                RawFrame::continuation(&euro[2..]),
            ],
        ),
    );
    assert_eq!(pair.server.messages(), [Message::text("\u{20ac}")]);
}

#[test]
fn invalid_text_is_1007_with_the_offset_in_the_message() {
    let cases: [(&[u8], u64); 7] = [
        (b"\xff", 0),
        (b"abc\xff", 3),
        (b"ab\xc3\x28", 2),
        (b"\xed\xa0\x80", 0),         // a surrogate
        (b"\xc0\xaf", 0),             // overlong '/'
        (b"\xf4\x90\x80\x80", 0),     // above U+10FFFF
        (b"\xe2\x82\xac\xe2\x28", 3), // euro, then a broken sequence
    ];
    for side in [Side::Client, Side::Server] {
        for (text, offset) in cases {
            for chunking in CHUNKINGS {
                let mut pair = Pair::new().with_chunking(chunking.clone());
                assert_fails_with(
                    &mut pair,
                    side,
                    &RawFrame::text(text).encode_for(side),
                    ProtocolError::InvalidUtf8 { offset },
                );
            }
        }
    }
}

#[test]
fn text_that_ends_inside_a_code_point_is_1007() {
    for side in [Side::Client, Side::Server] {
        let mut pair = Pair::new();
        assert_fails_with(
            &mut pair,
            side,
            &RawFrame::text(b"ok\xe2\x82").encode_for(side),
            ProtocolError::InvalidUtf8 { offset: 2 },
        );
        // Also when the message is fragmented and its last fragment is empty.
        let mut pair = Pair::new();
        pair.inject(
            side,
            &RawFrame::text(b"ok\xf0\x9f").fin(false).encode_for(side),
        );
        assert_eq!(pair.endpoint(side).errors(), []);
        assert_fails_with(
            &mut pair,
            side,
            &RawFrame::continuation("").encode_for(side),
            ProtocolError::InvalidUtf8 { offset: 2 },
        );
    }
}

/// The offset is counted from the start of the message, not of the frame.
#[test]
fn invalid_text_in_a_later_fragment_reports_the_offset_in_the_message() {
    for side in [Side::Client, Side::Server] {
        for chunking in CHUNKINGS {
            // Invalid byte inside the third fragment: message offset 3 + 4 + 2 = 9.
            let mut pair = Pair::new().with_chunking(chunking.clone());
            pair.inject(
                side,
                &frames(
                    side,
                    &[
                        RawFrame::text("abc").fin(false),
                        RawFrame::continuation("defg").fin(false),
                    ],
                ),
            );
            assert_fails_with(
                &mut pair,
                side,
                &RawFrame::continuation(b"hi\xffjk").encode_for(side),
                ProtocolError::InvalidUtf8 { offset: 9 },
            );

            // A sequence begun in one fragment and broken in the next: offset of its lead byte.
            let mut pair = Pair::new().with_chunking(chunking.clone());
            pair.inject(
                side,
                &RawFrame::text(b"abc\xe2").fin(false).encode_for(side),
            );
            assert_fails_with(
                &mut pair,
                side,
                &RawFrame::continuation(b"\x28").encode_for(side),
                ProtocolError::InvalidUtf8 { offset: 3 },
            );

            // Truncated at the end of a message of several fragments.
            let mut pair = Pair::new().with_chunking(chunking.clone());
            pair.inject(
                side,
                &frames(
                    side,
                    &[
                        RawFrame::text("abcd").fin(false),
                        RawFrame::continuation(b"ef\xe2\x82").fin(false),
                    ],
                ),
            );
            assert_fails_with(
                &mut pair,
                side,
                &RawFrame::continuation("").encode_for(side),
                ProtocolError::InvalidUtf8 { offset: 6 },
            );
        }
    }
}

#[test]
fn invalid_byte_in_the_first_part_of_a_large_frame_fails_before_the_rest_arrives() {
    for side in [Side::Client, Side::Server] {
        for chunking in CHUNKINGS {
            let mut payload = b"valid start \xff".to_vec();
            payload.resize(100_000, b'a');
            let bytes = RawFrame::text(&payload).encode_for(side);
            let header_len = bytes.len() - payload.len();
            // Only the header and the first 13 payload bytes have arrived.
            let mut pair = Pair::new().with_chunking(chunking.clone());
            assert_fails_with(
                &mut pair,
                side,
                &bytes[..header_len + 13],
                ProtocolError::InvalidUtf8 { offset: 12 },
            );
        }
    }
}

#[test]
fn fail_fast_also_inside_a_continuation_and_across_a_read_boundary() {
    for side in [Side::Client, Side::Server] {
        // The continuation announces 50 000 bytes; its third byte breaks the sequence that began
        // at the end of the previous fragment.
        let mut pair = Pair::new();
        pair.inject(
            side,
            &RawFrame::text(b"xy\xf0\x9f").fin(false).encode_for(side),
        );
        let mut rest = b"\x98\x41".to_vec();
        rest.resize(50_000, b'a');
        let bytes = RawFrame::continuation(&rest).encode_for(side);
        let header_len = bytes.len() - rest.len();
        pair.inject(side, &bytes[..header_len + 1]);
        assert_eq!(pair.endpoint(side).errors(), [], "still a valid prefix");
        assert_fails_with(
            &mut pair,
            side,
            &bytes[header_len + 1..header_len + 2],
            ProtocolError::InvalidUtf8 { offset: 2 },
        );
    }
}

#[test]
fn binary_messages_are_not_validated() {
    for side in [Side::Client, Side::Server] {
        let mut pair = Pair::new();
        pair.inject(
            side,
            &RawFrame::binary(b"\xff\xfe\xed\xa0\x80").encode_for(side),
        );
        assert_eq!(
            pair.endpoint(side).messages(),
            [Message::binary(&b"\xff\xfe\xed\xa0\x80"[..])]
        );
    }
}

#[test]
fn validation_off_delivers_invalid_text_lossily() {
    let mut config = Config::default();
    config.validate_utf8 = false;
    for side in [Side::Client, Side::Server] {
        for chunking in CHUNKINGS {
            let mut pair =
                Pair::with_configs(config.clone(), config.clone()).with_chunking(chunking.clone());
            pair.inject(
                side,
                &frames(
                    side,
                    &[
                        RawFrame::text(b"a\xffb"),
                        RawFrame::text(b"x\xe2").fin(false),
                        RawFrame::ping("p"),
                        RawFrame::continuation(b"\x82\xacy\xed\xa0\x80"),
                        RawFrame::text(b"trunc\xe2\x82"),
                        RawFrame::text("fine \u{20ac}"),
                    ],
                ),
            );
            let texts: Vec<String> = pair
                .endpoint(side)
                .messages()
                .into_iter()
                .filter_map(|message| match message {
                    Message::Text(text) => Some(text.as_str().to_string()),
                    _ => None,
                })
                .collect();
            assert_eq!(
                texts,
                [
                    "a\u{fffd}b",
                    "x\u{20ac}y\u{fffd}\u{fffd}\u{fffd}",
                    "trunc\u{fffd}",
                    "fine \u{20ac}"
                ],
                "{side:?} {chunking:?}"
            );
            assert_eq!(pair.endpoint(side).errors(), []);
        }
    }
}

#[test]
fn frame_mode_still_validates_text_across_fragments() {
    let mut config = Config::default();
    config.assemble_messages = false;
    for side in [Side::Client, Side::Server] {
        // Only the receiving side delivers frames.
        let mut pair = match side {
            Side::Client => Pair::with_configs(config.clone(), Config::default()),
            Side::Server => Pair::with_configs(Config::default(), config.clone()),
        };
        pair.inject(
            side,
            &RawFrame::text(b"ok\xe2\x82").fin(false).encode_for(side),
        );
        // The first fragment is delivered as is: its code point is only cut, not broken.
        assert_eq!(pair.endpoint(side).messages().len(), 1);
        assert_fails_with(
            &mut pair,
            side,
            &RawFrame::continuation(b"\xacok\xff").encode_for(side),
            ProtocolError::InvalidUtf8 { offset: 7 },
        );
    }
}
