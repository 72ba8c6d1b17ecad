//! An incremental decoder for the chunked transfer coding (RFC 9112 section 7.1), with bounded
//! state: it consumes bytes as they arrive, never looks at a byte twice, and keeps nothing but
//! a few counters, so its memory is the same whatever a peer sends.
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! last-chunk   = 1*("0") [ chunk-ext ] CRLF
//! ```
//!
//! Lines end with CRLF; a bare LF or a CR not followed by LF is refused. A chunk-size line
//! (size and extensions) longer than [`MAX_CHUNK_LINE_BYTES`] and a trailer section longer
//! than [`MAX_TRAILER_BYTES`] are refused too: a peer that sends an endless line is stopped
//! after that many bytes instead of being buffered.
//!
//! ```
//! use sockeye_proto::handshake::chunked::ChunkedDecoder;
//!
//! let mut decoder = ChunkedDecoder::new();
//! let mut body = Vec::new();
//! for piece in [&b"5\r\nhel"[..], b"lo\r\n0\r\n", b"\r\n"] {
//!     decoder.decode(piece, |data| body.extend_from_slice(data))?;
//! }
//! assert!(decoder.is_finished());
//! assert_eq!(body, b"hello");
//! # Ok::<(), sockeye_proto::handshake::chunked::ChunkedProblem>(())
//! ```

use thiserror::Error;

/// Longest chunk-size line accepted, size and extensions, without its CRLF: 1 KiB. Servers send
/// a few hex digits and almost never an extension; a line longer than this never ends in
/// practice, and is refused after this many bytes.
pub const MAX_CHUNK_LINE_BYTES: usize = 1024;

/// Longest trailer section accepted (every trailer line, with their CRLFs): 4 KiB.
pub const MAX_TRAILER_BYTES: usize = 4 * 1024;

/// What is wrong with a chunked body. The decoder stops at the first problem and keeps
/// reporting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ChunkedProblem {
    /// A chunk-size line (size and extensions) did not end within [`MAX_CHUNK_LINE_BYTES`].
    #[error("a chunk-size line longer than {MAX_CHUNK_LINE_BYTES} bytes")]
    LineTooLong,
    /// The trailer section did not end within [`MAX_TRAILER_BYTES`].
    #[error("a trailer section longer than {MAX_TRAILER_BYTES} bytes")]
    TrailersTooLong,
    /// A chunk size that is empty, not hexadecimal, or larger than 64 bits.
    #[error("a chunk size that is not a hexadecimal number (of at most 16 digits)")]
    BadSize,
    /// A chunk's data not followed by CRLF: the size did not match the data.
    #[error("a chunk whose data is not followed by CRLF (its size does not match its data)")]
    MissingDataEnd,
    /// A line ending with a bare LF, a CR not followed by LF, or a control character in a
    /// chunk extension or trailer.
    #[error("a line that does not end with CRLF, or a control character in a chunk extension or trailer")]
    BadLine,
}

impl ChunkedProblem {
    /// True for the problems a peer causes by never ending a line: the body never ended.
    pub fn is_endless(&self) -> bool {
        matches!(self, Self::LineTooLong | Self::TrailersTooLong)
    }
}

/// Where the decoder stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading a chunk-size line's hex digits: the size so far and how many digits.
    Size { size: u64, digits: u8 },
    /// Reading a chunk-size line after its digits (whitespace and extensions) until CR.
    Extension { size: u64 },
    /// After the chunk-size line's CR: expecting LF.
    SizeLf { size: u64 },
    /// Inside a chunk's data: this many bytes to go.
    Data { remaining: u64 },
    /// After a chunk's data: expecting CR.
    DataCr,
    /// After a chunk's data and CR: expecting LF.
    DataLf,
    /// After the last chunk: at the start of a trailer line (or of the final CRLF).
    TrailerLineStart,
    /// Inside a trailer line.
    TrailerLine,
    /// After a trailer line's CR: expecting LF.
    TrailerLineLf,
    /// After the final CR: expecting LF.
    FinalLf,
    /// The body ended; bytes after it are not the decoder's.
    Done,
    /// The body is malformed.
    Failed(ChunkedProblem),
}

