//! The redirect walk of `connect_with` and `connect_async_with`, written once: which
//! configuration the next attempt uses, how many redirects were followed, what the report notes
//! and the total time. The front-ends only make each attempt (dial, then handshake) with their
//! own I/O.

use std::ops::ControlFlow;
use std::time::Instant;

use crate::config::ClientConfig;
use crate::diagnose::ConnectReport;
use crate::error::Error;
use crate::redirect::next_hop;

/// The attempts of one connect: the first URL, then each redirect that [`next_hop`] follows.
///
/// A front-end drives it so, with its own `connect_once` (dial, then handshake):
///
/// ```text
/// let result = loop {
///     let (config, report) = walk.attempt();
///     let attempt = connect_once(config, report);
///     if let ControlFlow::Break(result) = walk.follow(attempt) {
///         break result;
///     }
/// };
/// let report = walk.finish();
/// ```
#[derive(Debug)]
pub(crate) struct RedirectWalk {
    /// The configuration of the next attempt.
    config: ClientConfig,
    /// How many redirects were followed so far.
    followed: usize,
    report: ConnectReport,
    /// Whether the report notes each attempt (URL, redirects, heads, TLS session); without it,
    /// the report keeps only timings and nothing is copied.
    reporting: bool,
    started: Instant,
}

impl RedirectWalk {
    /// A walk whose report keeps only timings (`connect_with`).
    pub(crate) fn new(config: ClientConfig) -> Self {
        Self {
            config,
            followed: 0,
            report: ConnectReport::default(),
            reporting: false,
            started: Instant::now(),
        }
    }

    /// A walk whose report notes everything (`connect_with_report`).
    pub(crate) fn reporting(config: ClientConfig) -> Self {
        let started = Instant::now();
        Self {
            report: ConnectReport::new(&config),
            reporting: true,
            started,
            ..Self::new(config)
        }
    }

    /// The configuration of the next attempt, and the report it notes its stages in.
    pub(crate) fn attempt(&mut self) -> (&ClientConfig, &mut ConnectReport) {
        (&self.config, &mut self.report)
    }

    /// After an attempt: `Continue` when it failed with a redirect to follow (the next
    /// [`attempt`](Self::attempt) goes to its `Location`), else `Break` with the result to
    /// return: the open connection, the attempt's error, or the [`Error::Redirect`] that
    /// [`next_hop`] refused to follow.
    pub(crate) fn follow<T>(&mut self, attempt: Result<T, Error>) -> ControlFlow<Result<T, Error>> {
        let error = match attempt {
            Ok(open) => return ControlFlow::Break(Ok(open)),
            Err(error) => error,
        };
        match next_hop(&self.config, error, self.followed) {
            Ok(next) => {
                self.config = next;
                self.followed += 1;
                if self.reporting {
                    self.report.start_attempt(&self.config);
                }
                ControlFlow::Continue(())
            }
            Err(error) => ControlFlow::Break(Err(error)),
        }
    }

    /// The walk is over: its report, with the total time of every attempt.
    pub(crate) fn finish(mut self) -> ConnectReport {
        self.report.timings.total = Some(self.started.elapsed());
        self.report
    }
}
