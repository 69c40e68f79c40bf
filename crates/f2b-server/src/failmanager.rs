//! The failure counter of one jail: failures per ID inside `findtime`, up to `maxretry`.
//!
//! Semantics follow fail2ban 1.0: a new failure of a known ID moves the ID's time forward and,
//! when the known interval outgrows findtime, rescales the count to the rate seen (see
//! [`FailTicket::adjust_time`]); an ID whose latest failure is older than findtime is forgotten
//! by [`FailManager::cleanup`]; an ID whose count reaches maxretry leaves the counter as a
//! [`BanTicket`].
//!
//! A jail may count hundreds of thousands of IDs at once (port scans), so an ID is held packed,
//! not as a [`FailTicket`]: its ID once (shared with the expiry queue), its lines and captures
//! in one allocation, a capture equal to the ID not repeated. Tickets are rebuilt unchanged
//! when an ID leaves the counter.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

use crate::ticket::{slide_window, BanTicket, BanTime, FailTicket, TicketData};

/// When an ID may expire: a lower bound of its latest failure (times only move forward), and
/// the generation of the entry it was made for.
#[derive(Debug)]
struct Expiry {
    time: f64,
    gen: u64,
    id: Arc<str>,
}

impl PartialEq for Expiry {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for Expiry {}
impl PartialOrd for Expiry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Expiry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.time.total_cmp(&o.time).then(self.gen.cmp(&o.gen))
    }
}

/// Length mark of a string equal to the ticket's ID (not stored again).
const SAME_AS_ID: u32 = u32::MAX;

/// Strings packed one after the other, each behind its length (`u32`, little endian).
#[derive(Debug, Default)]
struct Packed(Box<[u8]>);

impl Packed {
    fn build<'a>(id: &str, strs: impl Iterator<Item = &'a str>) -> Packed {
        let mut v = Vec::new();
        for s in strs {
            push_str(&mut v, id, s);
        }
        Packed(v.into_boxed_slice())
    }

    /// The strings, `id` put back where it was left out.
    fn iter<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let mut rest: &[u8] = &self.0;
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len);
            if len == SAME_AS_ID {
                rest = tail;
                return Some(id);
            }
            let len = len as usize;
            let (s, tail) = tail.split_at_checked(len)?;
            rest = tail;
            // Only whole `&str`s are ever packed.
            Some(std::str::from_utf8(s).unwrap_or(""))
        })
    }
}

fn push_str(v: &mut Vec<u8>, id: &str, s: &str) {
    if s == id {
        v.extend_from_slice(&SAME_AS_ID.to_le_bytes());
        return;
    }
    // A string of 4 GiB cannot come from a log line; keep the packing sound if one did.
    let s = if u32::try_from(s.len()).is_ok_and(|l| l < SAME_AS_ID) {
        s
    } else {
        ""
    };
    v.extend_from_slice(&(s.len() as u32).to_le_bytes());
    v.extend_from_slice(s.as_bytes());
}

/// A counted ID: the fields of its ticket but the ID (the map's key). `strs` holds the
/// captures (key, value, key, value ...: `n_captures` pairs) then the matched lines.
#[derive(Debug)]
struct Counted {
    gen: u64,
    time: f64,
    first_time: f64,
    strs: Packed,
    /// What only restored or re-offending IDs carry, boxed so that the common entry (and the
    /// map's buckets, most of the counter's memory) stays small.
    extra: Option<Box<Extra>>,
    retry: u32,
    failures: u32,
    n_captures: u32,
}

#[derive(Debug, Default, PartialEq)]
struct Extra {
    ban_time: Option<BanTime>,
    ban_count: u32,
    restored: bool,
    whole_time: bool,
}

impl Counted {
    fn pack(t: &FailTicket, gen: u64) -> Counted {
        let id = t.id.as_str();
        let caps = t
            .data
            .captures
            .iter()
            .flat_map(|(k, v)| [k.as_str(), v.as_str()]);
        Counted {
            gen,
            time: t.time,
            first_time: t.first_time,
            strs: Packed::build(id, caps.chain(t.data.matches.iter().map(String::as_str))),
            extra: Some(Box::new(Extra {
                ban_time: t.ban_time,
                ban_count: t.ban_count,
                restored: t.restored,
                whole_time: t.whole_time,
            }))
            .filter(|e| **e != Extra::default()),
            retry: t.retry,
            failures: t.data.failures,
            n_captures: u32::try_from(t.data.captures.len()).unwrap_or(0),
        }
    }

    fn ban_count(&self) -> u32 {
        self.extra.as_ref().map_or(0, |e| e.ban_count)
    }

