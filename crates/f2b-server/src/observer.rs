//! `bantime.increment`: longer bans for addresses banned before, from the ban history kept in
//! the database, with fail2ban's options and arithmetic.
//!
//! * the next ban time is `bantime.formula` (default `ban.Time * (1<<(ban.Count if
//!   ban.Count<20 else 20)) * banFactor`, never below the jail's ban time) or, when
//!   `bantime.multipliers` is set, `ban.Time * banFactor * multipliers[min(count, len-1)]`;
//!   then capped at `bantime.maxtime`, then `random * bantime.rndtime` added;
//! * `ban.Count` is the number of earlier bans of the address in this jail (or in all jails
//!   with `bantime.overalljails`);
//! * a failure of a known bad address counts as several (1, 2, 3, 5, 9 ... for ban counts
//!   0, 1, 2, 3, 4 ...), so it is banned again sooner.
//!
//! The formula is evaluated by [`formula`], a safe subset of Python arithmetic.

pub mod formula;

use crate::database::{BanRecord, Database, DbError};
use crate::ticket::{BanTicket, BanTime};
pub use formula::{Formula, FormulaError, Num, Vars};

/// fail2ban's default `bantime.formula`.
pub const DEFAULT_FORMULA: &str = "ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor";

/// The `bantime.*` options of a jail, as given in the configuration (already typed where the
/// configuration reader types them: times in seconds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncrementOptions {
    pub increment: bool,
    /// `bantime.factor`, a Python expression (default `1`).
    pub factor: Option<String>,
    /// `bantime.formula` (default [`DEFAULT_FORMULA`]).
    pub formula: Option<String>,
    /// `bantime.multipliers`, space-separated integers.
    pub multipliers: Option<String>,
    pub max_time: Option<f64>,
    pub rnd_time: Option<f64>,
    pub over_all_jails: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Growth {
    Multipliers(Vec<i64>),
    Formula(Formula),
}

/// The compiled ban-time increment of one jail.
#[derive(Debug, Clone, PartialEq)]
pub struct BanTimeIncrement {
    pub enabled: bool,
    factor: Num,
    growth: Growth,
    pub max_time: Option<f64>,
    pub rnd_time: Option<f64>,
    pub over_all_jails: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum IncrementError {
    #[error(transparent)]
    Formula(#[from] FormulaError),
    #[error("bantime.multipliers: {0:?} is not an integer")]
    Multiplier(String),
}

/// What to do with a failure of an address already known as bad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FailureFound {
    /// Nothing more (increment off, address unknown, or the line predates the last ban).
    Nothing,
    /// Count `extra` more retries for the ID (fail2ban counts the failure itself once more
    /// through the filter) and remember `ban_count` on its ticket.
    AddRetries { extra: u32, ban_count: u32 },
}

/// What [`BanTimeIncrement::ban_found`] decided for a new ban.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BanFound {
    pub ban_time: BanTime,
    /// The ban time grew beyond the jail's: `actionprolong` is due (fail2ban runs it within
    /// `min(10, max(0, new - old - 5))` seconds).
    pub prolonged: bool,
    /// The ban ended before `now`: nothing to record.
    pub too_old: bool,
    /// The ban must be written to the database (not a restored one).
    pub record: bool,
}

/// A random number in [0, 1) for `bantime.rndtime` (std's randomly keyed hasher; no crate).
pub fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

