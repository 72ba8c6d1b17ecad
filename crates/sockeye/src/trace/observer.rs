//! The frame observer: one `frame` event per frame sent or received, pings timed; with
//! permessage-deflate, compressed frames sent are previewed uncompressed and each compressed
//! message received gets an `inflated` event with its inflated preview.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sockeye_proto::frame::{FrameHeader, OpCode, RSV1, RSV2, RSV3};
use sockeye_proto::{CloseCode, Observer, ProtocolError};
use tracing::Span;

use super::{hex_preview, push_escaped, text_preview, TARGET};

/// Pings remembered for matching their pongs; older ones are forgotten.
const MAX_PENDING_PINGS: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Sent,
    Received,
}

/// The data message a frame belongs to: its kind, and whether it is compressed
/// (permessage-deflate: RSV1 on its first frame, continuations inherit it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Data {
    kind: Kind,
    compressed: bool,
}

/// How a frame's payload relates to what the application sent or receives.
#[derive(Clone, Copy, Debug)]
enum Compression<'a> {
    /// Sent or received as is.
    None,
    /// Sent compressed: the start of the uncompressed payload (enough for the preview) and its
    /// whole length.
    Sent { uncompressed: &'a [u8], len: u64 },
    /// Received compressed: its bytes are DEFLATE output; the message's `inflated` event shows
    /// what they say.
    Received,
}

/// Installed on a [`Connection`](sockeye_proto::Connection) by
/// [`Tracer::attach`](super::Tracer::attach) when tracing is on.
#[derive(Debug)]
pub(super) struct FrameTracer {
    span: Span,
    preview_bytes: usize,
    /// Whether each frame's wire bytes are shown too.
    raw_bytes: bool,
    /// Payloads of the pings this side sent, with when, oldest first.
    pings: VecDeque<(Vec<u8>, Instant)>,
    /// The fragmented message being sent or received, for its continuations.
    sending: Option<Data>,
    receiving: Option<Data>,
    /// The start (at most `preview_bytes + 1` bytes, so the preview knows whether it is cut)
    /// and the length of the uncompressed payload of the compressed frame about to be sent.
    uncompressed: Vec<u8>,
    uncompressed_len: Option<u64>,
    /// The kind of the compressed message being received and its wire bytes not yet inflated.
    inflating: Option<(Kind, u64)>,
    frames_sent: u64,
    frames_received: u64,
}

impl FrameTracer {
    pub(super) fn new(span: Span, preview_bytes: usize, raw_bytes: bool) -> Self {
        Self {
            span,
            preview_bytes,
            raw_bytes,
            pings: VecDeque::new(),
            sending: None,
            receiving: None,
            uncompressed: Vec::new(),
            uncompressed_len: None,
            inflating: None,
            frames_sent: 0,
            frames_received: 0,
        }
    }

    /// The message a data frame belongs to (continuations inherit its kind and compression);
    /// `None` for control frames, which leave the fragmented message in progress alone.
    fn data_kind(&mut self, direction: Direction, header: &FrameHeader) -> Option<Data> {
        let in_progress = match direction {
            Direction::Sent => &mut self.sending,
            Direction::Received => &mut self.receiving,
        };
        let compressed = header.rsv & RSV1 != 0;
        let data = match header.opcode {
            OpCode::Text => Data {
                kind: Kind::Text,
                compressed,
            },
            OpCode::Binary => Data {
                kind: Kind::Binary,
                compressed,
            },
            OpCode::Continuation => in_progress.unwrap_or(Data {
                kind: Kind::Binary,
                compressed: false,
            }),
            _ => return None,
        };
        *in_progress = (!header.fin).then_some(data);
        Some(data)
    }

    /// For a pong received: how long ago the matching ping went out (RFC 6455 lets a pong
    /// answer only the latest ping, so older unanswered ones are forgotten with it).
    fn round_trip(&mut self, payload: &[u8]) -> Option<Duration> {
        let at = self
            .pings
            .iter()
            .rposition(|(ping, _)| ping.as_slice() == payload)?;
        let (_, sent) = self.pings.drain(..=at).next_back()?;
        Some(sent.elapsed())
    }

