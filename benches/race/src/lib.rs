//! The race: what `race-server`, `race-client` and `race-scale` share.
//!
//! - the opening handshake done with sockeye's sans-I/O parsers over a plain `TcpStream`, for the
//!   servers and clients whose libraries do not do it themselves here (fastwebsockets without
//!   its hyper-based `upgrade` feature, and the TCP ceiling);
//! - the payload stamp: the send time in nanoseconds since the run began, 8 bytes little-endian
//!   in binary messages and 16 hex digits in text — the format `sockeye bench` uses, so a reply
//!   is timed from its own bytes;
//! - the latency histogram (the file `sockeye bench` uses, included by path) and the JSON report
//!   in the shape `sockeye bench --json` prints;
//! - a small `--flag value` parser, so the binaries need no argument-parsing dependency.

#[path = "../../../crates/sockeye-cli/src/histogram.rs"]
#[allow(unreachable_pub)]
mod histogram;

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use bytes::BytesMut;
use sockeye::proto::handshake::server::{accept_response, parse_request};
use sockeye::proto::handshake::{Accept, ClientHandshake, ClientRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn invalid(why: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_string())
}

/// A tokio runtime: current-thread for `threads == 1`, else multi-thread with that many workers.
pub fn runtime(threads: usize) -> io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

/// The server side of the opening handshake: reads the request, answers 101. The client sends
/// nothing before the 101, so no frame bytes can be left over; that is checked.
pub async fn accept_handshake(stream: &mut TcpStream) -> io::Result<()> {
    let mut buf = BytesMut::with_capacity(1024);
    let request = loop {
        if let Some(request) = parse_request(&mut buf, 16 * 1024).map_err(invalid)? {
            break request;
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    };
    if !buf.is_empty() {
        return Err(invalid("frame bytes arrived before the 101"));
    }
    let response = accept_response(&request, &Accept::default()).map_err(invalid)?;
    stream.write_all(&response).await
}

/// The client side: sends the request for `host` and `path`, checks the 101.
pub async fn client_handshake(stream: &mut TcpStream, host: &str, path: &str) -> io::Result<()> {
    let mut handshake = ClientHandshake::new(ClientRequest::new(host, path)).map_err(invalid)?;
    stream.write_all(handshake.request_bytes()).await?;
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if handshake.receive(&mut buf).map_err(invalid)?.is_some() {
            break;
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    if !buf.is_empty() {
        return Err(invalid("frame bytes arrived with the 101"));
    }
    Ok(())
}

/// `ws://HOST:PORT/PATH` into `("HOST:PORT", "/PATH")`.
pub fn split_url(url: &str) -> io::Result<(String, String)> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| invalid(format!("{url}: only ws:// URLs")))?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    Ok((authority.to_string(), path.to_string()))
}

/// Bytes a stamp takes: 8 in binary payloads, 16 hex digits in text.
pub fn stamp_len(binary: bool) -> usize {
    if binary {
        8
    } else {
        16
    }
}

/// A payload of `size` bytes ('x' for text, a byte pattern for binary) that starts with the
/// stamp `now_ns`. Sizes below [`stamp_len`] carry no stamp.
pub fn stamped(template: &mut [u8], binary: bool, now_ns: u64) {
    if template.len() < stamp_len(binary) {
        return;
    }
    if binary {
        template[..8].copy_from_slice(&now_ns.to_le_bytes());
    } else {
        for (i, digit) in template[..16].iter_mut().enumerate() {
            *digit = b"0123456789abcdef"[(now_ns >> (60 - 4 * i)) as usize & 0xf];
        }
    }
}

/// The template payload: filler of the right kind.
pub fn template(size: usize, binary: bool) -> Vec<u8> {
    if binary {
        (0..size).map(|i| (i % 251) as u8).collect()
    } else {
        vec![b'x'; size]
    }
}

/// The stamp at the front of a reply, checking its size.
pub fn read_stamp(payload: &[u8], size: usize, binary: bool) -> Result<u64, String> {
    if payload.len() != size {
        return Err(format!(
            "a {size}-byte message came back with {} bytes",
            payload.len()
        ));
    }
    if size < stamp_len(binary) {
        return Err("messages this small carry no stamp; use at least 16 bytes".into());
    }
    let stamp = if binary {
        let mut word = [0; 8];
        word.copy_from_slice(&payload[..8]);
        Some(u64::from_le_bytes(word))
    } else {
        std::str::from_utf8(&payload[..16])
            .ok()
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
    };
    stamp.ok_or_else(|| "a reply that is not one of the messages sent".into())
}

