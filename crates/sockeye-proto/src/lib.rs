//! # sockeye-proto
//!
//! The sans-I/O core of sockeye: all of RFC 6455 as plain state machines. Bytes go in, events
//! come out, bytes to send are handed back. No sockets, clocks, threads, TLS or async runtime —
//! the I/O front-ends in the `sockeye` crate drive it, and so can anything else.
//!
//! - [`handshake`]: the opening handshake for both roles (request and response, the accept key).
//! - [`Connection`]: one connection after the handshake; its docs state the drive contract.
//! - [`frame`]: the frame codec and masking, for frame-level tools.
//! - [`ProtocolError`]: what the peer did wrong, each mapped to its close code in one place.
//! - [`proxy`]: HTTP `CONNECT` and SOCKS4/4a/5 handshakes, to open a tunnel through a proxy.
//! - [`extensions`]: `Sec-WebSocket-Extensions`, and permessage-deflate (RFC 7692) in
//!   [`extensions::deflate`]: negotiation and compression, switched on with
//!   [`Connection::with_deflate`].
//!
//! Randomness (masking keys, handshake keys) comes from sources the caller can replace,
//! defaulting to the operating system's CSPRNG ([`random`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod connection;
pub mod error;
pub mod extensions;
pub mod frame;
pub mod handshake;
pub mod message;
pub mod proxy;
pub mod random;

pub use connection::close::{CloseCode, CloseFrame};
pub use connection::{Config, Connection, Observer, ReceiveProgress, Role, State, Step};
pub use error::{ProtocolError, SendError};
pub use frame::{Frame, FrameHeader, OpCode};
pub use handshake::HandshakeError;
pub use message::{Message, Utf8Bytes};
