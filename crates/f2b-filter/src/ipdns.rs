//! Failure-id normalisation the way fail2ban does it: IPv4/IPv6 parsing with optional prefix length,
//! IPv4-mapped IPv6 folded to IPv4, unparsable ids kept raw, host names resolved through a
//! caller-supplied [`Resolver`] (this crate does no I/O).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Resolves a host name to IP address strings (DNS is I/O: the caller provides it).
pub trait Resolver {
    fn resolve(&self, host: &str) -> Vec<String>;
}

/// A resolver that never finds anything (for `usedns = no` callers and tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoResolver;

impl Resolver for NoResolver {
    fn resolve(&self, _host: &str) -> Vec<String> {
        Vec::new()
    }
}

/// How the text of an id is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cidr {
    /// Keep the text as it is.
    Raw,
    /// Try IPv4 then IPv6; `[..]` brackets and `/plen` suffix allowed.
    Unspec,
    /// Only IPv4 (the text came from an `ip4` group).
    V4,
    /// Only IPv6 (the text came from an `ip6` group).
    V6,
    /// Either family, masked to this prefix length.
    Plen(u32),
}

/// A failure id: an address (possibly a subnet) or raw text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IpAddr {
    V4 { addr: u32, plen: u32 },
    V6 { addr: u128, plen: u32 },
    Raw(String),
}

fn mask4(addr: u32, plen: u32) -> u32 {
    if plen == 0 {
        0
    } else if plen >= 32 {
        addr
    } else {
        addr & !(u32::MAX >> plen)
    }
}

fn mask6(addr: u128, plen: u32) -> u128 {
    if plen == 0 {
        0
    } else if plen >= 128 {
        addr
    } else {
        addr & !(u128::MAX >> plen)
    }
}

impl IpAddr {
    pub fn new(text: &str, cidr: Cidr) -> IpAddr {
        let mut text = text;
        let mut cidr = cidr;
        if cidr == Cidr::Raw {
            return IpAddr::Raw(text.to_string());
        }
        if cidr == Cidr::Unspec {
            if text.len() > 2 && text.starts_with('[') && text.ends_with(']') {
                text = &text[1..text.len() - 1];
            }
            if let Some((a, p)) = text.split_once('/') {
                let plen = if p.contains('.') || p.contains(':') {
                    mask_to_plen(p)
                } else {
                    p.trim().parse::<u32>().ok()
                };
                match plen {
                    Some(plen) => {
                        text = a;
                        cidr = Cidr::Plen(plen);
                    }
                    None => return IpAddr::Raw(text.to_string()),
                }
            }
        }
        let try4 = matches!(cidr, Cidr::Unspec | Cidr::V4 | Cidr::Plen(_));
        let try6 = matches!(cidr, Cidr::Unspec | Cidr::V6 | Cidr::Plen(_));
        if try4 {
            if let Ok(a) = text.parse::<Ipv4Addr>() {
                let addr = u32::from(a);
                return match cidr {
                    Cidr::Plen(p) => IpAddr::V4 {
                        addr: mask4(addr, p),
                        plen: p.min(32),
                    },
                    _ => IpAddr::V4 { addr, plen: 32 },
                };
            }
        }
        if try6 {
            if let Ok(a) = text.parse::<Ipv6Addr>() {
                let addr = u128::from(a);
                return match cidr {
                    Cidr::Plen(p) => IpAddr::V6 {
                        addr: mask6(addr, p),
                        plen: p.min(128),
                    },
                    _ if addr >> 32 == 0xffff => IpAddr::V4 {
                        addr: addr as u32,
                        plen: 32,
                    },
                    _ => IpAddr::V6 { addr, plen: 128 },
                };
            }
        }
        IpAddr::Raw(text.to_string())
    }

    pub fn is_valid(&self) -> bool {
        !matches!(self, IpAddr::Raw(_))
    }

    /// `inet4`, `inet6` or None for raw ids.
    pub fn family(&self) -> Option<&'static str> {
        match self {
            IpAddr::V4 { .. } => Some("inet4"),
            IpAddr::V6 { .. } => Some("inet6"),
            IpAddr::Raw(_) => None,
        }
    }

    /// PTR form (`1.2.0.192.` / nibbles for IPv6), None for raw ids.
    pub fn ptr(&self) -> Option<String> {
        match self {
            IpAddr::V4 { addr, .. } => {
                let o = addr.to_be_bytes();
                Some(format!("{}.{}.{}.{}.", o[3], o[2], o[1], o[0]))
            }
            IpAddr::V6 { addr, .. } => {
                let hex = format!("{addr:032x}");
                let mut s = String::with_capacity(64);
                for c in hex.chars().rev() {
                    s.push(c);
                    s.push('.');
                }
                Some(s)
            }
            IpAddr::Raw(_) => None,
        }
    }
}

fn mask_to_plen(mask: &str) -> Option<u32> {
    let bits: u128 = if let Ok(a) = mask.parse::<Ipv4Addr>() {
        (u32::from(a) as u128) << 96
    } else {
        u128::from(mask.parse::<Ipv6Addr>().ok()?)
    };
    let plen = bits.leading_ones();
    if bits.checked_shl(plen).unwrap_or(0) != 0 {
        return None;
    }
    if mask.contains('.') {
        Some(plen.min(32))
    } else {
        Some(plen)
    }
}

