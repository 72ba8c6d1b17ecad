//! RFC 6455 section 7 (and 5.5.1): the close handshake by every path — client first, server
//! first, without a status code, both at once, data still in flight — the codes that may appear
//! on the wire (7.4), and a transport that ends without one (7.1.5: 1006).

#![allow(clippy::unwrap_used)] // In tests, a failed unwrap is a failed assertion.

use sockeye_proto::{
    CloseCode, CloseFrame, Config, Connection, Message, OpCode, ProtocolError, Role, SendError,
    State,
};
use sockeye_test::check::assert_fails_with;
use sockeye_test::{Chunking, Pair, RawFrame, Side};

const CHUNKINGS: [Chunking; 4] = [
    Chunking::Whole,
    Chunking::Fixed(1),
    Chunking::Fixed(2),
    Chunking::Fixed(5),
];

fn close(code: CloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame::new(code, reason)))
}

/// Every way of sending must be refused with `AlreadyClosed`, and queue nothing.
fn assert_nothing_can_be_sent(connection: &mut Connection) {
    let queued = connection.pending_output().len();
    assert_eq!(connection.send_text("x"), Err(SendError::AlreadyClosed));
    assert_eq!(connection.send_binary(b"x"), Err(SendError::AlreadyClosed));
    assert_eq!(connection.send_ping(b"x"), Err(SendError::AlreadyClosed));
    assert_eq!(connection.send_pong(b"x"), Err(SendError::AlreadyClosed));
    assert_eq!(
        connection.send_first_fragment(true, b"x"),
        Err(SendError::AlreadyClosed)
    );
    assert_eq!(connection.close(None), Err(SendError::AlreadyClosed));
    assert_eq!(
        connection.close(Some(CloseFrame::new(CloseCode::Normal, ""))),
        Err(SendError::AlreadyClosed)
    );
    assert_eq!(
        connection.send(&Message::text("x")),
        Err(SendError::AlreadyClosed)
    );
    assert_eq!(connection.pending_output().len(), queued);
}

#[test]
fn client_initiated_close() {
    for chunking in CHUNKINGS {
        let mut pair = Pair::new().with_chunking(chunking.clone());
        pair.client
            .connection
            .close(Some(CloseFrame::new(CloseCode::Normal, "bye")))
            .unwrap();
        assert_eq!(pair.client.connection.state(), State::Closing);
        assert!(!pair.client.is_closed() && !pair.client.should_close_transport());
        assert_nothing_can_be_sent(&mut pair.client.connection);

        pair.transfer(Side::Client);
        // The server got the close, echoed the code, and is done: it closes TCP first.
        assert_eq!(
            pair.server.messages(),
            [close(CloseCode::Normal, "bye")],
            "{chunking:?}"
        );
        assert_eq!(
            pair.server.close_sent(),
            Some(Some(CloseFrame::new(CloseCode::Normal, "")))
        );
        assert!(pair.server.is_closed());
        assert!(pair.server.should_close_transport());
        assert_nothing_can_be_sent(&mut pair.server.connection);

        pair.transfer(Side::Server);
        // The client has its echo: closed, but it waits for the server to close TCP.
        assert_eq!(pair.client.messages(), [close(CloseCode::Normal, "")]);
        assert!(pair.client.is_closed());
        assert!(!pair.client.should_close_transport());
        assert_eq!(pair.client.connection.state(), State::Closed);

        pair.run();
        assert_eq!(pair.transport_closed_by(), Some(Side::Server));
        assert!(pair.client.saw_eof());
        assert_eq!(pair.client.errors(), []);
        assert_eq!(pair.server.errors(), []);
        assert!(pair.client.should_close_transport());
        assert_eq!(pair.client.sent_close_codes(), [Some(1000)]);
        assert_eq!(pair.server.sent_close_codes(), [Some(1000)]);
    }
}

