//! An axum application that serves a page at `/` and hands `/ws` to sockeye: the existing HTTP
//! server keeps its routing, sockeye takes over the upgraded connection.
//!
//! ```sh
//! cargo run -p sockeye --features hyper --example axum -- 127.0.0.1:3000
//! ```

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sockeye::tokio::hyper::upgrade;
use sockeye::{Accept, Message, Reject, ServerConfig};

async fn websocket(mut request: Request) -> Response {
    let (response, upgrade) = upgrade(&mut request, &ServerConfig::default(), |request| {
        // The hook sees what the browser sent; refuse foreign pages.
        match request.origin() {
            None | Some("http://127.0.0.1:3000" | "http://localhost:3000") => Ok(Accept::default()),
            Some(_) => Err(Reject::new(403, "this origin may not connect\n")),
        }
    });
    if let Some(upgrade) = upgrade {
        tokio::spawn(async move {
            let Ok(mut socket) = upgrade.into_websocket().await else {
                return;
            };
            while let Ok(message) = socket.read().await {
                if let Message::Text(_) | Message::Binary(_) = message {
                    if socket.send(message).await.is_err() {
                        break;
                    }
                }
            }
        });
    }
    response.map(Body::new)
}

async fn page() -> impl IntoResponse {
    axum::response::Html(
        "<script>const ws = new WebSocket(`ws://${location.host}/ws`);\
         ws.onopen = () => ws.send('hello from the page');\
         ws.onmessage = (e) => document.body.append(`echo: ${e.data}`);</script>",
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let app = Router::new()
        .route("/", get(page))
        .route("/ws", get(websocket));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
