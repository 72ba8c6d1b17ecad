//! Real proxies for the proxy tests, from Debian's packages (installed by `scripts/test.sh`):
//! tinyproxy and squid (HTTP `CONNECT`, squid also as an `https://` proxy), dante-server (SOCKS4,
//! SOCKS5, with and without username/password), microsocks (SOCKS5) and OpenSSH's dynamic
//! forwarding, `ssh -D` (SOCKS4, SOCKS4a, SOCKS5: neither dante nor any other Debian SOCKS server
//! speaks SOCKS4a).
//!
//! Every proxy runs on 127.0.0.1 on a free port, from a configuration written to a fresh
//! temporary directory, with its logs in that directory (shown when a test fails). Dropping a
//! [`Proxy`] stops it (SIGTERM, then SIGKILL) and removes the directory. Waiting for a proxy to
//! listen is bounded by [`START_TIMEOUT`]. Nothing leaves loopback, so the tests run inside
//! `unshare -n`.
//!
//! Also here: [`EchoServer`], an in-process sockeye echo server behind the proxies, and
//! [`closed_port`].
//!
//! Used by `crates/sockeye/tests/proxies.rs` and `crates/sockeye-cli/tests/proxies.rs`.

#![allow(dead_code)]

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use sockeye::blocking;
use sockeye::{Error, Message};
use wait_timeout::ChildExt;

/// The longest a proxy may take to start listening.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The system account dante's `socksmethod: username` checks (created by `scripts/test.sh`).
pub(crate) const SYSTEM_USER: &str = "sockeye-proxy";
/// Its password.
pub(crate) const SYSTEM_PASSWORD: &str = "sockeye-proxy-pw";

/// A directory under the system's temporary directory, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(what: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "sockeye-{what}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create a temporary directory");
        // Proxies that drop privileges (squid, dante's children) must read their files.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .expect("chmod the temporary directory");
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `name` in the directory, readable by everyone, and returns its path.
    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, contents).expect("write a temporary file");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod a file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A port on 127.0.0.1 that was free a moment ago (the OS picks it).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A port on 127.0.0.1 where nothing listens.
pub(crate) fn closed_port() -> u16 {
    free_port()
}

/// A child process whose output goes to a log file; stopped on drop.
struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(name: &str, mut command: Command, log: PathBuf) -> Self {
        let out = fs::File::create(&log).expect("create a log file");
        let err = out.try_clone().expect("clone a file handle");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = command.spawn().unwrap_or_else(|err| {
            panic!(
                "cannot start {name} ({command:?}): {err}; run scripts/test.sh, which installs it"
            )
        });
        Self {
            name: name.to_string(),
            child,
            log,
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until `port` accepts TCP; panics with the log if the daemon exits or
    /// the time runs out.
    fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before listening on {port}; its log:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {port} within {START_TIMEOUT:?}; its log:\n{}",
                self.name,
                self.log_text()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGTERM lets squid, dante and sshd stop their helper processes too.
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if let Ok(None) = self.child.wait_timeout(Duration::from_secs(5)) {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait_timeout(Duration::from_secs(5));
    }
}

/// A running proxy on 127.0.0.1.
pub(crate) struct Proxy {
    /// Which server it is, for messages.
    pub(crate) name: &'static str,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    /// For `https://` proxies (squid's `https_port`): the PEM certificate to trust.
    pub(crate) ca_file: Option<PathBuf>,
    /// Last started first: stopped in reverse order (the ssh client before sshd).
    daemons: Vec<Daemon>,
    dir: TempDir,
}

