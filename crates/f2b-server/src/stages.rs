//! The real stages of a jail, built from its `JailSpec`: the file or journal backend
//! (f2b-backend), the filter (f2b-filter), the shell actions and the database.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use f2b_backend::{
    first_line_md5, BackendSpec, FileBackend, FileTailer, FileWatcher, JournalOptions,
    JournalReader, JournalStart, LogEncoding, StartPos,
};
use f2b_config::JailSpec;
use f2b_filter::{Filter, FilterOptions};

use crate::actions::{ActionDef, ActionError, ActionInfo, BanHistory, CommandAction, JailCounters};
use crate::database::Database;
use crate::dns::SystemResolver;
use crate::ignore::IgnoreList;
use crate::jail::{
    now, BanObserver, BanStore, Found, JailParts, JailSettings, LineFilter, LineSource, SourceLine,
};
use crate::logging::Level;
use crate::observer::{random_unit, seconds2str, BanTimeIncrement, FailureFound, IncrementOptions};
use crate::server::JailBuilder;
use crate::ticket::{BanTicket, BanTime, TicketData};

const LOG_FILTER: &str = "fail2ban.filter";

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shared database handle (rusqlite connections are used from one thread at a time).
pub type SharedDb = Arc<Mutex<Database>>;

/// Log files of a jail, tailed with inotify (or polling).
struct FileSource {
    jail: String,
    watcher: FileWatcher,
    /// Paths not openable yet (a log that appears later is picked up).
    pending: Vec<(PathBuf, bool)>,
    last_retry: Instant,
    initial_done: bool,
    encoding: LogEncoding,
    db: Option<SharedDb>,
}

impl FileSource {
    fn open_one(&mut self, path: &PathBuf, tail: bool, log_missing: bool) -> bool {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                if log_missing {
                    crate::log!(
                        LOG_FILTER,
                        Level::ERROR,
                        "Unable to open {}: {e}",
                        path.display()
                    );
                }
                return false;
            }
        };
        let md5 = first_line_md5(&file).unwrap_or_default();
        let mut start = if tail { StartPos::Tail } else { StartPos::Head };
        if let Some(db) = &self.db {
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            let initial = if tail { size } else { 0 };
            match relock(db).add_log(&self.jail, &path.to_string_lossy(), initial, Some(&md5)) {
                // fail2ban resumes a known file from its saved position unless told to tail it.
                Ok(Some(pos)) if !tail => {
                    start = StartPos::At {
                        pos,
                        first_line_md5: md5.clone(),
                    }
                }
                Ok(_) => {}
                Err(e) => crate::log!("fail2ban.database", Level::ERROR, "{e}"),
            }
        }
        match FileTailer::open(path.clone(), start, self.encoding) {
            Ok(t) => {
                let pos = t.position().pos;
                if let Err(e) = self.watcher.add(t) {
                    crate::log!(
                        LOG_FILTER,
                        Level::ERROR,
                        "Unable to watch {}: {e}",
                        path.display()
                    );
                    return false;
                }
                crate::log!(
                    LOG_FILTER,
                    Level::INFO,
                    "Added logfile: '{}' (pos = {pos}, hash = {md5})",
                    path.display()
                );
                true
            }
            Err(e) => {
                crate::log!(
                    LOG_FILTER,
                    Level::ERROR,
                    "Unable to open {}: {e}",
                    path.display()
                );
                false
            }
        }
    }
}

