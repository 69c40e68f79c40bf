//! Tickets: what the failure counter and the ban manager know about one failure ID.
//!
//! A [`FailTicket`] accumulates failures of one ID (an address, or whatever `<F-ID>` captured)
//! inside a jail's `findtime`; once it reaches `maxretry` it becomes a [`BanTicket`], which the
//! ban manager keeps until its ban time ends. Times are Unix seconds as `f64`, as log times carry
//! fractions.

use std::collections::BTreeMap;

/// The end of a permanent ban, as fail2ban reports it (a time far beyond any real date).
pub const MAX_TIME: f64 = 140_737_488_355_327.0; // 0x7FFF_FFFF_FFFF

/// How long a ban lasts. fail2ban spells a permanent ban `-1`; every other value is seconds
/// (it may carry a fraction once `bantime.increment` or `bantime.rndtime` has worked on it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BanTime {
    Permanent,
    Seconds(f64),
}

impl BanTime {
    /// Reads fail2ban's numeric spelling: `-1` is permanent.
    pub fn from_secs(secs: f64) -> BanTime {
        if secs == -1.0 {
            BanTime::Permanent
        } else {
            BanTime::Seconds(secs)
        }
    }

    /// fail2ban's numeric spelling (`-1` for permanent).
    pub fn as_secs(self) -> f64 {
        match self {
            BanTime::Permanent => -1.0,
            BanTime::Seconds(s) => s,
        }
    }

    pub fn is_permanent(self) -> bool {
        matches!(self, BanTime::Permanent)
    }

    /// End of a ban that started at `start`.
    pub fn end_of_ban(self, start: f64) -> f64 {
        match self {
            BanTime::Permanent => MAX_TIME,
            BanTime::Seconds(s) => start + s,
        }
    }
}

impl std::fmt::Display for BanTime {
    /// As fail2ban prints a ban time with `%d` (truncated toward zero).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BanTime::Permanent => f.write_str("-1"),
            BanTime::Seconds(s) => write!(f, "{}", s.trunc() as i64),
        }
    }
}

/// The data a ticket carries besides its ID and time: the failure count, the matched log lines
/// and every value the filter captured with an `<F-*>` group (keyed by fail2ban's option name:
/// `<F-USER>` is `user`, `<F-ID>` is `fid`, `<F-PORT>` is `fport`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TicketData {
    pub failures: u32,
    pub matches: Vec<String>,
    pub captures: BTreeMap<String, String>,
}

/// The option name fail2ban stores an `<F-NAME>` capture under (`ID` -> `fid`, `PORT` -> `fport`,
/// any other name lower-cased).
pub fn capture_key(tag_name: &str) -> String {
    let lower = tag_name.to_ascii_lowercase();
    match lower.as_str() {
        "id" => "fid".to_string(),
        "port" => "fport".to_string(),
        _ => lower,
    }
}

/// Failures of one ID inside the jail's `findtime`.
#[derive(Clone, Debug, PartialEq)]
pub struct FailTicket {
    pub(crate) id: String,
    /// Time of the latest failure.
    pub(crate) time: f64,
    /// Start of the interval the retry count describes (moves forward as findtime slides).
    pub(crate) first_time: f64,
    /// Retry count compared with `maxretry`: the failures, or an estimate of those inside
    /// findtime, possibly raised by `bantime.increment` for known bad IDs.
    pub(crate) retry: u32,
    pub(crate) data: TicketData,
    pub(crate) ban_time: Option<BanTime>,
    pub(crate) ban_count: u32,
    pub(crate) restored: bool,
    /// The time is a whole number of seconds as the database stores it (fail2ban then prints
    /// `<time>` without a fraction).
    pub(crate) whole_time: bool,
}

impl FailTicket {
    /// A ticket for one failure seen at `time`, with the lines that matched and the captures.
    pub fn new(id: impl Into<String>, time: f64, matches: Vec<String>) -> FailTicket {
        FailTicket::with_data(
            id,
            time,
            TicketData {
                failures: 0,
                matches,
                captures: BTreeMap::new(),
            },
        )
    }

    /// A ticket with explicit data; `data.failures` (0 for a fresh failure) also seeds the
    /// retry count, as it does for tickets restored from the database.
    pub fn with_data(id: impl Into<String>, time: f64, data: TicketData) -> FailTicket {
        FailTicket {
            id: id.into(),
            time,
            first_time: time,
            retry: data.failures,
            data,
            ban_time: None,
            ban_count: 0,
            restored: false,
            whole_time: false,
        }
    }

