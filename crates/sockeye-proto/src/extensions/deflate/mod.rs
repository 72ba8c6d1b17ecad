//! permessage-deflate (RFC 7692): negotiation, and the compression of whole messages.
//!
//! # Negotiation (RFC 7692 sections 5 and 7.1)
//!
//! - A client offers [`DeflateConfig::offer`] — `permessage-deflate; client_max_window_bits` by
//!   default — and checks the server's answer with [`check_response`], which fails on anything
//!   section 7.1 forbids: an unknown, repeated or malformed parameter, a `server_max_window_bits`
//!   or `server_no_context_takeover` the offer asked for and the answer dropped (or raised), a
//!   `client_max_window_bits` the client never offered. The result is the [`PerMessageDeflate`]
//!   both sides now use.
//! - A server answers the first offer it can accept with [`DeflateConfig::accept`]; offers with
//!   unknown, repeated or malformed parameters are declined, as section 5 requires, and so is an
//!   offer that asks the server for an 8-bit window (see below). The answer names every
//!   parameter the server uses.
//!
//! # Compression (RFC 7692 section 7.2)
//!
//! A [`Connection`](crate::Connection) given the agreed parameters with
//! [`with_deflate`](crate::Connection::with_deflate) compresses each outgoing message of at least
//! [`DeflateConfig::min_size`] bytes (and every fragmented one): RSV1 on its first frame, the
//! DEFLATE data of each frame ended with a sync flush, and the final `00 00 ff ff` removed.
//! Shorter messages go out uncompressed, RSV1 clear, which section 6 allows at any time.
//! Incoming compressed messages are inflated as their bytes arrive, with `00 00 ff ff` appended
//! at the end, in bounded steps: the inflated size counts against
//! [`Config::max_message_size`](crate::Config::max_message_size) as it is produced (1009 as soon
//! as it is crossed, so a small "zip bomb" never becomes a large allocation), inflated text is
//! validated as it is produced (1007 at the first invalid sequence), and data that is not valid
//! DEFLATE fails with 1007, the code for data inconsistent with its message (as Node's `ws` does;
//! Python's `websockets` sends 1002). RSV1 on a control frame or a continuation frame fails
//! with 1002.
//!
//! # Window sizes
//!
//! zlib, and so zlib-rs, cannot compress with a 256-byte window (8 window bits); 9 to 15 work.
//! Inflating with a larger window than the sender's is always correct, so received data is
//! inflated with at least 9 bits (this also accepts the 512-byte window older zlib versions
//! silently used when asked for 8). A server declines an offer that limits its own window to
//! 8 bits (section 7.1.2.1 lets it decline, and the client may have a fallback offer); a client
//! told to compress with at most 8 bits keeps the agreement and sends its messages
//! uncompressed, which the agreement allows.

use std::fmt;

use crate::extensions::ExtensionOffer;

mod codec;

pub(crate) use codec::DeflateCodec;

/// The extension's name in `Sec-WebSocket-Extensions`.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The window sizes RFC 7692 allows in negotiation, in bits.
const NEGOTIABLE_WINDOW_BITS: std::ops::RangeInclusive<u8> = 8..=15;

/// The smallest window zlib compresses (and that received data is inflated) with.
const MIN_ZLIB_WINDOW_BITS: u8 = 9;

/// The window size when no parameter limits it: 32 KiB.
const DEFAULT_WINDOW_BITS: u8 = 15;

