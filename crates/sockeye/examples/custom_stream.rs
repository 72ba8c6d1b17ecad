//! The opening handshake over a stream you already have: sockeye does not need to open the
//! connection itself.
//!
//! 1. Blocking, over a `TcpStream` you connected and tuned yourself (any `Read + Write` works:
//!    a Unix socket, a TLS stream, a serial line, a pipe to a child process…).
//! 2. Tokio, over an in-memory `tokio::io::duplex` pipe (any `AsyncRead + AsyncWrite + Unpin`).
//!
//! In both cases the URL of the [`ClientConfig`] gives only the `Host` header and the request
//! target; every other handshake option (headers, subprotocols, mask keys…) applies as usual.
//! Timeouts are the stream's own: set them on the stream (blocking) or wrap the calls in
//! `tokio::time::timeout`.
//!
//! ```sh
//! cargo run -p sockeye --example custom_stream
//! ```

use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use sockeye::{blocking, tokio as ws, ClientConfig, CloseCode, Message};

/// A one-connection echo server on 127.0.0.1 (in a thread), to have something to talk to.
fn echo_server() -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(
        move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            let (stream, _) = listener.accept()?;
            let mut socket = blocking::accept(stream)?;
            while let Ok(message) = socket.read() {
                if let Message::Text(_) | Message::Binary(_) = message {
                    socket.send(message)?;
                }
            }
            Ok(())
        },
    );
    Ok(addr)
}

fn blocking_over_your_tcp_stream() -> Result<(), Box<dyn std::error::Error>> {
    let addr = echo_server()?;
    // Your stream, your socket options.
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;

    let config = ClientConfig::new("ws://echo.internal/chat")?.subprotocol("chat");
    let (mut socket, response) = blocking::client(stream, &config)?;
    // The timeouts set above are the stream's: tell the connection, so that a read that waits
    // too long is reported as `Error::Timeout` instead of an I/O error.
    socket.report_timeouts(Some(Duration::from_secs(5)), Some(Duration::from_secs(5)));
    println!(
        "blocking: {} {} over {addr}",
        response.status, response.reason
    );
    socket.send_text("hello over my own TcpStream")?;
    println!("blocking: echo {:?}", socket.read()?);
    let peer = socket.close(CloseCode::Normal, "done")?;
    println!("blocking: closed, the server answered {peer:?}");
    Ok(())
}

async fn tokio_over_an_in_memory_pipe() -> Result<(), Box<dyn std::error::Error>> {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let mut socket = ws::accept_async(server_end).await?;
        while let Ok(message) = socket.read().await {
            if let Message::Text(_) | Message::Binary(_) = message {
                socket.send(message).await?;
            }
        }
        Ok::<_, sockeye::Error>(())
    });

    let config = ClientConfig::new("ws://in-memory/")?;
    let (mut socket, response) = ws::client_async(client_end, &config).await?;
    println!(
        "tokio: {} {} over a duplex pipe",
        response.status, response.reason
    );
    socket.send_text("hello through memory").await?;
    println!("tokio: echo {:?}", socket.read().await?);
    // Per-operation limits in tokio are `tokio::time::timeout` around the call.
    let peer = tokio::time::timeout(
        Duration::from_secs(5),
        socket.close(CloseCode::Normal, "done"),
    )
    .await??;
    println!("tokio: closed, the server answered {peer:?}");
    let _ = server.await;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    blocking_over_your_tcp_stream()?;
    tokio_over_an_in_memory_pipe().await?;
    Ok(())
}
