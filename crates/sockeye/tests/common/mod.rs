//! Shared by the interop tests (`crates/sockeye/tests/interop_python.rs`) and the CLI tests
//! (`crates/sockeye-cli/tests/cli.rs`, which includes this file by path): finding the Python peers,
//! running child processes under a guard that kills them, and the deterministic message contents
//! that `peers/patterns.py` also builds.
//!
//! Every wait here is bounded by [`PEER_TIMEOUT`]; nothing sleeps.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

/// The longest any single step may take: a line from a peer, a peer's exit, an accept.
pub(crate) const PEER_TIMEOUT: Duration = Duration::from_secs(30);
/// Read and write timeout for sockets the tests drive themselves.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// The sizes of `peers/patterns.py`: every payload-length encoding of RFC 6455 section 5.2
/// (7-bit, 16-bit, 64-bit) at its edges, plus a 4 MiB message.
pub(crate) const SIZES: [usize; 7] = [0, 1, 125, 126, 65535, 65536, 4 * 1024 * 1024];

/// `size` bytes where byte `i` is `(i * 31 + 7) % 251` (as `patterns.pattern_bytes`).
pub(crate) fn pattern_bytes(size: usize) -> Vec<u8> {
    (0..size).map(|i| ((i * 31 + 7) % 251) as u8).collect()
}

/// A string of exactly `size` UTF-8 bytes: "aé€😀" (1 + 2 + 3 + 4 bytes) repeated, then "x"
/// padding (as `patterns.pattern_text`).
pub(crate) fn pattern_text(size: usize) -> String {
    let mut text = "a\u{e9}\u{20ac}\u{1f600}".repeat(size / 10);
    text.push_str(&"x".repeat(size % 10));
    assert_eq!(text.len(), size);
    text
}

/// Text then binary of every size in [`SIZES`], as the peers' `sizes` scenarios send them.
pub(crate) fn pattern_messages() -> Vec<sockeye::Message> {
    SIZES
        .iter()
        .flat_map(|&size| {
            [
                sockeye::Message::text(pattern_text(size)),
                sockeye::Message::binary(pattern_bytes(size)),
            ]
        })
        .collect()
}

/// The workspace root: both crates that use this module live in `crates/NAME`.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// A script in `crates/sockeye/tests/peers/`.
pub(crate) fn peer_script(name: &str) -> PathBuf {
    let path = workspace_root()
        .join("crates/sockeye/tests/peers")
        .join(name);
    assert!(path.is_file(), "missing peer script {}", path.display());
    path
}

/// The Python that has `websockets` 17 and `websocket-client` 1.9: `$SOCKEYE_PYTHON`, else
/// `<workspace>/.venv/bin/python`. Panics (the test fails, it is never skipped) when it is missing.
pub(crate) fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let python = std::env::var_os("SOCKEYE_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
        let how = "run scripts/test.sh (it creates .venv with websockets==17.* and \
                   websocket-client==1.9.* and sets SOCKEYE_PYTHON), or point SOCKEYE_PYTHON \
                   at a Python that has both";
        assert!(
            python.exists(),
            "the Python peers are missing: {} does not exist; {how}",
            python.display()
        );
        let check = "import websockets, websocket; \
                     assert websockets.__version__.startswith('17.'), websockets.__version__; \
                     assert websocket.__version__.startswith('1.9.'), websocket.__version__";
        let output = Command::new(&python)
            .args(["-c", check])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}; {how}", python.display()));
        assert!(
            output.status.success(),
            "{} lacks the peer modules: {}; {how}",
            python.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        python
    })
}

/// A Python peer script with its arguments, unbuffered.
pub(crate) fn python_peer(script: &str, args: &[&str]) -> Command {
    let mut command = Command::new(python());
    command.arg("-u").arg(peer_script(script)).args(args);
    command
}

/// What a finished child printed, and how it exited.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    /// Every stdout line, including those already taken with [`Peer::line`].
    pub(crate) stdout: Vec<String>,
    pub(crate) stderr: String,
}

impl Finished {
    /// The stdout lines that start with `event` and a tab, split into their fields after it.
    pub(crate) fn events(&self, event: &str) -> Vec<Vec<String>> {
        events(&self.stdout, event)
    }

    /// Panics unless the child exited with status 0.
    pub(crate) fn assert_success(&self, name: &str) {
        assert!(
            self.status.success(),
            "{name} exited with {}\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout.join("\n"),
            self.stderr
        );
    }
}

/// The lines that start with `event` and a tab, split into their tab-separated fields after it.
pub(crate) fn events(lines: &[String], event: &str) -> Vec<Vec<String>> {
    lines
        .iter()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            (fields.next() == Some(event)).then(|| fields.map(str::to_string).collect())
        })
        .collect()
}

/// A running child process whose stdout lines and stderr are collected by threads.
///
/// Dropping it kills the child and waits for it, so a failing test never leaves a peer behind.
pub(crate) struct Peer {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stdout_done: bool,
    stderr: Option<JoinHandle<String>>,
}

impl Peer {
    /// Starts `command` with stdout and stderr captured and stdin closed.
    pub(crate) fn spawn(name: &str, command: Command) -> Self {
        Self::start(name, command, false)
    }

    /// Starts `command` with stdin as a pipe ([`Peer::stdin`]).
    pub(crate) fn spawn_with_stdin(name: &str, command: Command) -> Self {
        Self::start(name, command, true)
    }

