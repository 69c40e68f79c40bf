//! One jail at work: its reader thread (backend -> filter -> failure counter) and its action
//! worker (ban manager -> actions, and the unban timer).
//!
//! The reader owns everything it touches per line (source, filter, failure counter), so reading
//! takes no lock per line; it only publishes counters through atomics and hands ban tickets to
//! the worker over a channel. The worker runs the (possibly slow) shell actions, so a slow
//! action delays only its own jail's bans, never the reading of any jail.
//!
//! The stages are small traits ([`LineSource`], [`LineFilter`], [`ActionSet`]) so the pipeline
//! is testable with in-memory stages; [`crate::stages`] builds the real ones from a `JailSpec`.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

pub use crate::banmanager::time2str;
use crate::banmanager::{AddBan, BanManager};
use crate::failmanager::FailManager;
use crate::ignore::IgnoreList;
use crate::logging::Level;
use crate::ticket::{BanTicket, BanTime, FailTicket, TicketData};

/// Wall-clock time as Unix seconds.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// One line from a backend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceLine<'a> {
    pub text: &'a str,
    /// The entry's own time when the backend knows it (journal); files leave it to the filter.
    pub time: Option<f64>,
    /// False while the backend reads what was already there at start (fail2ban's
    /// "initialization" phase: old entries are dropped), true for lines appended since.
    pub live: bool,
}