    /// Marks the time as a whole number of seconds read from the database.
    pub fn set_whole_time(&mut self, v: bool) {
        self.whole_time = v;
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    /// The address of the ticket: a captured `ip` when the ID is something else, else the ID.
    pub fn ip(&self) -> &str {
        self.data
            .captures
            .get("ip")
            .map(String::as_str)
            .unwrap_or(&self.id)
    }
    pub fn time(&self) -> f64 {
        self.time
    }
    pub fn retry(&self) -> u32 {
        self.retry
    }
    pub fn attempt(&self) -> u32 {
        self.data.failures
    }
    pub fn data(&self) -> &TicketData {
        &self.data
    }
    pub fn data_mut(&mut self) -> &mut TicketData {
        &mut self.data
    }
    pub fn matches(&self) -> &[String] {
        &self.data.matches
    }
    pub fn ban_time(&self) -> Option<BanTime> {
        self.ban_time
    }
    pub fn set_ban_time(&mut self, bt: BanTime) {
        self.ban_time = Some(bt);
    }
    pub fn ban_count(&self) -> u32 {
        self.ban_count
    }
    /// Raises the ban count; never lowers it.
    pub fn set_ban_count(&mut self, count: u32) {
        self.ban_count = self.ban_count.max(count);
    }
    pub fn restored(&self) -> bool {
        self.restored
    }
    pub fn set_restored(&mut self, v: bool) {
        self.restored = v;
    }
    pub fn set_capture(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.data.captures.insert(key.into(), value.into());
    }

    /// Sets an artificial retry count (raised by `bantime.increment` for known bad IDs); a zero
    /// count also forgets failures and matches.
    pub fn set_retry(&mut self, value: u32) {
        self.retry = value;
        if self.data.failures == 0 {
            self.data.failures = 1;
        }
        if value == 0 {
            self.data.failures = 0;
            self.data.matches.clear();
        }
    }

    /// Moves the ticket's time to `time` when that is later. When the known interval becomes
    /// longer than `max_time` (findtime), the retry count is rescaled to the rate seen over the
    /// interval, as fail2ban estimates failures inside a sliding findtime without keeping every
    /// timestamp: `retry = round_half_even(retry / (time - first) * findtime)`.
    pub fn adjust_time(&mut self, time: f64, max_time: f64) {
        slide_window(
            &mut self.time,
            &mut self.first_time,
            &mut self.retry,
            time,
            max_time,
        );
    }

    /// Counts `count` more retries and `attempt` more failures, appending `matches`.
    pub fn inc(&mut self, matches: Option<&[String]>, attempt: u32, count: u32) {
        self.retry = self.retry.saturating_add(count);
        self.data.failures = self.data.failures.saturating_add(attempt);
        if let Some(m) = matches {
            self.data.matches.extend_from_slice(m);
        }
    }
}

/// [`FailTicket::adjust_time`] on the fields it works on, for holders that keep them apart from
/// a ticket (the failure counter's packed entries).
pub(crate) fn slide_window(
    last: &mut f64,
    first: &mut f64,
    retry: &mut u32,
    time: f64,
    max_time: f64,
) {
    if time > *last {
        if *first < time - max_time {
            let span = time - *first;
            let est = (*retry as f64 / span * max_time).round_ties_even();
            *retry = if est.is_finite() && est > 0.0 {
                est as u32
            } else {
                0
            };
            *first = time - max_time;
        }
        *last = time;
    }
}

/// A banned ID: what the ban manager holds and the actions receive.
#[derive(Clone, Debug, PartialEq)]
pub struct BanTicket {
    pub(crate) id: String,
    /// Time of the ban (the time of the last failure that caused it, or of `banip`).
    pub(crate) time: f64,
    pub(crate) data: TicketData,
    pub(crate) ban_time: Option<BanTime>,
    pub(crate) ban_count: u32,
    pub(crate) restored: bool,
    /// Set once every action ran its `actionban`.
    pub(crate) banned: bool,
    pub(crate) ban_epoch: u64,
    pub(crate) whole_time: bool,
}

impl From<FailTicket> for BanTicket {
    fn from(t: FailTicket) -> BanTicket {
        BanTicket {
            id: t.id,
            time: t.time,
            data: t.data,
            ban_time: t.ban_time,
            ban_count: t.ban_count,
            restored: t.restored,
            banned: false,
            ban_epoch: 0,
            whole_time: t.whole_time,
        }
    }
}

impl BanTicket {
    /// A manual ban (`set <jail> banip`), at `time`, without failures.
    pub fn new(id: impl Into<String>, time: f64) -> BanTicket {
        BanTicket::from(FailTicket::new(id, time, Vec::new()))
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn ip(&self) -> &str {
        self.data
            .captures
            .get("ip")
            .map(String::as_str)
            .unwrap_or(&self.id)
    }
    pub fn time(&self) -> f64 {
        self.time
    }
    pub fn set_time(&mut self, t: f64) {
        self.time = t;
        self.whole_time = false;
    }
    /// Whether the time came from the database as whole seconds.
    pub fn whole_time(&self) -> bool {
        self.whole_time
    }
    pub fn data(&self) -> &TicketData {
        &self.data
    }
    pub fn data_mut(&mut self) -> &mut TicketData {
        &mut self.data
    }
    pub fn attempt(&self) -> u32 {
        self.data.failures
    }
    pub fn matches(&self) -> &[String] {
        &self.data.matches
    }
    /// The ticket's own ban time, if one was set (by an increment or a restore).
    pub fn ban_time(&self) -> Option<BanTime> {
        self.ban_time
    }
    /// The ticket's ban time, or the jail's when the ticket has none.
    pub fn ban_time_or(&self, default: BanTime) -> BanTime {
        self.ban_time.unwrap_or(default)
    }
    pub fn set_ban_time(&mut self, bt: BanTime) {
        self.ban_time = Some(bt);
    }
    pub fn ban_count(&self) -> u32 {
        self.ban_count
    }
    /// Raises the ban count; never lowers it.
    pub fn set_ban_count(&mut self, count: u32) {
        self.ban_count = self.ban_count.max(count);
    }
    pub fn incr_ban_count(&mut self) {
        self.ban_count = self.ban_count.saturating_add(1);
    }
    pub fn restored(&self) -> bool {
        self.restored
    }
    pub fn set_restored(&mut self, v: bool) {
        self.restored = v;
    }
    pub fn banned(&self) -> bool {
        self.banned
    }
    pub fn set_banned(&mut self, v: bool) {
        self.banned = v;
    }
    pub fn ban_epoch(&self) -> u64 {
        self.ban_epoch
    }
    pub fn set_ban_epoch(&mut self, e: u64) {
        self.ban_epoch = e;
    }
    pub fn set_capture(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.data.captures.insert(key.into(), value.into());
    }

    /// End of the ban (for a permanent ban, [`MAX_TIME`]).
    pub fn end_of_ban(&self, default: BanTime) -> f64 {
        self.ban_time_or(default).end_of_ban(self.time)
    }

    /// Whether the ban is over at `now` (strictly after its end, as fail2ban compares).
    pub fn is_timed_out(&self, now: f64, default: BanTime) -> bool {
        match self.ban_time_or(default) {
            BanTime::Permanent => false,
            BanTime::Seconds(s) => now > self.time + s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ban_time_spelling() {
        assert_eq!(BanTime::from_secs(-1.0), BanTime::Permanent);
        assert_eq!(BanTime::from_secs(600.0), BanTime::Seconds(600.0));
        assert_eq!(BanTime::Permanent.as_secs(), -1.0);
        assert_eq!(BanTime::Seconds(1631.9).to_string(), "1631");
        assert_eq!(BanTime::Permanent.end_of_ban(5.0), MAX_TIME);
        assert_eq!(BanTime::Seconds(10.0).end_of_ban(5.0), 15.0);
    }

    #[test]
    fn capture_keys_follow_fail2ban_names() {
        assert_eq!(capture_key("ID"), "fid");
        assert_eq!(capture_key("PORT"), "fport");
        assert_eq!(capture_key("USER"), "user");
        assert_eq!(capture_key("ALT-X"), "alt-x");
    }

    #[test]
    fn adjust_time_rescales_retry_to_findtime() {
        let mut t = FailTicket::new("1.2.3.4", 100.0, vec![]);
        t.set_retry(10);
        // 10 failures over 100..400 (300 s), findtime 100 -> 10/300*100 = 3.33 -> 3
        t.adjust_time(400.0, 100.0);
        assert_eq!(t.retry(), 3);
        assert_eq!(t.time(), 400.0);
        assert_eq!(t.first_time, 300.0);
        // an older time changes nothing
        t.adjust_time(350.0, 100.0);
        assert_eq!(t.time(), 400.0);
        assert_eq!(t.retry(), 3);
    }

    #[test]
    fn adjust_time_rounds_half_to_even() {
        // 5 failures over 200 s with findtime 100 -> 2.5 -> 2 (Python's round)
        let mut t = FailTicket::new("x", 0.0, vec![]);
        t.set_retry(5);
        t.adjust_time(200.0, 100.0);
        assert_eq!(t.retry(), 2);
        // 7 over 200 -> 3.5 -> 4
        let mut t = FailTicket::new("x", 0.0, vec![]);
        t.set_retry(7);
        t.adjust_time(200.0, 100.0);
        assert_eq!(t.retry(), 4);
    }

    #[test]
    fn timed_out_is_strict() {
        let b = BanTicket::new("1.2.3.4", 1000.0);
        let d = BanTime::Seconds(600.0);
        assert!(!b.is_timed_out(1600.0, d));
        assert!(b.is_timed_out(1600.5, d));
        assert!(!b.is_timed_out(1e12, BanTime::Permanent));
        assert_eq!(b.end_of_ban(d), 1600.0);
    }

    #[test]
    fn ip_prefers_captured_ip() {
        let mut b = BanTicket::new("443", 0.0);
        assert_eq!(b.ip(), "443");
        b.set_capture("ip", "10.0.0.1");
        assert_eq!(b.ip(), "10.0.0.1");
        assert_eq!(b.id(), "443");
    }
}
