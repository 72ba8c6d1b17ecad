//! What a hostile peer can make a connection hold: automatic pongs while the output is not
//! read (RFC 6455 section 5.5.3: only the latest ping needs an answer), the memory a message in
//! progress holds (`Connection::memory_use`), and the progress counters that receive timeouts
//! read.

#![allow(clippy::unwrap_used)] // In tests, a failed unwrap is a failed assertion.

use sockeye_proto::connection::OUTPUT_HIGH_WATER;
use sockeye_proto::extensions::deflate::{DeflateConfig, PerMessageDeflate};
use sockeye_proto::frame::FrameDecoder;
use sockeye_proto::{Config, Connection, OpCode, ProtocolError, ReceiveProgress, Role};
use sockeye_test::deflate::deflate_sync;
use sockeye_test::{RawFrame, Side};

/// A client whose output holds more than the high-water mark that nobody writes out.
fn client_with_unread_output() -> Connection {
    let mut client = Connection::new(Role::Client, Config::default());
    client.send_binary(&vec![7; OUTPUT_HIGH_WATER]).unwrap();
    assert!(client.pending_output_len() >= OUTPUT_HIGH_WATER);
    client
}

fn opcodes(bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
    let mut decoder = FrameDecoder::new(usize::MAX);
    let mut buf = bytes::BytesMut::from(bytes);
    let mut frames = Vec::new();
    while let Some(frame) = decoder.decode(&mut buf).unwrap() {
        // The decoder unmasks.
        frames.push((frame.header.opcode, frame.payload.to_vec()));
    }
    frames
}

#[test]
fn a_ping_flood_against_unread_output_queues_one_pong() {
    let mut client = client_with_unread_output();
    let before = client.pending_output_len();
    for n in 0u32..100_000 {
        client.receive_data(&RawFrame::ping(n.to_be_bytes()).encode_for(Side::Client));
        assert!(client.next_message().unwrap().is_some());
    }
    // Nothing was added while the output waited; the answer is held back.
    assert_eq!(client.pending_output_len(), before);
    assert!(client.memory_use() < 2 * OUTPUT_HIGH_WATER + 64 * 1024);
    // Once the output drains, one pong goes: the answer to the latest ping.
    let sent = client.take_output();
    let after = client.take_output();
    assert_eq!(opcodes(&sent).len(), 1);
    assert_eq!(
        opcodes(&after),
        [(OpCode::Pong, 99_999u32.to_be_bytes().to_vec())]
    );
}

#[test]
fn a_held_back_pong_goes_out_as_soon_as_the_output_drops_below_the_mark() {
    let mut client = client_with_unread_output();
    client.receive_data(&RawFrame::ping(b"a").encode_for(Side::Client));
    client.receive_data(&RawFrame::ping(b"b").encode_for(Side::Client));
    while client.next_message().unwrap().is_some() {}
    let total = client.pending_output_len();
    // The front-end writes most of the big frame: the pong is queued behind what is left.
    client.consume_output(total - 100);
    assert!(client.pending_output_len() > 100);
    let rest = client.take_output();
    assert_eq!(rest.len() - 100, 2 + 4 + 1, "a masked pong with one byte");
    assert_eq!(opcodes(&rest[100..]), [(OpCode::Pong, b"b".to_vec())]);
}

#[test]
fn a_held_back_pong_goes_before_the_close() {
    let mut client = client_with_unread_output();
    client.receive_data(&RawFrame::ping(b"last").encode_for(Side::Client));
    client.next_message().unwrap();
    client
        .close(Some(sockeye_proto::CloseFrame::new(
            sockeye_proto::CloseCode::Normal,
            "bye",
        )))
        .unwrap();
    let frames = opcodes(&client.take_output());
    let kinds: Vec<OpCode> = frames.iter().map(|(opcode, _)| *opcode).collect();
    assert_eq!(kinds, [OpCode::Binary, OpCode::Pong, OpCode::Close]);
    assert_eq!(frames[1].1, b"last");
    assert!(client.take_output().is_empty());
}

#[test]
fn pongs_are_not_held_back_while_the_output_is_read() {
    let mut server = Connection::new(Role::Server, Config::default());
    for n in 0u8..10 {
        server.receive_data(&RawFrame::ping([n]).encode_for(Side::Server));
    }
    while server.next_message().unwrap().is_some() {}
    let pongs = opcodes(&server.take_output());
    assert_eq!(pongs.len(), 10);
    assert_eq!(pongs[9], (OpCode::Pong, vec![9]));
}

