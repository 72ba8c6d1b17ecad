//! `sockeye bench URL`: an echo load generator on sockeye's tokio client.
//!
//! Each connection keeps up to `--window` messages in flight. Messages are queued
//! ([`WebSocketStream::queue`]) and go out together: `read` writes everything queued before it
//! waits for input, so one write carries a whole window and one read usually returns many
//! replies. Each message carries its send time (nanoseconds since the run began: 8 bytes
//! little-endian in binary messages, 16 hex digits in text), so the round trip is measured from
//! the reply itself; messages too small for that are timed by their order instead (echoes come
//! back in order on one connection).
//!
//! A reply counts when it arrives after the warm-up and before the end of the run; round-trip
//! times go into a log-bucketed histogram (see [`crate::histogram`]), one per connection,
//! merged at the end.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::pin::pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use sockeye::tokio::WebSocketStream;
use sockeye::transport::AsyncStream;
use sockeye::{ClientConfig, CloseCode, Message, Utf8Bytes};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::sleep_until;

use crate::exit::{EXIT_ABNORMAL_CLOSE, EXIT_CONNECT_FAILED};
use crate::histogram::Histogram;
use crate::print;

/// Handshakes run at most this many at a time, so a large `-c` does not overflow the server's
/// accept backlog.
const CONNECT_CONCURRENCY: usize = 64;
/// How long each connection's close handshake may take at the end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the progress line is redrawn.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  sockeye bench ws://127.0.0.1:9001/ -c 100 -s 1k -w 64 -d 5
  sockeye bench ws://127.0.0.1:9001/ -w 1 -n 100000 --json    (latency: one message at a time)
  sockeye bench ws://127.0.0.1:9001/ -c 10 --rate 5000 -d 30    (5000 msg/s in all)

Output: messages echoed per second, payload MB/s (10^6 bytes, each way), and round-trip latency
p50/p90/p99/max. Only replies that arrive after --warmup and before the end count. Latency is
measured from when a message was queued, so with --rate a server that falls behind shows it.
Exit status: 0, 3 if a connection could not be opened, 4 if one failed during the run.")]
pub(crate) struct BenchArgs {
    /// The ws:// or wss:// URL of an echo server.
    pub(crate) url: String,
    /// Connections, each with its own window of messages.
    #[arg(short = 'c', long, default_value_t = 1, value_name = "N")]
    pub(crate) connections: usize,
    /// Message size in bytes (suffixes k and m: 1k = 1024).
    #[arg(short = 's', long, default_value = "16", value_parser = parse_size, value_name = "BYTES")]
    pub(crate) size: usize,
    /// Messages in flight per connection (1 measures latency; more pipelines).
    #[arg(short = 'w', long, default_value_t = 1, value_name = "N")]
    pub(crate) window: usize,
    /// Seconds to measure (after --warmup).
    #[arg(
        short = 'd',
        long,
        default_value_t = 10.0,
        value_name = "SECONDS",
        conflicts_with = "count"
    )]
    pub(crate) duration: f64,
    /// Stop after this many replies in all (after --warmup) instead of after --duration.
    #[arg(short = 'n', long, value_name = "N")]
    pub(crate) count: Option<u64>,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    pub(crate) warmup: f64,
    /// Send binary messages (default: text).
    #[arg(long)]
    pub(crate) binary: bool,
    /// Offer permessage-deflate (RFC 7692), as `sockeye connect` does. Off by default here, so
    /// that the benchmark measures the WebSocket framing rather than zlib, and compares fairly
    /// with servers that do not compress.
    #[arg(long)]
    pub(crate) deflate: bool,
    /// Do not offer permessage-deflate: the default here, so that the benchmark measures the raw
    /// framing; accepted so that `connect`, `probe` and `bench` take the same flag.
    #[arg(long = "no-compression", conflicts_with = "deflate")]
    pub(crate) no_compression: bool,
    /// At most this many messages per second, over all connections (default: as fast as the
    /// window allows).
    #[arg(long, value_name = "MSGS_PER_SEC")]
    pub(crate) rate: Option<f64>,
    /// Runtime threads: 1 is tokio's current-thread runtime, more a multi-thread one.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub(crate) threads: usize,
    /// Print the results as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
    /// No progress line (it is off anyway when stderr is not a terminal).
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// Seconds allowed for each connection's TCP connect and handshake.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub(crate) connect_timeout: f64,
}

