//! A jail's `ignoreip` / `ignoreself` / `ignorecommand`: IDs whose failures are never counted.
//!
//! Entries are single addresses, CIDR networks, or host names (resolved once, when the jail is
//! built, as fail2ban resolves them when they are added). `ignoreself` covers the loopback
//! addresses and whatever this host's name resolves to. `ignorecommand` is run for an ID no
//! rule covers: exit status 0 ignores it, 1 does not, anything else is an error (and does not);
//! the ID reaches the command as data (core's tag passing), never as shell text.
use std::net::{IpAddr, ToSocketAddrs};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Net { addr: IpAddr, prefix: u8 },
    Dns { name: String, addrs: Vec<IpAddr> },
}

/// The ignore rules of one jail, in the order they were given.
#[derive(Debug, Clone, Default)]
pub struct IgnoreList {
    entries: Vec<(String, Entry)>,
    ignore_self: bool,
    self_ips: Vec<IpAddr>,
    command: Option<String>,
}

fn parse_net(s: &str) -> Option<(IpAddr, u8)> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            // A dotted mask (`/255.255.255.0`), accepted by fail2ban for IPv4.
            _ => match (addr, p.parse::<IpAddr>().ok()?) {
                (IpAddr::V4(_), IpAddr::V4(m)) => u32::from(m).count_ones() as u8,
                _ => return None,
            },
        },
    };
    Some((addr, prefix))
}

fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|a4| in_net(IpAddr::V4(a4), net, prefix)),
        _ => false,
    }
}

fn resolve(name: &str) -> Vec<IpAddr> {
    (name, 0)
        .to_socket_addrs()
        .map(|it| it.map(|sa| sa.ip()).collect())
        .unwrap_or_default()
}

impl IgnoreList {
    pub fn new(ignore_self: bool) -> IgnoreList {
        let mut l = IgnoreList {
            ignore_self: false,
            ..Default::default()
        };
        l.set_ignore_self(ignore_self);
        l
    }

