//! Persistence in fail2ban's own SQLite layout (schema version 4), so an existing
//! `/var/lib/fail2ban/fail2ban.sqlite3` carries its bans and log positions over, and a file we
//! write stays readable by fail2ban.
//!
//! Every write is one committed transaction. A ban is durable against a crash of the daemon
//! (kill -9, OOM, panic) as soon as [`Database::add_ban`] returns: the file is in WAL mode with
//! `synchronous = NORMAL`, where a commit is complete once its frames are appended to the WAL
//! file by `write(2)`, i.e. handed to the kernel, which keeps them whatever happens to our
//! process; the next reader (our own restart, or fail2ban) replays the WAL. What NORMAL gives
//! up against FULL is the `fsync` per commit, so only a power cut or kernel crash may lose the
//! last commits before a checkpoint (SQLite syncs the WAL at each checkpoint) - and such an
//! event also wipes the firewall rules those bans put in the kernel. fail2ban itself runs with
//! `synchronous = OFF` and an in-memory rollback journal, which is weaker on both counts.
//! Times are passed in (`now`), never read from the clock here.

mod data;
mod schema;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::ticket::{BanTicket, BanTime, FailTicket, TicketData};

pub use schema::VERSION;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database schema version {0} is newer than the supported version 4")]
    FutureVersion(i64),
    #[error("cannot move the unreadable database aside to {0}: {1}")]
    Backup(String, std::io::Error),
}

fn is_unreadable(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

/// One row of fail2ban's `getBan` answer, used by `bantime.increment`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BanRecord {
    pub ban_count: u32,
    pub time_of_ban: f64,
    pub ban_time: f64,
}

/// Bans of one address merged over jails (`<ipmatches>`, `<ipfailures>` ...).
#[derive(Debug, Clone, PartialEq)]
pub struct MergedBans {
    pub ip: String,
    /// Time of the oldest ban merged.
    pub time: f64,
    pub data: TicketData,
}

/// How [`Database::current_bans`] selects and corrects bans (fail2ban's `getCurrentBans`).
#[derive(Debug, Clone, Default)]
pub struct CurrentBansQuery<'a> {
    /// One jail, or every jail (then the latest ban of each address).
    pub jail: Option<&'a str>,
    pub ip: Option<&'a str>,
    /// Only bans started within this many seconds before `now` (None or -1: any).
    pub for_ban_time: Option<f64>,
    /// Cap a longer (or permanent) restored ban time at this (None: keep as stored).
    pub correct_ban_time: Option<f64>,
    /// Ban time for rows an old schema left as "unknown" (-2); 600 when None.
    pub jail_ban_time: Option<f64>,
    /// Lines kept per ticket (None: the database's `dbmaxmatches`).
    pub max_matches: Option<usize>,
}

pub struct Database {
    conn: Connection,
    path: String,
    purge_age: f64,
    out_dated_factor: f64,
    max_matches: usize,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.path)
            .finish()
    }
}

fn int_round(t: f64) -> i64 {
    t.round_ties_even() as i64
}

/// A ban time as fail2ban stores it: an integer when whole, else a real.
fn bantime_value(s: f64) -> rusqlite::types::Value {
    if s.fract() == 0.0 && s.abs() < 9.0e15 {
        rusqlite::types::Value::Integer(s as i64)
    } else {
        rusqlite::types::Value::Real(s)
    }
}

fn num(v: rusqlite::types::ValueRef<'_>) -> f64 {
    match v {
        rusqlite::types::ValueRef::Integer(i) => i as f64,
        rusqlite::types::ValueRef::Real(r) => r,
        rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0.0),
        _ => 0.0,
    }
}

impl Database {
    /// Opens (creating or upgrading) the database at `path`; `:memory:` keeps it in memory.
    /// A file SQLite cannot read as a database is moved aside to `PATH.YYYYmmdd-HHMMSS` (UTC)
    /// and a new database is created in its place, as fail2ban does, so the daemon starts.
    pub fn open(path: &str) -> Result<Database, DbError> {
        match Database::open_once(path) {
            Err(DbError::Sqlite(e))
                if is_unreadable(&e) && path != ":memory:" && !path.is_empty() =>
            {
                let backup = format!(
                    "{path}.{}",
                    jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S")
                );
                crate::log!(
                    "fail2ban.database",
                    crate::logging::Level::ERROR,
                    "Error opening fail2ban persistent database '{}': {}",
                    path,
                    e
                );
                std::fs::rename(path, &backup).map_err(|io| DbError::Backup(backup.clone(), io))?;
                for ext in ["-wal", "-shm", "-journal"] {
                    let _ = std::fs::remove_file(format!("{path}{ext}"));
                }
                crate::log!(
                    "fail2ban.database",
                    crate::logging::Level::INFO,
                    "  Database backup created: {}",
                    backup
                );
                Database::open_once(path)
            }
            other => other,
        }
    }

