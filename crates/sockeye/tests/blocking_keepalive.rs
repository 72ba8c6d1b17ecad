//! Keepalive in the blocking front-end: pings on silence, RTT, ping timeout, read timeout kept.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::time::{Duration, Instant};

use sockeye::proto::connection::keepalive::KeepaliveConfig;
use sockeye::{blocking, CloseCode, Error, Message, ProtocolError};

/// A blocking server on its own thread: `answer` false means it accepts and then never reads.
fn server(answer: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut socket = blocking::accept(stream).unwrap();
        if !answer {
            std::thread::sleep(Duration::from_secs(5));
            return;
        }
        while let Ok(message) = socket.read() {
            if let Message::Text(_) = message {
                socket.send(message).unwrap();
            }
        }
    });
    url
}

#[test]
fn pings_on_silence_and_measures_the_round_trip() {
    let (mut client, _) = blocking::connect(&server(true)).unwrap();
    client.set_keepalive(Some(KeepaliveConfig::new(
        Duration::from_millis(50),
        Duration::from_secs(5),
    )));
    let started = Instant::now();
    match client.read().unwrap() {
        Message::Pong(payload) => assert!(payload.starts_with(b"sockeye")),
        other => panic!("expected the keepalive pong, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(client.last_rtt().is_some());
    client.send_text("still here").unwrap();
    assert_eq!(client.read().unwrap(), Message::text("still here"));
    client.close(CloseCode::Normal, "").unwrap();
}

#[test]
fn a_peer_that_stops_answering_fails_with_ping_timeout() {
    let (mut client, _) = blocking::connect(&server(false)).unwrap();
    client.set_keepalive(Some(KeepaliveConfig::new(
        Duration::from_millis(50),
        Duration::from_millis(200),
    )));
    let started = Instant::now();
    let err = client.read().unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::PingTimeout { .. })),
        "{err}"
    );
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(
        client
            .connection()
            .close_sent()
            .cloned()
            .flatten()
            .unwrap()
            .code,
        CloseCode::InternalError
    );
}

#[test]
fn the_applications_read_timeout_still_applies() {
    let (mut client, _) = blocking::connect(&server(true)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    client.set_keepalive(Some(KeepaliveConfig::new(
        Duration::from_millis(250),
        Duration::from_secs(5),
    )));
    // Nothing arrives within the read timeout, long before the first keepalive ping is due.
    let started = Instant::now();
    let err = client.read().unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(250), "{elapsed:?}");
    // The connection is still usable, and keepalive still runs: its pong arrives within the
    // next reads.
    let mut pong = false;
    for _ in 0..10 {
        match client.read() {
            Ok(Message::Pong(_)) => {
                pong = true;
                break;
            }
            Ok(other) => panic!("{other:?}"),
            Err(Error::Timeout { .. }) => {}
            Err(err) => panic!("{err}"),
        }
    }
    assert!(pong, "a keepalive pong arrives within a second");
}
