//! See the wire: the opening handshake and every frame of a connection, as [`tracing`] events,
//! with secrets redacted (the `enableTrace` of sockeye).
//!
//! # Turning it on
//!
//! One call, before connecting or accepting:
//!
//! ```no_run
//! sockeye::trace::enable_stderr()?; // or enable_file("ws.log"), or enable_json(writer)
//! let (mut socket, _) = sockeye::blocking::connect("ws://127.0.0.1:9001/chat")?;
//! socket.send_text("hi")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! prints, for a client:
//!
//! ```text
//! [1] * client connection to 127.0.0.1:9001
//! [1] > GET /chat HTTP/1.1
//! [1] > Host: 127.0.0.1:9001
//! [1] > Authorization: Bearer [redacted]
//! [1] > …
//! [1] >
//! [1] < HTTP/1.1 101 Switching Protocols
//! [1] < …
//! [1] <
//! [1] * open
//! [1] > text 2 bytes "hi"  [mask 37fa213d]
//! [1] < text 2 bytes "hi"
//! [1] > ping 1 byte "x"  [mask 0c4e1e55]
//! [1] < pong 1 byte "x" after 0.412 ms
//! [1] > close 1000 (normal) "bye"  [mask 9a0b7c11]
//! [1] < close 1000 (normal)
//! [1] * end: 3 frames sent, 3 received
//! ```
//!
//! `[1]` is the connection id (a process-wide counter), `>` what this side sent, `<` what it
//! received, `*` what happened, `!` a failure. The `enable_*` functions install a global
//! subscriber and fail if one is set already; an application with its own subscriber adds
//! [`HumanLayer`] or [`JsonLayer`] with [`filter()`] to it instead, and tests use
//! [`human_subscriber`] or [`json_subscriber`] with `tracing::subscriber::set_default`.
//!
//! # What is traced
//!
//! Every connection, client or server, blocking or tokio, gets a span named `connection`
//! (target [`TARGET`], level DEBUG) with the fields `id`, `role` and `peer` (for a client the
//! host and port it dials, or `unix:PATH`; a server over an arbitrary stream does not know its
//! peer, so the formatters take `peer` from an enclosing span, such as [`peer_span`]). Inside
//! it, events with an `event` field:
//!
//! | `event` | fields |
//! |---|---|
//! | `start` | — |
//! | `request`, `response` | `dir` (`sent`/`received`), `head` (the HTTP head exactly as on the wire, secrets redacted), `status`, `body` (a preview of a refusal's body) |
//! | `open` | `subprotocol` |
//! | `handshake_failed` | `stage`, `error` (redacted) |
//! | `frame` | `dir`, `opcode`, `fin`, `rsv1`-`rsv3`, `mask` (hex), `len` (bytes on the wire), `preview`, `preview_format` (`text`/`hex`), `truncated`, and `close_code`, `close_name`, `close_reason` for close frames, `rtt_ms` for a pong that answers one of this side's pings, `compressed` (`true`) for permessage-deflate frames, with `uncompressed_len` when sent (the preview is then of the uncompressed payload) and no preview when received |
//! | `frame` with raw bytes on ([`ClientConfig::trace_raw_bytes`](crate::ClientConfig::trace_raw_bytes)) | also `raw`: the frame's bytes as on the wire in hex (header with the length in its shortest form, mask key, masked payload; the payload cut after the preview's length) and `raw_truncated` |
//! | `inflated` | `dir` (`received`), `opcode` (`text`/`binary`), `len`, `compressed_len`, `preview`, `preview_format`, `truncated`: a compressed message received, inflated (each compressed frame when frames are delivered one by one) |
//! | `failed` | `error`, `close_code`: the protocol failure that ended the connection |
//! | `end` | `frames_sent`, `frames_received`: the connection was dropped |
//!
//! Each event's message is its line in the human format, so any `tracing` subscriber shows
//! something readable. Payload previews stop after
//! [`ClientConfig::trace_preview_bytes`](crate::ClientConfig::trace_preview_bytes) bytes
//! (default [`DEFAULT_PREVIEW_BYTES`]). Header blocks and error messages are redacted (see
//! [`crate::redact`]) unless [`ClientConfig::show_secrets`](crate::ClientConfig::show_secrets) /
//! [`ServerConfig::show_secrets`](crate::ServerConfig::show_secrets) is set; payloads are shown
//! as they are.
//!
//! # Cost
//!
//! Whether to trace is decided once per connection, when it starts, with
//! `tracing::enabled!(target: "sockeye::trace", Level::DEBUG)`. When nothing listens, nothing is
//! formatted, copied or allocated, and no frame observer is installed: the core pays one branch
//! per frame. When tracing is on, each frame costs one event with a preview of at most
//! `trace_preview_bytes` bytes (not the whole payload), and the handshake keeps a copy of the
//! response bytes until the head is complete (capped at 32 KiB) so that a refused handshake can
//! still be shown. The formatters write each event with one `write_all` and flush, so nothing is
//! lost if the process exits; that is a system call per event, fine for debugging, not for
//! production volumes.

