//! How `sockeye connect` writes what arrives to stdout. On a terminal, text is escaped so that a
//! peer cannot drive the terminal ([`print::escape_text`]) and binary is shown as hex; anywhere
//! else (a pipe, a file) every message is written as it came, then the separator (a newline, or
//! NUL with `-0`), or as one JSON object per line with `--jsonl`.

use std::io::{self, Write};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sockeye::Message;

use crate::connect_args::{BinaryOutput, IoArgs};
use crate::print;

/// The way received messages are written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    /// Escape control characters in text (stdout is a terminal).
    escape: bool,
    /// Written after each text or binary message.
    separator: u8,
    binary: BinaryOutput,
    /// `--jsonl`: one JSON object per message instead.
    jsonl: bool,
    /// `-P/--show-ping-pong`: pings and pongs are written too.
    ping_pong: bool,
    /// `--timings`: each line written starts with `[+SECONDS.MMMs] `.
    timings: bool,
}

impl Output {
    /// The output the flags ask for; `terminal`: stdout is a terminal.
    /// `-r/--raw` writes as to a pipe even on a terminal.
    pub(crate) fn new(io: &IoArgs, terminal: bool) -> Self {
        let terminal = terminal && !io.raw;
        Self {
            escape: terminal,
            separator: io.separator(),
            binary: io.binary_output(terminal),
            jsonl: io.jsonl,
            ping_pong: false,
            timings: io.timings,
        }
    }

    /// Writes what [`write`](Self::write) writes, after `[+1.234s] ` (the time since `opened`)
    /// with `--timings`; nothing when the message is not shown.
    pub(crate) fn write_timed(
        &self,
        out: &mut impl Write,
        message: &Message,
        opened: std::time::Instant,
    ) -> io::Result<()> {
        if !self.timings {
            return self.write(out, message);
        }
        let mut written = Vec::new();
        self.write(&mut written, message)?;
        if written.is_empty() {
            return Ok(());
        }
        write!(out, "[+{:.3}s] ", opened.elapsed().as_secs_f64())?;
        out.write_all(&written)
    }

    /// Writes pings and pongs as well (`-P/--show-ping-pong`) when `show` is true.
    pub(crate) fn ping_pong(self, show: bool) -> Self {
        Self {
            ping_pong: show,
            ..self
        }
    }

    /// Writes a text or binary message, or (with `--frames`) a raw frame's line; pings and
    /// pongs only with `-P`, closes never.
    pub(crate) fn write(&self, out: &mut impl Write, message: &Message) -> io::Result<()> {
        match message {
            Message::Text(text) if self.jsonl => json_line(out, "text", text.as_str()),
            Message::Binary(data) if self.jsonl => json_line(out, "binary", &BASE64.encode(data)),
            Message::Text(text) if self.escape => {
                out.write_all(print::escape_text(text.as_str()).as_bytes())?;
                out.write_all(&[self.separator])
            }
            Message::Text(text) => {
                out.write_all(text.as_bytes())?;
                out.write_all(&[self.separator])
            }
            Message::Binary(data) => {
                match self.binary {
                    BinaryOutput::Raw => out.write_all(data)?,
                    BinaryOutput::Base64 => out.write_all(BASE64.encode(data).as_bytes())?,
                    BinaryOutput::Hex => write!(
                        out,
                        "[binary {} bytes] {}",
                        data.len(),
                        print::hex(data, usize::MAX)
                    )?,
                }
                out.write_all(&[self.separator])
            }
            Message::Frame(frame) => writeln!(out, "{}", print::frame(frame)),
            Message::Ping(data) | Message::Pong(data) if self.ping_pong => {
                let kind = if matches!(message, Message::Ping(_)) {
                    "ping"
                } else {
                    "pong"
                };
                if self.jsonl {
                    return json_line(out, kind, &BASE64.encode(data));
                }
                match std::str::from_utf8(data) {
                    Ok(text) => write!(out, "[{kind}] {}", print::escape_text(text))?,
                    Err(_) => write!(
                        out,
                        "[{kind} {} bytes] {}",
                        data.len(),
                        print::hex(data, usize::MAX)
                    )?,
                }
                out.write_all(&[self.separator])
            }
            _ => Ok(()),
        }
    }
}

