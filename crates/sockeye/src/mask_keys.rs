//! Where a client's masking keys come from: [`MaskKeys`], an option of
//! [`ClientConfig`](crate::ClientConfig).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use sockeye_proto::random::{FixedMaskKey, MaskKeySource, OsRandom};

/// The masking keys a client uses for the frames it sends (RFC 6455 section 5.3).
///
/// The default, [`MaskKeys::Random`], draws every key from the operating system's CSPRNG, as the
/// RFC requires. The others are for testing servers and reading captures: one fixed key (the
/// all-zero [`MaskKeys::ZERO`] leaves payloads readable in Wireshark or `tcpdump -X`), or keys
/// from a function or a [`MaskKeySource`] of yours. Predictable keys remove the protection
/// masking gives intermediaries against cache poisoning: use them only on paths you control.
///
/// ```
/// use sockeye::{ClientConfig, MaskKeys};
///
/// let readable = ClientConfig::new("ws://127.0.0.1:9001/")?.mask_keys(MaskKeys::ZERO);
/// let counter = std::sync::atomic::AtomicU32::new(0);
/// let numbered = ClientConfig::new("ws://127.0.0.1:9001/")?.mask_keys(MaskKeys::custom(
///     move || counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_be_bytes(),
/// ));
/// # Ok::<(), sockeye::Error>(())
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum MaskKeys {
    /// A fresh key from the operating system's CSPRNG for every frame.
    #[default]
    Random,
    /// The same key for every frame.
    Fixed([u8; 4]),
    /// Each key from this function. It is shared by every connection made with the
    /// configuration (clones included).
    Custom(Arc<dyn Fn() -> [u8; 4] + Send + Sync>),
}

impl MaskKeys {
    /// The all-zero key: masked payloads are the plain payloads, readable in captures.
    pub const ZERO: Self = Self::Fixed([0; 4]);

    /// Keys from `next_key`, called once per frame sent.
    pub fn custom(next_key: impl Fn() -> [u8; 4] + Send + Sync + 'static) -> Self {
        Self::Custom(Arc::new(next_key))
    }

    /// Keys from a [`MaskKeySource`], shared (behind a mutex) by every connection made with the
    /// configuration.
    pub fn from_source(source: impl MaskKeySource + 'static) -> Self {
        let source = Mutex::new(source);
        Self::custom(move || {
            source
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .next_mask_key()
        })
    }

    /// The source for one new connection, as
    /// [`Connection::with_mask_keys`](sockeye_proto::Connection::with_mask_keys) takes it.
    pub fn source(&self) -> Box<dyn MaskKeySource> {
        match self {
            Self::Random => Box::new(OsRandom::new()),
            Self::Fixed(key) => Box::new(FixedMaskKey(*key)),
            Self::Custom(next_key) => {
                let next_key = Arc::clone(next_key);
                Box::new(move || next_key())
            }
        }
    }
}

impl fmt::Debug for MaskKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Random => f.write_str("Random"),
            Self::Fixed(key) => f.debug_tuple("Fixed").field(key).finish(),
            Self::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_gives_its_keys() {
        assert_eq!(MaskKeys::ZERO.source().next_mask_key(), [0; 4]);
        assert_eq!(
            MaskKeys::Fixed([1, 2, 3, 4]).source().next_mask_key(),
            [1, 2, 3, 4]
        );
        let mut n = 0u8;
        let keys = MaskKeys::from_source(move || {
            n += 1;
            [n; 4]
        });
        // Two connections share the source: the second continues where the first stopped.
        assert_eq!(keys.source().next_mask_key(), [1; 4]);
        assert_eq!(keys.clone().source().next_mask_key(), [2; 4]);
        assert_eq!(format!("{keys:?}"), "Custom(..)");
    }
}
