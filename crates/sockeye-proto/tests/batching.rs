//! The core tells front-ends when replies can wait for the end of a batch of frames.

use sockeye_proto::{Config, Connection, Message, Role};

/// Masked client frames (key 0) as a server receives them.
fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

#[test]
fn replies_wait_while_more_whole_frames_are_buffered() {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut batch = masked(0x9, b"p1");
    batch.extend(masked(0x1, b"hello"));
    batch.extend(masked(0x9, b"p2"));
    batch.extend(&masked(0x1, b"partial")[..4]);
    server.receive_data(&batch);

    assert!(server.has_buffered_frame());
    assert_eq!(
        server.next_message().unwrap(),
        Some(Message::Ping(b"p1"[..].into()))
    );
    // A pong is queued, but the text frame behind it is complete: the reply can wait.
    assert!(!server.pending_output().is_empty());
    assert!(!server.should_flush());
    assert_eq!(server.next_message().unwrap(), Some(Message::text("hello")));
    assert!(!server.should_flush());
    assert_eq!(
        server.next_message().unwrap(),
        Some(Message::Ping(b"p2"[..].into()))
    );
    // Only a partial frame is left: the pongs must go out now.
    assert!(!server.has_buffered_frame());
    assert!(server.should_flush());
    let queued = server.pending_output().len();
    server.consume_output(queued);
    assert!(!server.should_flush());
    assert_eq!(server.next_message().unwrap(), None);
}

#[test]
fn data_replies_alone_never_force_a_flush_below_the_high_water_mark() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive_data(&masked(0x1, b"x"));
    assert_eq!(server.next_message().unwrap(), Some(Message::text("x")));
    server.send_text("echo").unwrap();
    assert!(!server.should_flush());
    let big = vec![0u8; sockeye_proto::connection::OUTPUT_HIGH_WATER];
    server.send_binary(&big).unwrap();
    assert!(server.should_flush());
}
