//! The tokio front-end: WebSocket over any `AsyncRead + AsyncWrite` stream.
//!
//! Same files and the same drive loop as [`crate::blocking`], over the same sans-I/O core:
//!
//! - Client: [`connect_async`] a `ws://` URL, or run the handshake over a stream you already have
//!   with [`client_async`].
//! - Server: [`accept_async`] or [`accept_async_with`] on an accepted stream, or a whole
//!   [`Server`] with per-connection [`ServerHandler`]s, a connection limit and graceful shutdown.
//! - Either way you get a [`WebSocketStream`]: a `futures` `Stream` of messages and a `Sink` for
//!   them, with inherent [`read`](WebSocketStream::read), [`send`](WebSocketStream::send) and
//!   [`close`](WebSocketStream::close).
//! - [`WebSocketStream::split`] gives a [`WebSocketReader`] and a [`WebSocketWriter`] for two
//!   tasks.

mod budget;
mod client;
#[cfg(feature = "hyper")]
pub mod hyper;
mod serve;
mod server;
mod split;
mod stream;

pub use client::{client_async, connect_async, connect_async_with, connect_async_with_report};
pub use serve::{
    Listener, Peer, PeerHandle, PeerSendError, Server, ServerHandler, ShutdownHandle,
    DEFAULT_MAX_PENDING_HANDSHAKES,
};
pub use server::{accept_async, accept_async_with};
pub use split::{ReuniteError, WebSocketReader, WebSocketWriter};
pub use stream::WebSocketStream;
