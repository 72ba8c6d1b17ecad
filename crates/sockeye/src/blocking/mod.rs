//! The blocking front-end: WebSocket over any `std::io::Read + Write` stream.
//!
//! - Client: [`connect`] a `ws://` URL, or run the handshake over a stream you already have with
//!   [`client`].
//! - Server: [`accept`] or [`accept_with`] on an accepted stream.
//! - Either way you get a [`WebSocket`]: [`read`](WebSocket::read) messages,
//!   [`send`](WebSocket::send) them, [`close`](WebSocket::close).
//!
//! The tokio front-end has the same files and drives the same core the same way.

pub(crate) mod client;
mod server;
mod stream;

pub use client::{client, connect, connect_with, connect_with_report};
pub use server::{accept, accept_with};
pub use stream::WebSocket;
