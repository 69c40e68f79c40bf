//! Shell actions, run as fail2ban's `CommandAction` runs them.
//!
//! * every operation (`actionstart`, `actionban` ...) is its template with the action's
//!   properties substituted (see [`tags`]), run by `/bin/sh -c` within the action's `timeout`
//!   (default 60 s; see [`exec`]);
//! * values of the ticket that come from logs never become shell syntax: a value holding any
//!   shell metacharacter reaches the command as a positional argument bound to `$f2bV_<tag>`;
//! * actions with `?family=` properties start on demand, once per family, when the first ticket
//!   of that family is banned (`actionstart_on_demand` forces either way);
//! * a failing `actionban` is retried once; when the action has an `actioncheck`, the check runs
//!   before the retry and, if it fails, `actionrepair` (or stop + start) restores the
//!   environment first; `actionunban` does not repair unless `actionrepair_on_unban`;
//! * `actionunban` runs only for a family that had a ban; `actionflush` replaces the unbans of
//!   a flush when set; `actionstop` runs for started families only.
//!
//! The runner is blocking: the daemon calls it from its action worker threads.

pub mod exec;
pub mod tags;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::ipaddr;
use crate::logging::Level;
use crate::ticket::{BanTicket, BanTime, TicketData};

pub use exec::CmdOutput;
pub use tags::ShellCommand;

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("properties contain self referencing definitions and cannot be resolved, fail tag: {tag}, found: {found}")]
    SelfReference { tag: String, found: String },
    #[error("Error {operation} action {jail}/{action}")]
    Operation {
        operation: &'static str,
        jail: String,
        action: String,
    },
    #[error("Error {verb} {ip}")]
    Ticket { verb: &'static str, ip: String },
    #[error("{0}")]
    Config(String),
}

/// One action of a jail, as the configuration resolved it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionDef {
    /// The action's name in the jail (`actname`).
    pub name: String,
    /// `actionstart`, `actionban` ...: raw templates, `<tags>` still in.
    pub commands: BTreeMap<String, String>,
    /// Every other property (`name`, `port`, `blocktype?family=inet6`, ...).
    pub properties: BTreeMap<String, String>,
    /// Command timeout (fail2ban's `timeout`, default 60 s).
    pub timeout: Duration,
}

impl ActionDef {
    /// Takes the timeout from a `timeout` property (fail2ban's time syntax: `30`, `1m`, ...)
    /// when there is one.
    pub fn new(
        name: impl Into<String>,
        commands: BTreeMap<String, String>,
        properties: BTreeMap<String, String>,
    ) -> ActionDef {
        let timeout = properties
            .get("timeout")
            .or_else(|| commands.get("timeout"))
            .and_then(|t| f2b_config::parse_time(t.trim()).ok())
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(60));
        ActionDef {
            name: name.into(),
            commands,
            properties,
            timeout,
        }
    }
}

/// Earlier bans of an address, for `<ipmatches>`, `<ipjailmatches>`, `<ipfailures>`,
/// `<ipjailfailures>`: merged over all jails, or over this jail only.
pub trait BanHistory {
    fn merged(&self, ip: &str, this_jail_only: bool) -> Option<TicketData>;
}

/// [`BanHistory`] read from the database.
pub struct DbHistory<'a> {
    pub db: &'a crate::database::Database,
    pub jail: &'a str,
}

impl BanHistory for DbHistory<'_> {
    fn merged(&self, ip: &str, this_jail_only: bool) -> Option<TicketData> {
        let jail = this_jail_only.then_some(self.jail);
        self.db.bans_merged(ip, jail).ok().flatten().map(|m| m.data)
    }
}

/// Counters of the jail for `<jail.banned>`, `<jail.banned_total>`, `<jail.found>`,
/// `<jail.found_total>`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JailCounters {
    pub banned: u64,
    pub banned_total: u64,
    pub found: u64,
    pub found_total: u64,
}

