//! `sockeye connect` over TLS, end to end: nginx terminates TLS on 127.0.0.1 in front of
//! `sockeye serve`, with certificates each test makes with rcgen. Covers --cacert, -k,
//! --no-hostname-check, --sni, --cert/--key against nginx's `ssl_verify_client on`,
//! SSLKEYLOGFILE, and --tls-timeout against a server that never answers.
//!
//! nginx must be installed (`scripts/test.sh` installs it); a missing nginx fails the tests.
//! Each test runs its own nginx (`daemon off`, one process, a temporary prefix holding its
//! configuration, pid and logs), killed when the test ends. Every wait is bounded.

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
#[path = "../../sockeye/tests/tls_support/pki.rs"]
mod pki;
mod support;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Finished, Peer, PEER_TIMEOUT};
use pki::{Ca, TestDir};
use support::sockeye;

/// nginx, from PATH or /usr/sbin. Panics (the test fails, it is never skipped) when missing.
fn nginx_binary() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")]);
    for dir in candidates {
        let binary = dir.join("nginx");
        if binary.is_file() {
            return binary;
        }
    }
    panic!("nginx is missing: run scripts/test.sh (it installs nginx), or apt-get install -y nginx")
}

/// A port that was free a moment ago (nginx cannot be told to pick one).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// `sockeye serve` on 127.0.0.1, port 0: the WebSocket backend behind nginx.
struct Backend {
    _peer: Peer,
    port: u16,
}

impl Backend {
    fn start() -> Self {
        let mut peer = Peer::spawn(
            "sockeye serve",
            sockeye(&["serve", "--listen", "127.0.0.1:0"]),
        );
        let line = peer.line();
        let port = line
            .strip_prefix("listening on ws://127.0.0.1:")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("sockeye serve printed {line:?}"));
        Self { _peer: peer, port }
    }
}

/// The certificates of one test: a CA and the certificate nginx presents (for `localhost`
/// only), a second CA for client certificates, and a client certificate it issued.
struct Certs {
    dir: TestDir,
    ca: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

impl Certs {
    fn new() -> Self {
        let dir = TestDir::new("nginx");
        let ca = Ca::new("sockeye nginx test CA");
        let server = ca.server_cert(&["localhost"]);
        let client_ca = Ca::new("sockeye nginx client CA");
        let client = client_ca.client_cert("sockeye-client");
        dir.write("server.pem", &server.cert_pem);
        dir.write("server.key", &server.key_pem);
        dir.write("client-ca.pem", &client_ca.cert_pem);
        Self {
            ca: dir.write("ca.pem", &ca.cert_pem),
            client_cert: dir.write("client.pem", &client.cert_pem),
            client_key: dir.write("client.key", &client.key_pem),
            dir,
        }
    }
}

/// nginx terminating TLS for the backend: `tls_port` serves anyone, `mtls_port` requires a
/// client certificate from the client CA. Killed when dropped.
struct Nginx {
    peer: Option<Peer>,
    prefix: PathBuf,
    tls_port: u16,
    mtls_port: u16,
}

impl Nginx {
    fn start(certs: &Certs, backend: &Backend) -> Self {
        let prefix = certs.dir.path().to_path_buf();
        let (tls_port, mtls_port) = (free_port(), free_port());
        let p = prefix.display();
        let upstream = backend.port;
        let proxy = format!(
            "location / {{
                proxy_pass http://127.0.0.1:{upstream};
                proxy_http_version 1.1;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection $connection_upgrade;
                proxy_set_header Host $host;
                proxy_read_timeout 60s;
            }}"
        );
        let config = format!(
            "daemon off;
master_process off;
pid {p}/nginx.pid;
error_log {p}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {p}/access.log;
    client_body_temp_path {p}/client_body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate {p}/server.pem;
    ssl_certificate_key {p}/server.key;
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        server_name localhost;
        {proxy}
    }}
    server {{
        listen 127.0.0.1:{mtls_port} ssl;
        server_name localhost;
        ssl_client_certificate {p}/client-ca.pem;
        ssl_verify_client on;
        {proxy}
    }}
}}
"
        );
        let config_path = certs.dir.write("nginx.conf", &config);
        let mut command = Command::new(nginx_binary());
        command
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&config_path)
            .arg("-e")
            .arg(prefix.join("error.log"));
        let nginx = Self {
            peer: Some(Peer::spawn("nginx", command)),
            prefix,
            tls_port,
            mtls_port,
        };
        nginx.wait_until_listening();
        nginx
    }

    /// Bounded: nginx has no "ready" line, so try connecting until both ports accept.
    fn wait_until_listening(&self) {
        let deadline = Instant::now() + PEER_TIMEOUT;
        for port in [self.tls_port, self.mtls_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "nginx did not listen on {port} within {PEER_TIMEOUT:?}; error.log:\n{}",
                    self.error_log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.prefix.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(peer) = self.peer.take() {
            let report = peer.kill_and_report();
            if std::thread::panicking() {
                eprintln!("{report}\nnginx error.log:\n{}", self.error_log());
            }
        }
    }
}

