//! Unix domain sockets: `ws+unix://` URLs and the explicit socket-path option.

use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::error::Error;

/// Connects to the Unix socket at `path` (TCP stage: it stands where a TCP connect would).
pub fn connect(path: &Path) -> Result<UnixStream, Error> {
    UnixStream::connect(path).map_err(|source| Error::Connect {
        addr: format!("unix:{}", path.display()),
        source,
    })
}
