//! How the CLI shows messages, frames and handshakes to a person.

use sockeye::{CloseFrame, Frame, Message, OpCode};

/// Escapes control characters so peer text cannot drive the terminal.
pub(crate) fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Bytes as space-separated hex, at most `limit` bytes, with an ellipsis when cut.
pub(crate) fn hex(bytes: &[u8], limit: usize) -> String {
    let mut out: Vec<String> = bytes
        .iter()
        .take(limit)
        .map(|b| format!("{b:02x}"))
        .collect();
    if bytes.len() > limit {
        out.push("…".into());
    }
    out.join(" ")
}

/// A close frame as `1000 (normal) "reason"`, or `no status code`.
pub(crate) fn close(frame: Option<&CloseFrame>) -> String {
    match frame {
        Some(frame) => format!("{} \"{}\"", frame.code, escape_text(&frame.reason)),
        None => "no status code (1005)".into(),
    }
}

/// One message as a trace line: `text "hi"`, `binary 4 bytes: de ad be ef`, `ping "x"`.
pub(crate) fn message(message: &Message) -> String {
    match message {
        Message::Text(text) => format!("text \"{}\"", escape_text(text.as_str())),
        Message::Binary(data) => format!("binary {} bytes: {}", data.len(), hex(data, 32)),
        Message::Ping(data) => format!("ping \"{}\"", escape_text(&String::from_utf8_lossy(data))),
        Message::Pong(data) => format!("pong \"{}\"", escape_text(&String::from_utf8_lossy(data))),
        Message::Close(frame) => format!("close {}", close(frame.as_ref())),
        Message::Frame(frame) => format!(
            "frame {} fin={} rsv={:03b} {} bytes",
            frame.opcode(),
            u8::from(frame.is_final()),
            frame.header.rsv,
            frame.payload.len()
        ),
        other => format!("{other:?}"),
    }
}

/// One frame for `--frames`: `frame 0x1 text fin=1 rsv=000 len=5 "hello"`. The payload is
/// previewed as a close code and reason for a close, as hex (32 bytes) for binary frames and
/// whatever is not UTF-8, else as text (64 characters).
pub(crate) fn frame(frame: &Frame) -> String {
    let payload = &frame.payload;
    let mut line = format!(
        "frame 0x{:X} {} fin={} rsv={:03b} len={}",
        frame.opcode().bits(),
        frame.opcode().name(),
        u8::from(frame.is_final()),
        frame.header.rsv,
        payload.len()
    );
    if payload.is_empty() {
        return line;
    }
    let close = (frame.opcode() == OpCode::Close)
        .then(|| CloseFrame::parse(payload).ok())
        .flatten();
    let text = std::str::from_utf8(payload).ok();
    let preview = match (close, text.filter(|_| frame.opcode() != OpCode::Binary)) {
        (Some(parsed), _) => self::close(parsed.as_ref()),
        (None, Some(text)) => {
            let mut shown: String = text.chars().take(64).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            format!("\"{}\"", escape_text(&shown))
        }
        (None, None) => hex(payload, 32),
    };
    line.push(' ');
    line.push_str(&preview);
    line
}

/// An HTTP head, each line prefixed (`> ` for sent, `< ` for received), control bytes escaped.
pub(crate) fn head(prefix: &str, bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .split("\r\n")
        .filter(|line| !line.is_empty())
        .map(|line| format!("{prefix}{}\n", escape_text(line)))
        .collect()
}

