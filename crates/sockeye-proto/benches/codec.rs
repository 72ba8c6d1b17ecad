//! Codec benchmarks: masking, frame encode, frame decode, and the connection's receive path.
//!
//! Run with `cargo bench -p sockeye-proto --bench codec` (add a filter such as `-- mask` to run
//! one group). Throughput is in bytes of input processed by one iteration:
//!
//! - `mask`: the buffer masked (or copied, for the `memcpy` baseline);
//! - `encode`: the payload encoded;
//! - `decode`: the wire bytes decoded (headers included);
//! - `receive`: the wire bytes handed to the connection (headers included).
//!
//! Results and the machine they came from are recorded in BENCHMARKS.md at the repository root.

// `criterion_group!` expands to an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use sockeye_proto::frame::mask::apply_mask;
use sockeye_proto::frame::{encode_frame, FrameDecoder, OpCode};
use sockeye_proto::{Config, Connection, Message, Role};

/// The masking key from RFC 6455 section 5.7.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Deterministic pseudo-random bytes (xorshift64), so runs are comparable.
fn binary_payload(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Valid UTF-8 of exactly `len` bytes, mixing ASCII with 2-, 3- and 4-byte code points so the
/// validator does not stay on its ASCII fast path.
fn text_payload(len: usize) -> String {
    const PIECES: [&str; 4] = ["hello, world ", "grüße ", "☃ snow ", "🦀 crab "];
    let mut text = String::with_capacity(len);
    'fill: loop {
        for piece in PIECES {
            if text.len() + piece.len() > len {
                break 'fill;
            }
            text.push_str(piece);
        }
    }
    while text.len() < len {
        text.push('.');
    }
    text
}

fn size_label(size: usize) -> String {
    match size {
        s if s >= MIB && s % MIB == 0 => format!("{}MiB", s / MIB),
        s if s >= KIB && s % KIB == 0 => format!("{}KiB", s / KIB),
        s => format!("{s}B"),
    }
}

fn encoded(opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_frame(&mut out, true, 0, opcode, mask, payload);
    out.to_vec()
}

/// `apply_mask` in place, next to a plain `copy_from_slice` of the same size for comparison.
fn mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for size in [16, 125, 4 * KIB, MIB] {
        let label = size_label(size);
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf = binary_payload(size);
        group.bench_function(BenchmarkId::new("apply_mask", &label), |b| {
            b.iter(|| apply_mask(black_box(&mut buf[..]), black_box(KEY)))
        });
        let src = binary_payload(size);
        let mut dst = vec![0u8; size];
        group.bench_function(BenchmarkId::new("memcpy", &label), |b| {
            b.iter(|| black_box(&mut dst[..]).copy_from_slice(black_box(&src[..])))
        });
    }
    group.finish();
}

/// `encode_frame` into a reused output buffer, cleared each iteration.
fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for size in [16, 4 * KIB, 64 * KIB, MIB] {
        let label = size_label(size);
        let payload = binary_payload(size);
        let mut out = BytesMut::with_capacity(size + 14);
        group.throughput(Throughput::Bytes(size as u64));
        for (name, mask) in [("unmasked", None), ("masked", Some(KEY))] {
            group.bench_function(BenchmarkId::new(name, &label), |b| {
                b.iter(|| {
                    out.clear();
                    encode_frame(
                        &mut out,
                        true,
                        0,
                        OpCode::Binary,
                        black_box(mask),
                        black_box(&payload),
                    );
                    black_box(&out);
                })
            });
        }
    }
    group.finish();
}

/// `FrameDecoder::decode` over one buffer holding many pre-encoded frames. The buffer is rebuilt
/// outside the timed part of each iteration (masked payloads are unmasked in place).
fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    // (label, payload size, frame count): 64 KiB of small-frame payload, 4 MiB of large-frame payload.
    for (label, size, count) in [("4096x16B", 16, 4096), ("4x1MiB", MIB, 4)] {
        let payload = binary_payload(size);
        for (name, mask) in [("unmasked", None), ("masked", Some(KEY))] {
            let wire: Vec<u8> = (0..count)
                .flat_map(|_| encoded(OpCode::Binary, mask, &payload))
                .collect();
            group.throughput(Throughput::Bytes(wire.len() as u64));
            group.bench_function(BenchmarkId::new(name, label), |b| {
                b.iter_batched_ref(
                    || BytesMut::from(&wire[..]),
                    |buf| {
                        let mut decoder = FrameDecoder::new(16 * MIB);
                        let mut frames = 0;
                        while let Some(frame) = decoder.decode(buf).expect("valid frames") {
                            black_box(&frame);
                            frames += 1;
                        }
                        assert_eq!(frames, count);
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
}

/// A server `Connection` receiving one masked message per iteration: `receive_data` (one copy
/// into the connection's buffer) and `next_message` (header checks, unmasking, UTF-8 validation
/// for text). The connection is reused, as on a real socket.
fn receive(c: &mut Criterion) {
    let mut group = c.benchmark_group("receive");
    for size in [16, 4 * KIB, MIB] {
        let label = size_label(size);
        let cases = [
            (
                "text",
                encoded(OpCode::Text, Some(KEY), text_payload(size).as_bytes()),
            ),
            (
                "binary",
                encoded(OpCode::Binary, Some(KEY), &binary_payload(size)),
            ),
        ];
        for (name, wire) in cases {
            group.throughput(Throughput::Bytes(wire.len() as u64));
            let mut server = Connection::new(Role::Server, Config::default());
            group.bench_function(BenchmarkId::new(name, &label), |b| {
                b.iter(|| {
                    server.receive_data(black_box(&wire));
                    let message = server.next_message().expect("valid message");
                    debug_assert!(matches!(
                        message,
                        Some(Message::Text(_) | Message::Binary(_))
                    ));
                    black_box(message)
                })
            });
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = mask, encode, decode, receive
}
criterion_main!(benches);
