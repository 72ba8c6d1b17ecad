//! A blocking client: connect with options, exchange messages, close, and explain failures.
//!
//! ```sh
//! cargo run -p sockeye --example client -- ws://127.0.0.1:9001/
//! ```

use std::process::ExitCode;

use sockeye::{blocking, ClientConfig, CloseCode, Message};

fn run(url: &str) -> Result<(), sockeye::Error> {
    let config = ClientConfig::new(url)?
        .origin("http://localhost")
        .subprotocol("chat")
        .header("X-Example", "1");
    let (mut socket, response) = blocking::connect_with(config)?;
    println!(
        "connected: {} {} (subprotocol: {:?})",
        response.status, response.reason, response.subprotocol
    );
    socket.send_text("hello")?;
    socket.send_binary(&[1, 2, 3])?;
    for _ in 0..2 {
        match socket.read()? {
            Message::Text(text) => println!("text: {text}"),
            Message::Binary(data) => println!("binary: {data:?}"),
            other => println!("other: {other:?}"),
        }
    }
    let peer = socket.close(CloseCode::Normal, "done")?;
    println!("closed; the server answered {peer:?}");
    Ok(())
}

fn main() -> ExitCode {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001/".into());
    match run(&url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("failed at the {} stage: {err}", err.stage());
            ExitCode::FAILURE
        }
    }
}
