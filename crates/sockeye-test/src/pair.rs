//! An in-memory client/server pair: two [`Connection`]s wired back to back.
//!
//! The [`Pair`] plays the front-ends' part of the drive contract (see
//! [`sockeye_proto::connection`]): it moves each side's [`Connection::pending_output`] into the
//! other's [`Connection::receive_data`], drains [`Connection::next_message`] after every piece,
//! and — in [`Pair::run`] — closes the transport when a side's
//! [`Connection::should_close_transport`] says so, which the other side sees as end of stream.
//! No sockets, threads or sleeps: every step is deterministic.

use sockeye_proto::frame::FrameHeader;
use sockeye_proto::random::MaskKeySource;
use sockeye_proto::{CloseFrame, Config, Connection, Frame, Message, OpCode, ProtocolError, Role};

use crate::drive::{drain, Chunking, Event};
use crate::frames::parse_frames;
pub use crate::side::Side;

/// Deterministic, distinct, non-zero mask keys: key `n` is [`SequentialMaskKeys::key`]`(n)`.
///
/// The default source of a [`Pair`]'s client, so tests see real masking and can predict the
/// key of every frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SequentialMaskKeys {
    next: u32,
}

impl SequentialMaskKeys {
    /// A source whose first key is `key(0)`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `n`th key this source gives (counting from 0).
    pub fn key(n: u32) -> [u8; 4] {
        0x1234_5679u32
            .wrapping_add(n.wrapping_mul(0x9E37_79B9))
            .to_be_bytes()
    }
}

impl MaskKeySource for SequentialMaskKeys {
    fn next_mask_key(&mut self) -> [u8; 4] {
        let key = Self::key(self.next);
        self.next = self.next.wrapping_add(1);
        key
    }
}

/// One side of a [`Pair`]: its connection and a record of what it did.
#[derive(Debug)]
pub struct Endpoint {
    /// The connection. Send through it directly; the pair moves the bytes.
    pub connection: Connection,
    events: Vec<Event>,
    sent: Vec<u8>,
    saw_eof: bool,
}

impl Endpoint {
    fn new(connection: Connection) -> Self {
        Self {
            connection,
            events: Vec::new(),
            sent: Vec::new(),
            saw_eof: false,
        }
    }

    /// Everything this side's `next_message` returned, in order (a sticky error once).
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The messages this side received, in order.
    pub fn messages(&self) -> Vec<Message> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::Message(message) => Some(message.clone()),
                Event::Error(_) => None,
            })
            .collect()
    }

    /// Every error this side's `next_message` returned (a sticky error appears once).
    pub fn errors(&self) -> Vec<ProtocolError> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::Error(error) => Some(error.clone()),
                Event::Message(_) => None,
            })
            .collect()
    }

    /// The first error this side reported, if any.
    pub fn error(&self) -> Option<ProtocolError> {
        self.errors().into_iter().next()
    }

    /// Every byte this side wrote to the transport so far.
    pub fn sent_bytes(&self) -> &[u8] {
        &self.sent
    }

    /// The frames this side wrote to the transport (payloads unmasked, mask keys kept).
    ///
    /// # Panics
    /// If the bytes written are not whole, well-formed frames.
    pub fn sent_frames(&self) -> Vec<Frame> {
        parse_frames(&self.sent)
    }

    /// The close frames this side wrote: the status code of each, `None` for an empty payload.
    ///
    /// # Panics
    /// As [`sent_frames`](Self::sent_frames); also if a close payload is one byte long.
    pub fn sent_close_codes(&self) -> Vec<Option<u16>> {
        self.sent_frames()
            .iter()
            .filter(|frame| frame.opcode() == OpCode::Close)
            .map(|frame| match frame.payload[..] {
                [] => None,
                [hi, lo, ..] => Some(u16::from_be_bytes([hi, lo])),
                [_] => panic!("this side sent a one-byte close payload"),
            })
            .collect()
    }

    /// The close frame this side's connection sent, if any (`Some(None)`: no status code).
    pub fn close_sent(&self) -> Option<Option<CloseFrame>> {
        self.connection.close_sent().cloned()
    }

    /// The close frame this side's connection received, if any (`Some(None)`: no status code).
    pub fn close_received(&self) -> Option<Option<CloseFrame>> {
        self.connection.close_received().cloned()
    }

    /// [`Connection::should_close_transport`].
    pub fn should_close_transport(&self) -> bool {
        self.connection.should_close_transport()
    }

    /// [`Connection::is_closed`].
    pub fn is_closed(&self) -> bool {
        self.connection.is_closed()
    }

    /// True once this side was told the transport ended (the peer closed it).
    pub fn saw_eof(&self) -> bool {
        self.saw_eof
    }

    /// Calls `next_message` until it needs more bytes or fails, recording what it returns.
    pub fn drain(&mut self) {
        drain(&mut self.connection, &mut self.events);
    }
}

