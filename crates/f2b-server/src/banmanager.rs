//! The ban list of one jail: active bans, their end times and the counters of `status`.
//!
//! fail2ban keeps bans in insertion order (its `Banned IP list` shows them so) and answers
//! `banip --with-time` sorted by end of ban; both are reproduced here. The next-unban time lets
//! the daemon sleep until a ban really ends instead of polling.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::ticket::{BanTicket, BanTime, MAX_TIME};

/// When a ban may end: a lower bound of its end (ban times only grow), for the ban of
/// sequence number `seq`.
#[derive(Debug)]
struct Due {
    end: f64,
    seq: u64,
    id: String,
}

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.end.total_cmp(&o.end).then(self.seq.cmp(&o.seq))
    }
}

/// What [`BanManager::add_ban_ticket`] did with a ticket.
#[derive(Debug, Clone, PartialEq)]
pub enum AddBan {
    /// The ID is now banned; the ticket as stored (its ban count raised by one).
    Added(BanTicket),
    /// The ban would already be over: nothing stored.
    Expired,
    /// The ID was already banned. `prolonged` is true when the new ticket ended later and the
    /// stored ban time was stretched to that end.
    AlreadyBanned { prolonged: bool, ticket: BanTicket },
}

#[derive(Debug)]
pub struct BanManager {
    list: HashMap<String, (u64, BanTicket)>,
    /// Ends of bans, earliest first: unbanning looks only at bans that may be over.
    due: BinaryHeap<Reverse<Due>>,
    seq: u64,
    ban_time: BanTime,
    ban_total: u64,
    next_unban_time: f64,
}

impl Default for BanManager {
    fn default() -> Self {
        BanManager::new()
    }
}

impl BanManager {
    /// fail2ban's default ban time: 600 s.
    pub fn new() -> BanManager {
        BanManager {
            list: HashMap::new(),
            due: BinaryHeap::new(),
            seq: 0,
            ban_time: BanTime::Seconds(600.0),
            ban_total: 0,
            next_unban_time: MAX_TIME,
        }
    }

    /// The jail's `bantime` (fail2ban keeps it as whole seconds).
    pub fn set_ban_time(&mut self, bt: BanTime) {
        self.ban_time = match bt {
            BanTime::Seconds(s) => BanTime::from_secs(s.trunc()),
            p => p,
        };
        self.reschedule();
    }

    /// Recomputes the end of every ban: needed after a ban was shortened through
    /// [`get_mut`](Self::get_mut) (lengthening needs nothing).
    pub fn reschedule(&mut self) {
        let d = self.ban_time;
        self.due = self
            .list
            .iter()
            .map(|(id, (seq, t))| {
                Reverse(Due {
                    end: t.end_of_ban(d),
                    seq: *seq,
                    id: id.clone(),
                })
            })
            .collect();
        self.next_unban_time = self.due.peek().map_or(MAX_TIME, |Reverse(d)| d.end);
    }
    pub fn ban_time(&self) -> BanTime {
        self.ban_time
    }
    /// "Total banned" of `status`.
    pub fn ban_total(&self) -> u64 {
        self.ban_total
    }
    pub fn set_ban_total(&mut self, v: u64) {
        self.ban_total = v;
    }
    /// "Currently banned" of `status`.
    pub fn size(&self) -> usize {
        self.list.len()
    }
    pub fn contains(&self, id: &str) -> bool {
        self.list.contains_key(id)
    }
    pub fn get(&self, id: &str) -> Option<&BanTicket> {
        self.list.get(id).map(|(_, t)| t)
    }
    /// A ban to change; its ban time may only grow here (see [`reschedule`](Self::reschedule)).
    pub fn get_mut(&mut self, id: &str) -> Option<&mut BanTicket> {
        self.list.get_mut(id).map(|(_, t)| t)
    }
    /// When the next ban may end (at most [`MAX_TIME`]): nothing needs unbanning before it. It
    /// may come early (a ban prolonged or removed since), never late.
    pub fn next_unban_time(&self) -> f64 {
        self.next_unban_time
    }

