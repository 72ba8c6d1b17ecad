//! Exit statuses, shared by every command and by `main`.

/// The connection could not be opened (URL, DNS, TCP, handshake).
pub(crate) const EXIT_CONNECT_FAILED: u8 = 3;
/// The connection opened but ended without a normal close (protocol error, 1006, non-1000 close).
pub(crate) const EXIT_ABNORMAL_CLOSE: u8 = 4;
/// Any other failure.
pub(crate) const EXIT_FAILURE: u8 = 1;
/// `--max-time` ran out (the same code as curl's "operation timed out").
pub(crate) const EXIT_MAX_TIME: u8 = 28;
/// The command's own flags are wrong (as clap's usage errors).
pub(crate) const EXIT_USAGE: u8 = 2;
/// Ended by Ctrl-C (SIGINT): 128 + 2, as the shell reports a program the signal killed.
pub(crate) const EXIT_INTERRUPTED: u8 = 130;
