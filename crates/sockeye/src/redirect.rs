//! Redirects of the opening handshake, decided in one place for both front-ends.
//!
//! `connect_with` and `connect_async_with` walk from attempt to attempt ("dial, then
//! handshake") with the `RedirectWalk` of `redirect_walk.rs`; when an attempt fails,
//! [`next_hop`] says whether the failure is a redirect to follow, and with which configuration.

use url::Url;

use crate::config::{ClientConfig, Target};
use crate::error::{Error, RedirectProblem};
use crate::refusal::{refusal, REDIRECT_STATUSES};

/// After an attempt with `config` failed with `error`, having already followed `followed`
/// redirects: the configuration for the next attempt, or the error to report.
///
/// `error` comes back unchanged unless it is a redirect status with a `Location` and
/// [`ClientConfig::follow_redirects`] is on. A redirect that must not be followed (over the
/// limit, `wss://` to `ws://`, an unusable `Location`) gives [`Error::Redirect`].
pub(crate) fn next_hop(
    config: &ClientConfig,
    error: Error,
    followed: usize,
) -> Result<ClientConfig, Error> {
    let Error::Handshake(refused) = &error else {
        return Err(error);
    };
    let Some((status, headers)) = refusal(refused) else {
        return Err(error);
    };
    let location = match headers.get("Location").map(str::trim) {
        Some(location) if config.follow_redirects && REDIRECT_STATUSES.contains(&status) => {
            location
        }
        _ => return Err(error),
    };
    let refuse = |reason: RedirectProblem| Error::Redirect {
        status,
        from: config.target.url.to_string(),
        location: location.to_string(),
        reason,
    };
    if followed >= config.max_redirects {
        return Err(refuse(RedirectProblem::TooMany {
            limit: config.max_redirects,
        }));
    }
    let next = resolve(&config.target, location).map_err(refuse)?;
    if config.target.secure && next.scheme() == "ws" {
        return Err(refuse(RedirectProblem::Downgrade));
    }
    let mut target = Target::parse(next.as_str()).map_err(|err| match err {
        Error::InvalidUrl { problem, .. } => refuse(RedirectProblem::InvalidTarget(problem)),
        other => other,
    })?;
    let authorization = target.take_basic_auth();
    let same_origin = target.secure == config.target.secure
        && target.port == config.target.port
        && target.host.eq_ignore_ascii_case(&config.target.host);
    let mut next_config = config.clone();
    next_config.target = target;
    if !same_origin {
        // Credentials and cookies were meant for the first host (curl behaves the same), and
        // so were the name overrides.
        next_config.host_header = None;
        next_config.tls.server_name = None;
        next_config.cookie = None;
        next_config.authorization = None;
        next_config.headers.retain(|(name, _)| {
            !["Host", "Cookie", "Authorization"]
                .iter()
                .any(|dropped| name.eq_ignore_ascii_case(dropped))
        });
    }
    if authorization.is_some() {
        next_config.authorization = authorization;
    }
    Ok(next_config)
}

