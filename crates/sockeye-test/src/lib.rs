//! # sockeye-test
//!
//! Test support for sockeye (not published):
//!
//! - [`pair`]: an in-memory client/server [`Pair`] of [`sockeye_proto::Connection`]s that moves
//!   each side's output into the other, in chunk sizes of the test's choosing, and records what
//!   each side received, sent and decided (errors, close frames, closing the transport).
//! - [`frames`]: [`RawFrame`], which writes frame bytes field by field — including the illegal
//!   ones a conforming encoder never produces — and [`parse_frames`] to read a wire log back.
//! - [`drive`]: feed one connection a byte stream in any [`Chunking`] and collect its
//!   [`Event`]s, the building block of the "any chunking gives the same events" properties.
//! - [`check`]: [`check::assert_fails_with`], every step of a protocol failure in one assertion.
//! - [`strategy`]: proptest strategies for frames, frame streams and chunkings.
//!
//! ```
//! use sockeye_proto::Message;
//! use sockeye_test::{Chunking, Pair};
//!
//! let mut pair = Pair::new().with_chunking(Chunking::Fixed(1));
//! pair.client.connection.send_text("hello").unwrap();
//! pair.run();
//! assert_eq!(pair.server.messages(), vec![Message::text("hello")]);
//! ```

#![warn(missing_docs)]

pub mod check;
pub mod deflate;
pub mod drive;
pub mod frames;
pub mod pair;
pub mod side;
pub mod strategy;

pub use drive::{feed, Chunking, Event, Received};
pub use frames::{parse_frames, LengthEncoding, Masking, RawFrame, RFC_MASK_KEY};
pub use pair::{Endpoint, Pair, SequentialMaskKeys, Side};
