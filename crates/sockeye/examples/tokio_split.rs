//! A tokio client split into a reader and a writer, one task each, against a tokio `Server`.
//!
//! With no URL it serves an echo on 127.0.0.1 itself, so it runs as is:
//!
//! ```sh
//! cargo run -p sockeye --example tokio_split
//! cargo run -p sockeye --example tokio_split -- ws://127.0.0.1:9001/
//! ```

use std::time::Duration;

use sockeye::tokio::{Peer, Server, ServerHandler};
use sockeye::{CloseCode, Error, Message, ServerConfig};

/// The local server's handler: every message goes back.
struct Echo;

impl ServerHandler for Echo {
    fn on_message(&mut self, peer: &mut Peer<'_>, message: Message) {
        peer.send(message);
    }
}

async fn local_echo_server() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/", listener.local_addr()?);
    tokio::spawn(Server::new(ServerConfig::default()).serve(listener, || Echo));
    Ok(url)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => local_echo_server().await?,
    };
    let (socket, response) = sockeye::tokio::connect_async(&url).await?;
    println!(
        "connected to {url} ({} {})",
        response.status, response.reason
    );
    let (mut reader, mut writer) = socket.split();

    // The writer's task: a few messages, then the close.
    let writing = tokio::spawn(async move {
        for n in 1..=3 {
            writer.send_text(&format!("message {n}")).await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        writer.send_binary(&[0xde, 0xad, 0xbe, 0xef]).await?;
        writer.close(CloseCode::Normal, "done").await?;
        Ok::<_, Error>(())
    });

    // This task reads until the close handshake completes; read() is cancel-safe, so it could
    // sit in a select! with other work.
    loop {
        match reader.read().await {
            Ok(Message::Text(text)) => println!("text: {text}"),
            Ok(Message::Binary(data)) => println!("binary: {:02x?}", data.as_ref()),
            Ok(Message::Close(frame)) => println!("the server answered the close: {frame:?}"),
            Ok(other) => println!("other: {other:?}"),
            Err(Error::ConnectionClosed) => break,
            Err(err) => return Err(err.into()),
        }
    }
    writing.await??;
    println!("closed cleanly");
    Ok(())
}
