//! `race-server KIND [--threads N] [--max-seconds S]`: one echo server on 127.0.0.1:0.
//!
//! Prints `listening on ws://127.0.0.1:PORT/` and serves until killed or until `--max-seconds`
//! (default 1800) have passed. `--threads 1` is tokio's current-thread runtime, more a
//! multi-thread one. Every accepted socket gets TCP_NODELAY, whatever the library would do.
//!
//! What each KIND does with a connection:
//!
//! - `sockeye`: sockeye's tokio [`Server`] with a [`ServerHandler`] whose `on_message` sends the
//!   message back (`Peer::send` queues it; the server writes everything queued when its read
//!   would wait, so one write carries the replies to every frame of one read).
//! - `sockeye-loop`: `accept_async`, then `read()` and `queue()` in a loop: the same batching
//!   without the server's per-connection command channel and shutdown watch.
//! - `sockeye-select` and `sockeye-select-batched` (diagnosis, not in the default race): the
//!   [`Server`]'s per-connection loop rebuilt with the public API — a `select!` over `read()`,
//!   the connection's command channel and the shutdown watch. `sockeye-select` enters the
//!   `select!` once per message, as `Server` used to; `sockeye-select-batched` takes every
//!   message already buffered before it selects again, and waits for shutdown with one future
//!   made once, as `Server` does now.
//! - `tungstenite`: tokio-tungstenite's own echo example: `accept_async`, `split()`, keep text
//!   and binary with `try_filter`, `forward` into the sink. `forward` feeds each message into
//!   tungstenite's write buffer and flushes when the stream has nothing ready, so it batches too.
//! - `fastwebsockets`: fastwebsockets' own echo example: a `FragmentCollector` over the socket,
//!   `read_frame`, `write_frame` of each text or binary frame (one write per frame), run in
//!   `tokio::task::unconstrained` as the example does. Its handshake is done here with
//!   sockeye's parser over the plain `TcpStream` (the example uses hyper's upgrade, which wraps
//!   the socket in more layers; the plain socket is the faster path for fastwebsockets).
//! - `tcp`: the ceiling. After the handshake it reads up to 64 KiB at a time and writes back
//!   what it read in one write, only rewriting each frame header as a server's (mask bit off, the
//!   4-byte key dropped) and unmasking the payload: a client rejects masked frames from a
//!   server (RFC 6455 section 5.1), so byte-for-byte echo is not possible. No validation, no
//!   messages, no allocation per read. It closes after echoing a close frame.
//!
//! [`Server`]: sockeye::tokio::Server
//! [`ServerHandler`]: sockeye::tokio::ServerHandler

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use fastwebsockets::{FragmentCollector, OpCode as FastOpCode, Role as FastRole, WebSocket};
use futures_util::{StreamExt, TryStreamExt};
use sockeye::proto::frame::mask::apply_mask_at;
use sockeye::proto::FrameHeader;
use sockeye::tokio::{Peer, Server, ServerHandler};
use sockeye::{Message, ServerConfig};
use sockeye_race::{accept_handshake, runtime, Args};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const USAGE: &str = "usage: race-server sockeye|sockeye-loop|tungstenite|fastwebsockets|tcp\
                     |sockeye-select|sockeye-select-batched [--threads N] [--max-seconds S]";
const KINDS: [&str; 7] = [
    "sockeye",
    "sockeye-loop",
    "tungstenite",
    "fastwebsockets",
    "tcp",
    "sockeye-select",
    "sockeye-select-batched",
];