    fn frame(&mut self, direction: Direction, header: &FrameHeader, payload: &[u8]) {
        let round_trip = match (direction, header.opcode) {
            (Direction::Sent, OpCode::Ping) => {
                if self.pings.len() == MAX_PENDING_PINGS {
                    self.pings.pop_front();
                }
                self.pings.push_back((payload.to_vec(), Instant::now()));
                None
            }
            (Direction::Received, OpCode::Pong) => self.round_trip(payload),
            _ => None,
        };
        let data = self.data_kind(direction, header);
        // A frame sent compressed was announced by `frame_compressed` just before; one received
        // compressed counts towards the message's `inflated` event.
        let uncompressed_len = match direction {
            Direction::Sent => self.uncompressed_len.take(),
            Direction::Received => None,
        };
        let compression = match (direction, uncompressed_len, data) {
            (Direction::Sent, Some(len), _) => Compression::Sent {
                uncompressed: &self.uncompressed,
                len,
            },
            (
                Direction::Received,
                _,
                Some(Data {
                    kind,
                    compressed: true,
                }),
            ) => {
                let (_, wire) = self.inflating.get_or_insert((kind, 0));
                *wire += header.payload_len;
                Compression::Received
            }
            _ => Compression::None,
        };
        let kind = data.map(|data| data.kind);
        let frame = describe(header, payload, kind, compression, self.preview_bytes);
        let mut line = String::with_capacity(64 + frame.summary.len());
        line.push(match direction {
            Direction::Sent => '>',
            Direction::Received => '<',
        });
        line.push(' ');
        line.push_str(&frame.summary);
        let rtt_ms = round_trip.map(|rtt| rtt.as_secs_f64() * 1000.0);
        if let Some(ms) = rtt_ms {
            line.push_str(" after ");
            line.push_str(&millis(ms));
        }
        let mask = header.mask.map(|key| {
            key.iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>()
        });
        let mut details = Vec::new();
        if !header.fin {
            details.push("not final".to_string());
        }
        for (bit, name) in [(RSV1, "rsv1"), (RSV2, "rsv2"), (RSV3, "rsv3")] {
            if header.rsv & bit != 0 {
                details.push(name.to_string());
            }
        }
        if let Some(mask) = &mask {
            details.push(format!("mask {mask}"));
        }
        if !details.is_empty() {
            line.push_str("  [");
            line.push_str(&details.join(", "));
            line.push(']');
        }
        let raw = self
            .raw_bytes
            .then(|| wire_hex(header, payload, self.preview_bytes));
        tracing::debug!(
            target: TARGET,
            parent: &self.span,
            event = "frame",
            dir = match direction {
                Direction::Sent => "sent",
                Direction::Received => "received",
            },
            opcode = header.opcode.name(),
            fin = header.fin,
            rsv1 = header.rsv & RSV1 != 0,
            rsv2 = header.rsv & RSV2 != 0,
            rsv3 = header.rsv & RSV3 != 0,
            mask = mask.as_deref(),
            len = header.payload_len,
            compressed = frame.compressed.then_some(true),
            uncompressed_len,
            preview = frame.preview.as_ref().map(|preview| preview.text.as_str()),
            preview_format = frame.preview.as_ref().map(|preview| preview.format),
            truncated = frame.preview.as_ref().map(|preview| preview.truncated),
            close_code = frame.close_code,
            close_name = frame.close_name,
            close_reason = frame.close_reason.as_deref(),
            rtt_ms,
            raw = raw.as_ref().map(|(hex, _)| hex.as_str()),
            raw_truncated = raw.as_ref().map(|(_, truncated)| *truncated),
            "{line}"
        );
    }
}