/// `16`, `1k`, `64K`, `1m`, `1KiB`.
fn parse_size(text: &str) -> Result<usize, String> {
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix("ib").unwrap_or(&lower);
    let lower = lower.strip_suffix('b').unwrap_or(lower);
    let (digits, unit) = match lower.as_bytes().last() {
        Some(b'k') => (&lower[..lower.len() - 1], 1024),
        Some(b'm') => (&lower[..lower.len() - 1], 1024 * 1024),
        _ => (lower, 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| {
            format!("{text:?} is not a size: use bytes, or a number with k or m (1k = 1024)")
        })
}

/// Everything a connection's driver needs to know, fixed for the run.
#[derive(Debug)]
struct Plan {
    size: usize,
    window: usize,
    binary: bool,
    /// Replies before this (ns since the start) are warm-up and do not count.
    warmup_ns: u64,
    /// The run ends here (ns since the start), in duration mode.
    end_ns: Option<u64>,
    /// Nanoseconds between two messages of one connection, with --rate.
    interval_ns: Option<u64>,
}

/// The send times of messages in flight, when the payload is too small to carry them.
#[derive(Debug, Default)]
struct Stamps {
    in_order: VecDeque<u64>,
}

/// What one connection measured.
#[derive(Debug)]
struct Outcome {
    histogram: Histogram,
    messages: u64,
    /// When the last counted reply arrived (ns since the start).
    last_ns: u64,
    error: Option<String>,
}

/// The payload being built: the stamp goes in front, filler after it.
struct Payload {
    buffer: bytes::BytesMut,
    template: Vec<u8>,
    binary: bool,
}

impl Payload {
    fn new(size: usize, binary: bool) -> Self {
        let template = if binary {
            (0..size).map(|i| (i % 251) as u8).collect()
        } else {
            vec![b'x'; size]
        };
        Self {
            buffer: bytes::BytesMut::with_capacity(size),
            template,
            binary,
        }
    }

    /// Bytes a stamp takes in this kind of payload.
    fn stamp_len(binary: bool) -> usize {
        if binary {
            8
        } else {
            16
        }
    }

    /// A message stamped with `now_ns` (when it fits). The buffer is reused once the previous
    /// message is dropped, so steady state allocates nothing.
    fn message(&mut self, now_ns: u64) -> Message {
        self.buffer.reserve(self.template.len());
        self.buffer.extend_from_slice(&self.template);
        if self.template.len() >= Self::stamp_len(self.binary) {
            if self.binary {
                self.buffer[..8].copy_from_slice(&now_ns.to_le_bytes());
            } else {
                for (i, digit) in self.buffer[..16].iter_mut().enumerate() {
                    *digit = b"0123456789abcdef"[(now_ns >> (60 - 4 * i)) as usize & 0xf];
                }
            }
        }
        let bytes = self.buffer.split().freeze();
        if self.binary {
            Message::Binary(bytes)
        } else {
            // Hex digits and 'x': always UTF-8.
            Message::Text(Utf8Bytes::try_from_bytes(bytes).unwrap_or_default())
        }
    }
}

/// The send time a reply carries, checking it is the echo of one of ours.
fn reply_stamp(message: &Message, plan: &Plan, stamps: &mut Stamps) -> Result<u64, String> {
    let payload = match (message, plan.binary) {
        (Message::Binary(payload), true) => &payload[..],
        (Message::Text(text), false) => text.as_bytes(),
        (Message::Text(_), true) => return Err("the server answered binary with text".into()),
        (Message::Binary(_), false) => return Err("the server answered text with binary".into()),
        (Message::Close(frame), _) => {
            return Err(format!(
                "the server closed the connection: {}",
                crate::print::close(frame.as_ref())
            ))
        }
        (other, _) => return Err(format!("unexpected message from the server: {other:?}")),
    };
    if payload.len() != plan.size {
        return Err(format!(
            "the server answered a {}-byte message with {} bytes: not an echo server?",
            plan.size,
            payload.len()
        ));
    }
    if plan.size < Payload::stamp_len(plan.binary) {
        return stamps
            .in_order
            .pop_front()
            .ok_or_else(|| "a reply to a message never sent".to_string());
    }
    let stamp = if plan.binary {
        let mut word = [0; 8];
        word.copy_from_slice(&payload[..8]);
        Some(u64::from_le_bytes(word))
    } else {
        std::str::from_utf8(&payload[..16])
            .ok()
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
    };
    stamp.ok_or_else(|| "a reply that is not one of the messages sent: not an echo server?".into())
}

/// Runs one connection until the end of the run, its share of `--count`, or an error.
async fn drive(
    mut socket: WebSocketStream<AsyncStream>,
    plan: Arc<Plan>,
    quota: Option<u64>,
    start: Instant,
    first_due_ns: u64,
    progress: Arc<AtomicU64>,
) -> Outcome {
    let mut outcome = Outcome {
        histogram: Histogram::new(),
        messages: 0,
        last_ns: 0,
        error: None,
    };
    if let Err(err) = exchange(
        &mut socket,
        &plan,
        quota,
        start,
        first_due_ns,
        &progress,
        &mut outcome,
    )
    .await
    {
        outcome.error = Some(err);
        return outcome;
    }
    // Replies still in flight are discarded by the close handshake. Best effort: the load is
    // what was measured.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.close(CloseCode::Normal, "")).await;
    outcome
}

async fn exchange(
    socket: &mut WebSocketStream<AsyncStream>,
    plan: &Plan,
    quota: Option<u64>,
    start: Instant,
    first_due_ns: u64,
    progress: &AtomicU64,
    outcome: &mut Outcome,
) -> Result<(), String> {
    let clock = |now: Instant| now.saturating_duration_since(start).as_nanos() as u64;
    let at = |ns: u64| tokio::time::Instant::from_std(start + Duration::from_nanos(ns));
    let mut payload = Payload::new(plan.size, plan.binary);
    let mut stamps = Stamps::default();
    let mut in_flight = 0usize;
    let mut next_due_ns = first_due_ns;
    let mut end = pin!(sleep_until(at(plan.end_ns.unwrap_or(u64::MAX / 4))));
    let mut pace = pin!(sleep_until(at(next_due_ns)));
    let quota = quota.unwrap_or(u64::MAX);
    loop {
        // Top the window up; everything queued goes out in one write when `read` next waits.
        let now_ns = clock(Instant::now());
        let measuring = now_ns >= plan.warmup_ns;
        // Every message of one top-up carries the same stamp, so one message is built and
        // queued as many times as the window has room (the connection copies it each time).
        let mut message = None;
        while in_flight < plan.window {
            if measuring && outcome.messages + in_flight as u64 >= quota {
                break;
            }
            if let Some(interval) = plan.interval_ns {
                if next_due_ns > now_ns {
                    break;
                }
                // Behind by more than a second (a slow server): do not try to catch up in a burst.
                next_due_ns = next_due_ns.max(now_ns.saturating_sub(1_000_000_000)) + interval;
            }
            let message = message.get_or_insert_with(|| payload.message(now_ns));
            socket.queue(&*message).map_err(|err| err.to_string())?;
            if plan.size < Payload::stamp_len(plan.binary) {
                stamps.in_order.push_back(now_ns);
            }
            in_flight += 1;
        }
        if outcome.messages >= quota {
            return Ok(());
        }
        if plan.interval_ns.is_some() {
            pace.as_mut().reset(at(next_due_ns));
        }
        let pacing = plan.interval_ns.is_some() && in_flight < plan.window;
        // Wait for the first reply of a batch (or the end, or the next message due)...
        let first = tokio::select! {
            biased;
            () = &mut end, if plan.end_ns.is_some() => return Ok(()),
            () = &mut pace, if pacing => continue,
            read = socket.read(), if in_flight > 0 => read,
            else => return Ok(()),
        };
        // ...then take every reply that the same read brought, all stamped with its time.
        let now_ns = clock(Instant::now());
        let counts = now_ns >= plan.warmup_ns && plan.end_ns.is_none_or(|end| now_ns < end);
        let mut batch = 0u64;
        let mut next = Some(first);
        while let Some(read) = next.take() {
            let message = read.map_err(|err| err.to_string())?;
            if matches!(message, Message::Ping(_) | Message::Pong(_)) {
                // Answered by the connection itself.
            } else {
                let sent_ns = reply_stamp(&message, plan, &mut stamps)?;
                in_flight = in_flight.saturating_sub(1);
                if counts && outcome.messages + batch < quota {
                    outcome.histogram.record(now_ns.saturating_sub(sent_ns));
                    batch += 1;
                }
            }
            if socket.connection().has_buffered_frame() {
                next = Some(socket.read().await);
            }
        }
        if batch > 0 {
            outcome.messages += batch;
            outcome.last_ns = now_ns;
            progress.fetch_add(batch, Ordering::Relaxed);
        }
    }
}

/// `sockeye bench`.
pub(crate) fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let seconds = |value: f64, flag: &str| -> anyhow::Result<Duration> {
        if !(value.is_finite() && value >= 0.0) {
            bail!("{flag} must be a number of seconds, not {value}");
        }
        Ok(Duration::from_secs_f64(value))
    };
    if args.connections == 0 || args.window == 0 || args.threads == 0 {
        bail!("--connections, --window and --threads must be at least 1");
    }
    let duration = seconds(args.duration, "--duration")?;
    let warmup = seconds(args.warmup, "--warmup")?;
    let connect_timeout = seconds(args.connect_timeout, "--connect-timeout")?;
    if let Some(rate) = args.rate {
        if !(rate.is_finite() && rate > 0.0) {
            bail!("--rate must be a positive number of messages per second, not {rate}");
        }
    }
    let mut config = ClientConfig::new(&args.url)?
        .connect_timeout(Some(connect_timeout))
        .handshake_timeout(Some(connect_timeout));
    if !args.deflate || args.no_compression {
        config = config.compression(None);
    }
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .context("cannot start the tokio runtime")?;
    runtime.block_on(bench(args, config, duration, warmup))
}

