//! Node.js peers for the interop tests: where their packages are, and a check that fails the test
//! (never skips it) when node or a package is missing.
//!
//! Shared by `crates/sockeye/tests/interop_node.rs` (Node's `ws`) and
//! `crates/sockeye-cli/tests/chromium.rs` (`playwright-core`), which include this file by path.
//! The packages are installed by `scripts/test.sh` into `<workspace>/.node/node_modules`
//! (`npm install --no-save --prefix .node ws@8 playwright-core@1`, kept out of git);
//! `$SOCKEYE_NODE_MODULES` names another directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The `node_modules` directory the peers load their packages from.
pub(crate) fn node_modules() -> PathBuf {
    std::env::var_os("SOCKEYE_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../.node/node_modules")
                .components()
                .collect()
        })
}

/// Panics (the test fails; it is never skipped) unless node runs and `dir` holds `package` with
/// a version starting with `major` (such as `"8."`).
pub(crate) fn require_package(dir: &Path, package: &str, major: &str) {
    let how = "run scripts/test.sh (it installs the Node packages with `npm install --no-save \
               --prefix .node ws@8 playwright-core@1`), or point SOCKEYE_NODE_MODULES at a \
               node_modules directory that has them";
    let script = format!("process.stdout.write(require('{package}/package.json').version)");
    let output = Command::new("node")
        .args(["-e", &script])
        .env("NODE_PATH", dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| {
            panic!("Node's `{package}` is missing: cannot run node ({err}); {how}")
        });
    let version = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && version.starts_with(major),
        "Node's `{package}` is missing: no {package} {major}x in {} (found {version:?}; {}); {how}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// `node SCRIPT ARGS…` with `NODE_PATH` set to [`node_modules`].
pub(crate) fn node_script(script: &Path, args: &[&str]) -> Command {
    assert!(script.is_file(), "missing Node script {}", script.display());
    let mut command = Command::new("node");
    command
        .env("NODE_PATH", node_modules())
        .arg(script)
        .args(args);
    command
}
