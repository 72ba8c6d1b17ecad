//! Command-line flags: the top-level `Cli` and its subcommands. Each command's own flags live
//! with the command (`connect_args`, `serve`, `bench`, `probe`); exit statuses in `exit`.

use clap::{Parser, Subcommand};

use crate::bench::BenchArgs;
use crate::connect_args::ConnectCommand;
use crate::docs::{CompletionsArgs, ManArgs};
use crate::probe::{ProbeArgs, AFTER_HELP as PROBE_AFTER_HELP};
use crate::serve::ServeArgs;

/// Connect to, serve and look at WebSockets.
#[derive(Debug, Parser)]
#[command(name = "sockeye", version, about, long_about = None)]
#[command(after_help = "\
Examples:
  sockeye demo
  sockeye connect wss://echo.example.com/
  sockeye serve -l 9001
  sockeye probe wss://example.com/socket
  sockeye bench ws://127.0.0.1:9001/ -c 100 -d 5
Each command's --help has more; `sockeye man` prints the man page.")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start an echo server on 127.0.0.1, connect to it, and show the handshake, messages, a ping
    /// and the close.
    #[command(after_help = "\
Examples:
  sockeye demo
  sockeye demo | grep -i '^. sec-websocket'    (the key, its accept, the extensions)")]
    Demo,
    /// Connect to a WebSocket URL: send each line of stdin as a text message and print what
    /// arrives.
    #[command(after_help = "\
Examples:
  sockeye connect ws://127.0.0.1:9001/                        (type lines; Ctrl-D closes)
  echo '{\"op\":\"ping\"}' | sockeye connect wss://api.example.com/ws | jq .
  sockeye connect -H \"Authorization: Bearer $TOKEN\" --subprotocol mqtt wss://broker.example/mqtt
  sockeye connect --jsonl ws://127.0.0.1:9001/ < messages.txt > received.jsonl
  sockeye connect --binary --whole ws://127.0.0.1:9001/ < file.bin
  sockeye connect --slash --frames ws://127.0.0.1:9001/       (/ping, /close 1001 bye…)
  sockeye connect --cacert ca.pem -x socks5h://127.0.0.1:1080 wss://internal.example/ws

Output: when stdout is not a terminal (a pipe, a file), nothing is changed: each text message is
written exactly as it came, then a newline, and each binary message as its raw bytes, then a
newline (--base64 or --binary-output base64|hex to change that). A message that itself holds a
newline would read as two: -0 ends each message with a NUL byte instead (websocat's
-0/--null-terminated), and --jsonl writes one JSON object per message, always lossless:
  {\"type\":\"text\",\"data\":\"line1\\nline2\"}
  {\"type\":\"binary\",\"data\":\"3q2+7w==\"}          (the bytes in base64)
On a terminal, text is printed with control characters escaped (\\n, \\t, \\u{1b}…), so that
a server cannot drive the terminal, and binary messages as `[binary N bytes] hex…`.
With --frames, one line per frame:
  frame 0x1 text fin=0 rsv=000 len=5 \"hello\"
  frame 0x2 binary fin=1 rsv=100 len=3 de ad be
  frame 0x8 close fin=1 rsv=000 len=5 1000 (normal) \"bye\"
(binary payloads and any that are not UTF-8 in hex, others as text; previews stop after 64
characters or 32 bytes).
A close the server sends with a code other than 1000 is always reported on stderr.

Input: each stdin line, without its newline (and without a CR before it), is a text message;
with -0, stdin is split at NUL bytes instead, so a message may hold newlines; with --whole, all
of stdin is one message, sent when stdin ends. --binary (websocat's -b/--binary; -b here is
curl's --cookie) sends each record's bytes as a binary message; --input-format base64 decodes
each record from base64 and sends it as binary. A file as one binary message:
  sockeye connect --binary --whole ws://… < file.bin
A text record that is not UTF-8 is not sent (stderr says so).

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
(at most --close-timeout seconds), then exits. Ctrl-C (SIGINT) sends a close with 1001 (going
away, as a browser leaving the page), waits for the server's close in the same way, then exits
with status 130; a second Ctrl-C exits at once.

Exit status: 0 after a normal close (1000, or the --close-code sockeye sent echoed back), 3 if
the connection could not be opened (bad URL or options, DNS, TCP, TLS, handshake, redirects),
4 if it ended abnormally (protocol error, dropped connection, or another close code),
28 when --max-time ran out, 130 after Ctrl-C, 1 for anything else, 2 for bad usage.")]
    Connect(Box<ConnectCommand>),
    /// Run a WebSocket server: echo (default), JSON echo or broadcast, on TCP, TLS or a Unix
    /// socket.
    Serve(Box<ServeArgs>),
    /// Load an echo server: N connections, each with a window of messages in flight; report
    /// msgs/s, MB/s and round-trip latency percentiles.
    Bench(Box<BenchArgs>),
    /// Diagnose a WebSocket URL: connect with every option of `connect`, time each stage, show
    /// the TLS session and the heads, and say which stage failed, why, and what to try.
    #[command(after_help = PROBE_AFTER_HELP)]
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
    Probe(Box<ProbeArgs>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(CompletionsArgs),
    /// Print the roff man page of sockeye or of one subcommand, or write them all to a directory.
    Man(ManArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    /// clap's own consistency checks over every command and flag (names, conflicts, value
    /// names), which `--help`, the completions and the man pages are generated from.
    #[test]
    fn the_clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }
}
