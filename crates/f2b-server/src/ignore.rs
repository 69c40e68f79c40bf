//! A jail's `ignoreip` / `ignoreself` / `ignorecommand` / `ignorecache`: IDs whose failures are
//! never counted.
//!
//! Entries are single addresses, CIDR networks, or host names (resolved once, when the jail is
//! built). `ignoreself` covers the loopback addresses and whatever this host's name resolves to.
//! `ignorecommand` is run for an ID no rule covers: exit status 0 ignores it, 1 does not,
//! anything else (a missing program, a crash, a time-out) is logged as an error and does not
//! ignore; the ID reaches the command as data (core's tag passing), never as shell text.
//!
//! `ignorecache` (`key="<ip>", max-count=100, max-time=5m`) remembers each verdict under the
//! key substituted from the failure, so an expensive command runs once per key and period.
//! Facts taken from fail2ban 1.0.2's behaviour:
//! - the check order is cache, ignoreself, single addresses, networks and host names, command;
//! - a verdict found in the cache is returned silently (no "Ignore ... by" line);
//! - a match on a single address is not stored (it is as cheap as a cache look-up); every
//!   other verdict is, a failed command's "not ignored" included;
//! - entries live `max-time` seconds; when `max-count` entries are held, the oldest are dropped
//!   before a new one is stored, until one still alive has been dropped;
//! - an empty value turns the cache off; a value without `key` is refused.
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::logging::Level;

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
    cache: Option<IgnoreCache>,
}

/// Why an ID is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ignored {
    /// fail2ban's name of the rule: `ip`, `dns`, `ignoreself rule` or `command`.
    pub source: &'static str,
    /// Taken from `ignorecache`: fail2ban logs no "Ignore ... by" line then.
    pub cached: bool,
}

/// A refused `ignorecache` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreCacheError {
    #[error("invalid ignorecache {value:?}: {reason}")]
    Syntax { value: String, reason: String },
    #[error("invalid ignorecache {0:?}: no key given")]
    NoKey(String),
    #[error("invalid ignorecache max-count {0:?}: not an integer")]
    MaxCount(String),
    #[error("invalid ignorecache max-time {0:?}: {1}")]
    MaxTime(String, f2b_config::TimeError),
}

/// Verdicts of the ignore check by key, for `max_time`, at most `max_count` of them.
#[derive(Debug)]
struct IgnoreCache {
    key: String,
    max_count: usize,
    max_time: f64,
    /// key -> (verdict, expiry, insertion number).
    slots: Mutex<CacheSlots>,
}

#[derive(Debug, Default, Clone)]
struct CacheSlots {
    by_key: HashMap<String, (Option<&'static str>, Instant, u64)>,
    /// Insertion order (fail2ban's cache is first-in first-out): insertion number -> key.
    order: BTreeMap<u64, String>,
    next: u64,
}

impl Clone for IgnoreCache {
    fn clone(&self) -> IgnoreCache {
        IgnoreCache {
            key: self.key.clone(),
            max_count: self.max_count,
            max_time: self.max_time,
            slots: Mutex::new(lock(&self.slots).clone()),
        }
    }
}

fn lock(m: &Mutex<CacheSlots>) -> std::sync::MutexGuard<'_, CacheSlots> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl IgnoreCache {
    /// Reads `key="<ip>", max-count=100, max-time=5m` (fail2ban's option syntax); `None` for
    /// an empty value (cache off).
    fn parse(text: &str) -> Result<Option<IgnoreCache>, IgnoreCacheError> {
        let (_, opts) =
            f2b_config::extract_options(&format!("cache[{text}]")).map_err(|reason| {
                IgnoreCacheError::Syntax {
                    value: text.to_string(),
                    reason,
                }
            })?;
        if opts.is_empty() {
            return Ok(None);
        }
        // A repeated option: the last one counts (a Python dict is filled in order).
        let get = |name: &str| {
            opts.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let key = get("key").ok_or_else(|| IgnoreCacheError::NoKey(text.to_string()))?;
        let max_count = match get("max-count") {
            None => 100,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map_err(|_| IgnoreCacheError::MaxCount(v.to_string()))?,
        };
        let max_time = match get("max-time") {
            None => 300.0,
            Some(v) => f2b_config::parse_time(v)
                .map_err(|e| IgnoreCacheError::MaxTime(v.to_string(), e))?,
        };
        Ok(Some(IgnoreCache {
            key: key.to_string(),
            max_count,
            max_time,
            slots: Mutex::new(CacheSlots::default()),
        }))
    }

    fn get(&self, key: &str, now: Instant) -> Option<Option<&'static str>> {
        let mut s = lock(&self.slots);
        let (verdict, expiry, seq) = *s.by_key.get(key)?;
        if expiry > now {
            return Some(verdict);
        }
        s.by_key.remove(key);
        s.order.remove(&seq);
        None
    }

