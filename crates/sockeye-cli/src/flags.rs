//! Command-line flags.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The connection could not be opened (URL, DNS, TCP, handshake).
pub(crate) const EXIT_CONNECT_FAILED: u8 = 3;
/// The connection opened but ended without a normal close (protocol error, 1006, non-1000 close).
pub(crate) const EXIT_ABNORMAL_CLOSE: u8 = 4;
/// Any other failure.
pub(crate) const EXIT_FAILURE: u8 = 1;
/// `--max-time` ran out (the same code as curl's "operation timed out").
pub(crate) const EXIT_MAX_TIME: u8 = 28;

/// `--help` sections of `sockeye connect`.
const HANDSHAKE: &str = "Handshake options";
const ROUTE: &str = "Route and redirects";
const FRAMES: &str = "Frame-level options (for testing servers)";
const KEEPALIVE: &str = "Keepalive and reconnect";

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
binary messages as `[binary N bytes] hex…`. With --frames, one line per frame:
  frame 0x1 text fin=0 rsv=000 len=5 \"hello\"
  frame 0x2 binary fin=1 rsv=100 len=3 de ad be
  frame 0x8 close fin=1 rsv=000 len=5 1000 (normal) \"bye\"
(binary payloads and any that are not UTF-8 in hex, others as text; previews stop after 64
characters or 32 bytes).
A close the server sends with a code other than 1000 is always reported on stderr.

With --slash, stdin lines that start with \"/\" are commands; other lines are text messages and
\"//text\" sends \"/text\":
  /ping [TEXT]              a ping (payload at most 125 bytes)
  /pong [TEXT]              an unsolicited pong
  /binary HEX               a binary message: /binary de ad be ef
  /close [CODE [REASON]]    start the close handshake (default 1000)
  /frame opcode=N [fin=0|1] [rsv=N] [hex=HEX | text=TEXT]
                            a raw frame exactly as given: any opcode, reserved ones too (0x3-0x7,
                            0xB-0xF), FIN (default 1) and RSV bits (0-7, RSV1 = 0b100); numbers
                            in decimal, 0x… or 0b…; text= takes the rest of the line.
                            Example: /frame opcode=0x3 fin=0 rsv=0b100 hex=0102

TLS (wss://): the server's certificate is verified against the operating system's trust store,
read by rustls-native-certs (on Linux the bundle and directory openssl-probe finds, such as
/etc/ssl/certs; SSL_CERT_FILE or SSL_CERT_DIR replace them when set); --cacert replaces it with
a CA file. With SSLKEYLOGFILE=FILE in the environment, the session keys are appended to FILE
for Wireshark.

Proxies: by default, as in curl, ws:// URLs go through $http_proxy, wss:// URLs through
$https_proxy, both else through $all_proxy (lower case first, then upper case), except hosts in
$no_proxy. Without any no_proxy list, localhost, 127.0.0.0/8 and ::1 always go direct. -x URL
uses that proxy instead (no_proxy still applies, as in curl; --noproxy replaces it), and
--ignore-proxy-env ignores all of these variables. An https:// proxy's certificate is checked
with the TLS options below (--cacert, -k…). A proxy that refuses says why: the CONNECT status
line and page, or the SOCKS reply code and its meaning (exit status 3).

When stdin ends, sockeye waits until the server has been silent for --linger seconds, sends a
close (--close-code, default 1000, with --close-reason), keeps printing until the server's close
(at most --close-timeout seconds), then exits.

Exit status: 0 after a normal close (1000, or the --close-code sockeye sent echoed back), 3 if
the connection could not be opened (bad URL or options, DNS, TCP, TLS, handshake, redirects),
4 if it ended abnormally (protocol error, dropped connection, or another close code),
28 when --max-time ran out, 1 for anything else, 2 for bad usage.")]
    Connect(Box<ConnectArgs>),
    /// Run a WebSocket server: echo (default), JSON echo or broadcast, on TCP, TLS or a Unix
    /// socket.
    Serve(Box<crate::serve::ServeArgs>),
    /// Load an echo server: N connections, each with a window of messages in flight; report
    /// msgs/s, MB/s and round-trip latency percentiles.
    Bench(Box<crate::bench::BenchArgs>),
    /// Diagnose a WebSocket URL: connect with every option of `connect`, time each stage, show
    /// the TLS session and the heads, and say which stage failed, why, and what to try.
    #[command(after_help = crate::probe::AFTER_HELP)]
    // `connect`'s options that only matter for an interactive session are hidden here.
    #[command(
        mut_arg("frames", |arg| arg.hide(true)),
        mut_arg("slash", |arg| arg.hide(true)),
        mut_arg("linger", |arg| arg.hide(true)),
        mut_arg("max_time", |arg| arg.hide(true)),
        mut_arg("ping_interval", |arg| arg.hide(true)),
        mut_arg("ping_timeout", |arg| arg.hide(true)),
        mut_arg("reconnect", |arg| arg.hide(true))
    )]
    Probe(Box<crate::probe::ProbeArgs>),
}

#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    /// The ws://, wss:// or ws+unix:///path/to/socket[:/path] URL to connect to.
    pub(crate) url: String,
    /// Print the trace to stderr: the request and response headers and every frame sent and
    /// received (pings with their round-trip time, closes with code and reason), secrets
    /// redacted.
    #[arg(short, long)]
    pub(crate) verbose: bool,
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
    /// Send cookies, as "name=value; other=value" (repeatable; joined with "; "). Cookie files
    /// are not read.
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

/// Where the trace goes and what it shows (shared by `connect` and `serve`).
#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    /// Write the trace to this file instead of stderr (with or without -v).
    #[arg(long = "trace-file", value_name = "PATH")]
    pub(crate) trace_file: Option<std::path::PathBuf>,
    /// The trace format: "human" (readable blocks and lines) or "json" (one object per line).
    #[arg(long = "trace-format", value_enum, default_value_t = TraceFormat::Human, value_name = "FORMAT")]
    pub(crate) trace_format: TraceFormat,
    /// Show Authorization, Cookie, URL credentials and secret-looking query parameters in the
    /// trace and in error messages instead of [redacted].
    #[arg(long = "show-secrets")]
    pub(crate) show_secrets: bool,
    /// How many bytes of each payload the trace shows.
    #[arg(long = "trace-bytes", default_value_t = sockeye::trace::DEFAULT_PREVIEW_BYTES, value_name = "BYTES")]
    pub(crate) trace_bytes: usize,
}

/// `--trace-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TraceFormat {
    /// Header blocks and one line per frame.
    Human,
    /// JSON lines, one object per event.
    Json,
}
