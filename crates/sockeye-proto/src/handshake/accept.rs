//! The `Sec-WebSocket-Accept` computation (RFC 6455 section 4.2.2, step 5.4).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};

/// The GUID RFC 6455 appends to the key.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `base64(SHA-1(key + GUID))`: what the server must answer to the client's key.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WEBSOCKET_GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

/// A fresh `Sec-WebSocket-Key`: base64 of 16 random bytes.
pub fn encode_key(random: [u8; 16]) -> String {
    STANDARD.encode(random)
}

/// True if `key` is the base64 of exactly 16 bytes.
pub fn is_valid_key(key: &str) -> bool {
    key.len() == 24
        && STANDARD
            .decode(key)
            .map(|raw| raw.len() == 16)
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_section_1_3_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(is_valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
    }

    #[test]
    fn keys_must_be_16_bytes() {
        assert!(is_valid_key(&encode_key([7; 16])));
        assert!(!is_valid_key(&STANDARD.encode([7u8; 15])));
        assert!(!is_valid_key(&STANDARD.encode([7u8; 17])));
        assert!(!is_valid_key("not base64 at all!!!!!!!"));
        assert!(!is_valid_key(""));
    }
}