impl Proxy {
    /// `scheme://[user:password@]127.0.0.1:port`.
    pub(crate) fn url(&self, scheme: &str, credentials: Option<(&str, &str)>) -> String {
        match credentials {
            Some((user, "")) => format!("{scheme}://{user}@127.0.0.1:{}", self.port),
            Some((user, password)) => {
                format!("{scheme}://{user}:{password}@127.0.0.1:{}", self.port)
            }
            None => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// Every daemon's log, for assertion messages.
    pub(crate) fn logs(&self) -> String {
        self.daemons
            .iter()
            .map(|daemon| format!("--- {} ---\n{}", daemon.name, daemon.log_text()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn start(name: &'static str, dir: TempDir, port: u16, command: Command) -> Self {
        let log = dir.path().join(format!("{name}.log"));
        let mut daemon = Daemon::start(name, command, log);
        daemon.wait_listening(port);
        Self {
            name,
            port,
            ca_file: None,
            daemons: vec![daemon],
            dir,
        }
    }

    /// tinyproxy 1.11: `CONNECT` only to 127.0.0.1 or localhost (other hosts get "403
    /// Filtered"), and only to `allowed_port` (other ports get
    /// "403 Access violation"), with `BasicAuth` when `credentials` are given (no credentials:
    /// 407, wrong ones: 401).
    pub(crate) fn tinyproxy(allowed_port: u16, credentials: Option<(&str, &str)>) -> Self {
        let dir = TempDir::new("tinyproxy");
        let port = free_port();
        let filter = dir.write("filter", "^127\\.0\\.0\\.1$\n^localhost$\n");
        let auth = credentials
            .map(|(user, password)| format!("BasicAuth {user} {password}\n"))
            .unwrap_or_default();
        let config = dir.write(
            "tinyproxy.conf",
            &format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\n\
                 DisableViaHeader Yes\nMaxClients 20\nConnectPort {allowed_port}\n\
                 Filter \"{}\"\nFilterDefaultDeny Yes\nLogLevel Info\n{auth}",
                filter.display()
            ),
        );
        let mut command = Command::new("tinyproxy");
        command.arg("-d").arg("-c").arg(&config);
        Self::start("tinyproxy", dir, port, command)
    }

    /// squid 5.7: `CONNECT` only to `allowed_port` (others: "403 Forbidden", X-Squid-Error
    /// ERR_ACCESS_DENIED), with Basic authentication through `basic_ncsa_auth` when
    /// `credentials` are given (missing or wrong: 407). With `https`, it also listens with TLS
    /// (`https_port`) with `tls = Some((certificate PEM, key PEM))`, and that is the port
    /// returned, with the certificate as [`Proxy::ca_file`].
    pub(crate) fn squid(
        allowed_port: u16,
        credentials: Option<(&str, &str)>,
        tls: Option<(String, String)>,
    ) -> Self {
        let dir = TempDir::new("squid");
        let port = free_port();
        let d = dir.path().display().to_string();
        let mut auth = String::new();
        let mut allow = "http_access allow local\n".to_string();
        if let Some((user, password)) = credentials {
            let hash = Command::new("openssl")
                .args(["passwd", "-apr1", password])
                .output()
                .expect("run openssl passwd (scripts/test.sh installs openssl)");
            let hash = String::from_utf8_lossy(&hash.stdout).trim().to_string();
            dir.write("passwd", &format!("{user}:{hash}\n"));
            auth = format!(
                "auth_param basic program /usr/lib/squid/basic_ncsa_auth {d}/passwd\n\
                 auth_param basic realm sockeye-test\nacl authed proxy_auth REQUIRED\n"
            );
            allow = "http_access allow local authed\n".to_string();
        }
        let mut listen = format!("http_port 127.0.0.1:{port}\n");
        let mut ca_file = None;
        let mut tls_port = None;
        if let Some((cert_pem, key_pem)) = tls {
            let cert = dir.write("proxy-cert.pem", &cert_pem);
            let key = dir.write("proxy-key.pem", &key_pem);
            let https_port = free_port();
            listen.push_str(&format!(
                "https_port 127.0.0.1:{https_port} tls-cert={} tls-key={}\n",
                cert.display(),
                key.display()
            ));
            ca_file = Some(cert);
            tls_port = Some(https_port);
        }
        let config = dir.write(
            "squid.conf",
            &format!(
                "{listen}pid_filename {d}/squid.pid\ncache_log {d}/cache.log\naccess_log none\n\
                 cache deny all\ncache_mem 8 MB\ncoredump_dir {d}\npinger_enable off\n\
                 shutdown_lifetime 0 seconds\nnetdb_filename none\nicp_port 0\nhtcp_port 0\n\
                 dns_nameservers 127.0.0.1\n{auth}acl local src 127.0.0.1/32\n\
                 acl tunnel_ports port {allowed_port}\nacl CONNECT method CONNECT\n\
                 http_access deny CONNECT !tunnel_ports\n{allow}http_access deny all\n"
            ),
        );
        // squid drops privileges to `proxy`, which must write its logs and pid file here.
        let chown = Command::new("chown")
            .args(["-R", "proxy:proxy"])
            .arg(dir.path())
            .status()
            .expect("run chown");
        assert!(chown.success(), "chown proxy:proxy {d} failed");
        let mut command = Command::new("squid");
        command.args(["-N", "-d", "1", "-f"]).arg(&config);
        let mut proxy = Self::start("squid", dir, port, command);
        if let Some(tls_port) = tls_port {
            proxy.daemons[0].wait_listening(tls_port);
            proxy.port = tls_port;
        }
        proxy.ca_file = ca_file;
        proxy
    }

    /// dante-server 1.4 (`danted`): SOCKS4 and SOCKS5 to anywhere from 127.0.0.1, except
    /// `blocked_port` on 127.0.0.1 (a `socks block` rule: SOCKS4 reply 91, SOCKS5 reply 2). With
    /// `system_users`, `socksmethod: username`: SOCKS5 clients must log in as a system account
    /// ([`SYSTEM_USER`]).
    pub(crate) fn dante(blocked_port: u16, system_users: bool) -> Self {
        if system_users {
            assert_system_user();
        }
        let dir = TempDir::new("dante");
        let port = free_port();
        let method = if system_users { "username" } else { "none" };
        let config = dir.write(
            "danted.conf",
            &format!(
                "logoutput: stderr\ninternal: 127.0.0.1 port = {port}\nexternal: 127.0.0.1\n\
                 clientmethod: none\nsocksmethod: {method}\nuser.privileged: root\n\
                 user.unprivileged: nobody\n\
                 client pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  log: error\n}}\n\
                 socks block {{\n  from: 0.0.0.0/0 to: 127.0.0.1/32 port = {blocked_port}\n  log: error\n}}\n\
                 socks pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  command: connect\n  log: connect error\n}}\n"
            ),
        );
        let mut command = Command::new("/usr/sbin/danted");
        command.arg("-f").arg(&config);
        Self::start("danted", dir, port, command)
    }

    /// microsocks: SOCKS5, with username/password when `credentials` are given.
    pub(crate) fn microsocks(credentials: Option<(&str, &str)>) -> Self {
        let dir = TempDir::new("microsocks");
        let port = free_port();
        let mut command = Command::new("microsocks");
        command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
        if let Some((user, password)) = credentials {
            command.args(["-u", user, "-P", password]);
        }
        Self::start("microsocks", dir, port, command)
    }

    /// OpenSSH dynamic forwarding: `sshd` on 127.0.0.1 with a throwaway host key, and
    /// `ssh -N -D` logged in to it with a throwaway client key. The `-D` port speaks SOCKS4,
    /// SOCKS4a and SOCKS5 (no authentication); a refused destination closes the connection.
    pub(crate) fn ssh_dynamic_forward() -> Self {
        let dir = TempDir::new("sshd");
        let d = dir.path().display().to_string();
        for key in ["host_key", "client_key"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.path().join(key))
                .status()
                .expect("run ssh-keygen (scripts/test.sh installs openssh-client)");
            assert!(status.success(), "ssh-keygen failed");
        }
        fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("copy the client key");
        let sshd_port = free_port();
        let config = dir.write(
            "sshd_config",
            &format!(
                "ListenAddress 127.0.0.1\nPort {sshd_port}\nHostKey {d}/host_key\nPidFile none\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nAllowTcpForwarding yes\nPermitTTY no\nX11Forwarding no\n\
                 PrintMotd no\nLogLevel INFO\n"
            ),
        );
        // sshd's privilege separation directory.
        fs::create_dir_all("/run/sshd").expect("create /run/sshd (the tests run as root)");
        let mut sshd = Command::new("/usr/sbin/sshd");
        sshd.args(["-D", "-e", "-f"]).arg(&config);
        let mut proxy = Self::start("sshd", dir, sshd_port, sshd);
        let port = free_port();
        let user = std::env::var("USER").unwrap_or_else(|_| "root".to_string());
        let mut ssh = Command::new("ssh");
        ssh.args(["-F", "/dev/null", "-N", "-D", &format!("127.0.0.1:{port}")])
            .arg("-i")
            .arg(proxy.dir.path().join("client_key"))
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "IdentityAgent=none",
                "-o",
                "ExitOnForwardFailure=yes",
                "-p",
                &sshd_port.to_string(),
                &format!("{user}@127.0.0.1"),
            ]);
        let log = proxy.dir.path().join("ssh.log");
        let mut client = Daemon::start("ssh -D", ssh, log);
        client.wait_listening(port);
        proxy.daemons.push(client);
        proxy.name = "ssh -D";
        proxy.port = port;
        proxy
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        while let Some(daemon) = self.daemons.pop() {
            drop(daemon);
        }
    }
}

/// Panics, saying how to create it, unless the account dante checks exists.
fn assert_system_user() {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    assert!(
        passwd
            .lines()
            .any(|line| line.starts_with(&format!("{SYSTEM_USER}:"))),
        "the system account {SYSTEM_USER} that dante's username method checks is missing: run \
         scripts/test.sh, or as root: useradd --system --no-create-home --shell \
         /usr/sbin/nologin {SYSTEM_USER} && echo '{SYSTEM_USER}:{SYSTEM_PASSWORD}' | chpasswd"
    );
}

/// An in-process sockeye echo server on 127.0.0.1 (text and binary messages), one thread per
/// connection. Its threads end with the test process.
pub(crate) struct EchoServer {
    pub(crate) port: u16,
}

impl EchoServer {
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    let Ok(mut socket) = blocking::accept(stream) else {
                        return;
                    };
                    loop {
                        match socket.read() {
                            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                                if socket.send(message).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(Error::ConnectionClosed) | Err(_) => return,
                        }
                    }
                });
            }
        });
        Self { port }
    }

    /// `ws://HOST:PORT/path`.
    pub(crate) fn url(&self, host: &str) -> String {
        format!("ws://{host}:{}/echo", self.port)
    }
}