/// A client and a server connection wired back to back in memory.
///
/// ```
/// use sockeye_proto::{CloseCode, CloseFrame, Message};
/// use sockeye_test::{Pair, Side};
///
/// let mut pair = Pair::new();
/// pair.client.connection.close(Some(CloseFrame::new(CloseCode::Normal, "bye"))).unwrap();
/// pair.run();
/// // The server echoed the code, closed the transport first, and the client saw it end.
/// assert_eq!(pair.server.sent_close_codes(), [Some(1000)]);
/// assert_eq!(pair.transport_closed_by(), Some(Side::Server));
/// assert!(pair.client.saw_eof() && pair.client.error().is_none());
/// ```
#[derive(Debug)]
pub struct Pair {
    /// The [`Role::Client`] end.
    pub client: Endpoint,
    /// The [`Role::Server`] end.
    pub server: Endpoint,
    chunking: Chunking,
    transport_closed_by: Option<Side>,
}

impl Default for Pair {
    fn default() -> Self {
        Self::new()
    }
}

impl Pair {
    /// A pair with default configurations; the client masks with [`SequentialMaskKeys`].
    pub fn new() -> Self {
        Self::with_configs(Config::default(), Config::default())
    }

    /// A pair with these configurations; the client masks with [`SequentialMaskKeys`].
    pub fn with_configs(client: Config, server: Config) -> Self {
        Self::from_connections(
            Connection::with_mask_keys(Role::Client, client, Box::new(SequentialMaskKeys::new())),
            Connection::new(Role::Server, server),
        )
    }

    /// A pair of connections made by the caller (to choose the client's mask key source).
    ///
    /// # Panics
    /// If `client` is not a [`Role::Client`] connection or `server` not a [`Role::Server`] one.
    pub fn from_connections(client: Connection, server: Connection) -> Self {
        assert_eq!(
            client.role(),
            Role::Client,
            "the client end must be a client"
        );
        assert_eq!(
            server.role(),
            Role::Server,
            "the server end must be a server"
        );
        Self {
            client: Endpoint::new(client),
            server: Endpoint::new(server),
            chunking: Chunking::Whole,
            transport_closed_by: None,
        }
    }

    /// Moves bytes in pieces cut by `chunking` (default [`Chunking::Whole`]), both ways and for
    /// injected bytes.
    pub fn with_chunking(mut self, chunking: Chunking) -> Self {
        self.chunking = chunking;
        self
    }

