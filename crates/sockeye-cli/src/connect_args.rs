//! `sockeye connect`'s flags, which `sockeye probe` takes too: the handshake, route, frame,
//! keepalive, TLS and proxy options.

use clap::Args;

use crate::trace::TraceArgs;

/// `--help` sections of `sockeye connect`.
const HANDSHAKE: &str = "Handshake options";
const ROUTE: &str = "Route and redirects";
const FRAMES: &str = "Frame-level options (for testing servers)";
const KEEPALIVE: &str = "Keepalive and reconnect";

#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    /// The ws://, wss:// or ws+unix:///path/to/socket[:/path] URL to connect to.
    pub(crate) url: String,
    /// Print the trace to stderr; repeat for more. -v: the request and response headers and
    /// one line per frame sent and received (pings with their round-trip time, closes with
    /// code and reason) with the first --trace-bytes bytes (64) of its payload, secrets
    /// redacted. -vv: whole payloads (unless --trace-bytes is given). -vvv: also each frame's
    /// bytes as on the wire in hex (header, mask key, masked payload), as websocket-client's
    /// enableTrace prints them.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    #[command(flatten)]
    pub(crate) trace: TraceArgs,
    /// Add a request header, as "Name: value" (repeatable, sent in order). A Host, Origin,
    /// User-Agent, Cookie or Authorization header replaces the one sockeye would send.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", help_heading = HANDSHAKE)]
    pub(crate) headers: Vec<String>,
    /// Send an Origin header.
    #[arg(long, help_heading = HANDSHAKE)]
    pub(crate) origin: Option<String>,
    /// Offer a subprotocol (repeatable, in order of preference).
    #[arg(long = "subprotocol", value_name = "NAME", help_heading = HANDSHAKE)]
    pub(crate) subprotocols: Vec<String>,
    /// Fail when subprotocols were offered and the server selected none (as browsers do).
    #[arg(long = "require-subprotocol", requires = "subprotocols", help_heading = HANDSHAKE)]
    pub(crate) require_subprotocol: bool,
    /// Send this User-Agent instead of sockeye/VERSION ("" sends none).
    #[arg(short = 'A', long = "user-agent", value_name = "NAME", help_heading = HANDSHAKE)]
    pub(crate) user_agent: Option<String>,
    /// Send cookies, as "name=value; other=value" (repeatable; joined with "; "). A value
    /// without "=" (-b chocolate) is sent as it is, as websocket-client's cookie= does; unlike
    /// curl's -b, no cookie file is read.
    #[arg(short = 'b', long = "cookie", value_name = "DATA", help_heading = HANDSHAKE)]
    pub(crate) cookies: Vec<String>,
    /// Send Basic credentials (as user:password@ in the URL does).
    #[arg(short = 'u', long = "user", value_name = "USER:PASSWORD", help_heading = HANDSHAKE)]
    pub(crate) user: Option<String>,
    /// Send "Authorization: Bearer TOKEN".
    #[arg(long = "oauth2-bearer", value_name = "TOKEN", help_heading = HANDSHAKE)]
    pub(crate) bearer: Option<String>,
    /// Do not offer permessage-deflate (RFC 7692; by default sockeye sends
    /// "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"), so messages go
    /// uncompressed both ways: to see or measure the raw framing, read payloads in a packet
    /// capture, or talk to a server whose deflate is broken.
    #[arg(long = "no-compression", help_heading = HANDSHAKE)]
    pub(crate) no_compression: bool,
    /// Connect through this Unix domain socket; the URL still gives Host and path.
    /// (A ws+unix:///path/to/socket:/path URL does both at once.)
    #[arg(long = "unix-socket", value_name = "PATH", help_heading = ROUTE)]
    pub(crate) unix_socket: Option<std::path::PathBuf>,
    /// Turn on SO_KEEPALIVE: the system probes the quiet TCP connection and drops it once the
    /// server is gone (curl turns it on by default; --ping-interval does this with WebSocket
    /// pings instead).
    #[arg(long = "keepalive", help_heading = ROUTE)]
    pub(crate) tcp_keepalive: bool,
    /// Bind to this local IP address before connecting (the port chosen by the system): the
    /// source address and interface the connection leaves from. Only server addresses of the
    /// same family are tried. An IP address, not an interface name as curl's --interface takes.
    #[arg(long = "local-address", value_name = "IP", help_heading = ROUTE)]
    pub(crate) local_address: Option<std::net::IpAddr>,
    /// Leave Nagle's algorithm on (no TCP_NODELAY): small frames may wait to be sent with the
    /// next ones, as a plain socket does.
    #[arg(long = "no-nodelay", help_heading = ROUTE)]
    pub(crate) no_nodelay: bool,
    /// Follow redirects (301, 302, 303, 307, 308; http:// and https:// Locations become ws://
    /// and wss://), never from wss:// to ws://.
    #[arg(short = 'L', long = "location", help_heading = ROUTE)]
    pub(crate) location: bool,
    /// With -L: follow at most this many redirects.
    #[arg(long = "max-redirs", default_value_t = 5, value_name = "NUM", help_heading = ROUTE)]
    pub(crate) max_redirs: usize,
    /// Give up after this many seconds in all (connecting, handshake, messages and close),
    /// with exit status 28.
    #[arg(short = 'm', long = "max-time", value_name = "SECONDS")]
    pub(crate) max_time: Option<f64>,
    /// Print every frame as it arrives instead of messages: opcode, FIN, RSV bits, length and
    /// a payload preview, pings, pongs, closes and continuation fragments included.
    #[arg(long, help_heading = FRAMES)]
    pub(crate) frames: bool,
    /// Accept text that is not valid UTF-8 (printed with U+FFFD) instead of failing with 1007.
    #[arg(long = "no-utf8-check", help_heading = FRAMES)]
    pub(crate) no_utf8_check: bool,
    /// Mask every frame sent with this key, 8 hex digits; 00000000 leaves payloads readable in
    /// packet captures. Default: a random key per frame, as RFC 6455 requires.
    #[arg(long = "mask-key", value_name = "HEX", help_heading = FRAMES)]
    pub(crate) mask_key: Option<String>,
    /// Treat stdin lines that start with "/" as commands (/ping, /pong, /binary, /close,
    /// /frame; see below). Without it every line is a text message.
    #[arg(long, help_heading = FRAMES)]
    pub(crate) slash: bool,
    /// The close code sent when stdin ends.
    #[arg(long = "close-code", default_value_t = 1000, value_name = "CODE", help_heading = FRAMES)]
    pub(crate) close_code: u16,
    /// The close reason sent when stdin ends (at most 123 bytes).
    #[arg(long = "close-reason", default_value = "", value_name = "TEXT", help_heading = FRAMES)]
    pub(crate) close_reason: String,
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
    /// Send a ping after this many seconds without hearing from the server; the connection
    /// fails (exit 4) when its pong does not come within --ping-timeout.
    #[arg(long = "ping-interval", value_name = "SECONDS", help_heading = KEEPALIVE)]
    pub(crate) ping_interval: Option<f64>,
    /// With --ping-interval: seconds to wait for a ping's pong.
    #[arg(long = "ping-timeout", default_value_t = 20.0, value_name = "SECONDS",
          requires = "ping_interval", help_heading = KEEPALIVE)]
    pub(crate) ping_timeout: f64,
    /// With --ping-interval: send exactly these bytes (UTF-8, at most 125) in every ping,
    /// instead of "sockeye" followed by an 8-byte counter; a pong with them answers the ping.
    #[arg(long = "ping-payload", value_name = "TEXT", requires = "ping_interval",
          help_heading = KEEPALIVE)]
    pub(crate) ping_payload: Option<String>,
    /// Once connected, reconnect whenever the server closes or the connection drops (backoff
    /// from 0.5 s doubling to 30 s, with jitter), until stdin ends; lines typed meanwhile are
    /// sent after the reconnect.
    #[arg(long, help_heading = KEEPALIVE)]
    pub(crate) reconnect: bool,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    #[command(flatten)]
    pub(crate) proxy: ProxyArgs,
}

