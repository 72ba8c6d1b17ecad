//! `apply_mask_at` against a bytewise reference, at any offset and split point.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sockeye_proto::frame::mask::{apply_mask, apply_mask_at};

#[derive(Arbitrary, Debug)]
struct Input {
    key: [u8; 4],
    offset: usize,
    split: usize,
    data: Vec<u8>,
}

fn reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[offset.wrapping_add(i) % 4];
    }
}

fuzz_target!(|input: Input| {
    let Input {
        key,
        offset,
        split,
        data,
    } = input;

    let mut fast = data.clone();
    let mut slow = data.clone();
    apply_mask_at(&mut fast, key, offset);
    reference(&mut slow, key, offset);
    assert_eq!(fast, slow, "offset {offset}");

    // Unmasking piece by piece equals unmasking the whole payload.
    let split = if data.is_empty() {
        0
    } else {
        split % (data.len() + 1)
    };
    let mut whole = data.clone();
    apply_mask(&mut whole, key);
    let mut pieces = data.clone();
    let (front, back) = pieces.split_at_mut(split);
    apply_mask_at(front, key, 0);
    apply_mask_at(back, key, split);
    assert_eq!(whole, pieces, "split {split}");

    // Masking is its own inverse.
    apply_mask_at(&mut fast, key, offset);
    assert_eq!(fast, data);
});
