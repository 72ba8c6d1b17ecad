//! Hostile peers against `sockeye serve` and `sockeye connect`, with default settings unless a
//! test says otherwise: each test reproduces an attack and asserts a bound — the server's peak
//! memory (VmHWM from /proc), the close code, the time to close — and that honest clients are
//! still served.
//!
//! - compression bombs left unfinished on a thousand connections stay within `--max-memory`;
//! - a ping flood against a client that never gets its pongs read keeps `sockeye connect` flat;
//! - connections trickling a frame header one byte at a time are closed by `--message-timeout`;
//! - idle connections are closed by `--idle-timeout`, and half-sent requests never take the
//!   place of open connections (`--max-connections` counts finished handshakes only);
//! - oversize headers, fragment floods, endless empty fragments, a finished compression bomb and
//!   malformed frames fail at once with their close codes, the server's memory unmoved;
//! - trickled and oversize request heads are cut off (handshake timeout, 431).
//!
//! The attackers are raw sockets written here, speaking just enough of RFC 6455 to get past
//! the handshake. Everything binds 127.0.0.1 port 0, every wait is bounded.
#![allow(clippy::unwrap_used)]

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use sockeye_test::deflate::deflate_sync;
use support::{connect, serve};

const MIB: usize = 1 << 20;

/// What each unfinished compressed message inflates to: 8 MiB, so a thousand of them would hold
/// 8 GiB, 32 times the default budget.
const BOMB: usize = 8 * MIB;

/// Room for a thousand attackers plus the server's own sockets, in this process and in the
/// `sockeye serve` it starts (which inherits the limit).
fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    let want = 8192u64.min(limit.maximum.unwrap_or(u64::MAX));
    if limit.current.is_some_and(|current| current < want) {
        limit.current = Some(want);
        setrlimit(Resource::Nofile, limit).unwrap();
    }
}

/// The peak resident memory of process `pid` (VmHWM), in bytes.
fn peak_memory(pid: u32) -> usize {
    memory_line(pid, "VmHWM:")
}

/// The resident memory of process `pid` now (VmRSS), in bytes.
fn resident_memory(pid: u32) -> usize {
    memory_line(pid, "VmRSS:")
}

fn memory_line(pid: u32, field: &str) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"));
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}

/// `ws://127.0.0.1:PORT` → `127.0.0.1:PORT`.
fn address(url: &str) -> String {
    url.trim_start_matches("ws://")
        .trim_end_matches('/')
        .to_string()
}

/// A raw client past the opening handshake (offering permessage-deflate when `deflate`).
/// Returns the socket, and whether the server accepted compression.
fn open_raw(address: &str, deflate: bool) -> (TcpStream, bool) {
    let mut socket = TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let extensions = if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    } else {
        ""
    };
    write!(
        socket,
        "GET / HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extensions}\r\n"
    )
    .unwrap();
    let head = read_head(&mut socket);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let accepted = head
        .to_ascii_lowercase()
        .contains("sec-websocket-extensions: permessage-deflate");
    (socket, accepted)
}

fn read_head(socket: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match socket.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!("the response head ended early: {other:?} after {head:?}"),
        }
    }
    String::from_utf8(head).unwrap()
}