fn main() -> ExitCode {
    let args = match Args::parse(&[]) {
        Ok(args) => args,
        Err(err) => {
            eprintln!("race-server: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let kind = args.positional.first().cloned().unwrap_or_default();
    let (threads, max) = match (
        args.value("--threads", 1usize),
        args.seconds("--max-seconds", 1800.0),
    ) {
        (Ok(threads), Ok(max)) => (threads, max),
        (Err(err), _) | (_, Err(err)) => {
            eprintln!("race-server: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if !KINDS.contains(&kind.as_str()) {
        eprintln!("race-server: unknown server {kind:?}\n{USAGE}");
        return ExitCode::from(2);
    }
    let runtime = match runtime(threads) {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("race-server: cannot start tokio: {err}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        println!("listening on ws://{}/", listener.local_addr()?);
        std::io::stdout().flush()?;
        match tokio::time::timeout(max, serve(&kind, listener)).await {
            Ok(served) => served,
            Err(_elapsed) => Ok(()),
        }
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("race-server: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(kind: &str, listener: TcpListener) -> std::io::Result<()> {
    if kind == "sockeye" {
        return Server::new(ServerConfig::default())
            .serve(listener, || Echo)
            .await;
    }
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        match kind {
            "sockeye-loop" => drop(tokio::spawn(sockeye_loop(stream))),
            "sockeye-select" => drop(tokio::spawn(sockeye_select(stream, false))),
            "sockeye-select-batched" => drop(tokio::spawn(sockeye_select(stream, true))),
            "tungstenite" => drop(tokio::spawn(tungstenite(stream))),
            "fastwebsockets" => drop(tokio::spawn(tokio::task::unconstrained(fastwebsockets(
                stream,
            )))),
            _ => drop(tokio::spawn(tcp(stream))),
        }
    }
}

/// The `sockeye` server's handler: every text or binary message goes back.
struct Echo;

impl ServerHandler for Echo {
    fn on_message(&mut self, peer: &mut Peer<'_>, message: Message) {
        peer.send(message);
    }
}

async fn sockeye_loop(stream: TcpStream) {
    let Ok(mut socket) = sockeye::tokio::accept_async(stream).await else {
        return;
    };
    // Replies are queued; `read` writes them all before it waits for more input.
    while let Ok(message) = socket.read().await {
        if matches!(message, Message::Text(_) | Message::Binary(_))
            && socket.queue(message).is_err()
        {
            return;
        }
    }
}

/// The shape of `Server`'s connection loop (see the module docs).
async fn sockeye_select(stream: TcpStream, batched: bool) {
    let Ok(mut socket) = sockeye::tokio::accept_async(stream).await else {
        return;
    };
    // Nobody sends on these here; they stand for the Server's peer handle and shutdown signal.
    let (_sender, mut commands) = tokio::sync::mpsc::unbounded_channel::<Message>();
    let (_stop_sender, mut stop) = tokio::sync::watch::channel(false);
    let mut stopping = false;
    if batched {
        let mut stop_for_wait = stop.clone();
        let mut shutdown = std::pin::pin!(async move {
            let _ = stop_for_wait.wait_for(|stop| *stop).await;
        });
        loop {
            tokio::select! {
                read = socket.read() => {
                    let mut read = read;
                    loop {
                        match read {
                            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                                let _ = socket.queue(message);
                            }
                            Ok(_) => {}
                            Err(_) => return,
                        }
                        // Frames already buffered are taken now: no select, no waker traffic.
                        if !socket.connection().has_buffered_frame() {
                            break;
                        }
                        read = socket.read().await;
                    }
                }
                Some(message) = commands.recv() => { let _ = socket.queue(message); }
                () = &mut shutdown, if !stopping => stopping = true,
            }
        }
    }
    loop {
        tokio::select! {
            read = socket.read() => match read {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => { let _ = socket.queue(message); }
                Ok(_) => {}
                Err(_) => return,
            },
            Some(message) = commands.recv() => { let _ = socket.queue(message); }
            changed = stop.changed(), if !stopping => {
                stopping = changed.is_err() || *stop.borrow();
            }
        }
    }
}

async fn tungstenite(stream: TcpStream) {
    let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (write, read) = socket.split();
    let _ = read
        .try_filter(|message| std::future::ready(message.is_text() || message.is_binary()))
        .forward(write)
        .await;
}

async fn fastwebsockets(mut stream: TcpStream) {
    if accept_handshake(&mut stream).await.is_err() {
        return;
    }
    let mut socket = FragmentCollector::new(WebSocket::after_handshake(stream, FastRole::Server));
    loop {
        let Ok(frame) = socket.read_frame().await else {
            return;
        };
        let echo = match frame.opcode {
            FastOpCode::Close => return,
            FastOpCode::Text | FastOpCode::Binary => frame,
            _ => continue,
        };
        if socket.write_frame(echo).await.is_err() {
            return;
        }
    }
}

/// Where the TCP ceiling is within the frame stream.
enum Position {
    /// Between frames; the bytes of a header that has not fully arrived are kept.
    Header,
    /// Inside a payload: bytes left, its mask key, and the offset for the key.
    Payload {
        left: u64,
        key: Option<[u8; 4]>,
        offset: usize,
    },
}

async fn tcp(mut stream: TcpStream) {
    if accept_handshake(&mut stream).await.is_err() {
        return;
    }
    let mut input = vec![0u8; 64 * 1024 + 14];
    let mut output = Vec::with_capacity(64 * 1024 + 14);
    let mut kept = 0; // header bytes from the last read, at the front of `input`
    let mut position = Position::Header;
    let mut closing = false;
    loop {
        let read = match stream.read(&mut input[kept..]).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        let end = kept + read;
        let mut at = 0;
        output.clear();
        while at < end {
            match &mut position {
                Position::Header => {
                    let Ok(Some((header, len))) = FrameHeader::parse(&input[at..end]) else {
                        break;
                    };
                    let raw = &input[at..at + len];
                    let key_len = if header.mask.is_some() { 4 } else { 0 };
                    output.push(raw[0]);
                    output.push(raw[1] & 0x7f);
                    output.extend_from_slice(&raw[2..len - key_len]);
                    closing |= header.opcode == sockeye::OpCode::Close;
                    at += len;
                    position = Position::Payload {
                        left: header.payload_len,
                        key: header.mask,
                        offset: 0,
                    };
                }
                Position::Payload { left, key, offset } => {
                    let take = (*left).min((end - at) as u64) as usize;
                    let from = output.len();
                    output.extend_from_slice(&input[at..at + take]);
                    if let Some(key) = key {
                        apply_mask_at(&mut output[from..], *key, *offset);
                    }
                    *offset += take;
                    *left -= take as u64;
                    at += take;
                }
            }
            if matches!(position, Position::Payload { left: 0, .. }) {
                position = Position::Header;
            }
        }
        input.copy_within(at..end, 0);
        kept = end - at;
        if stream.write_all(&output).await.is_err() {
            return;
        }
        if closing && matches!(position, Position::Header) && kept == 0 {
            let _ = stream.shutdown().await;
            // Let the client see the close before the socket goes.
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut input)).await;
            return;
        }
    }
}
