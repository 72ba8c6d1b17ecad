//! `sockeye`: connect to, serve and look at WebSockets.

#![forbid(unsafe_code)]

/// `eprintln!` that never panics: a line on stderr for the person running sockeye. When stderr
/// is gone (its pipe closed) the line is dropped; `eprintln!` would panic and take down the task
/// that printed it, such as `serve`'s signal handler, which then never shut the server down.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod bench;
mod commands;
mod connect;
mod connect_args;
mod connect_loop;
mod demo;
mod docs;
mod exit;
mod flags;
mod histogram;
mod input;
mod output;
mod print;
mod probe;
mod serve;
mod trace;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory as _, Parser};

fn main() -> ExitCode {
    let cli = match flags::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    let result = match cli.command {
        flags::Command::Demo => demo::run(),
        flags::Command::Connect(args) => connect::run(&args),
        flags::Command::Serve(args) => serve::run(&args),
        flags::Command::Bench(args) => bench::run(&args),
        flags::Command::Probe(args) => probe::run(&args),
        flags::Command::Completions(args) => docs::completions(&args, flags::Cli::command()),
        flags::Command::Man(args) => docs::man(&args, flags::Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            print::error(&redacted(err));
            ExitCode::from(exit::EXIT_FAILURE)
        }
    }
}

/// Prints a command-line usage error (exit status 2) with secrets in URLs hidden: clap quotes
/// the argument it could not use, which may be a URL with credentials or a token in its query
/// (`sockeye 'wss://u:pw@host/'`, `sockeye connect URL URL2`, `--max-time URL`). Help and the
/// version print as clap prints them.
fn usage_error(err: &clap::Error) -> ExitCode {
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    // Plain text: colour codes next to a URL would hide where it ends.
    eprint!("{}", shown(&err.render().to_string()));
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(exit::EXIT_FAILURE))
}

/// An error and its causes, each with secrets in URLs hidden (see [`shown`]).
fn redacted(err: anyhow::Error) -> anyhow::Error {
    let mut messages = err.chain().map(|cause| shown(&cause.to_string())).rev();
    let root = anyhow::Error::msg(messages.next().unwrap_or_default());
    messages.fold(root, anyhow::Error::context)
}

/// Text for stderr: URL credentials and secret parameters hidden with the library's
/// [`sockeye::redact::text`], unless `--show-secrets` is among the arguments (looked for in
/// the raw arguments, since the error may be that they do not parse).
fn shown(text: &str) -> String {
    let text = print::in_flags(text);
    if std::env::args_os().any(|arg| arg == "--show-secrets") {
        text
    } else {
        sockeye::redact::text(&text).into_owned()
    }
}