/// Round-trip times and counts of one or more connections.
#[derive(Debug, Default)]
pub struct Recorder {
    histogram: histogram::Histogram,
    last_ns: u64,
}

impl Recorder {
    /// Records one round trip that ended at `now_ns`.
    pub fn record(&mut self, sent_ns: u64, now_ns: u64) {
        self.histogram.record(now_ns.saturating_sub(sent_ns));
        self.last_ns = self.last_ns.max(now_ns);
    }

    /// Adds another connection's round trips.
    pub fn merge(&mut self, other: &Self) {
        self.histogram.merge(&other.histogram);
        self.last_ns = self.last_ns.max(other.last_ns);
    }

    /// Round trips recorded.
    pub fn messages(&self) -> u64 {
        self.histogram.count()
    }

    /// The report in the shape of `sockeye bench --json`; `fields` are added to it.
    pub fn report(
        &self,
        seconds: f64,
        size: usize,
        fields: serde_json::Value,
    ) -> serde_json::Value {
        let h = &self.histogram;
        let per_second = |value: f64| if seconds > 0.0 { value / seconds } else { 0.0 };
        let us = |ns: u64| ns as f64 / 1e3;
        let messages = h.count();
        let mut report = serde_json::json!({
            "size": size,
            "duration_s": seconds,
            "messages": messages,
            "bytes": messages * size as u64,
            "msgs_per_sec": per_second(messages as f64),
            "mb_per_sec": per_second((messages * size as u64) as f64) / 1e6,
            "latency_us": {
                "min": us(h.min()),
                "mean": h.mean() / 1e3,
                "p50": us(h.value_at_quantile(0.5)),
                "p90": us(h.value_at_quantile(0.9)),
                "p99": us(h.value_at_quantile(0.99)),
                "p999": us(h.value_at_quantile(0.999)),
                "max": us(h.max()),
            },
        });
        if let (Some(report), serde_json::Value::Object(fields)) = (report.as_object_mut(), fields)
        {
            report.extend(fields);
        }
        report
    }
}

/// `--flag value` and `--switch` arguments after the positional ones.
#[derive(Debug)]
pub struct Args {
    /// The arguments before the first flag.
    pub positional: Vec<String>,
    flags: HashMap<String, String>,
}

impl Args {
    /// Parses `std::env::args()`; `switches` are the flags that take no value.
    pub fn parse(switches: &[&str]) -> Result<Self, String> {
        let mut positional = Vec::new();
        let mut flags = HashMap::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if !arg.starts_with('-') {
                positional.push(arg);
            } else if switches.contains(&arg.as_str()) {
                flags.insert(arg, String::new());
            } else {
                let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
                flags.insert(arg, value);
            }
        }
        Ok(Self { positional, flags })
    }

    /// True if the switch was given.
    pub fn switch(&self, name: &str) -> bool {
        self.flags.contains_key(name)
    }

    /// The flag's value parsed, or `default`.
    pub fn value<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.flags.get(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| format!("{name} {text:?} is not valid")),
        }
    }

    /// A flag in seconds.
    pub fn seconds(&self, name: &str, default: f64) -> Result<Duration, String> {
        let value: f64 = self.value(name, default)?;
        Duration::try_from_secs_f64(value).map_err(|_| format!("{name} must be seconds"))
    }
}

/// The resident memory (`VmRSS`) of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| invalid(format!("no VmRSS in /proc/{pid}/status")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_in_both_kinds() {
        for binary in [false, true] {
            let mut payload = template(32, binary);
            stamped(&mut payload, binary, 0x0123_4567_89ab_cdef);
            assert_eq!(read_stamp(&payload, 32, binary), Ok(0x0123_4567_89ab_cdef));
            assert!(read_stamp(&payload[..31], 32, binary).is_err());
        }
    }

    #[test]
    fn urls_split_into_authority_and_path() {
        assert_eq!(
            split_url("ws://127.0.0.1:9/a?b").ok(),
            Some(("127.0.0.1:9".into(), "/a?b".into()))
        );
        assert_eq!(split_url("ws://h:1").ok(), Some(("h:1".into(), "/".into())));
        assert!(split_url("http://h/").is_err());
    }
}
