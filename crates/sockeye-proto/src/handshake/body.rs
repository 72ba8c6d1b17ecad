//! The body of a refusal: a non-101 answer to the upgrade, or a non-2xx answer to a proxy's
//! `CONNECT`. It is read only to explain the refusal, so it is read in bounded amounts:
//!
//! - at most a preview is kept ([`MAX_ERROR_BODY_BYTES`](super::MAX_ERROR_BODY_BYTES) for the
//!   handshake, `proxy::MAX_REFUSAL_BODY_BYTES` for a proxy);
//!   once it is full, reading stops;
//! - at most [`MAX_ERROR_BODY_READ_BYTES`] of the body are read, framing included, whatever
//!   the preview holds (a chunked body of one-byte chunks with long extensions fills the
//!   preview slowly): then reading stops with [`BodyProblem::TooLong`];
//! - chunked bodies are decoded as they arrive by the [`ChunkedDecoder`], whose lines are
//!   bounded ([`MAX_CHUNK_LINE_BYTES`](super::chunked::MAX_CHUNK_LINE_BYTES)); reading stops at
//!   the last chunk, without waiting for trailers.
//!
//! The bytes are consumed from the caller's buffer as they are read, so the buffer holds at
//! most one read while a body is read, however long the body is.
//!
//! How long the body is follows RFC 9112 section 6.3: none for 1xx, 204 and 304; chunked when
//! `Transfer-Encoding` ends with `chunked`; until the connection closes for another transfer
//! coding; `Content-Length` when it is one number; else until the connection closes.

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

use crate::handshake::chunked::{ChunkedDecoder, ChunkedProblem};
use crate::handshake::headers::Headers;

/// The most bytes of a refusal's body read, framing included: 64 KiB. Reading stops there
/// (with [`BodyProblem::TooLong`]) even if the preview is not full.
pub const MAX_ERROR_BODY_READ_BYTES: usize = 64 * 1024;

/// Why a refusal's body is incomplete. The refusal is reported anyway, with its status, its
/// headers and the part of its body that was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BodyProblem {
    /// The chunked framing is broken, or one of its lines never ended.
    #[error("{}", chunked_text(.0))]
    Chunked(ChunkedProblem),
    /// [`MAX_ERROR_BODY_READ_BYTES`] were read without reaching the body's end.
    #[error("its body never ended: {MAX_ERROR_BODY_READ_BYTES} bytes were read without reaching its end")]
    TooLong,
    /// The connection closed (or the caller stopped reading, its time up) before the body's
    /// announced end: its `Content-Length` (in the refusal's headers) or its last chunk.
    #[error("{}", cut_short_text(*received, *chunked))]
    CutShort {
        /// Bytes of the body received, framing included (a few KiB at most: reading stops at
        /// the preview or at [`MAX_ERROR_BODY_READ_BYTES`]).
        received: u32,
        /// True for a chunked body, false for one with a `Content-Length`.
        chunked: bool,
    },
}

fn chunked_text(problem: &ChunkedProblem) -> String {
    if problem.is_endless() {
        format!("its body never ended: {problem}")
    } else {
        format!("its chunked body is malformed: {problem}")
    }
}

fn cut_short_text(received: u32, chunked: bool) -> String {
    if chunked {
        format!("its body stopped after {received} bytes, before its last chunk")
    } else {
        format!("its body stopped after {received} bytes, short of its Content-Length")
    }
}

/// How a refusal's body is delimited (RFC 9112 section 6.3).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Framing {
    /// 1xx, 204, 304: no body.
    None,
    /// `Content-Length`: this many bytes in all.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked(ChunkedDecoder),
    /// No length: the body ends when the connection does.
    UntilClose,
}

/// Reads a refusal's body within the limits above. Crate-internal: the handshake and the
/// proxy drive it; their errors carry its result.
#[derive(Clone, Debug)]
pub(crate) struct RefusalBody {
    framing: Framing,
    preview: Vec<u8>,
    preview_limit: usize,
    /// Bytes of the body read so far, framing included.
    read: u64,
    /// Set once reading is over.
    end: Option<Result<(), BodyProblem>>,
}