/// IPv6 text as glibc's inet_ntop writes it (embedded IPv4 for `::a.b.c.d` and `::ffff:a.b.c.d`).
fn ntop6(addr: u128) -> String {
    let words: Vec<u16> = (0..8).map(|i| (addr >> (112 - 16 * i)) as u16).collect();
    if words[..5].iter().all(|w| *w == 0)
        && (words[5] == 0xffff || (words[5] == 0 && words[6] != 0))
    {
        let v4 = Ipv4Addr::from(addr as u32);
        return if words[5] == 0xffff {
            format!("::ffff:{v4}")
        } else {
            format!("::{v4}")
        };
    }
    Ipv6Addr::from(addr).to_string()
}

impl fmt::Display for IpAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpAddr::V4 { addr, plen } => {
                write!(f, "{}", Ipv4Addr::from(*addr))?;
                if *plen > 0 && *plen < 32 {
                    write!(f, "/{plen}")?;
                }
                Ok(())
            }
            IpAddr::V6 { addr, plen } => {
                f.write_str(&ntop6(*addr))?;
                if *plen > 0 && *plen < 128 {
                    write!(f, "/{plen}")?;
                }
                Ok(())
            }
            IpAddr::Raw(s) => f.write_str(s),
        }
    }
}

/// fail2ban's plain-IP test for host text: the whole text must look like an IPv4 address.
fn search_ip4(text: &str) -> Option<&str> {
    let mut parts = 0;
    for p in text.split('.') {
        parts += 1;
        if p.is_empty() || p.chars().count() > 3 || !p.chars().all(|c| c.is_numeric()) {
            return None;
        }
    }
    (parts == 4).then_some(text)
}

/// Turns host text from a `dns` group into addresses: a plain IPv4 text is used as it is; other
/// names are resolved when `resolve` is set (usedns yes/warn).
pub fn text_to_ips(text: &str, resolve: bool, resolver: &dyn Resolver) -> Vec<IpAddr> {
    if let Some(ip) = search_ip4(text) {
        let ip = IpAddr::new(ip, Cidr::Unspec);
        if ip.is_valid() {
            return vec![ip];
        }
    }
    if !resolve {
        return Vec::new();
    }
    let mut out: Vec<IpAddr> = Vec::new();
    let mut found = resolver.resolve(text);
    // IPv4 first, as fail2ban asks for AF_INET before AF_INET6.
    found.sort_by_key(|s| s.contains(':'));
    for s in found {
        let cidr = if s.contains(':') { Cidr::V6 } else { Cidr::V4 };
        let ip = IpAddr::new(&s, cidr);
        if ip.is_valid() && !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str, c: Cidr) -> String {
        IpAddr::new(t, c).to_string()
    }

    #[test]
    fn normalisation() {
        assert_eq!(s("192.0.2.1", Cidr::V4), "192.0.2.1");
        assert_eq!(s("::ffff:192.0.2.7", Cidr::V6), "192.0.2.7");
        assert_eq!(s("2001:DB8:0:0::5", Cidr::V6), "2001:db8::5");
        assert_eq!(s("192.030.0.6", Cidr::V4), "192.030.0.6");
        assert!(!IpAddr::new("192.030.0.6", Cidr::V4).is_valid());
        assert_eq!(s("10.1.2.3", Cidr::Plen(16)), "10.1.0.0/16");
        assert_eq!(s("10.1.2.3/8", Cidr::Unspec), "10.0.0.0/8");
        assert_eq!(s("10.1.2.3/255.255.0.0", Cidr::Unspec), "10.1.0.0/16");
        assert_eq!(s("[2001:db8::1]", Cidr::Unspec), "2001:db8::1");
        assert_eq!(s("2001:db8::1", Cidr::Plen(32)), "2001:db8::/32");
        assert_eq!(s("localhost", Cidr::Unspec), "localhost");
        assert_eq!(s("8080", Cidr::Raw), "8080");
        assert_eq!(s("::1.2.3.4", Cidr::V6), "::1.2.3.4");
        assert_eq!(s("::1", Cidr::V6), "::1");
    }

    #[test]
    fn family_and_ptr() {
        let ip = IpAddr::new("192.0.2.1", Cidr::Unspec);
        assert_eq!(ip.family(), Some("inet4"));
        assert_eq!(ip.ptr().as_deref(), Some("1.2.0.192."));
        assert_eq!(IpAddr::new("x", Cidr::Raw).family(), None);
    }

    struct Fixed;
    impl Resolver for Fixed {
        fn resolve(&self, host: &str) -> Vec<String> {
            if host == "example.test" {
                vec!["2001:db8::7".into(), "192.0.2.9".into()]
            } else {
                vec![]
            }
        }
    }

    #[test]
    fn dns() {
        assert_eq!(
            text_to_ips("192.0.2.1", false, &Fixed),
            vec![IpAddr::new("192.0.2.1", Cidr::V4)]
        );
        assert!(text_to_ips("example.test", false, &Fixed).is_empty());
        let r: Vec<String> = text_to_ips("example.test", true, &Fixed)
            .iter()
            .map(|i| i.to_string())
            .collect();
        assert_eq!(r, ["192.0.2.9", "2001:db8::7"]);
    }
}
