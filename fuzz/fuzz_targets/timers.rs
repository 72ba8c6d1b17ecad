//! The core's timers and drive step: a `Connection` with keepalive (any ping interval, ping
//! timeout, idle and message timeouts, in milliseconds) driven through `next_step` by a peer
//! whose bytes, pongs, silences, closes and end of stream come in any order, with time passed
//! in as the input says.
//!
//! Checks, besides "never panics": after `handle_timeout(now)`, `poll_timeout` is later than
//! `now` or `None` (a front-end that re-arms its timer there never spins); a deadline never lies
//! before the start; a connection without keepalive never asks for a timer; the only failures
//! `handle_timeout` causes are the configured timeouts (ping, idle, message); pings are queued
//! only with a ping interval; output is whole frames with nothing after a close.

#![no_main]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sockeye_fuzz::take_frames;
use sockeye_proto::connection::keepalive::KeepaliveConfig;
use sockeye_proto::frame::encode_frame;
use sockeye_proto::random::FixedMaskKey;
use sockeye_proto::{Config, Connection, OpCode, ProtocolError, Role, Step};

#[derive(Arbitrary, Debug)]
struct Input {
    server: bool,
    keepalive: Option<Settings>,
    actions: Vec<Action>,
}

#[derive(Arbitrary, Debug)]
struct Settings {
    ping_interval_ms: Option<u16>,
    ping_timeout_ms: u16,
    idle_timeout_ms: Option<u16>,
    message_timeout_ms: Option<u16>,
    ping_payload: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
enum Action {
    /// Raw bytes from the peer (framing of any kind, half frames included).
    Bytes(Vec<u8>),
    /// A well-formed frame from the peer, fin or not.
    Frame {
        opcode: u8,
        fin: bool,
        payload: Vec<u8>,
    },
    /// The pong that answers the latest ping this side sent (or a stale one).
    Pong { latest: bool },
    /// Time passes; the front-end's timer fires if a deadline passed.
    Wait { ms: u16 },
    /// The application closes.
    Close,
    /// The transport ends.
    Eof,
}

/// A frame as the peer sends it: masked when the peer is a client.
fn peer_frame(peer: Role, fin: bool, opcode: OpCode, payload: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    let mask = (peer == Role::Client).then_some([1, 2, 3, 4]);
    encode_frame(&mut out, fin, 0, opcode, mask, payload);
    out
}

fn millis(ms: u16) -> Duration {
    Duration::from_millis(u64::from(ms))
}

fuzz_target!(|input: Input| {
    let role = if input.server {
        Role::Server
    } else {
        Role::Client
    };
    let mut conn = Connection::with_mask_keys(
        role,
        Config::default(),
        Box::new(FixedMaskKey([9, 8, 7, 6])),
    );
    let start = Instant::now();
    let mut now = start;
    let pinging = input
        .keepalive
        .as_ref()
        .is_some_and(|settings| settings.ping_interval_ms.is_some());
    if let Some(settings) = &input.keepalive {
        let mut config = KeepaliveConfig::default();
        config.ping_interval = settings.ping_interval_ms.map(millis);
        config.ping_timeout = millis(settings.ping_timeout_ms);
        config.idle_timeout = settings.idle_timeout_ms.map(millis);
        config.message_timeout = settings.message_timeout_ms.map(millis);
        config.ping_payload = settings.ping_payload.clone().into();
        conn.set_keepalive(Some(config), now);
    }
    let peer_role = if input.server {
        Role::Client
    } else {
        Role::Server
    };
    let mut pings_sent: Vec<Vec<u8>> = Vec::new();
    let mut close_sent = false;
    for action in input.actions.iter().take(200) {
        match action {
            Action::Bytes(bytes) => conn.receive_data(bytes),
            Action::Frame {
                opcode,
                fin,
                payload,
            } => {
                let opcode = OpCode::from_bits(opcode & 0x0f);
                conn.receive_data(&peer_frame(peer_role, *fin, opcode, payload));
            }
            Action::Pong { latest } => {
                let payload = if *latest {
                    pings_sent.last().cloned().unwrap_or_default()
                } else {
                    pings_sent.first().cloned().unwrap_or_default()
                };
                conn.receive_data(&peer_frame(peer_role, true, OpCode::Pong, &payload));
            }
            Action::Wait { ms } => {
                now += millis(*ms);
                if conn.poll_timeout().is_some_and(|deadline| deadline <= now) {
                    let failed_before = conn.failure().cloned();
                    conn.handle_timeout(now);
                    if let Some(next) = conn.poll_timeout() {
                        assert!(
                            next > now,
                            "a deadline at or before now after handle_timeout"
                        );
                    }
                    if failed_before.is_none() {
                        if let Some(failure) = conn.failure() {
                            assert!(
                                matches!(
                                    failure,
                                    ProtocolError::PingTimeout { .. }
                                        | ProtocolError::IdleTimeout { .. }
                                        | ProtocolError::MessageTimeout { .. }
                                ),
                                "{failure:?} from a timer"
                            );
                        }
                    }
                }
            }
            Action::Close => {
                let _ = conn.close(None);
            }
            Action::Eof => conn.receive_eof(),
        }
        if !matches!(action, Action::Wait { .. } | Action::Close) {
            conn.input_arrived(now);
        }
        // The front-end's loop: deliver everything, until it has to read or it is over.
        for _ in 0..10_000 {
            match conn.next_step() {
                Step::Deliver { .. } => {}
                Step::Read | Step::Closed | Step::Failed(_) => break,
            }
        }
        for frame in take_frames(&mut conn, &mut close_sent) {
            if frame.opcode() == OpCode::Ping {
                assert!(pinging, "a ping without a ping interval");
                pings_sent.push(frame.payload.to_vec());
            }
        }
        if let Some(deadline) = conn.poll_timeout() {
            assert!(input.keepalive.is_some(), "a timer without keepalive");
            assert!(deadline >= start, "a deadline before the start");
        }
    }
});