    fn matches<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.strs.iter(id).skip(2 * self.n_captures as usize)
    }

    fn adjust_time(&mut self, time: f64, max_time: f64) {
        slide_window(
            &mut self.time,
            &mut self.first_time,
            &mut self.retry,
            time,
            max_time,
        );
    }

    /// Counts `count` more retries and `attempt` more failures, appends `lines` and keeps the
    /// last `max_matches` lines (none when 0).
    fn inc(&mut self, id: &str, lines: &[String], attempt: u32, count: u32, max_matches: usize) {
        self.retry = self.retry.saturating_add(count);
        self.failures = self.failures.saturating_add(attempt);
        let have = self.matches(id).count();
        let keep = if max_matches == 0 {
            0
        } else {
            (have + lines.len()).min(max_matches)
        };
        if lines.is_empty() && keep == have {
            return;
        }
        let skip = have + lines.len() - keep;
        let caps = self.strs.iter(id).take(2 * self.n_captures as usize);
        let all = self.matches(id).chain(lines.iter().map(String::as_str));
        let strs = Packed::build(id, caps.chain(all.skip(skip)));
        self.strs = strs;
    }

    fn unpack(&self, id: &str) -> FailTicket {
        let mut captures = BTreeMap::new();
        let mut it = self.strs.iter(id);
        for _ in 0..self.n_captures {
            if let (Some(k), Some(v)) = (it.next(), it.next()) {
                captures.insert(k.to_string(), v.to_string());
            }
        }
        let matches = it.map(str::to_string).collect();
        let extra = self.extra.as_deref();
        FailTicket {
            id: id.to_string(),
            time: self.time,
            first_time: self.first_time,
            retry: self.retry,
            data: TicketData {
                failures: self.failures,
                matches,
                captures,
            },
            ban_time: extra.and_then(|e| e.ban_time),
            ban_count: extra.map_or(0, |e| e.ban_count),
            restored: extra.is_some_and(|e| e.restored),
            whole_time: extra.is_some_and(|e| e.whole_time),
        }
    }
}

/// A counted ID as the counter holds it.
#[derive(Debug, Clone, Copy)]
pub struct FailView<'a> {
    id: &'a str,
    c: &'a Counted,
}

impl<'a> FailView<'a> {
    pub fn id(&self) -> &'a str {
        self.id
    }
    /// Time of the latest failure.
    pub fn time(&self) -> f64 {
        self.c.time
    }
    pub fn retry(&self) -> u32 {
        self.c.retry
    }
    pub fn attempt(&self) -> u32 {
        self.c.failures
    }
    pub fn ban_count(&self) -> u32 {
        self.c.ban_count()
    }
    /// The lines kept, oldest first.
    pub fn matches(&self) -> Vec<String> {
        self.c.matches(self.id).map(str::to_string).collect()
    }
    /// The ticket as it would leave the counter now.
    pub fn to_ticket(&self) -> FailTicket {
        self.c.unpack(self.id)
    }
}

/// Failure counts of one jail.
#[derive(Debug)]
pub struct FailManager {
    /// Counted IDs, each with the generation of its entry.
    list: HashMap<Arc<str>, Counted>,
    /// Expiry candidates, earliest first: cleanup looks only at IDs that may have expired,
    /// so its cost follows the expiries, not the number of IDs counted.
    expiry: BinaryHeap<Reverse<Expiry>>,
    gen: u64,
    max_retry: u32,
    max_time: f64,
    max_matches: usize,
    fail_total: u64,
}

impl Default for FailManager {
    fn default() -> Self {
        FailManager::new()
    }
}

impl FailManager {
    /// fail2ban's defaults: maxretry 3, findtime 600 s, 5 matches kept.
    pub fn new() -> FailManager {
        FailManager {
            list: HashMap::new(),
            expiry: BinaryHeap::new(),
            gen: 0,
            max_retry: 3,
            max_time: 600.0,
            max_matches: 5,
            fail_total: 0,
        }
    }

