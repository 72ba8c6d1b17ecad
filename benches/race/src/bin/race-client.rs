//! `race-client LIB URL [-c N] [-s BYTES] [-w N] [-d S] [--warmup S] [--binary]`: the same
//! pipelined echo loop written with each library's client, against one server.
//!
//! LIB is `sockeye`, `tungstenite` or `fastwebsockets`. Every connection runs this loop, on a
//! current-thread runtime, all connections in one task:
//!
//! 1. top the window up: stamp each message with the time and hand it to the library
//!    (sockeye: `queue`; tokio-tungstenite: `SinkExt::feed`; fastwebsockets: `write_frame`,
//!    which writes at once — it has no queue), then make it go out (sockeye: nothing, its
//!    `read` writes what is queued before it waits; tokio-tungstenite: `SinkExt::flush`;
//!    fastwebsockets: nothing);
//! 2. wait for a reply, then take every reply that is ready without waiting (sockeye: while
//!    `has_buffered_frame`; tokio-tungstenite: `next().now_or_never()`, its `next` being
//!    cancel-safe; fastwebsockets: none, its `read_frame` is not cancel-safe — as it writes each
//!    frame at once anyway, topping up after every reply costs it no extra syscall);
//! 3. time each reply from its stamp.
//!
//! The TCP connection and the handshake are made the same way for all three (a `TcpStream`
//! with TCP_NODELAY, then each library's own client handshake, except fastwebsockets, whose
//! client handshake needs hyper: sockeye's handshake parser does it over the plain socket).
//! Prints one JSON object in the shape of `sockeye bench --json`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fastwebsockets::{FragmentCollector, Frame, OpCode as FastOpCode, Payload, Role, WebSocket};
use futures_util::{FutureExt, SinkExt, StreamExt};
use sockeye::tokio::WebSocketStream;
use sockeye::{ClientConfig, Message, Utf8Bytes};
use sockeye_race::{
    client_handshake, read_stamp, runtime, split_url, stamped, template, Args, Recorder,
};
use tokio::net::TcpStream;

const USAGE: &str = "usage: race-client sockeye|tungstenite|fastwebsockets URL [-c N] [-s BYTES] \
                     [-w N] [-d SECONDS] [--warmup SECONDS] [--binary]";

/// What the loop needs from a library's client.
trait EchoClient {
    /// Hands one message to the library.
    async fn queue(&mut self, payload: &[u8], binary: bool) -> Result<(), String>;
    /// Makes what was queued go out.
    async fn flush(&mut self) -> Result<(), String>;
    /// The stamp of the next text or binary reply.
    async fn recv(&mut self, size: usize, binary: bool) -> Result<u64, String>;
    /// The stamp of a reply that is ready without waiting, if any (the rest of what the last
    /// read brought).
    fn try_recv(&mut self, size: usize, binary: bool) -> Option<Result<u64, String>>;
}

struct SockeyeClient(WebSocketStream<TcpStream>);

impl EchoClient for SockeyeClient {
    async fn queue(&mut self, payload: &[u8], binary: bool) -> Result<(), String> {
        let bytes = Bytes::copy_from_slice(payload);
        let message = if binary {
            Message::Binary(bytes)
        } else {
            Message::Text(Utf8Bytes::try_from_bytes(bytes).map_err(|_| "not UTF-8")?)
        };
        self.0.queue(message).map_err(|err| err.to_string())
    }

    async fn flush(&mut self) -> Result<(), String> {
        Ok(())
    }

    async fn recv(&mut self, size: usize, binary: bool) -> Result<u64, String> {
        loop {
            match self.0.read().await.map_err(|err| err.to_string())? {
                Message::Binary(payload) => return read_stamp(&payload, size, binary),
                Message::Text(text) => return read_stamp(text.as_bytes(), size, binary),
                _ => {}
            }
        }
    }

    fn try_recv(&mut self, size: usize, binary: bool) -> Option<Result<u64, String>> {
        if !self.0.connection().has_buffered_frame() {
            return None;
        }
        // A whole frame is buffered, so this completes without waiting.
        self.recv(size, binary).now_or_never()
    }
}