/// `printf 'hello through nginx\n' | sockeye connect URL FLAGS…`, finished.
fn connect(url: &str, flags: &[&str], env: &[(&str, &Path)]) -> Finished {
    let mut args = vec![
        "connect",
        url,
        "--connect-timeout",
        "10",
        "--handshake-timeout",
        "10",
    ];
    args.extend_from_slice(flags);
    let mut command = sockeye(&args);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut client = Peer::spawn_with_stdin("sockeye connect", command);
    client
        .stdin()
        .write_all(b"hello through nginx\n")
        .expect("write to sockeye's stdin");
    client.close_stdin();
    client.finish()
}

fn assert_echoed(finished: &Finished) {
    finished.assert_success("sockeye connect");
    assert_eq!(finished.stdout, ["hello through nginx"], "{finished:?}");
}

/// Exit status 3 (could not connect), and stderr says `every` of these.
fn assert_refused(finished: &Finished, every: &[&str]) {
    assert_eq!(finished.status.code(), Some(3), "{finished:?}");
    for text in every {
        assert!(
            finished.stderr.contains(text),
            "stderr should say {text:?}:\n{}",
            finished.stderr
        );
    }
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn nginx_terminates_tls_for_sockeye_serve_and_cacert_verifies_it() {
    let certs = Certs::new();
    let backend = Backend::start();
    let nginx = Nginx::start(&certs, &backend);
    let url = format!("wss://localhost:{}/echo", nginx.tls_port);
    let keylog = certs.dir.path().join("keys.log");

    let finished = connect(
        &url,
        &["--cacert", arg(&certs.ca)],
        &[("SSLKEYLOGFILE", &keylog)],
    );
    assert_echoed(&finished);
    let keys = std::fs::read_to_string(&keylog).expect("SSLKEYLOGFILE was written");
    assert!(
        keys.lines()
            .any(|line| line.starts_with("CLIENT_TRAFFIC_SECRET_0 ")),
        "{keys}"
    );

    // The system's trust store does not know the test CA; another CA file does not either.
    let finished = connect(&url, &[], &[]);
    assert_refused(
        &finished,
        &[
            "(tls stage)",
            "unknown issuer",
            "operating system's trust store",
            "--cacert",
        ],
    );
    let other = certs
        .dir
        .write("other-ca.pem", &Ca::new("other CA").cert_pem);
    let finished = connect(&url, &["--cacert", arg(&other)], &[]);
    assert_refused(&finished, &["unknown issuer", "other-ca.pem"]);

    // -k connects without any CA.
    assert_echoed(&connect(&url, &["-k"], &[]));
}

#[test]
fn hostname_checks_sni_and_the_switch_that_skips_only_the_name() {
    let certs = Certs::new();
    let backend = Backend::start();
    let nginx = Nginx::start(&certs, &backend);
    // The certificate names only localhost.
    let by_ip = format!("wss://127.0.0.1:{}/echo", nginx.tls_port);
    let ca = arg(&certs.ca);

    let finished = connect(&by_ip, &["--cacert", ca], &[]);
    assert_refused(
        &finished,
        &[
            "not valid for 127.0.0.1: it names localhost",
            "--no-hostname-check",
        ],
    );
    assert_echoed(&connect(
        &by_ip,
        &["--cacert", ca, "--no-hostname-check"],
        &[],
    ));
    assert_echoed(&connect(
        &by_ip,
        &["--cacert", ca, "--sni", "localhost"],
        &[],
    ));
    assert_echoed(&connect(
        &by_ip,
        &["--cacert", ca, "--servername", "localhost"],
        &[],
    ));
}

#[test]
fn nginx_requiring_a_client_certificate_gets_one_from_cert_and_key() {
    let certs = Certs::new();
    let backend = Backend::start();
    let nginx = Nginx::start(&certs, &backend);
    let url = format!("wss://localhost:{}/echo", nginx.mtls_port);
    let ca = arg(&certs.ca);

    assert_echoed(&connect(
        &url,
        &[
            "--cacert",
            ca,
            "--cert",
            arg(&certs.client_cert),
            "--key",
            arg(&certs.client_key),
        ],
        &[],
    ));
    // nginx completes TLS without a certificate, then answers the request with 400.
    let finished = connect(&url, &["--cacert", ca], &[]);
    assert_refused(&finished, &["(http stage)", "400 Bad Request"]);
}

#[test]
fn tls_timeout_bounds_a_server_that_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("wss://{}/", listener.local_addr().expect("an address"));
    let started = Instant::now();
    let finished = connect(&url, &["--tls-timeout", "0.5", "-k"], &[]);
    let took = started.elapsed();
    assert_refused(&finished, &["(tls stage)", "timed out after 500ms"]);
    assert!(took < PEER_TIMEOUT, "took {took:?}");
    drop(listener);
}

#[test]
fn tls_options_on_a_ws_url_are_noted() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("ws://{}/", listener.local_addr().expect("an address"));
    drop(listener);
    let finished = connect(&url, &["-k"], &[]);
    assert!(
        finished
            .stderr
            .contains("the TLS options do nothing for ws://"),
        "{}",
        finished.stderr
    );
}