/// The compression settings of one side: what a client offers, what a server accepts, how this
/// side compresses. Every field documents its default.
///
/// ```
/// use sockeye_proto::extensions::deflate::DeflateConfig;
///
/// assert_eq!(
///     DeflateConfig::default().offer().to_string(),
///     "permessage-deflate; client_max_window_bits"
/// );
/// let small = DeflateConfig::default().server_max_window_bits(Some(10));
/// assert_eq!(
///     small.offer().to_string(),
///     "permessage-deflate; server_max_window_bits=10; client_max_window_bits"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Client: offer `server_no_context_takeover`, asking the server to compress each message
    /// on its own. Server: always answer it, compressing each message on its own. Default off
    /// (a server still answers it when the client asks).
    pub server_no_context_takeover: bool,
    /// Client: offer `client_no_context_takeover` and compress each message on its own. Server:
    /// always answer it, so the client must. Default off (a server still answers it when the
    /// client offers it, and a client still follows it when the server answers it).
    pub client_no_context_takeover: bool,
    /// Client: offer `server_max_window_bits=N`, so the server compresses with at most 2^N
    /// bytes of history. Server: compress with at most N bits and answer
    /// `server_max_window_bits=N` (or the client's smaller value). Values are clamped to 8-15
    /// (9-15 for a server's own window). Default none: no limit asked for, a 15-bit window used.
    pub server_max_window_bits: Option<u8>,
    /// Client: offer `client_max_window_bits=N` and compress with at most N bits; `None`
    /// offers the parameter without a value, accepting any limit the server sets. Server: when
    /// the client offered the parameter, answer `client_max_window_bits=N` (or the client's
    /// smaller value). Clamped to 8-15. Default none.
    pub client_max_window_bits: Option<u8>,
    /// The zlib compression level, 0 (store) to 9 (smallest). Default 6, zlib's default.
    pub level: u32,
    /// Outgoing messages shorter than this are sent uncompressed: a few bytes gain little, and
    /// compression costs CPU and up to a few bytes of overhead. Fragmented messages, whose size is
    /// unknown when their first frame goes out, are always compressed. Default
    /// [`DEFAULT_MIN_SIZE`] (32 bytes).
    pub min_size: usize,
}

/// The default [`DeflateConfig::min_size`]: messages under 32 bytes are sent uncompressed.
pub const DEFAULT_MIN_SIZE: usize = 32;

impl Default for DeflateConfig {
    /// The client defaults, which also make a server that accepts any offer without limits.
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: None,
            client_max_window_bits: None,
            level: 6,
            min_size: DEFAULT_MIN_SIZE,
        }
    }
}

impl DeflateConfig {
    /// The defaults of a server, as Python's `websockets` chose them: a 4 KiB window (12 bits)
    /// for what the server sends, and for what the client sends when it accepts a limit. A
    /// 15-bit window costs about 300 KiB of zlib state per connection, a 12-bit one about 150 KiB;
    /// typical messages compress almost as well.
    pub fn server_default() -> Self {
        Self::default()
            .server_max_window_bits(Some(12))
            .client_max_window_bits(Some(12))
    }

    /// Sets [`server_no_context_takeover`](Self::server_no_context_takeover).
    pub fn server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// Sets [`client_no_context_takeover`](Self::client_no_context_takeover).
    pub fn client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// Sets [`server_max_window_bits`](Self::server_max_window_bits).
    pub fn server_max_window_bits(mut self, bits: Option<u8>) -> Self {
        self.server_max_window_bits = bits;
        self
    }

    /// Sets [`client_max_window_bits`](Self::client_max_window_bits).
    pub fn client_max_window_bits(mut self, bits: Option<u8>) -> Self {
        self.client_max_window_bits = bits;
        self
    }

    /// Sets [`level`](Self::level) (clamped to 0-9 when used).
    pub fn level(mut self, level: u32) -> Self {
        self.level = level;
        self
    }

    /// Sets [`min_size`](Self::min_size).
    pub fn min_size(mut self, bytes: usize) -> Self {
        self.min_size = bytes;
        self
    }

    /// The client's offer (RFC 7692 section 7.1): the parameters set in this configuration,
    /// and `client_max_window_bits` always, with a value when one is set.
    pub fn offer(&self) -> ExtensionOffer {
        let params = Params {
            server_no_context_takeover: self.server_no_context_takeover,
            client_no_context_takeover: self.client_no_context_takeover,
            server_max_window_bits: self.server_max_window_bits.map(clamp_negotiable),
            client_max_window_bits: Some(self.client_max_window_bits.map(clamp_negotiable)),
        };
        params.to_extension()
    }

    /// The server's choice among a request's extension offers (RFC 7692 section 5): the first
    /// `permessage-deflate` offer it can accept, with the response element to send and the
    /// parameters both sides then use. `None` if no offer is acceptable (or none was made).
    pub fn accept(&self, offers: &[ExtensionOffer]) -> Option<(ExtensionOffer, PerMessageDeflate)> {
        offers
            .iter()
            .filter(|offer| is_permessage_deflate(offer))
            .find_map(|offer| self.accept_offer(offer).ok())
    }