impl LineSource for FileSource {
    fn poll(&mut self, timeout: Duration, sink: &mut dyn FnMut(SourceLine<'_>)) -> Vec<String> {
        if !self.pending.is_empty() && self.last_retry.elapsed() > Duration::from_secs(5) {
            self.last_retry = Instant::now();
            let pending = std::mem::take(&mut self.pending);
            for (p, tail) in pending {
                if !self.open_one(&p, tail, false) {
                    self.pending.push((p, tail));
                }
            }
        }
        let live = self.initial_done;
        let mut on_line = |_: &std::path::Path, text: &str| {
            sink(SourceLine {
                text,
                time: None,
                live,
            })
        };
        let outcome = if self.initial_done {
            self.watcher.wait_and_read(timeout, &mut on_line)
        } else {
            self.initial_done = true;
            self.watcher.read_all(&mut on_line)
        };
        outcome
            .errors
            .into_iter()
            .map(|(p, e)| format!("Unable to read {}: {e}", p.display()))
            .collect()
    }

    fn status(&self) -> (&'static str, Vec<String>) {
        let mut paths: Vec<String> = self
            .watcher
            .paths()
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        paths.extend(
            self.pending
                .iter()
                .map(|(p, _)| p.to_string_lossy().into_owned()),
        );
        ("File list", paths)
    }

    fn idle_wait(&self) -> Duration {
        // inotify wakes us for every change: the timeout is only a safety net. Polling (and
        // a log file not there yet) needs the regular look fail2ban takes each second.
        if self.watcher.backend() == FileBackend::Inotify && self.pending.is_empty() {
            Duration::from_secs(5)
        } else {
            Duration::from_secs(1)
        }
    }

    fn waker(&self) -> Option<crate::jail::Waker> {
        let h = self.watcher.stop_handle();
        Some(Box::new(move || h.stop()))
    }

    fn save_position(&mut self) {
        let Some(db) = &self.db else { return };
        let db = relock(db);
        for t in self.watcher.tailers() {
            let p = t.position();
            if let Err(e) = db.update_log(
                &self.jail,
                &t.path().to_string_lossy(),
                p.pos,
                Some(&p.first_line_md5),
            ) {
                crate::log!("fail2ban.database", Level::ERROR, "{e}");
            }
        }
    }
}

/// The systemd journal, read through `journalmatch`.
struct JournalSource {
    jail: String,
    reader: JournalReader,
    matches_text: String,
    initial_done: bool,
    last_time: Option<f64>,
    db: Option<SharedDb>,
    /// The current line, reused from entry to entry.
    line: String,
}

impl LineSource for JournalSource {
    fn poll(&mut self, timeout: Duration, sink: &mut dyn FnMut(SourceLine<'_>)) -> Vec<String> {
        let mut errors = Vec::new();
        let live = self.initial_done;
        let mut n = 0usize;
        loop {
            match self.reader.next_line_into(&mut self.line) {
                Ok(Some(time)) => {
                    self.last_time = Some(time);
                    sink(SourceLine {
                        text: &self.line,
                        time: Some(time),
                        live,
                    });
                    n += 1;
                    // Let the reader loop look at its stop flag during a long backlog.
                    if n >= 65536 {
                        return errors;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    errors.push(e.to_string());
                    break;
                }
            }
        }
        self.initial_done = true;
        if let Err(e) = self.reader.wait(timeout) {
            errors.push(e.to_string());
            std::thread::sleep(timeout);
        }
        errors
    }

    fn status(&self) -> (&'static str, Vec<String>) {
        ("Journal matches", vec![self.matches_text.clone()])
    }

    fn save_position(&mut self) {
        let (Some(db), Some(t)) = (&self.db, self.last_time) else {
            return;
        };
        let iso = crate::banmanager::time2str(t);
        if let Err(e) = relock(db).update_journal(&self.jail, "systemd-journal", t, Some(&iso)) {
            crate::log!("fail2ban.database", Level::ERROR, "{e}");
        }
    }
}

/// The filter of a jail.
struct FilterStage {
    jail: String,
    filter: Filter,
    /// Backtracking-limit hits already logged.
    limit_hits: u64,
    time_text: JournalTimeText,
}

/// The time text fail2ban puts before a journal line in its matches: Python's `isoformat()` of
/// the entry's time as the journal bindings give it, an aware datetime in the UTC offset the
/// process had when it started (one fixed offset for every entry, DST or not), e.g.
/// `2024-04-24T06:00:00.002021+02:00 ` (no fraction when it is zero), then a space.
struct JournalTimeText {
    offset_seconds: i32,
    /// `+HH:MM` (`+HH:MM:SS` for an offset with seconds).
    offset_text: String,
    /// The whole second `date` holds the local `YYYY-MM-DDTHH:MM:SS` of.
    second: Option<i64>,
    date: String,
    text: String,
}

impl JournalTimeText {
    fn new(offset_seconds: i32) -> JournalTimeText {
        let sign = if offset_seconds < 0 { '-' } else { '+' };
        let a = offset_seconds.unsigned_abs();
        let mut offset_text = format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60);
        if a % 60 != 0 {
            offset_text.push_str(&format!(":{:02}", a % 60));
        }
        JournalTimeText {
            offset_seconds,
            offset_text,
            second: None,
            date: String::new(),
            text: String::new(),
        }
    }

    /// The offset of the system time zone when the process first asked, as the journal
    /// bindings take it once when they are loaded (a jail started after a DST change still
    /// gets the offset of the daemon's start).
    fn system() -> JournalTimeText {
        static OFFSET: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
        let offset = OFFSET.get_or_init(|| {
            jiff::tz::TimeZone::system()
                .to_offset(jiff::Timestamp::now())
                .seconds()
        });
        JournalTimeText::new(*offset)
    }

    /// The text for an entry at `t` (seconds since the epoch), with its trailing space.
    fn text(&mut self, t: f64) -> &str {
        use std::fmt::Write;
        let usec = (t * 1e6).round();
        if !usec.is_finite() || usec.abs() > 1e17 {
            return "";
        }
        let usec = usec as i64;
        let (second, micro) = (usec.div_euclid(1_000_000), usec.rem_euclid(1_000_000));
        if self.second != Some(second) {
            let Ok(ts) = jiff::Timestamp::from_second(second + i64::from(self.offset_seconds))
            else {
                return "";
            };
            // The timestamp moved by the offset, read as UTC, gives the local wall time.
            self.date.clear();
            let _ = write!(self.date, "{}", ts.strftime("%Y-%m-%dT%H:%M:%S"));
            self.second = Some(second);
        }
        self.text.clear();
        self.text.push_str(&self.date);
        if micro != 0 {
            // `.ffffff` without the formatting machinery: this runs for every journal line.
            let mut digits = [b'0'; 7];
            digits[0] = b'.';
            let mut m = micro;
            for d in digits[1..].iter_mut().rev() {
                *d = b'0' + (m % 10) as u8;
                m /= 10;
            }
            self.text
                .push_str(std::str::from_utf8(&digits).unwrap_or_default());
        }
        self.text.push_str(&self.offset_text);
        self.text.push(' ');
        &self.text
    }
}

impl LineFilter for FilterStage {
    fn process(&mut self, line: &SourceLine<'_>, now: f64, out: &mut Vec<Found>) {
        let outcome = match line.time {
            Some(t) => {
                let time_text = self.time_text.text(t);
                self.filter.process_journal_line(line.text, t, time_text)
            }
            None => self.filter.process_line(line.text, now),
        };
        let hits = self.filter.regex_limit_hits();
        if hits != self.limit_hits {
            self.limit_hits = hits;
            crate::log!(
                "fail2ban.filter",
                Level::ERROR,
                "[{}] Regex backtracking limit reached, line skipped ({hits} so far): {:?}",
                self.jail,
                line.text.chars().take(200).collect::<String>()
            );
        }
        if outcome.failures.is_empty() {
            return;
        }
        // The outcome is ours: its strings move into the failures, none is copied.
        for f in outcome.failures {
            if f.nofail || f.ip.is_none() {
                continue;
            }
            let mut captures = f.groups;
            if !captures.contains_key("ip") {
                captures.insert("ip".to_string(), f.fid.clone());
            }
            out.push(Found {
                id: f.fid,
                time: f.time,
                matches: f.matches,
                captures,
            });
        }
    }
}

/// `bantime.increment` over the database (fail2ban's observer).
struct IncrementObserver {
    jail: String,
    inc: BanTimeIncrement,
    db: SharedDb,
}

impl BanObserver for IncrementObserver {
    fn failure_found(
        &self,
        id: &str,
        time: f64,
        maxretry: u32,
        known_bans: u32,
    ) -> Option<(u32, u32)> {
        let record = match relock(&self.db).get_ban(id, Some(&self.jail), false, None, None, now())
        {
            Ok(r) => r.into_iter().next(),
            Err(e) => {
                crate::log!("fail2ban.observer", Level::ERROR, "{e}");
                return None;
            }
        };
        match self.inc.failure_found(record, known_bans, time, maxretry) {
            FailureFound::AddRetries { extra, ban_count } => Some((extra, ban_count)),
            FailureFound::Nothing => None,
        }
    }

