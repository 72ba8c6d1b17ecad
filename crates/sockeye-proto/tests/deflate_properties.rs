//! Property tests for permessage-deflate: any sequence of messages, whole or fragmented, crosses
//! a compressing pair in either direction and arrives unchanged, however the bytes are cut,
//! with or without context takeover, for every window size; and no compressed input, however
//! garbled, panics a connection or produces more than one error.

#![allow(clippy::unwrap_used)] // In tests, a failed unwrap is a failed assertion.

use proptest::prelude::*;
use sockeye_proto::extensions::deflate::{DeflateConfig, PerMessageDeflate};
use sockeye_proto::{Config, Connection, Message, OpCode, Role};
use sockeye_test::drive::Event;
use sockeye_test::strategy::{chunking, seeded_bytes};
use sockeye_test::{feed, Chunking, Pair, RawFrame, SequentialMaskKeys, Side};

/// Every combination of the four parameters, windows from 8 to 15 bits.
fn any_agreement() -> BoxedStrategy<PerMessageDeflate> {
    (any::<bool>(), any::<bool>(), 8u8..=15, 8u8..=15)
        .prop_map(|(snct, cnct, smwb, cmwb)| PerMessageDeflate {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: smwb,
            client_max_window_bits: cmwb,
        })
        .boxed()
}

fn any_settings() -> BoxedStrategy<DeflateConfig> {
    (prop_oneof![Just(0usize), Just(32), 0usize..300], 0u32..=9)
        .prop_map(|(min_size, level)| DeflateConfig::default().min_size(min_size).level(level))
        .boxed()
}

/// Payloads that compress well (repeats, long runs) and ones that do not (noise), in sizes
/// that cross the threshold and the window sizes.
fn any_payload() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        (0usize..70_000, any::<u64>()).prop_map(|(len, seed)| seeded_bytes(len, seed)),
        (1usize..40, 0usize..3_000).prop_map(|(period, repeats)| {
            (0..period * repeats).map(|i| (i % period) as u8).collect()
        }),
        (0usize..100_000).prop_map(|len| vec![b'z'; len]),
    ]
    .boxed()
}

/// A frame payload: noise, or real compressed data (text or not, possibly with a byte changed),
/// cut anywhere.
fn any_compressed_payload() -> BoxedStrategy<Vec<u8>> {
    let compressed = (
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..2000),
            any::<String>().prop_map(|s| s.repeat(20).into_bytes()),
            (0usize..5000).prop_map(|n| vec![b'a'; n]),
        ],
        proptest::option::of((any::<proptest::sample::Index>(), any::<u8>())),
        any::<proptest::sample::Index>(),
    )
        .prop_map(|(data, edit, cut)| {
            let mut sender = Connection::new(Role::Server, Config::default()).with_deflate(
                PerMessageDeflate::default(),
                &DeflateConfig::default().min_size(0),
            );
            sender.send_binary(&data).unwrap();
            let frames = sockeye_test::parse_frames(&sender.take_output());
            let mut payload = frames[0].payload.to_vec();
            if let (Some((at, value)), false) = (edit, payload.is_empty()) {
                let at = at.index(payload.len());
                payload[at] = value;
            }
            payload.truncate(cut.index(payload.len() + 1));
            payload
        });
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..64), compressed].boxed()
}

/// One message to send: text or binary, and where to cut it into fragments (none: one frame).
#[derive(Clone, Debug)]
struct Outgoing {
    text: bool,
    payload: Vec<u8>,
    cuts: Vec<usize>,
}

fn any_outgoing() -> BoxedStrategy<Outgoing> {
    (
        any::<bool>(),
        any_payload(),
        any::<String>(),
        proptest::collection::vec(any::<proptest::sample::Index>(), 0..4),
    )
        .prop_map(|(text, payload, string, cuts)| {
            // Text messages are text: the random string, repeated to a similar size.
            let payload = if text {
                let unit = if string.is_empty() {
                    "é€😀a".to_string()
                } else {
                    string
                };
                unit.repeat(payload.len() / unit.len().max(1) + 1)
                    .into_bytes()
            } else {
                payload
            };
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(payload.len() + 1)).collect();
            cuts.sort_unstable();
            Outgoing {
                text,
                payload,
                cuts,
            }
        })
        .boxed()
}

impl Outgoing {
    fn message(&self) -> Message {
        if self.text {
            Message::text(String::from_utf8(self.payload.clone()).unwrap())
        } else {
            Message::binary(self.payload.clone())
        }
    }

    /// Sends the message whole or as fragments cut at `cuts` (which may split a UTF-8
    /// sequence: fragments of text need not be text).
    fn send(&self, connection: &mut Connection) {
        if self.cuts.is_empty() {
            connection.send(&self.message()).unwrap();
            return;
        }
        let mut start = 0;
        for (i, &cut) in self.cuts.iter().enumerate() {
            let piece = &self.payload[start..cut];
            if i == 0 {
                connection.send_first_fragment(self.text, piece).unwrap();
            } else {
                connection.send_continuation(piece, false).unwrap();
            }
            start = cut;
        }
        connection
            .send_continuation(&self.payload[start..], true)
            .unwrap();
    }
}

