//! A DNS question to one server, for the dns probes: A, AAAA, CNAME, MX and TXT records of a
//! name, over UDP, and over TCP when the answer does not fit (RFC 1035). Only what the
//! probes need: one question, the answer section, names with compression.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Record types, by their code.
fn code(record: &str) -> Option<u16> {
    Some(match record {
        "A" => 1,
        "CNAME" => 5,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        _ => return None,
    })
}

/// The first nameserver of `/etc/resolv.conf`, on port 53.
pub fn system_server() -> Result<SocketAddr, String> {
    let text = std::fs::read_to_string("/etc/resolv.conf")
        .map_err(|e| format!("cannot read /etc/resolv.conf for a nameserver: {e}"))?;
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next()
        .ok_or_else(|| "/etc/resolv.conf names no nameserver".to_owned())
}

/// The answers of `server` for `name`'s `record`s, as text: addresses, names (without the
/// final dot), `preference host` for MX, the joined strings of each TXT record.
pub async fn lookup(server: SocketAddr, name: &str, record: &str) -> Result<Vec<String>, String> {
    let kind = code(record).ok_or_else(|| format!("tocsin does not look up {record} records"))?;
    let id: u16 = rand_id();
    let query = question(id, name, kind)?;
    let socket = tokio::net::UdpSocket::bind(if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })
        .await
        .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    let mut buf = vec![0u8; 4096];
    // UDP may lose the question or the answer: asked again each second, three times.
    let mut answer = None;
    for _ in 0..3 {
        socket
            .send_to(&query, server)
            .await
            .map_err(|e| format!("cannot ask {server}: {e}"))?;
        let heard = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            loop {
                let (n, from) = socket
                    .recv_from(&mut buf)
                    .await
                    .map_err(|e| format!("no answer from {server}: {e}"))?;
                // Only the server's answer to this question counts.
                if from == server && n >= 12 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                    return Ok::<_, String>(buf[..n].to_vec());
                }
            }
        })
        .await;
        if let Ok(heard) = heard {
            answer = Some(heard?);
            break;
        }
    }
    let answer = answer.ok_or_else(|| format!("no answer from {server} within 3 s"))?;
    let answer = if answer[2] & 0x02 != 0 {
        over_tcp(server, &query).await?
    } else {
        answer
    };
    read(&answer, kind)
}

fn rand_id() -> u16 {
    let mut bytes = [0u8; 2];
    // A predictable id only weakens the check that the answer is this question's.
    let _ = getrandom::fill(&mut bytes);
    u16::from_be_bytes(bytes)
}

/// The question again over TCP, for an answer too long for UDP.
async fn over_tcp(server: SocketAddr, query: &[u8]) -> Result<Vec<u8>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server)
        .await
        .map_err(|e| format!("the answer is long and {server} refuses TCP: {e}"))?;
    let mut framed = u16::try_from(query.len())
        .expect("a short question")
        .to_be_bytes()
        .to_vec();
    framed.extend_from_slice(query);
    stream
        .write_all(&framed)
        .await
        .map_err(|e| format!("cannot ask {server} over TCP: {e}"))?;
    let length = stream
        .read_u16()
        .await
        .map_err(|e| format!("no answer from {server} over TCP: {e}"))?;
    let mut answer = vec![0u8; usize::from(length)];
    stream
        .read_exact(&mut answer)
        .await
        .map_err(|e| format!("a cut answer from {server} over TCP: {e}"))?;
    Ok(answer)
}

/// A query for `name`'s records of `kind`, recursion desired.
fn question(id: u16, name: &str, kind: u16) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(32 + name.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("\"{name}\" is not a domain name"));
        }
        out.push(u8::try_from(label.len()).expect("at most 63"));
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    Ok(out)
}

/// A cursor over an answer.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

const CUT: &str = "the DNS answer is cut short";

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(CUT)?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A name at the cursor, following compression pointers (a bounded number of them).
    fn name(&mut self) -> Result<String, String> {
        let mut labels: Vec<String> = Vec::new();
        let mut at = self.at;
        let mut jumped = false;
        for _ in 0..128 {
            let length = *self.bytes.get(at).ok_or(CUT)?;
            match length {
                0 => {
                    if !jumped {
                        self.at = at + 1;
                    }
                    return Ok(labels.join("."));
                }
                l if l & 0xC0 == 0xC0 => {
                    let low = *self.bytes.get(at + 1).ok_or(CUT)?;
                    if !jumped {
                        self.at = at + 2;
                    }
                    jumped = true;
                    at = usize::from(u16::from_be_bytes([l & 0x3F, low]));
                }
                l => {
                    let start = at + 1;
                    let end = start + usize::from(l);
                    let label = self.bytes.get(start..end).ok_or(CUT)?;
                    labels.push(String::from_utf8_lossy(label).into_owned());
                    at = end;
                }
            }
        }
        Err("the DNS answer has a name that loops".to_owned())
    }
}

/// The records of `kind` in an answer, as text; an error for a failed answer.
fn read(answer: &[u8], kind: u16) -> Result<Vec<String>, String> {
    let mut r = Reader { bytes: answer, at: 0 };
    let header = r.take(12)?.to_vec();
    let rcode = header[3] & 0x0F;
    match rcode {
        0 => {}
        3 => return Err("the name does not exist (NXDOMAIN)".to_owned()),
        2 => return Err("the server failed (SERVFAIL)".to_owned()),
        5 => return Err("the server refused the question (REFUSED)".to_owned()),
        other => return Err(format!("the server answered with error code {other}")),
    }
    let questions = u16::from_be_bytes([header[4], header[5]]);
    let answers = u16::from_be_bytes([header[6], header[7]]);
    for _ in 0..questions {
        r.name()?;
        r.take(4)?;
    }
    let mut out = Vec::new();
    for _ in 0..answers {
        r.name()?;
        let rtype = r.u16()?;
        r.take(6)?; // class and TTL
        let length = usize::from(r.u16()?);
        let start = r.at;
        if rtype == kind {
            out.push(match rtype {
                1 => {
                    let b = r.take(4)?;
                    Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()
                }
                28 => {
                    let b: [u8; 16] = r.take(16)?.try_into().map_err(|_| CUT)?;
                    Ipv6Addr::from(b).to_string()
                }
                5 => r.name()?,
                15 => {
                    let preference = r.u16()?;
                    format!("{preference} {}", r.name()?)
                }
                _ => {
                    let mut text = String::new();
                    while r.at < start + length {
                        let n = usize::from(r.take(1)?[0]);
                        text.push_str(&String::from_utf8_lossy(r.take(n)?));
                    }
                    text
                }
            });
        }
        r.at = start + length;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_is_its_labels_and_a_cut_or_looping_answer_is_refused() {
        let q = question(0x1234, "api.example.com", 16).unwrap();
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(&q[12..29], b"\x03api\x07example\x03com\x00");
        assert!(question(1, "bad..name", 1).is_err());
        // An answer whose header says one record but holds none.
        let mut cut = q.clone();
        cut[7] = 1;
        assert_eq!(read(&cut, 16), Err(CUT.to_owned()));
        // A name pointing at itself.
        let mut looping = q[..12].to_vec();
        looping[5] = 1;
        looping.extend_from_slice(&[0xC0, 12, 0, 16, 0, 1]);
        assert!(read(&looping, 16).unwrap_err().contains("loops"));
    }
}