/// The dynamic values of one ticket for an action (fail2ban's `ActionInfo`), computed on
/// demand: a command that does not use `<ipmatches>` does not query the history.
pub struct ActionInfo<'a> {
    ticket: &'a BanTicket,
    jail_ban_time: BanTime,
    history: Option<&'a dyn BanHistory>,
    counters: JailCounters,
    family: Option<String>,
    time: Option<f64>,
    merged: RefCell<[Option<Option<TicketData>>; 2]>,
}

/// Python's `str()` of a float (`1700000000.0`, `0.5`).
pub fn py_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v:?}")
    }
}

impl<'a> ActionInfo<'a> {
    pub fn new(ticket: &'a BanTicket, jail_ban_time: BanTime) -> ActionInfo<'a> {
        ActionInfo {
            ticket,
            jail_ban_time,
            history: None,
            counters: JailCounters::default(),
            family: None,
            time: None,
            merged: RefCell::new([None, None]),
        }
    }
    pub fn with_history(mut self, h: &'a dyn BanHistory) -> Self {
        self.history = Some(h);
        self
    }
    pub fn with_counters(mut self, c: JailCounters) -> Self {
        self.counters = c;
        self
    }
    fn with_family(mut self, fam: &str, time: f64) -> Self {
        self.family = Some(fam.to_string());
        self.time = Some(time);
        self
    }

    /// `inet4`, `inet6`, or empty for an ID that is no address.
    pub fn family(&self) -> String {
        match &self.family {
            Some(f) => f.clone(),
            None => ipaddr::family(self.ticket.ip())
                .map(|f| f.as_str().to_string())
                .unwrap_or_default(),
        }
    }

    fn merged(&self, all_jails: bool) -> TicketData {
        let idx = usize::from(!all_jails);
        let mut cache = self.merged.borrow_mut();
        if cache[idx].is_none() {
            cache[idx] = Some(
                self.history
                    .and_then(|h| h.merged(self.ticket.ip(), !all_jails)),
            );
        }
        cache[idx]
            .clone()
            .flatten()
            .unwrap_or_else(|| self.ticket.data().clone())
    }

    /// The value of a dynamic tag, `None` when the tag is not one.
    pub fn lookup(&self, tag: &str) -> Option<String> {
        let t = self.ticket;
        Some(match tag {
            "ip" => t.ip().to_string(),
            // fail2ban prints Python's None for an ID that is no address
            "family" => {
                let f = self.family();
                if f.is_empty() && self.family.is_none() {
                    "None".into()
                } else {
                    f
                }
            }
            "ip-rev" => ipaddr::ptr(t.ip()),
            "ip-host" => ipaddr::host(t.ip()),
            "fid" => t.id().to_string(),
            "failures" => t.attempt().to_string(),
            "time" => match self.time {
                Some(now) => py_float(now),
                None if t.whole_time() => format!("{}", t.time() as i64),
                None => py_float(t.time()),
            },
            "bantime" => (t.ban_time_or(self.jail_ban_time).as_secs().trunc() as i64).to_string(),
            "bancount" => t.ban_count().to_string(),
            "matches" => t.matches().join("\n"),
            "restored" => u8::from(t.restored()).to_string(),
            "ipmatches" => self.merged(true).matches.join("\n"),
            "ipjailmatches" => self.merged(false).matches.join("\n"),
            "ipfailures" => self.merged(true).failures.to_string(),
            "ipjailfailures" => self.merged(false).failures.to_string(),
            "raw-ticket" => format!(
                "BanTicket: ip={} time={} bantime={} bancount={} #attempts={} matches={:?}",
                t.id(),
                py_float(t.time()),
                t.ban_time().map_or("None".to_string(), |b| b.to_string()),
                t.ban_count(),
                t.attempt(),
                t.matches()
            ),
            "jail.banned" => self.counters.banned.to_string(),
            "jail.banned_total" => self.counters.banned_total.to_string(),
            "jail.found" => self.counters.found.to_string(),
            "jail.found_total" => self.counters.found_total.to_string(),
            _ => return None,
        })
    }

    /// The value of an `<F-NAME>` capture by its option name (`fid`, `user` ...).
    pub fn capture(&self, key: &str) -> Option<String> {
        match key {
            "failures" => Some(self.ticket.attempt().to_string()),
            _ => self.ticket.data().captures.get(key).cloned(),
        }
    }
}

fn as_bool(v: Option<&String>) -> Option<bool> {
    v.map(|s| {
        matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "1" | "on" | "true" | "yes"
        )
    })
}

