//! The set of running jails: start from the configuration, reload, stop.
//!
//! The daemon reads its own configuration (unlike fail2ban-server, which waits for the client to
//! stream it): every enabled jail is built from its typed `JailSpec`; a jail that fails to build
//! is logged and skipped, the others run. Reload rereads the tree: removed jails stop, new ones
//! start, changed ones restart with their active bans carried over, unchanged ones keep running.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use f2b_config::{JailSpec, ServerSpec};

use crate::daemon::Event;
use crate::jail::{Jail, JailParts};
use crate::logging::Level;
use crate::ticket::BanTicket;

const LOG: &str = "fail2ban.server";

/// Turns a jail's spec into its running parts (the real backends, filter and actions, or
/// in-memory stages in tests).
pub trait JailBuilder: Send + Sync {
    /// `restore`: bans to re-apply at start; `fail_total`: failure counter to continue from.
    fn build(
        &self,
        spec: &JailSpec,
        restore: Vec<BanTicket>,
        fail_total: u64,
    ) -> Result<JailParts, String>;
    /// Called when a jail is stopped for good (to drop per-jail state such as database rows).
    fn forget(&self, _jail: &str) {}
    /// Work ahead for jails about to be built one after the other (e.g. compile in parallel).
    fn prepare(&self, _specs: &[JailSpec]) {}
}

/// The whole configuration as the daemon needs it.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: Option<ServerSpec>,
    pub jails: Vec<JailSpec>,
    /// Problems met while loading, already worded for the log; the jails concerned are skipped.
    pub errors: Vec<String>,
}

/// Read `confdir` with f2b-config and type every jail.
pub fn load_config(confdir: &Path) -> Result<Config, String> {
    let loaded = f2b_config::load(confdir).map_err(|e| e.to_string())?;
    type_config(loaded)
}

/// Check the jails as fail2ban does when it starts: a jail whose logpath matches no file makes
/// the whole start fail. The error is worded as fail2ban logs it.
pub fn check_log_files(confdir: &Path, cfg: &Config) -> Result<(), String> {
    // Reading the tree again costs start-up time: only when a file jail watches nothing.
    if !cfg
        .jails
        .iter()
        .any(|j| j.logpaths.is_empty() && !j.backend.kind.starts_with("systemd"))
    {
        return Ok(());
    }
    let opts = f2b_config::LoadOptions {
        allow_no_files: false,
        ..Default::default()
    };
    match f2b_config::load_with(confdir, opts) {
        Ok(_) => Ok(()),
        Err(f2b_config::ConfigError::Jail { msg, .. }) => Err(msg),
        Err(e) => Err(e.to_string()),
    }
}

fn type_config(loaded: f2b_config::LoadedConfig) -> Result<Config, String> {
    let mut errors: Vec<String> = loaded.errors.iter().map(|e| e.to_string()).collect();
    let server = match ServerSpec::from_config(&loaded) {
        Ok(s) => Some(s),
        Err(e) => {
            errors.push(e.to_string());
            None
        }
    };
    let mut jails = Vec::new();
    for stream in &loaded.jails {
        match JailSpec::from_stream(stream) {
            Ok(spec) => jails.push(spec),
            Err(e) => {
                // The reader may already have reported this jail (and kept a stub of it).
                let known = format!("jail '{}'", stream.name);
                if !errors.iter().any(|m| m.contains(&known)) {
                    errors.push(format!("Unable to start jail '{}': {e}", stream.name));
                }
            }
        }
    }
    Ok(Config {
        server,
        jails,
        errors,
    })
}

struct Running {
    jail: Arc<Jail>,
    spec: JailSpec,
}

/// The daemon's jails and the knobs of `set`/`get` that are not per jail.
pub struct Server {
    confdir: PathBuf,
    jails: RwLock<BTreeMap<String, Running>>,
    builder: Box<dyn JailBuilder>,
    events: Mutex<Sender<Event>>,
    /// Serialises start/stop/reload so two reloads never interleave.
    lifecycle: Mutex<()>,
    db: Mutex<DbSettings>,
    database: Option<crate::stages::SharedDb>,
}