    /// The endpoint on `side`.
    pub fn endpoint(&self, side: Side) -> &Endpoint {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    /// The endpoint on `side`, mutably.
    pub fn endpoint_mut(&mut self, side: Side) -> &mut Endpoint {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// The side that closed the transport, once one did.
    pub fn transport_closed_by(&self) -> Option<Side> {
        self.transport_closed_by
    }

    /// Moves all of `from`'s pending output to its peer, draining the peer after every piece.
    /// Returns the bytes moved: 0 if there were none or the transport is closed (then the output
    /// stays pending, unwritten).
    pub fn transfer(&mut self, from: Side) -> usize {
        if self.transport_closed_by.is_some() {
            return 0;
        }
        let chunking = self.chunking.clone();
        let (sender, receiver) = match from {
            Side::Client => (&mut self.client, &mut self.server),
            Side::Server => (&mut self.server, &mut self.client),
        };
        let bytes = sender.connection.take_output();
        sender.sent.extend_from_slice(&bytes);
        for piece in chunking.split(&bytes) {
            receiver.connection.receive_data(piece);
            receiver.drain();
        }
        bytes.len()
    }

    /// Transfers both ways until neither side has output pending (or the transport is closed).
    /// Returns the bytes moved. Does not close the transport: see [`run`](Self::run).
    pub fn exchange(&mut self) -> usize {
        let mut total = 0;
        loop {
            let moved = self.transfer(Side::Client) + self.transfer(Side::Server);
            if moved == 0 {
                return total;
            }
            total += moved;
        }
    }

    /// Follows the drive contract until nothing changes: [`exchange`](Self::exchange), then, once
    /// a side's output is flushed and it [`should_close_transport`](Connection::should_close_transport),
    /// closes the transport on its behalf (the server is asked first).
    pub fn run(&mut self) {
        loop {
            self.exchange();
            if self.transport_closed_by.is_some() {
                return;
            }
            let closer = [Side::Server, Side::Client].into_iter().find(|&side| {
                let endpoint = self.endpoint(side);
                endpoint.connection.pending_output().is_empty() && endpoint.should_close_transport()
            });
            match closer {
                Some(side) => self.close_transport(side),
                None => return,
            }
        }
    }

    /// `side` closes the transport: its peer reaches end of stream (and is drained); nothing moves
    /// either way afterwards. Does nothing if the transport is already closed.
    pub fn close_transport(&mut self, side: Side) {
        if self.transport_closed_by.is_some() {
            return;
        }
        self.transport_closed_by = Some(side);
        let peer = self.endpoint_mut(side.peer());
        peer.saw_eof = true;
        peer.connection.receive_eof();
        peer.drain();
    }

    /// Hands `bytes` to `to` as if its peer had written them (cut by the pair's chunking),
    /// draining after every piece. The peer's connection knows nothing of them.
    pub fn inject(&mut self, to: Side, bytes: &[u8]) {
        let chunking = self.chunking.clone();
        let endpoint = self.endpoint_mut(to);
        for piece in chunking.split(bytes) {
            endpoint.connection.receive_data(piece);
            endpoint.drain();
        }
    }

    /// The header of the next frame waiting in `side`'s output, if a whole header is there.
    pub fn peek_pending_header(&self, side: Side) -> Option<FrameHeader> {
        FrameHeader::parse(self.endpoint(side).connection.pending_output())
            .ok()
            .flatten()
            .map(|(header, _)| header)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;
    use crate::frames::RawFrame;

    #[test]
    fn sequential_keys_are_distinct_and_nonzero() {
        let mut source = SequentialMaskKeys::new();
        let keys: Vec<[u8; 4]> = (0..1000).map(|_| source.next_mask_key()).collect();
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), 1000);
        assert!(keys.iter().all(|k| *k != [0; 4]));
        assert_eq!(keys[5], SequentialMaskKeys::key(5));
    }

    #[test]
    fn messages_cross_in_both_directions() {
        let mut pair = Pair::new().with_chunking(Chunking::Fixed(2));
        pair.client.connection.send_text("up").unwrap();
        pair.server.connection.send_binary(b"down").unwrap();
        assert!(pair.exchange() > 0);
        assert_eq!(pair.server.messages(), [Message::text("up")]);
        assert_eq!(pair.client.messages(), [Message::binary(&b"down"[..])]);
        assert_eq!(pair.exchange(), 0);
        assert_eq!(
            pair.client.sent_frames()[0].header.mask,
            Some(SequentialMaskKeys::key(0))
        );
    }

    #[test]
    fn injected_bytes_reach_only_the_target() {
        let mut pair = Pair::new();
        pair.inject(Side::Server, &RawFrame::text("x").encode_for(Side::Server));
        assert_eq!(pair.server.messages(), [Message::text("x")]);
        assert!(pair.client.sent_bytes().is_empty());
    }

    #[test]
    fn nothing_moves_after_the_transport_closed() {
        let mut pair = Pair::new();
        pair.close_transport(Side::Client);
        assert!(pair.server.saw_eof());
        assert_eq!(
            pair.server.error(),
            Some(ProtocolError::ClosedWithoutCloseFrame)
        );
        pair.client.connection.send_text("late").unwrap();
        assert_eq!(pair.transfer(Side::Client), 0);
    }
}