mod fields;
mod human;
mod json;
mod observer;

use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use sockeye_proto::{Connection, Role};
use tracing::field::Empty;
use tracing::Span;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::Layer as _;

pub use human::HumanLayer;
pub use json::JsonLayer;

use crate::config::{ClientConfig, ServerConfig};
use crate::error::Error;
use crate::redact;

/// The target of every span and event of the trace.
pub const TARGET: &str = "sockeye::trace";

pub use crate::config::DEFAULT_PREVIEW_BYTES;

/// How much of the handshake response is kept to show a failed handshake.
const MAX_KEPT_HANDSHAKE_BYTES: usize = 32 * 1024;

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// The filter that selects the trace: target [`TARGET`], level DEBUG and above.
pub fn filter() -> Targets {
    Targets::new().with_target(TARGET, LevelFilter::DEBUG)
}

/// A subscriber that prints the trace in the human format to `writer`.
pub fn human_subscriber(
    writer: impl io::Write + Send + 'static,
) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(HumanLayer::new(writer).with_filter(filter()))
}

/// A subscriber that prints the trace as JSON lines to `writer`.
pub fn json_subscriber(
    writer: impl io::Write + Send + 'static,
) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(JsonLayer::new(writer).with_filter(filter()))
}

/// Prints the trace of every connection of this process to stderr, in the human format.
///
/// Fails if a global `tracing` subscriber is already set.
pub fn enable_stderr() -> io::Result<()> {
    install(human_subscriber(io::stderr()))
}

/// Writes the trace of every connection of this process to the file at `path` (created or
/// truncated), in the human format.
pub fn enable_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let file = File::create(path).map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("cannot create the trace file {}: {err}", path.display()),
        )
    })?;
    install(human_subscriber(file))
}

/// Writes the trace of every connection of this process to `writer`, one JSON object per line.
pub fn enable_json(writer: impl io::Write + Send + 'static) -> io::Result<()> {
    install(json_subscriber(writer))
}

fn install(subscriber: impl tracing::Subscriber + Send + Sync) -> io::Result<()> {
    tracing::subscriber::set_global_default(subscriber).map_err(|_| {
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            "a global tracing subscriber is already set; add sockeye::trace::HumanLayer (or JsonLayer) with sockeye::trace::filter() to it instead",
        )
    })
}

/// A span that names the peer of the connections created inside it: enter it (or
/// `Instrument` a future with it) around `accept_with` / `accept_async_with`, which cannot
/// know the address of an arbitrary stream.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = std::net::TcpListener::bind("127.0.0.1:9001")?;
/// let (stream, peer) = listener.accept()?;
/// let _peer = sockeye::trace::peer_span(&peer.to_string()).entered();
/// let socket = sockeye::blocking::accept(stream)?;
/// # Ok(()) }
/// ```
pub fn peer_span(peer: &str) -> Span {
    tracing::debug_span!(target: TARGET, "peer", peer)
}

/// True if a subscriber wants the trace now.
fn wanted() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::DEBUG)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Client => "client",
        Role::Server => "server",
    }
}

/// The trace of one connection from its first handshake byte. A no-op when tracing is off.
///
/// The handshake drivers (`handshake/`) make one when a handshake starts, report the heads, then
/// [`attach`](Self::attach) it to the [`Connection`] (or [`finish`](Self::finish) it with the
/// error that ended the handshake).
#[derive(Debug)]
pub(crate) struct Tracer {
    active: Option<Box<Active>>,
}

#[derive(Debug)]
struct Active {
    span: Span,
    role: Role,
    show_secrets: bool,
    preview_bytes: usize,
    raw_bytes: bool,
    /// Handshake bytes received so far, until the peer's head has been traced.
    received: Vec<u8>,
    head_received: bool,
    /// `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` of the response, for `open`.
    subprotocol: Option<String>,
    extensions: Option<String>,
}

impl Tracer {
    /// A client's trace; the peer is the host and port it dials (or its Unix socket).
    pub(crate) fn client(config: &ClientConfig) -> Self {
        if !wanted() {
            return Self { active: None };
        }
        let target = &config.target;
        let peer = match &config.unix_socket {
            Some(path) => format!("unix:{}", path.display()),
            None if target.host.contains(':') => format!("[{}]:{}", target.host, target.port),
            None => format!("{}:{}", target.host, target.port),
        };
        Self::start(
            Role::Client,
            Some(&peer),
            config.show_secrets,
            config.trace_preview_bytes,
            config.trace_raw_bytes,
        )
    }

