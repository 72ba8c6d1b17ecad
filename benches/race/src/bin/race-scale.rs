//! `race-scale URL --pid PID [-c N] [--settle S] [--compression]`: opens N connections to the echo server at
//! URL (process PID) and reports the server's resident memory per connection.
//!
//! Three readings of the server's `VmRSS` (from `/proc/PID/status`), each after a settle time:
//! idle (every handshake done, nothing sent), after one 16-byte echo on every connection, and
//! after one 64 KiB echo on every connection (the buffers a connection keeps after traffic).
//! Connections are opened 64 handshakes at a time with sockeye's tokio client on a current-thread
//! runtime; they are all closed at the end. Prints one JSON object. With `--compression` the
//! client offers permessage-deflate (the default offer), for servers that accept it.
//!
//! The client needs N file descriptors, and the server as many: raise `ulimit -n` first
//! (`benches/race/scale.sh` does).

use std::process::ExitCode;
use std::time::Duration;

use futures_util::StreamExt;
use sockeye::tokio::WebSocketStream;
use sockeye::transport::AsyncStream;
use sockeye::{ClientConfig, CloseCode, Message};
use sockeye_race::{rss_kib, runtime, Args};

const USAGE: &str =
    "usage: race-scale URL --pid PID [-c CONNECTIONS] [--settle SECONDS] [--compression]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("race-scale: {err}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = Args::parse(&["--compression"])?;
    let [url] = args.positional.as_slice() else {
        return Err("give the server's URL".into());
    };
    let pid: u32 = args.value("--pid", 0)?;
    if pid == 0 {
        return Err("give the server's --pid".into());
    }
    let connections: usize = args.value("-c", 10_000)?;
    let settle = args.seconds("--settle", 1.0)?;
    // No permessage-deflate unless asked: the servers compared do not all support it.
    let compression = args.switch("--compression");
    let mut config = ClientConfig::new(url).map_err(|err| err.to_string())?;
    if !compression {
        config = config.compression(None);
    }
    let rss = || rss_kib(pid).map_err(|err| format!("cannot read the server's memory: {err}"));
    let runtime = runtime(1).map_err(|err| err.to_string())?;
    let report = runtime.block_on(async {
        tokio::time::sleep(settle).await;
        let before = rss()?;
        let started = std::time::Instant::now();
        let mut sockets: Vec<WebSocketStream<AsyncStream>> =
            futures_util::stream::iter(0..connections)
                .map(|_| {
                    let config = config.clone();
                    async move { sockeye::tokio::connect_async_with(config).await }
                })
                .buffer_unordered(64)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .map(|opened| opened.map(|(socket, _)| socket))
                .collect::<Result<_, _>>()
                .map_err(|err| format!("a connection failed: {err}"))?;
        let connect_seconds = started.elapsed().as_secs_f64();
        tokio::time::sleep(settle).await;
        let idle = rss()?;
        echo_on_all(&mut sockets, 16).await?;
        tokio::time::sleep(settle).await;
        let after_small = rss()?;
        echo_on_all(&mut sockets, 64 * 1024).await?;
        tokio::time::sleep(settle).await;
        let after_large = rss()?;
        // Close them all, 256 close handshakes at a time, each bounded.
        futures_util::stream::iter(sockets.iter_mut())
            .for_each_concurrent(256, |socket| async move {
                let close = socket.close(CloseCode::Normal, "");
                let _ = tokio::time::timeout(Duration::from_secs(5), close).await;
            })
            .await;
        let per = |kib: u64| (kib.saturating_sub(before) * 1024) as f64 / connections as f64;
        Ok::<_, String>(serde_json::json!({
            "url": url,
            "connections": connections,
            "compression": compression,
            "connect_s": connect_seconds,
            "rss_kib": {
                "before": before,
                "idle": idle,
                "after_16b_echo": after_small,
                "after_64kib_echo": after_large,
            },
            "bytes_per_connection": {
                "idle": per(idle),
                "after_16b_echo": per(after_small),
                "after_64kib_echo": per(after_large),
            },
        }))
    })?;
    println!("{report}");
    Ok(())
}

/// One binary message of `size` bytes on every connection, 256 at a time, each within 10 s.
async fn echo_on_all(
    sockets: &mut [WebSocketStream<AsyncStream>],
    size: usize,
) -> Result<(), String> {
    let payload = bytes::Bytes::from(vec![7u8; size]);
    let failures = futures_util::stream::iter(sockets.iter_mut())
        .map(|socket| {
            let message = Message::Binary(payload.clone());
            async move {
                let echoed = async {
                    socket.send(&message).await?;
                    socket.read().await
                };
                match tokio::time::timeout(Duration::from_secs(10), echoed).await {
                    Ok(Ok(reply)) if reply == message => None,
                    Ok(Ok(other)) => Some(format!("not an echo: {other:?}")),
                    Ok(Err(err)) => Some(err.to_string()),
                    Err(_) => Some("no echo within 10 s".to_string()),
                }
            }
        })
        .buffer_unordered(256)
        .filter_map(std::future::ready)
        .collect::<Vec<_>>()
        .await;
    match failures.first() {
        None => Ok(()),
        Some(first) => Err(format!("{} echoes failed; first: {first}", failures.len())),
    }
}
