//! The tokio client never resolves a host name on the runtime thread, and resolving counts
//! against `connect_timeout` (issue 9, item 6): with a `socks5://` or `socks4://` proxy, sockeye
//! resolves the WebSocket server's name itself and sends the proxy an address.
//!
//! A name that resolves through `/etc/hosts` (`localhost`) is too fast to show blocking, so the
//! main test runs itself again in a private network and mount namespace (`unshare -n -m`, as
//! root) where `/etc/resolv.conf` names a DNS server this test runs on 127.0.0.1:53: it answers
//! one name after [`DNS_DELAY`] and never answers another. On a current-thread runtime, a task
//! that ticks every few milliseconds must keep ticking while the dial waits for the slow answer,
//! and the silent name must fail at the DNS stage when `connect_timeout` runs out, long before
//! the system resolver would give up.
//!
//! Everything listens on 127.0.0.1; every wait is bounded; the SOCKS5 proxy is in-process.
#![allow(clippy::unwrap_used)]

mod proxy_servers;

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use proxy_servers::{EchoServer, TempDir};
use sockeye::{ClientConfig, CloseCode, Error, Message, ProxyConfig, Stage};

/// Set in the environment of the test binary run inside the namespace.
const INSIDE: &str = "SOCKEYE_TEST_INSIDE_DNS_NAMESPACE";
/// Answered (127.0.0.1) after [`DNS_DELAY`].
const SLOW_NAME: &str = "slow.sockeye.test";
/// Never answered.
const SILENT_NAME: &str = "silent.sockeye.test";
const DNS_DELAY: Duration = Duration::from_millis(600);
/// How often the task that must keep running ticks.
const TICK: Duration = Duration::from_millis(5);
const LIMIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Harness: a SOCKS5 proxy, a DNS server, a ticking task
// ---------------------------------------------------------------------------------------------

/// A SOCKS5 proxy on 127.0.0.1 (no authentication, CONNECT only) that notes each destination
/// it was sent, as `addr:port` or `name:port`.
struct Socks5 {
    addr: SocketAddr,
    destinations: Arc<Mutex<Vec<String>>>,
}

impl Socks5 {
    fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let destinations = Arc::new(Mutex::new(Vec::new()));
        let noted = Arc::clone(&destinations);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let noted = Arc::clone(&noted);
                thread::spawn(move || {
                    let _ = relay(client, &noted);
                });
            }
        });
        Self { addr, destinations }
    }

    fn url(&self) -> String {
        format!("socks5://{}", self.addr)
    }

    fn destinations(&self) -> Vec<String> {
        self.destinations.lock().unwrap().clone()
    }
}

fn relay(mut client: TcpStream, noted: &Mutex<Vec<String>>) -> io::Result<()> {
    client.set_read_timeout(Some(LIMIT))?;
    let mut head = [0u8; 2];
    client.read_exact(&mut head)?;
    let mut methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut methods)?;
    client.write_all(&[5, 0])?;
    let mut request = [0u8; 4];
    client.read_exact(&mut request)?;
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip)?;
            Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len)?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => return Err(io::ErrorKind::Unsupported.into()),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port)?;
    let port = u16::from_be_bytes(port);
    noted.lock().unwrap().push(format!("{host}:{port}"));
    let server = TcpStream::connect((host.as_str(), port))?;
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
    client.set_read_timeout(None)?;
    let (mut from_client, mut to_server) = (client.try_clone()?, server.try_clone()?);
    thread::spawn(move || {
        let _ = io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(std::net::Shutdown::Write);
    });
    let (mut from_server, mut to_client) = (server, client);
    io::copy(&mut from_server, &mut to_client)?;
    Ok(())
}

/// A DNS server on 127.0.0.1:53 (UDP): [`SLOW_NAME`] has the address 127.0.0.1, given after
/// [`DNS_DELAY`]; [`SILENT_NAME`] is never answered; other names have no address.
fn start_dns_server() {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 53)).expect("bind 127.0.0.1:53");
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        loop {
            let Ok((len, from)) = socket.recv_from(&mut buf) else {
                return;
            };
            let Some((name, reply)) = dns_reply(&buf[..len]) else {
                continue;
            };
            let socket = socket.try_clone().unwrap();
            match name.as_str() {
                SILENT_NAME => {}
                SLOW_NAME => {
                    thread::spawn(move || {
                        thread::sleep(DNS_DELAY);
                        let _ = socket.send_to(&reply, from);
                    });
                }
                _ => {
                    let _ = socket.send_to(&reply, from);
                }
            }
        }
    });
}

/// The queried name, and the reply: `A 127.0.0.1` for [`SLOW_NAME`], else no answer records.
fn dns_reply(query: &[u8]) -> Option<(String, Vec<u8>)> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = query.get(12..at + 4)?;
    let name = labels.join(".");
    let answers: u16 = u16::from(qtype == 1 && name == SLOW_NAME);
    let mut reply = Vec::with_capacity(64);
    reply.extend_from_slice(&query[..2]);
    reply.extend_from_slice(&[0x81, 0x80, 0, 1]);
    reply.extend_from_slice(&answers.to_be_bytes());
    reply.extend_from_slice(&[0, 0, 0, 0]);
    reply.extend_from_slice(question);
    if answers == 1 {
        reply.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
    }
    Some((name, reply))
}