impl BanTimeIncrement {
    pub fn new(o: &IncrementOptions) -> Result<BanTimeIncrement, IncrementError> {
        let factor_text = o
            .factor
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or("1");
        let factor = Formula::parse(factor_text.trim())?.eval(&Vars::default())?;
        let mults: Vec<i64> = match o.multipliers.as_deref() {
            Some(m) => m
                .split_whitespace()
                .map(|w| {
                    w.parse::<i64>()
                        .map_err(|_| IncrementError::Multiplier(w.to_string()))
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let growth = if !mults.is_empty() {
            Growth::Multipliers(mults)
        } else {
            let f = o
                .formula
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or(DEFAULT_FORMULA);
            Growth::Formula(Formula::parse(f.trim())?)
        };
        Ok(BanTimeIncrement {
            enabled: o.increment,
            factor,
            growth,
            max_time: o.max_time,
            rnd_time: o.rnd_time,
            over_all_jails: o.over_all_jails,
        })
    }

    /// The ban time for an address banned `ban_count` times before, from the jail's
    /// `ban_time`, as a Python number (`rnd` supplies the random fraction for rndtime).
    pub fn calc_num(
        &self,
        ban_time: Num,
        ban_count: u32,
        rnd: &mut dyn FnMut() -> f64,
    ) -> Result<Num, FormulaError> {
        let mut r = match &self.growth {
            Growth::Multipliers(m) => {
                let idx = (ban_count as usize).min(m.len() - 1);
                mul(mul(ban_time, self.factor), Num::Int(m[idx]))
            }
            Growth::Formula(f) => {
                let v = f.eval(&Vars {
                    ban_time: Some(ban_time),
                    ban_count: Some(Num::Int(ban_count as i64)),
                    ban_factor: Some(self.factor),
                })?;
                // never below the jail's ban time (the first of equals wins, as Python's max)
                if v.as_f64() > ban_time.as_f64() {
                    v
                } else {
                    ban_time
                }
            }
        };
        if let Some(max) = self.max_time {
            if max < r.as_f64() {
                r = if max.fract() == 0.0 {
                    Num::Int(max as i64)
                } else {
                    Num::Float(max)
                };
            }
        }
        if let Some(rnd_time) = self.rnd_time {
            r = Num::Float(r.as_f64() + rnd() * rnd_time);
        }
        Ok(r)
    }

    /// [`calc_num`](Self::calc_num) in seconds.
    pub fn calc(
        &self,
        ban_time: f64,
        ban_count: u32,
        rnd: &mut dyn FnMut() -> f64,
    ) -> Result<f64, FormulaError> {
        let bt = if ban_time.fract() == 0.0 && ban_time.abs() < 9e15 {
            Num::Int(ban_time as i64)
        } else {
            Num::Float(ban_time)
        };
        Ok(self.calc_num(bt, ban_count, rnd)?.as_f64())
    }

    /// The longest ban this jail can give (`bantime.maxtime`, or -1 when unbounded): the cap
    /// for bans restored at start.
    pub fn max_ban_time(&self, jail_ban_time: BanTime) -> f64 {
        if self.enabled {
            self.max_time.unwrap_or(-1.0)
        } else {
            jail_ban_time.as_secs()
        }
    }

    /// A failure of `time` was found for an address whose history is `record` (this jail's
    /// row, if any) and whose ticket already counts `ticket_ban_count` bans.
    pub fn failure_found(
        &self,
        record: Option<BanRecord>,
        ticket_ban_count: u32,
        time: f64,
        max_retry: u32,
    ) -> FailureFound {
        if !self.enabled {
            return FailureFound::Nothing;
        }
        let Some(rec) = record else {
            return FailureFound::Nothing;
        };
        let ban_count = rec.ban_count.max(ticket_ban_count);
        if ban_count == 0 {
            return FailureFound::Nothing;
        }
        // 2, 3, 5, 9, 17 ... for ban counts 1, 2, 3, 4, 5 ...
        let retry = ((1u64 << ban_count.min(20)) / 2 + 1).min(max_retry as u64) as u32;
        if time <= rec.time_of_ban {
            // the line was read before the last ban (a restart re-reading its log)
            return FailureFound::Nothing;
        }
        if retry <= 1 {
            return FailureFound::Nothing;
        }
        FailureFound::AddRetries {
            extra: retry - 1,
            ban_count,
        }
    }

    /// Raises the ban time of a new ban from the address's history (fail2ban's `incrBanTime`):
    /// sets the ticket's ban count and ban time, marks it restored when its time is not after
    /// the recorded ban (a log re-read), and returns the ban time.
    pub fn incr_ban_time(
        &self,
        ban_time: f64,
        ticket: &mut BanTicket,
        record: Option<BanRecord>,
        rnd: &mut dyn FnMut() -> f64,
    ) -> Result<f64, FormulaError> {
        let mut bt = ban_time;
        if bt > 0.0 && self.enabled {
            if let Some(rec) = record {
                if rec.ban_count >= ticket.ban_count() {
                    ticket.set_ban_count(rec.ban_count.saturating_add(1));
                }
                if rec.ban_count > 0 {
                    bt = self.calc(bt, rec.ban_count, rnd)?;
                }
                ticket.set_ban_time(BanTime::from_secs(bt));
                if ticket.time() <= rec.time_of_ban {
                    ticket.set_restored(true);
                }
            }
        }
        Ok(bt)
    }

    /// Decides the ban time of a ban just added to the ban manager (call it on the stored
    /// ticket, after [`crate::banmanager::BanManager::add_ban_ticket`] raised its count), as
    /// fail2ban's `banFound`. `jail_ban_time` is the ban time the ban started with.
    pub fn ban_found(
        &self,
        ticket: &mut BanTicket,
        jail_ban_time: BanTime,
        record: Option<BanRecord>,
        now: f64,
        rnd: &mut dyn FnMut() -> f64,
    ) -> Result<BanFound, FormulaError> {
        let old = ticket.ban_time_or(jail_ban_time);
        if ticket.restored() {
            return Ok(BanFound {
                ban_time: old,
                prolonged: false,
                too_old: false,
                record: false,
            });
        }
        let mut bt = old;
        if let (BanTime::Seconds(s), None) = (old, ticket.ban_time()) {
            let n = BanTime::from_secs(self.incr_ban_time(s, ticket, record, rnd)?);
            if n.is_permanent() || n.as_secs() > s {
                ticket.set_ban_time(n);
            }
            bt = n;
        }
        if let BanTime::Seconds(s) = bt {
            if ticket.time() + s < now {
                return Ok(BanFound {
                    ban_time: bt,
                    prolonged: false,
                    too_old: true,
                    record: false,
                });
            }
        }
        Ok(BanFound {
            ban_time: bt,
            prolonged: bt != old,
            too_old: false,
            record: !ticket.restored(),
        })
    }

    /// [`ban_found`](Self::ban_found) with the history read from `db` and the ban written to
    /// it when due.
    pub fn ban_found_in_db(
        &self,
        db: &Database,
        jail: &str,
        ticket: &mut BanTicket,
        jail_ban_time: BanTime,
        now: f64,
    ) -> Result<BanFound, ObserverError> {
        let record = if self.enabled && !ticket.restored() {
            db.get_ban(
                ticket.id(),
                Some(jail),
                self.over_all_jails,
                None,
                None,
                now,
            )?
            .into_iter()
            .next()
        } else {
            None
        };
        let found = self.ban_found(ticket, jail_ban_time, record, now, &mut random_unit)?;
        if found.record {
            db.add_ban(jail, ticket, jail_ban_time)?;
        }
        Ok(found)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ObserverError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Formula(#[from] FormulaError),
}

fn mul(a: Num, b: Num) -> Num {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x
            .checked_mul(y)
            .map(Num::Int)
            .unwrap_or(Num::Float(x as f64 * y as f64)),
        (x, y) => Num::Float(x.as_f64() * y.as_f64()),
    }
}

/// fail2ban's short duration text for logs: `1y 3w 4d`, `2d 7h 15m`, `59m 50s`, `0`.
pub fn seconds2str(sec: f64) -> String {
    let mut parts: Vec<String> = Vec::new();
    let round = |v: f64| v.round_ties_even() as i64;
    if sec >= 31_536_000.0 {
        let mut s = round(sec / 86400.0);
        parts.push(format!("{}y", s / 365));
        s %= 365;
        if s >= 7 {
            parts.push(format!("{}w", s / 7));
            s %= 7;
        }
        if s != 0 {
            parts.push(format!("{s}d"));
        }
    } else if sec >= 604_800.0 {
        let mut s = round(sec / 3600.0);
        parts.push(format!("{}w", s / 168));
        s %= 168;
        if s >= 24 {
            parts.push(format!("{}d", s / 24));
            s %= 24;
        }
        if s != 0 {
            parts.push(format!("{s}h"));
        }
    } else if sec >= 86_400.0 {
        let mut s = round(sec / 60.0);
        parts.push(format!("{}d", s / 1440));
        s %= 1440;
        if s >= 60 {
            parts.push(format!("{}h", s / 60));
            s %= 60;
        }
        if s != 0 {
            parts.push(format!("{s}m"));
        }
    } else if sec >= 3595.0 {
        let mut s = round(sec / 10.0);
        parts.push(format!("{}h", s / 360));
        s %= 360;
        if s >= 6 {
            parts.push(format!("{}m", s / 6));
        }
    } else {
        let mut s = sec.trunc() as i64;
        if s >= 60 {
            parts.push(format!("{}m", s / 60));
            s %= 60;
        }
        if s != 0 {
            parts.push(format!("{s}s"));
        } else if sec == 0.0 {
            parts.push("0".into());
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(o: IncrementOptions) -> BanTimeIncrement {
        BanTimeIncrement::new(&IncrementOptions {
            increment: true,
            ..o
        })
        .unwrap()
    }
    fn no_rnd() -> f64 {
        0.0
    }

    #[test]
    fn default_formula_doubles() {
        let b = inc(IncrementOptions::default());
        let v: Vec<f64> = (0..5)
            .map(|c| b.calc(600.0, c, &mut no_rnd).unwrap())
            .collect();
        assert_eq!(v, [600.0, 1200.0, 2400.0, 4800.0, 9600.0]);
        assert_eq!(
            b.calc(600.0, 40, &mut no_rnd).unwrap(),
            600.0 * (1u64 << 20) as f64
        );
    }

    #[test]
    fn exponential_formula_and_max_and_rnd() {
        let b = inc(IncrementOptions {
            factor: Some("2".into()),
            formula: Some(
                "ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)".into(),
            ),
            max_time: Some(86400.0),
            ..Default::default()
        });
        // 600 * e^(2*2)/e^2 = 600 e^2
        let v = b.calc(600.0, 1, &mut no_rnd).unwrap();
        assert!(
            (v - 600.0 * std::f64::consts::E.powi(2)).abs() < 1e-6,
            "{v}"
        );
        assert_eq!(b.calc(600.0, 10, &mut no_rnd).unwrap(), 86400.0);
        let r = inc(IncrementOptions {
            rnd_time: Some(100.0),
            ..Default::default()
        });
        assert_eq!(r.calc(600.0, 1, &mut || 0.5).unwrap(), 1250.0);
    }

    #[test]
    fn multipliers() {
        let b = inc(IncrementOptions {
            multipliers: Some("1 5 30 60".into()),
            ..Default::default()
        });
        let v: Vec<f64> = (0..6)
            .map(|c| b.calc(60.0, c, &mut no_rnd).unwrap())
            .collect();
        assert_eq!(v, [60.0, 300.0, 1800.0, 3600.0, 3600.0, 3600.0]);
        assert!(BanTimeIncrement::new(&IncrementOptions {
            multipliers: Some("1 x".into()),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn failure_retries_grow_with_ban_count() {
        let b = inc(IncrementOptions::default());
        let rec = |c| {
            Some(BanRecord {
                ban_count: c,
                time_of_ban: 100.0,
                ban_time: 600.0,
            })
        };
        assert_eq!(b.failure_found(None, 0, 200.0, 10), FailureFound::Nothing);
        assert_eq!(
            b.failure_found(rec(1), 0, 200.0, 10),
            FailureFound::AddRetries {
                extra: 1,
                ban_count: 1
            }
        );
        assert_eq!(
            b.failure_found(rec(3), 0, 200.0, 10),
            FailureFound::AddRetries {
                extra: 4,
                ban_count: 3
            }
        );
        assert_eq!(
            b.failure_found(rec(9), 0, 200.0, 10),
            FailureFound::AddRetries {
                extra: 9,
                ban_count: 9
            }
        );
        assert_eq!(b.failure_found(rec(3), 0, 100.0, 10), FailureFound::Nothing);
        let off = BanTimeIncrement::new(&IncrementOptions::default()).unwrap();
        assert_eq!(
            off.failure_found(rec(3), 0, 200.0, 10),
            FailureFound::Nothing
        );
    }

    #[test]
    fn ban_found_increments_from_history() {
        let b = inc(IncrementOptions::default());
        let mut t = BanTicket::new("1.2.3.4", 1000.0);
        t.incr_ban_count(); // as the ban manager does
        let rec = Some(BanRecord {
            ban_count: 2,
            time_of_ban: 500.0,
            ban_time: 1200.0,
        });
        let f = b
            .ban_found(&mut t, BanTime::Seconds(600.0), rec, 1000.0, &mut no_rnd)
            .unwrap();
        assert_eq!(
            f,
            BanFound {
                ban_time: BanTime::Seconds(2400.0),
                prolonged: true,
                too_old: false,
                record: true
            }
        );
        assert_eq!(t.ban_count(), 3);
        assert_eq!(t.ban_time(), Some(BanTime::Seconds(2400.0)));
        // a ticket not newer than the recorded ban is a re-read: restored, not recorded again
        let mut t = BanTicket::new("1.2.3.4", 500.0);
        t.incr_ban_count();
        let f = b
            .ban_found(&mut t, BanTime::Seconds(600.0), rec, 600.0, &mut no_rnd)
            .unwrap();
        assert!(!f.record);
        assert!(t.restored());
        // unknown address: first ban, recorded, not prolonged
        let mut t = BanTicket::new("5.6.7.8", 1000.0);
        let f = b
            .ban_found(&mut t, BanTime::Seconds(600.0), None, 1000.0, &mut no_rnd)
            .unwrap();
        assert_eq!(
            f,
            BanFound {
                ban_time: BanTime::Seconds(600.0),
                prolonged: false,
                too_old: false,
                record: true
            }
        );
        // too old
        let mut t = BanTicket::new("5.6.7.8", 0.0);
        let f = b
            .ban_found(&mut t, BanTime::Seconds(600.0), None, 1000.0, &mut no_rnd)
            .unwrap();
        assert!(f.too_old && !f.record);
    }

    #[test]
    fn ban_found_with_database() {
        let db = Database::open(":memory:").unwrap();
        db.add_jail("sshd").unwrap();
        let b = inc(IncrementOptions::default());
        let d = BanTime::Seconds(600.0);
        let mut times = Vec::new();
        for k in 0..4 {
            let now = 10_000.0 * (k + 1) as f64;
            let mut t = BanTicket::new("9.9.9.9", now);
            t.incr_ban_count();
            let f = b.ban_found_in_db(&db, "sshd", &mut t, d, now).unwrap();
            assert!(f.record);
            times.push((t.ban_count(), f.ban_time.as_secs()));
        }
        assert_eq!(times, [(1, 600.0), (2, 1200.0), (3, 2400.0), (4, 4800.0)]);
    }

    #[test]
    fn durations_as_fail2ban_prints_them() {
        assert_eq!(seconds2str(86400.0 * 390.0), "1y 3w 4d");
        assert_eq!(seconds2str(86400.0 * 368.0), "1y 3d");
        assert_eq!(
            seconds2str(86400.0 * 2.0 + 3600.0 * 7.0 + 60.0 * 15.0),
            "2d 7h 15m"
        );
        assert_eq!(seconds2str(86400.0 * 2.0 + 3599.0), "2d 1h");
        assert_eq!(seconds2str(3600.0 - 5.0), "1h");
        assert_eq!(seconds2str(3600.0 - 10.0), "59m 50s");
        assert_eq!(seconds2str(59.0), "59s");
        assert_eq!(seconds2str(0.0), "0");
        assert_eq!(seconds2str(600.0), "10m");
    }
}
