//! Incremental UTF-8 validation that fails at the first invalid sequence, even when a code point
//! is split across frames or reads.

/// Validates a byte stream piece by piece.
///
/// Fails as soon as a sequence can no longer become valid, without waiting for the message to end;
/// a code point cut at a piece boundary is carried over (at most 3 bytes).
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    carry: [u8; 4],
    carry_len: usize,
    /// Bytes of the stream accepted so far (excluding the carry).
    accepted: u64,
}

/// Where validation failed: byte offset of the first invalid sequence in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utf8Error {
    /// Byte offset of the invalid sequence from the start of the stream.
    pub offset: u64,
}

fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

impl Utf8Validator {
    /// A validator at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets everything: the next byte starts a new stream.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Validates the next piece of the stream.
    pub fn feed(&mut self, mut piece: &[u8]) -> Result<(), Utf8Error> {
        if self.carry_len > 0 {
            let want = sequence_len(self.carry[0]);
            let take = (want - self.carry_len).min(piece.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&piece[..take]);
            self.carry_len += take;
            piece = &piece[take..];
            match simdutf8::compat::from_utf8(&self.carry[..self.carry_len]) {
                Ok(_) => {
                    self.accepted += self.carry_len as u64;
                    self.carry_len = 0;
                }
                Err(err) if err.error_len().is_none() && self.carry_len < want => {
                    // Still a valid prefix, and the piece ran out.
                    return Ok(());
                }
                Err(_) => {
                    return Err(Utf8Error {
                        offset: self.accepted,
                    })
                }
            }
        }
        if simdutf8::basic::from_utf8(piece).is_ok() {
            self.accepted += piece.len() as u64;
            return Ok(());
        }
        match simdutf8::compat::from_utf8(piece) {
            Ok(_) => {
                self.accepted += piece.len() as u64;
                Ok(())
            }
            Err(err) => {
                let valid = err.valid_up_to();
                if err.error_len().is_some() {
                    return Err(Utf8Error {
                        offset: self.accepted + valid as u64,
                    });
                }
                let tail = &piece[valid..];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carry_len = tail.len();
                self.accepted += valid as u64;
                Ok(())
            }
        }
    }

    /// Ends the stream: fails if it stopped in the middle of a code point.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let result = if self.carry_len > 0 {
            Err(Utf8Error {
                offset: self.accepted,
            })
        } else {
            Ok(())
        };
        self.reset();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fails_fast_inside_a_piece() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"abc\xff"), Err(Utf8Error { offset: 3 }));
    }

    #[test]
    fn split_code_point_is_carried() {
        let snowman = "\u{2603}".as_bytes();
        let mut v = Utf8Validator::new();
        v.feed(&snowman[..1]).unwrap();
        v.feed(&snowman[1..2]).unwrap();
        v.feed(&snowman[2..]).unwrap();
        v.finish().unwrap();
    }

    #[test]
    fn invalid_continuation_of_carry_fails_immediately() {
        let mut v = Utf8Validator::new();
        v.feed(b"ab\xf0").unwrap();
        // 0xF0 must be followed by 0x90..=0xBF.
        assert_eq!(v.feed(b"\x80"), Err(Utf8Error { offset: 2 }));
    }

    #[test]
    fn truncated_stream_fails_at_finish() {
        let mut v = Utf8Validator::new();
        v.feed(b"\xe2\x98").unwrap();
        assert_eq!(v.finish(), Err(Utf8Error { offset: 0 }));
    }

    #[test]
    fn surrogates_and_overlongs_are_rejected() {
        for bad in [&b"\xed\xa0\x80"[..], b"\xc0\xaf", b"\xf4\x90\x80\x80"] {
            let mut v = Utf8Validator::new();
            let whole = v.feed(bad).and_then(|_| v.finish());
            assert!(whole.is_err(), "{bad:x?}");
            let mut v = Utf8Validator::new();
            let bytewise = bad
                .iter()
                .try_for_each(|b| v.feed(std::slice::from_ref(b)))
                .and_then(|_| v.finish());
            assert!(bytewise.is_err(), "{bad:x?} byte by byte");
        }
    }

    proptest! {
        #[test]
        fn any_chunking_agrees_with_std(data in proptest::collection::vec(any::<u8>(), 0..64),
                                        cuts in proptest::collection::vec(0usize..64, 0..6)) {
            let expected = std::str::from_utf8(&data).map_err(|e| e.valid_up_to() as u64);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut v = Utf8Validator::new();
            let mut start = 0;
            let mut result = Ok(());
            for cut in cuts.into_iter().chain([data.len()]) {
                result = v.feed(&data[start..cut]);
                start = cut;
                if result.is_err() { break; }
            }
            let result = result.and_then(|_| v.finish()).map_err(|e| e.offset);
            prop_assert_eq!(result.is_ok(), expected.is_ok());
            if let (Err(got), Err(want)) = (result, expected) {
                prop_assert_eq!(got, want);
            }
        }

        #[test]
        fn valid_text_in_any_chunking_passes(text in "\\PC{0,40}", cut in 0usize..200) {
            let bytes = text.as_bytes();
            let cut = cut.min(bytes.len());
            let mut v = Utf8Validator::new();
            v.feed(&bytes[..cut]).unwrap();
            v.feed(&bytes[cut..]).unwrap();
            v.finish().unwrap();
        }
    }
}
