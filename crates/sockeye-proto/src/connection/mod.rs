//! The connection state machine, shared by client and server (RFC 6455 sections 5-7).
//!
//! # Drive contract
//!
//! A [`Connection`] never touches a socket or a clock. The front-end that owns the transport
//! drives it with one loop around [`Connection::next_step`] (see [`Step`] for the loop):
//!
//! 1. **Bytes in.** Hand every byte read from the transport to [`Connection::receive_data`] —
//!    or read straight into [`Connection::input_buffer`], appending only, to save that copy —
//!    and call [`Connection::receive_eof`] when the transport reports end of stream; then, when
//!    timers run ([`Connection::has_timers`]), [`Connection::input_arrived`] with the time.
//! 2. **Events out.** [`Connection::next_step`] delivers the next message (saying whether the
//!    replies must be written first), or says to read, or that the connection closed or failed.
//!    Underneath it, [`Connection::next_message`] parses frames lazily, so the caller controls
//!    how much work one call does. A failure is sticky: the connection has queued the close
//!    frame it calls for.
//! 3. **Bytes to send.** After receiving *or* sending, write the pending output to the transport
//!    and report how much was written with [`Connection::consume_output`]: all of it with one
//!    vectored write of [`Connection::pending_output_slices`], or piece by piece with
//!    [`Connection::pending_output`] (until [`Connection::pending_output_len`] is 0). Automatic
//!    replies (pong, close echo, failure close, keepalive ping) appear here; a front-end never
//!    writes them on the side.
//! 4. **Time** (before waiting for input): wait no longer than [`Connection::poll_timeout`] and
//!    call [`Connection::handle_timeout`] with the current time when it passes — keepalive pings,
//!    the ping, idle and message timeouts ([`Connection::set_keepalive`]). **Memory**: report
//!    [`Connection::memory_use`] to a memory budget, if there is one.
//! 5. **Closing the transport.** Once the output is flushed, close the transport when
//!    [`Connection::should_close_transport`] says so (the server after the close handshake; either
//!    side after a failure or end of stream). A client whose close handshake is done
//!    ([`Connection::is_closed`]) waits for the server to close, with a timeout of its choosing.
//!
//! Buffers: the connection owns one input and one output buffer. Received payloads are split off
//! the input buffer without copying; sending copies the payload once into the output buffer,
//! except a server's large uncompressed payloads ([`SHARED_PAYLOAD_MIN`]), which are queued as
//! they are, after their header.
//!
//! permessage-deflate (RFC 7692), when the handshake negotiated it, is switched on with
//! [`Connection::with_deflate`] before any data flows; see [`crate::extensions::deflate`].

pub mod close;
pub(crate) mod close_code;
mod drive;
pub mod keepalive;
mod observer;
mod output;

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{ProtocolError, SendError};
use crate::extensions::deflate::{DeflateCodec, DeflateConfig, PerMessageDeflate};
use crate::frame::codec::MAX_PAYLOAD_RESERVE;
use crate::frame::header::{FrameHeader, MAX_HEADER_LEN, RSV1};
use crate::frame::mask::apply_mask_at;
use crate::frame::{encode_frame, Frame, OpCode};
use crate::message::utf8::Utf8Validator;
use crate::message::{Message, Utf8Bytes};
use crate::random::{MaskKeySource, OsRandom};
use close::{CloseFrame, MAX_CLOSE_REASON_BYTES};
use keepalive::Keepalive;
use output::SharedPayload;

pub use drive::Step;
pub use observer::Observer;
pub use output::{OUTPUT_HIGH_WATER, OUTPUT_SLICES, SHARED_PAYLOAD_MIN};

/// Which end of the connection this is. It decides masking and who closes the transport first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Masks what it sends; expects unmasked frames; waits for the server to close TCP.
    Client,
    /// Sends unmasked frames; requires masked ones; closes TCP after the close handshake.
    Server,
}

/// Limits and switches of a connection. Every field documents its default.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest frame payload accepted, in bytes. Default 16 MiB. Larger frames fail with 1009
    /// as soon as their header arrives.
    pub max_frame_size: usize,
    /// Largest message accepted (all fragments together), in bytes. Default 16 MiB. Larger
    /// messages fail with 1009 as soon as the frame that crosses the limit announces itself; a
    /// compressed message (permessage-deflate) counts its inflated size, and fails as soon as
    /// inflating it crosses the limit.
    ///
    /// Why 16 MiB: python-websockets stops at 1 MiB and uWebSockets at 16 KiB, which refuses
    /// ordinary uploads; tungstenite's 64 MiB lets four unfinished messages hold a quarter of a
    /// GiB. 16 MiB is the largest message Autobahn|Testsuite sends (case 9.1.6) and one frame at
    /// [`max_frame_size`](Self::max_frame_size); what many connections hold together is bounded
    /// by the server's memory budget, not by this.
    pub max_message_size: usize,
    /// Validate text as it arrives and fail with 1007 at the first invalid sequence. Default on.
    /// Off: invalid text is delivered with U+FFFD replacement characters instead of failing.
    pub validate_utf8: bool,
    /// Deliver whole messages. Default on. Off: every frame, control frames and continuation
    /// fragments included, arrives as [`Message::Frame`] as soon as it is complete; the
    /// connection still enforces the framing rules, answers pings and runs the close handshake.
    pub assemble_messages: bool,
    /// Answer each ping with a pong carrying its payload. Default on.
    pub auto_pong: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            validate_utf8: true,
            assemble_messages: true,
            auto_pong: true,
        }
    }
}

