//! Transports: how the bytes get to the peer.

pub mod tcp;
