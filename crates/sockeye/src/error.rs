//! The front-end's error type: every failure names the stage it happened in.

use std::fmt;
use std::io;
use std::time::Duration;

use sockeye_proto::{HandshakeError, ProtocolError, SendError};
use thiserror::Error;

/// Where in the life of a connection something failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Reading the URL or the options.
    Url,
    /// Resolving the host name.
    Dns,
    /// Opening the TCP connection.
    Tcp,
    /// The TLS handshake.
    Tls,
    /// The HTTP request and response of the opening handshake.
    Http,
    /// The WebSocket-specific checks of the opening handshake.
    Handshake,
    /// After the connection opened.
    Open,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Url => "url",
            Self::Dns => "dns",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
            Self::Http => "http",
            Self::Handshake => "handshake",
            Self::Open => "open",
        })
    }
}

/// Everything that can go wrong, with the stage, the cause and what to try.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL cannot be used.
    #[error("invalid URL {url:?}: {why}{}", hint.map(|h| format!(" (try {h})")).unwrap_or_default())]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        why: String,
        /// A suggestion.
        hint: Option<&'static str>,
    },
    /// The URL needs a feature this build or version does not have.
    #[error("{0}")]
    Unsupported(String),
    /// The host name did not resolve.
    #[error("cannot resolve host {host:?}: {source} (check the spelling, or use an IP address)")]
    Dns {
        /// The host name.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// No address of the host accepted a TCP connection.
    #[error("cannot connect to {addr}: {source}{}", tcp_hint(source))]
    Connect {
        /// The address tried last.
        addr: String,
        /// The error for that address.
        #[source]
        source: io::Error,
    },
    /// A stage took longer than its configured timeout.
    #[error("timed out after {after:?} during the {stage} stage{}", timeout_hint(*stage))]
    Timeout {
        /// The stage that was running.
        stage: Stage,
        /// The configured limit.
        after: Duration,
    },
    /// The opening handshake failed.
    #[error("WebSocket handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// The server's accept hook refused the request with this status.
    #[error("the request was refused with HTTP {status}")]
    Rejected {
        /// The status sent.
        status: u16,
    },
    /// The peer broke the protocol, or dropped the connection without a close frame.
    #[error("{0} (close code {code})", code = .0.close_code())]
    Protocol(#[from] ProtocolError),
    /// A message could not be sent.
    #[error(transparent)]
    Send(#[from] SendError),
    /// Reading or writing the transport failed.
    #[error("I/O error during the {stage} stage: {source}")]
    Io {
        /// The stage.
        stage: Stage,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The close handshake is complete: there is nothing more to read or send.
    #[error("the connection is closed (the close handshake completed)")]
    ConnectionClosed,
}

fn tcp_hint(err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => {
            " (nothing listens on that port: check the port and that the server runs)"
        }
        io::ErrorKind::TimedOut => {
            " (no answer: a firewall may drop the packets, or the host is down)"
        }
        _ => "",
    }
}

fn timeout_hint(stage: Stage) -> &'static str {
    match stage {
        Stage::Tcp => " (the host did not answer: check the address, port and firewalls)",
        Stage::Http | Stage::Handshake => {
            " (the server accepted TCP but never answered the upgrade: is it a WebSocket endpoint, and is it ws:// vs wss:// correct?)"
        }
        _ => "",
    }
}

impl Error {
    /// The stage in which the error happened.
    pub fn stage(&self) -> Stage {
        match self {
            Self::InvalidUrl { .. } | Self::Unsupported(_) => Stage::Url,
            Self::Dns { .. } => Stage::Dns,
            Self::Connect { .. } => Stage::Tcp,
            Self::Timeout { stage, .. } | Self::Io { stage, .. } => *stage,
            Self::Handshake(err) => match err {
                HandshakeError::UnexpectedStatus { .. }
                | HandshakeError::MalformedHttp { .. }
                | HandshakeError::HeadTooLarge { .. }
                | HandshakeError::ClosedDuringHandshake { .. } => Stage::Http,
                HandshakeError::InvalidHeader { .. } => Stage::Url,
                _ => Stage::Handshake,
            },
            Self::Rejected { .. } => Stage::Handshake,
            Self::Protocol(_) | Self::Send(_) | Self::ConnectionClosed => Stage::Open,
        }
    }

    pub(crate) fn io(stage: Stage, source: io::Error) -> Self {
        Self::Io { stage, source }
    }
}