    fn open_once(path: &str) -> Result<Database, DbError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;")?;
        if path != ":memory:" && !path.is_empty() {
            // the pragma answers with the mode it got; a file another process holds in a
            // different mode simply stays in it
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            // NORMAL is crash-safe for the process in WAL mode only (see the module comment);
            // in any other journal mode a commit must reach the disk before it returns.
            conn.execute_batch(if mode.eq_ignore_ascii_case("wal") {
                "PRAGMA synchronous = NORMAL;"
            } else {
                "PRAGMA synchronous = FULL;"
            })?;
        }
        schema::ensure(&conn)?;
        Ok(Database {
            conn,
            path: path.to_string(),
            purge_age: 86400.0,
            out_dated_factor: 3.0,
            max_matches: 10,
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }
    /// `dbpurgeage`, in seconds.
    pub fn set_purge_age(&mut self, secs: f64) {
        self.purge_age = secs;
    }
    pub fn purge_age(&self) -> f64 {
        self.purge_age
    }
    /// `dbmaxmatches`: lines stored per ban.
    pub fn set_max_matches(&mut self, n: usize) {
        self.max_matches = n;
    }
    pub fn max_matches(&self) -> usize {
        self.max_matches
    }

    /// Registers a jail (or enables it again).
    pub fn add_jail(&self, name: &str) -> Result<(), DbError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO jails(name, enabled) VALUES(?1, 1)",
            [name],
        )?;
        if n == 0 {
            self.conn.execute(
                "UPDATE jails SET enabled = 1 WHERE name = ?1 AND enabled != 1",
                [name],
            )?;
        }
        Ok(())
    }

    /// Disables a jail; purge removes it once it holds no bans.
    pub fn del_jail(&self, name: &str) -> Result<(), DbError> {
        self.conn
            .execute("UPDATE jails SET enabled = 0 WHERE name = ?1", [name])?;
        Ok(())
    }

    pub fn del_all_jails(&self) -> Result<(), DbError> {
        self.conn.execute("UPDATE jails SET enabled = 0", [])?;
        Ok(())
    }

    /// Jail names, all or only enabled/disabled ones.
    pub fn jail_names(&self, enabled: Option<bool>) -> Result<Vec<String>, DbError> {
        let mut out = Vec::new();
        match enabled {
            None => {
                let mut st = self.conn.prepare("SELECT name FROM jails ORDER BY rowid")?;
                for r in st.query_map([], |r| r.get::<_, String>(0))? {
                    out.push(r?);
                }
            }
            Some(e) => {
                let mut st = self
                    .conn
                    .prepare("SELECT name FROM jails WHERE enabled = ?1 ORDER BY rowid")?;
                for r in st.query_map([e as i64], |r| r.get::<_, String>(0))? {
                    out.push(r?);
                }
            }
        }
        Ok(out)
    }

    fn add_log_row(
        &self,
        jail: &str,
        path: &str,
        pos: f64,
        md5: Option<&str>,
    ) -> Result<Option<f64>, DbError> {
        let row: Option<(Option<String>, f64)> = self
            .conn
            .query_row(
                "SELECT firstlinemd5, lastfilepos FROM logs WHERE jail = ?1 AND path = ?2",
                params![jail, path],
                |r| Ok((r.get::<_, Option<String>>(0)?, num(r.get_ref(1)?))),
            )
            .optional()?;
        let (stored_md5, mut last) = match row {
            Some((m, p)) => (m, Some(p)),
            None => (None, None),
        };
        if stored_md5.is_none() && (pos != 0.0 || md5.is_some()) {
            self.conn.execute(
                "INSERT OR REPLACE INTO logs(jail, path, firstlinemd5, lastfilepos) VALUES(?1, ?2, ?3, ?4)",
                params![jail, path, md5, bantime_value(pos)],
            )?;
        }
        if md5.is_some() && md5 != stored_md5.as_deref() {
            last = None;
        }
        Ok(last)
    }

    fn update_log_row(
        &self,
        jail: &str,
        path: &str,
        pos: f64,
        md5: Option<&str>,
    ) -> Result<(), DbError> {
        let n = self.conn.execute(
            "UPDATE logs SET firstlinemd5 = ?1, lastfilepos = ?2 WHERE jail = ?3 AND path = ?4",
            params![md5, bantime_value(pos), jail, path],
        )?;
        if n == 0 {
            self.conn.execute(
                "INSERT OR REPLACE INTO logs(jail, path, firstlinemd5, lastfilepos) VALUES(?1, ?2, ?3, ?4)",
                params![jail, path, md5, bantime_value(pos)],
            )?;
        }
        Ok(())
    }

    /// Registers a log file of a jail (`pos`, `md5` of its first line: what the reader has)
    /// and returns the position to resume from: the stored one when the first line's hash is
    /// unchanged, else `None` (new or rotated file).
    pub fn add_log(
        &self,
        jail: &str,
        path: &str,
        pos: u64,
        md5: Option<&str>,
    ) -> Result<Option<u64>, DbError> {
        Ok(self
            .add_log_row(jail, path, pos as f64, md5)?
            .map(|p| p.max(0.0) as u64))
    }

    /// Saves the position reached in a log file and the hash of its first line.
    pub fn update_log(
        &self,
        jail: &str,
        path: &str,
        pos: u64,
        md5: Option<&str>,
    ) -> Result<(), DbError> {
        self.update_log_row(jail, path, pos as f64, md5)
    }

    /// Log paths stored, of one jail or all.
    pub fn log_paths(&self, jail: Option<&str>) -> Result<Vec<String>, DbError> {
        let mut out = Vec::new();
        let mut st = self
            .conn
            .prepare("SELECT path FROM logs WHERE ?1 IS NULL OR jail = ?1 ORDER BY rowid")?;
        for r in st.query_map([jail], |r| r.get::<_, Option<String>>(0))? {
            if let Some(p) = r? {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// A journal's last position (as a time), fail2ban keeping it in the `logs` table under the
    /// journal's name with the time's ISO text in place of the hash.
    pub fn journal_pos(
        &self,
        jail: &str,
        name: &str,
        time: f64,
        iso: Option<&str>,
    ) -> Result<Option<f64>, DbError> {
        self.add_log_row(jail, name, time, iso)
    }

    pub fn update_journal(
        &self,
        jail: &str,
        name: &str,
        time: f64,
        iso: Option<&str>,
    ) -> Result<(), DbError> {
        self.update_log_row(jail, name, time, iso)
    }

    /// Records a ban (in `bans`, the history, and `bips`, the latest per address and jail).
    /// `default_ban_time` is the jail's, for a ticket without its own.
    pub fn add_ban(
        &self,
        jail: &str,
        ticket: &BanTicket,
        default_ban_time: BanTime,
    ) -> Result<(), DbError> {
        self.add_bans(jail, std::slice::from_ref(ticket), default_ban_time)
    }

    /// Records several bans in one transaction (one sync for a burst).
    pub fn add_bans(
        &self,
        jail: &str,
        tickets: &[BanTicket],
        default_ban_time: BanTime,
    ) -> Result<(), DbError> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut ins_ban = tx.prepare_cached(
                "INSERT INTO bans(jail, ip, timeofban, bantime, bancount, data) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut ins_bip = tx.prepare_cached(
                "INSERT OR REPLACE INTO bips(ip, jail, timeofban, bantime, bancount, data) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for t in tickets {
                let blob = data::encode(t.data(), self.max_matches);
                let tob = int_round(t.time());
                let bt = bantime_value(t.ban_time_or(default_ban_time).as_secs());
                ins_ban.execute(params![jail, t.id(), tob, bt, t.ban_count(), blob])?;
                ins_bip.execute(params![t.id(), jail, tob, bt, t.ban_count(), blob])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets bans of a jail: of the given addresses, or all of them when `ips` is empty.
    pub fn del_ban(&self, jail: &str, ips: &[&str]) -> Result<(), DbError> {
        let tx = self.conn.unchecked_transaction()?;
        if ips.is_empty() {
            tx.execute("DELETE FROM bips WHERE jail = ?1", [jail])?;
            tx.execute("DELETE FROM bans WHERE jail = ?1", [jail])?;
        } else {
            for ip in ips {
                tx.execute("DELETE FROM bips WHERE jail = ?1 AND ip = ?2", [jail, ip])?;
                tx.execute("DELETE FROM bans WHERE jail = ?1 AND ip = ?2", [jail, ip])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn ban_rows(
        &self,
        jail: Option<&str>,
        ban_time: Option<f64>,
        ip: Option<&str>,
        now: f64,
    ) -> Result<Vec<(String, f64, TicketData)>, DbError> {
        let mut q = String::from("SELECT ip, timeofban, data FROM bans WHERE 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(j) = jail {
            q.push_str(" AND jail = ?");
            args.push(j.to_string().into());
        }
        if let Some(bt) = ban_time.filter(|b| *b >= 0.0) {
            q.push_str(" AND timeofban > ?");
            args.push((now - bt).into());
        }
        if let Some(i) = ip {
            q.push_str(" AND ip = ?");
            args.push(i.to_string().into());
        }
        q.push_str(" ORDER BY ip, timeofban DESC");
        let mut st = self.conn.prepare(&q)?;
        let rows = st.query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                num(r.get_ref(1)?),
                data::decode(r.get_ref(2)?),
            ))
        })?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r?);
        }
        Ok(out)
    }

    /// Every recorded ban (history), newest first per address; `ban_time` keeps only those
    /// started within it before `now`.
    pub fn bans(
        &self,
        jail: Option<&str>,
        ban_time: Option<f64>,
        ip: Option<&str>,
        now: f64,
    ) -> Result<Vec<FailTicket>, DbError> {
        Ok(self
            .ban_rows(jail, ban_time, ip, now)?
            .into_iter()
            .map(|(ip, t, d)| FailTicket::with_data(ip, t, d))
            .collect())
    }

    /// The bans of one address merged into one ticket: failures summed, the newest
    /// `dbmaxmatches` lines kept (fail2ban's `getBansMerged`, behind `<ipmatches>` and kin).
    pub fn bans_merged(&self, ip: &str, jail: Option<&str>) -> Result<Option<MergedBans>, DbError> {
        let rows = self.ban_rows(jail, None, Some(ip), 0.0)?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut matches: Vec<String> = Vec::new();
        let mut failures: u32 = 0;
        let mut captures = std::collections::BTreeMap::new();
        let mut time = 0.0;
        for (_, tob, d) in rows {
            // rows come newest first: older lines go in front
            let room = self.max_matches.saturating_sub(matches.len());
            if room > 0 {
                let m = &d.matches;
                let take = if m.len() <= room {
                    &m[..]
                } else {
                    &m[m.len() - room..]
                };
                let mut v = take.to_vec();
                v.append(&mut matches);
                matches = v;
            }
            failures = failures.saturating_add(d.failures);
            captures.extend(d.captures);
            time = tob;
        }
        Ok(Some(MergedBans {
            ip: ip.to_string(),
            time,
            data: TicketData {
                failures,
                matches,
                captures,
            },
        }))
    }

    /// The ban history of an address for `bantime.increment`: (ban count, time of the latest
    /// ban, its ban time), from this jail, or summed over all jails when `over_all_jails`.
    pub fn get_ban(
        &self,
        ip: &str,
        jail: Option<&str>,
        over_all_jails: bool,
        for_ban_time: Option<f64>,
        from_time: Option<f64>,
        now: f64,
    ) -> Result<Vec<BanRecord>, DbError> {
        let mut q = String::from(if over_all_jails {
            "SELECT sum(bancount), max(timeofban), sum(bantime) FROM bips"
        } else {
            "SELECT bancount, timeofban, bantime FROM bips"
        });
        q.push_str(" WHERE ip = ?");
        let mut args: Vec<rusqlite::types::Value> = vec![ip.to_string().into()];
        if let (false, Some(j)) = (over_all_jails, jail) {
            q.push_str(" AND jail = ?");
            args.push(j.to_string().into());
        }
        if let Some(f) = for_ban_time {
            q.push_str(" AND timeofban > ?");
            args.push((now - f).into());
        }
        if let Some(f) = from_time {
            q.push_str(" AND timeofban > ?");
            args.push(f.into());
        }
        if over_all_jails || jail.is_none() {
            q.push_str(" GROUP BY ip ORDER BY timeofban DESC LIMIT 1");
        }
        let mut st = self.conn.prepare(&q)?;
        let rows = st.query_map(params_from_iter(args), |r| {
            Ok(BanRecord {
                ban_count: num(r.get_ref(0)?).max(0.0) as u32,
                time_of_ban: num(r.get_ref(1)?),
                ban_time: num(r.get_ref(2)?),
            })
        })?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r?);
        }
        Ok(out)
    }

    /// Bans still in force at `now` (ban start + ban time ahead, or permanent), with their ban
    /// time and count set, as fail2ban's `getCurrentBans`.
    pub fn current_bans(
        &self,
        q: &CurrentBansQuery<'_>,
        now: f64,
    ) -> Result<Vec<FailTicket>, DbError> {
        let mut sql = String::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        match q.jail {
            Some(j) => {
                sql.push_str(
                    "SELECT ip, timeofban, bantime, bancount, data FROM bips WHERE jail = ?",
                );
                args.push(j.to_string().into());
            }
            None => {
                sql.push_str("SELECT ip, max(timeofban), bantime, bancount, data FROM bips WHERE 1")
            }
        }
        if let Some(ip) = q.ip {
            sql.push_str(" AND ip = ?");
            args.push(ip.to_string().into());
        }
        sql.push_str(" AND (timeofban + bantime > ? OR bantime <= -1)");
        args.push(now.into());
        if let Some(f) = q.for_ban_time.filter(|f| *f != -1.0) {
            sql.push_str(" AND timeofban > ?");
            args.push((now - f).into());
        }
        if q.ip.is_none() {
            sql.push_str(" GROUP BY ip ORDER BY ip, timeofban DESC");
        } else {
            sql.push_str(" ORDER BY timeofban DESC LIMIT 1");
        }
        let correct = q.correct_ban_time.filter(|c| *c != -1.0);
        let max_matches = q.max_matches.unwrap_or(self.max_matches);
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                num(r.get_ref(1)?),
                num(r.get_ref(2)?),
                num(r.get_ref(3)?),
                data::decode(r.get_ref(4)?),
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (ip, tob, mut bt, count, mut d) = row?;
            let Some(ip) = ip.filter(|s| !s.is_empty()) else {
                continue;
            };
            if bt == -2.0 {
                // "unknown" ban time left by a schema upgrade
                bt = q.jail_ban_time.or(correct).unwrap_or(600.0);
            } else if let Some(c) = correct.filter(|c| *c >= 0.0) {
                if bt == -1.0 || bt > c {
                    bt = c;
                }
            }
            if bt != -1.0 && tob + bt <= now {
                continue;
            }
            if max_matches == 0 {
                d.matches.clear();
            } else if d.matches.len() > max_matches {
                d.matches.drain(..d.matches.len() - max_matches);
            }
            let mut t = FailTicket::with_data(ip, tob, d);
            t.set_whole_time(tob.fract() == 0.0);
            t.set_ban_time(BanTime::from_secs(bt));
            t.set_ban_count(count.max(0.0) as u32);
            out.push(t);
        }
        Ok(out)
    }

    /// The bans to restore when a jail starts, as fail2ban does: with `bantime.increment`
    /// (`increment_max_time` = Some(bantime.maxtime, -1 when unset)) every ban still in force
    /// is taken, capped at the max time; without it, only bans started within the jail's ban
    /// time, capped at it. Tickets come back marked restored.
    pub fn restore_bans(
        &self,
        jail: &str,
        jail_ban_time: BanTime,
        increment_max_time: Option<f64>,
        max_matches: usize,
        now: f64,
    ) -> Result<Vec<FailTicket>, DbError> {
        let (for_ban_time, correct) = match increment_max_time {
            Some(max) => (None, Some(max)),
            None => (Some(jail_ban_time.as_secs()), Some(jail_ban_time.as_secs())),
        };
        let q = CurrentBansQuery {
            jail: Some(jail),
            ip: None,
            for_ban_time,
            correct_ban_time: correct,
            jail_ban_time: Some(jail_ban_time.as_secs()),
            max_matches: Some(max_matches),
        };
        let mut out = Vec::new();
        for mut t in self.current_bans(&q, now)? {
            t.set_restored(true);
            let mut btm = t.ban_time().unwrap_or(jail_ban_time).as_secs();
            let dif = now - t.time();
            if btm != -1.0 && dif > 0.0 {
                btm -= dif;
            }
            if btm != -1.0 && btm <= 0.0 {
                continue;
            }
            out.push(t);
        }
        Ok(out)
    }

    /// `dbpurgeage`: drops ban history older than the purge age, bad-address records far past
    /// their end (three ban times beyond the purge age; never permanent ones), and disabled
    /// jails without bans.
    pub fn purge(&self, now: f64) -> Result<(), DbError> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "DELETE FROM bans WHERE timeofban < ?1",
            [now - self.purge_age],
        )?;
        let cut = (now.trunc() as i64) as f64 - self.purge_age;
        tx.execute(
            "DELETE FROM bips WHERE timeofban < ?1 and bantime != -1 and (timeofban + (bantime * ?2)) < ?1",
            params![cut, self.out_dated_factor],
        )?;
        tx.execute(
            "DELETE FROM jails WHERE enabled = 0 \
             AND NOT EXISTS(SELECT * FROM bans WHERE jail = jails.name) \
             AND NOT EXISTS(SELECT * FROM bips WHERE jail = jails.name)",
            [],
        )?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(ip: &str, t: f64, bt: Option<BanTime>, count: u32, failures: u32) -> BanTicket {
        let mut b = BanTicket::new(ip, t);
        if let Some(bt) = bt {
            b.set_ban_time(bt);
        }
        b.set_ban_count(count);
        b.data_mut().failures = failures;
        b.data_mut().matches = vec![format!("line of {ip}")];
        b
    }

    #[test]
    fn current_bans_only_active() {
        let db = Database::open(":memory:").unwrap();
        db.add_jail("sshd").unwrap();
        let now = 1_000_000.0;
        let d = BanTime::Seconds(600.0);
        db.add_ban("sshd", &ban("10.0.0.1", now - 100.0, None, 1, 3), d)
            .unwrap();
        db.add_ban("sshd", &ban("10.0.0.2", now - 1000.0, None, 1, 3), d)
            .unwrap();
        db.add_ban(
            "sshd",
            &ban("10.0.0.3", now - 90_000.0, Some(BanTime::Permanent), 2, 5),
            d,
        )
        .unwrap();
        let q = CurrentBansQuery {
            jail: Some("sshd"),
            ..Default::default()
        };
        let cur = db.current_bans(&q, now).unwrap();
        let ids: Vec<&str> = cur.iter().map(|t| t.id()).collect();
        assert_eq!(ids, ["10.0.0.1", "10.0.0.3"]);
        assert_eq!(cur[1].ban_time(), Some(BanTime::Permanent));
        assert_eq!(cur[1].ban_count(), 2);
        assert_eq!(cur[0].data().failures, 3);
        assert_eq!(cur[0].matches(), ["line of 10.0.0.1"]);
        assert!(BanTicket::from(cur[0].clone()).whole_time());
        // restore without increment: only bans begun within the jail's ban time
        let r = db.restore_bans("sshd", d, None, 5, now).unwrap();
        assert_eq!(r.iter().map(|t| t.id()).collect::<Vec<_>>(), ["10.0.0.1"]);
        assert!(r[0].restored());
        // with increment and no max time: the permanent one too
        let r = db.restore_bans("sshd", d, Some(-1.0), 5, now).unwrap();
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn logs_positions_and_hash() {
        let db = Database::open(":memory:").unwrap();
        db.add_jail("j").unwrap();
        assert_eq!(db.add_log("j", "/var/log/a", 0, Some("h1")).unwrap(), None);
        db.update_log("j", "/var/log/a", 1234, Some("h1")).unwrap();
        assert_eq!(
            db.add_log("j", "/var/log/a", 0, Some("h1")).unwrap(),
            Some(1234)
        );
        assert_eq!(
            db.add_log("j", "/var/log/a", 0, Some("other")).unwrap(),
            None
        );
        assert_eq!(db.log_paths(Some("j")).unwrap(), ["/var/log/a"]);
        db.update_journal(
            "j",
            "systemd-journal",
            1_700_000_000.5,
            Some("2023-11-14 22:13:20.500000"),
        )
        .unwrap();
        assert_eq!(
            db.journal_pos(
                "j",
                "systemd-journal",
                0.0,
                Some("2023-11-14 22:13:20.500000")
            )
            .unwrap(),
            Some(1_700_000_000.5)
        );
    }

    #[test]
    fn ban_history_increment_lookup_and_merge() {
        let db = Database::open(":memory:").unwrap();
        db.add_jail("a").unwrap();
        db.add_jail("b").unwrap();
        let d = BanTime::Seconds(600.0);
        db.add_ban("a", &ban("1.1.1.1", 100.0, None, 1, 3), d)
            .unwrap();
        db.add_ban(
            "a",
            &ban("1.1.1.1", 2000.0, Some(BanTime::Seconds(1200.0)), 2, 2),
            d,
        )
        .unwrap();
        db.add_ban("b", &ban("1.1.1.1", 3000.0, None, 1, 4), d)
            .unwrap();
        let r = db
            .get_ban("1.1.1.1", Some("a"), false, None, None, 5000.0)
            .unwrap();
        assert_eq!(
            r,
            [BanRecord {
                ban_count: 2,
                time_of_ban: 2000.0,
                ban_time: 1200.0
            }]
        );
        let r = db
            .get_ban("1.1.1.1", Some("a"), true, None, None, 5000.0)
            .unwrap();
        assert_eq!(
            r,
            [BanRecord {
                ban_count: 3,
                time_of_ban: 3000.0,
                ban_time: 1800.0
            }]
        );
        assert!(db
            .get_ban("9.9.9.9", Some("a"), false, None, None, 5000.0)
            .unwrap()
            .is_empty());
        let m = db.bans_merged("1.1.1.1", Some("a")).unwrap().unwrap();
        assert_eq!(m.data.failures, 5);
        assert_eq!(m.data.matches.len(), 2);
        let all = db.bans_merged("1.1.1.1", None).unwrap().unwrap();
        assert_eq!(all.data.failures, 9);
        assert_eq!(all.time, 100.0);
        db.del_ban("a", &["1.1.1.1"]).unwrap();
        assert!(db.bans_merged("1.1.1.1", Some("a")).unwrap().is_none());
        assert!(db.bans_merged("1.1.1.1", Some("b")).unwrap().is_some());
    }

    #[test]
    fn purge_and_jails() {
        let mut db = Database::open(":memory:").unwrap();
        db.set_purge_age(1000.0);
        db.add_jail("old").unwrap();
        db.add_jail("live").unwrap();
        let d = BanTime::Seconds(10.0);
        db.add_ban("old", &ban("1.1.1.1", 100.0, None, 1, 1), d)
            .unwrap();
        db.add_ban(
            "live",
            &ban("2.2.2.2", 100.0, Some(BanTime::Permanent), 1, 1),
            d,
        )
        .unwrap();
        db.del_jail("old").unwrap();
        assert_eq!(db.jail_names(Some(false)).unwrap(), ["old"]);
        db.purge(5000.0).unwrap();
        assert_eq!(db.jail_names(None).unwrap(), ["live"]);
        // the permanent record stays in bips, its history is gone
        assert!(db.bans(None, None, None, 5000.0).unwrap().is_empty());
        assert_eq!(
            db.get_ban("2.2.2.2", Some("live"), false, None, None, 5000.0)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn unreadable_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f2b.sqlite3");
        std::fs::write(&p, vec![0x5au8; 8192]).unwrap();
        let db = Database::open(p.to_str().unwrap()).expect("recreated");
        db.add_jail("sshd").unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("f2b.sqlite3."))
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert_eq!(
            std::fs::read(dir.path().join(&names[0])).unwrap(),
            vec![0x5au8; 8192]
        );
    }

    #[test]
    fn ban_needs_known_jail() {
        let db = Database::open(":memory:").unwrap();
        assert!(db
            .add_ban(
                "nojail",
                &ban("1.1.1.1", 1.0, None, 1, 1),
                BanTime::Seconds(1.0)
            )
            .is_err());
    }
}
