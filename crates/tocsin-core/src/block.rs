//! Blocked addresses: an address or a network, IPv4 or IPv6, as blocks name them.

use core::net::IpAddr;
use std::fmt;

/// An address or a network, its host bits cleared: `203.0.113.7/32`, `2001:db8::/32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Network {
    address: IpAddr,
    bits: u8,
}

/// A text that names no address or network.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadNetwork {
    /// Not an IPv4 or IPv6 address.
    #[error("\"{0}\" is not an IP address; write one like 203.0.113.7 or 2001:db8::1, or a network like 10.0.0.0/8")]
    NotAnAddress(String),
    /// A prefix length the address family does not have.
    #[error("/{bits} is not a prefix length of an IPv{version} network (0 to {max})")]
    PrefixLength {
        /// What was written after the slash.
        bits: String,
        /// 4 or 6.
        version: u8,
        /// 32 or 128.
        max: u8,
    },
}

impl Network {
    /// Reads `203.0.113.7`, `10.0.0.0/8` or `2001:db8::/32`; host bits are cleared, so
    /// `10.1.2.3/8` is `10.0.0.0/8`.
    pub fn parse(text: &str) -> Result<Network, BadNetwork> {
        let text = text.trim();
        let (address, bits) = match text.split_once('/') {
            Some((address, bits)) => (address, Some(bits)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| BadNetwork::NotAnAddress(text.to_owned()))?;
        let max: u8 = if address.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(bits) => bits
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| BadNetwork::PrefixLength {
                    bits: bits.to_owned(),
                    version: if max == 32 { 4 } else { 6 },
                    max,
                })?,
        };
        Ok(Network {
            address: masked(address, bits),
            bits,
        })
    }

    /// The network of `bits` that holds `ip`; `None` when the family has no such prefix
    /// length.
    pub fn around(ip: IpAddr, bits: u8) -> Option<Network> {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        (bits <= max).then(|| Network {
            address: masked(ip, bits),
            bits,
        })
    }

    /// Whether `ip` is in the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.address.is_ipv4() && masked(ip, self.bits) == self.address
    }

    /// Its first address.
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// Its prefix length.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// Whether `other` lies wholly within the network.
    pub fn covers(&self, other: Network) -> bool {
        other.bits >= self.bits && self.contains(other.address)
    }

    /// Whether the network is one address.
    pub fn is_address(&self) -> bool {
        self.bits == if self.address.is_ipv4() { 32 } else { 128 }
    }
}

fn masked(ip: IpAddr, bits: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.bits)
    }
}

/// How blocks are written for setups without a bouncer, to be fetched and loaded again
/// every minute or so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// One address or network a line (`203.0.113.7`, `10.0.0.0/8`), `#` comments.
    Plain,
    /// Lines for an nginx `geo` block: `203.0.113.7/32 1;`.
    Nginx,
    /// An `nft -f` script that fills the sets `blocked_v4` and `blocked_v6` of the table
    /// `inet tocsin`, emptying them first.
    Nftables,
}

impl ListFormat {
    /// Every format, by name.
    pub const ALL: [ListFormat; 3] = [ListFormat::Plain, ListFormat::Nginx, ListFormat::Nftables];

    /// Its name: `plain`, `nginx` or `nftables`.
    pub fn as_str(self) -> &'static str {
        match self {
            ListFormat::Plain => "plain",
            ListFormat::Nginx => "nginx",
            ListFormat::Nftables => "nftables",
        }
    }

    /// The format a name names.
    pub fn parse(text: &str) -> Result<ListFormat, UnknownFormat> {
        ListFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == text)
            .ok_or_else(|| UnknownFormat(text.to_owned()))
    }
}

/// A name that is no list format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown format \"{0}\"; use plain, nginx or nftables")]
pub struct UnknownFormat(pub String);

/// `networks` in `format`, each once and in order, after a comment saying what the list is
/// (`about`, one line). The nftables script leaves out networks that others in the list
/// cover, since an interval set refuses overlaps.
pub fn render(format: ListFormat, networks: &[Network], about: &str) -> String {
    let mut sorted: Vec<Network> = networks.to_vec();
    sorted.sort();
    sorted.dedup();
    let about: String = about.chars().filter(|c| !c.is_control()).collect();
    let mut out = String::new();
    match format {
        ListFormat::Plain => {
            out.push_str(&format!("# {about}\n"));
            for n in &sorted {
                if n.is_address() {
                    out.push_str(&format!("{}\n", n.address));
                } else {
                    out.push_str(&format!("{n}\n"));
                }
            }
        }
        ListFormat::Nginx => {
            out.push_str(&format!(
                "# {about}\n# Include inside a geo block: geo $tocsin_blocked {{ default 0; include THIS_FILE; }}\n"
            ));
            for n in &sorted {
                out.push_str(&format!("{n} 1;\n"));
            }
        }
        ListFormat::Nftables => {
            out.push_str(&format!(
                "# {about}\n# Load with nft -f THIS_FILE; drop what the sets hold with, for example,\n\
                 # nft add rule inet tocsin input ip saddr @blocked_v4 drop\n"
            ));
            out.push_str(
                "table inet tocsin {\n\
                 \tset blocked_v4 { type ipv4_addr; flags interval; }\n\
                 \tset blocked_v6 { type ipv6_addr; flags interval; }\n}\n\
                 flush set inet tocsin blocked_v4\nflush set inet tocsin blocked_v6\n",
            );
            let kept = outermost(&sorted);
            for (set, v4) in [("blocked_v4", true), ("blocked_v6", false)] {
                let elements: Vec<String> = kept
                    .iter()
                    .filter(|n| n.address.is_ipv4() == v4)
                    .map(|n| {
                        if n.is_address() {
                            n.address.to_string()
                        } else {
                            n.to_string()
                        }
                    })
                    .collect();
                // nft refuses an empty element list, and very long lines are slow to read.
                for chunk in elements.chunks(1000) {
                    out.push_str(&format!("add element inet tocsin {set} {{ {} }}\n", chunk.join(", ")));
                }
            }
        }
    }
    out
}

