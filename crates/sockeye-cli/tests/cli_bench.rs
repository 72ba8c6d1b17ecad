//! `sockeye bench` end to end, against `sockeye serve` on 127.0.0.1 (port 0): short runs by count
//! and by duration, the JSON fields, the rate limit, the human summary, and the exit status when
//! nothing listens.
//!
//! Every run is bounded (`-n` or `-d`), and every process is killed when its test ends.

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
mod support;

use std::net::TcpListener;

use common::Peer;
use serde_json::Value;
use support::{serve, sockeye};

/// Runs `sockeye bench URL ARGS --json` to the end and parses its one line of JSON.
fn bench_json(url: &str, args: &[&str]) -> Value {
    let mut all = vec!["bench", url, "--json", "--connect-timeout", "10"];
    all.extend_from_slice(args);
    let finished = Peer::spawn("sockeye bench", sockeye(&all)).finish();
    finished.assert_success("sockeye bench");
    assert_eq!(finished.stdout.len(), 1, "{:#?}", finished.stdout);
    serde_json::from_str(&finished.stdout[0])
        .unwrap_or_else(|err| panic!("not JSON ({err}): {}", finished.stdout[0]))
}

fn number(report: &Value, path: &[&str]) -> f64 {
    let mut value = report;
    for key in path {
        value = &value[key];
    }
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number in {report}"))
}

/// The latency percentiles are present, positive and in order.
fn assert_latency_in_order(report: &Value) {
    let mut previous = 0.0;
    for key in ["min", "p50", "p90", "p99", "p999", "max"] {
        let value = number(report, &["latency_us", key]);
        assert!(value > 0.0 && value >= previous, "{key} in {report}");
        previous = value;
    }
    assert!(number(report, &["latency_us", "mean"]) > 0.0, "{report}");
}

#[test]
fn bench_by_count_reports_every_reply_in_json() {
    let (_server, url) = serve(&[]);
    let report = bench_json(
        &url,
        &["-n", "2000", "-c", "4", "-w", "8", "-s", "64", "--binary"],
    );
    assert_eq!(report["messages"], 2000, "{report}");
    assert_eq!(report["bytes"], 2000 * 64, "{report}");
    assert_eq!(report["connections"], 4);
    assert_eq!(report["window"], 8);
    assert_eq!(report["size"], 64);
    assert_eq!(report["binary"], true);
    assert_eq!(report["threads"], 1);
    assert_eq!(report["errors"], Value::Array(vec![]), "{report}");
    // permessage-deflate is not offered unless asked for.
    assert_eq!(report["compressed_connections"], 0, "{report}");
    assert!(number(&report, &["msgs_per_sec"]) > 0.0, "{report}");
    assert!(number(&report, &["mb_per_sec"]) > 0.0, "{report}");
    assert!(number(&report, &["duration_s"]) > 0.0, "{report}");
    assert_latency_in_order(&report);
}

#[test]
fn bench_by_duration_with_warmup_on_two_threads() {
    let (_server, url) = serve(&[]);
    let report = bench_json(
        &url,
        &[
            "-d",
            "0.5",
            "--warmup",
            "0.2",
            "-s",
            "1k",
            "-c",
            "2",
            "-w",
            "4",
            "--threads",
            "2",
        ],
    );
    assert_eq!(report["duration_s"], 0.5, "{report}");
    assert_eq!(report["warmup_s"], 0.2, "{report}");
    assert_eq!(report["binary"], false);
    assert_eq!(report["threads"], 2);
    assert!(number(&report, &["messages"]) > 0.0, "{report}");
    let rate = number(&report, &["msgs_per_sec"]);
    assert!(
        (rate - number(&report, &["messages"]) / 0.5).abs() < 1.0,
        "{report}"
    );
    assert_latency_in_order(&report);
}

#[test]
fn bench_rate_limit_holds_the_message_rate() {
    let (_server, url) = serve(&[]);
    let report = bench_json(&url, &["-d", "1", "-c", "2", "--rate", "200", "-w", "4"]);
    let messages = number(&report, &["messages"]);
    // 200 msg/s for one second, give or take scheduling on a busy machine.
    assert!((150.0..=230.0).contains(&messages), "{report}");
}

#[test]
fn bench_times_messages_too_small_to_carry_a_stamp() {
    let (_server, url) = serve(&[]);
    let report = bench_json(&url, &["-n", "300", "-w", "3", "-s", "2"]);
    assert_eq!(report["messages"], 300, "{report}");
    assert_latency_in_order(&report);
}

#[test]
fn bench_with_deflate_still_counts_every_echo() {
    let (_server, url) = serve(&[]);
    let report = bench_json(&url, &["-n", "500", "-w", "4", "-s", "1k", "--deflate"]);
    assert_eq!(report["messages"], 500, "{report}");
    let compressed = number(&report, &["compressed_connections"]);
    assert!(compressed == 0.0 || compressed == 1.0, "{report}");
    assert_latency_in_order(&report);
}

#[test]
fn bench_prints_a_summary_for_people() {
    let (_server, url) = serve(&[]);
    let finished = Peer::spawn(
        "sockeye bench",
        sockeye(&["bench", &url, "-n", "200", "-w", "2"]),
    )
    .finish();
    finished.assert_success("sockeye bench");
    let out = finished.stdout.join("\n");
    assert!(
        out.contains("1 connection, 16 B text messages, window 2"),
        "{out}"
    );
    assert!(out.contains("msg/s"), "{out}");
    assert!(out.contains("p99"), "{out}");
    // Not a terminal: no progress line.
    assert!(!finished.stderr.contains('\r'), "{}", finished.stderr);
}

#[test]
fn bench_exits_3_when_nothing_listens() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        listener.local_addr().expect("local address").port()
    };
    let url = format!("ws://127.0.0.1:{port}/");
    let finished = Peer::spawn("sockeye bench", sockeye(&["bench", &url, "-n", "10"])).finish();
    assert_eq!(finished.status.code(), Some(3), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("cannot connect"),
        "{}",
        finished.stderr
    );
}

/// `sockeye bench URL | head -1`: the reader is gone before the report is written. A broken
/// pipe is not an error (it used to panic with "failed printing to stdout").
#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    let (_server, url) = serve(&[]);
    let mut child = sockeye(&["bench", &url, "-n", "100", "--quiet"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sockeye bench starts");
    // Closing our end of stdout makes every write the report tries fail with EPIPE.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("sockeye bench ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