/// A task that wakes every [`TICK`] on the current runtime, noting how many times it ran and
/// the longest it had to wait between two runs.
struct Ticker {
    ticks: Arc<AtomicUsize>,
    longest_gap_us: Arc<AtomicU64>,
}

impl Ticker {
    fn spawn() -> Self {
        let ticks = Arc::new(AtomicUsize::new(0));
        let longest_gap_us = Arc::new(AtomicU64::new(0));
        let (count, gap) = (Arc::clone(&ticks), Arc::clone(&longest_gap_us));
        tokio::spawn(async move {
            let mut last = Instant::now();
            loop {
                tokio::time::sleep(TICK).await;
                let now = Instant::now();
                let waited = u64::try_from((now - last).as_micros()).unwrap_or(u64::MAX);
                gap.fetch_max(waited, Ordering::Relaxed);
                count.fetch_add(1, Ordering::Relaxed);
                last = now;
            }
        });
        Self {
            ticks,
            longest_gap_us,
        }
    }

    /// Forgets the longest gap so far (the runtime's start).
    fn reset(&self) {
        self.longest_gap_us.store(0, Ordering::Relaxed);
        self.ticks.store(0, Ordering::Relaxed);
    }

    fn ticks(&self) -> usize {
        self.ticks.load(Ordering::Relaxed)
    }

    fn longest_gap(&self) -> Duration {
        Duration::from_micros(self.longest_gap_us.load(Ordering::Relaxed))
    }
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn through(url: &str, proxy: &str, connect_timeout: Duration) -> ClientConfig {
    ClientConfig::new(url)
        .unwrap()
        .proxy(ProxyConfig::url(proxy).unwrap())
        .connect_timeout(Some(connect_timeout))
        .handshake_timeout(Some(LIMIT))
}

/// Connects with the tokio client, echoes one message, closes; returns the report's timings.
async fn echo(config: ClientConfig) -> Result<sockeye::diagnose::Timings, (Error, Duration)> {
    let started = Instant::now();
    let (result, report) = sockeye::tokio::connect_async_with_report(config).await;
    let (mut socket, _) = result.map_err(|err| (err, started.elapsed()))?;
    socket.send(Message::text("through socks")).await.unwrap();
    match socket.read().await.unwrap() {
        Message::Text(text) => assert_eq!(text.as_str(), "through socks"),
        other => panic!("expected the echo, got {other:?}"),
    }
    socket.close(CloseCode::Normal, "done").await.unwrap();
    Ok(report.timings)
}

// ---------------------------------------------------------------------------------------------
// On the host: names from /etc/hosts
// ---------------------------------------------------------------------------------------------

#[test]
fn socks5_with_local_resolution_sends_an_address_resolved_without_blocking() {
    let server = EchoServer::start();
    let proxy = Socks5::start();
    let runtime = current_thread_runtime();
    runtime.block_on(async {
        let url = server.url("localhost");
        let timings = tokio::time::timeout(LIMIT, echo(through(&url, &proxy.url(), LIMIT)))
            .await
            .expect("done in time")
            .map_err(|(err, _)| err)
            .expect("the echo through the proxy");
        assert!(timings.dns.is_some(), "the DNS stage is timed: {timings:?}");
        assert!(timings.proxy.is_some(), "{timings:?}");
    });
    assert_eq!(
        proxy.destinations(),
        [format!("127.0.0.1:{}", server.port)],
        "resolved here, sent as an address"
    );
    // socks5h:// sends the name, and there is no DNS stage.
    runtime.block_on(async {
        let url = server.url("localhost");
        let proxy_url = proxy.url().replace("socks5://", "socks5h://");
        let timings = echo(through(&url, &proxy_url, LIMIT))
            .await
            .map_err(|(err, _)| err)
            .unwrap();
        assert_eq!(timings.dns, None, "{timings:?}");
    });
    assert_eq!(
        proxy.destinations()[1],
        format!("localhost:{}", server.port)
    );
}

#[test]
fn a_silent_socks_proxy_is_bounded_by_connect_timeout_after_resolving_a_name() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let limit = Duration::from_millis(400);
    let runtime = current_thread_runtime();
    for scheme in ["socks4", "socks5"] {
        let config = through(
            "ws://localhost:9/",
            &format!("{scheme}://127.0.0.1:{port}"),
            limit,
        );
        let (err, took) = runtime.block_on(echo(config)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Timeout {
                    stage: Stage::Proxy,
                    ..
                }
            ),
            "{scheme}: {err:?}"
        );
        assert!(took >= limit && took < limit * 5, "{scheme}: took {took:?}");
    }
    drop(listener);
}

// ---------------------------------------------------------------------------------------------
// In a namespace: a slow DNS server and a silent one
// ---------------------------------------------------------------------------------------------