/// `sockeye connect`'s proxy flags, named as curl names them.
#[derive(Debug, Args)]
#[command(next_help_heading = "Proxy options")]
pub(crate) struct ProxyArgs {
    /// Connect through this proxy: http:// or https:// (HTTP CONNECT, https:// with TLS to the
    /// proxy), socks4://, socks4a://, socks5:// or socks5h:// (a, h: the proxy resolves the host
    /// name), with user:password@ for credentials. No scheme means http://, no port 1080 (443
    /// for https://). Overrides the proxy environment variables; "" connects directly.
    #[arg(short = 'x', long, value_name = "URL")]
    pub(crate) proxy: Option<String>,
    /// Hosts that never go through a proxy, separated by commas: names (each also matches its
    /// subdomains; a leading dot is optional), IP addresses and CIDR blocks, each with an
    /// optional :port; "*" for every host. Replaces no_proxy / NO_PROXY.
    #[arg(long = "noproxy", value_name = "LIST")]
    pub(crate) noproxy: Option<String>,
    /// Ignore the proxy environment variables (http_proxy, https_proxy, all_proxy, no_proxy
    /// and their upper-case forms).
    #[arg(long = "ignore-proxy-env")]
    pub(crate) ignore_proxy_env: bool,
}

/// `sockeye connect`'s TLS flags for wss:// URLs, named as curl names them.
#[derive(Debug, Args)]
#[command(next_help_heading = "TLS options (wss://)")]
pub(crate) struct TlsArgs {
    /// Trust the CA certificates in this PEM file instead of the system's trust store.
    #[arg(long, value_name = "FILE")]
    pub(crate) cacert: Option<std::path::PathBuf>,
    /// Present this client certificate (PEM, leaf first; it may hold the key too) to servers
    /// that require one.
    #[arg(long, value_name = "FILE")]
    pub(crate) cert: Option<std::path::PathBuf>,
    /// The private key of --cert (PEM: PKCS#8, RSA or EC).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub(crate) key: Option<std::path::PathBuf>,
    /// Do not verify the server's certificate at all: the connection is encrypted, but anyone
    /// in the middle can read it.
    #[arg(short = 'k', long)]
    pub(crate) insecure: bool,
    /// Verify the certificate's chain and dates, but not that it names the host.
    #[arg(long = "no-hostname-check")]
    pub(crate) no_hostname_check: bool,
    /// Send NAME as the TLS server name (SNI) and check the certificate against it instead of
    /// the URL's host; the Host header does not change.
    #[arg(long, visible_alias = "servername", value_name = "NAME")]
    pub(crate) sni: Option<String>,
    /// Seconds allowed for the TLS handshake.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub(crate) tls_timeout: f64,
}

