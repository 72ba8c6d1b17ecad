//! Secrets in a URL on the command line never reach stderr when the command line itself is
//! wrong: clap's usage errors (which quote the argument they could not use) and sockeye's own
//! URL errors, for each subcommand that takes a URL. `--show-secrets` shows them.
//!
//! Nothing here connects anywhere: every command fails before it would.
#![allow(clippy::unwrap_used)]

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
mod support;

use std::process::Output;

use support::sockeye;

/// The password, the token and the OAuth code the URLs below carry.
const SECRETS: [&str; 3] = ["hunter2pw", "tok3n-value", "0auth-c0de"];
const URL: &str = "ws://alice:hunter2pw@127.0.0.1:9/feed?token=tok3n-value&code=0auth-c0de&room=7";
const REDACTED_URL: &str =
    "ws://alice:[redacted]@127.0.0.1:9/feed?token=[redacted]&code=[redacted]&room=7";

fn run(args: &[&str]) -> Output {
    sockeye(args).output().unwrap()
}

/// Exits with `code`, says `expected` (on stderr, or in `probe`'s report on stdout), and
/// shows none of the secrets on either.
#[track_caller]
fn assert_hidden(args: &[&str], code: i32, expected: &str) {
    let output = run(args);
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(output.status.code(), Some(code), "{args:?}: {shown}");
    for secret in SECRETS {
        assert!(
            !shown.contains(secret),
            "{args:?} shows {secret:?}: {shown}"
        );
    }
    assert!(
        shown.contains(expected),
        "{args:?}: {expected:?} missing: {shown}"
    );
}

#[test]
fn a_url_where_a_subcommand_belongs_is_redacted() {
    // `sockeye URL`, forgetting `connect`.
    assert_hidden(
        &[URL],
        2,
        &format!("unrecognized subcommand '{REDACTED_URL}'"),
    );
}

#[test]
fn a_url_in_the_wrong_place_is_redacted() {
    // A second URL, a URL as a flag's value, a URL next to an unknown flag.
    assert_hidden(
        &["connect", "ws://127.0.0.1:9/", URL],
        2,
        &format!("unexpected argument '{REDACTED_URL}'"),
    );
    assert_hidden(
        &["connect", "--max-time", URL, "ws://127.0.0.1:9/"],
        2,
        &format!("invalid value '{REDACTED_URL}' for '--max-time"),
    );
    assert_hidden(
        &["probe", "--connect-timeout", URL, "ws://127.0.0.1:9/"],
        2,
        &format!("invalid value '{REDACTED_URL}'"),
    );
    assert_hidden(
        &["bench", URL, "--connections", URL],
        2,
        &format!("invalid value '{REDACTED_URL}'"),
    );
    assert_hidden(
        &["connect", URL, "--bogus"],
        2,
        "unexpected argument '--bogus'",
    );
}

#[test]
fn invalid_urls_are_redacted() {
    assert_hidden(
        &["connect", "ws://alice:hunter2pw@[bad"],
        3,
        "invalid URL \"ws://alice:[redacted]@[bad\"",
    );
    assert_hidden(
        &["connect", "ftp://alice:hunter2pw@h/?token=tok3n-value"],
        3,
        "ftp://alice:[redacted]@h/?token=[redacted]",
    );
    assert_hidden(
        &["probe", "ws://alice:hunter2pw@[bad"],
        10,
        "ws://alice:[redacted]@[bad",
    );
    // No scheme: the suggested ws:// URL is redacted too.
    assert_hidden(
        &[
            "connect",
            "alice:hunter2pw@127.0.0.1:9/feed?token=tok3n-value",
        ],
        3,
        "did you mean ws://alice:[redacted]@127.0.0.1:9/feed?token=[redacted]?",
    );
}

#[test]
fn invalid_proxy_urls_are_redacted() {
    assert_hidden(
        &[
            "connect",
            "-x",
            "gopher://alice:hunter2pw@proxy",
            "ws://127.0.0.1:9/",
        ],
        3,
        "--proxy: invalid URL \"gopher://[redacted]@proxy\"",
    );
    assert_hidden(
        &[
            "connect",
            "-x",
            "http://alice:hunter2pw@proxy/x?token=tok3n-value",
            "ws://127.0.0.1:9/",
        ],
        3,
        "but this one has a path",
    );
}

#[test]
fn headers_without_their_separator_are_not_echoed() {
    // `--header "Authorization Bearer …"` forgets the colon; the token stays hidden, the name
    // says which header is meant.
    for subcommand in ["connect", "probe"] {
        let code = if subcommand == "probe" { 10 } else { 3 };
        let run = |flag: &str, value: &str, expected: &str| {
            assert_hidden(
                &[subcommand, "ws://127.0.0.1:9/", flag, value],
                code,
                expected,
            );
        };
        run(
            "--header",
            "Authorization Bearer hunter2pw",
            "--header \"Authorization …\" must look like \"Name: value\": put a colon after the header name (Authorization: …)",
        );
        run(
            "-H",
            "X-Api-Key=tok3n-value",
            "--header \"X-Api-Key …\" must look like \"Name: value\"",
        );
        // No name to tell apart from the value: nothing is quoted.
        run(
            "-H",
            "0auth-c0de",
            "--header must look like \"Name: value\"; one given has no colon",
        );
    }
    let output = run(&[
        "connect",
        "ws://127.0.0.1:9/",
        "-H",
        "Authorization Bearer hunter2pw",
        "--show-secrets",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("--header \"Authorization Bearer hunter2pw\" must look like"),
        "{stderr}"
    );
}

#[test]
fn show_secrets_shows_them() {
    let output = run(&["connect", "ws://127.0.0.1:9/", URL, "--show-secrets"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("unexpected argument '{URL}'")),
        "{stderr}"
    );
    let output = run(&["connect", "ws://alice:hunter2pw@[bad", "--show-secrets"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("ws://alice:hunter2pw@[bad"), "{stderr}");
}

#[test]
fn help_and_version_still_go_to_stdout() {
    let output = run(&["--version"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("sockeye "));
    let output = run(&["connect", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("Usage: sockeye connect"));
    // No arguments at all: the help, on stderr, with clap's usage status.
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Usage: sockeye <COMMAND>"));
}