#[test]
fn memory_use_counts_inflated_bytes_of_an_unfinished_message_and_drops_on_failure() {
    let mut server = Connection::new(Role::Server, Config::default())
        .with_deflate(PerMessageDeflate::default(), &DeflateConfig::default());
    let idle = server.memory_use();
    assert!(idle < 1024, "an idle connection holds {idle} bytes");
    // 8 MiB of zeros, compressed, sent as the first frame of a message that never ends.
    let bomb = deflate_sync(&vec![0; 8 << 20], 9);
    assert!(bomb.len() < 64 * 1024);
    let frame = RawFrame::text(&bomb).rsv(0b100).fin(false);
    server.receive_data(&frame.encode_for(Side::Server));
    assert_eq!(server.next_message().unwrap(), None);
    let held = server.memory_use();
    assert!(held >= 8 << 20, "inflated bytes count: {held}");
    assert!(held < (8 << 20) + 2 * 64 * 1024 + 300 * 1024, "{held}");
    assert!(server.receive_progress().receiving);
    // Failing the connection gives it all back (zlib state aside).
    server.abort(ProtocolError::MemoryBudgetExceeded {
        held,
        budget: 1,
        receiving: true,
    });
    assert!(server.memory_use() < 64 * 1024, "{}", server.memory_use());
    let close = opcodes(&server.take_output());
    assert_eq!(close[0].0, OpCode::Close);
    assert_eq!(&close[0].1[..2], &1009u16.to_be_bytes());
}

#[test]
fn receive_progress_counts_frames_and_messages() {
    let mut server = Connection::new(Role::Server, Config::default());
    assert_eq!(server.receive_progress(), ReceiveProgress::default());
    let first = RawFrame::text(b"he").fin(false).encode_for(Side::Server);
    server.receive_data(&first[..3]);
    assert_eq!(server.next_message().unwrap(), None);
    let progress = server.receive_progress();
    assert_eq!((progress.frames, progress.messages), (0, 0));
    assert!(
        progress.receiving,
        "a partial header is a frame in progress"
    );
    server.receive_data(&first[3..]);
    assert_eq!(server.next_message().unwrap(), None);
    let progress = server.receive_progress();
    assert_eq!((progress.frames, progress.messages), (1, 0));
    assert!(progress.receiving, "a fragmented message is in progress");
    server.receive_data(&RawFrame::ping(b"").encode_for(Side::Server));
    server.receive_data(&RawFrame::continuation(b"llo").encode_for(Side::Server));
    while server.next_message().unwrap().is_some() {}
    let progress = server.receive_progress();
    assert_eq!((progress.frames, progress.messages), (3, 2));
    assert!(!progress.receiving);
}

#[test]
fn small_inflated_messages_hold_only_their_own_bytes() {
    let mut server = Connection::new(Role::Server, Config::default())
        .with_deflate(PerMessageDeflate::default(), &DeflateConfig::default());
    let mut client = Connection::new(Role::Client, Config::default()).with_deflate(
        PerMessageDeflate::default(),
        &DeflateConfig::default().min_size(0),
    );
    let mut kept = Vec::new();
    for _ in 0..100 {
        client.send_text("hello").unwrap();
        server.receive_data(&client.take_output());
        let Some(sockeye_proto::Message::Text(text)) = server.next_message().unwrap() else {
            panic!("a text message")
        };
        assert_eq!(text.as_str(), "hello");
        kept.push(text.into_bytes());
    }
    // Each message is its own small allocation, not a 16 KiB inflate buffer handed over
    // (fuzzing found 10,000 kept 5-byte messages holding 165 MB).
    let held: usize = kept
        .into_iter()
        .map(|bytes| match bytes.try_into_mut() {
            Ok(unique) => unique.capacity(),
            Err(shared) => panic!("the message shares its allocation ({} bytes)", shared.len()),
        })
        .sum();
    assert!(held < 100 * 64, "{held} bytes for 100 five-byte messages");
    // The buffer stays with the connection for the next message, counted, and goes when idle.
    let with_buffer = server.memory_use();
    assert!(server.release_idle_buffers(0) >= 1024);
    assert!(server.memory_use() < with_buffer);
}
