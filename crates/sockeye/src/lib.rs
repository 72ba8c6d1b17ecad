//! # sockeye
//!
//! WebSocket client and server that show what happens on the wire. The protocol lives in the
//! sans-I/O core [`sockeye_proto`]; this crate drives it over real transports.
//!
//! - [`blocking`]: client and server over any `std::io::Read + Write` stream, plus
//!   [`blocking::connect`] for `ws://` URLs over TCP.
//! - [`app`] (feature `tokio`): the long-lived, event-driven client with keepalive and reconnect.
//! - [`tokio`] (feature `tokio`, on by default): the same over tokio, as a `Stream + Sink`.
//! - [`transport`]: TCP connection set-up (DNS, connect timeouts).
//! - [`ClientConfig`] and [`ServerConfig`]: every option, shared by all front-ends.
//!
//! ```no_run
//! use sockeye::{blocking, Message};
//!
//! let (mut socket, response) = blocking::connect("ws://127.0.0.1:9001/chat")?;
//! println!("connected: {} {}", response.status, response.reason);
//! socket.send_text("hello")?;
//! if let Message::Text(reply) = socket.read()? {
//!     println!("echo: {reply}");
//! }
//! let peer_close = socket.close(sockeye::CloseCode::Normal, "bye")?;
//! println!("server closed with {peer_close:?}");
//! # Ok::<(), sockeye::Error>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "tokio")]
pub mod app;
pub mod blocking;
mod config;
mod error;
#[cfg(feature = "tokio")]
pub mod tokio;
pub mod transport;

pub use config::{ClientConfig, ServerConfig, Target};
pub use error::{Error, Stage};
pub use sockeye_proto as proto;
pub use sockeye_proto::handshake::{Accept, Headers, Reject, Request, Response};
pub use sockeye_proto::{
    CloseCode, CloseFrame, Config as ProtocolConfig, Frame, Message, OpCode, ProtocolError, Role,
    Utf8Bytes,
};
