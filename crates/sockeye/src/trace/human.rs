//! The human format: header blocks and one line per frame, each prefixed with the connection id.

use std::fmt;
use std::io::Write;
use std::sync::{Mutex, PoisonError};

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::fields::{self, Connection, EventFields, Value};
use super::TARGET;

/// A `tracing_subscriber` layer that prints the trace for people, to any writer (stderr, a file).
///
/// ```text
/// [1] * client connection to 127.0.0.1:9001
/// [1] > GET /chat?token=[redacted] HTTP/1.1
/// [1] > Host: 127.0.0.1:9001
/// [1] >
/// [1] < HTTP/1.1 101 Switching Protocols
/// [1] <
/// [1] * open
/// [1] > text 2 bytes "hi"  [mask 37fa213d]
/// [1] < binary 5 bytes 01 02 03 04 05
/// [1] < close 1000 (normal) "bye"
/// ```
///
/// Each event is written with one `write_all` and flushed. Events of other targets are ignored;
/// combine it with [`filter()`](super::filter) so they are not even built.
pub struct HumanLayer {
    out: Mutex<Box<dyn Write + Send>>,
}

impl fmt::Debug for HumanLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HumanLayer").finish_non_exhaustive()
    }
}

impl HumanLayer {
    /// A layer that writes to `writer`.
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        Self {
            out: Mutex::new(Box::new(writer)),
        }
    }

    fn write(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        // A trace that cannot be written must not break the connection it describes.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
}

impl<S> Layer<S> for HumanLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        fields::on_new_span(attrs, id, &ctx);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        fields::on_record(id, values, &ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let fields = EventFields::of(event);
        let connection = Connection::of(event, &ctx);
        self.write(&render(&fields, &connection));
    }
}

/// The lines of one event, each ending in `\n`.
fn render(fields: &EventFields, connection: &Connection) -> String {
    let prefix = connection
        .id
        .map(|id| format!("[{id}] "))
        .unwrap_or_default();
    let message = fields.str("message").unwrap_or("");
    let mut out = String::new();
    match fields.str("event") {
        Some("request" | "response") => {
            let arrow = match fields.str("dir") {
                Some("sent") => ">",
                _ => "<",
            };
            let head = fields.str("head").unwrap_or("");
            let head = head.trim_end_matches(['\r', '\n']);
            for line in head.split('\n') {
                let line = line.strip_suffix('\r').unwrap_or(line);
                out.push_str(&prefix);
                out.push_str(arrow);
                out.push(' ');
                push_line(&mut out, line);
                out.push('\n');
            }
            out.push_str(&prefix);
            out.push_str(arrow);
            out.push('\n');
            if let Some(body) = fields.str("body") {
                let len = fields.u64("body_len").unwrap_or(0);
                out.push_str(&format!("{prefix}{arrow} [body {len} bytes] \"{body}\"\n"));
            }
        }
        Some("start") => {
            let role = connection.role.as_deref().unwrap_or("a");
            let (towards, unknown) = match role {
                "server" => ("from", "an unknown peer"),
                _ => ("to", "an unknown peer"),
            };
            let peer = connection.peer.as_deref().unwrap_or(unknown);
            out.push_str(&format!("{prefix}* {role} connection {towards} {peer}\n"));
        }
        Some("frame") => {
            out.push_str(&format!("{prefix}{message}\n"));
            if let Some(raw) = fields.str("raw") {
                let arrow = match fields.str("dir") {
                    Some("sent") => ">",
                    _ => "<",
                };
                // 16 bytes ("xx " each) a line, as a hex dump.
                let bytes: Vec<&str> = raw.split(' ').filter(|b| !b.is_empty()).collect();
                for (at, row) in bytes.chunks(16).enumerate() {
                    out.push_str(&format!(
                        "{prefix}{arrow}   {:04x}  {}\n",
                        at * 16,
                        row.join(" ")
                    ));
                }
                if fields
                    .0
                    .iter()
                    .any(|(field, value)| *field == "raw_truncated" && *value == Value::Bool(true))
                {
                    out.push_str(&format!("{prefix}{arrow}   …\n"));
                }
            }
        }
        Some("failed" | "handshake_failed") => out.push_str(&format!("{prefix}! {message}\n")),
        _ => out.push_str(&format!("{prefix}* {message}\n")),
    }
    out
}

/// A line of an HTTP head with control characters escaped (quotes and backslashes stay).
fn push_line(out: &mut String, line: &str) {
    for c in line.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fields::Value;
    use super::*;

    fn event(fields: &[(&'static str, &str)]) -> EventFields {
        EventFields(
            fields
                .iter()
                .map(|(name, value)| (*name, Value::Str(value.to_string())))
                .collect(),
        )
    }

    #[test]
    fn heads_become_prefixed_blocks() {
        let connection = Connection {
            id: Some(7),
            role: Some("client".into()),
            peer: Some("h:1".into()),
        };
        let fields = event(&[
            ("event", "request"),
            ("dir", "sent"),
            ("head", "GET / HTTP/1.1\r\nHost: h\x1b\r\n\r\n"),
        ]);
        assert_eq!(
            render(&fields, &connection),
            "[7] > GET / HTTP/1.1\n[7] > Host: h\\u{1b}\n[7] >\n"
        );
        let start = event(&[("event", "start")]);
        assert_eq!(
            render(&start, &connection),
            "[7] * client connection to h:1\n"
        );
    }
}