fn is_conditional_key(k: &str) -> bool {
    // `name?family=value`, name made of word characters
    match k.split_once('?') {
        Some((n, rest)) => {
            !n.is_empty()
                && n.chars().all(|c| c.is_alphanumeric() || c == '_')
                && rest.starts_with("family=")
        }
        None => false,
    }
}

static CMD_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0x7f00_0000);

/// Python's `repr()` of a text, as fail2ban logs command output.
fn py_repr(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut o = String::new();
    o.push(q);
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

/// Runs a command and logs it as fail2ban does; true on exit status 0.
pub fn execute(cmd: &ShellCommand, timeout: Duration) -> bool {
    let (script, args) = cmd.to_sh_args();
    if script.trim().is_empty() && args.is_empty() {
        return true;
    }
    let id = CMD_SEQ.fetch_add(0x10, std::sync::atomic::Ordering::Relaxed);
    let shown = || {
        if args.is_empty() {
            script.clone()
        } else {
            let mut v = vec![py_repr(&script)];
            v.extend(args.iter().map(|a| py_repr(a)));
            format!("[{}]", v.join(", "))
        }
    };
    crate::log!("fail2ban.utils", Level(9), "{:x} -- exec: {}", id, shown());
    match exec::run_shell(&script, &args, timeout) {
        Err(e) => {
            crate::log!(
                "fail2ban.utils",
                Level::ERROR,
                "{:x} -- exec: {}",
                id,
                shown()
            );
            crate::log!(
                "fail2ban.utils",
                Level::ERROR,
                "{} -- failed with {}",
                shown(),
                e
            );
            false
        }
        Ok(o) => {
            if o.success() {
                crate::log!(
                    "fail2ban.utils",
                    Level::DEBUG,
                    "{:x} -- returned successfully 0",
                    id
                );
                return true;
            }
            if o.timed_out {
                crate::log!(
                    "fail2ban.utils",
                    Level::ERROR,
                    "{:x} -- exec: {}",
                    id,
                    shown()
                );
                crate::log!(
                    "fail2ban.utils",
                    Level::ERROR,
                    "{:x} -- timed out after {} seconds.",
                    id,
                    py_float(timeout.as_secs_f64())
                );
            } else {
                crate::log!(
                    "fail2ban.utils",
                    Level::ERROR,
                    "{:x} -- exec: {}",
                    id,
                    shown()
                );
            }
            for l in o.stdout.lines() {
                crate::log!(
                    "fail2ban.utils",
                    Level::ERROR,
                    "{:x} -- stdout: {}",
                    id,
                    py_repr(l)
                );
            }
            for l in o.stderr.lines() {
                crate::log!(
                    "fail2ban.utils",
                    Level::ERROR,
                    "{:x} -- stderr: {}",
                    id,
                    py_repr(l)
                );
            }
            match (o.code, o.signal) {
                (Some(c), _) if c > 128 => crate::log!(
                    "fail2ban.utils",
                    Level::ERROR,
                    "{:x} -- killed with {} (return code: {})",
                    id,
                    signal_name(c - 128),
                    c
                ),
                (Some(c), _) => {
                    crate::log!("fail2ban.utils", Level::ERROR, "{:x} -- returned {}", id, c)
                }
                (None, Some(s)) => crate::log!(
                    "fail2ban.utils",
                    Level::ERROR,
                    "{:x} -- killed with {} (return code: -{})",
                    id,
                    signal_name(s),
                    s
                ),
                (None, None) => crate::log!(
                    "fail2ban.utils",
                    Level::ERROR,
                    "{:x} -- unable to kill PID",
                    id
                ),
            }
            false
        }
    }
}

fn signal_name(n: i32) -> String {
    nix::sys::signal::Signal::try_from(n)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {n}"))
}

const STARTED: u8 = 1;
const HAS_BANS: u8 = 2;

/// One shell action of a jail with its run-time state (which families are started and hold
/// bans).
pub struct CommandAction {
    def: ActionDef,
    jail: String,
    /// Commands and properties together, in name order (commands may refer to each other).
    props: Vec<(String, String)>,
    subst: HashMap<String, BTreeMap<String, String>>,
    started: BTreeMap<String, u8>,
    /// Last successful command per operation and family (avoids running the same start twice
    /// for two families).
    executed: HashMap<&'static str, BTreeMap<String, String>>,
    ban_epoch: u64,
    allow_ipv6: bool,
}

impl CommandAction {
    /// `jail` names the jail in messages; `allow_ipv6` is fail2ban's `allowipv6` (IPv6
    /// variants of conditional actions are started only when allowed).
    pub fn new(def: ActionDef, jail: impl Into<String>, allow_ipv6: bool) -> CommandAction {
        // every operation exists, empty when the action does not define it (an undefined one
        // must not run as its own `<tag>` text)
        let mut merged: BTreeMap<String, String> = [
            "actionstart",
            "actionstop",
            "actioncheck",
            "actionrepair",
            "actionban",
            "actionreban",
            "actionunban",
            "actionflush",
            "actionreload",
            "actionprolong",
        ]
        .iter()
        .map(|k| (k.to_string(), String::new()))
        .collect();
        merged.extend(def.properties.clone());
        for (k, v) in &def.commands {
            merged.insert(k.clone(), v.clone());
        }
        if !merged.contains_key("actname") {
            merged.insert("actname".into(), def.name.clone());
        }
        let jail = jail.into();
        if !merged.contains_key("name") {
            merged.insert("name".into(), jail.clone());
        }
        CommandAction {
            def,
            jail,
            props: merged.into_iter().collect(),
            subst: HashMap::new(),
            started: BTreeMap::new(),
            executed: HashMap::new(),
            ban_epoch: 0,
            allow_ipv6,
        }
    }

    pub fn name(&self) -> &str {
        &self.def.name
    }
    pub fn def(&self) -> &ActionDef {
        &self.def
    }
    /// Raised each time the environment had to be repaired: bans of an older epoch need a
    /// re-ban.
    pub fn ban_epoch(&self) -> u64 {
        self.ban_epoch
    }
    /// Families started, with their state (for tests and status).
    pub fn started_families(&self) -> Vec<String> {
        self.started
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn prop(&self, k: &str) -> Option<&String> {
        self.props.iter().find(|(n, _)| n == k).map(|(_, v)| v)
    }
    fn has_command(&self, k: &str) -> bool {
        self.prop(k).is_some_and(|v| !v.trim().is_empty())
    }
    fn has_cond_section(&self) -> bool {
        self.props.iter().any(|(k, _)| is_conditional_key(k))
    }
    fn start_on_demand(&self) -> bool {
        as_bool(self.prop("actionstart_on_demand")).unwrap_or_else(|| self.has_cond_section())
    }
    /// `norestored`: skip this action for bans restored at start.
    pub fn norestored(&self) -> bool {
        as_bool(self.prop("norestored")).unwrap_or(false)
    }
    fn families(&self) -> Vec<String> {
        if let Some(f) = self.prop("families").filter(|f| !f.trim().is_empty()) {
            return f
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
        if self.has_cond_section() {
            if self.allow_ipv6 {
                vec!["inet4".into(), "inet6".into()]
            } else {
                vec!["inet4".into()]
            }
        } else {
            vec![String::new()]
        }
    }

    fn conditional(family: &str) -> String {
        if family.is_empty() {
            String::new()
        } else {
            format!("family={family}")
        }
    }

    fn resolved(&mut self, conditional: &str) -> Result<&BTreeMap<String, String>, ActionError> {
        if !self.subst.contains_key(conditional) {
            let v = tags::substitute_recursive(&self.props, conditional, &tags::ESCAPED_TAGS)?;
            self.subst
                .insert(conditional.to_string(), v.into_iter().collect());
        }
        self.subst
            .get(conditional)
            .ok_or_else(|| ActionError::Config("substitution cache".into()))
    }

    /// The operation's command for a family with the properties in (`<family>` too).
    fn operation(&mut self, tag: &str, family: &str) -> Result<String, ActionError> {
        let cond = Self::conditional(family);
        let subst = self.resolved(&cond)?;
        let cmd = tags::replace_static(tag, subst, &cond)?;
        if family.is_empty() || !cmd.contains('<') {
            return Ok(cmd);
        }
        let fam = family.to_string();
        let c = tags::replace_dynamic(&cmd, |t| (t == "family").then(|| fam.clone()), |_| None);
        Ok(c.to_sh_args().0)
    }

    fn run(&self, cmd: &ShellCommand) -> bool {
        execute(cmd, self.def.timeout)
    }

    /// Runs `tag` for `families` (every started family when empty), with an "empty ticket"
    /// for dynamic tags; `after` sees each family's result.
    fn execute_operation(
        &mut self,
        tag: &'static str,
        operation: &'static str,
        families: Vec<String>,
        now: f64,
        mut after: impl FnMut(&mut Self, &str, bool),
    ) -> Result<(), ActionError> {
        let families = if families.is_empty() {
            self.started
                .iter()
                .filter(|(_, v)| **v != 0)
                .map(|(k, _)| k.clone())
                .collect()
        } else {
            families
        };
        let mut ok = true;
        let mut err: Option<ActionError> = None;
        for fam in families {
            let cmd = match self.operation(tag, &fam) {
                Ok(c) => c,
                Err(e) => {
                    ok = false;
                    err = Some(e);
                    continue;
                }
            };
            let mut ret = true;
            let already = self
                .executed
                .get(tag)
                .is_some_and(|m| m.iter().any(|(f, c)| *f != fam && *c == cmd));
            if !cmd.is_empty() && !already {
                let empty = BanTicket::new("", now);
                let info = ActionInfo::new(&empty, BanTime::Seconds(0.0)).with_family(&fam, now);
                let real = tags::replace_dynamic(&cmd, |t| info.lookup(t), |k| info.capture(k));
                ret = self.run(&real);
                ok &= ret;
            }
            after(self, &fam, ret);
            let m = self.executed.entry(tag).or_default();
            if ret {
                m.insert(fam.clone(), cmd);
            } else if let Some(c) = m.remove(&fam) {
                m.retain(|_, v| *v != c);
            }
        }
        if !ok {
            if let Some(e @ ActionError::SelfReference { .. }) = err {
                return Err(e);
            }
            return Err(ActionError::Operation {
                operation,
                jail: self.jail.clone(),
                action: self.def.name.clone(),
            });
        }
        Ok(())
    }

    fn forget_executed(&mut self, tag: &'static str, fam: &str) {
        if let Some(m) = self.executed.get_mut(tag) {
            if let Some(c) = m.remove(fam) {
                m.retain(|_, v| *v != c);
            }
        }
    }

    /// `actionstart` (deferred to the first ban of a family for on-demand actions).
    pub fn start(&mut self, now: f64) -> Result<(), ActionError> {
        if self.start_on_demand() {
            return Ok(());
        }
        self.start_families(None, now)
    }

    fn start_families(&mut self, family: Option<&str>, now: f64) -> Result<(), ActionError> {
        let fams = match family {
            Some(f) => vec![f.to_string()],
            None => self.families(),
        };
        self.execute_operation("<actionstart>", "starting", fams, now, |s, fam, ret| {
            if ret {
                s.forget_executed("<actionstop>", fam);
                s.started.insert(fam.to_string(), STARTED);
            }
        })
    }

    /// `actionban` for a ticket (starting its family first when on demand).
    pub fn ban(&mut self, info: &ActionInfo<'_>, now: f64) -> Result<(), ActionError> {
        self.ban_with(info, "<actionban>", now)
    }

    /// `actionreban` when the action has one, else `actionban`.
    pub fn reban(&mut self, info: &ActionInfo<'_>, now: f64) -> Result<(), ActionError> {
        let tag = if self.has_command("actionreban") {
            "<actionreban>"
        } else {
            "<actionban>"
        };
        self.ban_with(info, tag, now)
    }

    fn ban_with(
        &mut self,
        info: &ActionInfo<'_>,
        tag: &'static str,
        now: f64,
    ) -> Result<(), ActionError> {
        let family = info.family();
        if self.start_on_demand() && self.started.get(&family).copied().unwrap_or(0) == 0 {
            self.start_families(Some(&family), now)?;
        }
        if !self.process(tag, info, now)? {
            return Err(ActionError::Ticket {
                verb: "banning",
                ip: info.ticket.ip().to_string(),
            });
        }
        *self.started.entry(family).or_insert(0) |= STARTED | HAS_BANS;
        Ok(())
    }

    /// Whether the action has an `actionprolong`.
    pub fn prolongable(&self) -> bool {
        self.has_command("actionprolong")
    }

    /// `actionprolong` (ban time grew).
    pub fn prolong(&mut self, info: &ActionInfo<'_>, now: f64) -> Result<(), ActionError> {
        if !self.process("<actionprolong>", info, now)? {
            return Err(ActionError::Ticket {
                verb: "prolonging",
                ip: info.ticket.ip().to_string(),
            });
        }
        Ok(())
    }

    /// `actionunban`, only for a family that holds bans.
    pub fn unban(&mut self, info: &ActionInfo<'_>, now: f64) -> Result<(), ActionError> {
        let family = info.family();
        if self.started.get(&family).copied().unwrap_or(0) & HAS_BANS != 0
            && !self.process("<actionunban>", info, now)?
        {
            return Err(ActionError::Ticket {
                verb: "unbanning",
                ip: info.ticket.ip().to_string(),
            });
        }
        Ok(())
    }

    /// Whether a flush uses `actionflush` (else each ban is unbanned).
    pub fn has_flush(&self) -> bool {
        self.has_command("actionflush")
    }

    /// `actionflush` for the families holding bans.
    pub fn flush(&mut self, now: f64) -> Result<(), ActionError> {
        let fams: Vec<String> = self
            .started
            .iter()
            .filter(|(_, v)| **v & (STARTED | HAS_BANS) == STARTED | HAS_BANS)
            .map(|(k, _)| k.clone())
            .collect();
        if fams.is_empty() {
            return Ok(());
        }
        self.execute_operation("<actionflush>", "flushing", fams, now, |s, fam, ret| {
            if ret {
                if let Some(v) = s.started.get_mut(fam) {
                    *v &= !HAS_BANS;
                }
            }
        })
    }

    /// `actionstop` for every started family.
    pub fn stop(&mut self, now: f64) -> Result<(), ActionError> {
        self.stop_families(None, now)
    }

    fn stop_families(&mut self, family: Option<&str>, now: f64) -> Result<(), ActionError> {
        let fams: Vec<String> = match family {
            None => {
                let f: Vec<String> = self
                    .started
                    .iter()
                    .filter(|(_, v)| **v != 0)
                    .map(|(k, _)| k.clone())
                    .collect();
                if f.is_empty() {
                    return Ok(());
                }
                self.started.clear();
                f
            }
            Some(f) => match self.started.get_mut(f) {
                Some(v) => {
                    *v = 0;
                    vec![f.to_string()]
                }
                None => return Ok(()),
            },
        };
        self.execute_operation("<actionstop>", "stopping", fams, now, |s, fam, ret| {
            if ret {
                s.forget_executed("<actionstart>", fam);
            }
        })
    }

    /// `actionreload` for every started family.
    pub fn reload(&mut self, now: f64) -> Result<(), ActionError> {
        self.execute_operation("<actionreload>", "reloading", Vec::new(), now, |_, _, _| {})
    }

    /// Runs `actioncheck` for every started family, repairing a broken one; false when some
    /// family could not be restored (it is then marked not started). `before_repair` may
    /// veto the repair (fail2ban does so for a flush at stop).
    pub fn consistency_check(
        &mut self,
        now: f64,
        before_repair: Option<&dyn Fn() -> bool>,
    ) -> bool {
        let mut ok = true;
        if self.has_command("actioncheck") {
            let fams: Vec<(String, u8)> =
                self.started.iter().map(|(k, v)| (k.clone(), *v)).collect();
            for (fam, st) in fams {
                if st != 0 && self.invariant_check(&fam, before_repair, true, now) != 1 {
                    self.started.insert(fam.clone(), 0);
                    self.forget_executed("<actionstart>", &fam);
                    ok = false;
                }
            }
        }
        ok
    }

    /// 1: sane (or repaired); 0: broken; -1: repair vetoed.
    fn invariant_check(
        &mut self,
        family: &str,
        before_repair: Option<&dyn Fn() -> bool>,
        force_start: bool,
        now: f64,
    ) -> i8 {
        if !force_start && !self.started.contains_key(family) {
            return 1;
        }
        let check = match self.operation("<actioncheck>", family) {
            Ok(c) => c,
            Err(_) => return 0,
        };
        let check_cmd = ShellCommand {
            script: check.clone(),
            vars: Vec::new(),
        };
        if check.is_empty() || self.run(&check_cmd) {
            return 1;
        }
        if let Some(b) = before_repair {
            if !b() {
                return -1;
            }
        }
        crate::log!(
            "fail2ban.CommandAction",
            Level::ERROR,
            "Invariant check failed. Trying to restore a sane environment"
        );
        self.ban_epoch += 1;
        let repair = self.operation("<actionrepair>", family).unwrap_or_default();
        if !repair.is_empty() {
            if !self.run(&ShellCommand {
                script: repair,
                vars: Vec::new(),
            }) {
                self.started.insert(family.to_string(), 0);
                crate::log!(
                    "fail2ban.CommandAction",
                    Level::CRITICAL,
                    "Unable to restore environment"
                );
                return 0;
            }
            self.started.insert(family.to_string(), STARTED);
        } else {
            // no repair command: restart the action
            let _ = self.stop_families(Some(family), now);
            let on_demand = self.start_on_demand();
            if force_start || !on_demand {
                let _ = self.start_families(Some(family), now);
            }
        }
        if self.started.get(family).copied().unwrap_or(0) != 0 && !self.run(&check_cmd) {
            crate::log!(
                "fail2ban.CommandAction",
                Level::CRITICAL,
                "Unable to restore environment"
            );
            return 0;
        }
        1
    }

    /// Runs a ticket operation: once, and on failure once more (after check and repair when
    /// the action has an `actioncheck`).
    fn process(
        &mut self,
        tag: &'static str,
        info: &ActionInfo<'_>,
        now: f64,
    ) -> Result<bool, ActionError> {
        let family = info.family();
        let cond = Self::conditional(&family);
        let mut attempts = 0;
        loop {
            if attempts > 0 && self.has_command("actioncheck") {
                let is_unban = tag == "<actionunban>";
                let repair_on_unban = as_bool(self.prop("actionrepair_on_unban")).unwrap_or(false);
                let veto = move || {
                    if is_unban && !repair_on_unban {
                        crate::log!(
                            "fail2ban.CommandAction",
                            Level::ERROR,
                            "Invariant check failed. Unban is impossible."
                        );
                        return false;
                    }
                    true
                };
                if self.invariant_check(&family, Some(&veto), !is_unban, now) != 1 {
                    return Ok(false);
                }
            }
            let subst = self.resolved(&cond)?;
            let cmd = tags::replace_static(tag, subst, &cond)?;
            let real = tags::replace_dynamic(&cmd, |t| info.lookup(t), |k| info.capture(k));
            let ret = self.run(&real);
            attempts += 1;
            if ret || attempts > 1 {
                return Ok(ret);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::FailTicket;

    fn def(cmds: &[(&str, &str)], props: &[(&str, &str)]) -> ActionDef {
        ActionDef::new(
            "test",
            cmds.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            props
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn info_tags() {
        let mut t = BanTicket::new("2001:db8::1", 1_700_000_000.0);
        t.set_ban_count(2);
        t.data_mut().failures = 5;
        t.data_mut().matches = vec!["a".into(), "b".into()];
        t.set_capture("user", "root");
        let i = ActionInfo::new(&t, BanTime::Seconds(600.0));
        assert_eq!(i.lookup("family").as_deref(), Some("inet6"));
        assert_eq!(i.lookup("time").as_deref(), Some("1700000000.0"));
        assert_eq!(i.lookup("bantime").as_deref(), Some("600"));
        assert_eq!(i.lookup("bancount").as_deref(), Some("2"));
        assert_eq!(i.lookup("failures").as_deref(), Some("5"));
        assert_eq!(i.lookup("matches").as_deref(), Some("a\nb"));
        assert_eq!(i.lookup("ipmatches").as_deref(), Some("a\nb"));
        assert_eq!(i.lookup("ipjailfailures").as_deref(), Some("5"));
        assert_eq!(i.capture("user").as_deref(), Some("root"));
        assert_eq!(i.lookup("F-USER"), None);
        let mut w = FailTicket::new("192.0.2.1", 1_700_000_000.0, vec![]);
        w.set_whole_time(true);
        let w = BanTicket::from(w);
        assert_eq!(
            ActionInfo::new(&w, BanTime::Permanent)
                .lookup("time")
                .as_deref(),
            Some("1700000000")
        );
        let p = BanTicket::new("443", 1.5);
        let i = ActionInfo::new(&p, BanTime::Permanent);
        assert_eq!(i.lookup("family").as_deref(), Some("None"));
        assert_eq!(i.lookup("bantime").as_deref(), Some("-1"));
        assert_eq!(i.lookup("time").as_deref(), Some("1.5"));
        assert_eq!(i.family(), "");
    }

    #[test]
    fn conditional_detection() {
        let a = CommandAction::new(
            def(&[("actionban", "x")], &[("blocktype?family=inet6", "y")]),
            "j",
            true,
        );
        assert!(a.start_on_demand());
        assert_eq!(a.families(), ["inet4", "inet6"]);
        let a = CommandAction::new(
            def(&[("actionban", "x")], &[("actionstart_on_demand", "true")]),
            "j",
            true,
        );
        assert!(a.start_on_demand());
        assert_eq!(a.families(), [""]);
        let a = CommandAction::new(def(&[("actionban", "x")], &[]), "j", false);
        assert!(!a.start_on_demand());
    }

    #[test]
    fn timeout_property() {
        let d = def(&[], &[("timeout", "2.5")]);
        assert_eq!(d.timeout, Duration::from_millis(2500));
        assert_eq!(def(&[], &[]).timeout, Duration::from_secs(60));
        assert_eq!(
            def(&[], &[("timeout", "1m 30s")]).timeout,
            Duration::from_secs(90)
        );
        assert_eq!(
            def(&[], &[("timeout", "junk")]).timeout,
            Duration::from_secs(60)
        );
    }
}