    /// Accepts one offer, or says why it must be declined (section 5: an unknown, repeated or
    /// malformed parameter; section 7.1.2.1: a window this server cannot compress with).
    pub fn accept_offer(
        &self,
        offer: &ExtensionOffer,
    ) -> Result<(ExtensionOffer, PerMessageDeflate), DeflateProblem> {
        let offered = Params::parse(offer, Direction::Offer)?;
        // 7.1.1.1: an offered server_no_context_takeover must be answered; the server may add it.
        let server_no_context_takeover =
            offered.server_no_context_takeover || self.server_no_context_takeover;
        // 7.1.1.2: the client's hint is echoed (it will not take over context anyway).
        let client_no_context_takeover =
            offered.client_no_context_takeover || self.client_no_context_takeover;
        // 7.1.2.1: answer the offered limit or a smaller one; the server may add a limit.
        let own_window = self
            .server_max_window_bits
            .map(|bits| bits.clamp(MIN_ZLIB_WINDOW_BITS, DEFAULT_WINDOW_BITS))
            .filter(|&bits| bits < DEFAULT_WINDOW_BITS);
        let server_max_window_bits = match (offered.server_max_window_bits, own_window) {
            (None, own) => own,
            (Some(asked), None) => Some(asked),
            (Some(asked), Some(own)) => Some(asked.min(own)),
        };
        if let Some(bits) = server_max_window_bits.filter(|&bits| bits < MIN_ZLIB_WINDOW_BITS) {
            return Err(DeflateProblem::UnsupportedWindow { bits });
        }
        // 7.1.2.2: only when offered; then the configured limit or the client's, the smaller.
        let own_client_window = self.client_max_window_bits.map(clamp_negotiable);
        let client_max_window_bits = match (offered.client_max_window_bits, own_client_window) {
            (None, _) | (Some(None), None) => None,
            (Some(None), Some(own)) => Some(own),
            (Some(Some(offered)), None) => Some(offered),
            (Some(Some(offered)), Some(own)) => Some(offered.min(own)),
        };
        let answer = Params {
            server_no_context_takeover,
            client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits: client_max_window_bits.map(Some),
        };
        let agreed = PerMessageDeflate {
            server_no_context_takeover,
            client_no_context_takeover,
            server_max_window_bits: server_max_window_bits.unwrap_or(DEFAULT_WINDOW_BITS),
            client_max_window_bits: client_max_window_bits.unwrap_or(DEFAULT_WINDOW_BITS),
        };
        Ok((answer.to_extension(), agreed))
    }
}

/// The parameters both sides agreed on (RFC 7692 section 7.1), as values in force: a window
/// size of 15 bits where no parameter limits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PerMessageDeflate {
    /// The server compresses each message on its own (its receiver starts each one afresh).
    pub server_no_context_takeover: bool,
    /// The client compresses each message on its own.
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with, in bits (8-15).
    pub server_max_window_bits: u8,
    /// The largest window the client compresses with, in bits (8-15).
    pub client_max_window_bits: u8,
}

impl Default for PerMessageDeflate {
    /// What a bare `permessage-deflate` agrees on: context takeover both ways, 15-bit windows.
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: DEFAULT_WINDOW_BITS,
            client_max_window_bits: DEFAULT_WINDOW_BITS,
        }
    }
}

/// Checks a server's `permessage-deflate` response element against the client's offers
/// (RFC 7692 section 7.1) and returns the parameters in force. With several offers (fallbacks),
/// the response is valid if it answers one of them; otherwise the problem with the first
/// offer is reported.
pub fn check_response(
    offers: &[ExtensionOffer],
    response: &ExtensionOffer,
) -> Result<PerMessageDeflate, DeflateProblem> {
    let answered = Params::parse(response, Direction::Response)?;
    let mut first_problem = None;
    for offer in offers.iter().filter(|offer| is_permessage_deflate(offer)) {
        match check_answer(offer, &answered) {
            Ok(agreed) => return Ok(agreed),
            Err(problem) => {
                first_problem.get_or_insert(problem);
            }
        }
    }
    Err(first_problem.unwrap_or(DeflateProblem::NotOffered))
}