    pub fn set_max_retry(&mut self, v: u32) {
        self.max_retry = v;
    }
    pub fn max_retry(&self) -> u32 {
        self.max_retry
    }
    /// findtime, in seconds.
    pub fn set_max_time(&mut self, v: f64) {
        self.max_time = v;
    }
    pub fn max_time(&self) -> f64 {
        self.max_time
    }
    /// How many matched lines a ticket keeps (0 keeps none).
    pub fn set_max_matches(&mut self, v: usize) {
        self.max_matches = v;
    }
    pub fn max_matches(&self) -> usize {
        self.max_matches
    }
    /// "Total failed" of `status`.
    pub fn fail_total(&self) -> u64 {
        self.fail_total
    }
    pub fn set_fail_total(&mut self, v: u64) {
        self.fail_total = v;
    }
    /// "Currently failed" of `status`: IDs with failures not yet banned nor expired.
    pub fn size(&self) -> usize {
        self.list.len()
    }
    /// (IDs, sum of their retry counts).
    pub fn fail_count(&self) -> (usize, u64) {
        (
            self.list.len(),
            self.list.values().map(|c| c.retry as u64).sum(),
        )
    }
    pub fn get(&self, fid: &str) -> Option<FailView<'_>> {
        self.list
            .get_key_value(fid)
            .map(|(id, c)| FailView { id, c })
    }

    /// Records a failure (`count` retries of it) and returns the ID's retry count now.
    pub fn add_failure(&mut self, ticket: FailTicket, count: u32) -> u32 {
        let attempts = match self.list.get_mut(ticket.id.as_str()) {
            Some(known) => {
                let attempt = if ticket.data.failures == 0 {
                    1
                } else {
                    ticket.data.failures
                };
                let lines: &[String] = if self.max_matches > 0 {
                    &ticket.data.matches
                } else {
                    &[]
                };
                known.adjust_time(ticket.time, self.max_time);
                known.inc(&ticket.id, lines, attempt, count, self.max_matches);
                known.retry
            }
            None => {
                let mut t = ticket;
                if count > t.data.failures {
                    t.set_retry(count);
                }
                // fail2ban keeps the first ticket's lines as they came; only later failures
                // trim to maxmatches.
                let r = t.retry;
                self.gen += 1;
                let id: Arc<str> = Arc::from(t.id.as_str());
                self.expiry.push(Reverse(Expiry {
                    time: t.time,
                    gen: self.gen,
                    id: Arc::clone(&id),
                }));
                self.list.insert(id, Counted::pack(&t, self.gen));
                r
            }
        };
        self.fail_total += 1;
        attempts
    }

    /// Adds retries for an ID the ban-time increment knows as bad (fail2ban's observer path):
    /// only an ID still counted gets them (one already banned is left alone); no lines are
    /// added again; the ticket remembers `ban_count` earlier bans. Returns the ID's retry
    /// count, or `None` when it is not counted.
    pub fn add_observed(
        &mut self,
        fid: &str,
        time: f64,
        count: u32,
        ban_count: u32,
    ) -> Option<u32> {
        let known = self.list.get_mut(fid)?;
        if ban_count > known.ban_count() {
            known.extra.get_or_insert_with(Box::default).ban_count = ban_count;
        }
        known.adjust_time(time, self.max_time);
        known.inc(fid, &[], 1, count, self.max_matches);
        self.fail_total += 1;
        Some(known.retry)
    }

    /// Records one failure and, when it brings the ID to maxretry, takes the ID out as a ban
    /// ticket (the filter's "found" path).
    pub fn add_and_check(&mut self, ticket: FailTicket) -> Option<BanTicket> {
        let fid = ticket.id.clone();
        let attempts = self.add_failure(ticket, 1);
        if attempts >= self.max_retry {
            self.to_ban(Some(&fid))
        } else {
            None
        }
    }

    /// Takes out an ID that reached maxretry: `fid` when it is counted, else any such ID.
    pub fn to_ban(&mut self, fid: Option<&str>) -> Option<BanTicket> {
        let key: Arc<str> = match fid.and_then(|f| self.list.get_key_value(f)) {
            Some((k, c)) => {
                if c.retry >= self.max_retry {
                    Arc::clone(k)
                } else {
                    return None;
                }
            }
            None => self
                .list
                .iter()
                .find(|(_, c)| c.retry >= self.max_retry)
                .map(|(k, _)| Arc::clone(k))?,
        };
        self.list
            .remove(&*key)
            .map(|c| BanTicket::from(c.unpack(&key)))
    }

    /// Forgets IDs whose latest failure is findtime or more before `now`.
    pub fn cleanup(&mut self, now: f64) {
        let cutoff = now - self.max_time;
        while let Some(Reverse(top)) = self.expiry.peek() {
            if top.time > cutoff {
                break;
            }
            let Some(Reverse(e)) = self.expiry.pop() else {
                break;
            };
            match self.list.get(&*e.id) {
                Some(c) if c.gen == e.gen => {
                    if c.time <= cutoff {
                        self.list.remove(&*e.id);
                    } else {
                        // failed again since: look again when its latest failure expires
                        let time = c.time;
                        self.expiry.push(Reverse(Expiry { time, ..e }));
                    }
                }
                // banned or deleted since, or counted anew under a later generation
                _ => {}
            }
        }
        if self.expiry.len() > self.list.len() * 2 + 1024 {
            self.expiry = self
                .list
                .iter()
                .map(|(id, c)| {
                    Reverse(Expiry {
                        time: c.time,
                        gen: c.gen,
                        id: Arc::clone(id),
                    })
                })
                .collect();
        }
        if self.list.capacity() > 64 && self.list.capacity() > self.list.len() * 4 {
            self.list.shrink_to(self.list.len() * 2);
        }
        if self.expiry.capacity() > 64 && self.expiry.capacity() > self.expiry.len() * 4 {
            self.expiry.shrink_to(self.expiry.len() * 2);
        }
    }

    pub fn del_failure(&mut self, fid: &str) {
        self.list.remove(fid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(id: &str, t: f64, line: &str) -> FailTicket {
        FailTicket::new(id, t, vec![line.to_string()])
    }

    #[test]
    fn bans_at_maxretry() {
        let mut fm = FailManager::new();
        fm.set_max_retry(3);
        fm.set_max_time(600.0);
        assert!(fm.add_and_check(fail("1.2.3.4", 10.0, "a")).is_none());
        assert!(fm.add_and_check(fail("1.2.3.4", 11.0, "b")).is_none());
        assert_eq!(fm.size(), 1);
        let b = fm
            .add_and_check(fail("1.2.3.4", 12.0, "c"))
            .expect("ban at 3rd failure");
        assert_eq!(b.id(), "1.2.3.4");
        assert_eq!(b.attempt(), 3);
        assert_eq!(b.time(), 12.0);
        assert_eq!(b.matches(), ["a", "b", "c"]);
        assert_eq!(fm.size(), 0);
        assert_eq!(fm.fail_total(), 3);
    }

    #[test]
    fn keeps_only_maxmatches_lines() {
        let mut fm = FailManager::new();
        fm.set_max_retry(100);
        fm.set_max_matches(2);
        for i in 0..5 {
            fm.add_failure(fail("x", i as f64, &format!("l{i}")), 1);
        }
        assert_eq!(
            fm.get("x").map(|t| t.matches().to_vec()),
            Some(vec!["l3".into(), "l4".into()])
        );
        fm.set_max_matches(0);
        fm.add_failure(fail("x", 6.0, "l6"), 1);
        assert!(fm.get("x").is_some_and(|t| t.matches().is_empty()));
    }

    #[test]
    fn sliding_findtime_estimates_rate() {
        // one failure every 100 s with findtime 300: once the interval outgrows findtime the
        // count is the rate over the interval times findtime, so it settles at 4 (3 per 300 s,
        // plus the one just seen) instead of growing.
        let mut fm = FailManager::new();
        fm.set_max_retry(5);
        fm.set_max_time(300.0);
        let mut counts = vec![];
        for i in 0..10 {
            counts.push(fm.add_failure(fail("x", i as f64 * 100.0, ""), 1));
        }
        // computed with fail2ban 1.0.2's FailManager for the same input
        assert_eq!(counts, vec![1, 2, 3, 4, 4, 4, 4, 4, 4, 4]);
    }

    #[test]
    fn cleanup_drops_old_ids_only() {
        let mut fm = FailManager::new();
        fm.set_max_time(600.0);
        fm.add_failure(fail("old", 100.0, ""), 1);
        fm.add_failure(fail("new", 500.0, ""), 1);
        fm.cleanup(699.0);
        assert_eq!(fm.size(), 2);
        fm.cleanup(700.0); // 100 <= 700 - 600: dropped
        assert_eq!(fm.size(), 1);
        assert!(fm.get("new").is_some());
        fm.cleanup(1100.0);
        assert_eq!(fm.size(), 0);
    }

    #[test]
    fn cleanup_follows_new_failures_and_new_entries() {
        let mut fm = FailManager::new();
        fm.set_max_time(100.0);
        fm.set_max_retry(2);
        fm.add_failure(fail("a", 0.0, ""), 1);
        fm.add_failure(fail("a", 90.0, ""), 1); // a's old expiry entry is now too early
        assert!(fm.to_ban(Some("a")).is_some());
        fm.add_failure(fail("a", 150.0, ""), 1); // counted anew, new entry
        fm.add_failure(fail("b", 10.0, ""), 1);
        fm.add_failure(fail("b", 120.0, ""), 1);
        fm.add_failure(fail("c", 50.0, ""), 1);
        fm.cleanup(200.0); // cut-off 100: only c is gone
        assert!(fm.get("a").is_some() && fm.get("b").is_some() && fm.get("c").is_none());
        fm.cleanup(220.0); // cut-off 120: b (last at 120) goes
        assert!(fm.get("b").is_none());
        assert_eq!(fm.get("a").map(|t| t.attempt()), Some(1));
        fm.cleanup(250.0);
        assert_eq!(fm.size(), 0);
    }

    #[test]
    fn memory_stays_bounded_with_many_ids() {
        let mut fm = FailManager::new();
        fm.set_max_retry(1000);
        fm.set_max_time(10.0);
        for round in 0..5u32 {
            for i in 0..100_000u32 {
                let t = (round * 100) as f64 + (i % 10) as f64;
                fm.add_failure(FailTicket::new(format!("id{round}-{i}"), t, vec![]), 1);
            }
            fm.cleanup((round * 100 + 50) as f64);
            assert_eq!(fm.size(), 0);
        }
        assert!(fm.list.capacity() < 1000, "capacity {}", fm.list.capacity());
        assert!(
            fm.expiry.capacity() < 1000,
            "capacity {}",
            fm.expiry.capacity()
        );
    }

    #[test]
    fn observed_retries_only_for_counted_ids() {
        let mut fm = FailManager::new();
        fm.set_max_retry(5);
        assert_eq!(fm.add_observed("x", 1.0, 3, 2), None);
        fm.add_failure(fail("x", 1.0, "a"), 1);
        assert_eq!(fm.add_observed("x", 1.0, 3, 2), Some(4));
        assert_eq!(fm.get("x").map(|t| t.ban_count()), Some(2));
        assert_eq!(fm.get("x").map(|t| t.matches().len()), Some(1));
        assert!(fm.to_ban(Some("x")).is_none());
        fm.add_failure(fail("x", 2.0, "b"), 1);
        let b = fm.to_ban(None).expect("x reached 5");
        assert_eq!(b.id(), "x");
    }

    #[test]
    fn tickets_leave_the_counter_as_they_came_in() {
        let mut fm = FailManager::new();
        fm.set_max_retry(3);
        fm.set_max_matches(2);
        let mut t = fail("192.0.2.7", 5.0, "first");
        // captures equal to the ID are packed without a copy and come back all the same
        t.set_capture("ip", "192.0.2.7");
        t.set_capture("ip4", "192.0.2.7");
        t.set_capture("user", "r\u{f6}ot");
        t.set_capture("empty", "");
        t.set_ban_time(BanTime::Seconds(60.0));
        t.set_ban_count(2);
        t.set_restored(true);
        t.set_whole_time(true);
        let want_captures = t.data().captures.clone();
        fm.add_failure(t, 1);
        // a line equal to the ID, an empty line, and one more than maxmatches keeps
        fm.add_failure(fail("192.0.2.7", 6.0, "192.0.2.7"), 1);
        let view = fm.get("192.0.2.7").expect("counted");
        assert_eq!(view.matches(), ["first", "192.0.2.7"]);
        assert_eq!((view.retry(), view.attempt(), view.ban_count()), (2, 2, 2));
        fm.add_failure(fail("192.0.2.7", 7.0, ""), 1);
        let b = fm.to_ban(Some("192.0.2.7")).expect("3rd failure bans");
        assert_eq!(b.id(), "192.0.2.7");
        assert_eq!(b.matches(), ["192.0.2.7", ""]);
        assert_eq!(b.data().captures, want_captures);
        assert_eq!(b.ban_time(), Some(BanTime::Seconds(60.0)));
        assert_eq!((b.time(), b.attempt(), b.ban_count()), (7.0, 3, 2));
        assert!(b.restored() && b.whole_time());
        assert_eq!(fm.size(), 0);
        // a plain failure needs no boxed extras, and the map's entry stays small
        fm.add_failure(fail("198.51.100.1", 1.0, "x"), 1);
        assert!(fm
            .list
            .get("198.51.100.1")
            .is_some_and(|c| c.extra.is_none()));
        assert!(std::mem::size_of::<Counted>() <= 64);
    }

    #[test]
    fn restored_failures_seed_retry() {
        let mut fm = FailManager::new();
        fm.set_max_retry(3);
        let mut t = fail("x", 1.0, "a");
        t.data_mut().failures = 3;
        let t = FailTicket::with_data("x", 1.0, t.data().clone());
        assert_eq!(fm.add_failure(t, 1), 3);
        assert!(fm.to_ban(Some("x")).is_some());
    }
}