async fn bench(
    args: &BenchArgs,
    config: ClientConfig,
    duration: Duration,
    warmup: Duration,
) -> anyhow::Result<ExitCode> {
    let opened = open_all(&config, args.connections).await;
    let sockets = match opened {
        Ok(sockets) => sockets,
        Err(err) => {
            note!(
                "sockeye bench: cannot connect ({} stage): {}",
                err.stage(),
                print::in_flags(&err.to_string())
            );
            return Ok(ExitCode::from(EXIT_CONNECT_FAILED));
        }
    };
    let warmup_ns = warmup.as_nanos() as u64;
    let end_ns = args
        .count
        .is_none()
        .then(|| warmup_ns + duration.as_nanos() as u64);
    let per_connection_ns = args
        .rate
        .map(|rate| ((args.connections as f64 / rate) * 1e9).max(1.0) as u64);
    let plan = Arc::new(Plan {
        size: args.size,
        window: args.window,
        binary: args.binary,
        warmup_ns,
        end_ns,
        interval_ns: per_connection_ns,
    });
    let compressed = sockets
        .iter()
        .filter(|socket| socket.connection().deflate().is_some())
        .count();
    let progress = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (index, socket) in sockets.into_iter().enumerate() {
        let quota = args.count.map(|count| {
            let connections = args.connections as u64;
            count / connections + u64::from((index as u64) < count % connections)
        });
        // With --rate, connections take turns rather than all sending at once.
        let first_due_ns = per_connection_ns.map_or(0, |interval| {
            interval * index as u64 / args.connections as u64
        });
        tasks.spawn(drive(
            socket,
            plan.clone(),
            quota,
            start,
            first_due_ns,
            progress.clone(),
        ));
    }
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let mut outcomes = Vec::with_capacity(args.connections);
    let mut ticker = tokio::time::interval(PROGRESS_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last = (Instant::now(), 0);
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(joined) => outcomes.push(joined.context("a connection's task panicked")?),
                None => break,
            },
            _ = ticker.tick(), if show_progress => {
                last = draw_progress(&plan, start, &progress, last);
            }
        }
    }
    if show_progress {
        eprint!("\r{:79}\r", "");
    }
    let mut report = Report::new(&plan, outcomes);
    report.compressed = compressed;
    let text = if args.json {
        format!("{}\n", report.json(args))
    } else {
        report.text(args)
    };
    // A reader that stops early (`| head -1`) is not an error: the run is done.
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if err.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(err).context("cannot write the report");
        }
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ABNORMAL_CLOSE)
    })
}

