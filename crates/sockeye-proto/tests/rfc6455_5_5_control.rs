//! RFC 6455 section 5.5: control frames — at most 125 bytes, never fragmented, allowed between
//! the fragments of a message — and 5.5.2/5.5.3: a ping is answered by a pong with its payload.

#![allow(clippy::unwrap_used)] // In tests, a failed unwrap is a failed assertion.

use bytes::Bytes;
use sockeye_proto::{Config, Message, OpCode, ProtocolError, SendError};
use sockeye_test::check::assert_fails_with;
use sockeye_test::{Chunking, LengthEncoding, Pair, RawFrame, Side};

fn ping(payload: &[u8]) -> Message {
    Message::Ping(Bytes::copy_from_slice(payload))
}

fn pong(payload: &[u8]) -> Message {
    Message::Pong(Bytes::copy_from_slice(payload))
}

#[test]
fn automatic_pong_carries_the_ping_payload_both_ways() {
    for pinger in [Side::Client, Side::Server] {
        for payload in [&b""[..], b"x", b"\x00\xff binary", &[0xA5; 125]] {
            let mut pair = Pair::new().with_chunking(Chunking::Fixed(5));
            pair.endpoint_mut(pinger)
                .connection
                .send_ping(payload)
                .unwrap();
            pair.exchange();
            let answerer = pinger.peer();
            assert_eq!(pair.endpoint(answerer).messages(), [ping(payload)]);
            assert_eq!(pair.endpoint(pinger).messages(), [pong(payload)]);
            let sent = pair.endpoint(answerer).sent_frames();
            assert_eq!(sent.len(), 1);
            assert_eq!(sent[0].opcode(), OpCode::Pong);
            assert_eq!(&sent[0].payload[..], payload);
        }
    }
}

#[test]
fn every_ping_gets_its_own_pong_in_order() {
    let mut pair = Pair::new();
    for n in 0u8..5 {
        pair.client.connection.send_ping(&[n]).unwrap();
    }
    pair.exchange();
    let pongs: Vec<Message> = (0u8..5).map(|n| pong(&[n])).collect();
    assert_eq!(pair.client.messages(), pongs);
}

#[test]
fn auto_pong_off_delivers_the_ping_without_answering() {
    let mut config = Config::default();
    config.auto_pong = false;
    let mut pair = Pair::with_configs(Config::default(), config);
    pair.client.connection.send_ping(b"hello?").unwrap();
    pair.exchange();
    assert_eq!(pair.server.messages(), [ping(b"hello?")]);
    assert!(pair.server.sent_bytes().is_empty());
    assert_eq!(pair.client.messages(), []);
    // The application may answer by hand.
    pair.server.connection.send_pong(b"hello?").unwrap();
    pair.exchange();
    assert_eq!(pair.client.messages(), [pong(b"hello?")]);
}

#[test]
fn unsolicited_pong_is_delivered_and_not_answered() {
    let mut pair = Pair::new();
    pair.server.connection.send_pong(b"heartbeat").unwrap();
    pair.exchange();
    assert_eq!(pair.client.messages(), [pong(b"heartbeat")]);
    assert!(pair.client.sent_bytes().is_empty());
}

#[test]
fn control_frames_between_fragments_are_delivered_and_the_message_assembles() {
    for chunking in [Chunking::Whole, Chunking::Fixed(1), Chunking::Fixed(4)] {
        for side in [Side::Client, Side::Server] {
            let mut pair = Pair::new().with_chunking(chunking.clone());
            let bytes: Vec<u8> = [
                RawFrame::text("frag").fin(false),
                RawFrame::ping("p1"),
                RawFrame::continuation("men").fin(false),
                RawFrame::pong("p2"),
                RawFrame::ping(""),
                RawFrame::continuation("ted").fin(true),
                RawFrame::binary("next"),
            ]
            .iter()
            .flat_map(|frame| frame.encode_for(side))
            .collect();
            pair.inject(side, &bytes);
            assert_eq!(
                pair.endpoint(side).messages(),
                [
                    ping(b"p1"),
                    pong(b"p2"),
                    ping(b""),
                    Message::text("fragmented"),
                    Message::binary(&b"next"[..]),
                ],
                "{side:?} {chunking:?}"
            );
            // Both pings were answered, in order, while the message was still incomplete.
            pair.exchange();
            assert_eq!(
                pair.endpoint(side.peer()).messages(),
                [pong(b"p1"), pong(b"")],
                "{side:?} {chunking:?}"
            );
        }
    }
}