fn pair(agreed: PerMessageDeflate, settings: &DeflateConfig, chunking: Chunking) -> Pair {
    Pair::from_connections(
        Connection::with_mask_keys(
            Role::Client,
            Config::default(),
            Box::new(SequentialMaskKeys::new()),
        )
        .with_deflate(agreed, settings),
        Connection::new(Role::Server, Config::default()).with_deflate(agreed, settings),
    )
    .with_chunking(chunking)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Every message arrives as sent, both ways, in any chunking, for every agreement.
    #[test]
    fn messages_round_trip_through_a_compressing_pair(
        agreed in any_agreement(),
        settings in any_settings(),
        chunking in chunking(),
        up in proptest::collection::vec(any_outgoing(), 1..6),
        down in proptest::collection::vec(any_outgoing(), 0..6),
    ) {
        let mut pair = pair(agreed, &settings, chunking);
        for message in &up {
            message.send(&mut pair.client.connection);
        }
        for message in &down {
            message.send(&mut pair.server.connection);
        }
        pair.exchange();
        prop_assert_eq!(pair.server.error(), None);
        prop_assert_eq!(pair.client.error(), None);
        let sent_up: Vec<Message> = up.iter().map(Outgoing::message).collect();
        let sent_down: Vec<Message> = down.iter().map(Outgoing::message).collect();
        prop_assert!(pair.server.messages() == sent_up, "client to server differs");
        prop_assert!(pair.client.messages() == sent_down, "server to client differs");
        // RSV1 only on first frames, and only where this side may compress at all.
        for (side, window) in [
            (Side::Client, agreed.client_max_window_bits),
            (Side::Server, agreed.server_max_window_bits),
        ] {
            let frames = pair.endpoint(side).sent_frames();
            for frame in &frames {
                if frame.header.rsv != 0 {
                    prop_assert!(window >= 9, "compressed with an 8-bit window");
                    prop_assert!(matches!(frame.opcode(), OpCode::Text | OpCode::Binary), "{:?}", frame.header);
                }
            }
        }
    }

    /// The bytes of a compressed conversation make the same events however they are cut.
    #[test]
    fn any_chunking_gives_the_same_events(
        agreed in any_agreement(),
        messages in proptest::collection::vec(any_outgoing(), 1..5),
        chunking in chunking(),
    ) {
        let settings = DeflateConfig::default().min_size(0);
        let mut client = Connection::with_mask_keys(
            Role::Client, Config::default(), Box::new(SequentialMaskKeys::new()),
        ).with_deflate(agreed, &settings);
        for message in &messages {
            message.send(&mut client);
        }
        let wire = client.take_output();
        let server = || Connection::new(Role::Server, Config::default())
            .with_deflate(agreed, &DeflateConfig::default());
        let whole = feed(&mut server(), &wire, &Chunking::Whole, false);
        let cut = feed(&mut server(), &wire, &chunking, false);
        prop_assert_eq!(&whole.events, &cut.events);
        let sent: Vec<Message> = messages.iter().map(Outgoing::message).collect();
        prop_assert!(whole.messages() == sent);
    }

    /// Compressed frames, valid or garbled: never a panic, at most one error and nothing after
    /// it, and the same events however the bytes are cut (limits, inflated UTF-8 and corrupt
    /// data are checked in stream order).
    #[test]
    fn garbled_compressed_data_never_panics(
        agreed in any_agreement(),
        frames in proptest::collection::vec(
            (any::<bool>(), any::<bool>(), any::<bool>(), any_compressed_payload()),
            1..6,
        ),
        chunking in chunking(),
        assemble in any::<bool>(),
        limit in prop_oneof![Just(64usize << 20), 0usize..100],
    ) {
        let mut stream = Vec::new();
        let mut started = false;
        for (rsv1, fin, text, payload) in frames {
            let frame = match (started, text) {
                (true, _) => RawFrame::continuation(&payload),
                (false, true) => RawFrame::text(&payload),
                (false, false) => RawFrame::binary(&payload),
            };
            let rsv = if rsv1 { 0b100 } else { 0 };
            stream.extend(frame.fin(fin).rsv(rsv).encode_for(Side::Server));
            started = !fin;
        }
        let mut config = Config::default();
        config.assemble_messages = assemble;
        config.max_message_size = limit;
        let server = || Connection::new(Role::Server, config.clone())
            .with_deflate(agreed, &DeflateConfig::default());
        let received = feed(&mut server(), &stream, &chunking, true);
        let errors = received.events.iter().filter(|e| matches!(e, Event::Error(_))).count();
        prop_assert!(errors <= 1);
        if errors == 1 {
            prop_assert!(matches!(received.events.last(), Some(Event::Error(_))));
        }
        let whole = feed(&mut server(), &stream, &Chunking::Whole, true);
        prop_assert_eq!(&received.events, &whole.events);
    }
}