    fn ban_found(&self, ticket: &mut BanTicket, jail_ban_time: BanTime) -> Option<BanTime> {
        let before = ticket.ban_time_or(jail_ban_time);
        let t_now = now();
        let db = relock(&self.db);
        let record = if self.inc.enabled && !ticket.restored() {
            match db.get_ban(
                ticket.id(),
                Some(&self.jail),
                self.inc.over_all_jails,
                None,
                None,
                t_now,
            ) {
                Ok(r) => r.into_iter().next(),
                Err(e) => {
                    crate::log!("fail2ban.observer", Level::ERROR, "{e}");
                    None
                }
            }
        } else {
            None
        };
        let found = match self
            .inc
            .ban_found(ticket, jail_ban_time, record, t_now, &mut random_unit)
        {
            Ok(f) => f,
            Err(e) => {
                crate::log!("fail2ban.observer", Level::ERROR, "{e}");
                return None;
            }
        };
        if let (Some(rec), BanTime::Seconds(old), false) = (record, before, ticket.restored()) {
            crate::log!(
                "fail2ban.observer",
                Level::INFO,
                "[{}] IP {} is bad: {} # last {} - incr {} to {}",
                self.jail,
                ticket.id(),
                rec.ban_count,
                crate::banmanager::time2str(rec.time_of_ban),
                seconds2str(old),
                match found.ban_time {
                    BanTime::Permanent => "-1".to_string(),
                    BanTime::Seconds(s) => seconds2str(s),
                }
            );
        }
        if found.record {
            if let Err(e) = db.add_ban(&self.jail, ticket, jail_ban_time) {
                crate::log!("fail2ban.database", Level::ERROR, "{e}");
            }
        }
        (found.ban_time != before).then_some(found.ban_time)
    }
}

/// The increment settings of a jail in the observer's terms.
fn increment_options(i: &f2b_config::BanTimeIncrement) -> IncrementOptions {
    IncrementOptions {
        increment: true,
        factor: i.factor.clone(),
        formula: i.formula.clone(),
        multipliers: (!i.multipliers.is_empty()).then(|| {
            i.multipliers
                .iter()
                .map(|m| format!("{}", *m as i64))
                .collect::<Vec<_>>()
                .join(" ")
        }),
        max_time: i.maxtime,
        rnd_time: i.rndtime,
        over_all_jails: i.overalljails,
    }
}

/// Bans recorded in fail2ban's database.
struct DbStore {
    db: SharedDb,
}

impl BanStore for DbStore {
    fn add_bans(&self, jail: &str, tickets: &[BanTicket], default: BanTime) {
        if let Err(e) = relock(&self.db).add_bans(jail, tickets, default) {
            crate::log!("fail2ban.database", Level::ERROR, "{e}");
        }
    }

