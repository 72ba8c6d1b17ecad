//! `FrameHeader::parse` and `FrameDecoder::decode` on arbitrary bytes.
//!
//! Besides "never panics", checks that a parsed header encodes back to the bytes it came from,
//! that every frame's payload has the announced length, and that feeding the same bytes in
//! chunks (sizes taken from the first input byte) yields the same frames and the same error.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sockeye_proto::frame::{FrameDecoder, FrameHeader, MAX_HEADER_LEN};
use sockeye_proto::{Frame, ProtocolError};

/// Small enough that a hostile length cannot make the decoder reserve much memory.
const MAX_FRAME_SIZE: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk_seed, stream)) = data.split_first() else {
        return;
    };

    if let Ok(Some((header, len))) = FrameHeader::parse(stream) {
        assert!(len <= MAX_HEADER_LEN && len <= stream.len());
        assert_eq!(len, header.encoded_len());
        let mut encoded = [0u8; MAX_HEADER_LEN];
        let written = header.encode(&mut encoded);
        assert_eq!(
            &encoded[..written],
            &stream[..len],
            "header does not round-trip"
        );
    }

    let whole = decode_in_chunks(stream, stream.len().max(1));
    let chunk = usize::from(chunk_seed % 32) + 1;
    let chunked = decode_in_chunks(stream, chunk);
    assert_eq!(whole, chunked, "chunk size {chunk} changed the result");
});

/// Decodes `stream` fed `chunk` bytes at a time: the frames, then the error if one came.
fn decode_in_chunks(stream: &[u8], chunk: usize) -> (Vec<Frame>, Option<ProtocolError>) {
    let mut decoder = FrameDecoder::new(MAX_FRAME_SIZE);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert_eq!(frame.payload.len() as u64, frame.header.payload_len);
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(error) => return (frames, Some(error)),
            }
        }
    }
    (frames, None)
}
