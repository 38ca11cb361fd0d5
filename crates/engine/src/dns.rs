//! The two kinds of DNS record automatic set-up needs that the system's resolver does not
//! answer: SRV (RFC 6186, where a domain says which servers serve its mail) and MX (who
//! receives its mail). One question over UDP to the first name server of `/etc/resolv.conf`,
//! as the system's resolver would ask; answers are read with name compression.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A service record: where a service of the domain is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    /// Host name, without the final dot; "." means "not offered here" (RFC 2782).
    pub target: String,
}

/// A mail exchanger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mx {
    pub preference: u16,
    pub host: String,
}

const TYPE_MX: u16 = 15;
const TYPE_SRV: u16 = 33;

/// The name server the system uses: the first `nameserver` line of `/etc/resolv.conf`.
pub fn system_name_server() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("nameserver"))
            .then(|| w.next())
            .flatten()
            .and_then(|a| a.parse::<IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// SRV records of `name` (such as `_imaps._tcp.example.jp`), best first (lowest priority,
/// then highest weight); none when the name has none or the server does not answer.
pub async fn srv(server: SocketAddr, name: &str, limit: Duration) -> Vec<Srv> {
    let Ok(answers) = query(server, name, TYPE_SRV, limit).await else {
        return Vec::new();
    };
    let mut found: Vec<Srv> = answers
        .iter()
        .filter_map(|(data, msg)| {
            let (target, _) = read_name(msg, data.offset + 6)?;
            let d = &msg[data.offset..data.offset + data.len];
            Some(Srv {
                priority: u16::from_be_bytes([d[0], d[1]]),
                weight: u16::from_be_bytes([d[2], d[3]]),
                port: u16::from_be_bytes([d[4], d[5]]),
                target,
            })
        })
        .collect();
    found.sort_by_key(|s| (s.priority, std::cmp::Reverse(s.weight)));
    found
}

/// MX records of `domain`, best first (lowest preference).
pub async fn mx(server: SocketAddr, domain: &str, limit: Duration) -> Vec<Mx> {
    let Ok(answers) = query(server, domain, TYPE_MX, limit).await else {
        return Vec::new();
    };
    let mut found: Vec<Mx> = answers
        .iter()
        .filter_map(|(data, msg)| {
            let (host, _) = read_name(msg, data.offset + 2)?;
            let d = &msg[data.offset..];
            Some(Mx {
                preference: u16::from_be_bytes([d[0], d[1]]),
                host,
            })
        })
        .collect();
    found.sort_by_key(|m| m.preference);
    found
}

/// Where one answer's data is in the message.
struct RData {
    offset: usize,
    len: usize,
}

/// Asks one question; answers the records of type `qtype` with the whole message each
/// (their data may point back into it).
async fn query(
    server: SocketAddr,
    name: &str,
    qtype: u16,
    limit: Duration,
) -> Result<Vec<(RData, std::sync::Arc<Vec<u8>>)>, String> {
    let id: u16 = {
        let mut b = [0u8; 2];
        getrandom::fill(&mut b).map_err(|e| e.to_string())?;
        u16::from_be_bytes(b)
    };
    let question = encode_query(id, name, qtype)?;
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("an address")
    } else {
        "[::]:0".parse().expect("an address")
    };
    let socket = tokio::net::UdpSocket::bind(local)
        .await
        .map_err(|e| e.to_string())?;
    socket.connect(server).await.map_err(|e| e.to_string())?;
    socket.send(&question).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    let answer = async {
        loop {
            let n = socket.recv(&mut buf).await.map_err(|e| e.to_string())?;
            // Only the answer to this question (same id, same question) counts.
            if n >= 12 && buf[..2] == id.to_be_bytes() && buf[2] & 0x80 != 0 {
                return Ok::<_, String>(buf[..n].to_vec());
            }
        }
    };
    let msg = tokio::time::timeout(limit, answer)
        .await
        .map_err(|_| "no answer".to_string())??;
    parse_answers(&msg, qtype).map(|v| {
        let msg = std::sync::Arc::new(msg);
        v.into_iter().map(|d| (d, msg.clone())).collect()
    })
}

fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // recursion desired
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("not a domain name: {name}"));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]); // class IN
    Ok(q)
}

/// The answers of type `qtype` in a response.
fn parse_answers(msg: &[u8], qtype: u16) -> Result<Vec<RData>, String> {
    let short = || "a short DNS answer".to_string();
    if msg.len() < 12 {
        return Err(short());
    }
    let rcode = msg[3] & 0x0f;
    if rcode != 0 {
        return Ok(Vec::new()); // no such name, refused...
    }
    let count = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]) as usize;
    let (questions, answers) = (count(4), count(6));
    let mut at = 12;
    for _ in 0..questions {
        let (_, next) = read_name(msg, at).ok_or_else(short)?;
        at = next + 4;
    }
    let mut found = Vec::new();
    for _ in 0..answers {
        let (_, next) = read_name(msg, at).ok_or_else(short)?;
        let head = msg.get(next..next + 10).ok_or_else(short)?;
        let rtype = u16::from_be_bytes([head[0], head[1]]);
        let len = u16::from_be_bytes([head[8], head[9]]) as usize;
        let offset = next + 10;
        if offset + len > msg.len() {
            return Err(short());
        }
        let min = if rtype == TYPE_SRV { 7 } else { 3 };
        if rtype == qtype && len >= min {
            found.push(RData { offset, len });
        }
        at = offset + len;
    }
    Ok(found)
}

/// A (possibly compressed) name at `at`; the name and where what follows it starts.
fn read_name(msg: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *msg.get(at)? as usize;
        match len {
            0 => {
                let name = if labels.is_empty() {
                    ".".to_string()
                } else {
                    labels.join(".")
                };
                return Some((name, end.unwrap_or(at + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let to = ((l & 0x3f) << 8) | *msg.get(at + 1)? as usize;
                end.get_or_insert(at + 2);
                if to >= at {
                    return None; // pointers go back only: no loops
                }
                at = to;
            }
            l if l < 64 => {
                let label = msg.get(at + 1..at + 1 + l)?;
                labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
                at += 1 + l;
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response to the question `q` with the given answer records (name pointer to the
    /// question, type, data).
    fn response(q: &[u8], answers: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut m = q.to_vec();
        m[2] = 0x81;
        m[3] = 0x80;
        m[7] = answers.len() as u8;
        for (t, data) in answers {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            m.extend_from_slice(&(data.len() as u16).to_be_bytes());
            m.extend_from_slice(data);
        }
        m
    }

    #[test]
    fn srv_and_mx_answers_are_read_with_compression() {
        let q = encode_query(7, "_imaps._tcp.example.jp", TYPE_SRV).unwrap();
        // Target "mail" + pointer to "example.jp" inside the question (offset 12 + 13).
        let mut data = vec![0, 10, 0, 5, 3, 225, 4];
        data.extend_from_slice(b"mail");
        data.extend_from_slice(&[0xc0, 12 + 12]);
        let m = response(&q, &[(TYPE_SRV, data)]);
        let found = parse_answers(&m, TYPE_SRV).unwrap();
        assert_eq!(found.len(), 1);
        let (target, _) = read_name(&m, found[0].offset + 6).unwrap();
        assert_eq!(target, "mail.example.jp");
        assert_eq!(
            &m[found[0].offset + 4..found[0].offset + 6],
            &993u16.to_be_bytes()
        );
        // A pointer forward (a loop) is refused, not followed.
        let mut bad = m.clone();
        let at = found[0].offset + 6 + 5;
        bad[at + 1] = 200;
        assert!(read_name(&bad, found[0].offset + 6).is_none());
        // A truncated message is an error, not a panic.
        assert!(parse_answers(&m[..m.len() - 3], TYPE_SRV).is_err());
    }

    #[test]
    fn a_name_that_is_not_one_is_refused() {
        assert!(encode_query(1, "a..b", TYPE_MX).is_err());
        assert!(encode_query(1, &"x".repeat(64), TYPE_MX).is_err());
    }
}