fn check_answer(
    offer: &ExtensionOffer,
    answered: &Params,
) -> Result<PerMessageDeflate, DeflateProblem> {
    let offered =
        Params::parse(offer, Direction::Offer).map_err(|problem| DeflateProblem::InvalidOffer {
            offer: offer.to_string(),
            problem: Box::new(problem),
        })?;
    // 7.1.1.1: the server must accept an offered server_no_context_takeover; it may add it.
    if offered.server_no_context_takeover && !answered.server_no_context_takeover {
        return Err(DeflateProblem::ServerNoContextTakeoverDropped);
    }
    // 7.1.1.2: the client may keep to its own hint whatever the server answers.
    let client_no_context_takeover =
        answered.client_no_context_takeover || offered.client_no_context_takeover;
    // 7.1.2.1: an offered limit must be answered with the same or a smaller one; an answer
    // without an offer is allowed (the client only inflates, with any window).
    let server_max_window_bits = match (
        offered.server_max_window_bits,
        answered.server_max_window_bits,
    ) {
        (Some(offered), None) => {
            return Err(DeflateProblem::ServerMaxWindowBitsDropped { offered })
        }
        (Some(offered), Some(answered)) if answered > offered => {
            return Err(DeflateProblem::ServerMaxWindowBitsRaised { offered, answered })
        }
        (_, answered) => answered.unwrap_or(DEFAULT_WINDOW_BITS),
    };
    // 7.1.2.2: only in answer to an offer, and never above the offered value.
    let answered_client = answered.client_max_window_bits.flatten();
    let client_max_window_bits = match (offered.client_max_window_bits, answered_client) {
        (None, Some(answered)) => {
            return Err(DeflateProblem::ClientMaxWindowBitsNotOffered { answered })
        }
        (None, None) | (Some(None), None) => DEFAULT_WINDOW_BITS,
        (Some(None), Some(answered)) => answered,
        (Some(Some(offered)), None) => offered,
        (Some(Some(offered)), Some(answered)) if answered > offered => {
            return Err(DeflateProblem::ClientMaxWindowBitsRaised { offered, answered })
        }
        (Some(Some(_)), Some(answered)) => answered,
    };
    Ok(PerMessageDeflate {
        server_no_context_takeover: answered.server_no_context_takeover,
        client_no_context_takeover,
        server_max_window_bits,
        client_max_window_bits,
    })
}

/// True for a `permessage-deflate` element (the name compares case-insensitively).
pub fn is_permessage_deflate(extension: &ExtensionOffer) -> bool {
    extension.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE)
}

/// Why a `permessage-deflate` offer was declined or a response refused (RFC 7692 sections 5
/// and 7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeflateProblem {
    /// A parameter RFC 7692 does not define (section 5).
    UnknownParameter(String),
    /// A parameter given twice (section 5).
    DuplicateParameter(&'static str),
    /// A parameter with a value it may not have (section 7.1): a value on a
    /// `*_no_context_takeover`, a window size other than 8-15 without leading zeros, or
    /// `client_max_window_bits` without a value in a response.
    InvalidValue {
        /// The parameter.
        parameter: &'static str,
        /// The value received, if any.
        value: Option<String>,
    },
    /// The offer asked for `server_no_context_takeover` and the response dropped it (7.1.1.1).
    ServerNoContextTakeoverDropped,
    /// The offer limited `server_max_window_bits` and the response dropped it (7.1.2.1).
    ServerMaxWindowBitsDropped {
        /// The offered limit.
        offered: u8,
    },
    /// The response's `server_max_window_bits` is larger than the offered one (7.1.2.1).
    ServerMaxWindowBitsRaised {
        /// The offered limit.
        offered: u8,
        /// The answered limit.
        answered: u8,
    },
    /// The response has `client_max_window_bits` but the offer did not (7.1.2.2).
    ClientMaxWindowBitsNotOffered {
        /// The answered limit.
        answered: u8,
    },
    /// The response's `client_max_window_bits` is larger than the offered one (7.1.2.2).
    ClientMaxWindowBitsRaised {
        /// The offered limit.
        offered: u8,
        /// The answered limit.
        answered: u8,
    },
    /// The server would have to compress with a window this implementation cannot use (8 bits:
    /// zlib's smallest is 9), so the offer is declined (7.1.2.1).
    UnsupportedWindow {
        /// The window size the offer asks for.
        bits: u8,
    },
    /// The response accepts `permessage-deflate` more than once.
    AcceptedTwice,
    /// The response accepts `permessage-deflate`, but no offer of it was made.
    NotOffered,
    /// The client's own offer is malformed, so no response can match it.
    InvalidOffer {
        /// The offer as sent.
        offer: String,
        /// What is wrong with it.
        problem: Box<DeflateProblem>,
    },
}