/// A masked frame: FIN as given, opcode, RSV1 when `compressed`.
fn frame(fin: bool, compressed: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut out = vec![(u8::from(fin) << 7) | (u8::from(compressed) << 6) | opcode];
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// `size` zero bytes as raw DEFLATE with a sync flush: about a thousandth of `size`.
fn deflate_zeros(size: usize) -> Vec<u8> {
    deflate_sync(&vec![0u8; size], 9)
}

/// The close code of the first close frame that arrives within `wait`, if any; `Err` with
/// what happened instead (silence, or the connection ending without a close frame).
fn close_code(socket: &mut TcpStream, wait: Duration) -> Result<u16, String> {
    socket.set_read_timeout(Some(wait)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // Unmasked server frames: skip to the first close.
        let mut at = 0;
        while buf.len() >= at + 2 {
            let (opcode, short) = (buf[at] & 0x0F, usize::from(buf[at + 1] & 0x7F));
            let (len, head) = match short {
                126 if buf.len() >= at + 4 => (
                    usize::from(u16::from_be_bytes([buf[at + 2], buf[at + 3]])),
                    4,
                ),
                127 if buf.len() >= at + 10 => (
                    u64::from_be_bytes(buf[at + 2..at + 10].try_into().unwrap()) as usize,
                    10,
                ),
                126 | 127 => break,
                len => (len, 2),
            };
            if buf.len() < at + head + len {
                break;
            }
            if opcode == 0x8 {
                let payload = &buf[at + head..at + head + len];
                return Ok(if payload.len() >= 2 {
                    u16::from_be_bytes([payload[0], payload[1]])
                } else {
                    1005
                });
            }
            at += head + len;
        }
        match socket.read(&mut chunk) {
            Ok(0) => return Err("the connection ended without a close frame".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err("nothing within the wait".into())
            }
            Err(err) => return Err(format!("reading failed: {err}")),
        }
    }
}

/// An honest client still gets its echo.
fn assert_echo_works(url: &str) {
    let mut client = connect(url, &[]);
    writeln!(client.stdin(), "still served").unwrap();
    assert_eq!(client.line(), "still served");
    client.close_stdin();
    client.finish().assert_success("sockeye connect");
}

/// Issue 9, item 1: unfinished compressed messages that inflate a thousandfold, held open on a
/// thousand connections. Before the budget: 24 connections held 1.56 GB. Now the server's peak
/// stays within its budget plus what a message inflating on each of its two worker threads can
/// add before it is counted and the allocator's own overhead, and the connections holding the
/// most are closed with 1009. `ADVERSARIAL_SERVE_FLAGS` adds flags to `sockeye serve` (for
/// measuring other budgets by hand).
#[test]
fn unfinished_compression_bombs_stay_within_the_memory_budget() {
    raise_fd_limit();
    let extra = std::env::var("ADVERSARIAL_SERVE_FLAGS").unwrap_or_default();
    let extra: Vec<&str> = extra.split_whitespace().collect();
    let (server, url) = serve(&extra);
    let address = address(&url);
    let baseline = resident_memory(server.pid());
    // Under the 16 MiB message limit, a thousandth of it on the wire.
    let bomb = frame(false, true, 0x1, &deflate_zeros(BOMB));
    assert!(bomb.len() < 32 * 1024, "{} bytes", bomb.len());
    let mut attackers = Vec::new();
    let started = Instant::now();
    for _ in 0..1000 {
        let (mut socket, compressed) = open_raw(&address, true);
        assert!(
            compressed,
            "sockeye serve accepts permessage-deflate by default"
        );
        socket.write_all(&bomb).unwrap();
        attackers.push(socket);
    }
    // Every bomb is in, and inflating or closed, once an honest echo gets through after them.
    assert_echo_works(&url);
    let mut codes = std::collections::BTreeMap::new();
    let mut open = 0;
    for socket in &mut attackers {
        match close_code(socket, Duration::from_millis(200)) {
            Ok(code) => *codes.entry(code).or_insert(0) += 1,
            Err(_) => open += 1,
        }
    }
    let peak = peak_memory(server.pid());
    let budget = 256 * MIB;
    // The budget counts live bytes. On top: a message inflating on each of the two worker
    // threads before it is counted, and what glibc's allocator keeps resident after freeing
    // (measured here: 256 MiB budget, 333 MiB peak above the baseline; 273 MiB with
    // MALLOC_MMAP_THRESHOLD_=131072). docs/limits.md says so.
    let slack = 2 * 16 * MIB + budget * 3 / 8;
    eprintln!(
        "1000 bombs in {:?}: peak {} MiB (baseline {} MiB), closes {codes:?}, {open} still open",
        started.elapsed(),
        peak / MIB,
        baseline / MIB
    );
    assert!(
        peak < baseline + budget + slack,
        "peak {} MiB over the budget",
        peak / MIB
    );
    assert_eq!(
        codes.keys().copied().collect::<Vec<_>>(),
        [1009],
        "only budget closes"
    );
    // No more than the budget holds can still be open.
    assert!(open <= budget / BOMB + 1, "{open} connections still open");
    assert!(codes[&1009] >= 1000 - open);
}

/// Issue 9, item 2: a server pings as fast as it can and never reads. Before: `sockeye connect`
/// queued a pong per ping, 0.87 GB after 2 s. Now it keeps one pong back while its output
/// waits, and its memory stays flat.
#[test]
fn a_ping_flood_that_never_reads_the_pongs_keeps_the_client_flat() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let flooder = thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if socket.read(&mut byte).unwrap() == 0 {
                return 0;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .to_string();
        let accept = sockeye::proto::handshake::accept_key(&key);
        write!(
            socket,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .unwrap();
        // 100-byte pings, 64 KiB per write, for 3 seconds; never a read again.
        let mut ping = vec![0x89, 100];
        ping.extend_from_slice(&[b'p'; 100]);
        let batch: Vec<u8> = ping
            .iter()
            .copied()
            .cycle()
            .take(ping.len() * 640)
            .collect();
        let until = Instant::now() + Duration::from_secs(3);
        let mut sent = 0usize;
        while Instant::now() < until {
            match socket.write_all(&batch) {
                Ok(()) => sent += 640,
                Err(_) => break,
            }
        }
        sent
    });
    let mut client = connect(&format!("ws://{address}/"), &[]);
    let pid = client.pid();
    thread::sleep(Duration::from_secs(1));
    let early = resident_memory(pid);
    let pings = flooder.join().unwrap();
    let late = peak_memory(pid);
    client.close_stdin();
    drop(client);
    eprintln!(
        "{pings} pings: sockeye connect at {} MiB after 1 s, peak {} MiB after 3 s",
        early / MIB,
        late / MIB
    );
    assert!(
        pings > 100_000,
        "the flood reached the client: {pings} pings"
    );
    assert!(late < 48 * MIB, "peak {} MiB", late / MIB);
    assert!(
        late < early + 16 * MIB,
        "grew from {} to {} MiB",
        early / MIB,
        late / MIB
    );
}

