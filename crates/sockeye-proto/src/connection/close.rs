//! Close codes and close frame payloads (RFC 6455 sections 5.5.1, 7.4).

use std::fmt;

use crate::error::ProtocolError;

pub use super::close_code::CloseCode;

/// The code and reason of a close frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, at most 123 bytes of UTF-8.
    pub reason: String,
}

/// The longest reason that fits in a close frame: 125 bytes of control payload minus the code.
pub const MAX_CLOSE_REASON_BYTES: usize = 123;

impl CloseFrame {
    /// A close frame with `code` and `reason`.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// Parses a received close payload: empty (no status), or a valid code followed by UTF-8.
    ///
    /// Returns `Ok(None)` for an empty payload.
    pub fn parse(payload: &[u8]) -> Result<Option<Self>, ProtocolError> {
        match payload {
            [] => Ok(None),
            [_] => Err(ProtocolError::CloseFrameOneByte),
            [hi, lo, reason @ ..] => {
                let code = CloseCode::from(u16::from_be_bytes([*hi, *lo]));
                if !code.is_allowed_on_wire() {
                    return Err(ProtocolError::InvalidCloseCode(code.as_u16()));
                }
                let reason = simdutf8::basic::from_utf8(reason)
                    .map_err(|_| ProtocolError::CloseReasonNotUtf8)?;
                Ok(Some(Self::new(code, reason)))
            }
        }
    }

    /// The payload on the wire: the code in network byte order, then the reason.
    pub fn to_payload(&self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(2 + self.reason.len());
        payload.extend_from_slice(&self.code.as_u16().to_be_bytes());
        payload.extend_from_slice(self.reason.as_bytes());
        payload
    }
}

impl fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.code, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_allowed_on_wire_follow_rfc6455_section_7_4() {
        for code in 0u16..=u16::MAX {
            let allowed = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(
                CloseCode::from(code).is_allowed_on_wire(),
                allowed,
                "{code}"
            );
            assert_eq!(CloseCode::from(code).as_u16(), code);
        }
        assert_eq!(CloseCode::Other(1000), CloseCode::Normal);
    }

    #[test]
    fn parse_close_payloads() {
        assert_eq!(CloseFrame::parse(&[]).unwrap(), None);
        assert_eq!(
            CloseFrame::parse(&[0x03]).unwrap_err(),
            ProtocolError::CloseFrameOneByte
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xed]).unwrap_err(),
            ProtocolError::InvalidCloseCode(1005)
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, 0xff]).unwrap_err(),
            ProtocolError::CloseReasonNotUtf8
        );
        let frame = CloseFrame::parse(&[0x0f, 0xa0, b'b', b'y', b'e'])
            .unwrap()
            .unwrap();
        assert_eq!(frame, CloseFrame::new(CloseCode::Other(4000), "bye"));
        assert_eq!(frame.to_payload(), vec![0x0f, 0xa0, b'b', b'y', b'e']);
    }
}
