//! Where masking keys and handshake keys come from.
//!
//! The core never reaches for randomness on its own: a [`Connection`](crate::Connection) takes a
//! [`MaskKeySource`], which defaults to [`OsRandom`]. Tests and packet captures can hand it a fixed
//! key instead (an all-zero key leaves payloads readable on the wire).

/// Gives the key for each masked frame a client sends (RFC 6455 section 5.3).
pub trait MaskKeySource: Send {
    /// The key for the next frame.
    fn next_mask_key(&mut self) -> [u8; 4];
}

/// Keys from the operating system's CSPRNG, fetched 256 bytes at a time.
#[derive(Debug)]
pub struct OsRandom {
    pool: [u8; 256],
    used: usize,
}

impl OsRandom {
    /// A source that fetches from the OS on first use.
    pub fn new() -> Self {
        Self {
            pool: [0; 256],
            used: 256,
        }
    }
}

impl Default for OsRandom {
    fn default() -> Self {
        Self::new()
    }
}

/// Fills `buf` from the OS CSPRNG.
///
/// # Panics
/// If the operating system has no random source, which no supported platform lacks; a
/// predictable key would break the masking the RFC requires, so there is no weaker fallback.
pub fn fill_os_random(buf: &mut [u8]) {
    if let Err(err) = getrandom::fill(buf) {
        panic!("the operating system's random source failed ({err}); WebSocket keys cannot be made without it");
    }
}

impl MaskKeySource for OsRandom {
    fn next_mask_key(&mut self) -> [u8; 4] {
        if self.used + 4 > self.pool.len() {
            fill_os_random(&mut self.pool);
            self.used = 0;
        }
        let mut key = [0; 4];
        key.copy_from_slice(&self.pool[self.used..self.used + 4]);
        self.used += 4;
        key
    }
}

/// The same key for every frame. For tests and readable captures only: a fixed key defeats the
/// protection masking gives intermediaries against cache poisoning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedMaskKey(pub [u8; 4]);

impl MaskKeySource for FixedMaskKey {
    fn next_mask_key(&mut self) -> [u8; 4] {
        self.0
    }
}

impl<F: FnMut() -> [u8; 4] + Send> MaskKeySource for F {
    fn next_mask_key(&mut self) -> [u8; 4] {
        self()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_keys_vary() {
        let mut source = OsRandom::new();
        let keys: Vec<[u8; 4]> = (0..200).map(|_| source.next_mask_key()).collect();
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        // 200 draws from 2^32 values collide with probability ~5e-6.
        assert!(distinct.len() >= 199);
    }
}