impl fmt::Display for DeflateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownParameter(name) => write!(
                f,
                "unknown parameter {name:?} (RFC 7692 section 5 allows only server_no_context_takeover, client_no_context_takeover, server_max_window_bits and client_max_window_bits)"
            ),
            Self::DuplicateParameter(name) => {
                write!(f, "parameter {name} appears twice (RFC 7692 section 5)")
            }
            Self::InvalidValue { parameter, value: Some(value) } => write!(
                f,
                "invalid value {value:?} for {parameter} (RFC 7692 section 7.1)"
            ),
            Self::InvalidValue { parameter, value: None } => {
                write!(f, "{parameter} needs a value (RFC 7692 section 7.1)")
            }
            Self::ServerNoContextTakeoverDropped => f.write_str(
                "the client offered server_no_context_takeover and the response does not accept it (RFC 7692 section 7.1.1.1)",
            ),
            Self::ServerMaxWindowBitsDropped { offered } => write!(
                f,
                "the client offered server_max_window_bits={offered} and the response does not answer it (RFC 7692 section 7.1.2.1)"
            ),
            Self::ServerMaxWindowBitsRaised { offered, answered } => write!(
                f,
                "server_max_window_bits={answered} is larger than the offered {offered} (RFC 7692 section 7.1.2.1)"
            ),
            Self::ClientMaxWindowBitsNotOffered { answered } => write!(
                f,
                "client_max_window_bits={answered} answers an offer that did not have that parameter (RFC 7692 section 7.1.2.2)"
            ),
            Self::ClientMaxWindowBitsRaised { offered, answered } => write!(
                f,
                "client_max_window_bits={answered} is larger than the offered {offered} (RFC 7692 section 7.1.2.2)"
            ),
            Self::UnsupportedWindow { bits } => write!(
                f,
                "a {bits}-bit window is not supported for compressing (zlib's smallest is 9 bits)"
            ),
            Self::AcceptedTwice => f.write_str("permessage-deflate is accepted more than once"),
            Self::NotOffered => f.write_str("permessage-deflate was not offered"),
            Self::InvalidOffer { offer, problem } => {
                write!(f, "the offer {offer:?} itself is invalid: {problem}")
            }
        }
    }
}

impl std::error::Error for DeflateProblem {}

// ---------------------------------------------------------------------------------------------
// Parameters as on the wire
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    /// In an offer, `client_max_window_bits` may come without a value.
    Offer,
    Response,
}

/// One offer's or response's parameters, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter without a value (offers only).
    client_max_window_bits: Option<Option<u8>>,
}

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