struct TungsteniteClient(tokio_tungstenite::WebSocketStream<TcpStream>);

impl EchoClient for TungsteniteClient {
    async fn queue(&mut self, payload: &[u8], binary: bool) -> Result<(), String> {
        use tokio_tungstenite::tungstenite::Message as TMessage;
        let bytes = Bytes::copy_from_slice(payload);
        let message = if binary {
            TMessage::Binary(bytes)
        } else {
            TMessage::Text(bytes.try_into().map_err(|_| "not UTF-8")?)
        };
        self.0.feed(message).await.map_err(|err| err.to_string())
    }

    async fn flush(&mut self) -> Result<(), String> {
        SinkExt::flush(&mut self.0)
            .await
            .map_err(|err| err.to_string())
    }

    async fn recv(&mut self, size: usize, binary: bool) -> Result<u64, String> {
        use tokio_tungstenite::tungstenite::Message as TMessage;
        loop {
            match self.0.next().await {
                None => return Err("the server closed the connection".into()),
                Some(Err(err)) => return Err(err.to_string()),
                Some(Ok(TMessage::Binary(payload))) => return read_stamp(&payload, size, binary),
                Some(Ok(TMessage::Text(text))) => return read_stamp(text.as_bytes(), size, binary),
                Some(Ok(_)) => {}
            }
        }
    }

    fn try_recv(&mut self, size: usize, binary: bool) -> Option<Result<u64, String>> {
        // `next` is cancel-safe: what a poll read stays in tungstenite's buffer.
        self.recv(size, binary).now_or_never()
    }
}

struct FastClient(FragmentCollector<TcpStream>);

impl EchoClient for FastClient {
    async fn queue(&mut self, payload: &[u8], binary: bool) -> Result<(), String> {
        // The client masks the payload in place, so it gets its own copy (as sockeye and
        // tungstenite copy it into their write buffers).
        let payload = Payload::Owned(payload.to_vec());
        let frame = if binary {
            Frame::binary(payload)
        } else {
            Frame::text(payload)
        };
        self.0
            .write_frame(frame)
            .await
            .map_err(|err| err.to_string())
    }

    async fn flush(&mut self) -> Result<(), String> {
        Ok(())
    }

    async fn recv(&mut self, size: usize, binary: bool) -> Result<u64, String> {
        loop {
            let frame = self.0.read_frame().await.map_err(|err| err.to_string())?;
            match frame.opcode {
                FastOpCode::Binary | FastOpCode::Text => {
                    return read_stamp(&frame.payload, size, binary)
                }
                FastOpCode::Close => return Err("the server closed the connection".into()),
                _ => {}
            }
        }
    }

    fn try_recv(&mut self, _size: usize, _binary: bool) -> Option<Result<u64, String>> {
        // `read_frame` is not cancel-safe (it consumes a header, then waits for the payload),
        // so it cannot be polled just once; each reply is awaited. Its writes are one syscall
        // per frame either way.
        None
    }
}

/// The fixed parameters of a run.
struct Plan {
    size: usize,
    window: usize,
    binary: bool,
    start: Instant,
    warmup_ns: u64,
    end_ns: u64,
}

impl Plan {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// The loop of the module docs, until the end of the run.
async fn drive(mut client: impl EchoClient, plan: &Plan) -> Result<Recorder, String> {
    let mut recorder = Recorder::default();
    let mut payload = template(plan.size, plan.binary);
    let mut in_flight = 0;
    loop {
        let now_ns = plan.now_ns();
        if now_ns >= plan.end_ns {
            return Ok(recorder);
        }
        if in_flight < plan.window {
            while in_flight < plan.window {
                stamped(&mut payload, plan.binary, now_ns);
                client.queue(&payload, plan.binary).await?;
                in_flight += 1;
            }
            client.flush().await?;
        }
        let mut sent_ns = client.recv(plan.size, plan.binary).await?;
        let now_ns = plan.now_ns();
        loop {
            in_flight -= 1;
            if now_ns >= plan.warmup_ns && now_ns < plan.end_ns {
                recorder.record(sent_ns, now_ns);
            }
            match client.try_recv(plan.size, plan.binary) {
                Some(next) => sent_ns = next?,
                None => break,
            }
        }
    }
}

async fn connect(url: &str) -> Result<TcpStream, String> {
    let (authority, _) = split_url(url).map_err(|err| err.to_string())?;
    let stream = TcpStream::connect(&authority)
        .await
        .map_err(|err| format!("cannot connect to {authority}: {err}"))?;
    stream.set_nodelay(true).map_err(|err| err.to_string())?;
    Ok(stream)
}

/// An opened client of any of the libraries.
// One per connection, moved once into its loop: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum AnyClient {
    Sockeye(SockeyeClient),
    Tungstenite(TungsteniteClient),
    Fast(FastClient),
}

