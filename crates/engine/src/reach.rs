//! Is it this computer's network? Asked when a check could not reach its server: whether the
//! system has a route towards the internet at all, and whether other servers (the config's
//! references, the other mailboxes' servers) still answer.

use std::time::Duration;

use mailcanary_core::scope::Reachability;

/// Whether the routing table has a way towards the internet. No packet is sent: `connect` on
/// a UDP socket only chooses a route. The targets are documentation addresses (RFC 5737,
/// RFC 3849), so even a misbehaving system would send nothing to anyone.
pub fn has_route() -> bool {
    [("0.0.0.0:0", "192.0.2.1:9"), ("[::]:0", "[2001:db8::1]:9")]
        .iter()
        .any(|(bind, target)| {
            std::net::UdpSocket::bind(bind)
                .and_then(|s| s.connect(target))
                .is_ok()
        })
}

/// Whether any of `endpoints` (`host:port`) accepts a TCP connection within `limit`; `None`
/// when there are none. They are tried at once; the first success ends the search.
pub async fn any_answers(endpoints: &[String], limit: Duration) -> Option<bool> {
    if endpoints.is_empty() {
        return None;
    }
    let mut tries = tokio::task::JoinSet::new();
    for e in endpoints {
        let e = e.clone();
        tries.spawn(async move {
            let (host, port) = e.rsplit_once(':')?;
            let port: u16 = port.parse().ok()?;
            let host = host.trim_matches(['[', ']']);
            let addrs = crate::net::resolve(host, port).await.ok()?;
            crate::net::connect(&addrs, limit).await.ok().map(|_| ())
        });
    }
    let bound = tokio::time::timeout(limit + Duration::from_secs(1), async {
        while let Some(r) = tries.join_next().await {
            if matches!(r, Ok(Some(()))) {
                return true;
            }
        }
        false
    });
    Some(bound.await.unwrap_or(false))
}

/// Both questions at once.
pub async fn assess(endpoints: &[String], limit: Duration) -> Reachability {
    let route = has_route();
    let reference = if route {
        any_answers(endpoints, limit).await
    } else {
        None
    };
    Reachability { route, reference }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn references_on_loopback() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("127.0.0.1:{}", l.local_addr().unwrap().port())
        };
        let t = Duration::from_secs(2);
        assert_eq!(any_answers(&[], t).await, None);
        assert_eq!(
            any_answers(std::slice::from_ref(&closed), t).await,
            Some(false)
        );
        assert_eq!(
            any_answers(&[closed.clone(), open.clone()], t).await,
            Some(true)
        );
        assert_eq!(any_answers(&["not-a-port".into()], t).await, Some(false));
    }
}