    /// A server's trace; its peer comes from an enclosing span, if any.
    pub(crate) fn server(config: &ServerConfig) -> Self {
        if !wanted() {
            return Self { active: None };
        }
        Self::start(
            Role::Server,
            None,
            config.show_secrets,
            config.trace_preview_bytes,
            false,
        )
    }

    fn start(
        role: Role,
        peer: Option<&str>,
        show_secrets: bool,
        preview_bytes: usize,
        raw_bytes: bool,
    ) -> Self {
        let id = NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed);
        let role_name = role_name(role);
        let span = tracing::debug_span!(
            target: TARGET,
            "connection",
            id,
            role = role_name,
            peer = Empty
        );
        if let Some(peer) = peer {
            span.record("peer", peer);
        }
        match peer {
            Some(peer) => tracing::debug!(
                target: TARGET,
                parent: &span,
                event = "start",
                "{role_name} connection to {peer}"
            ),
            None => tracing::debug!(
                target: TARGET,
                parent: &span,
                event = "start",
                "{role_name} connection"
            ),
        }
        Self {
            active: Some(Box::new(Active {
                span,
                role,
                show_secrets,
                preview_bytes,
                raw_bytes,
                received: Vec::new(),
                head_received: false,
                subprotocol: None,
                extensions: None,
            })),
        }
    }

    /// This side wrote its head (a client's request, a server's response: head and body).
    ///
    /// A server answering a request it could not parse shows the bytes it received first.
    pub(crate) fn sent(&mut self, bytes: &[u8]) {
        if let Some(active) = &mut self.active {
            active.received_unparsed();
            let kind = match active.role {
                Role::Client => "request",
                Role::Server => "response",
            };
            active.head(kind, "sent", bytes);
        }
    }

    /// Bytes of the peer's handshake arrived (kept to show a handshake that fails).
    pub(crate) fn received_bytes(&mut self, bytes: &[u8]) {
        if let Some(active) = &mut self.active {
            if !active.head_received && active.received.len() < MAX_KEPT_HANDSHAKE_BYTES {
                let room = MAX_KEPT_HANDSHAKE_BYTES - active.received.len();
                active
                    .received
                    .extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
        }
    }

    /// The peer's head was parsed (`head` exactly as received).
    pub(crate) fn received_head(&mut self, head: &[u8]) {
        if let Some(active) = &mut self.active {
            let kind = match active.role {
                Role::Client => "response",
                Role::Server => "request",
            };
            active.head(kind, "received", head);
            active.head_received = true;
            active.received = Vec::new();
        }
    }

    /// The handshake succeeded: traces `open` (with the subprotocol and extensions the 101
    /// response named) and installs the frame observer on `conn`.
    pub(crate) fn attach(&mut self, conn: &mut Connection) {
        let Some(active) = self.active.take() else {
            return;
        };
        let mut message = String::from("open");
        let negotiated = [
            ("subprotocol", &active.subprotocol),
            ("extensions", &active.extensions),
        ];
        let negotiated: Vec<String> = negotiated
            .iter()
            .filter_map(|(name, value)| Some(format!("{name}: {}", value.as_deref()?)))
            .collect();
        if !negotiated.is_empty() {
            let _ = write!(message, " ({})", negotiated.join(", "));
        }
        tracing::debug!(
            target: TARGET,
            parent: &active.span,
            event = "open",
            subprotocol = active.subprotocol.as_deref(),
            extensions = active.extensions.as_deref(),
            "{message}"
        );
        conn.set_observer(Some(Box::new(observer::FrameTracer::new(
            active.span,
            active.preview_bytes,
            active.raw_bytes,
        ))));
    }

    /// Traces the error that ended the handshake (with the peer's bytes, if its head was not
    /// traced yet), and passes the result on.
    pub(crate) fn finish<T>(&mut self, result: Result<T, Error>) -> Result<T, Error> {
        if let (Err(error), Some(mut active)) = (&result, self.active.take()) {
            active.received_unparsed();
            let message = if active.show_secrets {
                error.unredacted().to_string()
            } else {
                error.to_string()
            };
            let stage = error.stage().to_string();
            tracing::debug!(
                target: TARGET,
                parent: &active.span,
                event = "handshake_failed",
                stage = stage.as_str(),
                error = message.as_str(),
                "handshake failed ({stage} stage): {message}"
            );
        }
        result
    }
}

impl Active {
    /// Shows the peer's bytes received so far if its head could not be parsed and traced.
    fn received_unparsed(&mut self) {
        if self.head_received || self.received.is_empty() {
            return;
        }
        let kind = match self.role {
            Role::Client => "response",
            Role::Server => "request",
        };
        let received = std::mem::take(&mut self.received);
        self.head(kind, "received", &received);
        self.head_received = true;
    }

