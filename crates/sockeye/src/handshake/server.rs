//! The server's side of the opening handshake, driven by `blocking::server` and
//! `tokio::server`: they read the request into [`ServerHandshakeDriver`] and write its answers;
//! it traces what crossed the wire, parses the request with the core, runs the accept hook
//! ([`decision`], which the hyper upgrade shares) and builds the [`Connection`].

use bytes::BytesMut;
use sockeye_proto::extensions::deflate::PerMessageDeflate;
use sockeye_proto::handshake::server::{
    accept_response, error_response, negotiate_deflate, parse_request, reject_response,
};
use sockeye_proto::handshake::{Accept, Reject, Request};
use sockeye_proto::{Connection, HandshakeError};

use crate::config::ServerConfig;
use crate::error::Error;
use crate::trace::Tracer;

/// One server handshake in progress. Call in this order:
///
/// 1. [`new`](Self::new);
/// 2. for each read: [`receive`](Self::receive) the bytes (or read straight into
///    [`read_buffer`](Self::read_buffer) and call [`received`](Self::received)) until the request
///    is complete; at the end of the stream, return [`closed`](Self::closed); for a
///    [`BadRequest`], write its response (best effort: the client may be gone) and return its
///    error;
/// 3. [`answer`](Self::answer) the request, write [`Answer::response`], then
///    [`open`](Self::open) the connection (a refusal gives [`Error::Rejected`]);
/// 4. pass the outcome through [`finish`](Self::finish), which traces a failure.
#[derive(Debug)]
pub(crate) struct ServerHandshakeDriver<'a> {
    config: &'a ServerConfig,
    trace: Tracer,
    /// The request as it arrives, up to `max_header_bytes` plus one read; what follows the
    /// head is the client's first frames.
    buf: BytesMut,
    /// How much of `buf` has been traced.
    seen: usize,
}

/// A request that is not a valid WebSocket handshake.
#[derive(Debug)]
pub(crate) struct BadRequest {
    /// The 400, 405, 426, 431 or 505 answer to write.
    pub(crate) response: Vec<u8>,
    /// Why: the error to return.
    pub(crate) error: HandshakeError,
}

/// The server's answer to a complete request: the response to write, then
/// [`ServerHandshakeDriver::open`].
#[derive(Debug)]
pub(crate) struct Answer {
    response: Vec<u8>,
    request: Request,
    /// permessage-deflate if accepted (when negotiated), or the status of the refusal.
    accepted: Result<Option<PerMessageDeflate>, u16>,
}

impl Answer {
    /// The `101 Switching Protocols` or the refusal, head and body.
    pub(crate) fn response(&self) -> &[u8] {
        &self.response
    }
}

impl<'a> ServerHandshakeDriver<'a> {
    /// Starts the trace; nothing received yet.
    pub(crate) fn new(config: &'a ServerConfig) -> Self {
        Self {
            config,
            trace: Tracer::server(config),
            buf: BytesMut::with_capacity(4096),
            seen: 0,
        }
    }

    /// The buffer a read may append to directly (tokio's `read_buf`); [`received`](Self::received)
    /// takes it from there.
    #[cfg(feature = "tokio")]
    pub(crate) fn read_buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// `bytes` were read: [`received`](Self::received) with them appended.
    pub(crate) fn receive(&mut self, bytes: &[u8]) -> Result<Option<Request>, BadRequest> {
        self.buf.extend_from_slice(bytes);
        self.received()
    }

    /// Bytes were appended to the [`read_buffer`](Self::read_buffer): traces them and parses the
    /// request. `Ok(None)`: more are needed. `Ok(Some(request))`: the request is complete (its
    /// head traced); [`answer`](Self::answer) it.
    pub(crate) fn received(&mut self) -> Result<Option<Request>, BadRequest> {
        self.trace.received_bytes(&self.buf[self.seen..]);
        self.seen = self.buf.len();
        match parse_request(&mut self.buf, self.config.max_header_bytes) {
            Ok(Some(request)) => {
                self.trace.received_head(&request.head);
                Ok(Some(request))
            }
            Ok(None) => Ok(None),
            Err(error) => {
                let response = error_response(&error);
                self.trace.sent(&response);
                Err(BadRequest { response, error })
            }
        }
    }

    /// The stream ended before the request did.
    pub(crate) fn closed(&self) -> Error {
        HandshakeError::RequestClosed {
            received: self.buf.len(),
        }
        .into()
    }

    /// Lets `decide` accept or refuse `request` and makes the response (traced as sent). Fails,
    /// with nothing to write, if `decide` chose what the client did not offer or a header that
    /// cannot be sent.
    pub(crate) fn answer(
        &mut self,
        request: Request,
        decide: impl FnOnce(&Request) -> Result<Accept, Reject>,
    ) -> Result<Answer, Error> {
        let (response, accepted) = match decision(&request, self.config, decide)? {
            Decision::Accept { accept, deflate } => {
                (accept_response(&request, &accept)?, Ok(deflate))
            }
            Decision::Refuse(reject) => (reject_response(&reject)?, Err(reject.status)),
        };
        self.trace.sent(&response);
        Ok(Answer {
            response,
            request,
            accepted,
        })
    }

    /// The answer was written: the connection (traced from now on, with the bytes that came
    /// after the request's head as its first input) and the request, or [`Error::Rejected`].
    pub(crate) fn open(&mut self, answer: Answer) -> Result<(Connection, Request), Error> {
        let deflate = answer
            .accepted
            .map_err(|status| Error::Rejected { status })?;
        let mut conn = self.config.connection(deflate);
        self.trace.attach(&mut conn);
        conn.receive_data(&self.buf);
        Ok((conn, answer.request))
    }

    /// The handshake is over: traces the error that ended it, and passes `result` on.
    pub(crate) fn finish<T>(mut self, result: Result<T, Error>) -> Result<T, Error> {
        self.trace.finish(result)
    }
}

/// What the accept hook made of a request.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Accepted, with permessage-deflate when negotiated.
    Accept {
        accept: Accept,
        deflate: Option<PerMessageDeflate>,
    },
    /// Refused with the hook's status.
    Refuse(Reject),
}

/// Runs the accept hook `decide` on `request`, and negotiates permessage-deflate
/// ([`ServerConfig::compression`]) when it accepts. Fails if the hook's own answer to a deflate
/// offer is invalid.
pub(crate) fn decision(
    request: &Request,
    config: &ServerConfig,
    decide: impl FnOnce(&Request) -> Result<Accept, Reject>,
) -> Result<Decision, HandshakeError> {
    match decide(request) {
        Ok(mut accept) => {
            let deflate = negotiate_deflate(request, &mut accept, config.compression.as_ref())?;
            Ok(Decision::Accept { accept, deflate })
        }
        Err(reject) => Ok(Decision::Refuse(reject)),
    }
}
