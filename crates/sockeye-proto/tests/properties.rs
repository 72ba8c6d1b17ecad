//! Property tests: the codec round-trips every frame shape; a connection makes the same events
//! of the same bytes however they are cut; and no input — random or almost valid — panics the
//! connection (either role), the frame decoder, the header parser or the handshake parsers.

#![allow(clippy::unwrap_used)] // In tests, a failed unwrap is a failed assertion.

use bytes::BytesMut;
use proptest::prelude::*;
use proptest::sample::Index;
use sockeye_proto::frame::{encode_frame, FrameDecoder, MAX_HEADER_LEN};
use sockeye_proto::handshake::server::parse_request;
use sockeye_proto::handshake::{ClientHandshake, ClientRequest};
use sockeye_proto::random::FixedMaskKey;
use sockeye_proto::{
    CloseCode, CloseFrame, Config, Connection, FrameHeader, Message, OpCode, Role, State,
};
use sockeye_test::drive::Event;
use sockeye_test::strategy::{boundary_len, chunking, encode_stream, frame_stream, seeded_bytes};
use sockeye_test::{feed, Chunking, Pair, RawFrame, Side};

fn connection(role: Role, config: Config) -> Connection {
    Connection::with_mask_keys(
        role,
        config,
        Box::new(FixedMaskKey([0xA1, 0xB2, 0xC3, 0xD4])),
    )
}

fn side_of(role: Role) -> Side {
    match role {
        Role::Client => Side::Client,
        Role::Server => Side::Server,
    }
}

fn any_role() -> BoxedStrategy<Role> {
    prop_oneof![Just(Role::Client), Just(Role::Server)].boxed()
}

/// Configurations that change what a connection does with a stream: validation, frame mode,
/// automatic pongs, and limits small enough to be crossed (or lifted entirely).
fn any_config() -> BoxedStrategy<Config> {
    let limit = prop_oneof![
        3 => Just(None),
        1 => (0usize..200).prop_map(Some),
        1 => Just(Some(usize::MAX)),
    ];
    (
        any::<bool>(),
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.9),
        limit.clone(),
        limit,
        proptest::bool::weighted(0.2),
    )
        .prop_map(
            |(validate, frames, pong, frame_limit, message_limit, lifted)| {
                let mut config = Config::default();
                config.validate_utf8 = validate;
                config.assemble_messages = !frames;
                config.auto_pong = pong;
                if let Some(limit) = frame_limit {
                    config.max_frame_size = limit;
                }
                if let Some(limit) = message_limit {
                    config.max_message_size = limit;
                }
                if lifted {
                    // No limits at all: a header may announce up to 2^63 - 1 bytes.
                    config.max_frame_size = usize::MAX;
                    config.max_message_size = usize::MAX;
                }
                config
            },
        )
        .boxed()
}

/// `bytes` with a few bytes overwritten: almost-valid input that reaches deep into the parser.
fn garble(bytes: &mut [u8], edits: &[(Index, u8)]) {
    if bytes.is_empty() {
        return;
    }
    for (at, value) in edits {
        let at = at.index(bytes.len());
        bytes[at] = *value;
    }
}

/// Input for a connection: a frame stream addressed to it, perhaps garbled, or pure noise.
fn connection_input(role: Role) -> BoxedStrategy<Vec<u8>> {
    let side = side_of(role);
    prop_oneof![
        3 => frame_stream().prop_map(move |frames| encode_stream(&frames, side)),
        2 => (frame_stream(), proptest::collection::vec((any::<Index>(), any::<u8>()), 1..4))
            .prop_map(move |(frames, edits)| {
                let mut bytes = encode_stream(&frames, side);
                garble(&mut bytes, &edits);
                bytes
            }),
        1 => proptest::collection::vec(any::<u8>(), 0..300),
    ]
    .boxed()
}