/// A backend as the reader thread sees it (it lives on that thread only).
pub trait LineSource {
    /// Wait up to `timeout` for lines and hand each to `sink`. Errors are returned for the
    /// log and the reader carries on (a log file that vanished may come back).
    fn poll(&mut self, timeout: Duration, sink: &mut dyn FnMut(SourceLine<'_>)) -> Vec<String>;
    /// `status JAIL` rows that describe the source ("File list" or "Journal matches").
    fn status(&self) -> (&'static str, Vec<String>);
    /// Persist positions (files) or the last entry time (journal); called periodically and at stop.
    fn save_position(&mut self) {}
    /// How long a poll may sleep when nothing happens; sources that can be woken (see
    /// [`LineSource::waker`]) sleep longer, which keeps an idle daemon near zero CPU.
    fn idle_wait(&self) -> Duration {
        Duration::from_secs(1)
    }
    /// Something that interrupts a sleeping poll from another thread (to stop the jail now).
    fn waker(&self) -> Option<Waker> {
        None
    }
}

/// Wakes a sleeping source (called from the thread that stops the jail).
pub type Waker = Box<dyn Fn() + Send + Sync>;

/// A failure found by the filter in one line.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub id: String,
    pub time: f64,
    pub matches: Vec<String>,
    /// `<F-*>` captures and `ip` under fail2ban's option names.
    pub captures: BTreeMap<String, String>,
}

/// A filter as the reader thread sees it.
pub trait LineFilter: Send {
    /// Evaluate one line read at `now`; push its failures into `out`.
    fn process(&mut self, line: &SourceLine<'_>, now: f64, out: &mut Vec<Found>);
}

/// A jail's actions as the action worker sees them. Errors are (action name, message).
pub trait ActionSet: Send {
    fn start(&mut self) -> Vec<(String, String)>;
    fn stop(&mut self) -> Vec<(String, String)>;
    fn ban(&mut self, ticket: &BanTicket) -> Vec<(String, String)>;
    /// actionunban of every action but those named in `skip`.
    fn unban(&mut self, ticket: &BanTicket, skip: &[String]) -> Vec<(String, String)>;
    /// Names of the actions that have an `actionflush`.
    fn flushable(&self) -> Vec<String>;
    /// Run one action's `actionflush`.
    fn flush(&mut self, action: &str) -> Result<(), String>;
    /// Action names, in configuration order (`get JAIL actions`).
    fn names(&self) -> Vec<String>;
    /// The jail's counters for `<jail.banned>` and friends in the next commands.
    fn set_counters(&mut self, _counters: crate::actions::JailCounters) {}
    /// The jail's current ban time, for `<bantime>` of tickets without their own.
    fn set_ban_time(&mut self, _bantime: BanTime) {}
    /// The jail's ban epoch: raised each time an action had to repair its environment; a ban
    /// of an older epoch is missing from the repaired actions.
    fn ban_epoch(&self) -> u64 {
        0
    }
    /// Names of the actions repaired after a ban of epoch `epoch` was made.
    fn reban_actions(&self, _epoch: u64) -> Vec<String> {
        Vec::new()
    }
    /// actionreban (actionban when it has none) of the named actions; stops at the first error.
    fn reban(&mut self, _ticket: &BanTicket, _only: &[String]) -> Vec<(String, String)> {
        Vec::new()
    }
    /// actionprolong of the actions that have one (the ban time of a banned ticket grew).
    fn prolong(&mut self, _ticket: &BanTicket) -> Vec<(String, String)> {
        Vec::new()
    }
    /// actioncheck of every action (repairing what is broken), at most every 3 s.
    fn consistency_check(&mut self) {}
}

/// Where bans are persisted (the fail2ban database); all no-ops without one.
pub trait BanStore: Send + Sync {
    /// Record new bans in one go; `default`: the jail's ban time, for a ticket without its own.
    fn add_bans(&self, jail: &str, tickets: &[BanTicket], default: BanTime);
    fn del_ban(&self, jail: &str, ip: &str);
}

/// `bantime.increment` as the pipeline sees it (fail2ban's observer): known bad IDs count more
/// per failure, and their bans grow.
pub trait BanObserver: Send + Sync {
    /// A failure of `id` at `time` was counted: when `id` was banned before, the retries to
    /// add on top (and its ban count), else `None`.
    /// `known_bans`: the ban count the failure counter's ticket already carries.
    fn failure_found(
        &self,
        id: &str,
        time: f64,
        maxretry: u32,
        known_bans: u32,
    ) -> Option<(u32, u32)>;
    /// A ban was just added: raise the ticket's ban time from the history and record the ban.
    /// Returns the ban time when it changed.
    fn ban_found(&self, ticket: &mut BanTicket, jail_ban_time: BanTime) -> Option<BanTime>;
}

/// Static settings of a running jail.
#[derive(Debug, Clone)]
pub struct JailSettings {
    pub name: String,
    pub maxretry: u32,
    pub findtime: f64,
    pub bantime: BanTime,
    pub maxmatches: usize,
}

/// Counters and lists the reader publishes for `status`.
#[derive(Debug, Default)]
struct ReaderStats {
    currently_failed: AtomicUsize,
    total_failed: AtomicU64,
}

/// What the worker is asked to do.
enum Job {
    Ban(BanTicket),
    BanManual(Vec<String>, Sender<usize>),
    Unban(Vec<String>, Sender<usize>),
    UnbanAll(Sender<usize>),
}

/// State shared by the reader, the worker and the control socket.
struct Shared {
    settings: Mutex<JailSettings>,
    stop: AtomicBool,
    stats: ReaderStats,
    bans: Mutex<BanManager>,
    ignore: Mutex<IgnoreList>,
    source_status: Mutex<(&'static str, Vec<String>)>,
    /// Wakes the current reader's source, when it can be woken.
    waker: Mutex<Option<Waker>>,
    action_names: Mutex<Vec<String>>,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running jail.
pub struct Jail {
    name: String,
    shared: Arc<Shared>,
    jobs: Mutex<Option<Sender<Job>>>,
    /// (reader, worker), taken when the jail stops.
    threads: Mutex<Threads>,
    /// Stop flag of the current reader (a reload may replace the reader alone).
    reader_stop: Mutex<Arc<AtomicBool>>,
    observer: Option<Arc<dyn BanObserver>>,
}

type Threads = (Option<JoinHandle<()>>, Option<JoinHandle<()>>);

/// The parts a jail is built from.
/// Opens the jail's source on its reader thread (a journal handle may not cross threads).
pub type SourceFactory = Box<dyn FnOnce() -> Result<Box<dyn LineSource>, String> + Send>;

pub struct JailParts {
    pub settings: JailSettings,
    pub source: SourceFactory,
    /// `status` rows of the source until the reader publishes its own.
    pub source_status: (&'static str, Vec<String>),
    pub filter: Box<dyn LineFilter>,
    pub actions: Box<dyn ActionSet>,
    pub ignore: IgnoreList,
    pub store: Option<Arc<dyn BanStore>>,
    /// `bantime.increment`, when enabled (it then records bans itself).
    pub observer: Option<Arc<dyn BanObserver>>,
    /// Bans from the database to re-apply at start ("Restore Ban").
    pub restore: Vec<BanTicket>,
    /// Failure total to start from (kept across a reload).
    pub fail_total: u64,
}

/// `status JAIL` figures.
#[derive(Debug, Clone, PartialEq)]
pub struct JailStatus {
    pub currently_failed: usize,
    pub total_failed: u64,
    pub source: (&'static str, Vec<String>),
    pub currently_banned: usize,
    pub total_banned: u64,
    pub banned: Vec<String>,
}

/// Stack of the per-jail threads. They run the filter (regex engines keep their state on
/// the heap) and shell actions; the default 8 MiB per thread is reserved address space that
/// 100+ threads do not need.
pub const WORKER_STACK: usize = 512 * 1024;

/// Most bans recorded in one database transaction (and admitted before their actions run).
const BAN_CHUNK: usize = 512;

const LOG_FILTER: &str = "fail2ban.filter";
const LOG_ACTIONS: &str = "fail2ban.actions";
const LOG_JAIL: &str = "fail2ban.jail";
const LOG_OBSERVER: &str = "fail2ban.observer";

impl Jail {
    /// Start the jail: actionstart, restored bans, then the reader.
    pub fn start(parts: JailParts) -> std::io::Result<Jail> {
        let JailParts {
            settings,
            source,
            source_status,
            filter,
            actions,
            ignore,
            store,
            observer,
            restore,
            fail_total,
        } = parts;
        let name = settings.name.clone();
        let mut bm = BanManager::new();
        bm.set_ban_time(settings.bantime);
        let shared = Arc::new(Shared {
            settings: Mutex::new(settings.clone()),
            stop: AtomicBool::new(false),
            stats: ReaderStats::default(),
            bans: Mutex::new(bm),
            ignore: Mutex::new(ignore),
            source_status: Mutex::new(source_status),
            waker: Mutex::new(None),
            action_names: Mutex::new(actions.names()),
        });
        shared
            .stats
            .total_failed
            .store(fail_total, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        let worker = {
            let shared = Arc::clone(&shared);
            let name = name.clone();
            let observer = observer.clone();
            std::thread::Builder::new()
                .name(format!("f2b-act-{name}"))
                .stack_size(WORKER_STACK)
                .spawn(move || {
                    action_worker(&name, &shared, actions, store, observer, restore, rx)
                })?
        };
        let reader_stop = Arc::new(AtomicBool::new(false));
        let reader = spawn_reader(
            &name,
            &shared,
            source,
            filter,
            tx.clone(),
            fail_total,
            observer.clone(),
            Arc::clone(&reader_stop),
        )?;
        crate::log!(LOG_JAIL, Level::INFO, "Jail '{name}' started");
        Ok(Jail {
            name,
            shared,
            jobs: Mutex::new(Some(tx)),
            threads: Mutex::new((Some(reader), Some(worker))),
            reader_stop: Mutex::new(reader_stop),
            observer,
        })
    }

    /// Reload a jail whose actions and ban time did not change: only the reader (source,
    /// filter, failure counter) is replaced; the ban list and the actions stay as they are, so
    /// no ban is lifted even for a moment. `parts`' actions, store and restore are unused.
    pub fn replace_reader(&self, parts: JailParts) -> std::io::Result<()> {
        let Some(tx) = relock(&self.jobs).clone() else {
            return Err(std::io::Error::other("jail is stopping"));
        };
        let old = relock(&self.threads).0.take();
        relock(&self.reader_stop).store(true, Ordering::SeqCst);
        self.wake_reader();
        if let Some(r) = old {
            let _ = r.join();
        }
        {
            let mut st = relock(&self.shared.settings);
            let bantime = st.bantime;
            *st = parts.settings;
            st.bantime = bantime;
        }
        *relock(&self.shared.ignore) = parts.ignore;
        *relock(&self.shared.source_status) = parts.source_status;
        let flag = Arc::new(AtomicBool::new(false));
        let total = self.shared.stats.total_failed.load(Ordering::Relaxed);
        let reader = spawn_reader(
            &self.name,
            &self.shared,
            parts.source,
            parts.filter,
            tx,
            total,
            self.observer.clone(),
            Arc::clone(&flag),
        )?;
        *relock(&self.reader_stop) = flag;
        relock(&self.threads).0 = Some(reader);
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stop reading, unban everything through the actions, run actionstop, and wait. Returns
    /// the failure total (carried into the jail that replaces this one on reload). Idempotent.
    pub fn stop(&self) -> u64 {
        self.request_stop();
        let (reader, worker) = {
            let mut th = relock(&self.threads);
            (th.0.take(), th.1.take())
        };
        if reader.is_none() && worker.is_none() {
            return self.shared.stats.total_failed.load(Ordering::Relaxed);
        }
        if let Some(r) = reader {
            let _ = r.join();
        }
        if let Some(w) = worker {
            let _ = w.join();
        }
        crate::log!(LOG_JAIL, Level::INFO, "Jail '{}' stopped", self.name);
        self.shared.stats.total_failed.load(Ordering::Relaxed)
    }

    /// Tell both threads to finish without waiting: the reader at its next poll, the worker
    /// (unbans, actionstop) once the reader is gone. Many jails stop in parallel this way.
    pub fn request_stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        relock(&self.reader_stop).store(true, Ordering::SeqCst);
        // Dropping our sender ends the worker once the reader's clone is gone too.
        relock(&self.jobs).take();
        self.wake_reader();
    }

    fn wake_reader(&self) {
        if let Some(w) = relock(&self.shared.waker).as_ref() {
            w();
        }
    }

    /// The current ban tickets, in ban order (to carry bans over a reload).
    pub fn tickets(&self) -> Vec<BanTicket> {
        relock(&self.shared.bans).tickets()
    }

    fn send(&self, job: Job) -> bool {
        match relock(&self.jobs).as_ref() {
            Some(tx) => tx.send(job).is_ok(),
            None => false,
        }
    }

    pub fn status(&self) -> JailStatus {
        let bm = relock(&self.shared.bans);
        JailStatus {
            currently_failed: self.shared.stats.currently_failed.load(Ordering::Relaxed),
            total_failed: self.shared.stats.total_failed.load(Ordering::Relaxed),
            source: relock(&self.shared.source_status).clone(),
            currently_banned: bm.size(),
            total_banned: bm.ban_total(),
            banned: bm.ids(),
        }
    }

    /// Banned IDs with their times, as `get JAIL banip --with-time` lists them.
    pub fn ban_list_with_time(&self) -> Vec<String> {
        let bm = relock(&self.shared.bans);
        bm.ban_list_with_time()
    }

    pub fn is_banned(&self, ip: &str) -> bool {
        relock(&self.shared.bans).contains(ip)
    }

    /// Banned IDs sorted by end of ban (`get JAIL banip`).
    pub fn ban_list(&self) -> Vec<String> {
        relock(&self.shared.bans).ban_list_ordered()
    }

    /// Banned IDs in ban order (`banned`, `status`).
    pub fn banned_ids(&self) -> Vec<String> {
        relock(&self.shared.bans).ids()
    }

    pub fn settings(&self) -> JailSettings {
        relock(&self.shared.settings).clone()
    }

    pub fn update_settings(&self, f: impl FnOnce(&mut JailSettings)) {
        let mut s = relock(&self.shared.settings);
        f(&mut s);
        relock(&self.shared.bans).set_ban_time(s.bantime);
    }

    pub fn ignore(&self) -> MutexGuard<'_, IgnoreList> {
        relock(&self.shared.ignore)
    }

    pub fn action_names(&self) -> Vec<String> {
        relock(&self.shared.action_names).clone()
    }

    /// Ban `ips` now through the worker; returns how many were newly banned.
    pub fn ban_ips(&self, ips: Vec<String>) -> usize {
        let (tx, rx) = mpsc::channel();
        if !self.send(Job::BanManual(ips, tx)) {
            return 0;
        }
        rx.recv().unwrap_or(0)
    }

    /// Unban `ips`; returns how many were banned here.
    pub fn unban_ips(&self, ips: Vec<String>) -> usize {
        let (tx, rx) = mpsc::channel();
        if !self.send(Job::Unban(ips, tx)) {
            return 0;
        }
        rx.recv().unwrap_or(0)
    }

    pub fn unban_all(&self) -> usize {
        let (tx, rx) = mpsc::channel();
        if !self.send(Job::UnbanAll(tx)) {
            return 0;
        }
        rx.recv().unwrap_or(0)
    }
}

impl Drop for Jail {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Per-jail "log once a day" memory for fail2ban's timing warnings.
#[derive(Default)]
struct WarnOnce {
    next: f64,
}

impl WarnOnce {
    fn due(&mut self, now: f64) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + 86400.0;
        true
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn_reader(
    name: &str,
    shared: &Arc<Shared>,
    source: SourceFactory,
    filter: Box<dyn LineFilter>,
    jobs: Sender<Job>,
    fail_total: u64,
    observer: Option<Arc<dyn BanObserver>>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    let shared = Arc::clone(shared);
    std::thread::Builder::new()
        .name(format!("f2b-read-{name}"))
        .stack_size(WORKER_STACK)
        .spawn(move || reader_loop(&shared, &stop, source, filter, jobs, fail_total, observer))
}

fn reader_loop(
    shared: &Shared,
    stop: &AtomicBool,
    source: SourceFactory,
    mut filter: Box<dyn LineFilter>,
    jobs: Sender<Job>,
    fail_total: u64,
    observer: Option<Arc<dyn BanObserver>>,
) {
    let name = relock(&shared.settings).name.clone();
    let mut source = match source() {
        Ok(s) => s,
        Err(e) => {
            crate::log!(LOG_FILTER, Level::ERROR, "[{name}] {e}");
            return;
        }
    };
    *relock(&shared.source_status) = source.status();
    *relock(&shared.waker) = source.waker();
    let idle_wait = source.idle_wait();
    // A stop requested while the source was opening has had no waker to call.
    if stop.load(Ordering::SeqCst) || shared.stop.load(Ordering::SeqCst) {
        source.save_position();
        return;
    }
    let mut fm = FailManager::new();
    fm.set_fail_total(fail_total);
    let mut found = Vec::new();
    let mut warn_old = WarnOnce::default();
    let mut warn_skew = WarnOnce::default();
    let mut last_save = now();
    let mut lines_seen: u64 = 0;
    while !stop.load(Ordering::Relaxed) && !shared.stop.load(Ordering::Relaxed) {
        // Settings may be changed from the control socket; a copy per batch is lock-free per line.
        let settings = relock(&shared.settings).clone();
        fm.set_max_retry(settings.maxretry);
        fm.set_max_time(settings.findtime);
        fm.set_max_matches(settings.maxmatches);
        let mut t_now = now();
        let mut clock_read = false;
        let errors = source.poll(idle_wait, &mut |line| {
            lines_seen += 1;
            // The clock is read when lines arrive, not before the wait for them: a line appended
            // during the wait was otherwise stamped (clamped) with the time the wait began. A
            // long initial read must still see the clock move.
            if !clock_read || lines_seen % 4096 == 0 {
                t_now = now();
                clock_read = true;
            }
            found.clear();
            filter.process(&line, t_now, &mut found);
            for f in found.drain(..) {
                let Some(time) = check_time(
                    &settings,
                    &line,
                    f.time,
                    t_now,
                    &mut warn_old,
                    &mut warn_skew,
                ) else {
                    continue;
                };
                let verdict = relock(&shared.ignore).check(&f.id, &|k| f.captures.get(k).cloned());
                if let Some(ignored) = verdict {
                    // fail2ban says nothing when the answer came from `ignorecache`.
                    if !ignored.cached {
                        crate::log!(
                            LOG_FILTER,
                            Level::INFO,
                            "[{}] Ignore {} by {}",
                            settings.name,
                            f.id,
                            ignored.source
                        );
                    }
                    continue;
                }
                crate::log!(
                    LOG_FILTER,
                    Level::INFO,
                    "[{}] Found {} - {}",
                    settings.name,
                    f.id,
                    time2str(time)
                );
                let data = TicketData {
                    failures: 0,
                    matches: f.matches,
                    captures: f.captures,
                };
                let id = f.id;
                let attempts = fm.add_failure(FailTicket::with_data(id.clone(), time, data), 1);
                // Published before any ban job is sent: the action worker hands these counters
                // to actionban (`<jail.found_total>`), and it may run before this thread goes on.
                shared
                    .stats
                    .total_failed
                    .store(fm.fail_total(), Ordering::Relaxed);
                if attempts >= settings.maxretry {
                    if let Some(t) = fm.to_ban(Some(&id)) {
                        shared
                            .stats
                            .currently_failed
                            .store(fm.size(), Ordering::Relaxed);
                        shared
                            .stats
                            .total_failed
                            .store(fm.fail_total(), Ordering::Relaxed);
                        let _ = jobs.send(Job::Ban(t));
                    }
                } else if let Some((extra, count)) = observer.as_ref().and_then(|o| {
                    let known = fm.get(&id).map(|t| t.ban_count()).unwrap_or(0);
                    o.failure_found(&id, time, settings.maxretry, known)
                }) {
                    let retries = extra + 1;
                    // fail2ban computes this count with a float division: it prints `2.0`
                    // unless maxretry (an int) capped it.
                    let raw = (1u64 << count.min(20)) / 2 + 1;
                    let shown = if raw <= u64::from(settings.maxretry) {
                        format!("{raw}.0")
                    } else {
                        settings.maxretry.to_string()
                    };
                    crate::log!(
                        LOG_OBSERVER,
                        Level::INFO,
                        "[{}] Found {id}, bad - {}, {count} # -> {shown}{}",
                        settings.name,
                        time2str(time),
                        if retries >= settings.maxretry {
                            ", Ban"
                        } else {
                            ""
                        }
                    );
                    if fm
                        .add_observed(&id, time, extra, count)
                        .is_some_and(|r| r >= settings.maxretry)
                    {
                        if let Some(t) = fm.to_ban(Some(&id)) {
                            shared
                                .stats
                                .currently_failed
                                .store(fm.size(), Ordering::Relaxed);
                            let _ = jobs.send(Job::Ban(t));
                        }
                    }
                }
                // Both counters move together, as in fail2ban's status: a source may block
                // for a while after handing over its lines (the journal waits up to 1 s), so
                // waiting for the poll to return would show a stale `Currently failed`.
                shared
                    .stats
                    .currently_failed
                    .store(fm.size(), Ordering::Relaxed);
                shared
                    .stats
                    .total_failed
                    .store(fm.fail_total(), Ordering::Relaxed);
            }
        });
        for e in errors {
            crate::log!(LOG_FILTER, Level::ERROR, "[{}] {e}", settings.name);
        }
        let t_now = now();
        fm.cleanup(t_now);
        shared
            .stats
            .currently_failed
            .store(fm.size(), Ordering::Relaxed);
        shared
            .stats
            .total_failed
            .store(fm.fail_total(), Ordering::Relaxed);
        if t_now - last_save > 10.0 {
            source.save_position();
            last_save = t_now;
            *relock(&shared.source_status) = source.status();
        }
    }
    source.save_position();
}

/// fail2ban's time rules for a failure: never in the future; while reading old content, drop
/// entries older than findtime; once live, treat an entry more than a minute off the clock as
/// happening now (a timezone or latency problem), warning once a day.
fn check_time(
    s: &JailSettings,
    line: &SourceLine,
    time: f64,
    now: f64,
    warn_old: &mut WarnOnce,
    warn_skew: &mut WarnOnce,
) -> Option<f64> {
    if line.live {
        let delta = (time - now).trunc();
        if delta.abs() > 60.0 {
            if warn_skew.due(now) {
                let kind = if (-3300.0..0.0).contains(&delta) {
                    "latency"
                } else {
                    "timezone"
                };
                crate::log!(
                    LOG_FILTER,
                    Level::WARNING,
                    "[{}] Detected a log entry {} {} the current time in operation mode. This looks like a {kind} problem. Treating such entries as if they just happened.",
                    s.name,
                    crate::observer::seconds2str(delta.abs()),
                    if delta < 0.0 { "before" } else { "after" }
                );
                crate::log!(
                    LOG_FILTER,
                    Level::WARNING,
                    "[{}] Please check a jail for a timing issue. Line with odd timestamp: {}",
                    s.name,
                    line.text
                );
            }
            return Some(now);
        }
    } else if time < now - s.findtime {
        if warn_old.due(now) {
            crate::log!(
                LOG_FILTER,
                Level::WARNING,
                "[{}] Ignoring all log entries older than {}s; these are probably messages generated while fail2ban was not running.",
                s.name,
                s.findtime as i64
            );
            crate::log!(
                LOG_FILTER,
                Level::WARNING,
                "[{}] Please check a jail for a timing issue. Line with odd timestamp: {}",
                s.name,
                line.text
            );
        }
        return None;
    }
    Some(time.min(now))
}

fn action_worker(
    name: &str,
    shared: &Shared,
    mut actions: Box<dyn ActionSet>,
    store: Option<Arc<dyn BanStore>>,
    observer: Option<Arc<dyn BanObserver>>,
    restore: Vec<BanTicket>,
    jobs: Receiver<Job>,
) {
    // actionstart runs here, so jails start (and a slow actionstart waits) in parallel.
    for (act, err) in actions.start() {
        crate::log!(
            LOG_ACTIONS,
            Level::ERROR,
            "Failed to start jail '{name}' action '{act}': {err}"
        );
    }
    let persist = Persist {
        store: store.as_deref(),
        observer: observer.as_deref(),
    };
    // One by one, as fail2ban does: a restored ban is listed as banned only once the bans
    // before it have been actioned (restored bans are not written to the store again).
    for mut t in restore {
        t.set_restored(true);
        do_ban(name, shared, actions.as_mut(), &persist, t);
    }
    let mut backlog: std::collections::VecDeque<Job> = std::collections::VecDeque::new();
    loop {
        let wait = {
            let bm = relock(&shared.bans);
            let secs = bm.next_unban_time() - now();
            // Jobs wake the worker at once; the timer only has to catch the next end of ban.
            // Bounded, so a NaN or odd end of ban can never stall or panic it.
            Duration::from_secs_f64(
                if secs.is_finite() {
                    secs.clamp(0.0, 30.0)
                } else {
                    1.0
                } + 0.001,
            )
        };
        let next = match backlog.pop_front() {
            Some(j) => Ok(j),
            None => jobs.recv_timeout(wait),
        };
        match next {
            Ok(Job::Ban(t)) => {
                // A burst of bans is recorded in one database transaction (one sync), then acted on.
                let mut batch = vec![t];
                while batch.len() < BAN_CHUNK {
                    match jobs.try_recv() {
                        Ok(Job::Ban(t)) => batch.push(t),
                        Ok(other) => {
                            backlog.push_back(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                ban_batch(name, shared, actions.as_mut(), &persist, batch);
            }
            Ok(Job::BanManual(ips, reply)) => {
                // each address is banned (and recorded) before the next one is looked at, as
                // fail2ban's `banip` does
                let mut n = 0;
                for ip in ips {
                    let mut t = BanTicket::new(ip.clone(), now());
                    t.set_capture("ip", ip);
                    if do_ban(name, shared, actions.as_mut(), &persist, t) {
                        n += 1;
                    }
                }
                let _ = reply.send(n);
            }
            Ok(Job::Unban(ips, reply)) => {
                let mut n = 0;
                for ip in ips {
                    let t = relock(&shared.bans).remove(&ip);
                    if let Some(t) = t {
                        do_unban(name, shared, actions.as_mut(), &t);
                        if let Some(st) = &store {
                            st.del_ban(name, t.id());
                        }
                        n += 1;
                    }
                }
                let _ = reply.send(n);
            }
            Ok(Job::UnbanAll(reply)) => {
                let all = relock(&shared.bans).flush();
                for t in &all {
                    do_unban(name, shared, actions.as_mut(), t);
                    if let Some(st) = &store {
                        st.del_ban(name, t.id());
                    }
                }
                let _ = reply.send(all.len());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let expired = relock(&shared.bans).unban_list(now(), usize::MAX);
        for t in &expired {
            do_unban(name, shared, actions.as_mut(), t);
        }
    }
    // At stop every ticket is unbanned: actions with an actionflush flush once, the others
    // unban ticket by ticket; then actionstop runs (what fail2ban does on jail stop).
    let tickets = relock(&shared.bans).flush();
    let mut flushed = Vec::new();
    for act in actions.flushable() {
        crate::log!(
            LOG_ACTIONS,
            Level::NOTICE,
            "[{name}] Flush ticket(s) with {act}"
        );
        match actions.flush(&act) {
            Ok(()) => flushed.push(act),
            Err(err) => {
                crate::log!(
                    LOG_ACTIONS,
                    Level::ERROR,
                    "Failed to flush bans in jail '{name}' action '{act}': {err}"
                );
                crate::log!(
                    LOG_ACTIONS,
                    Level::INFO,
                    "No flush occurred, do consistency check"
                );
            }
        }
    }
    for t in &tickets {
        do_unban_except(name, shared, actions.as_mut(), t, &flushed);
    }
    for (act, err) in actions.stop() {
        crate::log!(
            LOG_ACTIONS,
            Level::ERROR,
            "Failed to stop jail '{name}' action '{act}': {err}"
        );
    }
}

/// Ban one ticket: record it in the ban manager and the store, log, run every action's ban.
/// Returns whether the ticket was newly banned.
fn do_ban(
    name: &str,
    shared: &Shared,
    actions: &mut dyn ActionSet,
    persist: &Persist<'_>,
    t: BanTicket,
) -> bool {
    ban_batch(name, shared, actions, persist, vec![t]) == 1
}

/// Where a new ban is recorded: through the observer when `bantime.increment` is on (it
/// decides the ban time first), else straight into the store.
struct Persist<'a> {
    store: Option<&'a dyn BanStore>,
    observer: Option<&'a dyn BanObserver>,
}

/// Ban tickets: admit each into the ban manager (and through the observer), record the new
/// ones in the store at once, then log and run the actions for each. Returns how many were
/// newly banned.
fn ban_batch(
    name: &str,
    shared: &Shared,
    actions: &mut dyn ActionSet,
    persist: &Persist<'_>,
    tickets: Vec<BanTicket>,
) -> usize {
    let default_bantime = relock(&shared.bans).ban_time();
    let admitted: Vec<(BanTicket, Option<BanTime>)> = tickets
        .into_iter()
        .filter_map(|t| admit(name, shared, actions, persist, t, default_bantime))
        .collect();
    if let (None, Some(st)) = (persist.observer, persist.store) {
        let fresh: Vec<BanTicket> = admitted
            .iter()
            .filter(|(t, _)| !t.restored())
            .map(|(t, _)| t.clone())
            .collect();
        if !fresh.is_empty() {
            st.add_bans(name, &fresh, default_bantime);
        }
    }
    let n = admitted.len();
    for (t, increased) in admitted {
        apply_ban(name, shared, actions, &t, increased);
    }
    n
}

/// Put one ticket into the ban manager; with `bantime.increment`, let the observer raise its
/// ban time and record it. `None` when it is not a new ban.
fn admit(
    name: &str,
    shared: &Shared,
    actions: &mut dyn ActionSet,
    persist: &Persist<'_>,
    t: BanTicket,
    default_bantime: BanTime,
) -> Option<(BanTicket, Option<BanTime>)> {
    let id = t.id().to_string();
    let outcome = relock(&shared.bans).add_ban_ticket(t.clone(), now());
    let mut t = match outcome {
        AddBan::Added(t) => t,
        AddBan::Expired => {
            crate::log!(
                LOG_ACTIONS,
                Level::INFO,
                "[{name}] Ignore {id}, expired bantime"
            );
            return None;
        }
        AddBan::AlreadyBanned { ticket, .. } => {
            // fail2ban grades this message by how long after the ban the failure came.
            let diff = t.time() - ticket.time();
            let level = if diff < 3.0 {
                Level::DEBUG
            } else if diff < 60.0 {
                Level::NOTICE
            } else {
                Level::WARNING
            };
            crate::log!(LOG_ACTIONS, level, "[{name}] {id} already banned");
            if ticket.banned() {
                // A failure long after the ban suggests the ban is gone from the firewall:
                // check the actions (fail2ban does so for a ban of the current epoch only).
                if ticket.ban_epoch() == actions.ban_epoch() && diff > 3.0 {
                    actions.consistency_check();
                }
                // Actions repaired since this ban was made lost it: ban again with those.
                if ticket.ban_epoch() < actions.ban_epoch() {
                    let only = actions.reban_actions(ticket.ban_epoch());
                    reban(name, shared, actions, &ticket, &only);
                }
            }
            return None;
        }
    };
    let mut increased = None;
    if let (Some(obs), false) = (persist.observer, t.restored()) {
        if let Some(bt) = obs.ban_found(&mut t, default_bantime) {
            if let Some(stored) = relock(&shared.bans).get_mut(&id) {
                stored.set_ban_time(bt);
                stored.set_ban_count(t.ban_count());
            }
            increased = Some(bt);
        }
    }
    Some((t, increased))
}

/// Log a new ban and run every action's ban.
fn apply_ban(
    name: &str,
    shared: &Shared,
    actions: &mut dyn ActionSet,
    t: &BanTicket,
    increased: Option<BanTime>,
) {
    let id = t.id();
    crate::log!(
        LOG_ACTIONS,
        Level::NOTICE,
        "[{name}] {}Ban {id}",
        if t.restored() { "Restore " } else { "" }
    );
    if let Some(bt) = increased {
        let (len, end) = match bt {
            BanTime::Permanent => ("permanent".to_string(), "infinite".to_string()),
            BanTime::Seconds(s) => (crate::observer::seconds2str(s), time2str(t.time() + s)),
        };
        crate::log!(
            LOG_OBSERVER,
            Level::NOTICE,
            "[{name}] Increase Ban {id} ({} # {len} -> {end})",
            t.ban_count()
        );
    }
    prime(shared, actions);
    for (act, err) in actions.ban(t) {
        crate::log!(
            LOG_ACTIONS,
            Level::ERROR,
            "Failed to execute ban jail '{name}' action '{act}' info '{}': {err}",
            info_repr(t)
        );
    }
    mark_banned(shared, actions, id);
    // Actions with an actionprolong learn of the longer ban time (fail2ban's observer
    // prolongs after the ban it raised).
    if increased.is_some() {
        for (act, err) in actions.prolong(t) {
            crate::log!(
                LOG_ACTIONS,
                Level::ERROR,
                "Failed to execute ban jail '{name}' action '{act}' info '{}': {err}",
                info_repr(t)
            );
        }
    }
}

/// After every action ran: the ban holds, in the jail's current epoch.
fn mark_banned(shared: &Shared, actions: &dyn ActionSet, id: &str) {
    let epoch = actions.ban_epoch();
    if let Some(stored) = relock(&shared.bans).get_mut(id) {
        stored.set_banned(true);
        if epoch != 0 {
            stored.set_ban_epoch(epoch);
        }
    }
}

/// Ban a banned ticket again with the named actions (those repaired since its ban).
fn reban(name: &str, shared: &Shared, actions: &mut dyn ActionSet, t: &BanTicket, only: &[String]) {
    if only.is_empty() {
        return;
    }
    let which = if only.len() == 1 {
        format!(", action '{}'", only[0])
    } else {
        String::new()
    };
    crate::log!(
        LOG_ACTIONS,
        Level::NOTICE,
        "[{name}] Reban {}{which}",
        t.id()
    );
    prime(shared, actions);
    if let Some((act, err)) = actions.reban(t, only).into_iter().next() {
        crate::log!(
            LOG_ACTIONS,
            Level::ERROR,
            "Failed to execute reban jail '{name}' action '{act}' info '{}': {err}",
            info_repr(t)
        );
        return;
    }
    mark_banned(shared, actions, t.id());
}

/// What the next action commands read from the jail: its counters, and its ban time as it is
/// now (`set JAIL bantime` changes `<bantime>` for the bans that follow, as in fail2ban).
fn prime(shared: &Shared, actions: &mut dyn ActionSet) {
    actions.set_counters(counters(shared));
    let bantime = relock(&shared.bans).ban_time();
    actions.set_ban_time(bantime);
}

/// The jail's counters as the actions' `<jail.*>` tags show them.
fn counters(shared: &Shared) -> crate::actions::JailCounters {
    let (banned, banned_total) = {
        let b = relock(&shared.bans);
        (b.size() as u64, b.ban_total())
    };
    crate::actions::JailCounters {
        banned,
        banned_total,
        found: shared.stats.currently_failed.load(Ordering::Relaxed) as u64,
        found_total: shared.stats.total_failed.load(Ordering::Relaxed),
    }
}

fn do_unban(name: &str, shared: &Shared, actions: &mut dyn ActionSet, t: &BanTicket) {
    do_unban_except(name, shared, actions, t, &[]);
}

fn do_unban_except(
    name: &str,
    shared: &Shared,
    actions: &mut dyn ActionSet,
    t: &BanTicket,
    skip: &[String],
) {
    crate::log!(LOG_ACTIONS, Level::NOTICE, "[{name}] Unban {}", t.id());
    prime(shared, actions);
    for (act, err) in actions.unban(t, skip) {
        crate::log!(
            LOG_ACTIONS,
            Level::ERROR,
            "Failed to execute unban jail '{name}' action '{act}' info '{}': {err}",
            info_repr(t)
        );
    }
}

/// The short description of a ticket used in action error messages.
fn info_repr(t: &BanTicket) -> String {
    format!(
        "ActionInfo({{'ip': '{}', 'time': {}, 'failures': {}}})",
        t.id(),
        t.time(),
        t.attempt()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_rules() {
        let s = JailSettings {
            name: "j".into(),
            maxretry: 3,
            findtime: 600.0,
            bantime: BanTime::Seconds(600.0),
            maxmatches: 5,
        };
        let (mut a, mut b) = (WarnOnce::default(), WarnOnce::default());
        let old = SourceLine {
            text: "x",
            time: None,
            live: false,
        };
        let live = SourceLine { live: true, ..old };
        assert_eq!(check_time(&s, &old, 1000.0, 2000.0, &mut a, &mut b), None);
        assert_eq!(
            check_time(&s, &old, 1500.0, 2000.0, &mut a, &mut b),
            Some(1500.0)
        );
        assert_eq!(
            check_time(&s, &old, 2500.0, 2000.0, &mut a, &mut b),
            Some(2000.0)
        );
        assert_eq!(
            check_time(&s, &live, 1000.0, 2000.0, &mut a, &mut b),
            Some(2000.0)
        );
        assert_eq!(
            check_time(&s, &live, 1990.0, 2000.0, &mut a, &mut b),
            Some(1990.0)
        );
    }
}