    fn set(&self, key: &str, verdict: Option<&'static str>, now: Instant) {
        let mut s = lock(&self.slots);
        if s.by_key.len() >= self.max_count {
            // Drop from the oldest until one still alive has gone (or room is made).
            while let Some((_, old)) = s.order.pop_first() {
                let alive = s.by_key.remove(&old).is_some_and(|(_, exp, _)| exp > now);
                if alive && s.by_key.len() < self.max_count {
                    break;
                }
            }
        }
        let expiry = now + Duration::from_secs_f64(self.max_time.clamp(0.0, 1e9));
        let seq = match s.by_key.get(key) {
            // An existing key keeps its place in the order.
            Some(&(_, _, seq)) => seq,
            None => {
                let seq = s.next;
                s.next += 1;
                s.order.insert(seq, key.to_string());
                seq
            }
        };
        s.by_key.insert(key.to_string(), (verdict, expiry, seq));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.slots).by_key.len()
    }
}

/// Value of a ticket tag usable in `ignorecommand` and the cache key (`<ip>`, `<fid>`,
/// `<ip-rev>`, `<ip-host>`, `<F-NAME>` from the failure's captures).
fn ticket_tag(tag: &str, id: &str, capture: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    match tag {
        "ip" | "fid" => Some(id.to_string()),
        "ip-rev" => Some(crate::ipaddr::ptr(id)),
        "ip-host" => Some(crate::ipaddr::host(id)),
        _ => None,
    }
    .or_else(|| {
        let name = tag.strip_prefix("F-")?;
        Some(capture(&crate::ticket::capture_key(name)).unwrap_or_default())
    })
}

/// Python's `repr()` of a text, as fail2ban shows a command's output lines.
fn py_repr(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut o = String::from(q);
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if c == q => {
                o.push('\\');
                o.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                o.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => o.push(c),
        }
    }
    o.push(q);
    o
}

fn signal_name(n: i32) -> String {
    nix::sys::signal::Signal::try_from(n)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {n}"))
}

