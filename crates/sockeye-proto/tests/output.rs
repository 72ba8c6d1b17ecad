//! Large payloads a server sends go out without a copy (`SHARED_PAYLOAD_MIN`): the output is then
//! a sequence of slices, and every way of taking it — vectored slices, `pending_output` piece by
//! piece, `take_output` — gives exactly the bytes a plain encoder would, in order.

#![allow(clippy::unwrap_used)] // In tests, a failed unwrap is a failed assertion.

use std::io::IoSlice;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use sockeye_proto::connection::{OUTPUT_SLICES, SHARED_PAYLOAD_MIN};
use sockeye_proto::frame::{encode_frame, OpCode};
use sockeye_proto::{Config, Connection, Message, Role};

/// A server's messages of these sizes: text when odd, binary when even.
fn messages(sizes: &[usize]) -> Vec<Message> {
    sizes
        .iter()
        .enumerate()
        .map(|(n, &size)| {
            let byte = b'a' + (n % 26) as u8;
            if size % 2 == 1 {
                Message::text(String::from_utf8(vec![byte; size]).unwrap())
            } else {
                Message::binary(vec![byte; size])
            }
        })
        .collect()
}

/// What a plain encoder makes of `messages` (server side: no mask).
fn expected(messages: &[Message]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for message in messages {
        let (opcode, payload): (OpCode, &[u8]) = match message {
            Message::Text(text) => (OpCode::Text, text.as_bytes()),
            Message::Binary(data) => (OpCode::Binary, data),
            Message::Ping(data) => (OpCode::Ping, data),
            other => panic!("not in these tests: {other:?}"),
        };
        encode_frame(&mut out, true, 0, opcode, None, payload);
    }
    out.to_vec()
}

fn server_sending(messages: &[Message]) -> Connection {
    let mut server = Connection::new(Role::Server, Config::default());
    for message in messages {
        server.send(message).unwrap();
    }
    server
}

/// Writes like a front-end: `chunk` bytes at most per write, through vectored slices.
fn drain_vectored(server: &mut Connection, chunk: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    while server.pending_output_len() > 0 {
        let mut slices = [IoSlice::new(&[]); OUTPUT_SLICES];
        let filled = server.pending_output_slices(&mut slices);
        assert!(filled > 0, "output waits, so there is a slice");
        let mut written = 0;
        for slice in &slices[..filled] {
            let take = slice.len().min(chunk - written);
            wire.extend_from_slice(&slice[..take]);
            written += take;
            if written == chunk {
                break;
            }
        }
        server.consume_output(written);
    }
    wire
}

/// Writes like a front-end without vectored writes: one `pending_output` piece at a time.
fn drain_pieces(server: &mut Connection, chunk: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    while server.pending_output_len() > 0 {
        let piece = server.pending_output();
        assert!(
            !piece.is_empty(),
            "output waits, so the first piece has bytes"
        );
        let take = piece.len().min(chunk);
        wire.extend_from_slice(&piece[..take]);
        server.consume_output(take);
    }
    wire
}

#[test]
fn large_payloads_are_not_copied_and_follow_their_headers() {
    let big = Bytes::from(vec![7u8; SHARED_PAYLOAD_MIN]);
    let sent = [
        Message::text("small"),
        Message::Binary(big.clone()),
        Message::text("between"),
        Message::Binary(big.clone()),
    ];
    let server = server_sending(&sent);
    let mut slices = [IoSlice::new(&[]); OUTPUT_SLICES];
    let filled = server.pending_output_slices(&mut slices);
    // small frame + header, payload, middle frame + header, payload.
    assert_eq!(filled, 4);
    assert_eq!(
        slices[1].as_ptr(),
        big.as_ptr(),
        "the payload is the message's own bytes, not a copy"
    );
    assert_eq!(slices[3].as_ptr(), big.as_ptr());
    assert_eq!(
        server.pending_output_len(),
        expected(&sent).len(),
        "the count includes the payloads"
    );
}

#[test]
fn every_way_of_taking_the_output_gives_the_encoded_frames() {
    let sent = messages(&[
        5,
        SHARED_PAYLOAD_MIN,
        SHARED_PAYLOAD_MIN + 1,
        100,
        3 * SHARED_PAYLOAD_MIN,
        1,
    ]);
    let wire = expected(&sent);
    for chunk in [1, 7, 1000, SHARED_PAYLOAD_MIN - 1, 1 << 20] {
        assert_eq!(
            drain_vectored(&mut server_sending(&sent), chunk),
            wire,
            "vectored, {chunk}"
        );
        assert_eq!(
            drain_pieces(&mut server_sending(&sent), chunk),
            wire,
            "pieces, {chunk}"
        );
    }
    assert_eq!(server_sending(&sent).take_output(), wire);
}

#[test]
fn clients_mask_so_they_copy() {
    let mut client = Connection::new(Role::Client, Config::default());
    client
        .send(&Message::binary(vec![1; 2 * SHARED_PAYLOAD_MIN]))
        .unwrap();
    let mut slices = [IoSlice::new(&[]); OUTPUT_SLICES];
    assert_eq!(client.pending_output_slices(&mut slices), 1);
    assert_eq!(client.pending_output().len(), client.pending_output_len());
}

#[test]
fn a_control_frame_queued_later_goes_out_after_the_large_payload() {
    let mut server = server_sending(&messages(&[2 * SHARED_PAYLOAD_MIN]));
    // Part of the payload is written, then a ping is queued: it must not cut into the payload.
    let first = server.pending_output().len();
    server.consume_output(first + 10);
    server
        .send(&Message::Ping(Bytes::from_static(b"p")))
        .unwrap();
    let rest = drain_vectored(&mut server, 4096);
    let whole = expected(&messages(&[2 * SHARED_PAYLOAD_MIN]));
    let mut ping = BytesMut::new();
    encode_frame(&mut ping, true, 0, OpCode::Ping, None, b"p");
    assert_eq!(rest[..whole.len() - first - 10], whole[first + 10..]);
    assert_eq!(rest[whole.len() - first - 10..], ping[..]);
}

proptest! {
    #[test]
    fn any_sizes_and_any_write_sizes_give_the_same_bytes(
        sizes in prop::collection::vec(prop_oneof![0usize..200, SHARED_PAYLOAD_MIN - 2..SHARED_PAYLOAD_MIN + 3000], 1..12),
        chunk in 1usize..20_000,
    ) {
        let sent = messages(&sizes);
        let wire = expected(&sent);
        prop_assert_eq!(drain_vectored(&mut server_sending(&sent), chunk), wire.clone());
        prop_assert_eq!(drain_pieces(&mut server_sending(&sent), chunk), wire);
    }
}

#[test]
fn a_large_message_waits_for_the_fragmented_one_in_progress() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.send_first_fragment(false, b"first").unwrap();
    let refused = server.send(&Message::binary(vec![0; SHARED_PAYLOAD_MIN]));
    assert!(
        matches!(refused, Err(sockeye_proto::SendError::FragmentOrder(_))),
        "{refused:?}"
    );
    server.send_continuation(b"last", true).unwrap();
    server
        .send(&Message::binary(vec![0; SHARED_PAYLOAD_MIN]))
        .unwrap();
}