    fn del_ban(&self, jail: &str, ip: &str) {
        if let Err(e) = relock(&self.db).del_ban(jail, &[ip]) {
            crate::log!("fail2ban.database", Level::ERROR, "{e}");
        }
    }
}

fn usedns(u: f2b_config::UseDns) -> f2b_filter::UseDns {
    match u {
        f2b_config::UseDns::Yes => f2b_filter::UseDns::Yes,
        f2b_config::UseDns::Warn => f2b_filter::UseDns::Warn,
        f2b_config::UseDns::No => f2b_filter::UseDns::No,
        f2b_config::UseDns::Raw => f2b_filter::UseDns::Raw,
    }
}

/// Builds jails from specs with the real backends, filter, actions and database.
pub struct Builder {
    pub db: Option<SharedDb>,
    pub actions: crate::daemon::ActionsFactory,
    /// Filters compiled ahead by [`JailBuilder::prepare`], by jail name.
    pub prepared: Mutex<HashMap<String, Result<Filter, String>>>,
}

impl Builder {
    pub fn new(db: Option<SharedDb>, actions: crate::daemon::ActionsFactory) -> Builder {
        Builder {
            db,
            actions,
            prepared: Mutex::new(HashMap::new()),
        }
    }

    fn filter(&self, spec: &JailSpec) -> Result<Filter, String> {
        if let Some(f) = relock(&self.prepared).remove(&spec.name) {
            return f;
        }
        compile_filter(spec)
    }
}

/// Compiling the regexes is most of a jail's start-up: done on every core at once.
fn compile_all(specs: &[JailSpec]) -> Vec<(String, Result<Filter, String>)> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(specs.len());
    if workers <= 1 {
        return specs
            .iter()
            .map(|s| (s.name.clone(), compile_filter(s)))
            .collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out = Mutex::new(Vec::with_capacity(specs.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let spawned = std::thread::Builder::new()
                .stack_size(crate::jail::WORKER_STACK)
                .spawn_scoped(scope, || loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(spec) = specs.get(i) else { break };
                    let f = compile_filter(spec);
                    relock(&out).push((spec.name.clone(), f));
                });
            if spawned.is_err() {
                break;
            }
        }
    });
    out.into_inner().unwrap_or_else(|e| e.into_inner())
}

