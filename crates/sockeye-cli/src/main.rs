//! `sockeye`: connect to, serve and look at WebSockets.

#![forbid(unsafe_code)]

mod bench;
mod commands;
mod connect;
mod connect_loop;
mod demo;
mod flags;
mod histogram;
mod print;
mod probe;
mod serve;
mod trace;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = flags::Cli::parse();
    let result = match cli.command {
        flags::Command::Demo => demo::run(),
        flags::Command::Connect(args) => connect::run(&args),
        flags::Command::Serve(args) => serve::run(&args),
        flags::Command::Bench(args) => bench::run(&args),
        flags::Command::Probe(args) => probe::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            print::error(&err);
            ExitCode::from(flags::EXIT_FAILURE)
        }
    }
}