/// Prints an error with its chain of causes.
/// The library's option names in its messages, and the flags that set them. The library
/// speaks in its own terms (`TlsOptions::ca_file`); a person at the command line reads flags.
const OPTION_FLAGS: &[(&str, &str)] = &[
    ("TlsOptions::ca_file", "--cacert"),
    ("TlsOptions::insecure_skip_verify", "-k/--insecure"),
    ("TlsOptions::skip_hostname_check", "--no-hostname-check"),
    ("TlsOptions::server_name", "--sni"),
    ("TlsOptions::client_auth", "--cert/--key"),
    ("ClientConfig::tls_timeout", "--tls-timeout"),
    ("ClientConfig::connect_timeout", "--connect-timeout"),
    ("ClientConfig::handshake_timeout", "--handshake-timeout"),
    ("ClientConfig::follow_redirects", "-L/--location"),
    ("ClientConfig::no_proxy", "--noproxy"),
    ("ClientConfig::proxy", "-x/--proxy"),
    ("ClientConfig::require_subprotocol", "--require-subprotocol"),
    ("ClientConfig::origin", "--origin"),
    ("ClientConfig::max_redirects", "--max-redirs"),
    ("ClientConfig::header", "-H/--header"),
    ("ClientConfig::cookie", "-b/--cookie"),
    ("ClientConfig::subprotocol", "--subprotocol"),
    ("ClientConfig::bearer_token", "--oauth2-bearer"),
    ("ClientConfig::basic_auth", "-u/--user"),
    ("ClientConfig::validate_utf8(false)", "--no-utf8-check"),
    ("ProxyConfig::Direct", "-x \"\""),
    ("ServerConfig::max_memory", "--max-memory"),
    ("ServerConfig::handshake_timeout", "--handshake-timeout"),
    ("KeepaliveConfig::idle_timeout", "--idle-timeout"),
    ("KeepaliveConfig::message_timeout", "--message-timeout"),
];

/// `text` with the library's option names replaced by the flags that set them. Where a
/// message already names the flag and adds the option in parentheses (`--cacert FILE
/// (TlsOptions::ca_file)`), the parenthesis goes.
pub(crate) fn in_flags(text: &str) -> String {
    let mut text = text.to_string();
    for (option, flag) in OPTION_FLAGS {
        if !text.contains(option) {
            continue;
        }
        let aside = format!(" ({option})");
        text = text.replace(&aside, "").replace(option, flag);
    }
    text
}

pub(crate) fn error(err: &anyhow::Error) {
    note!("sockeye: error: {err}");
    for cause in err.chain().skip(1) {
        note!("  caused by: {cause}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_names_become_flags() {
        assert_eq!(
            in_flags(
                "trust that CA with TlsOptions::ca_file; TlsOptions::insecure_skip_verify skips it"
            ),
            "trust that CA with --cacert; -k/--insecure skips it"
        );
        assert_eq!(
            in_flags("trust it with --cacert FILE (TlsOptions::ca_file)"),
            "trust it with --cacert FILE"
        );
        assert_eq!(
            in_flags(
                "raise ClientConfig::max_redirects; ClientConfig::validate_utf8(false) accepts it"
            ),
            "raise --max-redirs; --no-utf8-check accepts it"
        );
        assert_eq!(
            in_flags(
                "ClientConfig::no_proxy with the host, or ProxyConfig::Direct, connects directly"
            ),
            "--noproxy with the host, or -x \"\", connects directly"
        );
        assert_eq!(in_flags("nothing to change"), "nothing to change");
    }

    #[test]
    fn frames_show_header_bits_and_a_preview() {
        let text = Frame::new(OpCode::Text, &b"hi\n"[..]).with_fin(false);
        assert_eq!(frame(&text), "frame 0x1 text fin=0 rsv=000 len=3 \"hi\\n\"");
        let binary = Frame::new(OpCode::Reserved(0xB), vec![0xff; 40]).with_rsv(0b101);
        assert!(frame(&binary).starts_with("frame 0xB reserved fin=1 rsv=101 len=40 ff ff"));
        assert!(frame(&binary).ends_with('…'));
        let close = Frame::new(OpCode::Close, &b"\x0f\xa0bye"[..]);
        assert_eq!(
            frame(&close),
            "frame 0x8 close fin=1 rsv=000 len=5 4000 (private use) \"bye\""
        );
        assert_eq!(
            frame(&Frame::new(OpCode::Ping, &b""[..])),
            "frame 0x9 ping fin=1 rsv=000 len=0"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_text("a\x1b[31mb\n"), "a\\u{1b}[31mb\\n");
        assert_eq!(hex(&[1, 2, 255], 2), "01 02 …");
    }
}