fn compile_filter(spec: &JailSpec) -> Result<Filter, String> {
    let opts = FilterOptions {
        prefregex: spec.prefregex.clone(),
        failregex: spec.failregex.clone(),
        ignoreregex: spec.ignoreregex.clone(),
        maxlines: spec.maxlines.unwrap_or(1).max(1),
        datepattern: spec.datepattern.clone(),
        logtimezone: spec.logtimezone.clone(),
        usedns: usedns(spec.usedns),
        // the daemon applies fail2ban's time rules itself, per line (see jail.rs)
        in_operation: false,
        ..FilterOptions::default()
    };
    let mut filter = Filter::new(opts).map_err(|e| e.to_string())?;
    match spec.usedns {
        f2b_config::UseDns::Yes => filter.set_resolver(Box::new(SystemResolver::new(false))),
        f2b_config::UseDns::Warn => filter.set_resolver(Box::new(SystemResolver::new(true))),
        f2b_config::UseDns::No | f2b_config::UseDns::Raw => {}
    }
    Ok(filter)
}

/// Split journalmatch tokens into alternatives at `+`.
fn match_groups(tokens: &[String]) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for t in tokens {
        if t == "+" {
            out.push(Vec::new());
        } else if let Some(last) = out.last_mut() {
            last.push(t.clone());
        }
    }
    out.retain(|g| !g.is_empty());
    out
}

impl JailBuilder for Builder {
    fn prepare(&self, specs: &[JailSpec]) {
        let compiled = compile_all(specs);
        relock(&self.prepared).extend(compiled);
    }