impl RefusalBody {
    /// A reader for the body of a response with `status` and `headers`, keeping up to
    /// `preview_limit` bytes of it.
    pub(crate) fn new(status: u16, headers: &Headers, preview_limit: usize) -> Self {
        let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
            Framing::None
        } else if let Some(last) = headers.tokens("Transfer-Encoding").last() {
            if last.eq_ignore_ascii_case("chunked") {
                Framing::Chunked(ChunkedDecoder::until_last_chunk())
            } else {
                Framing::UntilClose
            }
        } else {
            let lengths: Vec<&str> = headers.get_all("Content-Length").collect();
            match lengths.as_slice() {
                [one] => one
                    .trim()
                    .parse::<u64>()
                    .map_or(Framing::UntilClose, Framing::Length),
                _ => Framing::UntilClose,
            }
        };
        let mut body = Self {
            framing,
            preview: Vec::new(),
            preview_limit,
            read: 0,
            end: None,
        };
        if matches!(body.framing, Framing::None | Framing::Length(0)) {
            body.end = Some(Ok(()));
        }
        body
    }

    /// Reads what `buf` holds of the body, removing it from `buf`. `None`: more is needed.
    /// `Some`: reading is over (the body ended, the preview is full, or a problem); the bytes
    /// after the body (if any) stay in `buf`.
    pub(crate) fn feed(&mut self, buf: &mut BytesMut) -> Option<Result<(), BodyProblem>> {
        if self.end.is_some() {
            return self.end;
        }
        let room = |preview: &Vec<u8>| self.preview_limit.saturating_sub(preview.len());
        match &mut self.framing {
            Framing::None => {}
            Framing::Length(total) => {
                let left = *total - self.read;
                let wanted = left.min(room(&self.preview) as u64) as usize;
                let take = wanted.min(buf.len());
                self.preview.extend_from_slice(&buf[..take]);
                buf.advance(take);
                self.read += take as u64;
                if self.read == *total || room(&self.preview) == 0 {
                    self.end = Some(Ok(()));
                }
            }
            Framing::UntilClose => {
                let take = room(&self.preview).min(buf.len());
                self.preview.extend_from_slice(&buf[..take]);
                buf.advance(take);
                self.read += take as u64;
                if room(&self.preview) == 0 {
                    self.end = Some(Ok(()));
                }
            }
            Framing::Chunked(decoder) => {
                let budget = MAX_ERROR_BODY_READ_BYTES.saturating_sub(self.read as usize);
                let input = &buf[..buf.len().min(budget)];
                let limit = self.preview_limit;
                let preview = &mut self.preview;
                let result = decoder.decode(input, |data| {
                    let take = limit.saturating_sub(preview.len()).min(data.len());
                    preview.extend_from_slice(&data[..take]);
                });
                let consumed = match result {
                    Ok(consumed) => consumed,
                    Err(problem) => {
                        self.end = Some(Err(BodyProblem::Chunked(problem)));
                        input.len()
                    }
                };
                buf.advance(consumed);
                self.read += consumed as u64;
                if self.end.is_none() {
                    if decoder.data_finished() || room(&self.preview) == 0 {
                        self.end = Some(Ok(()));
                    } else if self.read as usize >= MAX_ERROR_BODY_READ_BYTES {
                        self.end = Some(Err(BodyProblem::TooLong));
                    }
                }
            }
        }
        self.end
    }

    /// No more bytes will come (the connection closed, or the caller stopped reading): how the
    /// body ended. A body delimited by the connection's end is complete; one with a length or
    /// chunks that had not all arrived is [`BodyProblem::CutShort`].
    pub(crate) fn finish(&mut self) -> Result<(), BodyProblem> {
        if let Some(end) = self.end {
            return end;
        }
        let received = u32::try_from(self.read).unwrap_or(u32::MAX);
        let end = match &self.framing {
            Framing::None | Framing::UntilClose => Ok(()),
            Framing::Length(_) => Err(BodyProblem::CutShort {
                received,
                chunked: false,
            }),
            Framing::Chunked(_) => Err(BodyProblem::CutShort {
                received,
                chunked: true,
            }),
        };
        self.end = Some(end);
        end
    }

    /// The preview kept so far.
    pub(crate) fn preview(&self) -> Bytes {
        Bytes::copy_from_slice(&self.preview)
    }

    /// How many more bytes the body may use: what to read next without reading far past it.
    /// At least 1 while reading is not over.
    pub(crate) fn wanted(&self) -> usize {
        if self.end.is_some() {
            return 0;
        }
        let room = self.preview_limit.saturating_sub(self.preview.len());
        let wanted = match &self.framing {
            Framing::None => 0,
            Framing::Length(total) => ((*total - self.read) as usize).min(room),
            Framing::UntilClose => room,
            Framing::Chunked(_) => {
                room.min(MAX_ERROR_BODY_READ_BYTES.saturating_sub(self.read as usize))
            }
        };
        wanted.max(1)
    }
}

