//! The route a client connection takes, as a record: the proxy chosen and where that choice
//! came from. Vocabulary below the code that decides it (`transport::proxy`) and the code that
//! reads it (`diagnose`); re-exported at `sockeye::transport::proxy`.

use std::fmt;

use crate::options::proxy::ProxyUrl;

/// Where the chosen proxy came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxySource {
    /// [`ProxyConfig::Url`](crate::options::proxy::ProxyConfig::Url).
    Config,
    /// This environment variable.
    Environment(&'static str),
}

/// The proxy a connection uses, and where that choice came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SelectedProxy {
    /// The proxy.
    pub url: ProxyUrl,
    /// Where it came from.
    pub source: ProxySource,
}

impl fmt::Display for SelectedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            ProxySource::Config => write!(f, "{}", self.url),
            ProxySource::Environment(name) => write!(f, "{} (from ${name})", self.url),
        }
    }
}