/// A frame's bytes as on the wire, in hex separated by spaces: the header (length in its
/// shortest form), the mask key and the masked payload, cut after `max` payload bytes.
fn wire_hex(header: &FrameHeader, payload: &[u8], max: usize) -> (String, bool) {
    let mut head = [0u8; sockeye_proto::frame::MAX_HEADER_LEN];
    let head_len = header.encode(&mut head);
    let shown = payload.len().min(max);
    let mut body = payload[..shown].to_vec();
    if let Some(key) = header.mask {
        sockeye_proto::frame::mask::apply_mask(&mut body, key);
    }
    let hex = head[..head_len]
        .iter()
        .chain(&body)
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    (hex, shown < payload.len())
}

impl Observer for FrameTracer {
    fn frame_received(&mut self, header: &FrameHeader, payload: &[u8]) {
        self.frames_received += 1;
        self.frame(Direction::Received, header, payload);
    }

    fn frame_sent(&mut self, header: &FrameHeader, payload: &[u8]) {
        self.frames_sent += 1;
        self.frame(Direction::Sent, header, payload);
    }

    fn frame_compressed(&mut self, uncompressed: &[u8]) {
        // Only what the preview can show is kept, plus one byte to know whether it is cut.
        let keep = uncompressed.len().min(self.preview_bytes.saturating_add(1));
        self.uncompressed.clear();
        self.uncompressed.extend_from_slice(&uncompressed[..keep]);
        self.uncompressed_len = Some(uncompressed.len() as u64);
    }

    fn message_inflated(&mut self, inflated: &[u8]) {
        let (kind, wire) = self.inflating.take().unwrap_or((Kind::Binary, 0));
        let preview = preview(inflated, kind == Kind::Text, Some(kind), self.preview_bytes);
        let len = inflated.len() as u64;
        let mut line = String::with_capacity(64 + preview.shown.len());
        line.push_str("inflated ");
        line.push_str(match kind {
            Kind::Text => "text ",
            Kind::Binary => "binary ",
        });
        line.push_str(&bytes(len));
        line.push_str(" from ");
        line.push_str(&bytes(wire));
        line.push_str(&preview.shown);
        tracing::debug!(
            target: TARGET,
            parent: &self.span,
            event = "inflated",
            dir = "received",
            opcode = match kind {
                Kind::Text => "text",
                Kind::Binary => "binary",
            },
            len,
            compressed_len = wire,
            preview = preview.text.as_str(),
            preview_format = preview.format,
            truncated = preview.truncated,
            "{line}"
        );
    }

    fn failed(&mut self, error: &ProtocolError) {
        let code = error.close_code();
        tracing::debug!(
            target: TARGET,
            parent: &self.span,
            event = "failed",
            error = %error,
            close_code = code.as_u16(),
            "failed: {error} (close code {code})"
        );
    }
}

impl Drop for FrameTracer {
    fn drop(&mut self) {
        let (sent, received) = (self.frames_sent, self.frames_received);
        tracing::debug!(
            target: TARGET,
            parent: &self.span,
            event = "end",
            frames_sent = sent,
            frames_received = received,
            "end: {sent} frame{} sent, {received} received",
            if sent == 1 { "" } else { "s" }
        );
    }
}

/// What a frame shows: the summary after the direction arrow, and its structured parts.
struct Described {
    summary: String,
    /// `None` for a frame received compressed (its bytes are DEFLATE output).
    preview: Option<Preview>,
    compressed: bool,
    close_code: Option<u16>,
    close_name: Option<&'static str>,
    close_reason: Option<String>,
}

/// A payload preview: `text` (unescaped) for the JSON field, `shown` (a space, then the quoted
/// and escaped text or the hex bytes, with the cut mark) for the line; empty for no payload.
struct Preview {
    text: String,
    shown: String,
    format: &'static str,
    truncated: bool,
}

