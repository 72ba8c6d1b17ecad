//! Real reverse proxies in front of an in-process sockeye echo server, configured the way
//! people get them wrong: nginx without `proxy_http_version 1.1` and the `Upgrade` /
//! `Connection` headers, and squid as an accelerator (it forwards a plain `GET`, without the
//! upgrade). Both come from Debian's packages (`scripts/test.sh` installs them); a missing one
//! fails the test. Each runs on 127.0.0.1 from a configuration in a fresh temporary directory,
//! and is stopped when dropped.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use sockeye::Message;
use wait_timeout::ChildExt;

use super::WAIT;

/// A directory under the system's temporary directory, removed when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "sockeye-diagnose-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create a temporary directory");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, contents).expect("write a file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A port that was free a moment ago (nginx and squid cannot be told to pick one).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// The sockeye blocking echo server on 127.0.0.1 port 0, one thread per connection. A request
/// that is not a WebSocket handshake gets the server's own refusal (426 without `Upgrade`, 505
/// for HTTP/1.0).
pub(crate) fn echo_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("a local address");
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(WAIT));
                let Ok(mut socket) = sockeye::blocking::accept(stream) else {
                    return;
                };
                while let Ok(message) = socket.read() {
                    let sent = match message {
                        Message::Text(text) => socket.send_text(text.as_str()),
                        Message::Binary(data) => socket.send_binary(&data),
                        _ => Ok(()),
                    };
                    if sent.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A daemon whose output goes to a log file; stopped (SIGTERM, then SIGKILL) when dropped.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(name: &'static str, mut command: Command, log: PathBuf) -> Self {
        let out = fs::File::create(&log).expect("create a log file");
        let err = out.try_clone().expect("clone a file handle");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = command.spawn().unwrap_or_else(|err| {
            panic!("cannot start {name}: {err}; run scripts/test.sh, which installs it")
        });
        Self { name, child, log }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until every port accepts TCP.
    fn wait_listening(&mut self, ports: &[u16]) {
        let deadline = Instant::now() + WAIT;
        for &port in ports {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!(
                        "{} exited with {status}; its log:\n{}",
                        self.name,
                        self.log_text()
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "{} did not listen on {port} within {WAIT:?}; its log:\n{}",
                    self.name,
                    self.log_text()
                );
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            if let Ok(None) = self.child.wait_timeout(Duration::from_secs(5)) {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait_timeout(Duration::from_secs(5));
        if thread::panicking() {
            eprintln!("{} log:\n{}", self.name, self.log_text());
        }
    }
}

/// An executable from PATH or the sbin directories.
fn binary(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is missing: run scripts/test.sh (it installs it), or apt-get install {name}")
        })
}

/// nginx in front of `backend`, one port per configuration:
///
/// - `http10`: a bare `proxy_pass` (nginx then talks HTTP/1.0 to the backend and drops
///   `Upgrade` and `Connection`);
/// - `no_upgrade`: `proxy_http_version 1.1`, but no `proxy_set_header Upgrade/Connection`;
/// - `correct`: all three, as a WebSocket proxy needs;
/// - `dead_backend`: a `proxy_pass` to a port where nothing listens (502).
pub(crate) struct Nginx {
    pub(crate) http10: u16,
    pub(crate) no_upgrade: u16,
    pub(crate) correct: u16,
    pub(crate) dead_backend: u16,
    _daemon: Daemon,
    _dir: TempDir,
}

impl Nginx {
    pub(crate) fn start(backend: SocketAddr) -> Self {
        let dir = TempDir::new("nginx");
        let p = dir.path().display().to_string();
        let ports = [free_port(), free_port(), free_port(), free_port()];
        let dead = free_port();
        let server = |port: u16, upstream: String, extra: &str| {
            format!(
                "server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://{upstream}; {extra} proxy_read_timeout 20s; }} }}\n"
            )
        };
        let upgrade =
            "proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";";
        let config = format!(
            "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/error.log info;\n\
             events {{ worker_connections 64; }}\nhttp {{\n access_log {p}/access.log;\n\
             client_body_temp_path {p}/client_body;\n proxy_temp_path {p}/proxy;\n\
             fastcgi_temp_path {p}/fastcgi;\n uwsgi_temp_path {p}/uwsgi;\n scgi_temp_path {p}/scgi;\n\
             {}{}{}{}}}\n",
            server(ports[0], backend.to_string(), ""),
            server(ports[1], backend.to_string(), "proxy_http_version 1.1;"),
            server(
                ports[2],
                backend.to_string(),
                &format!("proxy_http_version 1.1; {upgrade}")
            ),
            server(ports[3], format!("127.0.0.1:{dead}"), ""),
        );
        let config_path = dir.write("nginx.conf", &config);
        let mut command = Command::new(binary("nginx"));
        command
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&config_path)
            .arg("-e")
            .arg(dir.path().join("error.log"));
        let mut daemon = Daemon::start("nginx", command, dir.path().join("nginx.out"));
        daemon.wait_listening(&ports);
        Self {
            http10: ports[0],
            no_upgrade: ports[1],
            correct: ports[2],
            dead_backend: ports[3],
            _daemon: daemon,
            _dir: dir,
        }
    }
}

/// squid 5 as an accelerator (reverse proxy) in front of `backend`: it forwards the request as
/// a plain `GET`, without the upgrade.
pub(crate) struct Squid {
    pub(crate) port: u16,
    _daemon: Daemon,
    _dir: TempDir,
}

impl Squid {
    pub(crate) fn start(backend: SocketAddr) -> Self {
        let dir = TempDir::new("squid");
        let d = dir.path().display().to_string();
        let port = free_port();
        let backend_port = backend.port();
        let config = dir.write(
            "squid.conf",
            &format!(
                "http_port 127.0.0.1:{port} accel defaultsite=127.0.0.1:{backend_port} no-vhost\n\
                 cache_peer 127.0.0.1 parent {backend_port} 0 no-query originserver name=backend\n\
                 acl local src 127.0.0.1/32\nhttp_access allow local\nhttp_access deny all\n\
                 cache_peer_access backend allow all\n\
                 pid_filename {d}/squid.pid\ncache_log {d}/cache.log\naccess_log none\n\
                 cache deny all\ncache_mem 8 MB\ncoredump_dir {d}\npinger_enable off\n\
                 shutdown_lifetime 0 seconds\nnetdb_filename none\nicp_port 0\nhtcp_port 0\n\
                 dns_nameservers 127.0.0.1\n"
            ),
        );
        // squid drops privileges to `proxy`, which must write its logs and pid file here.
        let chown = Command::new("chown")
            .args(["-R", "proxy:proxy"])
            .arg(dir.path())
            .status()
            .expect("run chown");
        assert!(chown.success(), "chown proxy:proxy {d} failed");
        let mut command = Command::new(binary("squid"));
        command.args(["-N", "-d", "1", "-f"]).arg(&config);
        let mut daemon = Daemon::start("squid", command, dir.path().join("squid.out"));
        daemon.wait_listening(&[port]);
        Self {
            port,
            _daemon: daemon,
            _dir: dir,
        }
    }
}
