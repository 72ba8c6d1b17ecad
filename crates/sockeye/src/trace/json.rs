//! The JSON-lines format: one object per event, for machines.

use std::fmt::{self, Write as _};
use std::io::Write;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::fields::{self, Connection, EventFields, Value};
use super::TARGET;

/// A `tracing_subscriber` layer that writes the trace as JSON lines: one object per event with
/// `time` (RFC 3339, UTC), `conn`, `role`, `peer`, then the event's fields (`event`, `dir`,
/// `opcode`, `len`, `preview`, `head`…; see [the module documentation](super)) and `message`,
/// its line in the human format.
///
/// ```text
/// {"time":"2025-01-01T12:00:00.000123Z","conn":1,"role":"client","peer":"127.0.0.1:9001","event":"frame","dir":"sent","opcode":"text","fin":true,"rsv1":false,"rsv2":false,"rsv3":false,"mask":"37fa213d","len":2,"preview":"hi","preview_format":"text","truncated":false,"message":"> text 2 bytes \"hi\"  [mask 37fa213d]"}
/// ```
pub struct JsonLayer {
    out: Mutex<Box<dyn Write + Send>>,
}

impl fmt::Debug for JsonLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLayer").finish_non_exhaustive()
    }
}

impl JsonLayer {
    /// A layer that writes to `writer`.
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        Self {
            out: Mutex::new(Box::new(writer)),
        }
    }
}

impl<S> Layer<S> for JsonLayer
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
        let connection = Connection::of(event, &ctx);
        let line = render(SystemTime::now(), &connection, &EventFields::of(event));
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        // A trace that cannot be written must not break the connection it describes.
        let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
    }
}

fn render(time: SystemTime, connection: &Connection, fields: &EventFields) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"time\":\"");
    push_rfc3339(&mut out, time);
    out.push('"');
    if let Some(id) = connection.id {
        let _ = write!(out, ",\"conn\":{id}");
    }
    for (name, value) in [("role", &connection.role), ("peer", &connection.peer)] {
        if let Some(value) = value {
            push_key(&mut out, name);
            push_string(&mut out, value);
        }
    }
    // The message last: the structured fields first, as a reader scans them.
    let (messages, others): (Vec<_>, Vec<_>) =
        fields.0.iter().partition(|(name, _)| *name == "message");
    for (name, value) in others.into_iter().chain(messages) {
        push_key(&mut out, name);
        match value {
            Value::Str(text) => push_string(&mut out, text),
            Value::Bool(flag) => {
                let _ = write!(out, "{flag}");
            }
            Value::U64(number) => {
                let _ = write!(out, "{number}");
            }
            Value::I64(number) => {
                let _ = write!(out, "{number}");
            }
            Value::F64(number) if number.is_finite() => {
                let _ = write!(out, "{number}");
            }
            Value::F64(_) => out.push_str("null"),
        }
    }
    out.push_str("}\n");
    out
}

fn push_key(out: &mut String, name: &str) {
    out.push(',');
    push_string(out, name);
    out.push(':');
}

/// A JSON string literal (RFC 8259 section 7).
fn push_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `2025-01-01T12:00:00.000123Z`.
fn push_rfc3339(out: &mut String, time: SystemTime) {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let in_day = seconds % 86_400;
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60,
        since_epoch.subsec_micros()
    );
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        let mut out = String::new();
        push_rfc3339(
            &mut out,
            UNIX_EPOCH + Duration::from_micros(1_704_067_199_000_042),
        );
        assert_eq!(out, "2023-12-31T23:59:59.000042Z");
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        push_string(&mut out, "a\"b\\c\n\u{1}é");
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\u0001é\"");
    }

    #[test]
    fn one_object_per_line() {
        let connection = Connection {
            id: Some(3),
            role: Some("server".into()),
            peer: None,
        };
        let fields = EventFields(vec![
            ("message", Value::Str("> ping".into())),
            ("event", Value::Str("frame".into())),
            ("fin", Value::Bool(true)),
            ("len", Value::U64(1)),
            ("rtt_ms", Value::F64(0.5)),
        ]);
        assert_eq!(
            render(UNIX_EPOCH, &connection, &fields),
            "{\"time\":\"1970-01-01T00:00:00.000000Z\",\"conn\":3,\"role\":\"server\",\"event\":\"frame\",\"fin\":true,\"len\":1,\"rtt_ms\":0.5,\"message\":\"> ping\"}\n"
        );
    }
}