/// Opens every connection, at most [`CONNECT_CONCURRENCY`] handshakes at a time.
async fn open_all(
    config: &ClientConfig,
    connections: usize,
) -> Result<Vec<WebSocketStream<AsyncStream>>, sockeye::Error> {
    let limit = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut opening = JoinSet::new();
    for _ in 0..connections {
        let config = config.clone();
        let limit = limit.clone();
        opening.spawn(async move {
            let _permit = limit.acquire_owned().await;
            sockeye::tokio::connect_async_with(config).await
        });
    }
    let mut sockets = Vec::with_capacity(connections);
    while let Some(opened) = opening.join_next().await {
        match opened {
            Ok(Ok((socket, _response))) => sockets.push(socket),
            Ok(Err(err)) => return Err(err),
            Err(panic) => std::panic::resume_unwind(panic.into_panic()),
        }
    }
    Ok(sockets)
}

fn draw_progress(
    plan: &Plan,
    start: Instant,
    progress: &AtomicU64,
    (last_at, last_count): (Instant, u64),
) -> (Instant, u64) {
    let now = Instant::now();
    let count = progress.load(Ordering::Relaxed);
    let elapsed = now.duration_since(start).as_secs_f64();
    let rate = (count - last_count) as f64 / now.duration_since(last_at).as_secs_f64().max(1e-9);
    let phase = if (elapsed * 1e9) < plan.warmup_ns as f64 {
        "warm-up"
    } else {
        "measuring"
    };
    let total = plan
        .end_ns
        .map_or(String::new(), |end| format!("/{:.1}", end as f64 / 1e9));
    eprint!(
        "\r{phase:>9} {elapsed:5.1}{total} s  {} msgs  {} msg/s   ",
        thousands(count),
        thousands(rate as u64)
    );
    let _ = std::io::stderr().flush();
    (now, count)
}

