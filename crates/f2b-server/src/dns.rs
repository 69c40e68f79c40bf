//! Host-name lookups for `usedns = yes|warn`: the filter crate asks a [`Resolver`] and does no
//! I/O itself, the daemon answers with the system resolver.
//!
//! Like fail2ban, answers (empty ones included) are remembered for five minutes and at most
//! a thousand names are kept, so a log full of one unresolvable name costs one lookup, not one
//! per line. With `usedns = warn` every answer that found addresses is logged at WARNING as
//! fail2ban does (`Determined IP using DNS Lookup: NAME = {'ADDR'}`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use f2b_filter::Resolver;

use crate::logging::Level;

const KEEP_FOR: Duration = Duration::from_secs(300);
const KEEP_AT_MOST: usize = 1000;

/// The system resolver (getaddrinfo) with fail2ban's answer cache.
pub struct SystemResolver {
    warn: bool,
    cache: RefCell<HashMap<String, (Instant, Vec<String>)>>,
}

impl SystemResolver {
    /// `warn`: log each name that resolved (fail2ban's `usedns = warn`).
    pub fn new(warn: bool) -> SystemResolver {
        SystemResolver {
            warn,
            cache: RefCell::new(HashMap::new()),
        }
    }

    fn lookup(host: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Ok(addrs) = (host, 0u16).to_socket_addrs() {
            for a in addrs {
                let ip = a.ip().to_string();
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
        out
    }
}

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str) -> Vec<String> {
        let now = Instant::now();
        let cached = self
            .cache
            .borrow()
            .get(host)
            .filter(|(at, _)| now.duration_since(*at) < KEEP_FOR)
            .map(|(_, ips)| ips.clone());
        let ips = match cached {
            Some(ips) => ips,
            None => {
                let ips = Self::lookup(host);
                let mut cache = self.cache.borrow_mut();
                if cache.len() >= KEEP_AT_MOST {
                    cache.retain(|_, (at, _)| now.duration_since(*at) < KEEP_FOR);
                    if cache.len() >= KEEP_AT_MOST {
                        cache.clear();
                    }
                }
                cache.insert(host.to_string(), (now, ips.clone()));
                ips
            }
        };
        if self.warn && !ips.is_empty() {
            let shown: Vec<String> = ips.iter().map(|ip| format!("'{ip}'")).collect();
            crate::log!(
                "fail2ban.ipdns",
                Level::WARNING,
                "Determined IP using DNS Lookup: {host} = {{{}}}",
                shown.join(", ")
            );
        }
        ips
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_resolves_and_is_cached() {
        let r = SystemResolver::new(false);
        let first = r.resolve("localhost");
        assert!(
            first.iter().any(|ip| ip == "127.0.0.1" || ip == "::1"),
            "{first:?}"
        );
        assert_eq!(r.cache.borrow().len(), 1);
        assert_eq!(r.resolve("localhost"), first);
        assert_eq!(r.cache.borrow().len(), 1);
    }

    #[test]
    fn an_unresolvable_name_is_remembered_as_empty() {
        let r = SystemResolver::new(true);
        assert!(r.resolve("no-such-host.invalid").is_empty());
        assert_eq!(
            r.cache
                .borrow()
                .get("no-such-host.invalid")
                .map(|(_, v)| v.len()),
            Some(0)
        );
    }
}