/// Where the close handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Data flows both ways.
    Open,
    /// One side has sent a close frame; the other has not answered yet.
    Closing,
    /// The close handshake is done, the connection failed, or the transport ended.
    Closed,
}

/// How far receiving has come ([`Connection::receive_progress`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ReceiveProgress {
    /// Complete frames received so far.
    pub frames: u64,
    /// Complete messages received so far (each control frame counts as one).
    pub messages: u64,
    /// Part of a frame or of a fragmented message is in hand, waiting for the rest.
    pub receiving: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DataKind {
    Text,
    Binary,
}

/// The frame being received: its header is parsed, its payload may still be arriving.
#[derive(Debug)]
struct IncomingFrame {
    header: FrameHeader,
    /// Payload bytes at the front of the input buffer already unmasked (and validated, for text;
    /// inflated, when compressed).
    unmasked: usize,
    /// The message is text to validate (its inflated bytes, when compressed).
    validate_utf8: bool,
    /// The payload is part of a compressed message (permessage-deflate).
    compressed: bool,
}

/// The fragmented message being received.
#[derive(Debug)]
struct IncomingMessage {
    kind: DataKind,
    size: u64,
    /// Assembled fragments (unused when delivering frames, and for compressed messages, which
    /// the inflater assembles).
    parts: BytesMut,
    /// The message is compressed (RSV1 on its first frame).
    compressed: bool,
}

/// One WebSocket connection after the opening handshake: a sans-I/O state machine.
///
/// See the [module documentation](self) for the order to call its methods in.
///
/// ```
/// use sockeye_proto::{Config, Connection, Message, Role};
///
/// let mut server = Connection::new(Role::Server, Config::default());
/// // A masked "Hello" from RFC 6455 section 5.7.
/// server.receive_data(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// assert_eq!(server.next_message().unwrap(), Some(Message::text("Hello")));
/// server.send_text("Hello").unwrap();
/// assert_eq!(server.pending_output(), b"\x81\x05Hello");
/// ```
pub struct Connection {
    role: Role,
    config: Config,
    mask_keys: Box<dyn MaskKeySource>,
    observer: Option<Box<dyn Observer>>,
    /// An automatic reply (pong, close echo, failure close) is waiting in the output.
    auto_reply_queued: bool,
    input: BytesMut,
    output: BytesMut,
    /// Large payloads sent as they are, without a copy into `output`: each goes out after the
    /// first `at` bytes of `output` (see [`Connection::pending_output_slices`]).
    shared_output: VecDeque<SharedPayload>,
    /// Bytes in `shared_output`.
    shared_len: usize,
    /// The pong that answers the latest ping, held back while the output is at
    /// [`OUTPUT_HIGH_WATER`]: a peer that pings and never reads gets one pong, not one per ping
    /// (RFC 6455 section 5.5.3 allows answering only the most recent ping).
    deferred_pong: Option<Bytes>,
    /// Complete frames received, and complete messages (a control frame counts as one).
    frames_received: u64,
    messages_received: u64,
    frame: Option<IncomingFrame>,
    message: Option<IncomingMessage>,
    utf8: Utf8Validator,
    sending_fragmented: Option<DataKind>,
    /// permessage-deflate, when negotiated.
    deflate: Option<Box<DeflateCodec>>,
    /// The fragmented message being sent is compressed.
    sending_compressed: bool,
    close_sent: Option<Option<CloseFrame>>,
    close_received: Option<Option<CloseFrame>>,
    eof: bool,
    failure: Option<ProtocolError>,
    /// Keepalive and the receive timeouts, when on (see [`Connection::set_keepalive`]); boxed so
    /// a connection without them stays small.
    keepalive: Option<Box<Keepalive>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("buffered_input", &self.input.len())
            .field("pending_output", &self.pending_output_len())
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection in the open state, with masking keys from the OS CSPRNG.
    pub fn new(role: Role, config: Config) -> Self {
        Self::with_mask_keys(role, config, Box::new(OsRandom::new()))
    }

    /// A connection whose client-side masking keys come from `mask_keys`.
    pub fn with_mask_keys(role: Role, config: Config, mask_keys: Box<dyn MaskKeySource>) -> Self {
        Self {
            role,
            config,
            mask_keys,
            // Allocated on first use, so idle connections stay small.
            input: BytesMut::new(),
            output: BytesMut::new(),
            shared_output: VecDeque::new(),
            shared_len: 0,
            deferred_pong: None,
            frames_received: 0,
            messages_received: 0,
            frame: None,
            message: None,
            utf8: Utf8Validator::new(),
            sending_fragmented: None,
            deflate: None,
            sending_compressed: false,
            close_sent: None,
            close_received: None,
            eof: false,
            failure: None,
            keepalive: None,
            observer: None,
            auto_reply_queued: false,
        }
    }