/// At most `limit` bytes of `payload`, as text or hex (an empty one's format follows `kind`).
fn preview(payload: &[u8], as_text: bool, kind: Option<Kind>, limit: usize) -> Preview {
    if as_text {
        let (text, truncated) = text_preview(payload, limit);
        let mut shown = String::with_capacity(text.len() + 4);
        shown.push_str(" \"");
        push_escaped(&mut shown, &text);
        shown.push('"');
        if truncated {
            shown.push('…');
        }
        Preview {
            text,
            shown,
            format: "text",
            truncated,
        }
    } else if !payload.is_empty() {
        let (hex, truncated) = hex_preview(payload, limit);
        let mut shown = format!(" {hex}");
        if truncated {
            shown.push_str(" …");
        }
        Preview {
            text: hex,
            shown,
            format: "hex",
            truncated,
        }
    } else {
        Preview {
            text: String::new(),
            shown: String::new(),
            format: if matches!(kind, Some(Kind::Binary)) {
                "hex"
            } else {
                "text"
            },
            truncated: false,
        }
    }
}

fn describe(
    header: &FrameHeader,
    payload: &[u8],
    kind: Option<Kind>,
    compression: Compression<'_>,
    limit: usize,
) -> Described {
    let mut summary = header.opcode.to_string();
    let mut described = Described {
        summary: String::new(),
        preview: None,
        compressed: false,
        close_code: None,
        close_name: None,
        close_reason: None,
    };
    let as_text = match (header.opcode, kind) {
        (OpCode::Close, _) => {
            let mut shown = Preview {
                text: String::new(),
                shown: String::new(),
                format: "text",
                truncated: false,
            };
            match payload {
                [] => summary.push_str(" (no status code)"),
                [hi, lo, reason @ ..] => {
                    let code = u16::from_be_bytes([*hi, *lo]);
                    let name = CloseCode::from(code).name();
                    summary.push_str(&format!(" {code} ({name})"));
                    if !reason.is_empty() {
                        shown = preview(reason, true, None, limit);
                        summary.push_str(&shown.shown);
                    }
                    described.close_code = Some(code);
                    described.close_name = Some(name);
                    described.close_reason = Some(String::from_utf8_lossy(reason).into_owned());
                }
                [_] => {
                    summary.push_str(" 1 byte (malformed: a close payload is empty or starts with a 2-byte code)");
                    shown = preview(payload, false, None, limit);
                }
            }
            described.summary = summary;
            described.preview = Some(shown);
            return described;
        }
        (OpCode::Ping | OpCode::Pong, _) => {
            std::str::from_utf8(payload).is_ok_and(|text| !text.chars().any(char::is_control))
        }
        (_, Some(Kind::Text)) => true,
        _ => false,
    };
    summary.push(' ');
    summary.push_str(&bytes(header.payload_len));
    let shown = match compression {
        Compression::None => Some(preview(payload, as_text, kind, limit)),
        Compression::Sent { uncompressed, len } => {
            summary.push_str(" compressed from ");
            summary.push_str(&bytes(len));
            Some(preview(uncompressed, as_text, kind, limit))
        }
        Compression::Received => {
            summary.push_str(" compressed");
            None
        }
    };
    described.compressed = !matches!(compression, Compression::None);
    if let Some(shown) = &shown {
        summary.push_str(&shown.shown);
    }
    described.summary = summary;
    described.preview = shown;
    described
}

/// `1 byte`, `5 bytes`.
fn bytes(count: u64) -> String {
    if count == 1 {
        "1 byte".into()
    } else {
        format!("{count} bytes")
    }
}

