//! `sockeye serve`: an echo server, one thread per connection.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use anyhow::Context;
use sockeye::{blocking, CloseFrame, Error, Message, ServerConfig};

use crate::flags::ServeArgs;
use crate::{print, trace};

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let listener = TcpListener::bind(args.listen)
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    trace::enable(args.verbose, &args.trace)?;
    let config = trace::server(&args.trace);
    let show_secrets = args.trace.show_secrets;
    println!("listening on ws://{addr}");
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(err) => {
                eprintln!("sockeye serve: accept failed: {err}");
                continue;
            }
        };
        let verbose = args.verbose;
        let config = config.clone();
        thread::spawn(move || {
            let peer = stream
                .peer_addr()
                .map_or_else(|_| "?".to_string(), |a| a.to_string());
            let log = |line: String| {
                if verbose {
                    eprintln!("[{peer}] {line}");
                }
            };
            match echo(stream, &config) {
                Ok(close) => log(format!("closed: {}", print::close(close.as_ref()))),
                Err(err) if show_secrets => log(format!("ended: {}", err.unredacted())),
                Err(err) => log(format!("ended: {err}")),
            }
        });
    }
    Ok(ExitCode::SUCCESS)
}

/// Accepts one connection and echoes text and binary messages until the close handshake. The
/// handshake and every frame are in the trace, when it is on.
///
/// Returns the close frame the client sent.
pub(crate) fn echo(stream: TcpStream, config: &ServerConfig) -> Result<Option<CloseFrame>, Error> {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let _peer = sockeye::trace::peer_span(&peer).entered();
    let handshake_limit = config.handshake_timeout;
    let timeouts = |limit: Option<Duration>| {
        stream
            .set_read_timeout(limit)
            .and_then(|()| stream.set_write_timeout(limit))
    };
    let _ = stream.set_nodelay(true);
    let _ = timeouts(handshake_limit);
    let (mut socket, _request) =
        blocking::accept_with(stream, config, |_| Ok(sockeye::Accept::default()))?;
    let _ = socket.get_ref().set_read_timeout(None);
    let _ = socket.get_ref().set_write_timeout(None);
    loop {
        match socket.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => socket.send(&message)?,
            Ok(_) => {}
            Err(Error::ConnectionClosed) => {
                return Ok(socket.connection().close_received().cloned().flatten())
            }
            Err(err) => return Err(err),
        }
    }
}