    pub fn set_ignore_self(&mut self, on: bool) {
        self.ignore_self = on;
        if on && self.self_ips.is_empty() {
            let mut ips: Vec<IpAddr> = vec![
                "127.0.0.1".parse().expect("literal"),
                "::1".parse().expect("literal"),
            ];
            if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
                ips.extend(resolve(h.trim()));
            }
            self.self_ips = ips;
        }
    }

    pub fn ignore_self(&self) -> bool {
        self.ignore_self
    }

    /// Add one entry (address, network or host name). Several may be given space-separated.
    pub fn add(&mut self, text: &str) {
        for item in text
            .split([' ', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if self.entries.iter().any(|(t, _)| t == item) {
                continue;
            }
            let entry = match parse_net(item) {
                Some((addr, prefix)) => Entry::Net { addr, prefix },
                None => Entry::Dns {
                    name: item.to_string(),
                    addrs: resolve(item),
                },
            };
            self.entries.push((item.to_string(), entry));
        }
    }

    pub fn remove(&mut self, text: &str) {
        self.entries.retain(|(t, _)| t != text);
    }

    /// The entries as given (`get JAIL ignoreip`).
    pub fn entries(&self) -> Vec<String> {
        self.entries.iter().map(|(t, _)| t.clone()).collect()
    }

    /// Set (or clear, with an empty text) the `ignorecommand`.
    pub fn set_command(&mut self, cmd: &str) {
        self.command = (!cmd.trim().is_empty()).then(|| cmd.to_string());
    }

    pub fn command(&self) -> Option<&str> {
        self.command.as_deref()
    }

    /// Why `id` is ignored (fail2ban's wording of the source), or `None`.
    pub fn ignored_by(&self, id: &str) -> Option<&'static str> {
        self.by_rules(id).or_else(|| self.by_command(id))
    }

    fn by_command(&self, id: &str) -> Option<&'static str> {
        let cmd = self.command.as_deref()?;
        let sc = crate::actions::tags::replace_dynamic(
            cmd,
            |tag| matches!(tag, "ip" | "fid" | "ip-rev" | "ip-host").then(|| id.to_string()),
            |_| None,
        );
        let (script, args) = sc.to_sh_args();
        match crate::actions::exec::run_shell(&script, &args, std::time::Duration::from_secs(60)) {
            Ok(o) if o.code == Some(0) && !o.timed_out => Some("command"),
            Ok(o) if o.code == Some(1) => None,
            Ok(o) => {
                crate::log!(
                    "fail2ban.filter",
                    crate::logging::Level::ERROR,
                    "ignorecommand for {id} failed ({}): {}",
                    o.code
                        .map(|c| format!("exit status {c}"))
                        .unwrap_or_else(|| "killed".into()),
                    o.stderr.trim()
                );
                None
            }
            Err(e) => {
                crate::log!(
                    "fail2ban.filter",
                    crate::logging::Level::ERROR,
                    "ignorecommand for {id} failed: {e}"
                );
                None
            }
        }
    }

    fn by_rules(&self, id: &str) -> Option<&'static str> {
        let ip: IpAddr = match id.parse() {
            Ok(ip) => ip,
            // A failure ID that is no address (a port, a user) can only match a literal entry.
            Err(_) => return self.entries.iter().any(|(t, _)| t == id).then_some("ip"),
        };
        if self.ignore_self && self.self_ips.contains(&ip) {
            return Some("ignoreself rule");
        }
        for (_, e) in &self.entries {
            match e {
                Entry::Net { addr, prefix } if in_net(ip, *addr, *prefix) => return Some("ip"),
                Entry::Dns { addrs, .. } if addrs.contains(&ip) => return Some("dns"),
                _ => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nets_and_addresses() {
        let mut l = IgnoreList::new(false);
        l.add("192.0.2.0/24 10.1.2.3 2001:db8::/32 198.51.100.0/255.255.255.0");
        assert_eq!(l.ignored_by("192.0.2.77"), Some("ip"));
        assert_eq!(l.ignored_by("10.1.2.3"), Some("ip"));
        assert_eq!(l.ignored_by("10.1.2.4"), None);
        assert_eq!(l.ignored_by("2001:db8:1::5"), Some("ip"));
        assert_eq!(l.ignored_by("198.51.100.9"), Some("ip"));
        assert_eq!(l.ignored_by("not-an-ip"), None);
        l.remove("10.1.2.3");
        assert_eq!(l.ignored_by("10.1.2.3"), None);
        assert_eq!(l.entries().len(), 3);
    }

    #[test]
    fn command_decides_with_its_exit_status() {
        let dir = tempfile::tempdir().unwrap();
        let seen = dir.path().join("seen");
        let mut l = IgnoreList::new(false);
        l.set_command(&format!(
            "echo <ip> >> {}; test <ip> = 192.0.2.1",
            seen.display()
        ));
        assert_eq!(l.ignored_by("192.0.2.1"), Some("command"));
        assert_eq!(l.ignored_by("192.0.2.2"), None);
        // a hostile ID is data, not shell text
        assert_eq!(l.ignored_by("x; touch /tmp/f2b-pwned-ignore"), None);
        assert!(!std::path::Path::new("/tmp/f2b-pwned-ignore").exists());
        let text = std::fs::read_to_string(&seen).unwrap();
        assert_eq!(
            text,
            "192.0.2.1\n192.0.2.2\nx; touch /tmp/f2b-pwned-ignore\n"
        );
        l.set_command(" ");
        assert_eq!(l.command(), None);
    }

    #[test]
    fn self_rule() {
        let l = IgnoreList::new(true);
        assert_eq!(l.ignored_by("127.0.0.1"), Some("ignoreself rule"));
        assert_eq!(IgnoreList::new(false).ignored_by("127.0.0.1"), None);
    }
}
