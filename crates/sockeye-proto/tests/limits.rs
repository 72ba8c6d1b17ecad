//! Configured limits: `max_frame_size` and `max_message_size` fail with 1009 as soon as the
//! header that crosses them arrives, before any of its payload; limits are inclusive.

#![allow(clippy::unwrap_used)] // In tests, a failed unwrap is a failed assertion.

use bytes::BytesMut;
use sockeye_proto::frame::FrameDecoder;
use sockeye_proto::{CloseCode, CloseFrame, Config, Message, ProtocolError};
use sockeye_test::check::assert_fails_with;
use sockeye_test::{Pair, RawFrame, Side};

const FRAME_LIMIT: usize = 1000;
const MESSAGE_LIMIT: usize = 2500;

fn limited() -> Config {
    let mut config = Config::default();
    config.max_frame_size = FRAME_LIMIT;
    config.max_message_size = MESSAGE_LIMIT;
    config
}

/// Both sides limited; `receiver` delivers frames instead of messages when `frames_mode`.
fn limited_pair(frames_mode: bool, receiver: Side) -> Pair {
    let mut frames = limited();
    frames.assemble_messages = !frames_mode;
    match receiver {
        Side::Client => Pair::with_configs(frames, limited()),
        Side::Server => Pair::with_configs(limited(), frames),
    }
}

#[test]
fn frame_at_the_limit_is_accepted() {
    for side in [Side::Client, Side::Server] {
        let mut pair = limited_pair(false, side);
        pair.inject(
            side,
            &RawFrame::binary(vec![1; FRAME_LIMIT]).encode_for(side),
        );
        assert_eq!(
            pair.endpoint(side).messages(),
            [Message::binary(vec![1; FRAME_LIMIT])]
        );
    }
}

#[test]
fn frame_over_the_limit_is_1009_from_its_header_alone() {
    for frames_mode in [false, true] {
        for side in [Side::Client, Side::Server] {
            for (opcode, len) in [(0x2u8, FRAME_LIMIT + 1), (0x1, 70_000), (0x2, 1 << 40)] {
                let mut pair = limited_pair(frames_mode, side);
                let header = RawFrame::new(opcode, [])
                    .declare_len(len as u64)
                    .header_for(side);
                assert_fails_with(
                    &mut pair,
                    side,
                    &header,
                    ProtocolError::FrameTooLarge {
                        size: len as u64,
                        limit: FRAME_LIMIT,
                    },
                );
            }
        }
    }
}

#[test]
fn the_peer_sees_1009_message_too_big() {
    let mut pair = limited_pair(false, Side::Server);
    pair.inject(
        Side::Server,
        &RawFrame::binary(vec![0; FRAME_LIMIT + 1]).encode_for(Side::Server),
    );
    pair.run();
    assert_eq!(
        pair.client.messages(),
        [Message::Close(Some(CloseFrame::new(
            CloseCode::MessageTooBig,
            "message too big"
        )))]
    );
}

#[test]
fn message_at_the_limit_is_accepted() {
    for side in [Side::Client, Side::Server] {
        let mut pair = limited_pair(false, side);
        let bytes: Vec<u8> = [
            RawFrame::text(vec![b'a'; FRAME_LIMIT]).fin(false),
            RawFrame::continuation(vec![b'b'; FRAME_LIMIT]).fin(false),
            RawFrame::continuation(vec![b'c'; MESSAGE_LIMIT - 2 * FRAME_LIMIT]),
        ]
        .iter()
        .flat_map(|frame| frame.encode_for(side))
        .collect();
        pair.inject(side, &bytes);
        let messages = pair.endpoint(side).messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].len(), MESSAGE_LIMIT);
    }
}

#[test]
fn message_over_the_limit_is_1009_from_the_crossing_header() {
    for frames_mode in [false, true] {
        for side in [Side::Client, Side::Server] {
            let mut pair = limited_pair(frames_mode, side);
            let first: Vec<u8> = [
                RawFrame::binary(vec![1; FRAME_LIMIT]).fin(false),
                RawFrame::ping("between"),
                RawFrame::continuation(vec![2; FRAME_LIMIT]).fin(false),
            ]
            .iter()
            .flat_map(|frame| frame.encode_for(side))
            .collect();
            pair.inject(side, &first);
            assert_eq!(pair.endpoint(side).errors(), []);
            // 2000 bytes so far; a continuation announcing 501 more crosses 2500.
            let crossing = RawFrame::continuation(vec![3; MESSAGE_LIMIT - 2 * FRAME_LIMIT + 1])
                .header_for(side);
            assert_fails_with(
                &mut pair,
                side,
                &crossing,
                ProtocolError::MessageTooLarge {
                    size: MESSAGE_LIMIT as u64 + 1,
                    limit: MESSAGE_LIMIT,
                },
            );
        }
    }
}