static CMD_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0x7e00_0000);
const LOG_UTILS: &str = "fail2ban.utils";
const LOG_FILTER: &str = "fail2ban.filter";

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

    /// The list a jail's spec asks for: `ignoreself`, `ignoreip`, `ignorecommand` and
    /// `ignorecache`. A refused `ignorecache` is logged (as fail2ban fails that one `set`
    /// command) and leaves the cache off.
    pub fn from_spec(spec: &f2b_config::JailSpec) -> IgnoreList {
        let mut l = IgnoreList::new(spec.ignoreself);
        for ip in &spec.ignoreip {
            l.add(ip);
        }
        if let Some(cmd) = &spec.ignorecommand {
            l.set_command(cmd);
        }
        if let Some(cache) = &spec.ignorecache {
            if let Err(e) = l.set_cache(cache) {
                crate::log!(LOG_FILTER, Level::ERROR, "[{}] {e}", spec.name);
            }
        }
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

    /// Set `ignorecache` from its option text (`key="<ip>", max-count=100, max-time=5m`);
    /// an empty text turns it off. Earlier verdicts are forgotten.
    pub fn set_cache(&mut self, text: &str) -> Result<(), IgnoreCacheError> {
        self.cache = IgnoreCache::parse(text)?;
        Ok(())
    }

    /// `get JAIL ignorecache`: (key, max-count, max-time in seconds), as fail2ban answers
    /// `[key, maxCount, maxTime]`; `None` when off.
    pub fn cache_settings(&self) -> Option<(String, usize, f64)> {
        self.cache
            .as_ref()
            .map(|c| (c.key.clone(), c.max_count, c.max_time))
    }

    /// Why `id` is ignored (fail2ban's wording of the source), or `None`. Same as
    /// [`IgnoreList::check`] without captures.
    pub fn ignored_by(&self, id: &str) -> Option<&'static str> {
        self.check(id, &|_| None).map(|i| i.source)
    }

    /// The ignore check of one failure: `capture` gives the failure's `<F-NAME>` values (by
    /// lower-case name, `fid` for `F-ID`) for `ignorecommand` and the cache key.
    pub fn check(&self, id: &str, capture: &dyn Fn(&str) -> Option<String>) -> Option<Ignored> {
        self.check_at(id, capture, Instant::now())
    }

    fn check_at(
        &self,
        id: &str,
        capture: &dyn Fn(&str) -> Option<String>,
        now: Instant,
    ) -> Option<Ignored> {
        let key = self.cache.as_ref().map(|c| {
            crate::actions::tags::replace_tags(&c.key, |tag| ticket_tag(tag, id, capture))
        });
        if let (Some(c), Some(k)) = (&self.cache, &key) {
            if let Some(verdict) = c.get(k, now) {
                return verdict.map(|source| Ignored {
                    source,
                    cached: true,
                });
            }
        }
        let (verdict, store) = match self.by_rules(id) {
            Some(v) => v,
            None => (self.by_command(id, capture), true),
        };
        if let (Some(c), Some(k), true) = (&self.cache, &key, store) {
            c.set(k, verdict, now);
        }
        verdict.map(|source| Ignored {
            source,
            cached: false,
        })
    }

    fn by_command(
        &self,
        id: &str,
        capture: &dyn Fn(&str) -> Option<String>,
    ) -> Option<&'static str> {
        let cmd = self.command.as_deref()?;
        let sc = crate::actions::tags::replace_dynamic(
            cmd,
            |tag| match tag {
                "ip" | "fid" | "ip-rev" | "ip-host" => ticket_tag(tag, id, capture),
                _ => None,
            },
            |name| capture(name),
        );
        let (script, args) = sc.to_sh_args();
        let shown = || {
            if args.is_empty() {
                script.clone()
            } else {
                format!("{script:?} {args:?}")
            }
        };
        let run_id = CMD_SEQ.fetch_add(0x10, std::sync::atomic::Ordering::Relaxed);
        crate::log!(LOG_FILTER, Level::DEBUG, "ignore command: {}", shown());
        // Exit statuses 0 and 1 are both answers; anything else is a failure of the command,
        // logged as fail2ban logs a failed command, and the ID is not ignored.
        let failure = match crate::actions::exec::run_shell(&script, &args, Duration::from_secs(60))
        {
            Ok(o) if !o.timed_out && matches!(o.code, Some(0 | 1)) => {
                let code = o.code.unwrap_or(1);
                crate::log!(
                    LOG_UTILS,
                    Level::DEBUG,
                    "{run_id:x} -- returned successfully {code}"
                );
                return (code == 0).then_some("command");
            }
            Ok(o) => o,
            Err(e) => {
                crate::log!(LOG_UTILS, Level::ERROR, "{run_id:x} -- exec: {}", shown());
                crate::log!(LOG_UTILS, Level::ERROR, "{} -- failed with {e}", shown());
                return None;
            }
        };
        crate::log!(LOG_UTILS, Level::ERROR, "{run_id:x} -- exec: {}", shown());
        if failure.timed_out {
            crate::log!(
                LOG_UTILS,
                Level::ERROR,
                "{run_id:x} -- timed out after 60 seconds."
            );
        }
        for l in failure.stdout.lines() {
            crate::log!(
                LOG_UTILS,
                Level::ERROR,
                "{run_id:x} -- stdout: {}",
                py_repr(l)
            );
        }
        for l in failure.stderr.lines() {
            crate::log!(
                LOG_UTILS,
                Level::ERROR,
                "{run_id:x} -- stderr: {}",
                py_repr(l)
            );
        }
        match (failure.code, failure.signal) {
            (Some(c), _) if c > 128 => crate::log!(
                LOG_UTILS,
                Level::ERROR,
                "{run_id:x} -- killed with {} (return code: {c})",
                signal_name(c - 128)
            ),
            (Some(c), _) => {
                crate::log!(LOG_UTILS, Level::ERROR, "{run_id:x} -- returned {c}");
                if c == 127 {
                    crate::log!(
                        LOG_UTILS,
                        Level::INFO,
                        "HINT on 127: \"Command not found\".  Make sure that all commands in \
                         {:?} are in the PATH of fail2ban-server process (grep -a PATH= \
                         /proc/`pidof -x fail2ban-server`/environ). You may want to start \
                         \"fail2ban-server -f\" separately, initiate it with \"fail2ban-client \
                         reload\" in another shell session and observe if additional \
                         informative error messages appear in the terminals.",
                        shown()
                    );
                }
            }
            (None, Some(s)) => crate::log!(
                LOG_UTILS,
                Level::ERROR,
                "{run_id:x} -- killed with {} (return code: -{s})",
                signal_name(s)
            ),
            (None, None) => crate::log!(LOG_UTILS, Level::ERROR, "{run_id:x} -- unable to kill"),
        }
        None
    }

    /// The verdict of the rules without the command, and whether the cache keeps it; `None`
    /// when no rule covers `id`.
    fn by_rules(&self, id: &str) -> Option<(Option<&'static str>, bool)> {
        let ip: IpAddr = match id.parse() {
            Ok(ip) => ip,
            // A failure ID that is no address (a port, a user) can only match a literal entry.
            Err(_) => {
                return self
                    .entries
                    .iter()
                    .any(|(t, _)| t == id)
                    .then_some((Some("ip"), false))
            }
        };
        if self.ignore_self && self.self_ips.contains(&ip) {
            return Some((Some("ignoreself rule"), true));
        }
        let single = |prefix: u8, addr: &IpAddr| prefix == if addr.is_ipv4() { 32 } else { 128 };
        // Single addresses are looked at before networks and names (fail2ban keeps them in a
        // set it consults first); a hit there is not worth caching.
        for (_, e) in &self.entries {
            if let Entry::Net { addr, prefix } = e {
                if single(*prefix, addr) && in_net(ip, *addr, *prefix) {
                    return Some((Some("ip"), false));
                }
            }
        }
        for (_, e) in &self.entries {
            match e {
                Entry::Net { addr, prefix } if in_net(ip, *addr, *prefix) => {
                    return Some((Some("ip"), true))
                }
                Entry::Dns { addrs, .. } if addrs.contains(&ip) => {
                    return Some((Some("dns"), true))
                }
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

    fn counting_command(dir: &std::path::Path) -> (String, std::path::PathBuf) {
        let calls = dir.join("calls");
        (
            format!("echo <ip> >> {}; test <ip> = 192.0.2.1", calls.display()),
            calls,
        )
    }

    fn calls(p: &std::path::Path) -> usize {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .count()
    }

    #[test]
    fn cache_options_as_fail2ban_reads_them() {
        let mut l = IgnoreList::new(false);
        assert_eq!(l.cache_settings(), None);
        l.set_cache(r#"key="<ip>",max-time=1d,max-count=9999"#)
            .unwrap();
        assert_eq!(l.cache_settings(), Some(("<ip>".into(), 9999, 86400.0)));
        l.set_cache(r#"key="<F-USER>""#).unwrap();
        assert_eq!(l.cache_settings(), Some(("<F-USER>".into(), 100, 300.0)));
        l.set_cache("key=<ip>, max-count=10, max-time=1h").unwrap();
        assert_eq!(l.cache_settings(), Some(("<ip>".into(), 10, 3600.0)));
        l.set_cache("").unwrap();
        assert_eq!(l.cache_settings(), None);
        assert!(matches!(
            l.set_cache("max-count=10"),
            Err(IgnoreCacheError::NoKey(_))
        ));
        assert!(matches!(
            l.set_cache("key=<ip>, max-count=ten"),
            Err(IgnoreCacheError::MaxCount(_))
        ));
        assert!(matches!(
            l.set_cache("key=<ip>, max-time=soon"),
            Err(IgnoreCacheError::MaxTime(..))
        ));
        assert!(matches!(
            l.set_cache("key = <ip>"),
            Err(IgnoreCacheError::Syntax { .. })
        ));
        assert!(matches!(
            l.set_cache("key=<ip>] x"),
            Err(IgnoreCacheError::Syntax { .. })
        ));
        // fail2ban keeps what it cannot read as a tag as it is
        l.set_cache("key=<ip").unwrap();
        assert_eq!(l.cache_settings(), Some(("<ip".into(), 100, 300.0)));
    }

    #[test]
    fn cached_command_runs_once_per_key_and_period() {
        let dir = tempfile::tempdir().unwrap();
        let (cmd, seen) = counting_command(dir.path());
        let mut l = IgnoreList::new(false);
        l.set_command(&cmd);
        l.set_cache("key=<ip>, max-time=5m").unwrap();
        let t0 = Instant::now();
        let none = |_: &str| None;
        for _ in 0..5 {
            assert_eq!(
                l.check_at("192.0.2.1", &none, t0).map(|i| i.source),
                Some("command")
            );
            assert_eq!(l.check_at("192.0.2.2", &none, t0), None);
        }
        assert_eq!(calls(&seen), 2);
        // the first answer was fresh, the later ones are from the cache
        assert_eq!(
            l.check_at("192.0.2.1", &none, t0 + Duration::from_secs(299)),
            Some(Ignored {
                source: "command",
                cached: true
            })
        );
        assert_eq!(calls(&seen), 2);
        // past max-time both are asked again
        let later = t0 + Duration::from_secs(301);
        assert_eq!(
            l.check_at("192.0.2.1", &none, later),
            Some(Ignored {
                source: "command",
                cached: false
            })
        );
        assert_eq!(l.check_at("192.0.2.2", &none, later), None);
        assert_eq!(calls(&seen), 4);
        // without a cache every check runs the command
        l.set_cache("").unwrap();
        for _ in 0..3 {
            l.ignored_by("192.0.2.1");
        }
        assert_eq!(calls(&seen), 7);
    }

    #[test]
    fn cache_drops_its_oldest_entries_at_max_count() {
        let dir = tempfile::tempdir().unwrap();
        let (cmd, seen) = counting_command(dir.path());
        let mut l = IgnoreList::new(false);
        l.set_command(&cmd);
        l.set_cache("key=<ip>, max-count=2").unwrap();
        let t0 = Instant::now();
        let none = |_: &str| None;
        for ip in ["192.0.2.10", "192.0.2.11", "192.0.2.12"] {
            l.check_at(ip, &none, t0);
        }
        assert_eq!(l.cache.as_ref().unwrap().len(), 2);
        assert_eq!(calls(&seen), 3);
        // .11 and .12 are held; .10 was dropped first
        l.check_at("192.0.2.12", &none, t0);
        l.check_at("192.0.2.11", &none, t0);
        assert_eq!(calls(&seen), 3);
        l.check_at("192.0.2.10", &none, t0);
        assert_eq!(calls(&seen), 4);
        // at max-count the oldest go until one still alive has gone: an expired run at the
        // front costs the first live entry behind it too
        let mut l2 = IgnoreList::new(false);
        l2.set_command(&cmd);
        l2.set_cache("key=<ip>, max-count=3, max-time=10").unwrap();
        l2.check_at("192.0.2.20", &none, t0);
        l2.check_at("192.0.2.21", &none, t0);
        l2.check_at("192.0.2.22", &none, t0 + Duration::from_secs(8));
        l2.check_at("192.0.2.23", &none, t0 + Duration::from_secs(11));
        assert_eq!(l2.cache.as_ref().unwrap().len(), 1);
        l2.check_at("192.0.2.23", &none, t0 + Duration::from_secs(12));
        assert_eq!(calls(&seen), 4 + 4, "192.0.2.23 is held");
    }

    #[test]
    fn cache_key_from_captures() {
        let dir = tempfile::tempdir().unwrap();
        let calls_file = dir.path().join("calls");
        let mut l = IgnoreList::new(false);
        l.set_command(&format!(
            "echo <F-USER> >> {}; test <F-USER> = tester",
            calls_file.display()
        ));
        l.set_cache("key=<F-USER>, max-count=10, max-time=1h")
            .unwrap();
        let tester = |k: &str| (k == "user").then(|| "tester".to_string());
        let root = |k: &str| (k == "user").then(|| "root".to_string());
        for i in 0..4 {
            let ip = format!("192.0.2.{i}");
            assert_eq!(l.check(&ip, &tester).map(|v| v.source), Some("command"));
            assert_eq!(l.check(&ip, &root), None);
        }
        assert_eq!(calls(&calls_file), 2);
    }

    #[test]
    fn failing_command_does_not_ignore_and_its_verdict_is_cached() {
        let dir = tempfile::tempdir().unwrap();
        let calls_file = dir.path().join("calls");
        let mut l = IgnoreList::new(false);
        l.set_command(&format!("echo <ip> >> {}; exit 2", calls_file.display()));
        assert_eq!(l.ignored_by("192.0.2.1"), None);
        l.set_command("/nonexistent/f2b-ignore-helper <ip>");
        assert_eq!(l.ignored_by("192.0.2.1"), None);
        l.set_command(&format!("echo <ip> >> {}; exit 2", calls_file.display()));
        l.set_cache("key=<ip>").unwrap();
        assert_eq!(l.ignored_by("192.0.2.1"), None);
        assert_eq!(l.ignored_by("192.0.2.1"), None);
        assert_eq!(calls(&calls_file), 2);
    }

    #[test]
    fn rules_verdicts_and_what_the_cache_keeps() {
        let mut l = IgnoreList::new(true);
        l.add("192.0.2.5 198.51.100.0/24 localhost");
        l.set_cache("key=<ip>").unwrap();
        let none = |_: &str| None;
        assert_eq!(l.ignored_by("192.0.2.5"), Some("ip"));
        assert_eq!(
            l.cache.as_ref().unwrap().len(),
            0,
            "single address not kept"
        );
        assert_eq!(l.ignored_by("198.51.100.7"), Some("ip"));
        assert_eq!(l.ignored_by("127.0.0.1"), Some("ignoreself rule"));
        assert_eq!(l.ignored_by("203.0.113.1"), None);
        assert_eq!(l.cache.as_ref().unwrap().len(), 3);
        assert_eq!(
            l.check("198.51.100.7", &none),
            Some(Ignored {
                source: "ip",
                cached: true
            })
        );
        let mut d = IgnoreList::new(false);
        d.add("localhost");
        assert_eq!(d.ignored_by("127.0.0.1"), Some("dns"));
        // a single address wins over a host name covering the same address
        d.add("127.0.0.1");
        assert_eq!(d.ignored_by("127.0.0.1"), Some("ip"));
    }

    #[test]
    fn from_spec_reads_every_ignore_option() {
        let spec = f2b_config::JailSpec {
            name: "j".into(),
            ignoreself: false,
            ignoreip: vec!["10.0.0.0/8".into(), "192.0.2.1".into()],
            ignorecommand: Some("exit 1".into()),
            ignorecache: Some("key=<ip>, max-count=7".into()),
            ..Default::default()
        };
        let l = IgnoreList::from_spec(&spec);
        assert_eq!(l.entries(), ["10.0.0.0/8", "192.0.2.1"]);
        assert_eq!(l.command(), Some("exit 1"));
        assert_eq!(l.cache_settings(), Some(("<ip>".into(), 7, 300.0)));
        assert!(!l.ignore_self());
        let bad = f2b_config::JailSpec {
            ignorecache: Some("max-count=7".into()),
            ..spec
        };
        assert_eq!(IgnoreList::from_spec(&bad).cache_settings(), None);
    }

    #[test]
    fn self_rule() {
        let l = IgnoreList::new(true);
        assert_eq!(l.ignored_by("127.0.0.1"), Some("ignoreself rule"));
        assert_eq!(IgnoreList::new(false).ignored_by("127.0.0.1"), None);
    }
}