impl Params {
    fn parse(extension: &ExtensionOffer, direction: Direction) -> Result<Self, DeflateProblem> {
        let mut params = Self::default();
        let mut seen = [false; 4];
        for (name, value) in &extension.params {
            let (index, parameter) = match name.as_str() {
                SERVER_NO_CONTEXT_TAKEOVER => (0, SERVER_NO_CONTEXT_TAKEOVER),
                CLIENT_NO_CONTEXT_TAKEOVER => (1, CLIENT_NO_CONTEXT_TAKEOVER),
                SERVER_MAX_WINDOW_BITS => (2, SERVER_MAX_WINDOW_BITS),
                CLIENT_MAX_WINDOW_BITS => (3, CLIENT_MAX_WINDOW_BITS),
                other => return Err(DeflateProblem::UnknownParameter(other.to_string())),
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(DeflateProblem::DuplicateParameter(parameter));
            }
            let invalid = || DeflateProblem::InvalidValue {
                parameter,
                value: value.clone(),
            };
            match index {
                0 | 1 if value.is_some() => return Err(invalid()),
                0 => params.server_no_context_takeover = true,
                1 => params.client_no_context_takeover = true,
                2 => {
                    params.server_max_window_bits =
                        Some(window_bits(value.as_deref()).ok_or_else(invalid)?);
                }
                _ => {
                    params.client_max_window_bits = Some(match value.as_deref() {
                        None if direction == Direction::Offer => None,
                        value => Some(window_bits(value).ok_or_else(invalid)?),
                    });
                }
            }
        }
        Ok(params)
    }

    /// The element, parameters in the order RFC 7692 lists them.
    fn to_extension(&self) -> ExtensionOffer {
        let mut params = Vec::new();
        if self.server_no_context_takeover {
            params.push((SERVER_NO_CONTEXT_TAKEOVER.to_string(), None));
        }
        if self.client_no_context_takeover {
            params.push((CLIENT_NO_CONTEXT_TAKEOVER.to_string(), None));
        }
        if let Some(bits) = self.server_max_window_bits {
            params.push((SERVER_MAX_WINDOW_BITS.to_string(), Some(bits.to_string())));
        }
        if let Some(bits) = self.client_max_window_bits {
            params.push((
                CLIENT_MAX_WINDOW_BITS.to_string(),
                bits.map(|bits| bits.to_string()),
            ));
        }
        ExtensionOffer {
            name: PERMESSAGE_DEFLATE.to_string(),
            params,
        }
    }
}

/// A window size as RFC 7692 section 7.1.2 writes it: 8 to 15, decimal, no leading zeros.
fn window_bits(value: Option<&str>) -> Option<u8> {
    let value = value?;
    if value.is_empty() || value.len() > 2 || value.starts_with('0') {
        return None;
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value
        .parse::<u8>()
        .ok()
        .filter(|bits| NEGOTIABLE_WINDOW_BITS.contains(bits))
}

fn clamp_negotiable(bits: u8) -> u8 {
    bits.clamp(
        *NEGOTIABLE_WINDOW_BITS.start(),
        *NEGOTIABLE_WINDOW_BITS.end(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    fn element(text: &str) -> ExtensionOffer {
        ExtensionOffer::parse_list(text).remove(0)
    }

    #[test]
    fn window_bits_follow_the_abnf() {
        for good in ["8", "9", "10", "15"] {
            assert!(window_bits(Some(good)).is_some(), "{good}");
        }
        for bad in ["", "7", "16", "08", "+9", "9 ", "1a", "255", "-9"] {
            assert_eq!(window_bits(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(window_bits(None), None);
    }

    #[test]
    fn parameters_are_parsed_strictly() {
        let parse = |text: &str, direction| Params::parse(&element(text), direction);
        assert!(parse(
            "permessage-deflate; client_max_window_bits",
            Direction::Offer
        )
        .is_ok());
        assert_eq!(
            parse(
                "permessage-deflate; client_max_window_bits",
                Direction::Response
            ),
            Err(DeflateProblem::InvalidValue {
                parameter: CLIENT_MAX_WINDOW_BITS,
                value: None
            })
        );
        assert_eq!(
            parse("permessage-deflate; x=1", Direction::Offer),
            Err(DeflateProblem::UnknownParameter("x".into()))
        );
        assert_eq!(
            parse(
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                Direction::Offer
            ),
            Err(DeflateProblem::DuplicateParameter(
                SERVER_NO_CONTEXT_TAKEOVER
            ))
        );
        assert!(matches!(
            parse(
                "permessage-deflate; client_no_context_takeover=1",
                Direction::Offer
            ),
            Err(DeflateProblem::InvalidValue { .. })
        ));
        let quoted = parse(
            "permessage-deflate; server_max_window_bits=\"10\"",
            Direction::Offer,
        );
        assert_eq!(quoted.unwrap().server_max_window_bits, Some(10));
    }
}