    /// Bans the ticket's ID, unless its ban would already be over at `now` or the ID is banned.
    pub fn add_ban_ticket(&mut self, mut ticket: BanTicket, now: f64) -> AddBan {
        let eob = ticket.end_of_ban(self.ban_time);
        if eob < now {
            return AddBan::Expired;
        }
        let default = self.ban_time;
        if let Some((_, old)) = self.list.get_mut(&ticket.id) {
            let mut prolonged = false;
            if eob > old.end_of_ban(default) {
                prolonged = true;
                // stretch the stored ban so it ends where the new one would
                let bt = match ticket.ban_time_or(default) {
                    BanTime::Permanent => BanTime::Permanent,
                    BanTime::Seconds(s) => {
                        let dif = ticket.time - old.time;
                        BanTime::Seconds(if dif > 0.0 { s + dif } else { s })
                    }
                };
                old.set_ban_time(bt);
            }
            return AddBan::AlreadyBanned {
                prolonged,
                ticket: old.clone(),
            };
        }
        ticket.incr_ban_count();
        self.ban_total += 1;
        if eob < self.next_unban_time {
            self.next_unban_time = eob;
        }
        self.seq += 1;
        self.due.push(Reverse(Due {
            end: eob,
            seq: self.seq,
            id: ticket.id.clone(),
        }));
        self.list
            .insert(ticket.id.clone(), (self.seq, ticket.clone()));
        AddBan::Added(ticket)
    }

    /// Takes out up to `max_count` bans that are over at `now` (strictly after their end),
    /// earliest end first.
    pub fn unban_list(&mut self, now: f64, max_count: usize) -> Vec<BanTicket> {
        if self.next_unban_time > now {
            return Vec::new();
        }
        let default = self.ban_time;
        let mut out = Vec::new();
        while out.len() < max_count {
            match self.due.peek() {
                Some(Reverse(d)) if now > d.end => {}
                _ => break,
            }
            let Some(Reverse(d)) = self.due.pop() else {
                break;
            };
            match self.list.get(&d.id) {
                Some((seq, t)) if *seq == d.seq => {
                    let end = t.end_of_ban(default);
                    if now > end {
                        if let Some((_, t)) = self.list.remove(&d.id) {
                            out.push(t);
                        }
                    } else {
                        // prolonged since: due at its new end
                        self.due.push(Reverse(Due { end, ..d }));
                    }
                }
                // unbanned by hand, or banned anew under a later sequence number
                _ => {}
            }
        }
        self.next_unban_time = self.due.peek().map_or(MAX_TIME, |Reverse(d)| d.end);
        if self.due.len() > self.list.len() * 2 + 1024 {
            self.reschedule();
        }
        if self.list.capacity() > 64 && self.list.capacity() > self.list.len() * 4 {
            self.list.shrink_to(self.list.len() * 2);
        }
        if self.due.capacity() > 64 && self.due.capacity() > self.due.len() * 4 {
            self.due.shrink_to(self.due.len() * 2);
        }
        out
    }

    /// Empties the ban list (stop, `unban --all`) and returns what it held, in ban order.
    pub fn flush(&mut self) -> Vec<BanTicket> {
        let mut all: Vec<(u64, BanTicket)> = self.list.drain().map(|(_, v)| v).collect();
        all.sort_by_key(|(s, _)| *s);
        self.list.shrink_to_fit();
        self.due.clear();
        self.due.shrink_to_fit();
        self.next_unban_time = MAX_TIME;
        all.into_iter().map(|(_, t)| t).collect()
    }

    /// Takes one ban out (manual unban).
    pub fn remove(&mut self, id: &str) -> Option<BanTicket> {
        self.list.remove(id).map(|(_, t)| t)
    }

    /// The banned IDs in the order they were banned (`Banned IP list`, `banned`).
    pub fn ids(&self) -> Vec<String> {
        let mut v: Vec<(u64, &String)> = self.list.iter().map(|(id, (s, _))| (*s, id)).collect();
        v.sort();
        v.into_iter().map(|(_, id)| id.clone()).collect()
    }

    /// Tickets in ban order (reload, re-ban).
    pub fn tickets(&self) -> Vec<BanTicket> {
        let mut v: Vec<&(u64, BanTicket)> = self.list.values().collect();
        v.sort_by_key(|(s, _)| *s);
        v.into_iter().map(|(_, t)| t.clone()).collect()
    }