    fn build(
        &self,
        spec: &JailSpec,
        restore: Vec<BanTicket>,
        fail_total: u64,
    ) -> Result<JailParts, String> {
        let name = spec.name.clone();
        let bantime = BanTime::from_secs(spec.bantime);
        let filter = self.filter(spec)?;
        let encoding = match spec.logencoding.as_deref() {
            None | Some("auto") => LogEncoding::from_locale(),
            Some(e) => LogEncoding::parse(e).map_err(|e| e.to_string())?,
        };
        let backend = BackendSpec::from_parts(&spec.backend.kind, &spec.backend.options)
            .map_err(|e| e.to_string())?;
        crate::log!(
            "fail2ban.jail",
            Level::INFO,
            "Jail '{name}' uses {}",
            match &backend {
                BackendSpec::Files(FileBackend::Inotify) => "pyinotify {}",
                BackendSpec::Files(FileBackend::Polling) => "poller {}",
                BackendSpec::Systemd(_) => "systemd {}",
            }
        );
        let db = self.db.clone();
        let (source, source_status): (crate::jail::SourceFactory, _) = match backend {
            BackendSpec::Files(kind) => {
                let logpaths = spec.logpaths.clone();
                let jail = name.clone();
                let status = (
                    "File list",
                    logpaths
                        .iter()
                        .map(|(p, _)| p.to_string_lossy().into_owned())
                        .collect(),
                );
                (
                    Box::new(move || {
                        let mut src = FileSource {
                            jail,
                            watcher: FileWatcher::new(kind),
                            pending: Vec::new(),
                            last_retry: Instant::now(),
                            initial_done: false,
                            encoding,
                            db,
                        };
                        for (p, tail) in logpaths {
                            if !src.open_one(&p, tail, true) {
                                src.pending.push((p, tail));
                            }
                        }
                        Ok(Box::new(src) as Box<dyn LineSource>)
                    }),
                    status,
                )
            }
            BackendSpec::Systemd(opts) => {
                let groups = match_groups(&spec.journalmatch);
                let text = groups
                    .iter()
                    .map(|g| g.join(" "))
                    .collect::<Vec<_>>()
                    .join(" + ");
                let findtime = spec.findtime;
                let jail = name.clone();
                let matches_text = text.clone();
                let opts: JournalOptions = opts;
                (
                    Box::new(move || {
                        // fail2ban starts reading the journal findtime ago, or where it stopped
                        // last time when that is later.
                        let mut start = now() - findtime;
                        if let Some(db) = &db {
                            // Asked without a time or text, as fail2ban asks: with them the
                            // stored text never matched and the saved position was dropped.
                            if let Ok(Some(saved)) =
                                relock(db).journal_pos(&jail, "systemd-journal", 0.0, None)
                            {
                                start = start.max(saved);
                            }
                        }
                        let reader = JournalReader::open(
                            &opts,
                            &groups,
                            JournalStart::Time(start),
                            encoding,
                        )
                        .map_err(|e| e.to_string())?;
                        Ok(Box::new(JournalSource {
                            jail,
                            reader,
                            matches_text,
                            initial_done: false,
                            last_time: None,
                            db,
                            line: String::new(),
                        }) as Box<dyn LineSource>)
                    }),
                    ("Journal matches", vec![text]),
                )
            }
        };
        let actions = (self.actions)(spec)?;
        let ignore = IgnoreList::from_spec(spec);
        let mut restore = restore;
        if restore.is_empty() {
            if let Some(db) = &self.db {
                let db = relock(db);
                let _ = db.add_jail(&name);
                let max_time = spec
                    .bantime_increment
                    .as_ref()
                    .map(|i| i.maxtime.unwrap_or(-1.0));
                match db.restore_bans(&name, bantime, max_time, spec.maxmatches as usize, now()) {
                    Ok(tickets) => restore = tickets.into_iter().map(BanTicket::from).collect(),
                    Err(e) => crate::log!(
                        "fail2ban.database",
                        Level::ERROR,
                        "Restore bans failed: {e}"
                    ),
                }
            }
        }
        let observer = match (&spec.bantime_increment, &self.db) {
            (Some(i), Some(db)) => {
                let inc = BanTimeIncrement::new(&increment_options(i))
                    .map_err(|e| format!("bantime.increment: {e}"))?;
                Some(Arc::new(IncrementObserver {
                    jail: name.clone(),
                    inc,
                    db: Arc::clone(db),
                }) as Arc<dyn BanObserver>)
            }
            (Some(_), None) => {
                crate::log!(
                    "fail2ban.jail",
                    Level::WARNING,
                    "ban time increment is not available as long jail database is not set"
                );
                None
            }
            _ => None,
        };
        crate::log!(
            LOG_FILTER,
            Level::INFO,
            "  maxLines: {}",
            spec.maxlines.unwrap_or(1)
        );
        crate::log!(LOG_FILTER, Level::INFO, "  maxRetry: {}", spec.maxretry);
        crate::log!(
            LOG_FILTER,
            Level::INFO,
            "  findtime: {}",
            spec.findtime as i64
        );
        crate::log!(
            "fail2ban.actions",
            Level::INFO,
            "  banTime: {}",
            spec.bantime as i64
        );
        Ok(JailParts {
            settings: JailSettings {
                name: name.clone(),
                maxretry: spec.maxretry,
                findtime: spec.findtime,
                bantime,
                maxmatches: spec.maxmatches as usize,
            },
            source,
            source_status,
            filter: Box::new(FilterStage {
                jail: name.clone(),
                filter,
                limit_hits: 0,
                time_text: JournalTimeText::system(),
            }),
            actions,
            ignore,
            store: self
                .db
                .clone()
                .map(|db| Arc::new(DbStore { db }) as Arc<dyn BanStore>),
            observer,
            restore,
            fail_total,
        })
    }

    fn forget(&self, jail: &str) {
        if let Some(db) = &self.db {
            let _ = relock(db).del_jail(jail);
        }
    }
}

/// How jails get their shell actions: every `action` of the jail as a fail2ban command action.
/// `allow_ipv6` is fail2ban.conf's `allowipv6` (auto counts as allowed).
pub fn shell_actions(allow_ipv6: bool, db: Option<SharedDb>) -> crate::daemon::ActionsFactory {
    Box::new(move |spec: &JailSpec| {
        let mut actions = Vec::new();
        for a in &spec.actions {
            if let Some((file, _)) = &a.python {
                crate::log!(
                    "fail2ban.jail",
                    Level::ERROR,
                    "[{}] Python action '{}' ({}) is not supported; the jail runs without it",
                    spec.name,
                    a.name,
                    file.display()
                );
                continue;
            }
            let def = ActionDef::new(a.name.clone(), a.commands.clone(), a.properties.clone());
            actions.push(CommandAction::new(def, spec.name.clone(), allow_ipv6));
        }
        let n = actions.len();
        Ok(Box::new(ShellActions {
            jail: spec.name.clone(),
            ban_time: BanTime::from_secs(spec.bantime),
            actions,
            db: db.clone(),
            counters: JailCounters::default(),
            epochs: Epochs {
                jail: 0,
                seen: vec![0; n],
                of_action: vec![0; n],
            },
            last_check: 0.0,
        }) as Box<dyn crate::jail::ActionSet>)
    })
}

