//! Whole-path assertions shared by the protocol tests.

use sockeye_proto::{CloseFrame, Message, OpCode, ProtocolError, SendError, State};

use crate::frames::{parse_frames, RawFrame};
use crate::pair::{Pair, Side};

/// Injects `bad` into `victim` as if its peer had sent it, and checks the whole failure path of
/// RFC 6455 section 7.1.7:
///
/// 1. `victim` reports exactly `expected` — right away, from these bytes alone (so a failure
///    decidable from a header or the first part of a payload must not wait for the rest);
/// 2. it queued exactly one close frame, last, with `expected`'s close code and generic reason
///    (frames `bad` legitimately caused before, such as a pong, may precede it);
/// 3. the error is sticky: `next_message` repeats it, sends fail with [`SendError::Failed`], and a
///    valid frame fed afterwards is not delivered;
/// 4. the connection is closed and wants its transport closed;
/// 5. after [`Pair::run`], the peer received that close frame as its last message, `victim` sent
///    nothing after it and no other close ever, the transport is closed, and the peer reports no
///    error.
///
/// `victim` must not have sent a close frame before (then no new one is due).
///
/// # Panics
/// When any of the checks fails, naming it.
pub fn assert_fails_with(pair: &mut Pair, victim: Side, bad: &[u8], expected: ProtocolError) {
    let code = expected.close_code();
    let reason = expected.close_reason();
    assert!(
        pair.endpoint(victim).close_sent().is_none(),
        "the {victim:?} already sent a close; use this check on an open connection"
    );
    let messages_before = pair.endpoint(victim).messages().len();
    let output_before = pair.endpoint(victim).connection.pending_output().len();

    pair.inject(victim, bad);
    let endpoint = pair.endpoint_mut(victim);
    assert_eq!(
        endpoint.errors(),
        std::slice::from_ref(&expected),
        "the {victim:?} should fail with exactly this error"
    );

    let queued = parse_frames(&endpoint.connection.pending_output()[output_before..]);
    let closes: Vec<_> = queued
        .iter()
        .filter(|frame| frame.opcode() == OpCode::Close)
        .collect();
    assert_eq!(
        closes.len(),
        1,
        "the {victim:?} should queue exactly one close frame on failure, queued {queued:?}"
    );
    assert_eq!(
        queued.last().map(|frame| frame.opcode()),
        Some(OpCode::Close),
        "the failure close must be the last frame queued"
    );
    assert_eq!(
        CloseFrame::parse(&closes[0].payload),
        Ok(Some(CloseFrame::new(code, reason))),
        "the failure close frame"
    );

    assert_eq!(endpoint.connection.next_message(), Err(expected.clone()));
    assert_eq!(endpoint.connection.next_message(), Err(expected.clone()));
    assert_eq!(
        endpoint.connection.send_text("more"),
        Err(SendError::Failed(expected.clone()))
    );
    assert_eq!(
        endpoint.connection.send_ping(b""),
        Err(SendError::Failed(expected.clone()))
    );
    assert_eq!(
        endpoint.connection.close(None),
        Err(SendError::Failed(expected.clone()))
    );
    assert_eq!(endpoint.connection.failure(), Some(&expected));
    assert_eq!(endpoint.connection.state(), State::Closed);
    assert!(endpoint.is_closed(), "a failed connection is closed");
    assert!(
        endpoint.should_close_transport(),
        "a failed connection must close its transport"
    );
    pair.inject(victim, &RawFrame::text("after").encode_for(victim));
    let endpoint = pair.endpoint(victim);
    assert_eq!(
        endpoint.messages().len(),
        messages_before,
        "nothing may be delivered after a failure"
    );
    assert_eq!(
        endpoint.errors(),
        std::slice::from_ref(&expected),
        "the error is sticky"
    );

    let peer = victim.peer();
    let sent_before = pair.endpoint(victim).sent_bytes().len();
    pair.run();
    let sent_now = &pair.endpoint(victim).sent_bytes()[sent_before..];
    let frames = parse_frames(sent_now);
    assert_eq!(
        frames.last().map(|frame| frame.opcode()),
        Some(OpCode::Close),
        "the {victim:?} should send nothing after its failure close"
    );
    assert_eq!(
        pair.endpoint(victim).sent_close_codes(),
        [Some(code.as_u16())],
        "the {victim:?} should send exactly one close frame, with the failure's code"
    );
    assert_eq!(
        pair.endpoint(peer).messages().last(),
        Some(&Message::Close(Some(CloseFrame::new(code, reason)))),
        "the {peer:?} should receive the failure close"
    );
    assert!(
        pair.transport_closed_by().is_some(),
        "the transport should be closed"
    );
    assert_eq!(
        pair.endpoint(peer).error(),
        None,
        "the {peer:?} saw a clean close"
    );
    assert_eq!(pair.endpoint(victim).errors(), [expected]);
}