/// The networks of `sorted` (sorted, without repeats) that no other one covers.
fn outermost(sorted: &[Network]) -> Vec<Network> {
    let present: std::collections::HashSet<Network> = sorted.iter().copied().collect();
    let mut prefixes: Vec<(bool, u8)> = sorted.iter().map(|n| (n.address.is_ipv4(), n.bits)).collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    sorted
        .iter()
        .copied()
        .filter(|n| {
            !prefixes.iter().any(|&(v4, bits)| {
                v4 == n.address.is_ipv4()
                    && bits < n.bits
                    && Network::around(n.address, bits).is_some_and(|outer| present.contains(&outer))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_and_networks_are_read_with_their_host_bits_cleared() {
        assert_eq!(Network::parse("203.0.113.7").unwrap().to_string(), "203.0.113.7/32");
        assert_eq!(Network::parse(" 10.1.2.3/8 ").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(Network::parse("2001:db8::1/32").unwrap().to_string(), "2001:db8::/32");
        assert_eq!(Network::parse("::1").unwrap().to_string(), "::1/128");
        assert_eq!(Network::parse("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
        assert!(Network::parse("203.0.113.7").unwrap().is_address());
        assert!(!Network::parse("10.0.0.0/8").unwrap().is_address());
    }

    #[test]
    fn a_network_holds_its_addresses_and_no_others() {
        let net = Network::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.255.0.1")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::ffff:10.0.0.1")));
        let v6 = Network::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(Network::parse("0.0.0.0/0").unwrap().contains(ip("198.51.100.1")));
        let covers = |outer: &str, inner: &str| Network::parse(outer).unwrap().covers(Network::parse(inner).unwrap());
        assert!(covers("10.0.0.0/8", "10.2.0.0/16") && covers("10.0.0.0/8", "10.0.0.0/8"));
        assert!(!covers("10.2.0.0/16", "10.0.0.0/8") && !covers("10.0.0.0/8", "11.0.0.0/16"));
        assert!(!covers("0.0.0.0/0", "::/0"));
    }

    #[test]
    fn what_is_no_network_is_refused_naming_the_problem() {
        for (text, says) in [
            ("example.com", "is not an IP address"),
            ("10.0.0.0/33", "/33 is not a prefix length of an IPv4 network (0 to 32)"),
            ("2001:db8::/129", "IPv6 network (0 to 128)"),
            ("10.0.0.0/x", "/x is not a prefix length"),
            ("", "is not an IP address"),
        ] {
            let e = Network::parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn lists_are_written_in_each_format_with_covered_networks_left_out_of_nftables() {
        let networks: Vec<Network> = [
            "203.0.113.7",
            "10.0.0.0/8",
            "10.1.0.0/16",
            "2001:db8::/32",
            "203.0.113.7",
        ]
        .iter()
        .map(|t| Network::parse(t).unwrap())
        .collect();
        let plain = render(ListFormat::Plain, &networks, "tocsin blocks\nforged");
        assert_eq!(
            plain,
            "# tocsin blocksforged\n10.0.0.0/8\n10.1.0.0/16\n203.0.113.7\n2001:db8::/32\n"
        );
        let nginx = render(ListFormat::Nginx, &networks, "x");
        assert!(
            nginx.ends_with("10.0.0.0/8 1;\n10.1.0.0/16 1;\n203.0.113.7/32 1;\n2001:db8::/32 1;\n"),
            "{nginx}"
        );
        let nft = render(ListFormat::Nftables, &networks, "x");
        assert!(
            nft.contains("add element inet tocsin blocked_v4 { 10.0.0.0/8, 203.0.113.7 }\n"),
            "{nft}"
        );
        assert!(
            nft.contains("add element inet tocsin blocked_v6 { 2001:db8::/32 }\n"),
            "{nft}"
        );
        assert!(!nft.contains("10.1.0.0/16"), "covered: {nft}");
        let empty = render(ListFormat::Nftables, &[], "x");
        assert!(!empty.contains("add element"), "{empty}");
        assert_eq!(ListFormat::parse("nginx"), Ok(ListFormat::Nginx));
        assert!(
            ListFormat::parse("iptables")
                .unwrap_err()
                .to_string()
                .contains("use plain, nginx or nftables")
        );
    }
}