/// Earlier bans of an address, read from the database only when a command uses them.
struct LockedHistory {
    db: SharedDb,
    jail: String,
}

impl BanHistory for LockedHistory {
    fn merged(&self, ip: &str, this_jail_only: bool) -> Option<TicketData> {
        let jail = this_jail_only.then_some(self.jail.as_str());
        relock(&self.db)
            .bans_merged(ip, jail)
            .ok()
            .flatten()
            .map(|m| m.data)
    }
}

/// The shell actions of one jail.
struct ShellActions {
    jail: String,
    ban_time: BanTime,
    actions: Vec<CommandAction>,
    db: Option<SharedDb>,
    counters: JailCounters,
    epochs: Epochs,
    /// When the actions were last checked after an "already banned" (at most every 3 s).
    last_check: f64,
}

/// The jail's ban epoch: one count over all its actions, raised by each repair, and the epoch
/// of each action's last repair (fail2ban numbers repairs per jail, so a ban made after one
/// action's repair is still missing from an action repaired later).
struct Epochs {
    jail: u64,
    /// Each action's own repair count when last looked at.
    seen: Vec<u64>,
    of_action: Vec<u64>,
}

impl Epochs {
    fn sync(&mut self, actions: &[CommandAction]) {
        for (i, a) in actions.iter().enumerate() {
            if self.seen.get(i).is_some_and(|s| *s != a.ban_epoch()) {
                self.jail += 1;
                self.seen[i] = a.ban_epoch();
                self.of_action[i] = self.jail;
            }
        }
    }
}