/// An incremental chunked-body decoder: see the [module documentation](self).
///
/// Its size does not depend on its input: it keeps the state, the current chunk's size and the
/// lengths of the current line and of the trailer section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkedDecoder {
    state: State,
    /// Bytes of the current chunk-size line so far.
    line_len: usize,
    /// Bytes of the trailer section so far.
    trailer_len: usize,
    /// Whether the body ends at the last chunk, trailers unread.
    stop_at_last_chunk: bool,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub fn new() -> Self {
        Self {
            state: State::Size { size: 0, digits: 0 },
            line_len: 0,
            trailer_len: 0,
            stop_at_last_chunk: false,
        }
    }

    /// A decoder that ends at the last chunk's line and reads no trailers: for a caller that
    /// wants only the data and reads nothing more from the connection (a refusal's body).
    pub fn until_last_chunk() -> Self {
        Self {
            stop_at_last_chunk: true,
            ..Self::new()
        }
    }

    /// True once the last chunk (size 0) has been read: all the body's data has been given
    /// out, only the trailer section and the final CRLF may remain.
    pub fn data_finished(&self) -> bool {
        matches!(
            self.state,
            State::TrailerLineStart
                | State::TrailerLine
                | State::TrailerLineLf
                | State::FinalLf
                | State::Done
        )
    }

    /// True once the whole body, final CRLF included, has been read (for
    /// [`until_last_chunk`](Self::until_last_chunk), once the last chunk's line has).
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// The problem found, if the body is malformed.
    pub fn problem(&self) -> Option<ChunkedProblem> {
        match self.state {
            State::Failed(problem) => Some(problem),
            _ => None,
        }
    }

    /// Decodes `input`, the bytes that follow those given before, passing each run of chunk
    /// data to `data` as soon as it is seen (in order, never twice).
    ///
    /// Returns how many bytes of `input` belong to the body: all of them, unless the body
    /// ended inside `input` (then the rest is not the decoder's). After the end it consumes
    /// nothing. `Err`: the body is malformed; every later call returns the same problem.
    pub fn decode(
        &mut self,
        input: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<usize, ChunkedProblem> {
        let mut at = 0;
        while at < input.len() {
            let byte = input[at];
            let next = match self.state {
                State::Done => return Ok(at),
                State::Failed(problem) => return Err(problem),
                State::Data { remaining } => {
                    let available = input.len() - at;
                    let take = usize::try_from(remaining).map_or(available, |r| r.min(available));
                    data(&input[at..at + take]);
                    at += take;
                    let remaining = remaining - take as u64;
                    self.state = if remaining == 0 {
                        State::DataCr
                    } else {
                        State::Data { remaining }
                    };
                    continue;
                }
                State::Size { size, digits } => match hex_value(byte) {
                    Some(value) if digits < 16 => self.size_line_byte(State::Size {
                        size: size << 4 | u64::from(value),
                        digits: digits + 1,
                    }),
                    Some(_) => State::Failed(ChunkedProblem::BadSize),
                    None if byte == b'\n' => State::Failed(ChunkedProblem::BadLine),
                    None if digits == 0 => State::Failed(ChunkedProblem::BadSize),
                    None => match byte {
                        b'\r' => State::SizeLf { size },
                        b';' | b' ' | b'\t' => self.size_line_byte(State::Extension { size }),
                        _ => State::Failed(ChunkedProblem::BadSize),
                    },
                },
                State::Extension { size } => match byte {
                    b'\r' => State::SizeLf { size },
                    b'\n' => State::Failed(ChunkedProblem::BadLine),
                    b'\t' => self.size_line_byte(State::Extension { size }),
                    byte if byte < 0x20 || byte == 0x7f => State::Failed(ChunkedProblem::BadLine),
                    _ => self.size_line_byte(State::Extension { size }),
                },
                State::SizeLf { size } => match byte {
                    b'\n' if size == 0 && self.stop_at_last_chunk => State::Done,
                    b'\n' if size == 0 => State::TrailerLineStart,
                    b'\n' => {
                        self.line_len = 0;
                        State::Data { remaining: size }
                    }
                    _ => State::Failed(ChunkedProblem::BadLine),
                },
                State::DataCr => match byte {
                    b'\r' => State::DataLf,
                    _ => State::Failed(ChunkedProblem::MissingDataEnd),
                },
                State::DataLf => match byte {
                    b'\n' => State::Size { size: 0, digits: 0 },
                    _ => State::Failed(ChunkedProblem::MissingDataEnd),
                },
                State::TrailerLineStart => match byte {
                    b'\r' => State::FinalLf,
                    _ => self.trailer_byte(byte, State::TrailerLine),
                },
                State::TrailerLine => match byte {
                    b'\r' => self.trailer_byte(byte, State::TrailerLineLf),
                    _ => self.trailer_byte(byte, State::TrailerLine),
                },
                State::TrailerLineLf => match byte {
                    b'\n' => self.trailer_byte(byte, State::TrailerLineStart),
                    _ => State::Failed(ChunkedProblem::BadLine),
                },
                State::FinalLf => match byte {
                    b'\n' => State::Done,
                    _ => State::Failed(ChunkedProblem::BadLine),
                },
            };
            self.state = next;
            if let State::Failed(problem) = next {
                return Err(problem);
            }
            at += 1;
            if next == State::Done {
                return Ok(at);
            }
        }
        match self.state {
            State::Failed(problem) => Err(problem),
            _ => Ok(at),
        }
    }

    /// Counts one more byte of a chunk-size line; `next` unless the line is now too long.
    fn size_line_byte(&mut self, next: State) -> State {
        self.line_len += 1;
        if self.line_len > MAX_CHUNK_LINE_BYTES {
            State::Failed(ChunkedProblem::LineTooLong)
        } else {
            next
        }
    }

    /// Counts one more byte of the trailer section; `next` unless it is now too long or the
    /// byte cannot be in a trailer line.
    fn trailer_byte(&mut self, byte: u8, next: State) -> State {
        let control = (byte < 0x20 && !matches!(byte, b'\t' | b'\r' | b'\n')) || byte == 0x7f;
        if control || (byte == b'\n' && next != State::TrailerLineStart) {
            return State::Failed(ChunkedProblem::BadLine);
        }
        self.trailer_len += 1;
        if self.trailer_len > MAX_TRAILER_BYTES {
            State::Failed(ChunkedProblem::TrailersTooLong)
        } else {
            next
        }
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` in one piece: the data, the bytes consumed, the result.
    fn decode_all(input: &[u8]) -> (Vec<u8>, Result<usize, ChunkedProblem>, ChunkedDecoder) {
        let mut decoder = ChunkedDecoder::new();
        let mut body = Vec::new();
        let result = decoder.decode(input, |data| body.extend_from_slice(data));
        (body, result, decoder)
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let input = b"4;name=value\r\nWiki\r\n5 ; x\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n000\r\nExpires: never\r\n\r\nNEXT";
        let (body, result, decoder) = decode_all(input);
        assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.");
        assert_eq!(result, Ok(input.len() - 4));
        assert!(decoder.is_finished());
    }

    #[test]
    fn the_end_is_seen_before_the_trailers() {
        let (body, result, decoder) = decode_all(b"2\r\nok\r\n0\r\n");
        assert_eq!((body.as_slice(), result), (&b"ok"[..], Ok(10)));
        assert!(decoder.data_finished() && !decoder.is_finished());
    }

    #[test]
    fn until_last_chunk_reads_no_trailers() {
        let mut decoder = ChunkedDecoder::until_last_chunk();
        let mut body = Vec::new();
        let input = b"2\r\nok\r\n0\r\n\x00garbage";
        let consumed = decoder.decode(input, |data| body.extend_from_slice(data));
        assert_eq!((body.as_slice(), consumed), (&b"ok"[..], Ok(10)));
        assert!(decoder.is_finished() && decoder.data_finished());
    }

    #[test]
    fn an_endless_size_line_is_stopped_at_the_limit() {
        let mut decoder = ChunkedDecoder::new();
        let mut fed = 0;
        let problem = loop {
            match decoder.decode(b"f", |_| unreachable!()) {
                Ok(n) => fed += n,
                Err(problem) => break problem,
            }
        };
        assert_eq!(problem, ChunkedProblem::BadSize);
        assert_eq!(fed, 16);

        let (_, result, _) = decode_all(&[b"1;".as_slice(), &[b'x'; 2000]].concat());
        assert_eq!(result, Err(ChunkedProblem::LineTooLong));
        let (_, result, _) = decode_all(&[b"0\r\n".as_slice(), &[b'x'; 5000]].concat());
        assert_eq!(result, Err(ChunkedProblem::TrailersTooLong));
    }

    #[test]
    fn malformed_bodies_name_their_problem() {
        let cases: [(&[u8], ChunkedProblem); 8] = [
            (b"\r\n", ChunkedProblem::BadSize),
            (b"zz\r\n", ChunkedProblem::BadSize),
            (b"-1\r\n", ChunkedProblem::BadSize),
            (b"11111111111111111\r\n", ChunkedProblem::BadSize),
            (b"3\nabc", ChunkedProblem::BadLine),
            (b"3\r\nabcd\r\n", ChunkedProblem::MissingDataEnd),
            (b"3\r\nabc\n", ChunkedProblem::MissingDataEnd),
            (b"0\r\nX: 1\n\r\n", ChunkedProblem::BadLine),
        ];
        for (input, expected) in cases {
            let (_, result, decoder) = decode_all(input);
            assert_eq!(
                result,
                Err(expected),
                "{:?}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(decoder.problem(), Some(expected));
        }
    }

    #[test]
    fn a_failed_decoder_keeps_failing() {
        let mut decoder = ChunkedDecoder::new();
        assert!(decoder.decode(b"x", |_| {}).is_err());
        assert_eq!(
            decoder.decode(b"0\r\n\r\n", |_| {}),
            Err(ChunkedProblem::BadSize)
        );
    }
}