/// Database settings as `get dbfile`/`dbpurgeage`/`dbmaxmatches` report them.
#[derive(Debug, Clone, PartialEq)]
pub struct DbSettings {
    pub file: Option<PathBuf>,
    pub purgeage: f64,
    pub maxmatches: Option<u32>,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Server {
    pub fn new(
        confdir: PathBuf,
        builder: Box<dyn JailBuilder>,
        events: Sender<Event>,
        db: DbSettings,
        database: Option<crate::stages::SharedDb>,
    ) -> Server {
        Server {
            confdir,
            jails: RwLock::new(BTreeMap::new()),
            builder,
            events: Mutex::new(events),
            lifecycle: Mutex::new(()),
            db: Mutex::new(db),
            database,
        }
    }

    /// Drop ban history older than `dbpurgeage` (run hourly, as fail2ban does).
    pub fn purge_db(&self) {
        if let Some(db) = &self.database {
            let age = relock(&self.db).purgeage;
            let mut d = relock(db);
            d.set_purge_age(age);
            if let Err(e) = d.purge(crate::jail::now()) {
                crate::log!("fail2ban.database", Level::ERROR, "{e}");
            }
        }
    }

    pub fn confdir(&self) -> &Path {
        &self.confdir
    }

    /// Ask the main loop to stop the daemon (the `stop` command).
    pub fn request(&self, ev: Event) {
        let _ = relock(&self.events).send(ev);
    }

    pub fn db_settings(&self) -> DbSettings {
        relock(&self.db).clone()
    }

    /// Change the database settings (`set dbpurgeage`, `set dbmaxmatches`) and apply them.
    pub fn update_db_settings(&self, f: impl FnOnce(&mut DbSettings)) {
        let s = {
            let mut s = relock(&self.db);
            f(&mut s);
            s.clone()
        };
        if let Some(db) = &self.database {
            let mut d = relock(db);
            d.set_purge_age(s.purgeage);
            if let Some(m) = s.maxmatches {
                d.set_max_matches(m as usize);
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Running>> {
        self.jails.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Running>> {
        self.jails.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Names of the running jails, sorted.
    pub fn jail_names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    pub fn jail(&self, name: &str) -> Option<Arc<Jail>> {
        self.read().get(name).map(|r| Arc::clone(&r.jail))
    }

    pub fn spec(&self, name: &str) -> Option<JailSpec> {
        self.read().get(name).map(|r| r.spec.clone())
    }

    pub fn jails(&self) -> Vec<Arc<Jail>> {
        self.read().values().map(|r| Arc::clone(&r.jail)).collect()
    }

    /// Start one jail from its spec; logs and returns the error when it cannot be built.
    fn start_jail(
        &self,
        spec: JailSpec,
        restore: Vec<BanTicket>,
        fail_total: u64,
    ) -> Result<(), String> {
        let name = spec.name.clone();
        crate::log!(LOG, Level::INFO, "Creating new jail '{name}'");
        let parts = self
            .builder
            .build(&spec, restore, fail_total)
            .map_err(|e| {
                // one log line per error, even when a regex compiler explains itself over several
                let flat = e
                    .split('\n')
                    .map(str::trim_end)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" | ");
                crate::log!(LOG, Level::ERROR, "Unable to start jail '{name}': {flat}");
                e
            })?;
        let jail = Jail::start(parts).map_err(|e| {
            let e = e.to_string();
            crate::log!(LOG, Level::ERROR, "Unable to start jail '{name}': {e}");
            e
        })?;
        self.write().insert(
            name,
            Running {
                jail: Arc::new(jail),
                spec,
            },
        );
        Ok(())
    }

    /// Start every jail of `cfg` (logging and skipping the broken ones).
    pub fn start_all(&self, cfg: Config) {
        let _guard = relock(&self.lifecycle);
        for e in &cfg.errors {
            crate::log!(LOG, Level::ERROR, "{e}");
        }
        self.builder.prepare(&cfg.jails);
        for spec in cfg.jails {
            let _ = self.start_jail(spec, Vec::new(), 0);
        }
    }

    /// Stop one jail (actionstop included). Returns false when no such jail runs.
    pub fn stop_jail(&self, name: &str) -> bool {
        let _guard = relock(&self.lifecycle);
        self.stop_jail_locked(name, true)
    }

    fn stop_jail_locked(&self, name: &str, forget: bool) -> bool {
        let running = self.write().remove(name);
        match running {
            Some(r) => {
                r.jail.stop();
                if forget {
                    self.builder.forget(name);
                }
                true
            }
            None => false,
        }
    }

    /// Stop every jail.
    pub fn stop_all(&self) {
        let _guard = relock(&self.lifecycle);
        crate::log!(LOG, Level::INFO, "Stopping all jails");
        for j in self.jails() {
            j.request_stop();
        }
        let names = self.jail_names();
        for n in names {
            self.stop_jail_locked(&n, false);
        }
    }

    /// Reread the configuration and apply it to all jails (`only`: one jail). Returns the
    /// configuration error that prevented any reload.
    pub fn reload(&self, only: Option<&str>) -> Result<(), String> {
        let _guard = relock(&self.lifecycle);
        crate::log!(
            LOG,
            Level::INFO,
            "Reload {}",
            only.map(|j| format!("jail {j}"))
                .unwrap_or_else(|| "all jails".into())
        );
        let cfg = load_config(&self.confdir).map_err(|e| {
            crate::log!(LOG, Level::ERROR, "{e}");
            e
        })?;
        for e in &cfg.errors {
            crate::log!(LOG, Level::ERROR, "{e}");
        }
        let mut wanted: BTreeMap<String, JailSpec> =
            cfg.jails.into_iter().map(|s| (s.name.clone(), s)).collect();
        if let Some(j) = only {
            wanted.retain(|k, _| k == j);
            if !wanted.contains_key(j) && self.jail(j).is_none() {
                return Err(format!("Sorry but the jail '{j}' does not exist"));
            }
        }
        // Jails no longer configured (or disabled) stop.
        for name in self.jail_names() {
            if only.is_some_and(|j| j != name) {
                continue;
            }
            if !wanted.contains_key(&name) {
                self.stop_jail_locked(&name, true);
            }
        }
        for (name, spec) in wanted {
            let old = self
                .read()
                .get(&name)
                .map(|r| (Arc::clone(&r.jail), r.spec.clone()));
            match old {
                Some((_, old_spec)) if old_spec == spec => {
                    crate::log!(LOG, Level::INFO, "Jail '{name}' reloaded");
                }
                Some((jail, old_spec))
                    if old_spec.actions == spec.actions
                        && old_spec.bantime == spec.bantime
                        && old_spec.bantime_increment == spec.bantime_increment =>
                {
                    // Same actions and ban time: swap the reader only; bans stay in force.
                    let swapped = self
                        .builder
                        .build(&spec, Vec::new(), 0)
                        .map_err(|e| e.to_string())
                        .and_then(|parts| jail.replace_reader(parts).map_err(|e| e.to_string()));
                    match swapped {
                        Ok(()) => {
                            if let Some(r) = self.write().get_mut(&name) {
                                r.spec = spec;
                            }
                            crate::log!(LOG, Level::INFO, "Jail '{name}' reloaded");
                        }
                        Err(e) => {
                            crate::log!(LOG, Level::ERROR, "Unable to reload jail '{name}': {e}")
                        }
                    }
                }
                Some((jail, _)) => {
                    // Carry the active bans and the failure total into the new jail.
                    let tickets = jail.tickets();
                    self.write().remove(&name);
                    let total = jail.stop();
                    if self.start_jail(spec, tickets, total).is_ok() {
                        crate::log!(LOG, Level::INFO, "Jail '{name}' reloaded");
                    }
                }
                None => {
                    let _ = self.start_jail(spec, Vec::new(), 0);
                }
            }
        }
        crate::log!(LOG, Level::INFO, "Reload finished.");
        Ok(())
    }
}