impl AnyClient {
    async fn open(library: &str, url: &str) -> Result<Self, String> {
        let mut stream = connect(url).await?;
        Ok(match library {
            "sockeye" => {
                // No permessage-deflate: the peers do not compress either.
                let config = ClientConfig::new(url)
                    .map_err(|err| err.to_string())?
                    .compression(None);
                let (socket, _) = sockeye::tokio::client_async(stream, &config)
                    .await
                    .map_err(|err| err.to_string())?;
                Self::Sockeye(SockeyeClient(socket))
            }
            "tungstenite" => {
                let (socket, _) = tokio_tungstenite::client_async(url, stream)
                    .await
                    .map_err(|err| err.to_string())?;
                Self::Tungstenite(TungsteniteClient(socket))
            }
            _ => {
                let (host, path) = split_url(url).map_err(|err| err.to_string())?;
                client_handshake(&mut stream, &host, &path)
                    .await
                    .map_err(|err| err.to_string())?;
                let socket = WebSocket::after_handshake(stream, Role::Client);
                Self::Fast(FastClient(FragmentCollector::new(socket)))
            }
        })
    }

    async fn drive(self, plan: &Plan) -> Result<Recorder, String> {
        match self {
            Self::Sockeye(client) => drive(client, plan).await,
            Self::Tungstenite(client) => drive(client, plan).await,
            Self::Fast(client) => drive(client, plan).await,
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("race-client: {err}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = Args::parse(&["--binary"])?;
    let [library, url] = args.positional.as_slice() else {
        return Err("give LIB and URL".into());
    };
    if !["sockeye", "tungstenite", "fastwebsockets"].contains(&library.as_str()) {
        return Err(format!("unknown library {library:?}"));
    }
    let connections: usize = args.value("-c", 1)?;
    let size: usize = args.value("-s", 16)?;
    let window: usize = args.value("-w", 1)?;
    let duration = args.seconds("-d", 3.0)?;
    let warmup = args.seconds("--warmup", 0.5)?;
    let binary = args.switch("--binary");
    if connections == 0 || window == 0 {
        return Err("-c and -w must be at least 1".into());
    }
    if size < sockeye_race::stamp_len(binary) {
        return Err("-s must be at least 8 (binary) or 16 (text) to carry the stamp".into());
    }
    let runtime = runtime(1).map_err(|err| err.to_string())?;
    let recorder = runtime.block_on(async {
        let mut clients: Vec<AnyClient> = Vec::with_capacity(connections);
        for _ in 0..connections {
            clients.push(AnyClient::open(library, url).await?);
        }
        let plan = Plan {
            size,
            window,
            binary,
            start: Instant::now(),
            warmup_ns: warmup.as_nanos() as u64,
            end_ns: (warmup + duration).as_nanos() as u64,
        };
        let runs = clients.into_iter().map(|client| client.drive(&plan));
        let bound = warmup + duration + Duration::from_secs(30);
        let results = tokio::time::timeout(bound, futures_util::future::join_all(runs))
            .await
            .map_err(|_| "the run did not end in time".to_string())?;
        let mut all = Recorder::default();
        for result in results {
            all.merge(&result?);
        }
        Ok::<_, String>(all)
    })?;
    let report = recorder.report(
        duration.as_secs_f64(),
        size,
        serde_json::json!({
            "client": library,
            "url": url,
            "connections": connections,
            "window": window,
            "binary": binary,
            "threads": 1,
            "warmup_s": warmup.as_secs_f64(),
        }),
    );
    println!("{report}");
    Ok(())
}
