//! Echo servers for the Autobahn|Testsuite (wstest `fuzzingclient` mode), one for each server
//! front-end other than the tokio `Server` (which `sockeye serve` runs):
//!
//! - `blocking`: [`blocking::accept_with`] on a `std::net::TcpListener`, a thread per connection;
//! - `tokio`: [`accept_async_with`] on a tokio listener, a task per connection;
//! - `hyper`: hyper's HTTP/1 server, each request upgraded with [`upgrade`].
//!
//! Every text and binary message goes back as it came. The options are `sockeye serve`'s:
//! [`ServerConfig::default`], so permessage-deflate is accepted and keepalive runs.
//! `conformance/run.sh` starts this, reads the port from the first line on stdout
//! (`listening on ws://ADDR`, as `sockeye serve` prints it) and stops it with SIGTERM.
//!
//! ```sh
//! cargo run --release -p sockeye --features hyper --example autobahn_server -- hyper 127.0.0.1:0
//! ```

use std::convert::Infallible;
use std::io::Write;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sockeye::tokio::hyper::upgrade;
use sockeye::tokio::{accept_async_with, WebSocketStream};
use sockeye::{blocking, Accept, Message, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite};

/// Accepts connections until the process is stopped, a thread per connection.
fn serve_blocking(listener: TcpListener, config: ServerConfig) -> std::io::Result<()> {
    for stream in listener.incoming() {
        let stream = stream?;
        let config = config.clone();
        thread::spawn(move || {
            // A blocking server bounds the handshake with the socket's own timeouts.
            stream.set_read_timeout(config.handshake_timeout)?;
            stream.set_write_timeout(config.handshake_timeout)?;
            let accepted = blocking::accept_with(stream, &config, |_| Ok(Accept::default()));
            let Ok((mut socket, _request)) = accepted else {
                return Ok(());
            };
            // Once open, keepalive decides how long a read waits; a write may take its time.
            socket.get_ref().set_write_timeout(None)?;
            socket.set_keepalive(config.keepalive.clone());
            while let Ok(message) = socket.read() {
                // Pings are answered and the close echoed by the connection itself.
                if let Message::Text(_) | Message::Binary(_) = message {
                    if socket.send(&message).is_err() {
                        break;
                    }
                }
            }
            std::io::Result::Ok(())
        });
    }
    Ok(())
}

/// Echoes one connection of either async front-end until it ends.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut socket: WebSocketStream<S>) {
    while let Ok(message) = socket.read().await {
        if let Message::Text(_) | Message::Binary(_) = message {
            if socket.send(message).await.is_err() {
                break;
            }
        }
    }
}

async fn serve_tokio(listener: TcpListener, config: ServerConfig) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    loop {
        let (stream, _peer) = listener.accept().await?;
        let config = config.clone();
        tokio::spawn(async move {
            let accepted = accept_async_with(stream, &config, |_| Ok(Accept::default())).await;
            if let Ok((socket, _request)) = accepted {
                echo(socket).await;
            }
        });
    }
}

async fn serve_hyper(listener: TcpListener, config: ServerConfig) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let config = Arc::new(config);
    loop {
        let (stream, _peer) = listener.accept().await?;
        let config = config.clone();
        let service = service_fn(move |mut request| {
            // The 101 (or the refusal) goes back through hyper; the connection comes after it.
            let (response, upgrade) = upgrade(&mut request, &config, |_| Ok(Accept::default()));
            if let Some(upgrade) = upgrade {
                tokio::spawn(async move {
                    if let Ok(socket) = upgrade.into_websocket().await {
                        echo(socket).await;
                    }
                });
            }
            async move { Ok::<_, Infallible>(response) }
        });
        let connection = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::spawn(connection);
    }
}

fn run(front_end: &str, addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(front_end != "blocking")?;
    println!("listening on ws://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let config = ServerConfig::default();
    if front_end == "blocking" {
        return serve_blocking(listener, config);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match front_end {
        "tokio" => runtime.block_on(serve_tokio(listener, config)),
        _ => runtime.block_on(serve_hyper(listener, config)),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (front_end, addr) = match args.as_slice() {
        [front_end] => (front_end.as_str(), "127.0.0.1:9001"),
        [front_end, addr] => (front_end.as_str(), addr.as_str()),
        _ => ("", ""),
    };
    if !matches!(front_end, "blocking" | "tokio" | "hyper") {
        eprintln!("usage: autobahn_server blocking|tokio|hyper [ADDR]   (default 127.0.0.1:9001)");
        return ExitCode::from(2);
    }
    match run(front_end, addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("autobahn_server: {err}");
            ExitCode::FAILURE
        }
    }
}
