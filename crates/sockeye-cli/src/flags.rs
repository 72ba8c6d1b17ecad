//! Command-line flags.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

/// The connection could not be opened (URL, DNS, TCP, handshake).
pub(crate) const EXIT_CONNECT_FAILED: u8 = 3;
/// The connection opened but ended without a normal close (protocol error, 1006, non-1000 close).
pub(crate) const EXIT_ABNORMAL_CLOSE: u8 = 4;
/// Any other failure.
pub(crate) const EXIT_FAILURE: u8 = 1;

/// Connect to, serve and look at WebSockets.
#[derive(Debug, Parser)]
#[command(name = "sockeye", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start an echo server on 127.0.0.1, connect to it, and show the handshake, messages, a ping
    /// and the close.
    Demo,
    /// Connect to a WebSocket URL: send each line of stdin as a text message and print what
    /// arrives.
    #[command(after_help = "\
Output: text messages are printed one per line, control characters escaped (\\n, \\t, \\x1b…);
binary messages as `[binary N bytes] hex…`.

When stdin ends, sockeye waits until the server has been silent for --linger seconds, sends a
close (1000), keeps printing until the server's close (at most --close-timeout seconds), then exits.

Exit status: 0 after a normal close (1000), 3 if the connection could not be opened (bad URL
or options, DNS, TCP, handshake),
4 if it ended abnormally (protocol error, dropped connection, or a close code other than 1000),
1 for anything else, 2 for bad usage.")]
    Connect(ConnectArgs),
    /// Run an echo server for text and binary messages.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    /// The ws:// URL to connect to.
    pub(crate) url: String,
    /// Print the handshake and every message, ping, pong and close to stderr.
    #[arg(short, long)]
    pub(crate) verbose: bool,
    /// Add a request header, as "Name: value" (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,
    /// Send an Origin header.
    #[arg(long)]
    pub(crate) origin: Option<String>,
    /// Offer a subprotocol (repeatable, in order of preference).
    #[arg(long = "subprotocol", value_name = "NAME")]
    pub(crate) subprotocols: Vec<String>,
    /// After stdin ends, wait until the server has been silent this long before sending the
    /// close, so replies still in flight are printed (some servers drop replies once a close
    /// arrives).
    #[arg(long, default_value_t = 0.3, value_name = "SECONDS")]
    pub(crate) linger: f64,
    /// Seconds to wait for the server's close after sending ours.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub(crate) close_timeout: f64,
    /// Seconds allowed for the TCP connection.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub(crate) connect_timeout: f64,
    /// Seconds allowed for the opening handshake.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub(crate) handshake_timeout: f64,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen URL is printed).
    #[arg(short, long, default_value = "127.0.0.1:9001")]
    pub(crate) listen: SocketAddr,
    /// Log each connection, message and close to stderr.
    #[arg(short, long)]
    pub(crate) verbose: bool,
}