#[test]
fn slow_and_silent_dns_in_a_private_namespace() {
    if std::env::var_os(INSIDE).is_some() {
        return;
    }
    let usable = Command::new("unshare")
        .args(["-n", "-m", "true"])
        .status()
        .is_ok_and(|status| status.success());
    if !usable {
        let root = std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(1) == Some("0"));
        assert!(
            !root,
            "as root, `unshare -n -m` must work for this test (util-linux's unshare)"
        );
        eprintln!(
            "note: cannot create a network and mount namespace (not root); the slow-DNS test did not run"
        );
        return;
    }
    let dir = TempDir::new("async-resolution");
    let resolv = dir.write(
        "resolv.conf",
        "nameserver 127.0.0.1\noptions timeout:3 attempts:1\n",
    );
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("unshare")
        .args([
            "-n",
            "-m",
            "sh",
            "-c",
            r#"ip link set lo up && mount --bind "$1" /etc/resolv.conf && exec "$2" --exact "$3" --nocapture --test-threads=1"#,
            "sh",
        ])
        .arg(&resolv)
        .arg(&exe)
        .arg("inside_the_namespace_the_runtime_keeps_running_while_a_name_resolves")
        .env(INSIDE, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the test inside the namespace failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

/// Run by [`slow_and_silent_dns_in_a_private_namespace`] inside its namespace; does nothing
/// elsewhere.
#[test]
fn inside_the_namespace_the_runtime_keeps_running_while_a_name_resolves() {
    if std::env::var_os(INSIDE).is_none() {
        return;
    }
    start_dns_server();
    let server = EchoServer::start();
    let proxy = Socks5::start();
    let runtime = current_thread_runtime();

    // The slow name: the other task keeps ticking while the dial waits for its address.
    runtime.block_on(async {
        let ticker = Ticker::spawn();
        tokio::time::sleep(TICK * 4).await;
        ticker.reset();
        let started = Instant::now();
        let url = format!("ws://{SLOW_NAME}:{}/echo", server.port);
        let timings = echo(through(&url, &proxy.url(), LIMIT))
            .await
            .map_err(|(err, _)| err)
            .expect("the echo through the proxy, to the slowly resolved name");
        let took = started.elapsed();
        let dns = timings.dns.expect("the DNS stage is timed");
        assert!(dns >= DNS_DELAY, "DNS took {dns:?}");
        assert!(took >= DNS_DELAY, "the dial took {took:?}");
        let gap = ticker.longest_gap();
        assert!(
            gap < DNS_DELAY / 3,
            "the runtime thread was held for {gap:?} while resolving ({} ticks in {took:?})",
            ticker.ticks()
        );
        assert!(ticker.ticks() >= 20, "{} ticks in {took:?}", ticker.ticks());
    });
    assert_eq!(proxy.destinations(), [format!("127.0.0.1:{}", server.port)]);

    // The silent name: cut off by connect_timeout, as the DNS stage, long before the system
    // resolver's own 3 s time-out; the proxy is never contacted.
    let limit = Duration::from_millis(400);
    for scheme in ["socks4", "socks5"] {
        let url = format!("ws://{SILENT_NAME}:{}/echo", server.port);
        let proxy_url = proxy.url().replace("socks5", scheme);
        let (err, took) = runtime
            .block_on(async {
                let ticker = Ticker::spawn();
                let result = echo(through(&url, &proxy_url, limit)).await;
                assert!(ticker.ticks() >= 20, "{} ticks", ticker.ticks());
                result
            })
            .unwrap_err();
        assert!(
            matches!(err, Error::Timeout { stage: Stage::Dns, after } if after == limit),
            "{scheme}: {err:?}"
        );
        assert!(took >= limit && took < limit * 3, "{scheme}: took {took:?}");
        let text = err.to_string();
        assert!(text.contains("dns"), "{text}");
    }
    assert_eq!(proxy.destinations().len(), 1, "the proxy was not contacted");

    // Directly, resolving and connecting share connect_timeout: the silent name times out at
    // the DNS stage too, which the report times (and no TCP stage).
    let config = ClientConfig::new(&format!("ws://{SILENT_NAME}:{}/echo", server.port))
        .unwrap()
        .proxy(ProxyConfig::Direct)
        .connect_timeout(Some(limit))
        .handshake_timeout(Some(LIMIT));
    let started = Instant::now();
    let (result, report) = runtime.block_on(sockeye::tokio::connect_async_with_report(config));
    let took = started.elapsed();
    let Err(err) = result else {
        panic!("connected to a name that never resolves")
    };
    assert!(
        matches!(err, Error::Timeout { stage: Stage::Dns, after } if after == limit),
        "direct: {err:?}"
    );
    assert!(took >= limit && took < limit * 3, "direct: took {took:?}");
    let dns = report.timings.dns.expect("the DNS stage is timed");
    assert!(dns >= limit, "DNS {dns:?}");
    assert_eq!(report.timings.tcp, None, "{:?}", report.timings);
    assert_eq!(report.diagnose(&err).cause, "dns-timeout");
    // The resolver threads still waiting for the silent name are not waited for.
    runtime.shutdown_background();
}
