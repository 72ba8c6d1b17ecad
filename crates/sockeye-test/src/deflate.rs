//! Raw DEFLATE as a permessage-deflate sender makes it (RFC 7692 section 7.2.1), written with
//! zlib directly rather than with the code under test.

use flate2::{Compress, Compression, FlushCompress};

/// `data` compressed at `level` (0-9) as raw DEFLATE ending in a sync flush, the
/// `00 00 ff ff` tail kept: the payload of a compressed frame that does not end its message.
pub fn deflate_sync(data: &[u8], level: u32) -> Vec<u8> {
    let mut compress = Compress::new(Compression::new(level), false);
    let mut out = Vec::with_capacity(data.len() / 2 + 4096);
    let mut input = data;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.len().max(4096));
        }
        let before = compress.total_in();
        compress
            .compress_vec(input, &mut out, FlushCompress::Sync)
            .expect("zlib compresses");
        let consumed = usize::try_from(compress.total_in() - before).unwrap_or(input.len());
        input = &input[consumed.min(input.len())..];
        if input.is_empty() && out.len() < out.capacity() {
            return out;
        }
    }
}

/// `data` as one compressed message carries it: [`deflate_sync`] at the default level, the
/// tail removed.
pub fn deflate_message(data: &[u8]) -> Vec<u8> {
    let mut out = deflate_sync(data, 6);
    assert!(
        out.ends_with(&[0, 0, 0xff, 0xff]),
        "a sync flush ends the data"
    );
    out.truncate(out.len() - 4);
    out
}
