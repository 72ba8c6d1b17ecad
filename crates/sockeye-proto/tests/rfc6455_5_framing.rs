//! RFC 6455 section 5: framing — 5.1 masking by role, 5.2 the base framing protocol (reserved
//! bits and opcodes, length encodings), 5.4 fragmentation, 5.7 the example vectors — driven
//! through a real client/server pair and through injected bytes.

#![allow(clippy::unwrap_used)] // In tests, a failed unwrap is a failed assertion.

use bytes::Bytes;
use sockeye_proto::random::FixedMaskKey;
use sockeye_proto::{
    CloseCode, CloseFrame, Config, Connection, Frame, Message, OpCode, ProtocolError, Role,
    SendError,
};
use sockeye_test::check::assert_fails_with;
use sockeye_test::{
    Chunking, LengthEncoding, Pair, RawFrame, SequentialMaskKeys, Side, RFC_MASK_KEY,
};

const CHUNKINGS: [Chunking; 4] = [
    Chunking::Whole,
    Chunking::Fixed(1),
    Chunking::Fixed(3),
    Chunking::Fixed(7),
];

fn frames_config() -> Config {
    let mut config = Config::default();
    config.assemble_messages = false;
    config
}

mod section_5_7_examples {
    use super::*;

    #[test]
    fn server_sends_the_unmasked_vectors() {
        let mut server = Connection::new(Role::Server, Config::default());
        server.send_text("Hello").unwrap();
        assert_eq!(&server.take_output()[..], b"\x81\x05Hello");
        server.send_first_fragment(true, b"Hel").unwrap();
        server.send_continuation(b"lo", true).unwrap();
        assert_eq!(
            &server.take_output()[..],
            [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]
        );
        server.send_ping(b"Hello").unwrap();
        assert_eq!(&server.take_output()[..], b"\x89\x05Hello");
        server.send_binary(&[0xAB; 256]).unwrap();
        let out = server.take_output();
        assert_eq!(out[..4], [0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(out.len(), 4 + 256);
        server.send_binary(&[0xCD; 65536]).unwrap();
        let out = server.take_output();
        assert_eq!(
            out[..10],
            [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        );
        assert_eq!(out.len(), 10 + 65536);
    }

    #[test]
    fn client_sends_the_masked_vectors() {
        let mut client = Connection::with_mask_keys(
            Role::Client,
            Config::default(),
            Box::new(FixedMaskKey(RFC_MASK_KEY)),
        );
        client.send_text("Hello").unwrap();
        assert_eq!(
            &client.take_output()[..],
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        client.send_pong(b"Hello").unwrap();
        assert_eq!(
            &client.take_output()[..],
            [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
    }

    #[test]
    fn each_side_reads_the_vectors() {
        for chunking in CHUNKINGS {
            let mut pair = Pair::new().with_chunking(chunking.clone());
            pair.inject(
                Side::Server,
                &[
                    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
                ],
            );
            pair.inject(Side::Client, b"\x81\x05Hello");
            pair.inject(
                Side::Client,
                &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f],
            );
            pair.inject(Side::Client, b"\x89\x05Hello");
            assert_eq!(
                pair.server.messages(),
                [Message::text("Hello")],
                "{chunking:?}"
            );
            assert_eq!(
                pair.client.messages(),
                [
                    Message::text("Hello"),
                    Message::text("Hello"),
                    Message::Ping(Bytes::from_static(b"Hello"))
                ],
                "{chunking:?}"
            );
            assert_eq!(pair.client.errors(), [], "{chunking:?}");
        }
    }
}

mod section_5_1_masking {
    use super::*;

    /// Makes `side` send one of everything, including automatic replies (pong, close echo).
    fn send_everything(pair: &mut Pair, side: Side) {
        let peer = side.peer();
        let connection = &mut pair.endpoint_mut(side).connection;
        connection.send_text("text").unwrap();
        connection.send_binary(&[1, 2, 3]).unwrap();
        connection.send_binary(&[7; 300]).unwrap();
        connection.send_first_fragment(false, b"frag").unwrap();
        connection.send_ping(b"ping").unwrap();
        connection.send_continuation(b"ment", true).unwrap();
        connection.send_pong(b"").unwrap();
        connection
            .send_raw_frame(&Frame::new(OpCode::Binary, &b"raw"[..]))
            .unwrap();
        pair.exchange();
        // The peer pings and then closes: `side` answers both by itself.
        pair.endpoint_mut(peer)
            .connection
            .send_ping(b"auto")
            .unwrap();
        pair.endpoint_mut(peer)
            .connection
            .close(Some(CloseFrame::new(CloseCode::GoingAway, "")))
            .unwrap();
        pair.run();
    }

    /// What the peer of [`send_everything`]'s side receives (10 frames, 9 messages).
    fn everything_received() -> Vec<Message> {
        vec![
            Message::text("text"),
            Message::binary(vec![1, 2, 3]),
            Message::binary(vec![7; 300]),
            Message::Ping(Bytes::from_static(b"ping")),
            Message::binary(&b"fragment"[..]),
            Message::Pong(Bytes::new()),
            Message::binary(&b"raw"[..]),
            Message::Pong(Bytes::from_static(b"auto")),
            Message::Close(Some(CloseFrame::new(CloseCode::GoingAway, ""))),
        ]
    }

    #[test]
    fn client_masks_every_frame_with_keys_from_its_source() {
        let mut pair = Pair::new();
        send_everything(&mut pair, Side::Client);
        let frames = pair.client.sent_frames();
        let opcodes: Vec<OpCode> = frames.iter().map(Frame::opcode).collect();
        assert_eq!(
            opcodes,
            [
                OpCode::Text,
                OpCode::Binary,
                OpCode::Binary,
                OpCode::Binary,
                OpCode::Ping,
                OpCode::Continuation,
                OpCode::Pong,
                OpCode::Binary,
                OpCode::Pong,
                OpCode::Close
            ]
        );
        for (n, frame) in frames.iter().enumerate() {
            assert_eq!(
                frame.header.mask,
                Some(SequentialMaskKeys::key(n as u32)),
                "frame {n} ({})",
                frame.opcode()
            );
        }
        // And every frame reached the server intact.
        assert_eq!(pair.server.errors(), []);
        assert_eq!(pair.server.messages(), everything_received());
    }

    #[test]
    fn server_never_masks() {
        let mut pair = Pair::new();
        send_everything(&mut pair, Side::Server);
        let frames = pair.server.sent_frames();
        assert_eq!(frames.len(), 10);
        for frame in &frames {
            assert_eq!(frame.header.mask, None, "{}", frame.opcode());
        }
        assert_eq!(pair.client.errors(), []);
        assert_eq!(pair.client.messages(), everything_received());
    }

    #[test]
    fn an_all_zero_fixed_key_leaves_payloads_readable() {
        let client = Connection::with_mask_keys(
            Role::Client,
            Config::default(),
            Box::new(FixedMaskKey([0; 4])),
        );
        let mut pair =
            Pair::from_connections(client, Connection::new(Role::Server, Config::default()));
        pair.client.connection.send_text("readable").unwrap();
        pair.run();
        assert_eq!(pair.client.sent_bytes(), b"\x81\x88\0\0\0\0readable");
        assert_eq!(pair.server.messages(), [Message::text("readable")]);
    }

    #[test]
    fn a_closure_can_supply_the_keys() {
        let mut n = 0u8;
        let keys = move || {
            n += 1;
            [n, n, n, n]
        };
        let client = Connection::with_mask_keys(Role::Client, Config::default(), Box::new(keys));
        let mut pair =
            Pair::from_connections(client, Connection::new(Role::Server, Config::default()));
        for text in ["a", "b", "c"] {
            pair.client.connection.send_text(text).unwrap();
        }
        pair.run();
        let keys: Vec<_> = pair
            .client
            .sent_frames()
            .iter()
            .map(|f| f.header.mask)
            .collect();
        assert_eq!(keys, [Some([1; 4]), Some([2; 4]), Some([3; 4])]);
        assert_eq!(
            pair.server.messages(),
            [Message::text("a"), Message::text("b"), Message::text("c")]
        );
    }

    #[test]
    fn unmasked_frame_to_server_is_1002() {
        for frame in [
            RawFrame::text("hi"),
            RawFrame::ping("p"),
            RawFrame::close(1000, ""),
        ] {
            let mut pair = Pair::new();
            assert_fails_with(
                &mut pair,
                Side::Server,
                &frame.unmasked().encode_for(Side::Server),
                ProtocolError::UnmaskedFrameFromClient,
            );
        }
    }

    #[test]
    fn masked_frame_to_client_is_1002() {
        for frame in [
            RawFrame::binary("hi"),
            RawFrame::pong(""),
            RawFrame::close_empty(),
        ] {
            let mut pair = Pair::new();
            assert_fails_with(
                &mut pair,
                Side::Client,
                &frame.masked([1, 2, 3, 4]).encode_for(Side::Client),
                ProtocolError::MaskedFrameFromServer,
            );
        }
    }

    #[test]
    fn an_all_zero_key_still_counts_as_masked() {
        let mut pair = Pair::new();
        pair.inject(
            Side::Server,
            &RawFrame::text("ok").masked([0; 4]).encode_for(Side::Server),
        );
        assert_eq!(pair.server.messages(), [Message::text("ok")]);
        let mut pair = Pair::new();
        assert_fails_with(
            &mut pair,
            Side::Client,
            &RawFrame::text("no").masked([0; 4]).encode_for(Side::Client),
            ProtocolError::MaskedFrameFromServer,
        );
    }
}

mod section_5_2_base_framing {
    use super::*;

    #[test]
    fn reserved_bits_are_1002_on_both_sides() {
        for side in [Side::Client, Side::Server] {
            for bits in 1u8..8 {
                for frame in [RawFrame::text("x"), RawFrame::ping("")] {
                    let mut pair = Pair::new();
                    assert_fails_with(
                        &mut pair,
                        side,
                        &frame.rsv(bits).encode_for(side),
                        ProtocolError::ReservedBitsSet { bits },
                    );
                }
            }
        }
    }

    #[test]
    fn reserved_opcodes_are_1002_on_both_sides() {
        for side in [Side::Client, Side::Server] {
            for opcode in (0x3u8..=0x7).chain(0xB..=0xF) {
                let mut pair = Pair::new();
                assert_fails_with(
                    &mut pair,
                    side,
                    &RawFrame::new(opcode, "x").encode_for(side),
                    ProtocolError::ReservedOpcode(opcode),
                );
            }
        }
    }

    #[test]
    fn reserved_opcode_fails_from_the_header_alone() {
        let mut pair = Pair::new();
        assert_fails_with(
            &mut pair,
            Side::Server,
            &RawFrame::new(0x3, vec![0; 1000]).header_for(Side::Server),
            ProtocolError::ReservedOpcode(3),
        );
    }

    #[test]
    fn length_with_top_bit_set_is_1002() {
        for side in [Side::Client, Side::Server] {
            for len in [1u64 << 63, u64::MAX] {
                let mut pair = Pair::new();
                assert_fails_with(
                    &mut pair,
                    side,
                    &RawFrame::binary("").declare_len(len).header_for(side),
                    ProtocolError::LengthTopBitSet,
                );
            }
        }
    }

    #[test]
    fn non_minimal_lengths_are_1002() {
        let cases = [
            (RawFrame::binary(""), LengthEncoding::Bits16, 0u64, 2u8),
            (RawFrame::binary("hello"), LengthEncoding::Bits16, 5, 2),
            (
                RawFrame::binary(vec![1; 125]),
                LengthEncoding::Bits16,
                125,
                2,
            ),
            (RawFrame::binary(""), LengthEncoding::Bits64, 0, 8),
            (
                RawFrame::binary(vec![1; 126]),
                LengthEncoding::Bits64,
                126,
                8,
            ),
            (
                RawFrame::binary(vec![1; 65535]),
                LengthEncoding::Bits64,
                65535,
                8,
            ),
            (RawFrame::ping("p"), LengthEncoding::Bits16, 1, 2),
            (RawFrame::close(1000, ""), LengthEncoding::Bits64, 2, 8),
        ];
        for side in [Side::Client, Side::Server] {
            for (frame, encoding, len, encoded_bytes) in cases.clone() {
                let mut pair = Pair::new();
                assert_fails_with(
                    &mut pair,
                    side,
                    &frame.length(encoding).encode_for(side),
                    ProtocolError::NonMinimalLength { len, encoded_bytes },
                );
            }
        }
    }

    #[test]
    fn lengths_at_every_encoding_boundary_arrive_intact() {
        for side in [Side::Client, Side::Server] {
            for len in [0usize, 1, 125, 126, 127, 65535, 65536, 70000] {
                let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
                let mut pair = Pair::new().with_chunking(Chunking::Fixed(4093));
                pair.inject(side, &RawFrame::binary(&payload).encode_for(side));
                assert_eq!(
                    pair.endpoint(side).messages(),
                    [Message::binary(payload)],
                    "{side:?} len {len}"
                );
            }
        }
    }

    #[test]
    fn sent_lengths_use_the_minimal_encoding() {
        for len in [125usize, 126, 65535, 65536] {
            let mut pair = Pair::new();
            pair.client.connection.send_binary(&vec![0; len]).unwrap();
            pair.server.connection.send_binary(&vec![0; len]).unwrap();
            let expected_head = match len {
                0..=125 => 2,
                126..=65535 => 4,
                _ => 10,
            };
            assert_eq!(
                pair.server.connection.pending_output().len(),
                expected_head + len
            );
            assert_eq!(
                pair.client.connection.pending_output().len(),
                expected_head + 4 + len
            );
            pair.run();
            assert_eq!(pair.server.messages(), [Message::binary(vec![0; len])]);
            assert_eq!(pair.client.messages(), [Message::binary(vec![0; len])]);
        }
    }
}

mod section_5_4_fragmentation {
    use super::*;

    #[test]
    fn fragmented_messages_assemble_in_any_chunking() {
        for chunking in CHUNKINGS {
            let mut pair = Pair::new().with_chunking(chunking.clone());
            let client = &mut pair.client.connection;
            client.send_first_fragment(true, b"sock").unwrap();
            client.send_continuation(b"", false).unwrap();
            client.send_continuation(b"eye", true).unwrap();
            client.send_first_fragment(false, b"").unwrap();
            client.send_continuation(&[1, 2], true).unwrap();
            client.send_first_fragment(false, b"").unwrap();
            client.send_continuation(b"", true).unwrap();
            pair.run();
            assert_eq!(
                pair.server.messages(),
                [
                    Message::text("sockeye"),
                    Message::binary(vec![1, 2]),
                    Message::binary(Vec::new())
                ],
                "{chunking:?}"
            );
        }
    }

    #[test]
    fn continuation_without_start_is_1002() {
        for side in [Side::Client, Side::Server] {
            for fin in [true, false] {
                let mut pair = Pair::new();
                assert_fails_with(
                    &mut pair,
                    side,
                    &RawFrame::continuation("x").fin(fin).encode_for(side),
                    ProtocolError::ContinuationWithoutStart,
                );
            }
            // A finished fragmented message leaves nothing to continue.
            let mut pair = Pair::new();
            pair.inject(side, &RawFrame::text("a").fin(false).encode_for(side));
            pair.inject(side, &RawFrame::continuation("b").encode_for(side));
            assert_eq!(pair.endpoint(side).messages(), [Message::text("ab")]);
            assert_fails_with(
                &mut pair,
                side,
                &RawFrame::continuation("c").encode_for(side),
                ProtocolError::ContinuationWithoutStart,
            );
        }
    }

    #[test]
    fn new_message_inside_a_fragmented_one_is_1002() {
        for side in [Side::Client, Side::Server] {
            for (first, second, name) in [
                (RawFrame::text("a"), RawFrame::text("b"), "text"),
                (RawFrame::text("a"), RawFrame::binary("b"), "binary"),
                (RawFrame::binary("a"), RawFrame::binary("b"), "binary"),
                (
                    RawFrame::binary("a"),
                    RawFrame::text("b").fin(false),
                    "text",
                ),
            ] {
                let mut pair = Pair::new();
                pair.inject(side, &first.fin(false).encode_for(side));
                pair.inject(
                    side,
                    &RawFrame::continuation("more").fin(false).encode_for(side),
                );
                assert_eq!(pair.endpoint(side).messages(), []);
                assert_fails_with(
                    &mut pair,
                    side,
                    &second.encode_for(side),
                    ProtocolError::MessageInsideFragmentedMessage(name),
                );
            }
        }
    }

    #[test]
    fn sending_out_of_order_fragments_is_refused_and_queues_nothing() {
        let mut server = Connection::new(Role::Server, Config::default());
        assert!(matches!(
            server.send_continuation(b"x", true),
            Err(SendError::FragmentOrder(_))
        ));
        server.send_first_fragment(true, b"a").unwrap();
        let queued = server.pending_output().len();
        assert!(matches!(
            server.send_text("b"),
            Err(SendError::FragmentOrder(_))
        ));
        assert!(matches!(
            server.send_binary(b"b"),
            Err(SendError::FragmentOrder(_))
        ));
        assert!(matches!(
            server.send_first_fragment(false, b"b"),
            Err(SendError::FragmentOrder(_))
        ));
        assert_eq!(server.pending_output().len(), queued);
        // Control frames may interleave, then the message finishes.
        server.send_ping(b"").unwrap();
        server.send_continuation(b"b", true).unwrap();
        server.send_text("c").unwrap();
    }

    #[test]
    fn frame_mode_delivers_every_frame_and_still_runs_the_protocol() {
        for chunking in CHUNKINGS {
            let mut pair = Pair::with_configs(Config::default(), frames_config())
                .with_chunking(chunking.clone());
            let client = &mut pair.client.connection;
            client.send_first_fragment(true, b"He").unwrap();
            client.send_ping(b"p1").unwrap();
            client.send_continuation(b"l", false).unwrap();
            client.send_pong(b"p2").unwrap();
            client.send_continuation(b"lo", true).unwrap();
            client.send_binary(b"bin").unwrap();
            client
                .close(Some(CloseFrame::new(CloseCode::Normal, "done")))
                .unwrap();
            pair.run();
            let frames: Vec<(OpCode, bool, Vec<u8>)> = pair
                .server
                .messages()
                .into_iter()
                .map(|message| match message {
                    Message::Frame(frame) => {
                        (frame.opcode(), frame.is_final(), frame.payload.to_vec())
                    }
                    other => panic!("expected only frames, got {other:?}"),
                })
                .collect();
            assert_eq!(
                frames,
                [
                    (OpCode::Text, false, b"He".to_vec()),
                    (OpCode::Ping, true, b"p1".to_vec()),
                    (OpCode::Continuation, false, b"l".to_vec()),
                    (OpCode::Pong, true, b"p2".to_vec()),
                    (OpCode::Continuation, true, b"lo".to_vec()),
                    (OpCode::Binary, true, b"bin".to_vec()),
                    (OpCode::Close, true, b"\x03\xe8done".to_vec()),
                ],
                "{chunking:?}"
            );
            // The ping was answered and the close echoed, as in message mode.
            assert_eq!(
                pair.client.messages(),
                [
                    Message::Pong(Bytes::from_static(b"p1")),
                    Message::Close(Some(CloseFrame::new(CloseCode::Normal, "")))
                ]
            );
            assert!(pair.server.is_closed() && pair.client.is_closed());
            assert_eq!(pair.transport_closed_by(), Some(Side::Server));
        }
    }

    #[test]
    fn frame_mode_still_enforces_fragmentation_rules() {
        let mut pair = Pair::with_configs(Config::default(), frames_config());
        assert_fails_with(
            &mut pair,
            Side::Server,
            &RawFrame::continuation("x").encode_for(Side::Server),
            ProtocolError::ContinuationWithoutStart,
        );
        let mut pair = Pair::with_configs(Config::default(), frames_config());
        pair.inject(
            Side::Server,
            &RawFrame::binary("a").fin(false).encode_for(Side::Server),
        );
        assert_eq!(pair.server.messages().len(), 1);
        assert_fails_with(
            &mut pair,
            Side::Server,
            &RawFrame::text("b").encode_for(Side::Server),
            ProtocolError::MessageInsideFragmentedMessage("text"),
        );
    }
}