/// Issue 9, item 4: connections that finish the handshake and then trickle a frame header one
/// byte at a time were held forever. `--message-timeout` closes them with 1008.
#[test]
fn trickled_frames_are_closed_by_the_message_timeout() {
    let (_server, url) = serve(&["--message-timeout", "1", "--ping-interval", "0"]);
    let address = address(&url);
    let mut attackers: Vec<TcpStream> = (0..200).map(|_| open_raw(&address, false).0).collect();
    let started = Instant::now();
    // The first byte of a masked 16-bit-length frame header, then one more byte every 300 ms.
    let header = frame(true, false, 0x2, &[0; 1000]);
    for (step, byte) in header.iter().take(4).enumerate() {
        for socket in &mut attackers {
            // A socket the server closed already refuses the write: that is the point.
            let _ = socket.write_all(&[*byte]);
        }
        if step < 3 {
            thread::sleep(Duration::from_millis(300));
        }
    }
    let mut closed = 0;
    for socket in &mut attackers {
        assert_eq!(close_code(socket, Duration::from_secs(5)), Ok(1008));
        closed += 1;
    }
    let elapsed = started.elapsed();
    eprintln!("{closed} trickling connections closed with 1008 within {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_echo_works(&url);
}

/// Issue 9, item 4: idle connections (handshake done, then nothing) close with 1001 after
/// `--idle-timeout`, so they cannot keep `--max-connections` full for good; and half-sent
/// requests wait under `--max-pending-handshakes` without taking an open connection's place.
#[test]
fn idle_connections_and_half_sent_requests_do_not_lock_clients_out() {
    let (_server, url) = serve(&[
        "--max-connections",
        "20",
        "--idle-timeout",
        "1",
        "--ping-interval",
        "0",
    ]);
    let address = address(&url);
    // 100 requests that never finish: before, they took every connection slot (503).
    let mut half_sent: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut socket = TcpStream::connect(&address).unwrap();
            socket.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
            socket
        })
        .collect();
    // 20 idle connections fill --max-connections.
    let mut idle: Vec<TcpStream> = (0..20).map(|_| open_raw(&address, false).0).collect();
    // Full now: the 21st is refused with 503 after its request.
    let mut refused = TcpStream::connect(&address).unwrap();
    write!(
        refused,
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = read_head(&mut refused);
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    // The idle ones are closed with 1001 after a second, and the slots are free again.
    let started = Instant::now();
    for socket in &mut idle {
        assert_eq!(close_code(socket, Duration::from_secs(5)), Ok(1001));
    }
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_echo_works(&url);
    // The half-sent requests were never answered; they are still within their handshake time.
    half_sent[0]
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(matches!(
        half_sent[0].read(&mut byte),
        Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
    ));
    half_sent.clear();
}

