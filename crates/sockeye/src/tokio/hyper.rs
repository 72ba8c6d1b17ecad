//! Upgrading requests served by hyper 1.x — or a framework built on it, such as axum — to
//! WebSocket connections (feature `hyper`).
//!
//! [`upgrade`] checks the request with the same rules as [`accept_async_with`](super::accept_async_with),
//! lets a hook accept or refuse it, and returns the HTTP response to send plus, when accepted, an
//! [`Upgrade`] that becomes a [`WebSocketStream`] once hyper hands over the connection.
//!
//! ```no_run
//! use http_body_util::Full;
//! use hyper::body::Bytes;
//! use sockeye::tokio::hyper::upgrade;
//! use sockeye::{Accept, Message, ServerConfig};
//!
//! async fn handle(
//!     mut request: hyper::Request<hyper::body::Incoming>,
//! ) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
//!     let (response, upgrade) = upgrade(&mut request, &ServerConfig::default(), |_| Ok(Accept::default()));
//!     if let Some(upgrade) = upgrade {
//!         tokio::spawn(async move {
//!             let Ok(mut socket) = upgrade.into_websocket().await else { return };
//!             while let Ok(message @ (Message::Text(_) | Message::Binary(_))) = socket.read().await {
//!                 if socket.send(message).await.is_err() { break }
//!             }
//!         });
//!     }
//!     Ok(response)
//! }
//! ```

use bytes::Bytes;
use http_body_util::Full;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use sockeye_proto::extensions::deflate::PerMessageDeflate;
use sockeye_proto::handshake::server::{accept_headers, error_reject, validate_request};
use sockeye_proto::handshake::{Accept, Headers, Reject, Request};

use crate::config::ServerConfig;
use crate::error::{Error, Stage};
use crate::handshake::server::{decision, Decision};
use crate::tokio::stream::WebSocketStream;

/// The connection hyper hands over after a `101 Switching Protocols`.
pub type UpgradedStream = TokioIo<Upgraded>;

/// An accepted upgrade, waiting for hyper to hand over the connection.
#[derive(Debug)]
pub struct Upgrade {
    on_upgrade: OnUpgrade,
    config: ServerConfig,
    request: Request,
    /// permessage-deflate, when negotiated.
    deflate: Option<PerMessageDeflate>,
}

impl Upgrade {
    /// The request that was accepted.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Waits until the response has been sent and hyper gives up the connection, then starts
    /// the WebSocket on it.
    pub async fn into_websocket(self) -> Result<WebSocketStream<UpgradedStream>, Error> {
        let upgraded = self.on_upgrade.await.map_err(|err| {
            Error::io(
                Stage::Http,
                std::io::Error::other(format!("hyper did not hand over the connection: {err}")),
            )
        })?;
        let conn = self.config.connection(self.deflate);
        let mut socket = WebSocketStream::from_connection(TokioIo::new(upgraded), conn);
        socket.set_keepalive(self.config.keepalive.clone());
        Ok(socket)
    }
}

/// True if `request` asks for a WebSocket upgrade (`Upgrade: websocket`), so a router can send
/// other requests elsewhere.
pub fn is_upgrade_request<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get_all(http::header::UPGRADE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
}

/// Checks `request` (RFC 6455 section 4.2.1), lets `decide` accept or refuse it, and returns the
/// response to send: `101` with an [`Upgrade`] to await, or the refusal (400, 405, 426 with
/// `Sec-WebSocket-Version: 13`, …, or `decide`'s status) and `None`.
pub fn upgrade<B>(
    request: &mut http::Request<B>,
    config: &ServerConfig,
    decide: impl FnOnce(&Request) -> Result<Accept, Reject>,
) -> (http::Response<Full<Bytes>>, Option<Upgrade>) {
    let headers: Headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let http_minor = match request.version() {
        http::Version::HTTP_09 | http::Version::HTTP_10 => 0,
        _ => 1,
    };
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_string(), |pq| pq.as_str().to_string());
    let checked = validate_request(request.method().to_string(), target, http_minor, headers);
    let parsed = match checked {
        Ok(parsed) => parsed,
        Err(error) => return (refusal(&error_reject(&error)), None),
    };
    let accepted = match decision(&parsed, config, decide) {
        Ok(Decision::Accept { accept, deflate }) => {
            accept_headers(&parsed, &accept).map(|headers| (headers, deflate))
        }
        Ok(Decision::Refuse(reject)) => return (refusal(&reject), None),
        Err(error) => Err(error),
    };
    let (headers, deflate) = match accepted {
        Ok(accepted) => accepted,
        // The hook chose something the client did not offer: a server bug, answered with 500.
        Err(error) => return (refusal(&Reject::new(500, format!("{error}\n"))), None),
    };
    let mut response = http::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
    for (name, value) in &headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    let upgrade = Upgrade {
        on_upgrade: hyper::upgrade::on(request),
        config: config.clone(),
        request: parsed,
        deflate,
    };
    (response, Some(upgrade))
}

fn refusal(reject: &Reject) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(reject.body.clone()));
    *response.status_mut() =
        http::StatusCode::from_u16(reject.status).unwrap_or(http::StatusCode::BAD_REQUEST);
    for (name, value) in &reject.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