    /// Turns on permessage-deflate (RFC 7692) with the parameters the opening handshake agreed
    /// on and this side's settings (`config`: compression level, smallest message compressed).
    /// Call it before any data is received or sent; the front-ends do so right after the
    /// handshake.
    ///
    /// ```
    /// use sockeye_proto::extensions::deflate::{DeflateConfig, PerMessageDeflate};
    /// use sockeye_proto::{Config, Connection, Message, Role};
    ///
    /// let mut client = Connection::new(Role::Client, Config::default())
    ///     .with_deflate(PerMessageDeflate::default(), &DeflateConfig::default());
    /// // "Hello", compressed, from RFC 7692 section 7.2.3.1.
    /// client.receive_data(&[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    /// assert_eq!(client.next_message().unwrap(), Some(Message::text("Hello")));
    /// ```
    pub fn with_deflate(mut self, agreed: PerMessageDeflate, config: &DeflateConfig) -> Self {
        self.deflate = Some(Box::new(DeflateCodec::new(
            self.role == Role::Server,
            agreed,
            config,
        )));
        self
    }

    /// Installs (or removes) an observer that sees every frame sent and received and the
    /// failure, if any. Tracing is built on it; with none installed it costs one branch per frame.
    pub fn set_observer(&mut self, observer: Option<Box<dyn Observer>>) {
        self.observer = observer;
    }

