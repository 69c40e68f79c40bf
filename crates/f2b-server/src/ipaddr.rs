//! What the actions need to know about a failure ID that may be an address: its family
//! (`inet4`/`inet6`, none for other IDs), its canonical text, and its reverse-DNS form.

use std::net::{IpAddr, Ipv6Addr};

/// An address family as fail2ban names it in `<family>` and `?family=` conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Inet4,
    Inet6,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Inet4 => "inet4",
            Family::Inet6 => "inet6",
        }
    }
}

fn parse(id: &str) -> Option<(IpAddr, Option<&str>)> {
    let (addr, plen) = match id.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (id, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    Some((ip, plen))
}

/// The family of an address (or `addr/prefix`); `None` for any other ID.
pub fn family(id: &str) -> Option<Family> {
    parse(id).map(|(ip, _)| match ip {
        IpAddr::V4(_) => Family::Inet4,
        IpAddr::V6(_) => Family::Inet6,
    })
}

/// The text fail2ban shows for an address: IPv6 compressed in lower case, an IPv4-mapped IPv6
/// as plain IPv4; any other ID unchanged.
pub fn normalize(id: &str) -> String {
    match parse(id) {
        Some((ip, Some(p))) => format!("{ip}/{p}"),
        Some((ip, None)) => ip.to_string(),
        None => id.to_string(),
    }
}

/// `<ip-rev>`: the reverse-DNS name without its zone (`4.3.2.1.`, nibbles for IPv6); empty for
/// non-addresses.
pub fn ptr(id: &str) -> String {
    match parse(id) {
        Some((IpAddr::V4(_), _)) => {
            let text = normalize(id);
            let mut parts: Vec<&str> = text.split('.').collect();
            parts.reverse();
            format!("{}.", parts.join("."))
        }
        Some((IpAddr::V6(v6), _)) => {
            let hex: String = v6.octets().iter().map(|b| format!("{b:02x}")).collect();
            let mut nibbles: Vec<String> = hex.chars().map(|c| c.to_string()).collect();
            nibbles.reverse();
            format!("{}.", nibbles.join("."))
        }
        None => String::new(),
    }
}

/// `<ip-host>`: the address's DNS name by reverse lookup; empty when it has none.
pub fn host(id: &str) -> String {
    let Some((ip, None)) = parse(id) else {
        return String::new();
    };
    reverse_lookup(ip).unwrap_or_default()
}

fn reverse_lookup(ip: IpAddr) -> Option<String> {
    // SAFETY: zeroed sockaddr structs are valid; we fill the fields getnameinfo reads and pass
    // the true size; the output buffer is ours with its length, no service buffer is asked for.
    unsafe {
        let mut host = [0 as libc::c_char; 1025];
        let rc = match ip {
            IpAddr::V4(v4) => {
                let mut sa: libc::sockaddr_in = std::mem::zeroed();
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_addr.s_addr = u32::from_ne_bytes(v4.octets());
                libc::getnameinfo(
                    (&sa as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    host.as_mut_ptr(),
                    host.len() as libc::socklen_t,
                    std::ptr::null_mut(),
                    0,
                    libc::NI_NAMEREQD,
                )
            }
            IpAddr::V6(v6) => {
                let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
                sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sa.sin6_addr.s6_addr = v6.octets();
                libc::getnameinfo(
                    (&sa as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    host.as_mut_ptr(),
                    host.len() as libc::socklen_t,
                    std::ptr::null_mut(),
                    0,
                    libc::NI_NAMEREQD,
                )
            }
        };
        if rc != 0 {
            return None;
        }
        std::ffi::CStr::from_ptr(host.as_ptr())
            .to_str()
            .ok()
            .map(str::to_string)
    }
}

/// Whether an ID is an IPv6 address (for callers that only need that).
pub fn is_ipv6(id: &str) -> bool {
    id.parse::<Ipv6Addr>()
        .is_ok_and(|v| v.to_ipv4_mapped().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_fail2ban_shows_them() {
        // values observed from fail2ban 1.0.2's IPAddr
        assert_eq!(family("1.2.3.4"), Some(Family::Inet4));
        assert_eq!(ptr("1.2.3.4"), "4.3.2.1.");
        assert_eq!(normalize("2001:DB8:0:0::1"), "2001:db8::1");
        assert_eq!(family("2001:db8::1"), Some(Family::Inet6));
        assert_eq!(
            ptr("2001:db8::1"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
        );
        assert_eq!(normalize("::ffff:1.2.3.4"), "1.2.3.4");
        assert_eq!(family("::ffff:1.2.3.4"), Some(Family::Inet4));
        assert_eq!(ptr("1.2.3.0/24"), "0/24.3.2.1.");
        assert_eq!(family("abc"), None);
        assert_eq!(family("001.002.003.004"), None);
        assert_eq!(ptr("443"), "");
        assert!(is_ipv6("::1"));
        assert!(!is_ipv6("1.2.3.4"));
    }
}
