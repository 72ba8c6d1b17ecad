//! The open connection: RFC 6455 violations and receive limits (each with its close code),
//! sends refused, a connection already closed.

use sockeye_proto::ProtocolError;

use super::{millis, Builder};

pub(super) fn protocol(b: &mut Builder<'_, '_>, err: &ProtocolError) {
    b.fact("close_code", err.close_code().to_string());
    let (cause, hint) = match err {
        ProtocolError::ClosedWithoutCloseFrame => (
            "closed-abnormally",
            "the connection ended without a close frame (1006): the server, a proxy or the network dropped it; the server's logs or an idle timeout in a proxy may explain it",
        ),
        ProtocolError::PingTimeout { .. } => (
            "ping-timeout",
            "no pong came back in time: the peer or the path is not responding",
        ),
        ProtocolError::IdleTimeout { after } => {
            b.fact("after", millis(*after));
            (
                "idle-timeout",
                "no complete frame arrived within idle_timeout while no message was in progress: the peer is silent or gone. Pongs count, so with keepalive pings on (ping_interval) a live peer never reaches it: the peer stopped answering. Without pings, a quiet but healthy peer reaches it too: turn pings on, or raise idle_timeout",
            )
        }
        ProtocolError::MessageTimeout { after } => {
            b.fact("after", millis(*after));
            (
                "message-timeout",
                "a frame or message was not complete within message_timeout of its first byte (closed with 1008): the peer sends too slowly, or trickles bytes to hold the connection; raise message_timeout if large messages over a slow link are expected",
            )
        }
        ProtocolError::MemoryBudgetExceeded {
            held,
            budget,
            receiving,
        } => {
            b.fact("held", format!("{held} bytes"))
                .fact("budget", format!("{budget} bytes"))
                .fact(
                    "held_as",
                    if *receiving {
                        "a message arriving"
                    } else {
                        "output the peer did not read"
                    },
                );
            (
                "server-memory-budget",
                if *receiving {
                    "the server's memory budget for all connections (max_memory) was reached and this connection held the most, in a message still arriving (closed with 1009): raise max_memory, or lower max_message_size so that one message cannot take so much"
                } else {
                    "the server's memory budget for all connections (max_memory) was reached and this connection held the most, in output its peer did not read (closed with 1008): the peer reads too slowly or not at all; raise max_memory if such backlogs are expected"
                },
            )
        }
        ProtocolError::InvalidUtf8 { .. } | ProtocolError::CloseReasonNotUtf8 => (
            "invalid-utf8",
            "the server sent text that is not UTF-8; ClientConfig::validate_utf8(false) accepts it",
        ),
        ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => (
            "message-too-big",
            "the server sent more than the configured limit; raise max_frame_size or max_message_size",
        ),
        ProtocolError::MaskedFrameFromServer => (
            "masked-frame",
            "the server masks its frames, which RFC 6455 forbids: the server is broken (or is a client)",
        ),
        _ => (
            "protocol-error",
            "the server broke RFC 6455; the message says which rule",
        ),
    };
    b.cause(cause).hint(hint);
}

/// [`Error::Send`](crate::Error::Send): a message that cannot be sent.
pub(super) fn send_refused(b: &mut Builder<'_, '_>) {
    b.cause("send-refused").hint(
        "the message cannot be sent in this state or with this content; the message says why",
    );
}

/// [`Error::ConnectionClosed`](crate::Error::ConnectionClosed).
pub(super) fn closed(b: &mut Builder<'_, '_>) {
    b.cause("closed")
        .hint("the close handshake is complete: open a new connection");
}
