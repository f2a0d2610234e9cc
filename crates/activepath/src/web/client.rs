//! Who a request comes from. Behind a reverse proxy the connection's peer
//! is the proxy; a proxy configured as trusted (`server.trusted_proxies`)
//! says who its client was in `X-Forwarded-For`, and what scheme the client
//! used in `X-Forwarded-Proto`. A header from anyone else proves nothing.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// Whether `peer` is one of the trusted proxies.
pub fn is_trusted(peer: IpAddr, trusted: &[IpNet]) -> bool {
    let peer = canonical(peer);
    trusted.iter().any(|net| net.contains(&peer))
}

/// The client's address. A trusted proxy appends the address it got the
/// request from to `X-Forwarded-For`, so the list is read from the right,
/// past every trusted proxy; the first other address is the client.
/// Anything further left was written by the client and proves nothing.
pub fn address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    if !is_trusted(peer, trusted) {
        return canonical(peer);
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = canonical(peer);
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(ip, trusted) => client = ip,
            Some(ip) => return ip,
            // Not an address: the hop before it is the last one we know.
            None => return client,
        }
    }
    client
}

/// An IPv4-mapped IPv6 address (how a dual-stack socket sees an IPv4
/// client) as plain IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        let trusted: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ];
        // Not from a trusted proxy: the header is ignored.
        assert_eq!(
            address(ip("203.0.113.9"), &headers(&["1.1.1.1"]), &trusted),
            ip("203.0.113.9")
        );
        // From a trusted proxy.
        assert_eq!(
            address(ip("127.0.0.1"), &headers(&["198.51.100.7"]), &trusted),
            ip("198.51.100.7")
        );
        // Through two trusted proxies.
        assert_eq!(
            address(
                ip("127.0.0.1"),
                &headers(&["198.51.100.7, 10.1.2.3"]),
                &trusted
            ),
            ip("198.51.100.7")
        );
        // A client that writes its own X-Forwarded-For cannot choose its address.
        assert_eq!(
            address(
                ip("127.0.0.1"),
                &headers(&["6.6.6.6, 198.51.100.7"]),
                &trusted
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            address(
                ip("127.0.0.1"),
                &headers(&["6.6.6.6", "198.51.100.7"]),
                &trusted
            ),
            ip("198.51.100.7")
        );
        // Garbage stops the walk at the last known hop.
        assert_eq!(
            address(ip("10.0.0.5"), &headers(&["nonsense"]), &trusted),
            ip("10.0.0.5")
        );
        assert_eq!(
            address(ip("127.0.0.1"), &headers(&["[2001:db8::7]:5555"]), &trusted),
            ip("2001:db8::7")
        );
        // No header from a trusted proxy: the proxy itself.
        assert_eq!(
            address(ip("127.0.0.1"), &headers(&[]), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            address(
                ip("::ffff:127.0.0.1"),
                &headers(&["198.51.100.7"]),
                &trusted
            ),
            ip("198.51.100.7")
        );
    }
}
