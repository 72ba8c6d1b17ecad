//! Which proxy applies to a connection: the configuration, the environment, `no_proxy` (the
//! rules are in the [module documentation](super)). Choosing only: opening the tunnel is in
//! `dial.rs`.

use crate::config::ClientConfig;
use crate::error::{Error, UrlProblem};
use crate::options::proxy::{NoProxy, ProxyConfig, ProxyUrl};
use crate::route::{Bypass, NoProxySource, ProxySource, Route, SelectedProxy};

/// The route `config` takes now: its Unix socket, a proxy, or direct TCP (noting the proxy
/// that `no_proxy` made it go around). Reads the environment for [`ProxyConfig::Environment`].
/// Fails when the chosen proxy URL is invalid.
///
/// This is the one place the route is decided: [`dial`](crate::transport::dial) and
/// `dial_async` call it and note the route they took in the connection's
/// [`ConnectReport`](crate::diagnose::ConnectReport); call it yourself only where there is no
/// report (before connecting, or to explain an error without one).
pub fn choose_route(config: &ClientConfig) -> Result<Route, Error> {
    choose_route_with(config, &|name| std::env::var(name).ok())
}

/// [`choose_route`] with the environment given as a lookup function (tests, sandboxes).
pub fn choose_route_with(
    config: &ClientConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Route, Error> {
    let direct = Route::Direct { bypassed: None };
    if let Some(path) = &config.unix_socket {
        return Ok(Route::Unix { path: path.clone() });
    }
    let target = &config.target;
    let selected = match &config.proxy {
        ProxyConfig::Direct => return Ok(direct),
        ProxyConfig::Url(url) => SelectedProxy {
            url: url.clone(),
            source: ProxySource::Config,
        },
        ProxyConfig::Environment => match from_environment(target.secure, env)? {
            Some(selected) => selected,
            None => return Ok(direct),
        },
    };
    let excluded = |list: &NoProxy| list.matches(&target.host, target.port);
    let by = match (&config.no_proxy, &config.proxy) {
        (Some(list), _) => excluded(list).then_some(NoProxySource::Config),
        (None, ProxyConfig::Environment) => match NoProxy::from_lookup_named(env) {
            Some((name, list)) => excluded(&list).then_some(NoProxySource::Environment(name)),
            None => excluded(&NoProxy::loopback()).then_some(NoProxySource::Loopback),
        },
        (None, _) => None,
    };
    Ok(match by {
        Some(by) => Route::Direct {
            bypassed: Some(Bypass {
                proxy: selected,
                by,
            }),
        },
        None => Route::Proxy(selected),
    })
}

/// The proxy of the environment for a `ws://` (`secure: false`) or `wss://` URL, before
/// `no_proxy`.
fn from_environment(
    secure: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<SelectedProxy>, Error> {
    let names: [&'static str; 4] = if secure {
        ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
    } else {
        ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
    };
    let cgi = env("REQUEST_METHOD").is_some();
    let found = names
        .into_iter()
        .filter(|name| !(cgi && *name == "HTTP_PROXY"))
        .find_map(|name| {
            env(name)
                .filter(|value| !value.trim().is_empty())
                .map(|value| (name, value))
        });
    let Some((name, value)) = found else {
        return Ok(None);
    };
    let url = ProxyUrl::parse(&value).map_err(|err| match err {
        Error::InvalidUrl {
            url,
            problem: UrlProblem::Proxy { problem, .. },
            hint,
        } => Error::InvalidUrl {
            url,
            problem: UrlProblem::Proxy {
                problem,
                variable: Some(name),
            },
            hint,
        },
        other => other,
    })?;
    Ok(Some(SelectedProxy {
        url,
        source: ProxySource::Environment(name),
    }))
}

/// The proxy of [`choose_route`]: `None` for a direct connection or a Unix socket.
pub fn select(config: &ClientConfig) -> Result<Option<SelectedProxy>, Error> {
    Ok(choose_route(config)?.into_proxy())
}

/// [`select`] with the environment given as a lookup function (tests, sandboxes).
pub fn select_with(
    config: &ClientConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<SelectedProxy>, Error> {
    Ok(choose_route_with(config, env)?.into_proxy())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn chosen(
        url: &str,
        config: impl Fn(ClientConfig) -> ClientConfig,
        vars: &[(&str, &str)],
    ) -> Option<String> {
        let config = config(ClientConfig::new(url).unwrap());
        select_with(&config, &env(vars))
            .unwrap()
            .map(|p| p.to_string())
    }

    #[test]
    fn environment_by_scheme_with_all_proxy_fallback() {
        let vars = [
            ("http_proxy", "http://h:1"),
            ("https_proxy", "socks5h://s:2"),
            ("all_proxy", "socks4://a:3"),
        ];
        let same = |c| c;
        assert_eq!(
            chosen("ws://example.com/", same, &vars).as_deref(),
            Some("http://h:1 (from $http_proxy)")
        );
        assert_eq!(
            chosen("wss://example.com/", same, &vars).as_deref(),
            Some("socks5h://s:2 (from $https_proxy)")
        );
        let vars = [("ALL_PROXY", "socks4://a:3")];
        assert_eq!(
            chosen("wss://example.com/", same, &vars).as_deref(),
            Some("socks4://a:3 (from $ALL_PROXY)")
        );
        let vars = [
            ("HTTP_PROXY", "http://upper:1"),
            ("http_proxy", "http://lower:1"),
        ];
        assert_eq!(
            chosen("ws://example.com/", same, &vars).as_deref(),
            Some("http://lower:1 (from $http_proxy)")
        );
        let vars = [("HTTP_PROXY", "http://upper:1")];
        assert_eq!(
            chosen("ws://example.com/", same, &vars).as_deref(),
            Some("http://upper:1 (from $HTTP_PROXY)")
        );
        // httpoxy: in a CGI program HTTP_PROXY may come from a request header.
        let vars = [("HTTP_PROXY", "http://upper:1"), ("REQUEST_METHOD", "GET")];
        assert_eq!(chosen("ws://example.com/", same, &vars), None);
        // Empty values are unset.
        let vars = [("http_proxy", ""), ("all_proxy", "http://a:1")];
        assert_eq!(
            chosen("ws://example.com/", same, &vars).as_deref(),
            Some("http://a:1 (from $all_proxy)")
        );
        assert_eq!(chosen("ws://example.com/", same, &[]), None);
    }

    #[test]
    fn loopback_skips_environment_proxies_unless_a_list_is_set() {
        let vars = [("http_proxy", "http://h:1")];
        let same = |c| c;
        for url in [
            "ws://localhost:9/",
            "ws://127.0.0.5/",
            "ws://[::1]:9/",
            "ws://a.localhost/",
        ] {
            assert_eq!(chosen(url, same, &vars), None, "{url}");
        }
        let vars = [
            ("http_proxy", "http://h:1"),
            ("no_proxy", "example.invalid"),
        ];
        assert!(chosen("ws://127.0.0.1:9/", same, &vars).is_some());
        // An explicit proxy applies to loopback too, and ignores the environment.
        let explicit = |c: ClientConfig| c.proxy(ProxyConfig::url("socks5://p:1").unwrap());
        let vars = [("no_proxy", "*"), ("all_proxy", "http://env:1")];
        assert_eq!(
            chosen("ws://127.0.0.1/", explicit, &vars).as_deref(),
            Some("socks5://p:1")
        );
        let excluded = |c: ClientConfig| explicit(c).no_proxy(NoProxy::parse("127.0.0.1"));
        assert_eq!(chosen("ws://127.0.0.1/", excluded, &vars), None);
        let direct = |c: ClientConfig| c.proxy(ProxyConfig::Direct);
        assert_eq!(
            chosen("ws://example.com/", direct, &[("all_proxy", "http://a:1")]),
            None
        );
    }

    #[test]
    fn environment_no_proxy_and_config_list() {
        let vars = [("all_proxy", "http://a:1"), ("NO_PROXY", "example.com")];
        let same = |c| c;
        assert_eq!(chosen("ws://ws.example.com/", same, &vars), None);
        assert!(chosen("ws://example.org/", same, &vars).is_some());
        // The config's list replaces the environment's.
        let listed = |c: ClientConfig| c.no_proxy(NoProxy::parse("example.org"));
        assert!(chosen("ws://ws.example.com/", listed, &vars).is_some());
        assert_eq!(chosen("ws://example.org/", listed, &vars), None);
    }

    #[test]
    fn invalid_environment_proxy_names_the_variable() {
        let config = ClientConfig::new("ws://example.com/").unwrap();
        let err = select_with(&config, &env(&[("http_proxy", "gopher://u:secret@x")])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("http_proxy") && !text.contains("secret"),
            "{text}"
        );
    }

    #[test]
    fn the_route_names_the_proxy_or_the_list_that_went_around_it() {
        let route = |url: &str, vars: &[(&str, &str)]| {
            let config = ClientConfig::new(url).unwrap();
            choose_route_with(&config, &env(vars)).unwrap()
        };
        let proxied = route("ws://example.com/", &[("ALL_PROXY", "http://a:1")]);
        assert_eq!(proxied.to_string(), "proxy http://a:1 (from $ALL_PROXY)");
        assert_eq!(
            proxied.proxy().map(|proxy| proxy.source),
            Some(ProxySource::Environment("ALL_PROXY"))
        );
        assert_eq!(
            route("ws://example.com/", &[]),
            Route::Direct { bypassed: None }
        );

        let vars = [("http_proxy", "http://h:1"), ("NO_PROXY", "example.com")];
        let direct = route("ws://example.com/", &vars);
        assert_eq!(direct.to_string(), "direct");
        let bypass = direct.bypassed().expect("a proxy gone around");
        assert_eq!(bypass.by, NoProxySource::Environment("NO_PROXY"));
        assert_eq!(
            bypass.to_string(),
            "http://h:1 (from $http_proxy), excluded by $NO_PROXY"
        );
        let loopback = route("ws://127.0.0.1:9/", &[("http_proxy", "http://h:1")]);
        assert_eq!(
            loopback.bypassed().map(|bypass| bypass.by),
            Some(NoProxySource::Loopback)
        );

        let config = ClientConfig::new("ws://example.com/")
            .unwrap()
            .proxy(ProxyConfig::url("socks5h://u:secret@p:1").unwrap())
            .no_proxy(NoProxy::parse("example.com"));
        let direct = choose_route_with(&config, &env(&[])).unwrap();
        let bypass = direct.bypassed().expect("a proxy gone around");
        assert_eq!(bypass.by, NoProxySource::Config);
        assert!(!bypass.to_string().contains("secret"), "{bypass}");

        let unix = ClientConfig::new("ws+unix:///run/app.sock:/chat").unwrap();
        let taken = choose_route_with(&unix, &env(&[("all_proxy", "http://a:1")])).unwrap();
        assert_eq!(taken.to_string(), "unix socket /run/app.sock");
        assert_eq!(taken.proxy(), None);
    }
}