    fn ordered_by_end(&self) -> Vec<(&BanTicket, f64)> {
        let mut v: Vec<(u64, &BanTicket, f64)> = self
            .list
            .values()
            .map(|(s, t)| (*s, t, t.end_of_ban(self.ban_time)))
            .collect();
        v.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)));
        v.into_iter().map(|(_, t, e)| (t, e)).collect()
    }

    /// `get <jail> banip`: IDs sorted by end of ban.
    pub fn ban_list_ordered(&self) -> Vec<String> {
        self.ordered_by_end()
            .into_iter()
            .map(|(t, _)| t.id.clone())
            .collect()
    }

    /// `get <jail> banip --with-time`: `ID \tSTART + BANTIME = END`, sorted by end of ban,
    /// with times in local time as fail2ban prints them.
    pub fn ban_list_with_time(&self) -> Vec<String> {
        self.ban_list_with_time_in(&jiff::tz::TimeZone::system())
    }

    /// [`ban_list_with_time`](Self::ban_list_with_time) with times in zone `tz`.
    pub fn ban_list_with_time_in(&self, tz: &jiff::tz::TimeZone) -> Vec<String> {
        self.ordered_by_end()
            .into_iter()
            .map(|(t, eob)| {
                format!(
                    "{} \t{} + {} = {}",
                    t.id,
                    time2str_in(t.time, tz),
                    t.ban_time_or(self.ban_time),
                    time2str_in(eob, tz)
                )
            })
            .collect()
    }
}

/// fail2ban's `time2str`: local time `YYYY-MM-DD HH:MM:SS`, the fraction dropped; times past
/// the year 9999 (a permanent ban's end) print as `9999-12-31 23:59:59`.
pub fn time2str(t: f64) -> String {
    time2str_in(t, &jiff::tz::TimeZone::system())
}