    fn start(name: &str, mut command: Command, piped_stdin: bool) -> Self {
        command
            .stdin(if piped_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {name} ({command:?}): {err}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        });
        Self {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            stdout_done: false,
            stderr: Some(stderr),
        }
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's stdin (only for [`Peer::spawn_with_stdin`]); `close_stdin` ends it.
    pub(crate) fn stdin(&mut self) -> &mut ChildStdin {
        self.stdin.as_mut().expect("stdin is piped")
    }

    /// Closes the child's stdin: it reads end of file.
    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends the child a signal by name (`TERM`, `INT`) with kill(1).
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|err| panic!("cannot run kill: {err}"));
        assert!(status.success(), "kill -s {name} {} failed", self.name);
    }

    /// The next stdout line, waiting at most [`PEER_TIMEOUT`].
    pub(crate) fn line(&mut self) -> String {
        match self.lines.recv_timeout(PEER_TIMEOUT) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "{} printed nothing for {PEER_TIMEOUT:?}; stdout so far:\n{}",
                    self.name,
                    self.seen.join("\n")
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                let name = self.name.clone();
                let seen = self.seen.join("\n");
                let stderr = self.kill_and_collect_stderr();
                panic!("{name} ended its output early; stdout:\n{seen}\nstderr:\n{stderr}")
            }
        }
    }

    /// The stdout lines taken so far with [`Peer::line`] and [`Peer::event`].
    pub(crate) fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Skips stdout lines until one for `event` (its first tab-separated field) and returns
    /// that line's other fields.
    pub(crate) fn event(&mut self, event: &str) -> Vec<String> {
        loop {
            let line = self.line();
            let mut fields = line.split('\t');
            if fields.next() == Some(event) {
                return fields.map(str::to_string).collect();
            }
        }
    }

    /// Waits (at most [`PEER_TIMEOUT`] in all) for the child to exit and for its output to end.
    pub(crate) fn finish(mut self) -> Finished {
        self.stdin = None;
        let deadline = Instant::now() + PEER_TIMEOUT;
        let status = match self
            .child
            .wait_timeout(PEER_TIMEOUT)
            .expect("waiting for a child works")
        {
            Some(status) => status,
            None => {
                let seen = self.seen.join("\n");
                let stderr = self.kill_and_collect_stderr();
                panic!(
                    "{} did not exit within {PEER_TIMEOUT:?}; stdout:\n{seen}\nstderr:\n{stderr}",
                    self.name
                )
            }
        };
        while !self.stdout_done {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => self.stdout_done = true,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{} exited but its stdout stayed open (a grandchild holds it?)",
                    self.name
                ),
            }
        }
        let stderr = self.join_stderr();
        Finished {
            status,
            stdout: std::mem::take(&mut self.seen),
            stderr,
        }
    }

    /// Kills the child and describes what it printed, for a failure message.
    pub(crate) fn kill_and_report(mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        let stderr = self.kill_and_collect_stderr();
        format!(
            "{} stdout:\n{}\nstderr:\n{stderr}",
            self.name,
            self.seen.join("\n")
        )
    }

    /// Kills the child, then returns what it wrote to stderr.
    fn kill_and_collect_stderr(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait_timeout(PEER_TIMEOUT);
        self.join_stderr()
    }

    /// The stderr text, once the child has exited (its pipe then ends).
    fn join_stderr(&mut self) -> String {
        let Some(handle) = self.stderr.take() else {
            return String::new();
        };
        // The pipe ends when the child exits; a grandchild could keep it open, so bound the wait.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(handle.join().unwrap_or_default());
        });
        rx.recv_timeout(PEER_TIMEOUT)
            .unwrap_or_else(|_| "(stderr still open)".to_string())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stdin = None;
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait_timeout(PEER_TIMEOUT);
    }
}

/// A running `peers/websockets_server.py`.
pub(crate) struct PythonServer {
    pub(crate) peer: Peer,
    pub(crate) port: u16,
}

impl PythonServer {
    /// Starts the server with extra flags (`--compression none`, `--subprotocols a,b`) and reads
    /// the port it chose.
    pub(crate) fn start(flags: &[&str]) -> Self {
        let mut peer = Peer::spawn(
            "websockets_server.py",
            python_peer("websockets_server.py", flags),
        );
        let port = peer.event("port");
        let port = port
            .first()
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("the server printed no port: {port:?}"));
        Self { peer, port }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    /// The next `closed` event: (received code, received reason, sent code, sent reason).
    pub(crate) fn closed(&mut self) -> [String; 4] {
        fields::<4>("closed", self.peer.event("closed"))
    }
}

/// An event's fields as an array of exactly `N`.
pub(crate) fn fields<const N: usize>(event: &str, fields: Vec<String>) -> [String; N] {
    fields
        .try_into()
        .unwrap_or_else(|fields| panic!("{event} should have {N} fields: {fields:?}"))
}

/// Runs `work` on a thread and waits at most [`PEER_TIMEOUT`] for its result (`Err` on time-out).
///
/// For blocking calls that have no timeout of their own, like `TcpListener::accept`. On time-out
/// the thread is left behind; it ends with the test process.
pub(crate) fn within_timeout<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(PEER_TIMEOUT).map_err(|err| match err {
        RecvTimeoutError::Timeout => format!("{what} took longer than {PEER_TIMEOUT:?}"),
        RecvTimeoutError::Disconnected => format!("{what} panicked"),
    })
}
