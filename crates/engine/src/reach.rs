//! Is it this computer's network? Asked when a check could not reach its server: whether the
//! system has a route towards the internet at all, and how many other servers (the config's
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

/// How many of `endpoints` (`host:port`) accept a TCP connection within `limit`. They are
/// all tried at once.
pub async fn answering(endpoints: &[String], limit: Duration) -> usize {
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
    let count = async {
        let mut n = 0;
        while let Some(r) = tries.join_next().await {
            n += usize::from(matches!(r, Ok(Some(()))));
        }
        n
    };
    tokio::time::timeout(limit + Duration::from_secs(1), count)
        .await
        .unwrap_or(0)
}

/// Both questions at once.
pub async fn assess(endpoints: &[String], limit: Duration) -> Reachability {
    let route = has_route();
    let answered = if route {
        answering(endpoints, limit).await
    } else {
        0
    };
    Reachability {
        route,
        tried: endpoints.len(),
        answered,
    }
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
        assert_eq!(answering(&[], t).await, 0);
        assert_eq!(answering(std::slice::from_ref(&closed), t).await, 0);
        assert_eq!(answering(&[closed.clone(), open.clone()], t).await, 1);
        assert_eq!(answering(&["not-a-port".into(), open], t).await, 1);
    }
}
