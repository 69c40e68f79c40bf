//! The failure counter of one jail: failures per ID inside `findtime`, up to `maxretry`.
//!
//! Semantics follow fail2ban 1.0: a new failure of a known ID moves the ID's time forward and,
//! when the known interval outgrows findtime, rescales the count to the rate seen (see
//! [`FailTicket::adjust_time`]); an ID whose latest failure is older than findtime is forgotten
//! by [`FailManager::cleanup`]; an ID whose count reaches maxretry leaves the counter as a
//! [`BanTicket`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::ticket::{BanTicket, FailTicket};

/// When an ID may expire: a lower bound of its latest failure (times only move forward), and
/// the generation of the entry it was made for.
#[derive(Debug)]
struct Expiry {
    time: f64,
    gen: u64,
    id: String,
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

/// Failure counts of one jail.
#[derive(Debug)]
pub struct FailManager {
    /// Tickets with the generation of their entry.
    list: HashMap<String, (u64, FailTicket)>,
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
            self.list.values().map(|(_, t)| t.retry as u64).sum(),
        )
    }
    pub fn get(&self, fid: &str) -> Option<&FailTicket> {
        self.list.get(fid).map(|(_, t)| t)
    }

    /// Records a failure (`count` retries of it) and returns the ID's retry count now.
    pub fn add_failure(&mut self, ticket: FailTicket, count: u32) -> u32 {
        let attempts = match self.list.get_mut(&ticket.id).map(|(_, t)| t) {
            Some(known) => {
                let attempt = if ticket.data.failures == 0 {
                    1
                } else {
                    ticket.data.failures
                };
                let matches = (self.max_matches > 0).then_some(ticket.data.matches.as_slice());
                known.adjust_time(ticket.time, self.max_time);
                known.inc(matches, attempt, count);
                truncate_matches(&mut known.data.matches, self.max_matches);
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
                self.expiry.push(Reverse(Expiry {
                    time: t.time,
                    gen: self.gen,
                    id: t.id.clone(),
                }));
                self.list.insert(t.id.clone(), (self.gen, t));
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
        let (_, known) = self.list.get_mut(fid)?;
        known.set_ban_count(ban_count);
        known.adjust_time(time, self.max_time);
        known.inc(None, 1, count);
        truncate_matches(&mut known.data.matches, self.max_matches);
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
        let key = match fid.filter(|f| self.list.contains_key(*f)) {
            Some(f) => {
                if self
                    .list
                    .get(f)
                    .is_some_and(|(_, t)| t.retry >= self.max_retry)
                {
                    Some(f.to_string())
                } else {
                    None
                }
            }
            None => self
                .list
                .iter()
                .find(|(_, (_, t))| t.retry >= self.max_retry)
                .map(|(k, _)| k.clone()),
        }?;
        self.list.remove(&key).map(|(_, t)| BanTicket::from(t))
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
            match self.list.get(&e.id) {
                Some((g, t)) if *g == e.gen => {
                    if t.time <= cutoff {
                        self.list.remove(&e.id);
                    } else {
                        // failed again since: look again when its latest failure expires
                        let time = t.time;
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
                .map(|(id, (g, t))| {
                    Reverse(Expiry {
                        time: t.time,
                        gen: *g,
                        id: id.clone(),
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

fn truncate_matches(m: &mut Vec<String>, max: usize) {
    if max == 0 {
        m.clear();
    } else if m.len() > max {
        m.drain(..m.len() - max);
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