    /// One `request` or `response` event: the head (up to the blank line) and a preview of what
    /// follows it (a refusal's body).
    fn head(&mut self, kind: &str, dir: &str, bytes: &[u8]) {
        let (head, body_bytes) = split_head(bytes);
        let head = String::from_utf8_lossy(head);
        let head = if self.show_secrets {
            head
        } else {
            match redact::head(&head) {
                std::borrow::Cow::Owned(redacted) => std::borrow::Cow::Owned(redacted),
                std::borrow::Cow::Borrowed(_) => head,
            }
        };
        if kind == "response" {
            self.subprotocol = header_value(&head, "Sec-WebSocket-Protocol");
            self.extensions = header_value(&head, "Sec-WebSocket-Extensions");
        }
        let status = (kind == "response").then(|| status_code(&head)).flatten();
        let body = (!body_bytes.is_empty()).then(|| {
            let (text, truncated) = text_preview(body_bytes, self.preview_bytes);
            let text = if self.show_secrets {
                text
            } else {
                redact::text(&text).into_owned()
            };
            let mut shown = String::new();
            push_escaped(&mut shown, &text);
            if truncated {
                shown.push('…');
            }
            shown
        });
        let first_line = head.lines().next().unwrap_or("");
        tracing::debug!(
            target: TARGET,
            parent: &self.span,
            event = kind,
            dir,
            status,
            head = &*head,
            body = body.as_deref(),
            body_len = body.is_some().then_some(body_bytes.len() as u64),
            "{kind} {dir}: {first_line}"
        );
    }
}

/// Splits at the blank line that ends an HTTP head; without one, everything is head.
fn split_head(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.windows(4).position(|window| window == b"\r\n\r\n") {
        Some(at) => bytes.split_at(at + 4),
        None => (bytes, &[]),
    }
}

/// The value of the first header `name` in an HTTP head.
fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

/// The status code of `HTTP/1.1 101 Switching Protocols`.
fn status_code(head: &str) -> Option<u16> {
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    parts
        .next()
        .filter(|version| version.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

/// At most `limit` bytes of `bytes` as text (invalid UTF-8 replaced), cut at a character
/// boundary; true if something was left out.
pub(crate) fn text_preview(bytes: &[u8], limit: usize) -> (String, bool) {
    let shown = &bytes[..bytes.len().min(limit)];
    let mut text = String::from_utf8_lossy(shown).into_owned();
    if shown.len() < bytes.len() && text.ends_with('\u{fffd}') {
        // A character cut in half by the limit: leave it out rather than show U+FFFD.
        if let Err(err) = std::str::from_utf8(shown) {
            if err.error_len().is_none() {
                text.pop();
            }
        }
    }
    (text, shown.len() < bytes.len())
}

/// At most `limit` bytes as space-separated hex; true if something was left out.
pub(crate) fn hex_preview(bytes: &[u8], limit: usize) -> (String, bool) {
    let shown = &bytes[..bytes.len().min(limit)];
    let mut out = String::with_capacity(shown.len() * 3);
    for (index, byte) in shown.iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{byte:02x}");
    }
    (out, shown.len() < bytes.len())
}

/// Appends `text` with control characters, quotes and backslashes escaped, so peer text cannot
/// drive the terminal or break a line apart.
pub(crate) fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_cut_at_the_limit() {
        assert_eq!(text_preview(b"hello", 10), ("hello".into(), false));
        assert_eq!(text_preview(b"hello", 2), ("he".into(), true));
        // "é" is two bytes: a limit inside it leaves it out.
        assert_eq!(text_preview("aé".as_bytes(), 2), ("a".into(), true));
        assert_eq!(hex_preview(&[1, 2, 255], 2), ("01 02".into(), true));
        assert_eq!(hex_preview(&[], 2), (String::new(), false));
    }

    #[test]
    fn escapes_control_characters() {
        let mut out = String::new();
        push_escaped(&mut out, "a\x1b[31m\"b\"\n");
        assert_eq!(out, "a\\u{1b}[31m\\\"b\\\"\\n");
    }

    #[test]
    fn heads_split_at_the_blank_line() {
        let (head, body) = split_head(b"HTTP/1.1 403 Forbidden\r\nA: b\r\n\r\nno");
        assert_eq!(head, b"HTTP/1.1 403 Forbidden\r\nA: b\r\n\r\n");
        assert_eq!(body, b"no");
        assert_eq!(status_code("HTTP/1.1 403 Forbidden\r\n"), Some(403));
        assert_eq!(status_code("GET / HTTP/1.1\r\n"), None);
    }
}