/// [`time2str`] in zone `tz`.
pub fn time2str_in(t: f64, tz: &jiff::tz::TimeZone) -> String {
    if !t.is_finite() || t >= 253_402_214_400.0 {
        return "9999-12-31 23:59:59".to_string();
    }
    // Python rounds to microseconds first, then drops them.
    let micros = (t * 1e6).round_ties_even();
    let secs = (micros / 1e6).floor() as i64;
    match jiff::Timestamp::from_second(secs) {
        Ok(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => "9999-12-31 23:59:59".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bt(id: &str, t: f64) -> BanTicket {
        BanTicket::new(id, t)
    }

    #[test]
    fn add_counts_and_orders() {
        let mut bm = BanManager::new();
        bm.set_ban_time(BanTime::Seconds(100.0));
        assert!(
            matches!(bm.add_ban_ticket(bt("b", 10.0), 10.0), AddBan::Added(t) if t.ban_count() == 1)
        );
        let mut long = bt("a", 10.0);
        long.set_ban_time(BanTime::Seconds(1000.0));
        assert!(matches!(bm.add_ban_ticket(long, 10.0), AddBan::Added(_)));
        let mut short = bt("c", 10.0);
        short.set_ban_time(BanTime::Seconds(50.0));
        assert!(matches!(bm.add_ban_ticket(short, 10.0), AddBan::Added(_)));
        assert_eq!(bm.ids(), ["b", "a", "c"]);
        assert_eq!(bm.ban_list_ordered(), ["c", "b", "a"]);
        assert_eq!(bm.size(), 3);
        assert_eq!(bm.ban_total(), 3);
        assert_eq!(bm.next_unban_time(), 60.0);
    }

    #[test]
    fn expired_and_duplicates() {
        let mut bm = BanManager::new();
        bm.set_ban_time(BanTime::Seconds(100.0));
        assert_eq!(bm.add_ban_ticket(bt("x", 0.0), 101.0), AddBan::Expired);
        assert!(matches!(
            bm.add_ban_ticket(bt("x", 0.0), 100.0),
            AddBan::Added(_)
        ));
        // same end: not prolonged
        assert!(matches!(
            bm.add_ban_ticket(bt("x", 0.0), 50.0),
            AddBan::AlreadyBanned {
                prolonged: false,
                ..
            }
        ));
        // later failure: the ban is stretched to end at 30 + 100
        assert!(matches!(
            bm.add_ban_ticket(bt("x", 30.0), 50.0),
            AddBan::AlreadyBanned {
                prolonged: true,
                ..
            }
        ));
        assert_eq!(
            bm.get("x").map(|t| t.end_of_ban(bm.ban_time())),
            Some(130.0)
        );
        assert_eq!(bm.ban_total(), 1);
        let mut perm = bt("x", 40.0);
        perm.set_ban_time(BanTime::Permanent);
        assert!(matches!(
            bm.add_ban_ticket(perm, 50.0),
            AddBan::AlreadyBanned {
                prolonged: true,
                ..
            }
        ));
        assert_eq!(
            bm.get("x").and_then(|t| t.ban_time()),
            Some(BanTime::Permanent)
        );
    }

    #[test]
    fn unban_expired_and_next_time() {
        let mut bm = BanManager::new();
        bm.set_ban_time(BanTime::Seconds(100.0));
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            bm.add_ban_ticket(bt(id, i as f64 * 10.0), 0.0);
        }
        let mut p = bt("p", 0.0);
        p.set_ban_time(BanTime::Permanent);
        bm.add_ban_ticket(p, 0.0);
        assert_eq!(bm.next_unban_time(), 100.0);
        assert!(bm.unban_list(100.0, usize::MAX).is_empty()); // not strictly after
        let out = bm.unban_list(110.5, usize::MAX);
        assert_eq!(out.iter().map(|t| t.id()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(bm.next_unban_time(), 120.0);
        // limited count: the next check still happens immediately
        let out = bm.unban_list(1e9, 1);
        assert_eq!(out.len(), 1);
        assert_eq!(bm.ids(), ["p"]);
        assert!(bm.unban_list(1e12, usize::MAX).is_empty());
        assert_eq!(bm.next_unban_time(), MAX_TIME);
        assert_eq!(bm.flush().len(), 1);
        assert_eq!(bm.size(), 0);
        assert_eq!(bm.ban_total(), 4);
    }

    #[test]
    fn prolonged_removed_and_readded_bans() {
        let mut bm = BanManager::new();
        bm.set_ban_time(BanTime::Seconds(100.0));
        bm.add_ban_ticket(bt("a", 0.0), 0.0);
        bm.add_ban_ticket(bt("b", 0.0), 0.0);
        bm.add_ban_ticket(bt("c", 0.0), 0.0);
        // a prolonged through the manager, b through get_mut (as the ban-time increment does)
        bm.add_ban_ticket(bt("a", 50.0), 50.0);
        if let Some(t) = bm.get_mut("b") {
            t.set_ban_time(BanTime::Seconds(300.0));
        }
        // c unbanned by hand and banned anew later
        assert!(bm.remove("c").is_some());
        bm.add_ban_ticket(bt("c", 80.0), 80.0);
        assert!(bm.next_unban_time() <= 100.0);
        assert!(bm.unban_list(101.0, usize::MAX).is_empty());
        assert_eq!(
            bm.unban_list(151.0, usize::MAX)
                .iter()
                .map(|t| t.id())
                .collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!(
            bm.unban_list(181.0, usize::MAX)
                .iter()
                .map(|t| t.id())
                .collect::<Vec<_>>(),
            ["c"]
        );
        assert_eq!(bm.next_unban_time(), 300.0);
        assert_eq!(
            bm.unban_list(301.0, usize::MAX)
                .iter()
                .map(|t| t.id())
                .collect::<Vec<_>>(),
            ["b"]
        );
        // a shortened ban needs a reschedule
        let mut d = bt("d", 0.0);
        d.set_ban_time(BanTime::Seconds(1000.0));
        bm.add_ban_ticket(d, 400.0);
        if let Some(t) = bm.get_mut("d") {
            t.set_ban_time(BanTime::Seconds(500.0));
        }
        bm.reschedule();
        assert_eq!(bm.unban_list(501.0, usize::MAX).len(), 1);
    }

    #[test]
    fn remove_one() {
        let mut bm = BanManager::new();
        bm.add_ban_ticket(bt("a", 0.0), 0.0);
        assert!(bm.remove("a").is_some());
        assert!(bm.remove("a").is_none());
        assert!(!bm.contains("a"));
    }

    #[test]
    fn with_time_format() {
        let mut bm = BanManager::new();
        bm.set_ban_time(BanTime::Seconds(600.0));
        bm.add_ban_ticket(bt("192.0.2.1", 1_700_000_000.7), 1_700_000_000.0);
        let mut p = bt("192.0.2.2", 1_700_000_000.0);
        p.set_ban_time(BanTime::Permanent);
        bm.add_ban_ticket(p, 1_700_000_000.0);
        let l = bm.ban_list_with_time_in(&jiff::tz::TimeZone::UTC);
        assert_eq!(
            l,
            [
                "192.0.2.1 \t2023-11-14 22:13:20 + 600 = 2023-11-14 22:23:20",
                "192.0.2.2 \t2023-11-14 22:13:20 + -1 = 9999-12-31 23:59:59",
            ]
        );
    }

    #[test]
    fn many_bans_unban_in_batches() {
        let mut bm = BanManager::new();
        bm.set_ban_time(BanTime::Seconds(10.0));
        for i in 0..100_000u32 {
            bm.add_ban_ticket(bt(&format!("id{i}"), (i % 100) as f64), 0.0);
        }
        let mut total = 0;
        let mut now = 0.0;
        while bm.size() > 0 {
            now += 1.0;
            total += bm.unban_list(now, usize::MAX).len();
        }
        assert_eq!(total, 100_000);
        assert_eq!(now, 110.0);
    }
}
