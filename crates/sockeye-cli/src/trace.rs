//! `-v`, `--trace-file`, `--trace-format` and `--show-secrets`: where the library's trace goes
//! and whether it (and error messages) show secrets.

use std::fs::File;

use anyhow::Context;
use clap::{Args, ValueEnum};
use sockeye::{ClientConfig, ServerConfig};

/// Installs the trace: to `--trace-file` if given, else to stderr with `-v`, else nowhere (the
/// library then does no tracing work at all).
pub(crate) fn enable(verbose: bool, args: &TraceArgs) -> anyhow::Result<()> {
    match (&args.trace_file, verbose, args.trace_format) {
        (Some(path), _, TraceFormat::Human) => sockeye::trace::enable_file(path),
        (Some(path), _, TraceFormat::Json) => {
            let file = File::create(path)
                .with_context(|| format!("cannot create the trace file {}", path.display()))?;
            sockeye::trace::enable_json(file)
        }
        (None, true, TraceFormat::Human) => sockeye::trace::enable_stderr(),
        (None, true, TraceFormat::Json) => sockeye::trace::enable_json(std::io::stderr()),
        (None, false, _) => return Ok(()),
    }
    .context("cannot start the trace")
}

/// The trace options of a client connection.
/// `-vv` shows whole payloads (unless `--trace-bytes` is given), `-vvv` each frame's bytes too.
pub(crate) fn client(config: ClientConfig, args: &TraceArgs, verbose: u8) -> ClientConfig {
    let preview = match args.trace_bytes {
        Some(bytes) => bytes,
        None if verbose >= 2 => usize::MAX,
        None => sockeye::trace::DEFAULT_PREVIEW_BYTES,
    };
    config
        .show_secrets(args.show_secrets)
        .trace_preview_bytes(preview)
        .trace_raw_bytes(verbose >= 3)
}

/// A server configuration with the trace options.
pub(crate) fn server(args: &TraceArgs) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.show_secrets = args.show_secrets;
    config.trace_preview_bytes = args
        .trace_bytes
        .unwrap_or(sockeye::trace::DEFAULT_PREVIEW_BYTES);
    config
}

/// An error as the user asked to see it: secrets redacted unless `--show-secrets`.
pub(crate) fn shown(err: &sockeye::Error, args: &TraceArgs) -> String {
    crate::print::in_flags(&if args.show_secrets {
        err.unredacted().to_string()
    } else {
        err.to_string()
    })
}

/// A URL as the user asked to see it: credentials and secret parameters redacted unless
/// `--show-secrets`.
pub(crate) fn shown_url(url: &str, show_secrets: bool) -> String {
    if show_secrets {
        url.to_string()
    } else {
        sockeye::redact::url(url).into_owned()
    }
}

/// Like [`shown`], for an error that may wrap a [`sockeye::Error`], with its causes.
pub(crate) fn shown_chain(err: &anyhow::Error, args: &TraceArgs) -> String {
    match err.downcast_ref::<sockeye::Error>() {
        Some(inner) if args.show_secrets => shown(inner, args),
        _ => crate::print::in_flags(&format!("{err:#}")),
    }
}

/// Where the trace goes and what it shows (shared by `connect` and `serve`).
#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    /// Write the trace to this file instead of stderr (with or without -v).
    #[arg(long = "trace-file", value_name = "PATH")]
    pub(crate) trace_file: Option<std::path::PathBuf>,
    /// The trace format: "human" (readable blocks and lines) or "json" (one object per line).
    #[arg(long = "trace-format", value_enum, default_value_t = TraceFormat::Human, value_name = "FORMAT")]
    pub(crate) trace_format: TraceFormat,
    /// Show Authorization, Cookie, URL credentials and secret-looking query parameters in the
    /// trace and in error messages instead of [redacted].
    #[arg(long = "show-secrets")]
    pub(crate) show_secrets: bool,
    /// How many bytes of each payload the trace shows [default: 64; with connect's and
    /// probe's -vv: all].
    #[arg(long = "trace-bytes", value_name = "BYTES")]
    pub(crate) trace_bytes: Option<usize>,
}

/// `--trace-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TraceFormat {
    /// Header blocks and one line per frame.
    Human,
    /// JSON lines, one object per event.
    Json,
}
