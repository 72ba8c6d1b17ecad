//! A server-role and a client-role `Connection` fed the same arbitrary bytes in arbitrary
//! chunking, answering what they receive, until the stream ends or the connection fails.
//!
//! Checks that nothing panics, that an error is sticky and refuses further sends, that what the
//! connection queues to send is well-formed (masked by a client, unmasked by a server, at most one
//! close frame and nothing after it), and that chunking does not change what is received: the
//! messages and the final error equal those of feeding the whole stream at once.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sockeye_fuzz::take_frames;
use sockeye_proto::extensions::deflate::{DeflateConfig, PerMessageDeflate};
use sockeye_proto::random::FixedMaskKey;
use sockeye_proto::{Config, Connection, Message, ProtocolError, Role};

#[derive(Arbitrary, Debug)]
struct Input {
    validate_utf8: bool,
    assemble_messages: bool,
    auto_pong: bool,
    /// Tiny frame and message limits, to reach the "too large" paths with short inputs.
    small_limits: bool,
    /// Report end of stream after the last byte.
    eof: bool,
    /// permessage-deflate in force: server and client no-context-takeover, and window bits
    /// (8 + n % 8) of each side. Reaches RSV1 rules, inflating, its limits and compression.
    deflate: Option<(bool, bool, u8, u8)>,
    /// Sizes of the pieces the stream is cut into, used in turn (0 counts as 1).
    chunks: Vec<u8>,
    stream: Vec<u8>,
}

type Received = Vec<Result<Message, ProtocolError>>;

fuzz_target!(|input: Input| {
    let mut config = Config::default();
    config.validate_utf8 = input.validate_utf8;
    config.assemble_messages = input.assemble_messages;
    config.auto_pong = input.auto_pong;
    if input.small_limits {
        config.max_frame_size = 64;
        config.max_message_size = 256;
    }
    let deflate = input
        .deflate
        .map(|(snct, cnct, smwb, cmwb)| PerMessageDeflate {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: 8 + smwb % 8,
            client_max_window_bits: 8 + cmwb % 8,
        });
    for role in [Role::Server, Role::Client] {
        let chunked = run(
            role,
            &config,
            deflate,
            &input.stream,
            &input.chunks,
            input.eof,
        );
        let whole = run(role, &config, deflate, &input.stream, &[], input.eof);
        assert_eq!(
            chunked, whole,
            "{role:?}: chunking changed what was received"
        );
    }
});

/// Feeds `stream` cut into pieces of `chunks` sizes (the whole stream at once when empty),
/// draining and answering messages after each piece. Returns what was received.
fn run(
    role: Role,
    config: &Config,
    deflate: Option<PerMessageDeflate>,
    stream: &[u8],
    chunks: &[u8],
    eof: bool,
) -> Received {
    let mut connection =
        Connection::with_mask_keys(role, config.clone(), Box::new(FixedMaskKey([1, 2, 3, 4])));
    if let Some(agreed) = deflate {
        connection = connection.with_deflate(agreed, &DeflateConfig::default().min_size(0));
    }
    let mut received = Vec::new();
    let mut sizes = chunks.iter().cycle();
    let mut rest = stream;
    let mut failed = false;
    let mut close_sent = false;
    while !rest.is_empty() && !failed {
        let size = sizes
            .next()
            .map_or(rest.len(), |&size| usize::from(size).max(1));
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        connection.receive_data(piece);
        failed = drain(&mut connection, &mut received);
        take_frames(&mut connection, &mut close_sent);
    }
    if eof && !failed {
        connection.receive_eof();
        drain(&mut connection, &mut received);
        take_frames(&mut connection, &mut close_sent);
        assert!(connection.is_closed());
        assert!(connection.should_close_transport());
    }
    received
}

/// Calls `next_message` until `Ok(None)` or `Err`, answering each message. True on `Err`.
fn drain(connection: &mut Connection, received: &mut Received) -> bool {
    loop {
        match connection.next_message() {
            Ok(Some(message)) => {
                reply(connection, &message);
                received.push(Ok(message));
            }
            Ok(None) => return false,
            Err(error) => {
                // Sticky: the same error again, and nothing more can be sent.
                assert_eq!(connection.next_message(), Err(error.clone()));
                assert!(connection.is_closed());
                assert!(connection.should_close_transport());
                assert!(connection.send_text("after failure").is_err());
                assert!(connection.send_ping(b"").is_err());
                received.push(Err(error));
                return true;
            }
        }
    }
}

/// Answers like an echo peer; every send may be refused (after a close), but must not panic.
fn reply(connection: &mut Connection, message: &Message) {
    let _ = match message {
        Message::Text(text) => connection.send_text(text.as_str()),
        Message::Binary(data) => connection.send_binary(data),
        Message::Ping(data) => connection.send_ping(data),
        Message::Pong(data) => connection.send_pong(data),
        Message::Close(_) => connection.close(None),
        Message::Frame(frame) => connection.send_raw_frame(frame),
        _ => Ok(()),
    };
}