/// `{"type":TYPE,"data":DATA}` and a newline.
fn json_line(out: &mut impl Write, kind: &str, data: &str) -> io::Result<()> {
    let data = serde_json::to_string(data).map_err(io::Error::other)?;
    writeln!(out, "{{\"type\":\"{kind}\",\"data\":{data}}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect_args::IoArgs;
    use clap::{Args, Command, FromArgMatches};

    fn output(flags: &[&str], terminal: bool) -> Output {
        let command = IoArgs::augment_args(Command::new("test"))
            .arg(clap::Arg::new("slash").long("slash"))
            .arg(clap::Arg::new("frames").long("frames"));
        let matches = command.get_matches_from([&["test"], flags].concat());
        Output::new(&IoArgs::from_arg_matches(&matches).unwrap(), terminal)
    }

    fn written(output: Output, messages: &[Message]) -> Vec<u8> {
        let mut out = Vec::new();
        for message in messages {
            output.write(&mut out, message).unwrap();
        }
        out
    }

    #[test]
    fn a_pipe_gets_text_and_binary_as_they_came() {
        let messages = [
            Message::text("{\"msg\":\"a\\nb\",\"path\":\"C:\\\\tmp\"}\x1b[31m"),
            Message::binary(vec![0, 10, 255]),
            Message::Ping(b"not shown"[..].into()),
        ];
        let text = b"{\"msg\":\"a\\nb\",\"path\":\"C:\\\\tmp\"}\x1b[31m";
        let lines = [&text[..], b"\n", &[0, 10, 255], b"\n"].concat();
        assert_eq!(written(output(&[], false), &messages), lines);
        let records = [&text[..], b"\0", &[0, 10, 255], b"\0"].concat();
        assert_eq!(written(output(&["-0"], false), &messages), records);
    }

    #[test]
    fn a_terminal_gets_escaped_text_and_hex() {
        let messages = [Message::text("a\nb\x1b"), Message::binary(vec![0xde, 0xad])];
        assert_eq!(
            written(output(&[], true), &messages),
            b"a\\nb\\u{1b}\n[binary 2 bytes] de ad\n"
        );
        assert_eq!(
            written(output(&["--binary-output", "raw"], true), &messages[1..]),
            [0xde, 0xad, b'\n']
        );
    }

    #[test]
    fn raw_writes_a_terminal_what_a_pipe_gets() {
        let messages = [
            Message::text("a\x1b[31m"),
            Message::binary(vec![0xde, 0xad]),
        ];
        let bare = b"a\x1b[31m\n\xde\xad\n";
        assert_eq!(written(output(&["-r"], true), &messages), bare);
        assert_eq!(written(output(&["--raw"], false), &messages), bare);
        assert_eq!(
            written(
                output(&["-r", "--binary-output", "hex"], true),
                &messages[1..]
            ),
            b"[binary 2 bytes] de ad\n"
        );
    }

    #[test]
    fn base64_and_json_lines() {
        let messages = [
            Message::text("a\n\"b\"\x01"),
            Message::binary(vec![0xde, 0xad, 0xbe, 0xef]),
        ];
        assert_eq!(
            written(output(&["--base64"], false), &messages[1..]),
            b"3q2+7w==\n"
        );
        assert_eq!(
            String::from_utf8(written(output(&["--jsonl"], false), &messages)).unwrap(),
            "{\"type\":\"text\",\"data\":\"a\\n\\\"b\\\"\\u0001\"}\n\
             {\"type\":\"binary\",\"data\":\"3q2+7w==\"}\n"
        );
    }
}