/// `location` resolved against the request URL, with `http(s)://` mapped to `ws(s)://`.
pub(crate) fn resolve(target: &Target, location: &str) -> Result<Url, RedirectProblem> {
    // The base is the URL the request went to, as `ws(s)://Host/target`: that also works for
    // `ws+unix://` URLs, whose paths hold the socket path.
    let scheme = if target.secure { "wss" } else { "ws" };
    let base = format!("{scheme}://{}{}", target.host_header, target.resource);
    let base = Url::parse(&base).map_err(RedirectProblem::Unresolvable)?;
    let mut next = base.join(location).map_err(RedirectProblem::NotUrl)?;
    let scheme = match next.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => return Err(RedirectProblem::UnfollowedScheme(other.to_string())),
    };
    // Switching between these special schemes cannot fail.
    let _ = next.set_scheme(scheme);
    next.set_fragment(None);
    Ok(next)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use sockeye_proto::handshake::Headers;
    use sockeye_proto::HandshakeError;

    use super::*;

    fn redirect(status: u16, location: &str) -> Error {
        let mut headers = Headers::new();
        headers.push("Location", location);
        Error::Handshake(HandshakeError::UnexpectedStatus {
            status,
            reason: "Moved".into(),
            headers,
            body: Bytes::new(),
        })
    }

    fn follow(url: &str) -> ClientConfig {
        ClientConfig::new(url).unwrap().follow_redirects(true)
    }

    fn next_url(config: &ClientConfig, location: &str) -> Result<String, Error> {
        next_hop(config, redirect(302, location), 0).map(|next| next.target.url.to_string())
    }

    #[test]
    fn locations_resolve_and_http_maps_to_ws() {
        let config = follow("ws://example.com:8080/a/b?q=1");
        assert_eq!(next_url(&config, "/c").unwrap(), "ws://example.com:8080/c");
        assert_eq!(
            next_url(&config, "c?d").unwrap(),
            "ws://example.com:8080/a/c?d"
        );
        assert_eq!(
            next_url(&config, "http://other.test/x").unwrap(),
            "ws://other.test/x"
        );
        assert_eq!(
            next_url(&config, "https://other.test/x").unwrap(),
            "wss://other.test/x"
        );
        assert_eq!(
            next_url(&config, "//other.test/y").unwrap(),
            "ws://other.test/y"
        );
    }

    #[test]
    fn wss_never_goes_to_ws() {
        let config = follow("wss://example.com/");
        for location in ["ws://example.com/", "http://example.com/"] {
            let err = next_url(&config, location).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Redirect {
                        status: 302,
                        reason: RedirectProblem::Downgrade,
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains("downgrade"), "{err}");
        }
        assert_eq!(
            next_url(&config, "/elsewhere").unwrap(),
            "wss://example.com/elsewhere"
        );
    }

    #[test]
    fn other_schemes_and_the_limit_are_refused() {
        let config = follow("ws://example.com/");
        for location in ["ws+unix:///run/docker.sock", "file:///etc/passwd"] {
            assert!(matches!(
                next_url(&config, location),
                Err(Error::Redirect { .. })
            ));
        }
        let limited = follow("ws://example.com/").max_redirects(2);
        assert!(next_hop(&limited, redirect(301, "/x"), 1).is_ok());
        let err = next_hop(&limited, redirect(301, "/x"), 2).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Redirect {
                    reason: RedirectProblem::TooMany { limit: 2 },
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("more than 2 redirects"), "{err}");
    }

    #[test]
    fn not_followed_unless_asked() {
        let config = ClientConfig::new("ws://example.com/").unwrap();
        let err = next_hop(&config, redirect(301, "/new"), 0).unwrap_err();
        assert!(matches!(err, Error::Handshake(_)));
        assert!(err.to_string().contains("\"/new\""), "{err}");
        // Not a redirect status: unchanged, even when following.
        let err = next_hop(&follow("ws://example.com/"), redirect(300, "/new"), 0).unwrap_err();
        assert!(matches!(err, Error::Handshake(_)));
    }

    #[test]
    fn credentials_stay_with_their_host() {
        let config = follow("ws://user:pw@example.com/")
            .cookie("a=1")
            .host_header("front.test")
            .header("Authorization", "Bearer x")
            .header("X-Kept", "1");
        let same = next_hop(&config, redirect(307, "/b"), 0).unwrap();
        assert!(same.authorization.is_some() && same.cookie.is_some());
        assert_eq!(same.headers.len(), 2);
        let config = config.tls(crate::TlsOptions::new().server_name("front.test"));
        let other = next_hop(&config, redirect(307, "ws://other.test/"), 0).unwrap();
        assert_eq!(other.tls.server_name, None);
        assert_eq!(
            (other.authorization, other.cookie, other.host_header),
            (None, None, None)
        );
        assert_eq!(other.headers, [("X-Kept".to_string(), "1".to_string())]);
        let with_user = next_hop(&config, redirect(307, "ws://u2:p2@other.test/"), 0).unwrap();
        assert!(with_user.authorization.is_some());
        assert!(!with_user.target.url.as_str().contains("p2"));
    }
}
