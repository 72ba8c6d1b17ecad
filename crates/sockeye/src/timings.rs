//! How long each stage of connecting took: the record the dial fills in and reports show.

use std::time::{Duration, Instant};

use crate::error::Stage;

/// How long each stage of connecting took. A stage that did not run is `None`; the stage that
/// failed has the time until it failed (a timeout shows its whole wait).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// Resolving the host name.
    pub dns: Option<Duration>,
    /// Opening the TCP connection (or the Unix socket).
    pub tcp: Option<Duration>,
    /// Reaching the proxy and opening its tunnel (its own DNS, TCP, TLS and handshake).
    pub proxy: Option<Duration>,
    /// The TLS handshake with the WebSocket server.
    pub tls: Option<Duration>,
    /// The HTTP upgrade: from sending the request to the `101` (or the refusal).
    pub http: Option<Duration>,
    /// Everything, redirects included.
    pub total: Option<Duration>,
}

impl Timings {
    /// The time of `stage` (`Url`, `Handshake` and `Open` have none: they are part of others).
    pub fn get(&self, stage: Stage) -> Option<Duration> {
        match stage {
            Stage::Dns => self.dns,
            Stage::Tcp => self.tcp,
            Stage::Proxy => self.proxy,
            Stage::Tls => self.tls,
            Stage::Http => self.http,
            _ => None,
        }
    }

    pub(crate) fn set(&mut self, stage: Stage, took: Duration) {
        let slot = match stage {
            Stage::Dns => &mut self.dns,
            Stage::Tcp => &mut self.tcp,
            Stage::Proxy => &mut self.proxy,
            Stage::Tls => &mut self.tls,
            Stage::Http => &mut self.http,
            _ => return,
        };
        *slot = Some(took);
    }

    /// Runs `work` as `stage` and notes how long it took, whether it succeeded or not.
    pub(crate) fn time<T>(&mut self, stage: Stage, work: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = work();
        self.set(stage, started.elapsed());
        result
    }

    /// DNS and TCP ran under one time limit that ran out after `elapsed`: the stage that was
    /// still running gets the rest, and is returned (the stage the time-out is reported at).
    /// (Only the tokio dialer runs them under one limit.)
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn set_unfinished(&mut self, elapsed: Duration) -> Stage {
        match self.dns {
            None => {
                self.dns = Some(elapsed);
                Stage::Dns
            }
            Some(dns) => {
                if self.tcp.is_none() {
                    self.tcp = Some(elapsed.saturating_sub(dns));
                }
                Stage::Tcp
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unfinished_stage_gets_the_time_left() {
        let mut timings = Timings::default();
        timings.set_unfinished(Duration::from_millis(5));
        assert_eq!(timings.dns, Some(Duration::from_millis(5)));
        let mut timings = Timings {
            dns: Some(Duration::from_millis(2)),
            ..Timings::default()
        };
        timings.set_unfinished(Duration::from_millis(5));
        assert_eq!(timings.tcp, Some(Duration::from_millis(3)));
    }
}