/// `sockeye connect` and its stdin and stdout flags (which `sockeye probe` does not take).
#[derive(Debug, Args)]
pub(crate) struct ConnectCommand {
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) io: IoArgs,
    #[command(flatten)]
    pub(crate) session: SessionArgs,
}

/// How stdin becomes messages and how received messages are written to stdout.
#[derive(Debug, Args)]
#[command(next_help_heading = "Input and output (stdin, stdout)")]
pub(crate) struct IoArgs {
    /// Write each received message as one JSON object per line: {"type":"text","data":"…"} or
    /// {"type":"binary","data":"<base64>"}. Lossless whatever the messages hold (websocat and
    /// wscat have no such mode; websocat's --base64 covers binary only).
    #[arg(long, conflicts_with_all = ["binary_output", "base64", "frames", "raw", "timings"])]
    pub(crate) jsonl: bool,
    /// Write messages undecorated even when stdout is a terminal: text exactly as received
    /// (control characters not escaped), binary raw unless --binary-output says otherwise.
    /// What a pipe gets anyway; wsdump's -r/--raw.
    #[arg(short = 'r', long)]
    pub(crate) raw: bool,
    /// Start each message written with the seconds since the connection opened, as wsdump's
    /// --timings does: "[+0.123s] MESSAGE" (pings and pongs with -P too). Asked for, so it
    /// applies in a pipe as well: the output is then no longer the bare messages.
    #[arg(long)]
    pub(crate) timings: bool,
    /// Records end with a NUL byte instead of a newline, both ways: each message written to
    /// stdout is followed by NUL, and stdin is split at NUL bytes (so messages may contain
    /// newlines). websocat calls it -0/--null-terminated.
    #[arg(short = '0', long, visible_alias = "null-terminated")]
    pub(crate) null: bool,
    /// How binary messages are written: hex (a "[binary N bytes] de ad …" line, the default on
    /// a terminal), raw (the bytes as they are, then the separator: the default when stdout is
    /// not a terminal) or base64 (one line each).
    #[arg(long = "binary-output", value_enum, value_name = "FORMAT")]
    pub(crate) binary_output: Option<BinaryOutput>,
    /// Write binary messages in base64, one line each: --binary-output base64, under websocat's
    /// name for it.
    #[arg(long, conflicts_with = "binary_output")]
    pub(crate) base64: bool,
    /// What each stdin record is: text (a text message, the default), binary (its bytes as a
    /// binary message) or base64 (decoded, as a binary message; padding optional).
    #[arg(
        long = "input-format",
        value_enum,
        value_name = "FORMAT",
        conflicts_with = "slash"
    )]
    pub(crate) input_format: Option<InputFormat>,
    /// Send stdin records as binary messages: --input-format binary (websocat's -b/--binary;
    /// here -b is curl's --cookie).
    #[arg(long, conflicts_with_all = ["input_format", "slash"])]
    pub(crate) binary: bool,
    /// Send all of stdin as one message when it ends, newlines and NUL bytes included (with
    /// --binary: a file as one binary message). Not websocat's -1/--one-message, which sends
    /// and receives one message, then exits.
    #[arg(long, conflicts_with = "slash")]
    pub(crate) whole: bool,
}

