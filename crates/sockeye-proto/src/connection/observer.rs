//! The [`Observer`] of a connection: what it sees of the frames sent and received.

#[cfg(doc)]
use super::{Config, Connection};
use crate::error::ProtocolError;
use crate::frame::header::FrameHeader;

/// Sees what a [`Connection`] does, without being able to change it: every complete frame
/// received (before the connection acts on it), every frame queued for sending (payload not yet
/// masked), and the failure that ends the connection. With permessage-deflate it also sees the
/// uncompressed payloads: what each compressed frame sent was compressed from
/// ([`frame_compressed`](Self::frame_compressed)) and what each compressed message received
/// inflates to ([`message_inflated`](Self::message_inflated)).
///
/// Every method has an empty default. With no observer installed none is called, and the
/// connection pays one branch per frame; the payloads are borrowed, never copied for it.
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// use sockeye_proto::extensions::deflate::{DeflateConfig, PerMessageDeflate};
/// use sockeye_proto::{Config, Connection, FrameHeader, Message, Observer, Role};
///
/// #[derive(Clone, Default)]
/// struct Log(Arc<Mutex<Vec<String>>>);
///
/// impl Observer for Log {
///     fn frame_compressed(&mut self, uncompressed: &[u8]) {
///         self.0.lock().unwrap().push(format!("compressing {} bytes", uncompressed.len()));
///     }
///     fn frame_sent(&mut self, header: &FrameHeader, payload: &[u8]) {
///         let rsv1 = header.rsv != 0;
///         let smaller = payload.len() < 120;
///         self.0.lock().unwrap().push(format!("> {} rsv1={rsv1} smaller={smaller}", header.opcode));
///     }
///     fn frame_received(&mut self, header: &FrameHeader, _: &[u8]) {
///         self.0.lock().unwrap().push(format!("< {} fin={}", header.opcode, header.fin));
///     }
///     fn message_inflated(&mut self, inflated: &[u8]) {
///         self.0.lock().unwrap().push(format!("inflated {} bytes", inflated.len()));
///     }
/// }
///
/// let deflate = |role| {
///     Connection::new(role, Config::default())
///         .with_deflate(PerMessageDeflate::default(), &DeflateConfig::default())
/// };
/// let (mut client, mut server) = (deflate(Role::Client), deflate(Role::Server));
/// let (sent, received) = (Log::default(), Log::default());
/// client.set_observer(Some(Box::new(sent.clone())));
/// server.set_observer(Some(Box::new(received.clone())));
///
/// let text = "hello ".repeat(20);
/// client.send_first_fragment(true, text.as_bytes())?;
/// client.send_continuation(text.as_bytes(), true)?;
/// server.receive_data(&client.take_output());
/// assert_eq!(server.next_message()?, Some(Message::text(text.repeat(2))));
///
/// assert_eq!(*sent.0.lock().unwrap(), [
///     "compressing 120 bytes",
///     "> text rsv1=true smaller=true",
///     "compressing 120 bytes",
///     "> continuation rsv1=false smaller=true",
/// ]);
/// assert_eq!(*received.0.lock().unwrap(), [
///     "< text fin=false",
///     "< continuation fin=true",
///     "inflated 240 bytes",
/// ]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Observer: Send {
    /// A whole frame arrived; `payload` is unmasked (for a compressed frame: the DEFLATE bytes
    /// as they crossed the wire, see [`message_inflated`](Self::message_inflated)).
    fn frame_received(&mut self, header: &FrameHeader, payload: &[u8]) {
        let _ = (header, payload);
    }

    /// A frame was queued for sending; `header.mask` is the key it will be masked with (for a
    /// compressed frame, `payload` is the compressed bytes; see
    /// [`frame_compressed`](Self::frame_compressed)).
    fn frame_sent(&mut self, header: &FrameHeader, payload: &[u8]) {
        let _ = (header, payload);
    }

    /// permessage-deflate: the payload of a frame about to be sent compressed, as the
    /// application gave it. Called once per compressed frame (the first frame of a compressed
    /// message, which carries RSV1, and each of its continuations), just before
    /// [`frame_sent`](Self::frame_sent) for that frame, which sees the compressed bytes.
    fn frame_compressed(&mut self, uncompressed: &[u8]) {
        let _ = uncompressed;
    }

    /// permessage-deflate: the inflated payload of a compressed message received, once the
    /// message is whole (after [`frame_received`](Self::frame_received) for its final frame,
    /// before the message is delivered). When frames are delivered one by one
    /// ([`Config::assemble_messages`] off), it is called for each compressed frame instead,
    /// with what that frame inflated to. Not called for a message that fails (not valid
    /// DEFLATE data, too large, invalid text): [`failed`](Self::failed) reports it.
    fn message_inflated(&mut self, inflated: &[u8]) {
        let _ = inflated;
    }

    /// The connection failed; its close frame (if any) was queued before this call.
    fn failed(&mut self, error: &ProtocolError) {
        let _ = error;
    }
}