#[test]
fn single_frame_over_the_message_limit_is_1009() {
    let mut config = Config::default();
    config.max_frame_size = 100;
    config.max_message_size = 10;
    let mut pair = Pair::with_configs(config.clone(), config);
    assert_fails_with(
        &mut pair,
        Side::Server,
        &RawFrame::text("eleven char").header_for(Side::Server),
        ProtocolError::MessageTooLarge {
            size: 11,
            limit: 10,
        },
    );
}

#[test]
fn the_message_count_restarts_with_each_message() {
    let mut pair = limited_pair(false, Side::Server);
    for _ in 0..5 {
        pair.inject(
            Side::Server,
            &RawFrame::binary(vec![0; FRAME_LIMIT])
                .fin(false)
                .encode_for(Side::Server),
        );
        pair.inject(
            Side::Server,
            &RawFrame::continuation(vec![0; FRAME_LIMIT]).encode_for(Side::Server),
        );
    }
    assert_eq!(pair.server.messages().len(), 5);
    assert_eq!(pair.server.errors(), []);
}

#[test]
fn a_huge_announced_frame_with_default_limits_fails_at_once() {
    let mut pair = Pair::new();
    assert_fails_with(
        &mut pair,
        Side::Client,
        &RawFrame::binary("")
            .declare_len(1 << 62)
            .header_for(Side::Client),
        ProtocolError::FrameTooLarge {
            size: 1 << 62,
            limit: Config::default().max_frame_size,
        },
    );
}

/// With the limits lifted, a header announcing an exabyte is legal: the connection must wait for
/// the payload, not try to allocate it (which aborted the process).
#[test]
fn unlimited_connection_does_not_allocate_what_a_header_announces() {
    let mut config = Config::default();
    config.max_frame_size = usize::MAX;
    config.max_message_size = usize::MAX;
    for side in [Side::Client, Side::Server] {
        let mut pair = Pair::with_configs(config.clone(), config.clone());
        let header = RawFrame::binary("").declare_len(1 << 62).header_for(side);
        pair.inject(side, &header);
        pair.inject(side, b"some of the payload");
        assert_eq!(pair.endpoint(side).events(), []);
        assert_eq!(pair.endpoint(side).connection.buffered_input(), 19);
    }
}

#[test]
fn unlimited_frame_decoder_does_not_allocate_what_a_header_announces() {
    let mut decoder = FrameDecoder::new(usize::MAX);
    let mut buf = BytesMut::from(&RawFrame::binary("").declare_len(1 << 62).to_bytes()[..]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    buf.extend_from_slice(b"more");
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert!(buf.capacity() < 1 << 30, "capacity {}", buf.capacity());
}

#[test]
fn idle_buffers_are_released_once_empty_and_the_connection_goes_on() {
    let mut server = sockeye_proto::Connection::new(sockeye_proto::Role::Server, Config::default());
    let large = vec![7u8; 64 * 1024];
    server.receive_data(&RawFrame::binary(large.clone()).encode_for(Side::Server));
    let message = server.next_message().unwrap().unwrap();
    assert_eq!(message, Message::binary(large.clone()));
    // Small messages are copied into the output buffer, which grows with them.
    for _ in 0..16 {
        server.send(&Message::binary(vec![1u8; 4096])).unwrap();
    }
    let pending = server.pending_output_len();
    // Output not yet written is never given back.
    server.release_idle_buffers(4096);
    assert_eq!(server.pending_output_len(), pending);
    server.consume_output(pending);
    assert!(server.release_idle_buffers(4096) >= 16 * 4096);
    // The delivered message shares the input buffer; once it is gone, that goes back too.
    drop(message);
    assert!(server.release_idle_buffers(4096) >= large.len());
    assert_eq!(
        server.release_idle_buffers(4096),
        0,
        "nothing left to give back"
    );
    server.receive_data(&RawFrame::text("after").encode_for(Side::Server));
    assert_eq!(server.next_message().unwrap(), Some(Message::text("after")));
}
