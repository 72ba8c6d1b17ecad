//! Shared by the TLS tests: certificates made with rcgen ([`pki`]) and a rustls echo server
//! ([`server`]).

pub(crate) mod pki;
pub(crate) mod server;