impl ShellActions {
    fn each(
        &mut self,
        t: &BanTicket,
        skip: &[String],
        op: fn(&mut CommandAction, &ActionInfo<'_>, f64) -> Result<(), ActionError>,
    ) -> Vec<(String, String)> {
        let history = self.db.clone().map(|db| LockedHistory {
            db,
            jail: self.jail.clone(),
        });
        let mut errors = Vec::new();
        for a in &mut self.actions {
            if skip.iter().any(|s| s == a.name()) || (t.restored() && a.norestored()) {
                continue;
            }
            let mut info = ActionInfo::new(t, self.ban_time).with_counters(self.counters);
            if let Some(h) = &history {
                info = info.with_history(h);
            }
            if let Err(e) = op(a, &info, now()) {
                errors.push((a.name().to_string(), e.to_string()));
            }
        }
        self.epochs.sync(&self.actions);
        errors
    }
}

impl crate::jail::ActionSet for ShellActions {
    fn start(&mut self) -> Vec<(String, String)> {
        let t = now();
        self.actions
            .iter_mut()
            .filter_map(|a| {
                a.start(t)
                    .err()
                    .map(|e| (a.name().to_string(), e.to_string()))
            })
            .collect()
    }
    fn stop(&mut self) -> Vec<(String, String)> {
        // fail2ban stops actions in reverse order.
        let t = now();
        self.actions
            .iter_mut()
            .rev()
            .filter_map(|a| {
                a.stop(t)
                    .err()
                    .map(|e| (a.name().to_string(), e.to_string()))
            })
            .collect()
    }
    fn ban(&mut self, t: &BanTicket) -> Vec<(String, String)> {
        self.each(t, &[], CommandAction::ban)
    }
    fn unban(&mut self, t: &BanTicket, skip: &[String]) -> Vec<(String, String)> {
        self.each(t, skip, CommandAction::unban)
    }
    fn flushable(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter(|a| a.has_flush())
            .map(|a| a.name().to_string())
            .collect()
    }
    fn flush(&mut self, action: &str) -> Result<(), String> {
        let t = now();
        match self.actions.iter_mut().find(|a| a.name() == action) {
            Some(a) => a.flush(t).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
    fn names(&self) -> Vec<String> {
        self.actions.iter().map(|a| a.name().to_string()).collect()
    }
    fn set_counters(&mut self, counters: JailCounters) {
        self.counters = counters;
    }
    fn set_ban_time(&mut self, bantime: BanTime) {
        self.ban_time = bantime;
    }
    fn ban_epoch(&self) -> u64 {
        self.epochs.jail
    }
    fn reban_actions(&self, epoch: u64) -> Vec<String> {
        self.actions
            .iter()
            .zip(&self.epochs.of_action)
            .filter(|(_, e)| **e > epoch)
            .map(|(a, _)| a.name().to_string())
            .collect()
    }
    fn reban(&mut self, t: &BanTicket, only: &[String]) -> Vec<(String, String)> {
        let history = self.db.clone().map(|db| LockedHistory {
            db,
            jail: self.jail.clone(),
        });
        let mut errors = Vec::new();
        for a in self
            .actions
            .iter_mut()
            .filter(|a| only.iter().any(|o| o == a.name()))
        {
            let mut info = ActionInfo::new(t, self.ban_time).with_counters(self.counters);
            if let Some(h) = &history {
                info = info.with_history(h);
            }
            if let Err(e) = a.reban(&info, now()) {
                errors.push((a.name().to_string(), e.to_string()));
                break;
            }
        }
        self.epochs.sync(&self.actions);
        errors
    }
    fn prolong(&mut self, t: &BanTicket) -> Vec<(String, String)> {
        let skip: Vec<String> = self
            .actions
            .iter()
            .filter(|a| !a.prolongable())
            .map(|a| a.name().to_string())
            .collect();
        self.each(t, &skip, CommandAction::prolong)
    }
    fn consistency_check(&mut self) {
        let t = now();
        if t <= self.last_check + 3.0 {
            return;
        }
        self.last_check = t;
        for a in &mut self.actions {
            a.consistency_check(t, None);
        }
        self.epochs.sync(&self.actions);
    }
}

#[cfg(test)]
mod tests {
    use super::JournalTimeText;

    #[test]
    fn journal_time_text_is_isoformat_with_the_offset() {
        let mut utc = JournalTimeText::new(0);
        assert_eq!(
            utc.text(1_713_931_200.002021),
            "2024-04-24T04:00:00.002021+00:00 "
        );
        // no fraction when it is zero, as Python prints it
        assert_eq!(utc.text(1_713_931_200.0), "2024-04-24T04:00:00+00:00 ");
        // the cached second is not reused for the next one
        assert_eq!(
            utc.text(1_713_931_201.5),
            "2024-04-24T04:00:01.500000+00:00 "
        );
        let mut east = JournalTimeText::new(5 * 3600 + 45 * 60);
        assert_eq!(
            east.text(1_713_931_200.25),
            "2024-04-24T09:45:00.250000+05:45 "
        );
        let mut west = JournalTimeText::new(-(3 * 3600 + 30 * 60));
        assert_eq!(west.text(1_713_931_200.0), "2024-04-24T00:30:00-03:30 ");
        // before the epoch the fraction still counts up from the whole second below
        assert_eq!(utc.text(-0.25), "1969-12-31T23:59:59.750000+00:00 ");
        assert_eq!(utc.text(f64::NAN), "");
    }

    /// The same text as python-systemd's conversion that fail2ban 1.0.2 formats with
    /// `isoformat()`, for zones east and west of UTC, with and without fractions.
    #[test]
    fn journal_time_text_matches_python_systemd() {
        let py = "/usr/bin/python3";
        let probe = std::process::Command::new(py)
            .args(["-c", "import systemd.journal"])
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            eprintln!("skipped: {py} with python3-systemd is not installed");
            return;
        }
        let stamps: [i64; 4] = [
            1_713_931_200_002_021,
            1_713_931_200_000_000,
            1_700_000_000_999_999,
            1_719_792_000_000_001,
        ];
        for zone in ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu"] {
            let script = format!(
                "from systemd import journal\nfor t in {stamps:?}:\n    print(journal._convert_realtime(t).isoformat())\n"
            );
            let out = std::process::Command::new(py)
                .env("TZ", zone)
                .args(["-c", &script])
                .output()
                .expect("python runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let want = String::from_utf8_lossy(&out.stdout);
            let offset = jiff::tz::TimeZone::get(zone)
                .expect("zone known")
                .to_offset(jiff::Timestamp::now())
                .seconds();
            let mut tt = JournalTimeText::new(offset);
            for (t, w) in stamps.iter().zip(want.lines()) {
                let secs = t.div_euclid(1_000_000) as f64 + t.rem_euclid(1_000_000) as f64 / 1e6;
                assert_eq!(tt.text(secs), format!("{w} "), "zone {zone}, stamp {t}");
            }
        }
    }
}
