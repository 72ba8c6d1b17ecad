//! Shared by the trace and redaction tests: a buffer the trace is written to, capturing a
//! trace on one thread, and the normalization that makes a trace comparable to a golden file.

#![allow(dead_code)]

use std::io::{self, Write};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tracing::Dispatch;

/// A cloneable in-memory writer: the subscriber writes, the test reads.
#[derive(Clone, Default)]
pub(crate) struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub(crate) fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `work` with `subscriber` as this thread's default.
///
/// While exactly one dispatcher exists, tracing-core caches each callsite's interest from the
/// thread that reaches it first (tokio-rs/tracing#3611): a server thread without a subscriber
/// that reaches the trace's callsite first turns it off for the capturing thread too, and the
/// captured trace comes back empty (seen once under load). A second dispatcher, kept alive for
/// the whole run, makes tracing combine every dispatcher's interest instead.
pub(crate) fn capture<T>(
    subscriber: impl tracing::Subscriber + Send + Sync + 'static,
    work: impl FnOnce() -> T,
) -> T {
    static ANCHOR: OnceLock<Dispatch> = OnceLock::new();
    ANCHOR.get_or_init(|| Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    tracing::subscriber::with_default(subscriber, work)
}

/// Replaces what changes from run to run: connection ids (`[3]` → `[#]`), ports
/// (`127.0.0.1:PORT`), the handshake key and accept (`KEY`, `ACCEPT`) and round-trip times
/// (`after T ms`).
pub(crate) fn normalize(trace: &str) -> String {
    trace
        .lines()
        .map(|line| {
            let line = match line
                .strip_prefix('[')
                .and_then(|rest| rest.split_once("] "))
            {
                Some((id, rest)) if id.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("[#] {rest}")
                }
                _ => line.to_string(),
            };
            let line = replace_digits_after(&line, "127.0.0.1:", "PORT");
            let line = replace_rest_after(&line, "Sec-WebSocket-Key: ", "KEY");
            let line = replace_rest_after(&line, "Sec-WebSocket-Accept: ", "ACCEPT");
            replace_between(&line, " after ", " ms", "T") + "\n"
        })
        .collect()
}

/// `127.0.0.1:54321` → `127.0.0.1:PORT`, everywhere in the line.
fn replace_digits_after(line: &str, marker: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(marker) {
        let after = &rest[at + marker.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..at + marker.len()]);
        if digits > 0 {
            out.push_str(with);
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// Everything after `marker` to the end of the line becomes `with`.
fn replace_rest_after(line: &str, marker: &str, with: &str) -> String {
    match line.find(marker) {
        Some(at) => format!("{}{with}", &line[..at + marker.len()]),
        None => line.to_string(),
    }
}

/// The text between `start` and the next `end` becomes `with`.
fn replace_between(line: &str, start: &str, end: &str, with: &str) -> String {
    let Some(at) = line.find(start) else {
        return line.to_string();
    };
    let from = at + start.len();
    match line[from..].find(end) {
        Some(len) => format!("{}{with}{}", &line[..from], &line[from + len..]),
        None => line.to_string(),
    }
}

/// [`normalize`], and the sizes of compressed frames (`17 bytes compressed` → `N bytes
/// compressed`, and `inflated … from 17 bytes` → `from N bytes`): they depend on the DEFLATE
/// encoder, not on the trace.
pub(crate) fn normalize_compressed(trace: &str) -> String {
    normalize(trace)
        .lines()
        .map(|line| {
            let line = replace_count_before(line, " compressed");
            let line = if line.contains("* inflated ") {
                replace_count_after(&line, " from ")
            } else {
                line
            };
            line + "\n"
        })
        .collect()
}

/// `17 bytes{marker}` (or `1 byte{marker}`) → `N bytes{marker}`, everywhere in the line.
fn replace_count_before(line: &str, marker: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(marker) {
        let before = &rest[..at];
        let unit = [" bytes", " byte"]
            .into_iter()
            .find(|unit| before.ends_with(unit));
        let count_end = before.len() - unit.map_or(0, str::len);
        let digits = before[..count_end]
            .bytes()
            .rev()
            .take_while(u8::is_ascii_digit)
            .count();
        if unit.is_some() && digits > 0 {
            out.push_str(&before[..count_end - digits]);
            out.push_str("N bytes");
        } else {
            out.push_str(before);
        }
        out.push_str(marker);
        rest = &rest[at + marker.len()..];
    }
    out.push_str(rest);
    out
}

/// `{marker}17 bytes` (or `1 byte`) → `{marker}N bytes`, at the first `marker` followed by a
/// count.
fn replace_count_after(line: &str, marker: &str) -> String {
    let Some(at) = line.find(marker) else {
        return line.to_string();
    };
    let after = &line[at + marker.len()..];
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    let unit = [" bytes", " byte"]
        .into_iter()
        .find(|unit| after[digits..].starts_with(unit));
    match unit {
        Some(unit) if digits > 0 => format!(
            "{}N bytes{}",
            &line[..at + marker.len()],
            &after[digits + unit.len()..]
        ),
        _ => line.to_string(),
    }
}