    // ----- getters -----

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The permessage-deflate parameters in force, if the extension is on.
    pub fn deflate(&self) -> Option<&PerMessageDeflate> {
        self.deflate.as_deref().map(DeflateCodec::agreed)
    }

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        if self.is_closed() {
            State::Closed
        } else if self.close_sent.is_some() || self.close_received.is_some() {
            State::Closing
        } else {
            State::Open
        }
    }

    /// True once the close handshake is done, the connection failed, or the transport ended.
    pub fn is_closed(&self) -> bool {
        self.failure.is_some()
            || self.eof
            || (self.close_sent.is_some() && self.close_received.is_some())
    }

    /// The close frame this side sent, if any (`Some(None)`: a close without a status code).
    pub fn close_sent(&self) -> Option<&Option<CloseFrame>> {
        self.close_sent.as_ref()
    }

    /// The close frame the peer sent, if any (`Some(None)`: a close without a status code).
    pub fn close_received(&self) -> Option<&Option<CloseFrame>> {
        self.close_received.as_ref()
    }

    /// The failure that ended the connection, if any.
    pub fn failure(&self) -> Option<&ProtocolError> {
        self.failure.as_ref()
    }

    /// True when this side should close the transport once [`pending_output`](Self::pending_output)
    /// is flushed: a server after the close handshake (RFC 6455 section 7.1.1: the server closes
    /// TCP first), either side after a failure or after the transport ended.
    pub fn should_close_transport(&self) -> bool {
        self.failure.is_some()
            || self.eof
            || (self.role == Role::Server
                && self.close_sent.is_some()
                && self.close_received.is_some())
    }

    // ----- receiving -----

    /// Hands bytes read from the transport to the connection (copied once, into its buffer).
    ///
    /// Bytes that arrive after the peer's close frame, or after a failure, are discarded.
    pub fn receive_data(&mut self, data: &[u8]) {
        if self.failure.is_some() || self.close_received.is_some() || self.eof {
            return;
        }
        self.input.extend_from_slice(data);
    }

    /// The input buffer itself, for front-ends that read from the transport straight into it
    /// (saving the copy [`receive_data`](Self::receive_data) makes). Only append to it; bytes
    /// appended after the peer's close or a failure are discarded.
    pub fn input_buffer(&mut self) -> &mut BytesMut {
        &mut self.input
    }

    /// The capacity of the input and output buffers together (not counting large payloads
    /// queued without a copy, which belong to their messages).
    pub fn buffer_capacity(&self) -> usize {
        self.input.capacity() + self.output.capacity()
    }

    /// Gives back the input and output buffers' memory when they hold nothing and have grown
    /// past `keep` bytes. Front-ends call it when the connection goes idle (a read would wait),
    /// so a connection that once carried a large message does not keep that much while it
    /// waits; messages already delivered keep their own bytes. Returns the bytes released.
    pub fn release_idle_buffers(&mut self, keep: usize) -> usize {
        let mut released = 0;
        for buffer in [&mut self.input, &mut self.output] {
            // Consumed bytes leave room at the front that `capacity` does not count; reclaiming
            // it (no allocation, and only when no delivered message shares the buffer) shows the
            // whole allocation.
            if buffer.is_empty() && (buffer.capacity() > keep || buffer.try_reclaim(keep + 1)) {
                released += buffer.capacity();
                *buffer = BytesMut::new();
            }
        }
        if let Some(codec) = &mut self.deflate {
            // The compressor's own state stays: with context takeover it is the shared window.
            released += codec.deflater.release_scratch(keep);
            released += codec.inflater.release_output(keep);
        }
        released
    }

    /// Tells the connection that the transport reached end of stream.
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// Bytes received but not yet parsed into a complete frame.
    pub fn buffered_input(&self) -> usize {
        self.input.len()
    }

    /// How far receiving has come: complete frames and messages so far, and whether part of a
    /// frame or message is in hand. Timers that watch a peer's progress (idle and message
    /// timeouts in [`keepalive`]) read it.
    pub fn receive_progress(&self) -> ReceiveProgress {
        ReceiveProgress {
            frames: self.frames_received,
            messages: self.messages_received,
            receiving: !self.input.is_empty() || self.frame.is_some() || self.message.is_some(),
        }
    }

    /// The bytes this connection holds in memory: its input and output buffers, the
    /// fragments of a message being received, inflated data not yet delivered, payloads queued
    /// without a copy, and (estimated from zlib's own formulas) the compressor and decompressor
    /// state once allocated. Servers add it up across connections to enforce a memory budget.
    ///
    /// What it cannot see: the consumed front of the input and output buffers, which stays
    /// allocated until the buffer is reused (the next read reserves, or the output drains) or
    /// [`release_idle_buffers`](Self::release_idle_buffers) runs — at most one read and what was
    /// written since the output last emptied; and messages already delivered, which belong to the
    /// application.
    pub fn memory_use(&self) -> usize {
        self.input.capacity()
            + self.output.capacity()
            + self.shared_len
            + self.deferred_pong.as_ref().map_or(0, Bytes::len)
            + self
                .message
                .as_ref()
                .map_or(0, |message| message.parts.capacity())
            + self.deflate.as_ref().map_or(0, |codec| codec.memory_use())
    }

    /// True if the received bytes already hold another whole frame, so the next
    /// [`next_message`](Self::next_message) makes progress without new input. Front-ends use it to
    /// write the replies to a whole batch of frames at once.
    pub fn has_buffered_frame(&self) -> bool {
        if self.failure.is_some() || self.close_received.is_some() {
            return false;
        }
        match &self.frame {
            Some(frame) => self.input.len() as u64 >= frame.header.payload_len,
            None => {
                matches!(
                    FrameHeader::parse(&self.input),
                    Ok(Some((header, header_len)))
                        if (self.input.len() - header_len) as u64 >= header.payload_len
                ) || FrameHeader::parse(&self.input).is_err()
            }
        }
    }

    /// The next message (or frame, or control frame) that the received bytes complete.
    ///
    /// `Ok(None)`: more bytes are needed, or the connection is closed. `Err`: the peer broke the
    /// protocol or the transport ended without a close frame; the error is sticky, and the close
    /// frame with [`ProtocolError::close_code`] is queued in the output.
    pub fn next_message(&mut self) -> Result<Option<Message>, ProtocolError> {
        loop {
            if let Some(failure) = &self.failure {
                let failure = failure.clone();
                self.input.clear();
                return Err(failure);
            }
            if self.close_received.is_some() {
                self.input.clear();
                return Ok(None);
            }
            // The header stays in `self.frame` while the frame is handled and is read field by
            // field: moving it (and the nested results around it) through the stack copied it in
            // odd-sized pieces that stalled store forwarding on the hot path.
            let payload = match self.decode_frame() {
                Ok(Some(payload)) => payload,
                Ok(None) if self.eof && self.close_received.is_none() => {
                    return Err(self.fail(ProtocolError::ClosedWithoutCloseFrame));
                }
                Ok(None) => return Ok(None),
                Err(error) => return Err(self.fail(error)),
            };
            let handled = self.handle_frame(payload);
            // The frame is done with, whatever came of it.
            self.frame = None;
            match handled {
                Ok(Some(message)) => return Ok(Some(message)),
                Ok(None) => continue,
                Err(error) => return Err(self.fail(error)),
            }
        }
    }

    /// Fails the connection (RFC 6455 section 7.1.7): queues a close frame with the error's code
    /// unless one was sent already, and makes the error sticky.
    fn fail(&mut self, error: ProtocolError) -> ProtocolError {
        let code = error.close_code();
        if self.close_sent.is_none() && code.is_allowed_on_wire() {
            let frame = CloseFrame::new(code, error.close_reason());
            self.write_frame(true, 0, OpCode::Close, &frame.to_payload());
            self.close_sent = Some(Some(frame));
            self.auto_reply_queued = true;
        }
        self.input.clear();
        self.frame = None;
        self.message = None;
        if let Some(codec) = &mut self.deflate {
            codec.inflater.clear();
        }
        if let Some(observer) = &mut self.observer {
            observer.failed(&error);
        }
        self.failure = Some(error.clone());
        error
    }

    /// Fails the connection for a reason the front-end detected (a keepalive timeout): queues
    /// the close frame with the error's code, unless a close was sent already, and makes the
    /// error sticky. Returns the error.
    pub fn abort(&mut self, error: ProtocolError) -> ProtocolError {
        if let Some(failure) = &self.failure {
            return failure.clone();
        }
        self.fail(error)
    }

    /// Checks a header against the connection's rules, before any of its payload is read.
    /// Returns whether the frame's message is text to validate, and whether it is compressed.
    fn check_header(&mut self, header: &FrameHeader) -> Result<(bool, bool), ProtocolError> {
        // RSV1 is permessage-deflate's "compressed" bit (RFC 7692 section 6) once negotiated.
        let rsv1 = header.rsv & RSV1 != 0;
        if header.rsv & !RSV1 != 0 || (rsv1 && self.deflate.is_none()) {
            return Err(ProtocolError::ReservedBitsSet { bits: header.rsv });
        }
        if let OpCode::Reserved(bits) = header.opcode {
            return Err(ProtocolError::ReservedOpcode(bits));
        }
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrameFromClient),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrameFromServer),
            _ => {}
        }
        if header.opcode.is_control() {
            if rsv1 {
                return Err(ProtocolError::CompressedControlFrame);
            }
            if !header.fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if header.payload_len > 125 {
                return Err(ProtocolError::ControlFrameTooLong(header.payload_len));
            }
            return Ok((false, false));
        }
        if rsv1 && header.opcode == OpCode::Continuation {
            return Err(ProtocolError::CompressedContinuationFrame);
        }
        if header.payload_len > self.config.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge {
                size: header.payload_len,
                limit: self.config.max_frame_size,
            });
        }
        let kind = match (header.opcode, &self.message) {
            (OpCode::Continuation, None) => return Err(ProtocolError::ContinuationWithoutStart),
            (OpCode::Continuation, Some(message)) => message.kind,
            (opcode, Some(_)) => {
                return Err(ProtocolError::MessageInsideFragmentedMessage(opcode.name()))
            }
            (OpCode::Text, None) => DataKind::Text,
            (_, None) => DataKind::Binary,
        };
        let compressed = self
            .message
            .as_ref()
            .map_or(rsv1, |message| message.compressed);
        let so_far = self.message.as_ref().map_or(0, |message| message.size);
        let size = so_far + header.payload_len;
        // A compressed message's limit applies to its inflated size, counted as it is inflated.
        if !compressed && size > self.config.max_message_size as u64 {
            return Err(ProtocolError::MessageTooLarge {
                size,
                limit: self.config.max_message_size,
            });
        }
        if header.opcode != OpCode::Continuation {
            self.utf8.reset();
            if let (true, Some(codec)) = (compressed, &mut self.deflate) {
                codec.inflater.start_message();
            }
        }
        Ok((
            kind == DataKind::Text && self.config.validate_utf8,
            compressed,
        ))
    }

    /// Parses the next frame off the input buffer; unmasks and validates text as it arrives.
    /// Returns a whole frame's payload; its header is in `self.frame` until it is handled.
    fn decode_frame(&mut self) -> Result<Option<Bytes>, ProtocolError> {
        if self.frame.is_none() {
            let Some((header, header_len)) = FrameHeader::parse(&self.input)? else {
                return Ok(None);
            };
            let (validate_utf8, compressed) = self.check_header(&header)?;
            self.input.advance(header_len);
            self.frame = Some(IncomingFrame {
                header,
                unmasked: 0,
                validate_utf8,
                compressed,
            });
        }
        let Some(frame) = self.frame.as_mut() else {
            return Ok(None);
        };
        let len = frame.header.payload_len as usize;
        let available = self.input.len().min(len);
        if (frame.validate_utf8 || frame.compressed) && available > frame.unmasked {
            let arrived = &mut self.input[frame.unmasked..available];
            if let Some(key) = frame.header.mask {
                apply_mask_at(arrived, key, frame.unmasked);
            }
            if frame.compressed {
                // Inflated as it arrives: the size limit and the text checks see the inflated
                // bytes step by step.
                if let Some(codec) = &mut self.deflate {
                    let utf8 = frame.validate_utf8.then_some(&mut self.utf8);
                    inflate(codec, arrived, self.config.max_message_size, utf8, false)?;
                }
            } else if let Err(err) = self.utf8.feed(arrived) {
                // The validator spans the whole message (reset only when one starts), so its
                // offset is already counted from the start of the message.
                return Err(ProtocolError::InvalidUtf8 { offset: err.offset });
            }
            frame.unmasked = available;
        }
        if self.input.len() < len {
            self.input
                .reserve((len - self.input.len()).min(MAX_PAYLOAD_RESERVE));
            return Ok(None);
        }
        let mut payload = self.input.split_to(len);
        if let Some(key) = frame.header.mask {
            apply_mask_at(&mut payload[frame.unmasked..], key, frame.unmasked);
        }
        if let (true, true, Some(codec)) = (frame.compressed, frame.header.fin, &mut self.deflate) {
            // The end of a compressed message: inflate the tail its sender removed.
            let utf8 = frame.validate_utf8.then_some(&mut self.utf8);
            inflate(codec, &[], self.config.max_message_size, utf8, true)?;
        }
        Ok(Some(payload.freeze()))
    }

    /// The header of the frame being handled (see [`decode_frame`](Self::decode_frame)).
    fn current_header(&self) -> FrameHeader {
        self.frame
            .as_ref()
            .map(|frame| frame.header)
            .unwrap_or(FrameHeader {
                fin: true,
                rsv: 0,
                opcode: OpCode::Binary,
                mask: None,
                payload_len: 0,
            })
    }

    /// A whole frame as [`Message::Frame`] delivers it.
    fn whole_frame(&self, payload: Bytes) -> Frame {
        Frame {
            header: self.current_header(),
            payload,
        }
    }

    /// Applies a complete frame (its header in `self.frame`): control rules, close handshake,
    /// reassembly.
    fn handle_frame(&mut self, payload: Bytes) -> Result<Option<Message>, ProtocolError> {
        let Some(frame) = &self.frame else {
            return Ok(None);
        };
        let opcode = frame.header.opcode;
        self.frames_received += 1;
        if frame.header.fin {
            self.messages_received += 1;
        }
        if let Some(observer) = &mut self.observer {
            observer.frame_received(&frame.header, &payload);
        }
        let deliver_frames = !self.config.assemble_messages;
        match opcode {
            OpCode::Ping => {
                if self.config.auto_pong && self.close_sent.is_none() {
                    if self.deferred_pong.is_some()
                        || self.pending_output_len() >= OUTPUT_HIGH_WATER
                    {
                        // The peer is not reading what is queued: keep only the latest answer.
                        self.deferred_pong = Some(payload.clone());
                    } else {
                        self.write_frame(true, 0, OpCode::Pong, &payload);
                        self.auto_reply_queued = true;
                    }
                }
                Ok(Some(if deliver_frames {
                    Message::Frame(self.whole_frame(payload))
                } else {
                    Message::Ping(payload)
                }))
            }
            OpCode::Pong => {
                if let Some(keepalive) = &mut self.keepalive {
                    keepalive.on_pong_received(&payload);
                }
                Ok(Some(if deliver_frames {
                    Message::Frame(self.whole_frame(payload))
                } else {
                    Message::Pong(payload)
                }))
            }
            OpCode::Close => {
                let close = CloseFrame::parse(&payload)?;
                if self.close_sent.is_none() {
                    // Echo the peer's code (RFC 6455 section 5.5.1); an empty close gets an empty one.
                    let echo = close
                        .as_ref()
                        .map(|c| CloseFrame::new(c.code, String::new()));
                    let payload = echo
                        .as_ref()
                        .map(CloseFrame::to_payload)
                        .unwrap_or_default();
                    self.write_frame(true, 0, OpCode::Close, &payload);
                    self.close_sent = Some(echo);
                    self.auto_reply_queued = true;
                }
                self.close_received = Some(close.clone());
                self.input.clear();
                Ok(Some(if deliver_frames {
                    Message::Frame(self.whole_frame(payload))
                } else {
                    Message::Close(close)
                }))
            }
            _ => self.handle_data_frame(payload, deliver_frames),
        }
    }

    fn handle_data_frame(
        &mut self,
        payload: Bytes,
        deliver_frames: bool,
    ) -> Result<Option<Message>, ProtocolError> {
        let Some(frame) = &self.frame else {
            return Ok(None);
        };
        let (fin, opcode, rsv) = (frame.header.fin, frame.header.opcode, frame.header.rsv);
        let kind = match opcode {
            OpCode::Text => DataKind::Text,
            OpCode::Binary => DataKind::Binary,
            // check_header guarantees a message is in progress for a continuation.
            _ => self
                .message
                .as_ref()
                .map_or(DataKind::Binary, |message| message.kind),
        };
        let compressed = self
            .message
            .as_ref()
            .map_or(rsv & RSV1 != 0, |m| m.compressed);
        let size_before = self.message.as_ref().map_or(0, |m| m.size);
        let size = size_before + payload.len() as u64;
        if fin && kind == DataKind::Text && self.config.validate_utf8 {
            // Already an offset in the message: the validator spans all its fragments.
            self.utf8
                .finish()
                .map_err(|err| ProtocolError::InvalidUtf8 { offset: err.offset })?;
        }
        if deliver_frames {
            self.message = (!fin).then(|| IncomingMessage {
                kind,
                size,
                parts: BytesMut::new(),
                compressed,
            });
            return Ok(Some(Message::Frame(
                match (compressed, &mut self.deflate) {
                    // Delivered inflated, as the frame of an uncompressed message would be.
                    (true, Some(codec)) => {
                        let payload = codec.inflater.take_output();
                        if let Some(observer) = &mut self.observer {
                            observer.message_inflated(&payload);
                        }
                        let mut header = self.current_header();
                        header.rsv &= !RSV1;
                        header.payload_len = payload.len() as u64;
                        Frame { header, payload }
                    }
                    _ => self.whole_frame(payload),
                },
            )));
        }
        if let (true, Some(codec)) = (compressed, &mut self.deflate) {
            // The inflater assembles a compressed message.
            if !fin {
                match &mut self.message {
                    Some(message) => message.size = size,
                    None => {
                        self.message = Some(IncomingMessage {
                            kind,
                            size,
                            parts: BytesMut::new(),
                            compressed,
                        })
                    }
                }
                return Ok(None);
            }
            self.message = None;
            let payload = codec.inflater.take_output();
            if let Some(observer) = &mut self.observer {
                observer.message_inflated(&payload);
            }
            return Ok(Some(data_message(kind, payload, self.config.validate_utf8)));
        }
        if fin && self.message.is_none() {
            // The common case, a whole message in one frame: nothing to assemble.
            return Ok(Some(data_message(kind, payload, self.config.validate_utf8)));
        }
        let payload = match (self.message.take(), fin) {
            (None, true) => payload,
            (None, false) => {
                let mut parts = BytesMut::with_capacity(payload.len() * 2);
                parts.extend_from_slice(&payload);
                self.message = Some(IncomingMessage {
                    kind,
                    size,
                    parts,
                    compressed,
                });
                return Ok(None);
            }
            (Some(mut message), fin) => {
                message.parts.extend_from_slice(&payload);
                message.size = size;
                if !fin {
                    self.message = Some(message);
                    return Ok(None);
                }
                message.parts.freeze()
            }
        };
        Ok(Some(data_message(kind, payload, self.config.validate_utf8)))
    }

    // ----- sending -----

    fn check_can_send(&self) -> Result<(), SendError> {
        if let Some(failure) = &self.failure {
            return Err(SendError::Failed(failure.clone()));
        }
        if self.close_sent.is_some() {
            return Err(SendError::AlreadyClosed);
        }
        Ok(())
    }

    fn write_frame(&mut self, fin: bool, rsv: u8, opcode: OpCode, payload: &[u8]) {
        if opcode == OpCode::Close {
            // Nothing may follow a close: a held-back pong goes before it.
            self.queue_deferred_pong();
        }
        let mask = match self.role {
            Role::Client => Some(self.mask_keys.next_mask_key()),
            Role::Server => None,
        };
        if let Some(observer) = &mut self.observer {
            let header = FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len: payload.len() as u64,
            };
            observer.frame_sent(&header, payload);
        }
        encode_frame(&mut self.output, fin, rsv, opcode, mask, payload);
    }

    /// Queues the held-back pong, if any (see `deferred_pong`).
    fn queue_deferred_pong(&mut self) {
        if let Some(payload) = self.deferred_pong.take() {
            self.write_frame(true, 0, OpCode::Pong, &payload);
            self.auto_reply_queued = true;
        }
    }

    /// Whether a new message may start now: the connection is open for sending and no
    /// fragmented message is in progress.
    fn check_can_start_message(&self) -> Result<(), SendError> {
        self.check_can_send()?;
        if self.sending_fragmented.is_some() {
            return Err(SendError::FragmentOrder(
                "a fragmented message is in progress; finish it with send_continuation first",
            ));
        }
        Ok(())
    }

    fn send_data(&mut self, kind: DataKind, payload: &[u8], fin: bool) -> Result<(), SendError> {
        self.check_can_start_message()?;
        let opcode = match kind {
            DataKind::Text => OpCode::Text,
            DataKind::Binary => OpCode::Binary,
        };
        let compress = self
            .deflate
            .as_ref()
            .is_some_and(|codec| codec.deflater.wants(payload.len(), fin));
        if compress {
            // RSV1 on the first frame only (RFC 7692 section 6).
            self.write_compressed(fin, RSV1, opcode, payload)?;
        } else {
            self.write_frame(fin, 0, opcode, payload);
        }
        if !fin {
            self.sending_fragmented = Some(kind);
            self.sending_compressed = compress;
        }
        Ok(())
    }

    /// Queues one frame of a compressed message: its payload compressed, the sync-flush tail
    /// removed from the last one (RFC 7692 section 7.2.1).
    fn write_compressed(
        &mut self,
        fin: bool,
        rsv: u8,
        opcode: OpCode,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let Some(codec) = &mut self.deflate else {
            self.write_frame(fin, 0, opcode, payload);
            return Ok(());
        };
        let compressed = codec
            .deflater
            .compress(payload, fin)
            .map_err(SendError::Compression)?;
        if let Some(observer) = &mut self.observer {
            observer.frame_compressed(payload);
        }
        self.write_frame(fin, rsv, opcode, &compressed);
        if let Some(codec) = &mut self.deflate {
            codec.deflater.recycle(compressed);
        }
        Ok(())
    }

    /// Queues a text message as one frame (compressed when permessage-deflate is on and the
    /// message has at least [`DeflateConfig::min_size`] bytes).
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_data(DataKind::Text, text.as_bytes(), true)
    }

    /// Queues a binary message as one frame.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_data(DataKind::Binary, data, true)
    }

    /// Queues the first frame of a fragmented text (`text` true) or binary message; continue it
    /// with [`send_continuation`](Self::send_continuation). Control frames may be sent in between.
    pub fn send_first_fragment(&mut self, text: bool, payload: &[u8]) -> Result<(), SendError> {
        let kind = if text {
            DataKind::Text
        } else {
            DataKind::Binary
        };
        self.send_data(kind, payload, false)
    }

    /// Queues a continuation frame of the message started by
    /// [`send_first_fragment`](Self::send_first_fragment); `fin` ends the message.
    pub fn send_continuation(&mut self, payload: &[u8], fin: bool) -> Result<(), SendError> {
        self.check_can_send()?;
        if self.sending_fragmented.is_none() {
            return Err(SendError::FragmentOrder(
                "no fragmented message is in progress; start one with send_first_fragment",
            ));
        }
        if self.sending_compressed {
            self.write_compressed(fin, 0, OpCode::Continuation, payload)?;
        } else {
            self.write_frame(fin, 0, OpCode::Continuation, payload);
        }
        if fin {
            self.sending_fragmented = None;
            self.sending_compressed = false;
        }
        Ok(())
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.check_can_send()?;
        if payload.len() > 125 {
            return Err(SendError::ControlPayloadTooLong(payload.len()));
        }
        self.write_frame(true, 0, opcode, payload);
        Ok(())
    }

    /// Queues a ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited pong (payload at most 125 bytes), a one-way heartbeat.
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, payload)
    }

    /// Starts (or answers) the close handshake. `None` sends a close frame without a status code.
    ///
    /// The code must be one RFC 6455 allows on the wire and the reason at most 123 bytes. Nothing
    /// can be sent afterwards; received data messages keep arriving until the peer's close.
    pub fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), SendError> {
        self.check_can_send()?;
        if let Some(frame) = &frame {
            if !frame.code.is_allowed_on_wire() {
                return Err(SendError::InvalidCloseCode(frame.code.as_u16()));
            }
            if frame.reason.len() > MAX_CLOSE_REASON_BYTES {
                return Err(SendError::CloseReasonTooLong(frame.reason.len()));
            }
        }
        let payload = frame
            .as_ref()
            .map(CloseFrame::to_payload)
            .unwrap_or_default();
        self.write_frame(true, 0, OpCode::Close, &payload);
        self.close_sent = Some(frame);
        Ok(())
    }

    /// Queues a frame exactly as given: any opcode (reserved ones too), FIN and RSV bits, for
    /// testing peers. The mask follows the role. A close frame sent this way counts as the close;
    /// nothing else is checked.
    pub fn send_raw_frame(&mut self, frame: &Frame) -> Result<(), SendError> {
        self.check_can_send()?;
        let header = frame.header;
        self.write_frame(header.fin, header.rsv, header.opcode, &frame.payload);
        if header.opcode == OpCode::Close {
            self.close_sent = Some(CloseFrame::parse(&frame.payload).ok().flatten());
        }
        Ok(())
    }

    /// Queues any [`Message`]: text, binary, ping, pong, close, or a raw frame.
    pub fn send(&mut self, message: &Message) -> Result<(), SendError> {
        match message {
            Message::Text(text) if self.can_share(text.len()) => {
                self.send_shared(OpCode::Text, text.clone().into_bytes())
            }
            Message::Binary(data) if self.can_share(data.len()) => {
                self.send_shared(OpCode::Binary, data.clone())
            }
            Message::Text(text) => self.send_data(DataKind::Text, text.as_bytes(), true),
            Message::Binary(data) => self.send_binary(data),
            Message::Ping(data) => self.send_ping(data),
            Message::Pong(data) => self.send_pong(data),
            Message::Close(frame) => self.close(frame.clone()),
            Message::Frame(frame) => self.send_raw_frame(frame),
        }
    }

    /// Whether a whole message of `len` bytes goes out without a copy: a server's (no mask),
    /// uncompressed and large.
    fn can_share(&self, len: usize) -> bool {
        len >= SHARED_PAYLOAD_MIN
            && self.role == Role::Server
            && !self
                .deflate
                .as_ref()
                .is_some_and(|codec| codec.deflater.wants(len, true))
    }

    /// Queues a whole message's frame: the header into the output buffer, the payload as its
    /// own slice after it.
    fn send_shared(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), SendError> {
        self.check_can_start_message()?;
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload_len: payload.len() as u64,
        };
        if let Some(observer) = &mut self.observer {
            observer.frame_sent(&header, &payload);
        }
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        self.output.extend_from_slice(&head[..head_len]);
        self.shared_len += payload.len();
        self.shared_output.push_back(SharedPayload {
            at: self.output.len(),
            bytes: payload,
        });
        Ok(())
    }
}

/// A whole text or binary message (text already validated when `validated`).
fn data_message(kind: DataKind, payload: Bytes, validated: bool) -> Message {
    match kind {
        DataKind::Binary => Message::Binary(payload),
        DataKind::Text if validated => Message::Text(Utf8Bytes::from_validated(payload)),
        DataKind::Text => Message::Text(Utf8Bytes::from_bytes_lossy(payload)),
    }
}

/// Inflates part of a compressed message (`data`, or the removed tail when `finish`), enforcing
/// the message size limit and validating inflated text step by step.
fn inflate(
    codec: &mut DeflateCodec,
    data: &[u8],
    limit: usize,
    mut utf8: Option<&mut Utf8Validator>,
    finish: bool,
) -> Result<(), ProtocolError> {
    let check = |inflated: &[u8]| match utf8.as_mut() {
        Some(validator) => validator
            .feed(inflated)
            .map_err(|err| ProtocolError::InvalidUtf8 { offset: err.offset }),
        None => Ok(()),
    };
    if finish {
        codec.inflater.finish_message(limit, check)
    } else {
        codec.inflater.inflate(data, limit, check)
    }
}