#[test]
fn a_ping_between_fragments_the_application_sends_is_fine() {
    let mut pair = Pair::new();
    pair.client
        .connection
        .send_first_fragment(false, b"ab")
        .unwrap();
    pair.client.connection.send_ping(b"mid").unwrap();
    pair.client
        .connection
        .send_continuation(b"cd", true)
        .unwrap();
    pair.exchange();
    assert_eq!(
        pair.server.messages(),
        [ping(b"mid"), Message::binary(&b"abcd"[..])]
    );
    assert_eq!(pair.client.messages(), [pong(b"mid")]);
}

#[test]
fn fragmented_control_frames_are_1002() {
    for side in [Side::Client, Side::Server] {
        for frame in [
            RawFrame::ping("p"),
            RawFrame::pong("p"),
            RawFrame::close(1000, ""),
            RawFrame::new(0x9, ""),
        ] {
            let mut pair = Pair::new();
            assert_fails_with(
                &mut pair,
                side,
                &frame.fin(false).encode_for(side),
                ProtocolError::FragmentedControlFrame,
            );
        }
    }
}

#[test]
fn fragmented_control_frame_inside_a_fragmented_message_is_1002() {
    let mut pair = Pair::new();
    pair.inject(
        Side::Server,
        &RawFrame::text("a").fin(false).encode_for(Side::Server),
    );
    assert_fails_with(
        &mut pair,
        Side::Server,
        &RawFrame::ping("").fin(false).encode_for(Side::Server),
        ProtocolError::FragmentedControlFrame,
    );
}

#[test]
fn control_frames_longer_than_125_bytes_are_1002_from_the_header() {
    for side in [Side::Client, Side::Server] {
        for (frame, len) in [
            (RawFrame::ping(vec![0; 126]), 126u64),
            (RawFrame::pong(vec![0; 200]), 200),
            (RawFrame::close(1000, vec![b'a'; 124]), 126),
            (RawFrame::ping(vec![0; 70000]), 70000),
        ] {
            // The header alone decides it.
            let mut pair = Pair::new();
            assert_fails_with(
                &mut pair,
                side,
                &frame.header_for(side),
                ProtocolError::ControlFrameTooLong(len),
            );
        }
    }
}

#[test]
fn control_frames_of_exactly_125_bytes_are_fine() {
    for side in [Side::Client, Side::Server] {
        let mut pair = Pair::new();
        pair.inject(side, &RawFrame::ping([7; 125]).encode_for(side));
        pair.inject(side, &RawFrame::pong([8; 125]).encode_for(side));
        // 125 bytes written with a 16-bit length is non-minimal, not too long.
        assert_eq!(
            pair.endpoint(side).messages(),
            [ping(&[7; 125]), pong(&[8; 125])]
        );
        assert_fails_with(
            &mut pair,
            side,
            &RawFrame::ping([0; 125])
                .length(LengthEncoding::Bits16)
                .encode_for(side),
            ProtocolError::NonMinimalLength {
                len: 125,
                encoded_bytes: 2,
            },
        );
    }
}

#[test]
fn sending_an_oversized_control_payload_is_refused_and_queues_nothing() {
    let mut pair = Pair::new();
    let connection = &mut pair.client.connection;
    assert_eq!(
        connection.send_ping(&[0; 126]),
        Err(SendError::ControlPayloadTooLong(126))
    );
    assert_eq!(
        connection.send_pong(&[0; 1000]),
        Err(SendError::ControlPayloadTooLong(1000))
    );
    assert_eq!(connection.pending_output(), b"");
    connection.send_ping(&[0; 125]).unwrap();
}

#[test]
fn control_frames_are_not_subject_to_max_frame_size() {
    let mut config = Config::default();
    config.max_frame_size = 4;
    config.max_message_size = 4;
    let mut pair = Pair::with_configs(config.clone(), config);
    pair.client.connection.send_ping(&[1; 100]).unwrap();
    pair.server.connection.send_pong(&[2; 125]).unwrap();
    pair.exchange();
    assert_eq!(pair.server.messages(), [ping(&[1; 100])]);
    assert_eq!(pair.client.messages(), [pong(&[2; 125]), pong(&[1; 100])]);
}
