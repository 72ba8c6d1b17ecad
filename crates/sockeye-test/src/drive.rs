//! Feeding one [`Connection`] a byte stream, cut into chunks, and collecting what it reports.

use sockeye_proto::{Connection, Message, ProtocolError, State};

/// How a byte stream is cut into the pieces handed to [`Connection::receive_data`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Chunking {
    /// All bytes in one piece.
    #[default]
    Whole,
    /// Pieces of this many bytes (0 counts as 1); the last one may be shorter.
    Fixed(usize),
    /// Pieces of these sizes in turn, repeating the list (0 counts as 1; an empty list is
    /// [`Whole`](Self::Whole)).
    Pattern(Vec<usize>),
}

impl Chunking {
    /// Cuts `bytes` into pieces. Concatenated, the pieces are `bytes`; none is empty unless
    /// `bytes` is.
    pub fn split<'a>(&self, bytes: &'a [u8]) -> Vec<&'a [u8]> {
        let sizes: &[usize] = match self {
            Self::Whole => return vec![bytes],
            Self::Fixed(size) => std::slice::from_ref(size),
            Self::Pattern(sizes) if sizes.is_empty() => return vec![bytes],
            Self::Pattern(sizes) => sizes,
        };
        let mut pieces = Vec::new();
        let mut rest = bytes;
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*size).max(1).min(rest.len()));
            pieces.push(piece);
            rest = tail;
        }
        pieces
    }
}

/// One thing [`Connection::next_message`] returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `Ok(Some(message))`.
    Message(Message),
    /// `Err(error)`. Recorded once: repeats of the same (sticky) error are not recorded again.
    Error(ProtocolError),
}

/// Calls [`Connection::next_message`] until it needs more bytes or fails, appending to `events`.
///
/// Once an error has been recorded, further calls that return that same error record nothing (the
/// error is sticky); anything else they return — a message, or a different error — is recorded,
/// so a test that expects stickiness sees the difference.
pub fn drain(connection: &mut Connection, events: &mut Vec<Event>) {
    let first_error = events.iter().find_map(|event| match event {
        Event::Error(error) => Some(error.clone()),
        Event::Message(_) => None,
    });
    loop {
        match connection.next_message() {
            Ok(Some(message)) => events.push(Event::Message(message)),
            Ok(None) => return,
            Err(error) => {
                if first_error.as_ref() != Some(&error) {
                    events.push(Event::Error(error));
                }
                return;
            }
        }
    }
}

/// What a connection made of one byte stream: see [`feed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Everything `next_message` returned, in order.
    pub events: Vec<Event>,
    /// Every byte the connection queued for sending (pongs, close echoes, failure closes).
    pub output: Vec<u8>,
    /// The close-handshake state afterwards.
    pub state: State,
    /// [`Connection::should_close_transport`] afterwards.
    pub should_close_transport: bool,
}

impl Received {
    /// The messages, without the error.
    pub fn messages(&self) -> Vec<Message> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::Message(message) => Some(message.clone()),
                Event::Error(_) => None,
            })
            .collect()
    }

    /// The first error, if any.
    pub fn error(&self) -> Option<&ProtocolError> {
        self.events.iter().find_map(|event| match event {
            Event::Error(error) => Some(error),
            Event::Message(_) => None,
        })
    }
}

/// Hands `input` to `connection` piece by piece as `chunking` cuts it, draining events after every
/// piece (as a front-end does after every read), then end of stream if `eof`.
///
/// The connection's output is taken (and returned) after every piece.
pub fn feed(connection: &mut Connection, input: &[u8], chunking: &Chunking, eof: bool) -> Received {
    let mut events = Vec::new();
    let mut output = Vec::new();
    for piece in chunking.split(input) {
        connection.receive_data(piece);
        drain(connection, &mut events);
        output.extend_from_slice(&connection.take_output());
    }
    if eof {
        connection.receive_eof();
        drain(connection, &mut events);
        output.extend_from_slice(&connection.take_output());
    }
    Received {
        events,
        output,
        state: connection.state(),
        should_close_transport: connection.should_close_transport(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn chunkings_cover_the_input_in_order() {
        let bytes: Vec<u8> = (0..10).collect();
        for chunking in [
            Chunking::Whole,
            Chunking::Fixed(0),
            Chunking::Fixed(3),
            Chunking::Fixed(100),
            Chunking::Pattern(vec![]),
            Chunking::Pattern(vec![2, 0, 5]),
        ] {
            let pieces = chunking.split(&bytes);
            assert_eq!(pieces.concat(), bytes, "{chunking:?}");
            assert!(pieces.iter().all(|p| !p.is_empty()), "{chunking:?}");
        }
        assert_eq!(Chunking::Fixed(3).split(&bytes).len(), 4);
        let sizes: Vec<usize> = Chunking::Pattern(vec![2, 0, 5])
            .split(&bytes)
            .iter()
            .map(|p| p.len())
            .collect();
        assert_eq!(sizes, [2, 1, 5, 2]);
        assert_eq!(Chunking::Fixed(2).split(&[]), Vec::<&[u8]>::new());
    }
}
