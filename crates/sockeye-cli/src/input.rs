//! How `sockeye connect` turns stdin into messages: stdin is cut into records (at each newline,
//! at each NUL byte with `-0`, or all of it as one with `--whole`), and each record becomes a
//! text message, a binary message, or base64 decoded into a binary message (`--input-format`).

use std::io::{self, BufRead};

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use sockeye::Message;

use crate::commands;
use crate::connect_args::{InputFormat, IoArgs};

/// Standard base64, with or without its `=` padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Where one record of stdin ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// At each `separator` byte (a newline, or NUL with `-0`), which is not part of the record.
    /// With `drop_cr`, a carriage return just before it goes too, so that a file with CRLF
    /// lines sends what the same file with LF lines sends.
    Split { separator: u8, drop_cr: bool },
    /// At the end of stdin: all of it is one record.
    Whole,
}

impl Framing {
    /// The framing the flags ask for. Only text lines drop a CR: binary and base64 records
    /// keep every byte (base64 ignores whitespace anyway).
    pub(crate) fn from_args(io: &IoArgs) -> Self {
        if io.whole {
            return Self::Whole;
        }
        Self::Split {
            separator: io.separator(),
            drop_cr: !io.null && io.input_format() == InputFormat::Text,
        }
    }
}

/// The records of `reader`, cut as `framing` says. A last record without its separator is a
/// record too; an empty stdin has none, except with [`Framing::Whole`], where it is one empty
/// record.
pub(crate) struct Records<R> {
    reader: R,
    framing: Framing,
    finished: bool,
}

impl<R: BufRead> Records<R> {
    pub(crate) fn new(reader: R, framing: Framing) -> Self {
        Self {
            reader,
            framing,
            finished: false,
        }
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let mut record = Vec::new();
        match self.framing {
            Framing::Whole => {
                self.finished = true;
                Some(self.reader.read_to_end(&mut record).map(|_| record))
            }
            Framing::Split { separator, drop_cr } => {
                match self.reader.read_until(separator, &mut record) {
                    Ok(0) => {
                        self.finished = true;
                        None
                    }
                    Ok(_) => {
                        if record.last() == Some(&separator) {
                            record.pop();
                            if drop_cr && record.last() == Some(&b'\r') {
                                record.pop();
                            }
                        }
                        Some(Ok(record))
                    }
                    Err(err) => {
                        self.finished = true;
                        Some(Err(err))
                    }
                }
            }
        }
    }
}

/// The message one record asks to send; with `slash`, text records that start with "/" are
/// commands ([`commands::parse`]).
pub(crate) fn message(
    record: Vec<u8>,
    format: InputFormat,
    slash: bool,
) -> Result<Message, String> {
    match format {
        InputFormat::Text => match String::from_utf8(record) {
            Ok(text) => commands::parse(&text, slash),
            Err(_) => Err(
                "a stdin record is not UTF-8, so it cannot be a text message (--binary sends \
                 bytes as they are)"
                    .into(),
            ),
        },
        InputFormat::Binary => Ok(Message::binary(record)),
        InputFormat::Base64 => {
            let digits: Vec<u8> = record
                .into_iter()
                .filter(|byte| !byte.is_ascii_whitespace())
                .collect();
            BASE64
                .decode(&digits)
                .map(Message::binary)
                .map_err(|err| format!("a stdin record is not base64: {err}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &[u8], framing: Framing) -> Vec<Vec<u8>> {
        Records::new(input, framing)
            .collect::<io::Result<_>>()
            .unwrap_or_default()
    }

    #[test]
    fn lines_lose_their_newline_and_a_cr_only_when_asked() {
        let lines = Framing::Split {
            separator: b'\n',
            drop_cr: true,
        };
        assert_eq!(
            records(b"a\r\nb\\n\rc\n\nlast", lines),
            [&b"a"[..], b"b\\n\rc", b"", b"last"]
        );
        let raw = Framing::Split {
            separator: b'\n',
            drop_cr: false,
        };
        assert_eq!(records(b"a\r\n", raw), [b"a\r"]);
        assert!(records(b"", raw).is_empty());
    }

    #[test]
    fn nul_records_keep_newlines_and_whole_keeps_everything() {
        let nul = Framing::Split {
            separator: 0,
            drop_cr: false,
        };
        assert_eq!(
            records(b"one\ntwo\r\n\0x\0", nul),
            [&b"one\ntwo\r\n"[..], b"x"]
        );
        assert_eq!(records(b"a\nb\0c", Framing::Whole), [b"a\nb\0c"]);
        assert_eq!(records(b"", Framing::Whole), [b""]);
    }

    #[test]
    fn records_become_text_binary_or_decoded_base64() {
        assert_eq!(
            message(b"hi".to_vec(), InputFormat::Text, false),
            Ok(Message::text("hi"))
        );
        assert!(message(vec![0xff], InputFormat::Text, false)
            .unwrap_err()
            .contains("--binary"));
        assert_eq!(
            message(vec![0, 0xff], InputFormat::Binary, false),
            Ok(Message::binary(vec![0, 0xff]))
        );
        for encoded in ["3q2+7w==", "3q2+7w", " 3q2+\r\n7w==\r"] {
            assert_eq!(
                message(encoded.as_bytes().to_vec(), InputFormat::Base64, false),
                Ok(Message::binary(vec![0xde, 0xad, 0xbe, 0xef])),
                "{encoded:?}"
            );
        }
        assert!(message(b"%%".to_vec(), InputFormat::Base64, false)
            .unwrap_err()
            .contains("not base64"));
    }
}
