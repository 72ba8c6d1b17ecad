//! The client's side of the opening handshake, driven by `blocking::client` and
//! `tokio::client`: they write [`ClientHandshakeDriver::request`] and read the response into it;
//! it traces and records what crossed the wire, feeds the core's [`ClientHandshake`], applies
//! [`ClientConfig::require_subprotocol`] and builds the [`Connection`].

use bytes::BytesMut;
use sockeye_proto::handshake::{ClientHandshake, Response};
use sockeye_proto::Connection;

use crate::config::ClientConfig;
use crate::diagnose::HandshakeRecord;
use crate::error::Error;
use crate::trace::Tracer;

/// One client handshake in progress. Call in this order:
///
/// 1. [`start`](Self::start), then write [`request`](Self::request) and flush;
/// 2. for each read: [`receive`](Self::receive) the bytes (or read straight into
///    [`read_buffer`](Self::read_buffer) and call [`received`](Self::received)) until it gives
///    the connection; at the end of the stream, return [`closed`](Self::closed); when the time
///    runs out, return [`timed_out`](Self::timed_out);
/// 3. pass the outcome through [`finish`](Self::finish), which traces a failure.
#[derive(Debug)]
pub(crate) struct ClientHandshakeDriver<'a> {
    config: &'a ClientConfig,
    handshake: ClientHandshake,
    trace: Tracer,
    record: &'a mut HandshakeRecord,
    /// The response as it arrives. The core bounds what it holds: the response head
    /// (`max_header_bytes`) plus one read; a refusal's body is taken out of it as it is read.
    buf: BytesMut,
    /// How much of `buf` has been traced, recorded and fed to the core.
    seen: usize,
}

impl<'a> ClientHandshakeDriver<'a> {
    /// Starts the trace and makes the request (traced and recorded as sent). A request that
    /// cannot be made (a header with a bad name or value) fails here, traced.
    pub(crate) fn start(
        config: &'a ClientConfig,
        record: &'a mut HandshakeRecord,
    ) -> Result<Self, Error> {
        let mut trace = Tracer::client(config);
        let handshake = match ClientHandshake::new(config.request()) {
            Ok(handshake) => handshake,
            Err(err) => return trace.finish(Err(err.into())),
        };
        trace.sent(handshake.request_bytes());
        record.sent(handshake.request_bytes());
        Ok(Self {
            config,
            handshake,
            trace,
            record,
            buf: BytesMut::with_capacity(4096),
            seen: 0,
        })
    }

    /// The request to write: request line, headers, blank line.
    pub(crate) fn request(&self) -> &[u8] {
        self.handshake.request_bytes()
    }

    /// The buffer a read may append to directly (tokio's `read_buf`); [`received`](Self::received)
    /// takes it from there.
    #[cfg(feature = "tokio")]
    pub(crate) fn read_buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// `bytes` were read: [`received`](Self::received) with them appended.
    pub(crate) fn receive(
        &mut self,
        bytes: &[u8],
    ) -> Result<Option<(Connection, Response)>, Error> {
        self.buf.extend_from_slice(bytes);
        self.received()
    }

    /// Bytes were appended to the [`read_buffer`](Self::read_buffer): traces, records and feeds
    /// them. `Ok(None)`: more are needed. `Ok(Some(_))`: the server accepted; the connection
    /// (traced from now on, with the bytes that came after the head as its first input) and the
    /// response. `Err`: a refusal (once its body was read) or a response that fails the checks.
    pub(crate) fn received(&mut self) -> Result<Option<(Connection, Response)>, Error> {
        let arrived = &self.buf[self.seen..];
        self.trace.received_bytes(arrived);
        self.record.received(arrived);
        let response = self.handshake.receive(&mut self.buf)?;
        self.seen = self.buf.len();
        let Some(response) = response else {
            return Ok(None);
        };
        self.trace.received_head(&response.head);
        check_subprotocol(self.config, &response)?;
        let mut conn = self.config.connection(response.deflate);
        self.trace.attach(&mut conn);
        conn.receive_data(&self.buf);
        Ok(Some((conn, response)))
    }

    /// The stream ended before the response did: the refusal with what arrived of its body,
    /// or [`HandshakeError::ClosedDuringHandshake`](sockeye_proto::HandshakeError).
    pub(crate) fn closed(&mut self) -> Error {
        self.handshake.receive_eof(&mut self.buf).into()
    }

    /// The time ran out (`timeout` says which): if the server already refused, while its body
    /// came, that refusal with what arrived is the answer rather than the time-out.
    pub(crate) fn timed_out(&mut self, timeout: Error) -> Error {
        if self.handshake.refusal_pending() {
            self.closed()
        } else {
            timeout
        }
    }

    /// The handshake is over: traces the error that ended it, and passes `result` on.
    pub(crate) fn finish<T>(mut self, result: Result<T, Error>) -> Result<T, Error> {
        self.trace.finish(result)
    }
}

/// [`ClientConfig::require_subprotocol`]: with subprotocols offered, the response must select one.
fn check_subprotocol(config: &ClientConfig, response: &Response) -> Result<(), Error> {
    if config.require_subprotocol
        && !config.subprotocols.is_empty()
        && response.subprotocol.is_none()
    {
        return Err(Error::SubprotocolNotSelected {
            offered: config.subprotocols.clone(),
        });
    }
    Ok(())
}
