//! The App: an event-driven client that keeps itself connected (keepalive, reconnect with
//! backoff), with messages sent from another thread through its handle.
//!
//! With no URL it serves an echo on 127.0.0.1 itself, so it runs as is:
//!
//! ```sh
//! cargo run -p sockeye --example app
//! cargo run -p sockeye --example app -- wss://echo.example/
//! ```

use std::time::Duration;

use sockeye::app::{App, Handler, ReconnectPolicy, Session};
use sockeye::proto::connection::keepalive::KeepaliveConfig;
use sockeye::{ClientConfig, CloseCode, CloseFrame, Error, Message, Response};

/// Prints every event and closes after the fourth message.
struct Printer {
    received: usize,
}

impl Handler for Printer {
    fn on_open(&mut self, session: &mut Session<'_>, response: &Response) {
        println!("open: {} {}", response.status, response.reason);
        session.send(Message::text("hello from on_open"));
        session.send(Message::binary(vec![1, 2, 3]));
    }

    fn on_message(&mut self, session: &mut Session<'_>, message: Message) {
        match &message {
            Message::Text(text) => println!("text: {text}"),
            Message::Binary(data) => println!("binary: {data:?}"),
            other => println!("other: {other:?}"),
        }
        self.received += 1;
        if self.received == 4 {
            session.close(CloseCode::Normal, "enough");
        }
    }

    fn on_pong(
        &mut self,
        _session: &mut Session<'_>,
        _payload: bytes::Bytes,
        rtt: Option<Duration>,
    ) {
        println!("pong after {rtt:?}");
    }

    fn on_error(&mut self, error: &Error) {
        eprintln!("error at the {} stage: {error}", error.stage());
    }

    fn on_reconnect(&mut self, attempt: u32, delay: Duration) {
        println!("reconnecting (attempt {attempt}) in {delay:?}");
    }

    fn on_close(&mut self, peer: Option<&CloseFrame>) {
        println!("closed; the server said {peer:?}");
    }
}

/// A blocking echo server on 127.0.0.1, for running the example without one.
fn local_echo_server() -> std::io::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("ws://{}/", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let Ok(mut socket) = sockeye::blocking::accept(stream) else {
                    return;
                };
                while let Ok(message) = socket.read() {
                    if let Message::Text(_) | Message::Binary(_) = message {
                        if socket.send(&message).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    Ok(url)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => local_echo_server()?,
    };
    let app = App::new(ClientConfig::new(&url)?)
        .keepalive(Some(KeepaliveConfig::new(
            Duration::from_millis(200),
            Duration::from_secs(5),
        )))
        .reconnect(
            ReconnectPolicy::default()
                .delays(Duration::from_millis(100), Duration::from_secs(10))
                .max_attempts(5),
        );
    let handle = app.handle();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        handle.send(Message::text("hello from another thread"));
        handle.send(Message::text("and another"));
    });
    app.run_forever_blocking(Printer { received: 0 })?;
    Ok(())
}