#[test]
fn server_initiated_close() {
    for chunking in CHUNKINGS {
        let mut pair = Pair::new().with_chunking(chunking.clone());
        pair.server
            .connection
            .close(Some(CloseFrame::new(CloseCode::Other(4001), "restart")))
            .unwrap();
        assert!(!pair.server.should_close_transport());
        assert_nothing_can_be_sent(&mut pair.server.connection);

        pair.transfer(Side::Server);
        assert_eq!(
            pair.client.messages(),
            [close(CloseCode::Other(4001), "restart")]
        );
        // The client echoed; its handshake is done but it leaves closing TCP to the server.
        assert!(pair.client.is_closed());
        assert!(!pair.client.should_close_transport());
        assert_eq!(pair.server.connection.state(), State::Closing);

        pair.transfer(Side::Client);
        assert_eq!(pair.server.messages(), [close(CloseCode::Other(4001), "")]);
        assert!(pair.server.is_closed() && pair.server.should_close_transport());

        pair.run();
        assert_eq!(
            pair.transport_closed_by(),
            Some(Side::Server),
            "{chunking:?}"
        );
        assert_eq!(pair.client.errors(), []);
        assert_eq!(pair.server.errors(), []);
        assert_eq!(pair.client.sent_close_codes(), [Some(4001)]);
        assert_eq!(pair.server.sent_close_codes(), [Some(4001)]);
    }
}

#[test]
fn close_without_status_code_is_seen_as_1005_and_echoed_empty() {
    for initiator in [Side::Client, Side::Server] {
        let mut pair = Pair::new();
        pair.endpoint_mut(initiator).connection.close(None).unwrap();
        pair.run();
        let peer = initiator.peer();
        assert_eq!(pair.endpoint(peer).messages(), [Message::Close(None)]);
        assert_eq!(pair.endpoint(peer).close_received(), Some(None));
        assert_eq!(pair.endpoint(peer).close_sent(), Some(None));
        assert_eq!(pair.endpoint(initiator).messages(), [Message::Close(None)]);
        for side in [Side::Client, Side::Server] {
            let frames = pair.endpoint(side).sent_frames();
            assert_eq!(frames.len(), 1);
            assert_eq!(frames[0].opcode(), OpCode::Close);
            assert!(frames[0].payload.is_empty(), "{side:?} sent a status code");
            assert!(pair.endpoint(side).is_closed());
            assert_eq!(pair.endpoint(side).errors(), []);
        }
        assert_eq!(pair.transport_closed_by(), Some(Side::Server));
    }
}

#[test]
fn simultaneous_close() {
    for chunking in CHUNKINGS {
        let mut pair = Pair::new().with_chunking(chunking.clone());
        pair.client
            .connection
            .close(Some(CloseFrame::new(CloseCode::GoingAway, "client")))
            .unwrap();
        pair.server
            .connection
            .close(Some(CloseFrame::new(CloseCode::Other(3000), "server")))
            .unwrap();
        pair.run();
        // Each side received the other's close and sent no second one.
        assert_eq!(
            pair.server.messages(),
            [close(CloseCode::GoingAway, "client")]
        );
        assert_eq!(
            pair.client.messages(),
            [close(CloseCode::Other(3000), "server")]
        );
        assert_eq!(pair.client.sent_close_codes(), [Some(1001)]);
        assert_eq!(pair.server.sent_close_codes(), [Some(3000)]);
        assert!(pair.client.is_closed() && pair.server.is_closed());
        assert_eq!(pair.transport_closed_by(), Some(Side::Server));
        assert_eq!(pair.client.errors(), []);
        assert_eq!(pair.server.errors(), []);
    }
}

#[test]
fn data_sent_before_the_peers_close_is_still_received() {
    for chunking in CHUNKINGS {
        let mut pair = Pair::new().with_chunking(chunking.clone());
        pair.client.connection.send_text("before close").unwrap();
        pair.client.connection.close(None).unwrap();
        // The server has not seen the close yet, and keeps talking.
        pair.server.connection.send_text("in flight").unwrap();
        pair.server.connection.send_binary(b"also").unwrap();
        pair.server.connection.send_ping(b"p").unwrap();
        pair.run();
        assert_eq!(
            pair.server.messages(),
            [Message::text("before close"), Message::Close(None)]
        );
        // The client, closing, still receives all of it before the echo; it cannot answer the
        // ping (nothing may follow its close).
        assert_eq!(
            pair.client.messages(),
            [
                Message::text("in flight"),
                Message::binary(&b"also"[..]),
                Message::Ping(bytes::Bytes::from_static(b"p")),
                Message::Close(None)
            ],
            "{chunking:?}"
        );
        let client_frames: Vec<OpCode> = pair
            .client
            .sent_frames()
            .iter()
            .map(|frame| frame.opcode())
            .collect();
        assert_eq!(client_frames, [OpCode::Text, OpCode::Close]);
        assert_eq!(pair.client.errors(), []);
    }
}

