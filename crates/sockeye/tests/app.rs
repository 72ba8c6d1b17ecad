//! The App against in-process servers: callbacks, reconnect, backoff, keepalive, handles.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sockeye::app::{App, Handler, ReconnectPolicy, Session};
use sockeye::proto::connection::keepalive::KeepaliveConfig;
use sockeye::{tokio as ws, ClientConfig, CloseCode, CloseFrame, Error, Message};
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(20);

/// An echo server. A text message "drop" makes it drop the connection without a close;
/// "bye" makes it close with 1000. Counts the connections it accepted.
async fn server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let Ok(mut socket) = ws::accept_async(stream).await else {
                    return;
                };
                while let Ok(message) = socket.read().await {
                    match message {
                        Message::Text(text) if text == "drop" => return,
                        Message::Text(text) if text == "bye" => {
                            let _ = socket.close(CloseCode::Normal, "bye").await;
                            return;
                        }
                        message @ (Message::Text(_) | Message::Binary(_))
                            if socket.send(&message).await.is_err() =>
                        {
                            return
                        }
                        _ => {}
                    }
                }
            });
        }
    });
    (url, accepted)
}

#[derive(Default, Clone)]
struct Events(Arc<Mutex<Vec<String>>>);

impl Events {
    fn push(&self, event: String) {
        self.0.lock().unwrap().push(event);
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Sends `script` one message per open (the n-th open sends the n-th entry), records events.
struct Scripted {
    events: Events,
    script: Vec<Vec<Message>>,
    opens: usize,
    /// The longest reconnect delay the policy may produce.
    delay_limit: Duration,
}

impl Handler for Scripted {
    fn on_open(&mut self, session: &mut Session<'_>, _response: &sockeye::Response) {
        self.events.push("open".into());
        for message in self.script.get(self.opens).cloned().unwrap_or_default() {
            session.send(message);
        }
        self.opens += 1;
    }
    fn on_message(&mut self, session: &mut Session<'_>, message: Message) {
        match &message {
            Message::Text(text) => self.events.push(format!("text {text}")),
            Message::Binary(data) => self.events.push(format!("binary {data:?}")),
            _ => {}
        }
        if message == Message::text("stop") {
            session.close(CloseCode::Normal, "done");
        }
    }
    fn on_pong(&mut self, _session: &mut Session<'_>, _payload: Bytes, rtt: Option<Duration>) {
        self.events.push(format!("pong rtt={}", rtt.is_some()));
    }
    fn on_error(&mut self, error: &Error) {
        self.events.push(format!("error {}", error.stage()));
    }
    fn on_close(&mut self, peer: Option<&CloseFrame>) {
        self.events
            .push(format!("close {:?}", peer.map(|f| f.code.as_u16())));
    }
    fn on_reconnect(&mut self, attempt: u32, delay: Duration) {
        self.events.push(format!("reconnect {attempt}"));
        assert!(delay <= self.delay_limit, "{delay:?}");
    }
}

fn fast_policy() -> ReconnectPolicy {
    ReconnectPolicy::default().delays(Duration::from_millis(20), Duration::from_millis(100))
}

#[tokio::test]
async fn text_and_binary_callbacks_and_reconnect_after_a_drop() {
    let (url, accepted) = server().await;
    let events = Events::default();
    let handler = Scripted {
        events: events.clone(),
        script: vec![
            vec![
                Message::text("one"),
                Message::binary(vec![1, 2]),
                Message::text("drop"),
            ],
            vec![Message::text("two"), Message::text("stop")],
        ],
        opens: 0,
        delay_limit: Duration::from_millis(100),
    };
    let app = App::new(ClientConfig::new(&url).unwrap()).reconnect(fast_policy());
    tokio::time::timeout(LIMIT, app.run_forever(handler))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    let events = events.all();
    assert_eq!(
        events,
        [
            "open",
            "text one",
            "binary b\"\\x01\\x02\"",
            "error open",
            "close None",
            "reconnect 1",
            "open",
            "text two",
            "text stop",
            "close Some(1000)",
        ],
        "{events:#?}"
    );
}

#[tokio::test]
async fn clean_server_close_ends_the_app_unless_asked_to_reconnect() {
    let (url, accepted) = server().await;
    let events = Events::default();
    let handler = Scripted {
        events: events.clone(),
        script: vec![vec![Message::text("bye")]],
        opens: 0,
        delay_limit: Duration::from_millis(100),
    };
    let app = App::new(ClientConfig::new(&url).unwrap()).reconnect(fast_policy());
    tokio::time::timeout(LIMIT, app.run_forever(handler))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(events.all(), ["open", "close Some(1000)"]);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    let events = Events::default();
    let handler = Scripted {
        events: events.clone(),
        script: vec![vec![Message::text("bye")], vec![Message::text("stop")]],
        opens: 0,
        delay_limit: Duration::from_millis(100),
    };
    let policy = fast_policy().after_clean_close(true);
    let app = App::new(ClientConfig::new(&url).unwrap()).reconnect(policy);
    tokio::time::timeout(LIMIT, app.run_forever(handler))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        events.all(),
        [
            "open",
            "close Some(1000)",
            "reconnect 1",
            "open",
            "text stop",
            "close Some(1000)"
        ]
    );
}

#[tokio::test]
async fn gives_up_after_max_attempts_with_backoff_between_them() {
    // Nothing listens here: every attempt fails at the TCP stage.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    drop(listener);
    let events = Events::default();
    let handler = Scripted {
        events: events.clone(),
        script: vec![],
        opens: 0,
        delay_limit: Duration::from_millis(100),
    };
    let handler = Scripted {
        delay_limit: Duration::from_millis(160),
        ..handler
    };
    let policy = ReconnectPolicy::default()
        .delays(Duration::from_millis(40), Duration::from_secs(30))
        .multiplier(2.0)
        .jitter(0.0)
        .max_attempts(3);
    let started = Instant::now();
    let app = App::new(ClientConfig::new(&url).unwrap()).reconnect(policy);
    let err = tokio::time::timeout(LIMIT, app.run_forever(handler))
        .await
        .unwrap()
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.stage(), sockeye::Stage::Tcp, "{err}");
    // Delays 40 + 80 + 160 ms without jitter.
    assert!(elapsed >= Duration::from_millis(280), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(
        events.all(),
        [
            "error tcp",
            "reconnect 1",
            "error tcp",
            "reconnect 2",
            "error tcp",
            "reconnect 3",
            "error tcp"
        ]
    );
}

#[tokio::test]
async fn keepalive_reports_rtt_and_detects_a_server_that_stops_answering() {
    // A server that completes the handshake, then never reads again.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let socket = ws::accept_async(stream).await.unwrap();
        tokio::time::sleep(LIMIT).await;
        drop(socket);
    });
    let events = Events::default();
    let handler = Scripted {
        events: events.clone(),
        script: vec![],
        opens: 0,
        delay_limit: Duration::from_millis(100),
    };
    let app = App::new(ClientConfig::new(&url).unwrap())
        .keepalive(Some(KeepaliveConfig::new(
            Duration::from_millis(50),
            Duration::from_millis(150),
        )))
        .reconnect(ReconnectPolicy::never());
    let err = tokio::time::timeout(LIMIT, app.run_forever(handler))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Protocol(sockeye::ProtocolError::PingTimeout { .. })
        ),
        "{err}"
    );
    assert_eq!(events.all(), ["open", "error open", "close None"]);

    // Against a server that answers, pongs arrive with a round-trip time.
    let (url, _) = server().await;
    let events = Events::default();
    struct StopAfterPong(Events);
    impl Handler for StopAfterPong {
        fn on_pong(&mut self, session: &mut Session<'_>, _payload: Bytes, rtt: Option<Duration>) {
            self.0.push(format!("pong rtt={}", rtt.is_some()));
            session.close(CloseCode::Normal, "");
        }
    }
    let app = App::new(ClientConfig::new(&url).unwrap()).keepalive(Some(KeepaliveConfig::new(
        Duration::from_millis(30),
        Duration::from_secs(5),
    )));
    tokio::time::timeout(LIMIT, app.run_forever(StopAfterPong(events.clone())))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(events.all(), ["pong rtt=true"]);
}

#[test]
fn blocking_run_forever_with_sends_from_another_thread() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (url, _) = runtime.block_on(server());
    let events = Events::default();
    let handler = Scripted {
        events: events.clone(),
        script: vec![],
        opens: 0,
        delay_limit: Duration::from_millis(100),
    };
    let app = App::new(ClientConfig::new(&url).unwrap());
    let handle = app.handle();
    let sender = std::thread::spawn(move || {
        assert!(handle.send(Message::text("from a thread")));
        assert!(handle.send(Message::binary(vec![9])));
        assert!(handle.send(Message::text("stop")));
    });
    app.run_forever_blocking(handler).unwrap();
    sender.join().unwrap();
    assert_eq!(
        events.all(),
        [
            "open",
            "text from a thread",
            "binary b\"\\t\"",
            "text stop",
            "close Some(1000)"
        ]
    );
}