/// A round trip, with the precision a person reads: `0.412 ms`, `12.5 ms`, `340 ms`.
fn millis(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(opcode: OpCode, fin: bool, len: usize) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask: None,
            payload_len: len as u64,
        }
    }

    fn summary(opcode: OpCode, payload: &[u8], kind: Option<Kind>, limit: usize) -> String {
        let header = header(opcode, true, payload.len());
        describe(&header, payload, kind, Compression::None, limit).summary
    }

    #[test]
    fn summaries() {
        assert_eq!(
            summary(OpCode::Text, b"hi", Some(Kind::Text), 64),
            "text 2 bytes \"hi\""
        );
        assert_eq!(
            summary(OpCode::Text, b"hello", Some(Kind::Text), 3),
            "text 5 bytes \"hel\"…"
        );
        assert_eq!(
            summary(OpCode::Binary, &[1, 2, 3, 4, 5], Some(Kind::Binary), 64),
            "binary 5 bytes 01 02 03 04 05"
        );
        assert_eq!(
            summary(OpCode::Binary, &[1, 2, 3], Some(Kind::Binary), 2),
            "binary 3 bytes 01 02 …"
        );
        assert_eq!(summary(OpCode::Ping, b"x", None, 64), "ping 1 byte \"x\"");
        assert_eq!(
            summary(OpCode::Pong, &[0, 255], None, 64),
            "pong 2 bytes 00 ff"
        );
        assert_eq!(
            summary(OpCode::Close, b"\x03\xe8bye", None, 64),
            "close 1000 (normal) \"bye\""
        );
        assert_eq!(
            summary(OpCode::Close, b"\x03\xe8", None, 64),
            "close 1000 (normal)"
        );
        assert_eq!(
            summary(OpCode::Close, b"", None, 64),
            "close (no status code)"
        );
        assert_eq!(
            summary(OpCode::Reserved(3), b"", None, 64),
            "reserved(0x3) 0 bytes"
        );
    }

    #[test]
    fn continuations_inherit_the_message_kind() {
        let _serial = serial();
        let mut tracer = FrameTracer::new(Span::none(), 64, false);
        let first = header(OpCode::Text, false, 1);
        let text = Data {
            kind: Kind::Text,
            compressed: false,
        };
        assert_eq!(tracer.data_kind(Direction::Received, &first), Some(text));
        let ping = header(OpCode::Ping, true, 0);
        assert_eq!(tracer.data_kind(Direction::Received, &ping), None);
        let last = header(OpCode::Continuation, true, 1);
        assert_eq!(tracer.data_kind(Direction::Received, &last), Some(text));
        assert_eq!(tracer.receiving, None);
    }

    #[test]
    fn continuations_of_a_compressed_message_are_compressed() {
        let _serial = serial();
        let mut tracer = FrameTracer::new(Span::none(), 64, false);
        let mut first = header(OpCode::Binary, false, 3);
        first.rsv = RSV1;
        let compressed = Some(Data {
            kind: Kind::Binary,
            compressed: true,
        });
        assert_eq!(tracer.data_kind(Direction::Received, &first), compressed);
        let middle = header(OpCode::Continuation, false, 2);
        assert_eq!(tracer.data_kind(Direction::Received, &middle), compressed);
        let last = header(OpCode::Continuation, true, 2);
        assert_eq!(tracer.data_kind(Direction::Received, &last), compressed);
        // The next message is not, unless it says so.
        let next = header(OpCode::Binary, true, 2);
        let plain = Data {
            kind: Kind::Binary,
            compressed: false,
        };
        assert_eq!(tracer.data_kind(Direction::Received, &next), Some(plain));
    }

    #[test]
    fn compressed_frames_show_their_sizes_and_the_uncompressed_preview() {
        let _serial = serial();
        let mut text = header(OpCode::Text, true, 9);
        text.rsv = RSV1;
        let sent = Compression::Sent {
            uncompressed: b"hello hello",
            len: 120,
        };
        let wire = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x11, 0x22];
        let described = describe(&text, &wire, Some(Kind::Text), sent, 5);
        assert_eq!(
            described.summary,
            "text 9 bytes compressed from 120 bytes \"hello\"…"
        );
        assert!(described.compressed);
        let preview = described.preview.unwrap();
        assert_eq!((preview.text.as_str(), preview.truncated), ("hello", true));

        let continuation = header(OpCode::Continuation, true, 2);
        let sent = Compression::Sent {
            uncompressed: &[1, 2],
            len: 2,
        };
        let described = describe(&continuation, &[0, 0], Some(Kind::Binary), sent, 5);
        assert_eq!(
            described.summary,
            "continuation 2 bytes compressed from 2 bytes 01 02"
        );

        let received = describe(&text, &wire, Some(Kind::Text), Compression::Received, 5);
        assert_eq!(received.summary, "text 9 bytes compressed");
        assert!(received.compressed && received.preview.is_none());
    }

    #[test]
    fn only_the_preview_of_an_uncompressed_payload_is_kept() {
        let _serial = serial();
        let mut tracer = FrameTracer::new(Span::none(), 4, false);
        tracer.frame_compressed(&[7; 1000]);
        assert_eq!(tracer.uncompressed, [7; 5]);
        assert_eq!(tracer.uncompressed_len, Some(1000));
        let mut first = header(OpCode::Binary, true, 3);
        first.rsv = RSV1;
        tracer.frame_sent(&first, &[1, 2, 3]);
        assert_eq!(tracer.uncompressed_len, None);
    }

    #[test]
    fn pongs_match_the_ping_with_their_payload() {
        let _serial = serial();
        let mut tracer = FrameTracer::new(Span::none(), 64, false);
        tracer.frame(Direction::Sent, &header(OpCode::Ping, true, 1), b"a");
        tracer.frame(Direction::Sent, &header(OpCode::Ping, true, 1), b"b");
        assert!(tracer.round_trip(b"c").is_none());
        assert!(tracer.round_trip(b"b").is_some());
        // "a" was older than the answered "b": forgotten.
        assert!(tracer.pings.is_empty());
    }

    /// Held by every test here that emits events. `tracing` caches each call site's interest
    /// process-wide; a test emitting with no subscriber while another thread's test registers
    /// those call sites under its own subscriber has been seen to lose that test's events.
    fn serial() -> std::sync::MutexGuard<'static, ()> {
        static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
        SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A writer the tests read back.
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// A client sends a text and a binary message in compressed fragments (which the library's
    /// front-ends never do) to a server that receives frame by frame; both are traced in the
    /// human format (without a connection span, so without the `[id]` prefix).
    fn fragments_traced(preview_bytes: usize) -> (String, String) {
        use sockeye_proto::extensions::deflate::{DeflateConfig, PerMessageDeflate};
        use sockeye_proto::{Config, Connection, Role};

        let deflate = |role, config| {
            Connection::new(role, config)
                .with_deflate(PerMessageDeflate::default(), &DeflateConfig::default())
        };
        let mut frames = Config::default();
        frames.assemble_messages = false;
        let (client_buf, server_buf) = (Buf::default(), Buf::default());
        let mut client = tracing::subscriber::with_default(
            super::super::human_subscriber(client_buf.clone()),
            || {
                // Other tests' threads may have registered these callsites while no subscriber
                // was alive (interest "never"); recompute it now that this one is.
                tracing::callsite::rebuild_interest_cache();
                let mut client = deflate(Role::Client, Config::default());
                let tracer = FrameTracer::new(Span::none(), preview_bytes, false);
                client.set_observer(Some(Box::new(tracer)));
                client
                    .send_first_fragment(true, &b"hello ".repeat(10))
                    .unwrap();
                client.send_ping(b"p").unwrap();
                client
                    .send_continuation(&b"world ".repeat(10), true)
                    .unwrap();
                client.send_first_fragment(false, &[7; 100]).unwrap();
                client.send_continuation(&[], true).unwrap();
                client
            },
        );
        tracing::subscriber::with_default(
            super::super::human_subscriber(server_buf.clone()),
            || {
                tracing::callsite::rebuild_interest_cache();
                let mut server = deflate(Role::Server, frames);
                let tracer = FrameTracer::new(Span::none(), preview_bytes, false);
                server.set_observer(Some(Box::new(tracer)));
                server.receive_data(&client.take_output());
                while server.next_message().unwrap().is_some() {}
            },
        );
        tracing::subscriber::with_default(
            super::super::human_subscriber(client_buf.clone()),
            || {
                tracing::callsite::rebuild_interest_cache();
                drop(client);
            },
        );
        (client_buf.text(), server_buf.text())
    }

    /// The lines of a trace with what varies replaced: the mask keys (`mask M`) and the sizes
    /// of compressed data (`N bytes compressed`, `inflated … from N bytes`).
    fn normalized(trace: &str) -> Vec<String> {
        let replace_number = |before: &str, after: &str| {
            let cut = before.trim_end_matches(|c: char| c.is_ascii_digit());
            format!("{cut}N{after}")
        };
        trace
            .lines()
            .map(|line| {
                let mut line = line.to_string();
                if let Some((before, after)) = line.split_once(" compressed") {
                    let count = before.trim_end_matches(" bytes").trim_end_matches(" byte");
                    line = replace_number(count, &format!(" bytes compressed{after}"));
                }
                if let (true, Some((before, after))) =
                    (line.starts_with("* inflated "), line.split_once(" from "))
                {
                    let rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
                    let rest = rest.strip_prefix(" bytes").or(rest.strip_prefix(" byte"));
                    line = format!("{before} from N bytes{}", rest.unwrap_or_default());
                }
                if let Some((before, after)) = line.split_once("mask ") {
                    line = format!("{before}mask M{}", &after[8..]);
                }
                line
            })
            .collect()
    }

    #[test]
    fn compressed_fragments_sent_and_received_frame_by_frame() {
        let _serial = serial();
        let (client, server) = fragments_traced(12);
        assert_eq!(
            normalized(&client),
            [
                "> text N bytes compressed from 60 bytes \"hello hello \"…  [not final, rsv1, mask M]",
                "> ping 1 byte \"p\"  [mask M]",
                "> continuation N bytes compressed from 60 bytes \"world world \"…  [mask M]",
                "> binary N bytes compressed from 100 bytes 07 07 07 07 07 07 07 07 07 07 07 07 …  [not final, rsv1, mask M]",
                "> continuation N bytes compressed from 0 bytes  [mask M]",
                "* end: 5 frames sent, 0 received",
            ],
            "{client}"
        );
        // Frame by frame, each compressed frame is inflated on its own.
        assert_eq!(
            normalized(&server),
            [
                "< text N bytes compressed  [not final, rsv1, mask M]",
                "* inflated text 60 bytes from N bytes \"hello hello \"…",
                "< ping 1 byte \"p\"  [mask M]",
                "> pong 1 byte \"p\"",
                "< continuation N bytes compressed  [mask M]",
                "* inflated text 60 bytes from N bytes \"world world \"…",
                "< binary N bytes compressed  [not final, rsv1, mask M]",
                "* inflated binary 100 bytes from N bytes 07 07 07 07 07 07 07 07 07 07 07 07 …",
                "< continuation N bytes compressed  [mask M]",
                "* inflated binary 0 bytes from N bytes",
                "* end: 1 frame sent, 5 received",
            ],
            "{server}"
        );
    }

    #[test]
    fn round_trips_read_well() {
        assert_eq!(millis(0.4123), "0.412 ms");
        assert_eq!(millis(12.53), "12.5 ms");
        assert_eq!(millis(340.2), "340 ms");
    }

    #[test]
    fn wire_hex_is_the_frame_as_sent_cut_after_the_preview() {
        let mut header = FrameHeader::new(OpCode::Text, 5);
        header.mask = Some([1, 2, 3, 4]);
        let (hex, cut) = wire_hex(&header, b"hello", 64);
        // "hello" xor 01 02 03 04 01.
        assert_eq!(hex, "81 85 01 02 03 04 69 67 6f 68 6e");
        assert!(!cut);
        let header = FrameHeader::new(OpCode::Binary, 300);
        let (hex, cut) = wire_hex(&header, &[0xab; 300], 2);
        assert_eq!(hex, "82 7e 01 2c ab ab");
        assert!(cut);
    }
}
