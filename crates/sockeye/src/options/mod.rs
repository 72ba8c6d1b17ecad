//! Option types below `config.rs`: plain data and its parsing, which the transports act on and
//! re-export (`transport::proxy`, `transport::tls`). They import nothing above them.

pub(crate) mod proxy;
pub(crate) mod tls;

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
pub(crate) fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}
