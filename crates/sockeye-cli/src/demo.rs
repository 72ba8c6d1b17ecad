//! `sockeye demo`: an embedded echo server and a client that shows the conversation.

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context};
use sockeye::proto::handshake::accept_key;
use sockeye::{blocking, ClientConfig, CloseCode, Message, ServerConfig};

use crate::print;
use crate::serve::echo;

pub(crate) fn run() -> anyhow::Result<ExitCode> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0")?;
    let url = format!("ws://{}/demo", listener.local_addr()?);
    let (server_saw, server_result) = mpsc::channel();
    thread::spawn(move || {
        let outcome = match listener.accept() {
            Ok((stream, _)) => {
                echo(stream, &ServerConfig::default()).map_err(|err| err.to_string())
            }
            Err(err) => Err(format!("accept failed: {err}")),
        };
        let _ = server_saw.send(outcome);
    });

    println!("sockeye demo: an echo server listens on {url}; a client connects to it.\n");
    let config = ClientConfig::new(&url)?
        .header("User-Agent", concat!("sockeye/", env!("CARGO_PKG_VERSION")));
    let (mut socket, response) = blocking::connect_with(config)?;

    println!("── opening handshake ──");
    print!("{}", print::head("> ", &response.request));
    println!(">");
    print!("{}", print::head("< ", &response.head));
    println!("<");
    let key = header_value(&response.request, "sec-websocket-key").unwrap_or_default();
    let accept = response.headers.get("Sec-WebSocket-Accept").unwrap_or("");
    let expected = accept_key(&key);
    if accept != expected {
        bail!("Sec-WebSocket-Accept {accept:?} does not match {expected:?}");
    }
    println!(
        "Sec-WebSocket-Accept checks out: base64(SHA-1(\"{key}\" + \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\")) = {expected}\n"
    );

    println!("── messages ──");
    let outgoing = [
        Message::text("hello, sockeye"),
        Message::text("ünïcødé ✓ and control \u{1b}[1m escaped"),
        Message::binary(vec![0xde, 0xad, 0xbe, 0xef]),
        Message::binary(Vec::new()),
    ];
    for message in &outgoing {
        socket.send(message)?;
        println!("> {}", print::message(message));
        let echoed = socket.read()?;
        println!("< {}", print::message(&echoed));
        if &echoed != message {
            bail!("the echo differs from what was sent");
        }
    }
    socket.ping(b"are you there?")?;
    println!(
        "> {}",
        print::message(&Message::Ping(b"are you there?"[..].into()))
    );
    match socket.read()? {
        pong @ Message::Pong(_) => println!("< {}", print::message(&pong)),
        other => bail!("expected a pong, got {}", print::message(&other)),
    }

    println!("\n── closing handshake ──");
    println!("> close 1000 (normal) \"demo done\"");
    let client_saw = socket.close(CloseCode::Normal, "demo done")?;
    println!("< close {}", print::close(client_saw.as_ref()));
    drop(socket);
    let server_saw = server_result
        .recv_timeout(Duration::from_secs(5))
        .context("the embedded server did not finish")?
        .map_err(|err| anyhow::anyhow!("the embedded server failed: {err}"))?;
    println!("client saw: {}", print::close(client_saw.as_ref()));
    println!("server saw: {}", print::close(server_saw.as_ref()));
    let normal =
        |seen: Option<&sockeye::CloseFrame>| seen.is_some_and(|f| f.code == CloseCode::Normal);
    if !normal(client_saw.as_ref()) || !normal(server_saw.as_ref()) {
        bail!("the close handshake did not end with 1000 on both sides");
    }
    println!("\nBoth sides closed normally. Try `sockeye serve` and `sockeye connect ws://127.0.0.1:9001` next.");
    Ok(ExitCode::SUCCESS)
}

fn header_value(head: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(head)
        .split("\r\n")
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
}