/// `--binary-output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BinaryOutput {
    /// `[binary N bytes] de ad be ef`.
    Hex,
    /// The bytes as they are.
    Raw,
    /// Standard base64 with padding.
    Base64,
}

/// `--input-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum InputFormat {
    /// Each record is a text message (it must be UTF-8).
    Text,
    /// Each record's bytes are a binary message.
    Binary,
    /// Each record is base64, decoded into a binary message.
    Base64,
}

impl IoArgs {
    /// `--input-format`, or `--binary`.
    pub(crate) fn input_format(&self) -> InputFormat {
        match self.input_format {
            Some(format) => format,
            None if self.binary => InputFormat::Binary,
            None => InputFormat::Text,
        }
    }

    /// `--binary-output`, or `--base64`, or the default for where stdout goes.
    pub(crate) fn binary_output(&self, terminal: bool) -> BinaryOutput {
        match self.binary_output {
            Some(format) => format,
            None if self.base64 => BinaryOutput::Base64,
            None if terminal => BinaryOutput::Hex,
            None => BinaryOutput::Raw,
        }
    }

    /// The byte that ends a record, on stdin and stdout.
    pub(crate) fn separator(&self) -> u8 {
        if self.null {
            0
        } else {
            b'\n'
        }
    }
}

/// What `sockeye connect` does besides relaying stdin: a first message, receive and idle
/// timeouts, and when to stop.
#[derive(Debug, Args)]
#[command(next_help_heading = "Conversation")]
pub(crate) struct SessionArgs {
    /// Send this text message first, before anything from stdin (wsdump's -t; sent again on
    /// each --reconnect).
    #[arg(short = 't', long, value_name = "TEXT")]
    pub(crate) text: Option<String>,
    /// Give up when no message (text or binary) arrives for this many seconds, as a receive
    /// with websocket-client's timeout= does: sockeye closes with 1001 and exits with status
    /// 28. The clock restarts at each message received; what is sent does not count, nor do
    /// pings and pongs.
    #[arg(
        long = "read-timeout",
        visible_alias = "timeout",
        value_name = "SECONDS"
    )]
    pub(crate) read_timeout: Option<f64>,
    /// End the conversation once no message has gone either way for this many seconds: a
    /// normal close (--close-code, default 1000), exit status 0. Pings and pongs do not count.
    #[arg(long = "idle-timeout", value_name = "SECONDS")]
    pub(crate) idle_timeout: Option<f64>,
    /// Exit after the first message received: it is written out, then sockeye closes
    /// (--close-code, default 1000) and waits for the server's close (websocat's -1).
    #[arg(short = '1', long = "one-message")]
    pub(crate) one_message: bool,
    /// When stdin ends, do not close: keep writing what arrives until the server closes
    /// (websocat's -n/--no-close). wsdump's -n and wscat's -n (no certificate check) are -k
    /// here.
    #[arg(short = 'n', long = "no-close")]
    pub(crate) no_close: bool,
    /// Write the pings and pongs received (the pongs answering --ping-interval's pings
    /// included) as lines of their own: "[ping] PAYLOAD", "[pong] PAYLOAD" (hex when not UTF-8;
    /// with --jsonl {"type":"ping","data":"<base64>"}). wscat's -P/--show-ping-pong.
    #[arg(short = 'P', long = "show-ping-pong")]
    pub(crate) show_ping_pong: bool,
    /// Send CMD as a text message, write the first reply and exit, closing with 1000; stdin is
    /// not read. With --wait, write what arrives for that many seconds instead. wscat's
    /// -x/--execute (here -x is curl's --proxy).
    #[arg(long, value_name = "CMD", conflicts_with_all = ["text", "one_message", "no_close"])]
    pub(crate) execute: Option<String>,
    /// With --execute: seconds to keep writing what arrives before closing (wscat's -w).
    #[arg(short = 'w', long, value_name = "SECONDS", requires = "execute")]
    pub(crate) wait: Option<f64>,
}
