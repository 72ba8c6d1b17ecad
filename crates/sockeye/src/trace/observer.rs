//! The frame observer: one `frame` event per frame sent or received, pings timed.

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

/// Installed on a [`Connection`](sockeye_proto::Connection) by
/// [`Tracer::attach`](super::Tracer::attach) when tracing is on.
#[derive(Debug)]
pub(super) struct FrameTracer {
    span: Span,
    preview_bytes: usize,
    /// Payloads of the pings this side sent, with when, oldest first.
    pings: VecDeque<(Vec<u8>, Instant)>,
    /// The kind of the fragmented message being sent or received, for its continuations.
    sending: Option<Kind>,
    receiving: Option<Kind>,
    frames_sent: u64,
    frames_received: u64,
}

impl FrameTracer {
    pub(super) fn new(span: Span, preview_bytes: usize) -> Self {
        Self {
            span,
            preview_bytes,
            pings: VecDeque::new(),
            sending: None,
            receiving: None,
            frames_sent: 0,
            frames_received: 0,
        }
    }

    /// The message kind a data frame belongs to (continuations inherit it); `None` for control
    /// frames, which leave the fragmented message in progress alone.
    fn data_kind(&mut self, direction: Direction, header: &FrameHeader) -> Option<Kind> {
        let in_progress = match direction {
            Direction::Sent => &mut self.sending,
            Direction::Received => &mut self.receiving,
        };
        let kind = match header.opcode {
            OpCode::Text => Kind::Text,
            OpCode::Binary => Kind::Binary,
            OpCode::Continuation => in_progress.unwrap_or(Kind::Binary),
            _ => return None,
        };
        *in_progress = (!header.fin).then_some(kind);
        Some(kind)
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
        let kind = self.data_kind(direction, header);
        let frame = describe(header, payload, kind, self.preview_bytes);
        let mut line = String::with_capacity(64 + frame.preview.len());
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
            preview = frame.preview.as_str(),
            preview_format = frame.preview_format,
            truncated = frame.truncated,
            close_code = frame.close_code,
            close_name = frame.close_name,
            close_reason = frame.close_reason.as_deref(),
            rtt_ms,
            "{line}"
        );
    }
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
    preview: String,
    preview_format: &'static str,
    truncated: bool,
    close_code: Option<u16>,
    close_name: Option<&'static str>,
    close_reason: Option<String>,
}

fn describe(header: &FrameHeader, payload: &[u8], kind: Option<Kind>, limit: usize) -> Described {
    let mut summary = header.opcode.to_string();
    let mut described = Described {
        summary: String::new(),
        preview: String::new(),
        preview_format: "text",
        truncated: false,
        close_code: None,
        close_name: None,
        close_reason: None,
    };
    let as_text = match (header.opcode, kind) {
        (OpCode::Close, _) => {
            match payload {
                [] => summary.push_str(" (no status code)"),
                [hi, lo, reason @ ..] => {
                    let code = u16::from_be_bytes([*hi, *lo]);
                    let name = CloseCode::from(code).name();
                    summary.push_str(&format!(" {code} ({name})"));
                    let (reason_text, truncated) = text_preview(reason, limit);
                    if !reason.is_empty() {
                        summary.push_str(" \"");
                        push_escaped(&mut summary, &reason_text);
                        summary.push('"');
                        if truncated {
                            summary.push('…');
                        }
                    }
                    described.close_code = Some(code);
                    described.close_name = Some(name);
                    described.close_reason = Some(String::from_utf8_lossy(reason).into_owned());
                    described.preview = reason_text;
                    described.truncated = truncated;
                }
                [_] => {
                    summary.push_str(" 1 byte (malformed: a close payload is empty or starts with a 2-byte code)");
                    let (hex, _) = hex_preview(payload, limit);
                    described.preview = hex;
                    described.preview_format = "hex";
                }
            }
            described.summary = summary;
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
    if as_text {
        let (text, truncated) = text_preview(payload, limit);
        summary.push_str(" \"");
        push_escaped(&mut summary, &text);
        summary.push('"');
        if truncated {
            summary.push('…');
        }
        described.preview = text;
        described.truncated = truncated;
    } else if !payload.is_empty() {
        let (hex, truncated) = hex_preview(payload, limit);
        summary.push(' ');
        summary.push_str(&hex);
        if truncated {
            summary.push_str(" …");
        }
        described.preview = hex;
        described.preview_format = "hex";
        described.truncated = truncated;
    } else {
        described.preview_format = if matches!(kind, Some(Kind::Binary)) {
            "hex"
        } else {
            "text"
        };
    }
    described.summary = summary;
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
        describe(&header(opcode, true, payload.len()), payload, kind, limit).summary
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
        let mut tracer = FrameTracer::new(Span::none(), 64);
        let first = header(OpCode::Text, false, 1);
        assert_eq!(
            tracer.data_kind(Direction::Received, &first),
            Some(Kind::Text)
        );
        let ping = header(OpCode::Ping, true, 0);
        assert_eq!(tracer.data_kind(Direction::Received, &ping), None);
        let last = header(OpCode::Continuation, true, 1);
        assert_eq!(
            tracer.data_kind(Direction::Received, &last),
            Some(Kind::Text)
        );
        assert_eq!(tracer.receiving, None);
    }

    #[test]
    fn pongs_match_the_ping_with_their_payload() {
        let mut tracer = FrameTracer::new(Span::none(), 64);
        tracer.frame(Direction::Sent, &header(OpCode::Ping, true, 1), b"a");
        tracer.frame(Direction::Sent, &header(OpCode::Ping, true, 1), b"b");
        assert!(tracer.round_trip(b"c").is_none());
        assert!(tracer.round_trip(b"b").is_some());
        // "a" was older than the answered "b": forgotten.
        assert!(tracer.pings.is_empty());
    }

    #[test]
    fn round_trips_read_well() {
        assert_eq!(millis(0.4123), "0.412 ms");
        assert_eq!(millis(12.53), "12.5 ms");
        assert_eq!(millis(340.2), "340 ms");
    }
}