/// A received event stream is well-formed: at most one error, and nothing after it.
fn check_event_shape(events: &[Event]) -> Result<(), TestCaseError> {
    let errors = events
        .iter()
        .filter(|event| matches!(event, Event::Error(_)))
        .count();
    prop_assert!(errors <= 1, "more than one error: {events:?}");
    if errors == 1 {
        prop_assert!(
            matches!(events.last(), Some(Event::Error(_))),
            "an event followed the error: {events:?}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every header — any opcode (reserved too), FIN, RSV bits, mask, and lengths around each
    /// encoding boundary up to 2^63 - 1 — encodes to the minimal form and parses back, and no
    /// shorter prefix parses.
    #[test]
    fn header_round_trip(
        fin in any::<bool>(),
        rsv in 0u8..8,
        opcode in 0u8..16,
        mask in proptest::option::of(any::<[u8; 4]>()),
        payload_len in prop_oneof![
            boundary_len().prop_map(|len| len as u64),
            0u64..(1 << 63),
            Just((1u64 << 63) - 1),
        ],
    ) {
        let header = FrameHeader { fin, rsv, opcode: OpCode::from_bits(opcode), mask, payload_len };
        let mut buf = [0u8; MAX_HEADER_LEN];
        let len = header.encode(&mut buf);
        prop_assert_eq!(len, header.encoded_len());
        prop_assert_eq!(FrameHeader::parse(&buf[..len]), Ok(Some((header, len))));
        for cut in 0..len {
            prop_assert_eq!(FrameHeader::parse(&buf[..cut]), Ok(None));
        }
        // The test crate's writer agrees with the codec's on legal headers.
        let mut raw = RawFrame::new(opcode, []).fin(fin).rsv(rsv).declare_len(payload_len);
        raw = match mask {
            Some(key) => raw.masked(key),
            None => raw.unmasked(),
        };
        prop_assert_eq!(raw.to_bytes(), buf[..len].to_vec());
    }

    /// Whole frames of every shape survive encode_frame + FrameDecoder, fed in any chunking.
    #[test]
    fn frame_round_trip(
        fin in any::<bool>(),
        rsv in 0u8..8,
        opcode in 0u8..16,
        mask in proptest::option::of(any::<[u8; 4]>()),
        len in boundary_len(),
        seed in any::<u64>(),
        chunking in chunking(),
        frames in 1usize..3,
    ) {
        let payload = seeded_bytes(len, seed);
        let opcode = OpCode::from_bits(opcode);
        let mut wire = BytesMut::new();
        for _ in 0..frames {
            encode_frame(&mut wire, fin, rsv, opcode, mask, &payload);
        }
        let mut decoder = FrameDecoder::new(len);
        let mut buf = BytesMut::new();
        let mut decoded = Vec::new();
        for piece in chunking.split(&wire) {
            buf.extend_from_slice(piece);
            while let Some(frame) = decoder.decode(&mut buf).expect("a legal frame") {
                decoded.push(frame);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(decoded.len(), frames);
        for frame in decoded {
            prop_assert_eq!(
                frame.header,
                FrameHeader { fin, rsv, opcode, mask, payload_len: len as u64 }
            );
            prop_assert!(frame.payload == payload, "payload differs");
        }
    }

    /// The same bytes, cut any way, give the same messages, the same error, the same output
    /// (pongs, echoes, failure closes) and the same final state — for either role and any
    /// configuration, with or without end of stream.
    #[test]
    fn any_chunking_gives_the_same_events(
        (role, input) in any_role().prop_flat_map(|role| (Just(role), connection_input(role))),
        config in any_config(),
        cut_a in chunking(),
        eof in any::<bool>(),
    ) {
        let whole = feed(&mut connection(role, config.clone()), &input, &Chunking::Whole, eof);
        let cut = feed(&mut connection(role, config.clone()), &input, &cut_a, eof);
        let bytewise = feed(&mut connection(role, config), &input, &Chunking::Fixed(1), eof);
        check_event_shape(&whole.events)?;
        prop_assert_eq!(&whole, &cut);
        prop_assert_eq!(&whole, &bytewise);
    }

    /// A conforming peer's messages arrive exactly as sent, both ways, in any chunking.
    #[test]
    fn pair_delivers_what_was_sent(
        messages in proptest::collection::vec(
            prop_oneof![
                "\\PC{0,30}".prop_map(Message::text),
                proptest::collection::vec(any::<u8>(), 0..300).prop_map(Message::binary),
                proptest::collection::vec(any::<u8>(), 0..=125)
                    .prop_map(|p| Message::Ping(p.into())),
            ],
            0..8,
        ),
        fragment_at in any::<Index>(),
        chunking in chunking(),
        close_code in prop_oneof![Just(None), (3000u16..5000).prop_map(Some)],
    ) {
        for sender in [Side::Client, Side::Server] {
            let mut pair = Pair::new().with_chunking(chunking.clone());
            let connection = &mut pair.endpoint_mut(sender).connection;
            for message in &messages {
                match message {
                    // Binary messages go out in two fragments.
                    Message::Binary(data) => {
                        let at = fragment_at.index(data.len() + 1);
                        connection.send_first_fragment(false, &data[..at]).unwrap();
                        connection.send_continuation(&data[at..], true).unwrap();
                    }
                    other => connection.send(other).unwrap(),
                }
            }
            let frame = close_code.map(|code| CloseFrame::new(CloseCode::from(code), "end"));
            connection.close(frame.clone()).unwrap();
            pair.run();
            let receiver = sender.peer();
            let mut expected = messages.clone();
            expected.push(Message::Close(frame));
            prop_assert_eq!(pair.endpoint(receiver).messages(), expected);
            prop_assert_eq!(pair.endpoint(receiver).errors(), vec![]);
            prop_assert_eq!(pair.endpoint(sender).errors(), vec![]);
            prop_assert_eq!(pair.transport_closed_by(), Some(Side::Server));
            prop_assert!(pair.client.is_closed() && pair.server.is_closed());
        }
    }
}

/// One step of an application driving a connection under random input.
#[derive(Clone, Debug)]
enum Step {
    Receive(Vec<u8>),
    SendText(String),
    SendFragment(bool, Vec<u8>, bool),
    SendPing(Vec<u8>),
    Close(u16),
    Eof,
}

fn step(role: Role) -> BoxedStrategy<Step> {
    prop_oneof![
        6 => connection_input(role).prop_map(Step::Receive),
        1 => "\\PC{0,10}".prop_map(Step::SendText),
        1 => (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..10), any::<bool>())
            .prop_map(|(first, data, fin)| Step::SendFragment(first, data, fin)),
        1 => proptest::collection::vec(any::<u8>(), 0..200).prop_map(Step::SendPing),
        1 => any::<u16>().prop_map(Step::Close),
        1 => Just(Step::Eof),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Random bytes and almost-valid frames, mixed with the application's own sends and end of
    /// stream, never panic a connection of either role; errors stay sticky and closed stays closed.
    #[test]
    fn connection_never_panics(
        (role, steps) in any_role().prop_flat_map(|role| {
            (Just(role), proptest::collection::vec(step(role), 0..6))
        }),
        config in any_config(),
        chunking in chunking(),
    ) {
        let mut connection = connection(role, config);
        let mut events = Vec::new();
        let mut wire = Vec::new();
        for step in steps {
            match step {
                Step::Receive(bytes) => {
                    for piece in chunking.split(&bytes) {
                        connection.receive_data(piece);
                        sockeye_test::drive::drain(&mut connection, &mut events);
                    }
                }
                Step::SendText(text) => { let _ = connection.send_text(&text); }
                Step::SendFragment(true, data, _) => {
                    let _ = connection.send_first_fragment(true, &data);
                }
                Step::SendFragment(false, data, fin) => {
                    let _ = connection.send_continuation(&data, fin);
                }
                Step::SendPing(data) => { let _ = connection.send_ping(&data); }
                Step::Close(code) => {
                    let _ = connection.close(Some(CloseFrame::new(CloseCode::from(code), "")));
                }
                Step::Eof => {
                    connection.receive_eof();
                    sockeye_test::drive::drain(&mut connection, &mut events);
                }
            }
            // The transport takes half of what is pending each time.
            let written = connection.pending_output().len() / 2;
            wire.extend_from_slice(&connection.pending_output()[..written]);
            connection.consume_output(written);
            let was_closed = connection.is_closed();
            check_event_shape(&events)?;
            if connection.failure().is_some() {
                prop_assert_eq!(connection.state(), State::Closed);
                prop_assert!(connection.should_close_transport());
            }
            prop_assert!(!was_closed || connection.is_closed());
        }
        // Everything it wrote, then what is still pending, is a sequence of whole frames.
        wire.extend_from_slice(&connection.take_output());
        sockeye_test::parse_frames(&wire);
    }

    /// The stand-alone decoder, any limit, any chunking: never a panic, and an error stops it.
    #[test]
    fn frame_decoder_never_panics(
        input in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..400),
            connection_input(Role::Server),
            connection_input(Role::Client),
        ],
        limit in prop_oneof![0usize..300, Just(usize::MAX)],
        chunking in chunking(),
    ) {
        let mut decoder = FrameDecoder::new(limit);
        let mut buf = BytesMut::new();
        'feed: for piece in chunking.split(&input) {
            buf.extend_from_slice(piece);
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(frame)) => {
                        prop_assert!(frame.payload.len() <= limit);
                        prop_assert_eq!(frame.payload.len() as u64, frame.header.payload_len);
                    }
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
        }
    }

    /// Any bytes: no panic; a parsed header is exactly the minimal encoding of itself.
    #[test]
    fn frame_header_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..20)) {
        if let Ok(Some((header, len))) = FrameHeader::parse(&bytes) {
            prop_assert!(len <= bytes.len());
            let mut again = [0u8; MAX_HEADER_LEN];
            let encoded = header.encode(&mut again);
            prop_assert_eq!(&again[..encoded], &bytes[..len]);
        }
    }
}