/// The merged results of every connection.
struct Report {
    histogram: Histogram,
    messages: u64,
    seconds: f64,
    errors: Vec<String>,
    /// Connections on which permessage-deflate was agreed.
    compressed: usize,
}

impl Report {
    fn new(plan: &Plan, outcomes: Vec<Outcome>) -> Self {
        let mut histogram = Histogram::new();
        let mut last_ns = 0;
        let mut errors = Vec::new();
        for outcome in outcomes {
            histogram.merge(&outcome.histogram);
            last_ns = last_ns.max(outcome.last_ns);
            errors.extend(outcome.error);
        }
        let measured_ns = match plan.end_ns {
            Some(end) => end - plan.warmup_ns,
            None => last_ns.saturating_sub(plan.warmup_ns),
        };
        Self {
            messages: histogram.count(),
            histogram,
            seconds: measured_ns as f64 / 1e9,
            errors,
            compressed: 0,
        }
    }

    fn per_second(&self, value: f64) -> f64 {
        if self.seconds > 0.0 {
            value / self.seconds
        } else {
            0.0
        }
    }

    fn micros(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1e3
    }

    fn json(&self, args: &BenchArgs) -> serde_json::Value {
        let bytes = self.messages * args.size as u64;
        serde_json::json!({
            "url": args.url,
            "connections": args.connections,
            "size": args.size,
            "window": args.window,
            "binary": args.binary,
            "compressed_connections": self.compressed,
            "threads": args.threads,
            "rate": args.rate,
            "warmup_s": args.warmup,
            "duration_s": self.seconds,
            "messages": self.messages,
            "bytes": bytes,
            "msgs_per_sec": self.per_second(self.messages as f64),
            "mb_per_sec": self.per_second(bytes as f64) / 1e6,
            "latency_us": {
                "min": self.histogram.min() as f64 / 1e3,
                "mean": self.histogram.mean() / 1e3,
                "p50": self.micros(0.50),
                "p90": self.micros(0.90),
                "p99": self.micros(0.99),
                "p999": self.micros(0.999),
                "max": self.histogram.max() as f64 / 1e3,
            },
            "errors": self.errors,
        })
    }

