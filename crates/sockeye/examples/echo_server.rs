//! A blocking echo server: one thread per connection, refusing requests that are not for `/`.
//!
//! ```sh
//! cargo run -p sockeye --example echo_server -- 127.0.0.1:9001
//! ```

use std::net::TcpListener;
use std::thread;

use sockeye::{blocking, Accept, Error, Message, Reject, ServerConfig};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        thread::spawn(move || {
            // The hook sees path, query, headers and Origin before anything is accepted.
            let accepted = blocking::accept_with(stream, &ServerConfig::default(), |request| {
                if request.path() == "/" {
                    Ok(Accept::default())
                } else {
                    Err(Reject::new(404, "only / is served here\n"))
                }
            });
            let Ok((mut socket, _request)) = accepted else {
                return;
            };
            loop {
                match socket.read() {
                    Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                        if socket.send(&message).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {} // pings are answered and closes echoed by the connection itself
                    Err(Error::ConnectionClosed) => return,
                    Err(err) => {
                        eprintln!("connection ended: {err}");
                        return;
                    }
                }
            }
        });
    }
    Ok(())
}