/// A request head, from the RFC 6455 example, with random changes: any method, version, header
/// names and values, and bytes after it.
fn request_bytes() -> BoxedStrategy<Vec<u8>> {
    let header = prop_oneof![
        Just(("Host".to_string(), "server.example.com".to_string())),
        Just(("Upgrade".to_string(), "websocket".to_string())),
        Just(("Connection".to_string(), "keep-alive, Upgrade".to_string())),
        Just((
            "Sec-WebSocket-Key".to_string(),
            "dGhlIHNhbXBsZSBub25jZQ==".to_string()
        )),
        Just(("Sec-WebSocket-Version".to_string(), "13".to_string())),
        Just((
            "Sec-WebSocket-Protocol".to_string(),
            "chat, , superchat".to_string()
        )),
        Just((
            "Sec-WebSocket-Extensions".to_string(),
            "permessage-deflate; a=\"1\", ;,x".to_string()
        )),
        ("[A-Za-z-]{1,20}", "[ -~]{0,40}"),
        (
            prop_oneof![
                Just("Host".to_string()),
                Just("Upgrade".to_string()),
                Just("Connection".to_string()),
                Just("Sec-WebSocket-Key".to_string()),
                Just("Sec-WebSocket-Version".to_string()),
            ],
            "[ -~]{0,30}",
        ),
    ];
    (
        prop_oneof![Just("GET"), Just("POST"), Just("get"), Just("")],
        "/[ -~]{0,20}",
        prop_oneof![Just("HTTP/1.1"), Just("HTTP/1.0"), Just("HTTP/2"), Just("")],
        proptest::collection::vec(header, 0..10),
        proptest::collection::vec(any::<u8>(), 0..20),
        proptest::collection::vec((any::<Index>(), any::<u8>()), 0..2),
    )
        .prop_map(|(method, target, version, headers, tail, edits)| {
            let mut out = format!("{method} {target} {version}\r\n").into_bytes();
            for (name, value) in headers {
                out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&tail);
            garble(&mut out, &edits);
            out
        })
        .boxed()
}