/// The readable text of a refusal's body, for an error message: HTML tags, the head (title,
/// styles) and scripts removed, whitespace collapsed, control characters dropped, at most `max_chars` characters.
pub fn body_text(body: &[u8], max_chars: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut rest = text.as_ref();
    while !rest.is_empty() {
        let Some(open) = rest.find('<') else {
            push_words(&mut out, rest);
            break;
        };
        push_words(&mut out, &rest[..open]);
        rest = &rest[open..];
        let lower = rest.get(..8).unwrap_or(rest).to_ascii_lowercase();
        let skip_to = if lower.starts_with("<head") && !lower.starts_with("<header") {
            "</head>"
        } else if lower.starts_with("<style") {
            "</style>"
        } else if lower.starts_with("<title") {
            "</title>"
        } else if lower.starts_with("<script") {
            "</script>"
        } else {
            ">"
        };
        let lowered = rest.to_ascii_lowercase();
        rest = match lowered.find(skip_to) {
            Some(end) => &rest[end + skip_to.len()..],
            None => "",
        };
        out.push(' ');
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    let joined = words.join(" ");
    match joined.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

fn push_words(out: &mut String, text: &str) {
    out.extend(text.chars().map(|c| if c.is_control() { ' ' } else { c }));
}

/// A refusal page that a well-known server sends and that says more than its status: read
/// from the body where it arrives, so that diagnosis matches a type, not the page's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KnownPage {
    /// nginx's `400 The plain HTTP request was sent to HTTPS port`: a port that serves TLS
    /// received plain text (a `ws://` URL where `wss://` was meant).
    PlainHttpToTlsPort,
}

impl KnownPage {
    /// How much of a page's text ([`body_text`]) is read to recognize it.
    const RECOGNIZED_CHARS: usize = 240;

    /// Recognizes the page of a refusal with `status` from the start of its `body`.
    pub fn recognize(status: u16, body: &[u8]) -> Option<Self> {
        match status {
            400 if body_text(body, Self::RECOGNIZED_CHARS)
                .contains("plain HTTP request was sent to HTTPS port") =>
            {
                Some(Self::PlainHttpToTlsPort)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().copied().collect()
    }

    fn read(
        status: u16,
        pairs: &[(&str, &str)],
        input: &[u8],
    ) -> (Bytes, Option<Result<(), BodyProblem>>, usize) {
        let mut body = RefusalBody::new(status, &headers(pairs), 16);
        let mut buf = BytesMut::from(input);
        let end = body.feed(&mut buf);
        (body.preview(), end, buf.len())
    }

    #[test]
    fn framing_follows_rfc9112_section_6_3() {
        assert_eq!(read(204, &[], b"x"), (Bytes::new(), Some(Ok(())), 1));
        assert_eq!(
            read(304, &[("Content-Length", "3")], b"abc"),
            (Bytes::new(), Some(Ok(())), 3)
        );
        let length = read(401, &[("Content-Length", "3")], b"abcdef");
        assert_eq!(length, (Bytes::from_static(b"abc"), Some(Ok(())), 3));
        let both = read(
            401,
            &[("Content-Length", "3"), ("Transfer-Encoding", "chunked")],
            b"2\r\nab\r\n0\r\n",
        );
        assert_eq!(both, (Bytes::from_static(b"ab"), Some(Ok(())), 0));
        let other_coding = read(401, &[("Transfer-Encoding", "gzip")], b"abc");
        assert_eq!(other_coding, (Bytes::from_static(b"abc"), None, 0));
        let two_lengths = read(
            401,
            &[("Content-Length", "3"), ("Content-Length", "4")],
            b"abc",
        );
        assert_eq!(two_lengths, (Bytes::from_static(b"abc"), None, 0));
    }

    #[test]
    fn the_preview_is_bounded_and_reading_stops_when_it_is_full() {
        let (preview, end, left) = read(500, &[("Content-Length", "100")], &[b'x'; 40]);
        assert_eq!((preview.len(), end, left), (16, Some(Ok(())), 24));
        let (preview, end, left) = read(500, &[], &[b'x'; 40]);
        assert_eq!((preview.len(), end, left), (16, Some(Ok(())), 24));
        let chunked = [b"20\r\n".as_slice(), &[b'y'; 32], b"\r\n"].concat();
        let (preview, end, _) = read(500, &[("Transfer-Encoding", "chunked")], &chunked);
        assert_eq!((preview.len(), end), (16, Some(Ok(()))));
    }

    #[test]
    fn a_chunked_body_that_never_fills_the_preview_is_stopped() {
        let mut body = RefusalBody::new(
            401,
            &headers(&[("Transfer-Encoding", "chunked")]),
            usize::MAX,
        );
        let chunk = [b"1;".as_slice(), &[b'e'; 1000], b"\r\nx\r\n"].concat();
        let mut fed = 0;
        let end = loop {
            let mut buf = BytesMut::from(&chunk[..]);
            fed += chunk.len();
            if let Some(end) = body.feed(&mut buf) {
                break end;
            }
            assert!(buf.is_empty());
        };
        assert_eq!(end, Err(BodyProblem::TooLong));
        assert!(fed < MAX_ERROR_BODY_READ_BYTES + chunk.len());
    }

    #[test]
    fn an_early_end_is_cut_short() {
        let mut body = RefusalBody::new(502, &headers(&[("Content-Length", "10")]), 16);
        assert_eq!(body.feed(&mut BytesMut::from(&b"part"[..])), None);
        assert_eq!(
            body.finish(),
            Err(BodyProblem::CutShort {
                received: 4,
                chunked: false
            })
        );
        assert_eq!(&body.preview()[..], b"part");
        let mut body = RefusalBody::new(401, &headers(&[("Transfer-Encoding", "chunked")]), 16);
        assert_eq!(body.feed(&mut BytesMut::from(&b"4\r\npart\r\n"[..])), None);
        let end = body.finish().unwrap_err();
        assert_eq!(
            end.to_string(),
            "its body stopped after 9 bytes, before its last chunk"
        );
        let mut body = RefusalBody::new(401, &headers(&[]), 16);
        assert_eq!(body.feed(&mut BytesMut::from(&b"all"[..])), None);
        assert_eq!(body.finish(), Ok(()));
    }

    #[test]
    fn body_text_strips_html() {
        let body = b"<html><head><style>p { x }</style><title>ERROR</title></head>\n<body><h1>Access   Denied.</h1><p>Go\naway</p></body></html>";
        assert_eq!(body_text(body, 100), "Access Denied. Go away");
        assert_eq!(body_text(body, 6), "Access…");
    }

    #[test]
    fn nginx_says_plain_http_reached_a_tls_port() {
        let page = b"<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The plain HTTP request was sent to HTTPS port</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        assert_eq!(
            KnownPage::recognize(400, page),
            Some(KnownPage::PlainHttpToTlsPort)
        );
        assert_eq!(KnownPage::recognize(403, page), None);
        assert_eq!(KnownPage::recognize(400, b"bad request"), None);
    }
}