/// Floods and oversize frames against one server: each fails at once with its close code,
/// without the server buffering what the attacker announced, and the server's memory stays
/// where it was.
#[test]
fn oversize_and_flooding_frames_fail_fast_with_bounded_memory() {
    let (server, url) = serve(&["--message-timeout", "2", "--ping-interval", "0"]);
    let address = address(&url);
    let baseline = resident_memory(server.pid());
    let started = Instant::now();

    // A header announcing 2^63 - 1 bytes (the largest legal length): 1009, nothing reserved.
    let (mut socket, _) = open_raw(&address, false);
    let mut huge = vec![0x82, 0x80 | 127];
    huge.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
    huge.extend_from_slice(&[1, 2, 3, 4]);
    socket.write_all(&huge).unwrap();
    assert_eq!(close_code(&mut socket, Duration::from_secs(5)), Ok(1009));

    // A 64-bit length with its top bit set: 1002 (RFC 6455 section 5.2).
    let (mut socket, _) = open_raw(&address, false);
    let mut top = vec![0x82, 0x80 | 127];
    top.extend_from_slice(&u64::MAX.to_be_bytes());
    top.extend_from_slice(&[1, 2, 3, 4]);
    socket.write_all(&top).unwrap();
    assert_eq!(close_code(&mut socket, Duration::from_secs(5)), Ok(1002));

    // A header announcing 1 GiB: 1009 before any payload.
    let (mut socket, _) = open_raw(&address, false);
    let mut big = vec![0x82, 0x80 | 127];
    big.extend_from_slice(&(1u64 << 30).to_be_bytes());
    big.extend_from_slice(&[1, 2, 3, 4]);
    socket.write_all(&big).unwrap();
    assert_eq!(close_code(&mut socket, Duration::from_secs(5)), Ok(1009));

    // Fragments of 1 KiB, 20,000 of them (20 MiB): 1009 once the message passes 16 MiB.
    let (mut socket, _) = open_raw(&address, false);
    let first = frame(false, false, 0x2, &[7; 1024]);
    let next = frame(false, false, 0x0, &[7; 1024]);
    let mut flood = first.clone();
    for _ in 0..1023 {
        flood.extend_from_slice(&next);
    }
    for _ in 0..20 {
        // Refused once the server has closed: the point of the limit.
        if socket.write_all(&flood).is_err() {
            break;
        }
        flood.clear();
        for _ in 0..1024 {
            flood.extend_from_slice(&next);
        }
    }
    let code = close_code(&mut socket, Duration::from_secs(5)).ok();
    assert_eq!(code, Some(1009));

    // Empty continuation frames forever: the message never grows and never ends. The message
    // timeout (2 s here) closes it with 1008.
    let (mut socket, _) = open_raw(&address, false);
    socket.write_all(&frame(false, false, 0x1, b"")).unwrap();
    let empty = frame(false, false, 0x0, b"");
    let flooding = Instant::now();
    while flooding.elapsed() < Duration::from_secs(3) {
        if socket.write_all(&empty.repeat(1000)).is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(close_code(&mut socket, Duration::from_secs(5)), Ok(1008));

    // A finished compressed message that inflates past the limit: 1009 as inflating crosses it.
    let (mut socket, compressed) = open_raw(&address, true);
    assert!(compressed);
    socket
        .write_all(&frame(true, true, 0x2, &deflate_zeros(64 * MIB)))
        .unwrap();
    assert_eq!(close_code(&mut socket, Duration::from_secs(10)), Ok(1009));

    // A reserved opcode and an unmasked frame: 1002.
    let (mut socket, _) = open_raw(&address, false);
    socket.write_all(&frame(true, false, 0x3, b"x")).unwrap();
    assert_eq!(close_code(&mut socket, Duration::from_secs(5)), Ok(1002));
    let (mut socket, _) = open_raw(&address, false);
    socket.write_all(&[0x82, 0x01, 0x00]).unwrap();
    assert_eq!(close_code(&mut socket, Duration::from_secs(5)), Ok(1002));

    let grown = resident_memory(server.pid()).saturating_sub(baseline);
    eprintln!(
        "floods and oversize frames handled in {:?}; server grew {} MiB",
        started.elapsed(),
        grown / MIB
    );
    assert!(grown < 64 * MIB, "the server kept {} MiB", grown / MIB);
    assert_echo_works(&url);
}

/// Slow and oversize handshakes: a request head trickled byte by byte is dropped at the
/// handshake timeout, one over 16 KiB gets 431 at once; honest clients are served meanwhile.
#[test]
fn slow_and_oversize_requests_are_cut_off() {
    let (_server, url) = serve(&["--handshake-timeout", "1"]);
    let address = address(&url);
    let request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(&address).unwrap())
        .collect();
    let started = Instant::now();
    for byte in request.bytes().take(8) {
        for socket in &mut slow {
            let _ = socket.write_all(&[byte]);
        }
        thread::sleep(Duration::from_millis(100));
    }
    assert_echo_works(&url);
    for socket in &mut slow {
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        // Dropped without an answer: the read ends (EOF or reset).
        match socket.read_to_end(&mut rest) {
            Ok(_) => assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest)),
            Err(err) => assert_ne!(err.kind(), ErrorKind::WouldBlock, "still open"),
        }
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");

    let mut oversize = TcpStream::connect(&address).unwrap();
    oversize
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    oversize.write_all(request.as_bytes()).unwrap();
    let filler = format!("X-Filler: {}\r\n", "a".repeat(1000));
    // Writes may fail once the server has answered and closed.
    for _ in 0..20 {
        if oversize.write_all(filler.as_bytes()).is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = oversize.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

/// Server pings keep a quiet but live client clear of the idle timeout; a client that does not
/// answer them is closed with 1011 when its pong is late.
#[test]
fn server_pings_keep_live_clients_and_close_silent_ones() {
    let (_server, url) = serve(&[
        "--idle-timeout",
        "2",
        "--ping-interval",
        "0.5",
        "--ping-timeout",
        "1",
    ]);
    let address = address(&url);
    // The library's client answers pings as it reads.
    let (mut live, _) = sockeye::blocking::connect(url.as_str()).unwrap();
    live.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    // A raw client that reads nothing and answers nothing.
    let (mut silent, _) = open_raw(&address, false);
    let started = Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_secs(4) {
        match live.read() {
            Ok(sockeye::Message::Ping(_)) => pings += 1,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(sockeye::Error::Timeout { .. }) => {}
            Err(err) => panic!(
                "the live client was dropped after {:?}: {err}",
                started.elapsed()
            ),
        }
    }
    assert!(pings >= 3, "{pings} pings in 4 s");
    assert_eq!(close_code(&mut silent, Duration::from_secs(1)), Ok(1011));
    live.close(sockeye::CloseCode::Normal, "").unwrap();
}
