//! The opening handshake as both front-ends run it, written once: everything but reading,
//! writing and waiting.
//!
//! The core checks the heads (`sockeye_proto::handshake`); these drivers add what the
//! front-ends share around it: the buffer the peer's bytes go to, the trace and the record of
//! what crossed the wire, the rules of this crate (a subprotocol the client requires, the
//! server's accept hook and permessage-deflate), the errors, and the [`Connection`] to open
//! with the bytes that came after the head. `blocking` and `tokio` only move the bytes:
//!
//! - [`client::ClientHandshakeDriver`]: write [`request`](client::ClientHandshakeDriver::request),
//!   then read until [`receive`](client::ClientHandshakeDriver::receive) (or
//!   [`received`](client::ClientHandshakeDriver::received), for a read straight into its
//!   buffer) gives the connection.
//! - [`server::ServerHandshakeDriver`]: read until a request is complete, let the accept hook
//!   [`answer`](server::ServerHandshakeDriver::answer) it, write the answer, then
//!   [`open`](server::ServerHandshakeDriver::open) the connection.
//!
//! [`Connection`]: sockeye_proto::Connection

pub(crate) mod client;
pub(crate) mod server;