/// A response head with random status, headers (including Content-Length and chunked
/// Transfer-Encoding) and a body of chunk-like pieces.
fn response_bytes() -> BoxedStrategy<Vec<u8>> {
    let header = prop_oneof![
        Just(("Upgrade".to_string(), "websocket".to_string())),
        Just(("Connection".to_string(), "Upgrade".to_string())),
        Just((
            "Sec-WebSocket-Accept".to_string(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_string()
        )),
        Just(("Sec-WebSocket-Protocol".to_string(), "chat".to_string())),
        Just((
            "Sec-WebSocket-Extensions".to_string(),
            "permessage-deflate; x".to_string()
        )),
        Just(("Transfer-Encoding".to_string(), "chunked".to_string())),
        (
            Just("Content-Length".to_string()),
            prop_oneof![(0usize..6000).prop_map(|n| n.to_string()), "[ -~]{0,25}",]
        ),
        ("[A-Za-z-]{1,20}", "[ -~]{0,40}"),
    ];
    let body_piece = prop_oneof![
        (
            0usize..0x2000,
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(size, data)| {
                let mut piece = format!("{size:x}\r\n").into_bytes();
                piece.extend(data);
                piece.extend_from_slice(b"\r\n");
                piece
            }),
        Just(b"0\r\n\r\n".to_vec()),
        "[0-9a-fA-F;= ]{0,20}\r\n".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..64),
        (0usize..5000).prop_map(|n| vec![b'x'; n]),
    ];
    (
        prop_oneof![Just(101u16), Just(200), Just(404), Just(500), 0u16..1000],
        proptest::collection::vec(header, 0..8),
        proptest::collection::vec(body_piece, 0..5),
        proptest::collection::vec((any::<Index>(), any::<u8>()), 0..2),
    )
        .prop_map(|(status, headers, body, edits)| {
            let mut out = format!("HTTP/1.1 {status} Reason\r\n").into_bytes();
            for (name, value) in headers {
                out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            out.extend(body.into_iter().flatten());
            garble(&mut out, &edits);
            out
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// The server's request parser, fed random or almost-valid requests in any chunking.
    #[test]
    fn parse_request_never_panics(
        input in prop_oneof![request_bytes(), proptest::collection::vec(any::<u8>(), 0..300)],
        chunking in chunking(),
        max_header_bytes in prop_oneof![Just(16 * 1024), 0usize..200],
    ) {
        let mut buf = BytesMut::new();
        let mut fed = 0;
        for piece in chunking.split(&input) {
            buf.extend_from_slice(piece);
            fed += piece.len();
            match parse_request(&mut buf, max_header_bytes) {
                Ok(None) => continue,
                Ok(Some(request)) => {
                    // The head was split off the front; what follows it stays in the buffer.
                    prop_assert_eq!(request.method.as_str(), "GET");
                    prop_assert!(input.starts_with(&request.head));
                    prop_assert_eq!(request.head.len() + buf.len(), fed);
                    prop_assert!(request.head.len() <= max_header_bytes);
                    break;
                }
                Err(_) => break,
            }
        }
    }

    /// The client's response parser, fed random or almost-valid responses in any chunking, then
    /// end of stream.
    #[test]
    fn client_handshake_never_panics(
        input in prop_oneof![
            4 => response_bytes(),
            1 => proptest::collection::vec(any::<u8>(), 0..300),
        ],
        chunking in chunking(),
        max_header_bytes in prop_oneof![Just(16 * 1024), 0usize..200],
    ) {
        let mut request = ClientRequest::new("server.example.com", "/chat")
            .subprotocol("chat")
            .extension("permessage-deflate");
        request.max_header_bytes = max_header_bytes;
        let mut handshake = ClientHandshake::with_nonce(request, *b"the sample nonce")
            .expect("a valid request");
        let mut buf = BytesMut::new();
        let mut finished = false;
        for piece in chunking.split(&input) {
            buf.extend_from_slice(piece);
            match handshake.receive(&mut buf) {
                Ok(None) => continue,
                Ok(Some(_)) | Err(_) => {
                    finished = true;
                    break;
                }
            }
        }
        if !finished {
            let _ = handshake.receive_eof(&mut buf);
        }
        // Calls after the end must not panic either.
        let _ = handshake.receive(&mut buf);
        let _ = handshake.receive_eof(&mut buf);
    }
}
