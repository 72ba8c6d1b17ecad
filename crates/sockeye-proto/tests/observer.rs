//! The observer sees every frame in both directions and the failure, without changing anything.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use sockeye_proto::{Config, Connection, FrameHeader, Message, Observer, ProtocolError, Role};

#[derive(Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Observer for Log {
    fn frame_received(&mut self, header: &FrameHeader, payload: &[u8]) {
        let line = format!("< {} fin={} {:?}", header.opcode, header.fin, payload);
        self.0.lock().unwrap().push(line);
    }
    fn frame_sent(&mut self, header: &FrameHeader, payload: &[u8]) {
        let line = format!(
            "> {} masked={} {:?}",
            header.opcode,
            header.mask.is_some(),
            payload
        );
        self.0.lock().unwrap().push(line);
    }
    fn failed(&mut self, error: &ProtocolError) {
        self.0
            .lock()
            .unwrap()
            .push(format!("failed {}", error.close_code()));
    }
}

#[test]
fn observer_sees_frames_both_ways_and_the_failure() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut client = Connection::new(Role::Client, Config::default());
    client.set_observer(Some(Box::new(Log(lines.clone()))));
    client.send_text("hi").unwrap();
    // From the server: a fragmented text with a ping in between, then a reserved opcode.
    client.receive_data(b"\x01\x01a\x89\x01p\x80\x01b\x83\x00");
    assert_eq!(
        client.next_message().unwrap(),
        Some(Message::Ping(b"p"[..].into()))
    );
    assert_eq!(client.next_message().unwrap(), Some(Message::text("ab")));
    assert!(client.next_message().is_err());
    let lines = lines.lock().unwrap().clone();
    assert_eq!(
        lines,
        [
            "> text masked=true [104, 105]",
            "< text fin=false [97]",
            "< ping fin=true [112]",
            "> pong masked=true [112]",
            "< continuation fin=true [98]",
            "> close masked=true [3, 234, 112, 114, 111, 116, 111, 99, 111, 108, 32, 101, 114, 114, 111, 114]",
            "failed 1002 (protocol error)",
        ]
    );
}
