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
//! - [`transport::tls`] (feature `tls`, on by default): `wss://` with rustls, verified against the
//!   operating system's trust store; [`TlsOptions`] for a CA file, client certificates, SNI and
//!   the verification switches.
//! - [`transport::proxy`]: HTTP `CONNECT` (also over TLS) and SOCKS4/4a/5 proxies, explicit
//!   ([`ProxyConfig`]) or from `http_proxy`/`https_proxy`/`all_proxy`/`no_proxy` (the default).
//! - [`ClientConfig`] and [`ServerConfig`]: every option, shared by all front-ends.
//! - [`trace`]: the handshake and every frame as `tracing` events, with ready human and JSON
//!   formatters ([`trace::enable_stderr`]); [`redact`] hides secrets in traces and errors.
//! - [`diagnose`]: why a connection failed ([`Error::diagnosis`]: stage, cause, evidence,
//!   hint), and [`ConnectReport`] (`connect_with_report`): how long each stage took, the heads
//!   and the TLS session.
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
pub mod diagnose;
mod error;
mod handshake;
mod mask_keys;
mod options;
pub mod redact;
mod redirect;
mod redirect_walk;
mod refusal;
mod route;
mod timings;
#[cfg(feature = "tls")]
mod tls_problem;
#[cfg(feature = "tokio")]
pub mod tokio;
pub mod trace;
pub mod transport;

pub use config::DEFAULT_USER_AGENT;
pub use config::{ClientConfig, ServerConfig, Target, DEFAULT_MAX_MEMORY};
pub use diagnose::{ConnectReport, Diagnosis};
pub use error::{DnsFailure, Error, ProxyUrlProblem, RedirectProblem, Stage, UrlProblem};
pub use mask_keys::MaskKeys;
pub use sockeye_proto as proto;
pub use sockeye_proto::connection::keepalive::KeepaliveConfig;
pub use sockeye_proto::extensions::deflate::{DeflateConfig, PerMessageDeflate};
pub use sockeye_proto::handshake::{Accept, Headers, Reject, Request, Response};
pub use sockeye_proto::{
    CloseCode, CloseFrame, Config as ProtocolConfig, Frame, Message, OpCode, ProtocolError, Role,
    Utf8Bytes,
};
pub use transport::proxy::{NoProxy, ProxyConfig, ProxyUrl};
pub use transport::tls::TlsOptions;
#[cfg(feature = "tls")]
pub use transport::tls::TlsProblem;