#[test]
fn nothing_after_the_peers_close_frame_is_delivered() {
    for side in [Side::Client, Side::Server] {
        let mut pair = Pair::new();
        let bytes: Vec<u8> = [
            RawFrame::text("first"),
            RawFrame::close(1000, "done"),
            RawFrame::text("after"),
            RawFrame::new(0x3, "even garbage"),
        ]
        .iter()
        .flat_map(|frame| frame.encode_for(side))
        .collect();
        pair.inject(side, &bytes);
        pair.inject(side, &RawFrame::text("later still").encode_for(side));
        assert_eq!(
            pair.endpoint(side).messages(),
            [Message::text("first"), close(CloseCode::Normal, "done")]
        );
        assert_eq!(pair.endpoint(side).errors(), []);
        assert_eq!(pair.endpoint_mut(side).connection.next_message(), Ok(None));
        assert_nothing_can_be_sent(&mut pair.endpoint_mut(side).connection);
    }
}

#[test]
fn ping_received_while_closing_is_delivered_but_not_answered() {
    let mut pair = Pair::new();
    pair.server.connection.close(None).unwrap();
    pair.inject(
        Side::Server,
        &RawFrame::ping("still there?").encode_for(Side::Server),
    );
    assert_eq!(
        pair.server.messages(),
        [Message::Ping(bytes::Bytes::from_static(b"still there?"))]
    );
    let frames = sockeye_test::parse_frames(pair.server.connection.pending_output());
    assert_eq!(frames.len(), 1, "only the close may be queued: {frames:?}");
    assert_eq!(frames[0].opcode(), OpCode::Close);
}

#[test]
fn every_code_allowed_on_the_wire_is_accepted_and_echoed() {
    for code in (1000u16..=1003)
        .chain(1007..=1014)
        .chain([3000, 3999, 4000, 4999])
    {
        for receiver in [Side::Client, Side::Server] {
            let mut pair = Pair::new();
            pair.inject(receiver, &RawFrame::close(code, "why").encode_for(receiver));
            assert_eq!(
                pair.endpoint(receiver).messages(),
                [close(CloseCode::from(code), "why")],
                "{code}"
            );
            assert_eq!(
                CloseFrame::parse(
                    &sockeye_test::parse_frames(
                        pair.endpoint(receiver).connection.pending_output()
                    )[0]
                    .payload
                ),
                Ok(Some(CloseFrame::new(CloseCode::from(code), ""))),
                "{code}"
            );
        }
    }
}

#[test]
fn codes_not_allowed_on_the_wire_are_1002() {
    for code in [
        0u16,
        999,
        1004,
        1005,
        1006,
        1015,
        1016,
        2999,
        5000,
        u16::MAX,
    ] {
        for receiver in [Side::Client, Side::Server] {
            let mut pair = Pair::new();
            assert_fails_with(
                &mut pair,
                receiver,
                &RawFrame::close(code, "").encode_for(receiver),
                ProtocolError::InvalidCloseCode(code),
            );
        }
    }
}

#[test]
fn one_byte_close_payload_is_1002() {
    for receiver in [Side::Client, Side::Server] {
        let mut pair = Pair::new();
        assert_fails_with(
            &mut pair,
            receiver,
            &RawFrame::new(0x8, [0x03]).encode_for(receiver),
            ProtocolError::CloseFrameOneByte,
        );
    }
}

#[test]
fn close_reason_that_is_not_utf8_is_1007() {
    for reason in [&b"\xff"[..], b"ok\xc3", b"\xed\xa0\x80", b"\xc0\xaf"] {
        for receiver in [Side::Client, Side::Server] {
            let mut pair = Pair::new();
            assert_fails_with(
                &mut pair,
                receiver,
                &RawFrame::close(1000, reason).encode_for(receiver),
                ProtocolError::CloseReasonNotUtf8,
            );
        }
    }
    // Even with text validation turned off.
    let mut config = Config::default();
    config.validate_utf8 = false;
    let mut pair = Pair::with_configs(config.clone(), config);
    assert_fails_with(
        &mut pair,
        Side::Server,
        &RawFrame::close(1000, b"\xff").encode_for(Side::Server),
        ProtocolError::CloseReasonNotUtf8,
    );
}