    /// The human report.
    fn text(&self, args: &BenchArgs) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let kind = if args.binary { "binary" } else { "text" };
        let threads = if args.threads == 1 {
            "1 thread".to_string()
        } else {
            format!("{} threads", args.threads)
        };
        let _ = writeln!(
            out,
            "{}: {} connection{}, {} B {kind} messages, window {}, {threads}",
            args.url,
            args.connections,
            if args.connections == 1 { "" } else { "s" },
            args.size,
            args.window,
        );
        if self.compressed > 0 {
            let _ = writeln!(
                out,
                "  permessage-deflate on {} of {} connections",
                self.compressed, args.connections
            );
        }
        let bytes = self.messages as f64 * args.size as f64;
        let _ = writeln!(
            out,
            "  messages    {} in {:.2} s: {} msg/s, {:.2} MB/s each way",
            thousands(self.messages),
            self.seconds,
            thousands(self.per_second(self.messages as f64) as u64),
            self.per_second(bytes) / 1e6
        );
        let _ = writeln!(
            out,
            "  round trip  p50 {}  p90 {}  p99 {}  max {}  (mean {})",
            human_ns(self.histogram.value_at_quantile(0.50) as f64),
            human_ns(self.histogram.value_at_quantile(0.90) as f64),
            human_ns(self.histogram.value_at_quantile(0.99) as f64),
            human_ns(self.histogram.max() as f64),
            human_ns(self.histogram.mean()),
        );
        if !self.errors.is_empty() {
            let _ = writeln!(
                out,
                "  {} of {} connections failed; first: {}",
                self.errors.len(),
                args.connections,
                self.errors[0]
            );
        }
        out
    }
}

/// 1234567 as "1,234,567".
fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Nanoseconds as "850 ns", "12.3 µs", "4.56 ms" or "1.20 s".
fn human_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_k_and_m_suffixes() {
        assert_eq!(parse_size("16"), Ok(16));
        assert_eq!(parse_size("1k"), Ok(1024));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("2m"), Ok(2 << 20));
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn replies_carry_their_send_time() {
        for binary in [false, true] {
            let plan = Plan {
                size: 32,
                window: 1,
                binary,
                warmup_ns: 0,
                end_ns: None,
                interval_ns: None,
            };
            let mut payload = Payload::new(plan.size, binary);
            let mut stamps = Stamps::default();
            for stamp in [0, 1, 123_456_789_012, u64::MAX] {
                let message = payload.message(stamp);
                assert_eq!(reply_stamp(&message, &plan, &mut stamps), Ok(stamp));
            }
            let wrong = Message::binary(vec![0; 31]);
            assert!(reply_stamp(&wrong, &plan, &mut stamps).is_err());
        }
    }

    #[test]
    fn small_messages_are_timed_by_order() {
        let plan = Plan {
            size: 4,
            window: 2,
            binary: true,
            warmup_ns: 0,
            end_ns: None,
            interval_ns: None,
        };
        let mut payload = Payload::new(plan.size, true);
        let mut stamps = Stamps::default();
        stamps.in_order.extend([5, 9]);
        let message = payload.message(0);
        assert_eq!(reply_stamp(&message, &plan, &mut stamps), Ok(5));
        assert_eq!(reply_stamp(&message, &plan, &mut stamps), Ok(9));
        assert!(reply_stamp(&message, &plan, &mut stamps).is_err());
    }

    #[test]
    fn numbers_print_for_people() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(human_ns(850.0), "850 ns");
        assert_eq!(human_ns(12_345.0), "12.3 µs");
    }
}
