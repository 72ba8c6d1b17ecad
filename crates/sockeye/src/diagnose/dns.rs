//! The DNS stage: the server's name did not resolve (its time-outs are in `io.rs`).

use super::Builder;
use crate::error::DnsFailure;

pub(super) fn dns(
    b: &mut Builder<'_, '_>,
    host: &str,
    failure: DnsFailure,
    source: &std::io::Error,
) {
    b.quote("host", host)
        .fact("os_error", source.to_string())
        .bypassed_proxy();
    if failure == DnsFailure::Temporary {
        b.cause("dns-temporary-failure").hint(
            "no DNS server answered: check the network connection and the resolver (/etc/resolv.conf), then try again",
        );
    } else {
        let mut hint = format!(
            "the name {host:?} does not resolve: check its spelling, or connect to an IP address"
        );
        if b.cx.through_proxy() {
            hint.push_str("; through a proxy, socks5h:// (or an HTTP proxy) lets the proxy resolve names this machine cannot");
        }
        b.cause("dns-not-found").hint(hint);
    }
}