#[test]
fn sending_a_close_that_may_not_go_on_the_wire_is_refused() {
    let mut server = Connection::new(Role::Server, Config::default());
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        assert_eq!(
            server.close(Some(CloseFrame::new(CloseCode::from(code), ""))),
            Err(SendError::InvalidCloseCode(code))
        );
    }
    assert_eq!(
        server.close(Some(CloseFrame::new(CloseCode::Normal, "r".repeat(124)))),
        Err(SendError::CloseReasonTooLong(124))
    );
    assert_eq!(server.pending_output(), b"");
    assert_eq!(server.state(), State::Open);
    server
        .close(Some(CloseFrame::new(CloseCode::Normal, "r".repeat(123))))
        .unwrap();
    assert_eq!(server.pending_output().len(), 2 + 125);
}

#[test]
fn eof_without_close_is_1006_and_sends_nothing() {
    for side in [Side::Client, Side::Server] {
        for before in [Vec::new(), RawFrame::text("whole").encode_for(side)] {
            let mut pair = Pair::new();
            pair.inject(side, &before);
            pair.close_transport(side.peer());
            let endpoint = pair.endpoint_mut(side);
            assert_eq!(endpoint.errors(), [ProtocolError::ClosedWithoutCloseFrame]);
            assert_eq!(
                ProtocolError::ClosedWithoutCloseFrame.close_code(),
                CloseCode::AbnormalClosure
            );
            assert_eq!(
                endpoint.connection.pending_output(),
                b"",
                "no close frame for 1006"
            );
            assert_eq!(endpoint.close_sent(), None);
            assert!(endpoint.is_closed() && endpoint.should_close_transport());
            assert_eq!(
                endpoint.connection.next_message(),
                Err(ProtocolError::ClosedWithoutCloseFrame)
            );
            assert_eq!(
                endpoint.connection.send_text("x"),
                Err(SendError::Failed(ProtocolError::ClosedWithoutCloseFrame))
            );
            // A whole message that arrived before the end is still delivered, first.
            let expected: Vec<Message> = if before.is_empty() {
                vec![]
            } else {
                vec![Message::text("whole")]
            };
            assert_eq!(endpoint.messages(), expected);
        }
    }
}

#[test]
fn eof_in_the_middle_of_a_frame_is_1006() {
    for side in [Side::Client, Side::Server] {
        let frame = RawFrame::text("cut short").encode_for(side);
        for cut in 1..frame.len() {
            let mut pair = Pair::new();
            pair.inject(side, &frame[..cut]);
            assert_eq!(pair.endpoint(side).errors(), []);
            pair.close_transport(side.peer());
            assert_eq!(
                pair.endpoint(side).errors(),
                [ProtocolError::ClosedWithoutCloseFrame],
                "{side:?} cut at {cut}"
            );
            assert_eq!(pair.endpoint(side).messages(), []);
        }
    }
}

#[test]
fn eof_after_sending_close_but_before_the_echo_is_1006() {
    for side in [Side::Client, Side::Server] {
        let mut pair = Pair::new();
        pair.endpoint_mut(side).connection.close(None).unwrap();
        pair.transfer(side);
        // The peer vanishes without its echo reaching us.
        pair.close_transport(side.peer());
        assert_eq!(
            pair.endpoint(side).errors(),
            [ProtocolError::ClosedWithoutCloseFrame]
        );
        assert_eq!(pair.endpoint(side).sent_close_codes(), [None]);
    }
}

#[test]
fn failure_while_closing_sends_no_second_close() {
    for side in [Side::Client, Side::Server] {
        let mut pair = Pair::new();
        pair.endpoint_mut(side)
            .connection
            .close(Some(CloseFrame::new(CloseCode::Normal, "")))
            .unwrap();
        pair.inject(side, &RawFrame::new(0x4, "").encode_for(side));
        assert_eq!(
            pair.endpoint(side).errors(),
            [ProtocolError::ReservedOpcode(4)]
        );
        pair.run();
        assert_eq!(pair.endpoint(side).sent_close_codes(), [Some(1000)]);
        assert!(pair.endpoint(side).should_close_transport());
    }
}

#[test]
fn the_peer_of_a_failed_side_echoes_the_failure_code() {
    let mut pair = Pair::new();
    pair.inject(
        Side::Server,
        &RawFrame::text("x").unmasked().encode_for(Side::Server),
    );
    pair.run();
    assert_eq!(
        pair.client.messages(),
        [close(CloseCode::ProtocolError, "protocol error")]
    );
    assert_eq!(pair.client.sent_close_codes(), [Some(1002)]);
    assert_eq!(pair.server.sent_close_codes(), [Some(1002)]);
    assert_eq!(pair.transport_closed_by(), Some(Side::Server));
}
