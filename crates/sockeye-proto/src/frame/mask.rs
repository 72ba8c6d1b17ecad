//! Payload masking (RFC 6455 section 5.3).
//!
//! The loop XORs eight bytes at a time with a 64-bit copy of the key; on x86-64 the compiler turns
//! it into SIMD code, so it runs near memory bandwidth in safe Rust (see BENCHMARKS.md).

/// XORs `buf` with `key`, as if `buf` started at payload offset 0.
///
/// Masking is its own inverse: applying the same key twice restores the input.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    apply_mask_at(buf, key, 0);
}

/// XORs `buf` with `key`, where `buf` starts at byte `offset` of the payload.
///
/// Lets a payload be unmasked piece by piece as it arrives.
#[inline]
pub fn apply_mask_at(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let shift = offset % 4;
    let key = [
        key[shift],
        key[(shift + 1) % 4],
        key[(shift + 2) % 4],
        key[(shift + 3) % 4],
    ];
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    // 64-byte blocks of eight words: on x86-64 each block becomes four 16-byte SSE2 XORs, and
    // the longer loop body keeps loop overhead out of the way of L2 bandwidth (BENCHMARKS.md).
    let (blocks, rest) = buf.as_chunks_mut::<64>();
    for block in blocks {
        for chunk in block.as_chunks_mut::<8>().0 {
            *chunk = (u64::from_ne_bytes(*chunk) ^ word).to_ne_bytes();
        }
    }
    let (words, tail) = rest.as_chunks_mut::<8>();
    for chunk in words {
        *chunk = (u64::from_ne_bytes(*chunk) ^ word).to_ne_bytes();
    }
    // Blocks and words covered a multiple of 8 bytes, so the tail starts at key index 0.
    for (byte, k) in tail.iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn rfc6455_masked_hello() {
        // Section 5.7: "Hello" masked with 37 fa 21 3d.
        let mut payload = *b"Hello";
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    proptest! {
        #[test]
        fn matches_bytewise_reference(data in proptest::collection::vec(any::<u8>(), 0..300),
                                      key in any::<[u8; 4]>(), offset in 0usize..16) {
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply_mask_at(&mut fast, key, offset);
            reference(&mut slow, key, offset);
            prop_assert_eq!(&fast, &slow);
        }

        #[test]
        fn piecewise_equals_whole(data in proptest::collection::vec(any::<u8>(), 0..300),
                                  key in any::<[u8; 4]>(), split in 0usize..300) {
            let split = split.min(data.len());
            let mut whole = data.clone();
            apply_mask(&mut whole, key);
            let mut pieces = data.clone();
            let (a, b) = pieces.split_at_mut(split);
            apply_mask_at(a, key, 0);
            apply_mask_at(b, key, split);
            prop_assert_eq!(whole, pieces);
        }
    }
}
