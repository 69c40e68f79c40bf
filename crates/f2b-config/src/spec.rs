//! Typed specs built from the command stream: what the daemon runs. Every number and time is
//! parsed here, so the daemon never sees a raw option string.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::{Command, ConfigError, JailStream, Value};

/// The log backend of a jail: `auto`, `polling`, `pyinotify`, `systemd[journalfiles=...]`, ...
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BackendSpec {
    pub kind: String,
    pub options: Vec<(String, String)>,
}

/// `usedns` of a jail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UseDns {
    Yes,
    #[default]
    Warn,
    No,
    Raw,
}

/// The `bantime.*` increment settings of a jail (present when `bantime.increment` is true).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BanTimeIncrement {
    pub factor: Option<String>,
    pub formula: Option<String>,
    pub multipliers: Vec<f64>,
    pub maxtime: Option<f64>,
    pub rndtime: Option<f64>,
    pub overalljails: bool,
}

/// Options whose command adds entries to a list: sent with no value they add nothing.
const LIST_OPTIONS: [&str; 5] = [
    "addignoreip",
    "addjournalmatch",
    "addfailregex",
    "addignoreregex",
    "addlogpath",
];

/// One action of a jail.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionSpec {
    /// The action's name in the jail (`actname`), unique per jail.
    pub name: String,
    /// `actionstart`, `actionban`, ... (every `action*` template but the two flags): raw
    /// templates with their `<tags>` still in.
    pub commands: BTreeMap<String, String>,
    /// Every other property (`port`, `protocol`, `name`, `blocktype?family=inet6`, and the
    /// flags `actionstart_on_demand`, `actionrepair_on_unban`, `norestored` as "True"/"False").
    pub properties: BTreeMap<String, String>,
    /// For a Python action (`action = x.py[...]`): the file and its JSON keyword arguments.
    pub python: Option<(PathBuf, String)>,
}

/// A jail as the daemon runs it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JailSpec {
    pub name: String,
    pub backend: BackendSpec,
    /// Log files with their "tail" flag (`true`: start at the end).
    pub logpaths: Vec<(PathBuf, bool)>,
    /// Journal match tokens; `+` separates alternatives (as in journalctl).
    pub journalmatch: Vec<String>,
    pub prefregex: Option<String>,
    pub failregex: Vec<String>,
    pub ignoreregex: Vec<String>,
    pub maxlines: Option<usize>,
    pub datepattern: Option<String>,
    pub logtimezone: Option<String>,
    pub logencoding: Option<String>,
    pub usedns: UseDns,
    pub maxretry: u32,
    pub maxmatches: u32,
    pub findtime: f64,
    /// Seconds; negative means permanent.
    pub bantime: f64,
    pub bantime_increment: Option<BanTimeIncrement>,
    pub ignoreip: Vec<String>,
    pub ignoreself: bool,
    pub ignorecommand: Option<String>,
    pub ignorecache: Option<String>,
    pub actions: Vec<ActionSpec>,
    /// `set` options the spec has no field for, kept as sent.
    pub other: Vec<(String, Value)>,
}

impl UseDns {
    /// fail2ban's reading: case-insensitive `yes`/`warn`/`no`/`raw`; anything else is the safe
    /// `no` (fail2ban logs an error and uses `no`).
    pub fn parse(s: &str) -> UseDns {
        match s.to_lowercase().as_str() {
            "yes" | "true" => UseDns::Yes,
            "warn" => UseDns::Warn,
            "raw" => UseDns::Raw,
            _ => UseDns::No,
        }
    }
}

/// What the stream set explicitly (defaults depend on it).
#[derive(Default)]
struct Seen {
    increment: bool,
}

fn inc(b: &mut Option<BanTimeIncrement>) -> &mut BanTimeIncrement {
    b.get_or_insert_with(Default::default)
}

fn cmd_text(c: &Command) -> String {
    c.to_python_repr()
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        _ => None,
    }
}

/// fail2ban's boolean reading of a sent value.
fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Int(i) => Some(*i != 0),
        Value::Str(s) => Some(crate::optval::as_bool(s)),
        _ => None,
    }
}

impl JailSpec {
    /// A jail with fail2ban's server-side defaults (maxretry 3, findtime and bantime 10 min,
    /// maxmatches 5, ignoreself on, usedns warn).
    pub fn with_defaults(name: &str) -> JailSpec {
        JailSpec {
            name: name.to_string(),
            backend: BackendSpec {
                kind: "auto".into(),
                options: Vec::new(),
            },
            maxretry: 3,
            maxmatches: 5,
            findtime: 600.0,
            bantime: 600.0,
            ignoreself: true,
            ..Default::default()
        }
    }

    /// Build the typed jail from its stream. A jail skipped for its definition (`config-error`)
    /// gives [`ConfigError::Jail`] with fail2ban's message.
    pub fn from_stream(s: &JailStream) -> Result<JailSpec, ConfigError> {
        if let Some(e) = s.config_error() {
            return Err(ConfigError::Jail {
                jail: s.name.clone(),
                msg: e.to_string(),
            });
        }
        let mut j = JailSpec::with_defaults(&s.name);
        let mut st = Seen::default();
        for c in &s.commands {
            j.apply(c, &mut st)?;
        }
        // bantime.* settings only count when the increment is switched on.
        if st.increment {
            inc(&mut j.bantime_increment);
        } else {
            j.bantime_increment = None;
        }
        Ok(j)
    }

    fn apply(&mut self, c: &Command, st: &mut Seen) -> Result<(), ConfigError> {
        let bad = |msg: &str| ConfigError::Command {
            cmd: cmd_text(c),
            msg: msg.to_string(),
        };
        let a = &c.0;
        let verb = c.str_at(0).ok_or_else(|| bad("no command name"))?;
        match verb {
            "add" => {
                let spec = c.str_at(2).unwrap_or("auto");
                let (kind, opts) = crate::options::extract_options(spec).map_err(|e| bad(&e))?;
                self.backend = BackendSpec {
                    kind: crate::ini::py_strip(&kind).to_string(),
                    options: opts,
                };
                Ok(())
            }
            "start" => Ok(()),
            "set" | "multi-set" => {
                let opt = c
                    .str_at(2)
                    .ok_or_else(|| bad("no option name"))?
                    .to_string();
                // An empty list option adds nothing: `ignoreip =` is sent as a bare `addignoreip`,
                // which fail2ban's server accepts with no entries; a bare add of a regex, a
                // journal match or a log path fails there as one command and the jail still runs.
                if a.len() == 3 && LIST_OPTIONS.contains(&opt.as_str()) {
                    return Ok(());
                }
                let val = a.get(3).ok_or_else(|| bad("no value"))?;
                self.set(c, &opt, val, &a[3..], st)
            }
            _ => Err(bad("unknown command")),
        }
    }

    fn set(
        &mut self,
        c: &Command,
        opt: &str,
        val: &Value,
        rest: &[Value],
        st: &mut Seen,
    ) -> Result<(), ConfigError> {
        let jail = self.name.clone();
        let opt_err = |msg: String| ConfigError::JailOption {
            jail: jail.clone(),
            option: opt.to_string(),
            msg,
        };
        let text = || {
            text_of(val)
                .ok_or_else(|| opt_err(format!("unexpected value {}", val.to_python_repr())))
        };
        let list = || -> Vec<String> {
            match val {
                Value::List(items) => items.iter().filter_map(text_of).collect(),
                v => text_of(v).into_iter().collect(),
            }
        };
        let int = |v: &Value| -> Result<i64, ConfigError> {
            match v {
                Value::Int(i) => Ok(*i),
                Value::Str(s) => crate::optval::py_int(s)
                    .ok_or_else(|| opt_err(format!("not an integer: {s:?}"))),
                other => Err(opt_err(format!(
                    "not an integer: {}",
                    other.to_python_repr()
                ))),
            }
        };
        let seconds = |v: &Value| -> Result<f64, ConfigError> {
            match v {
                Value::Int(i) => Ok(*i as f64),
                Value::Str(s) => crate::time::parse_time(s).map_err(|e| opt_err(e.to_string())),
                other => Err(opt_err(format!("not a time: {}", other.to_python_repr()))),
            }
        };
        match opt {
            "usedns" => self.usedns = UseDns::parse(&text()?),
            "prefregex" => self.prefregex = Some(text()?).filter(|s| !s.is_empty()),
            "addfailregex" => self.failregex.extend(list()),
            "addignoreregex" => self.ignoreregex.extend(list()),
            "maxlines" => {
                // fail2ban keeps at least one line in the buffer.
                let n = int(val)?;
                self.maxlines = Some(usize::try_from(n.max(1)).unwrap_or(1));
            }
            "datepattern" => self.datepattern = Some(text()?),
            "addjournalmatch" => {
                if !self.journalmatch.is_empty() {
                    self.journalmatch.push("+".into());
                }
                self.journalmatch.extend(rest.iter().filter_map(text_of));
            }
            "maxretry" => {
                // A negative count bans at the first failure in fail2ban, as 0 does.
                let n = int(val)?;
                self.maxretry =
                    u32::try_from(n.max(0)).map_err(|_| opt_err(format!("out of range: {n}")))?;
            }
            "maxmatches" => {
                let n = int(val)?;
                self.maxmatches =
                    u32::try_from(n.max(0)).map_err(|_| opt_err(format!("out of range: {n}")))?;
            }
            "findtime" => self.findtime = seconds(val)?,
            "bantime" => self.bantime = seconds(val)?,
            "bantime.increment" => {
                st.increment = bool_of(val).unwrap_or(false);
            }
            "bantime.factor" => inc(&mut self.bantime_increment).factor = Some(text()?),
            "bantime.formula" => inc(&mut self.bantime_increment).formula = Some(text()?),
            "bantime.multipliers" => {
                let t = text()?;
                let mut m = Vec::new();
                for w in t.split_whitespace() {
                    m.push(crate::time::parse_time(w).map_err(|e| opt_err(e.to_string()))?);
                }
                inc(&mut self.bantime_increment).multipliers = m;
            }
            "bantime.maxtime" => {
                let v = seconds(val)?;
                inc(&mut self.bantime_increment).maxtime = Some(v);
            }
            "bantime.rndtime" => {
                let v = seconds(val)?;
                inc(&mut self.bantime_increment).rndtime = Some(v);
            }
            "bantime.overalljails" => {
                let b = bool_of(val).unwrap_or(false);
                inc(&mut self.bantime_increment).overalljails = b;
            }
            "ignorecommand" => self.ignorecommand = Some(text()?).filter(|s| !s.is_empty()),
            "ignoreself" => self.ignoreself = bool_of(val).unwrap_or(true),
            "addignoreip" => self.ignoreip.extend(rest.iter().filter_map(text_of)),
            "ignorecache" => self.ignorecache = Some(text()?).filter(|s| !s.is_empty()),
            "logencoding" => self.logencoding = Some(text()?),
            "logtimezone" => self.logtimezone = Some(text()?).filter(|s| !s.is_empty()),
            "addlogpath" => {
                let tail = rest.get(1).and_then(text_of).is_some_and(|t| t == "tail");
                self.logpaths.push((PathBuf::from(text()?), tail));
            }
            "addaction" => {
                let name = text()?;
                let python = match (rest.get(1).and_then(text_of), rest.get(2).and_then(text_of)) {
                    (Some(p), Some(j)) => Some((PathBuf::from(p), j)),
                    (Some(p), None) => Some((PathBuf::from(p), "{}".to_string())),
                    _ => None,
                };
                self.actions.push(ActionSpec {
                    name,
                    python,
                    ..Default::default()
                });
            }
            "action" => {
                let name = text()?;
                let pairs: Vec<(String, String)> = match rest.get(1) {
                    Some(Value::List(items)) => items
                        .iter()
                        .filter_map(|p| match p {
                            Value::List(kv) if kv.len() == 2 => {
                                Some((text_of(&kv[0])?, text_of(&kv[1]).unwrap_or_default()))
                            }
                            _ => None,
                        })
                        .collect(),
                    Some(k) => vec![(
                        text_of(k).unwrap_or_default(),
                        rest.get(2).and_then(text_of).unwrap_or_default(),
                    )],
                    None => Vec::new(),
                };
                let act = self
                    .actions
                    .iter_mut()
                    .rev()
                    .find(|a| a.name == name)
                    .ok_or_else(|| opt_err(format!("action {name:?} was not added")))?;
                for (k, v) in pairs {
                    // Command templates go to `commands`; flags such as `actionstart_on_demand`
                    // and `norestored` are properties ("True"/"False").
                    let flag = k == "actionstart_on_demand" || k == "actionrepair_on_unban";
                    if k.starts_with("action") && !flag {
                        act.commands.insert(k, v);
                    } else {
                        act.properties.insert(k, v);
                    }
                }
            }
            _ => self.other.push((opt.to_string(), val.clone())),
        }
        let _ = c;
        Ok(())
    }
}

/// The server settings of fail2ban.conf.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    pub loglevel: String,
    pub logtarget: String,
    pub syslogsocket: String,
    pub socket: PathBuf,
    pub pidfile: PathBuf,
    /// `None` for `auto`.
    pub allowipv6: Option<bool>,
    /// `None` when the database is off (`dbfile = None`); `:memory:` is kept as that path.
    pub dbfile: Option<PathBuf>,
    pub dbmaxmatches: Option<u32>,
    pub dbpurgeage: f64,
}

impl ServerSpec {
    /// Build from the general `set` commands (socket and pidfile keep their defaults; see
    /// [`ServerSpec::from_config`] for the ones of fail2ban.conf).
    pub fn from_stream(cmds: &[Command]) -> Result<ServerSpec, ConfigError> {
        let mut s = ServerSpec {
            loglevel: "INFO".into(),
            logtarget: "/var/log/fail2ban.log".into(),
            syslogsocket: "auto".into(),
            socket: PathBuf::from("/var/run/fail2ban/fail2ban.sock"),
            pidfile: PathBuf::from("/var/run/fail2ban/fail2ban.pid"),
            allowipv6: None,
            dbfile: Some(PathBuf::from("/var/lib/fail2ban/fail2ban.sqlite3")),
            dbmaxmatches: None,
            dbpurgeage: 86_400.0,
        };
        for c in cmds {
            let bad = |msg: String| ConfigError::Command {
                cmd: c.to_python_repr(),
                msg,
            };
            if c.str_at(0) != Some("set") {
                return Err(bad("expected a 'set' command".into()));
            }
            let opt = c.str_at(1).ok_or_else(|| bad("no option name".into()))?;
            let val = c.0.get(2).ok_or_else(|| bad("no value".into()))?;
            let text = || {
                text_of(val)
                    .ok_or_else(|| bad(format!("unexpected value {}", val.to_python_repr())))
            };
            match opt {
                "loglevel" => s.loglevel = text()?,
                "logtarget" => s.logtarget = text()?,
                "syslogsocket" => s.syslogsocket = text()?,
                "socket" => s.socket = PathBuf::from(text()?),
                "pidfile" => s.pidfile = PathBuf::from(text()?),
                "allowipv6" => {
                    // fail2ban: exactly "auto" lets the system decide, anything else is read as
                    // a boolean (1/on/true/yes, any case, is true).
                    let t = text()?;
                    s.allowipv6 = if t == "auto" {
                        None
                    } else {
                        Some(crate::optval::as_bool(&t))
                    };
                }
                "dbfile" => {
                    let t = text()?;
                    s.dbfile = if t.eq_ignore_ascii_case("none") {
                        None
                    } else {
                        Some(PathBuf::from(t))
                    };
                }
                "dbmaxmatches" => {
                    s.dbmaxmatches = match val {
                        Value::None => None,
                        Value::Int(i) => {
                            Some(u32::try_from(*i).map_err(|_| bad(format!("out of range: {i}")))?)
                        }
                        Value::Str(t) => Some(
                            crate::optval::py_int(t)
                                .and_then(|i| u32::try_from(i).ok())
                                .ok_or_else(|| bad(format!("not a count: {t:?}")))?,
                        ),
                        other => {
                            return Err(bad(format!("not a count: {}", other.to_python_repr())))
                        }
                    }
                }
                "dbpurgeage" => {
                    s.dbpurgeage = match val {
                        Value::Int(i) => *i as f64,
                        _ => crate::time::parse_time(&text()?).map_err(|e| bad(e.to_string()))?,
                    }
                }
                // Thread stack size and other settings have no effect on f2b.
                _ => {}
            }
        }
        Ok(s)
    }

    /// Build from a loaded config, including socket and pidfile.
    pub fn from_config(cfg: &crate::LoadedConfig) -> Result<ServerSpec, ConfigError> {
        let mut s = Self::from_stream(&cfg.server)?;
        s.socket = cfg.socket.clone();
        s.pidfile = cfg.pidfile.clone();
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.to_string())
    }
    fn cmd(items: &[Value]) -> Command {
        Command(items.to_vec())
    }
    fn stream(cmds: Vec<Command>) -> JailStream {
        JailStream {
            name: "j".into(),
            commands: cmds,
        }
    }

    #[test]
    fn jail_from_commands() {
        let j = JailSpec::from_stream(&stream(vec![
            cmd(&[s("add"), s("j"), s("systemd[journalfiles=/x.journal]")]),
            cmd(&[s("set"), s("j"), s("usedns"), s("RAW")]),
            cmd(&[
                s("multi-set"),
                s("j"),
                s("addfailregex"),
                Value::List(vec![s("^a <HOST>"), s("^b <HOST>")]),
            ]),
            cmd(&[
                s("set"),
                s("j"),
                s("addjournalmatch"),
                s("A=1"),
                s("+"),
                s("B=2"),
            ]),
            cmd(&[s("set"), s("j"), s("addjournalmatch"), s("C=3")]),
            cmd(&[s("set"), s("j"), s("maxretry"), Value::Int(7)]),
            cmd(&[s("set"), s("j"), s("findtime"), s("1h 30m")]),
            cmd(&[s("set"), s("j"), s("bantime"), s("-1")]),
            cmd(&[s("set"), s("j"), s("bantime.increment"), Value::Bool(false)]),
            cmd(&[s("set"), s("j"), s("bantime.factor"), s("2")]),
            cmd(&[
                s("set"),
                s("j"),
                s("addignoreip"),
                s("10.0.0.0/8"),
                s("::1"),
            ]),
            cmd(&[
                s("set"),
                s("j"),
                s("addlogpath"),
                s("/var/log/x"),
                s("tail"),
            ]),
            cmd(&[s("set"), s("j"), s("addaction"), s("ufw")]),
            cmd(&[
                s("set"),
                s("j"),
                s("action"),
                s("ufw"),
                s("actionban"),
                s("ufw deny <ip>"),
            ]),
            cmd(&[
                s("set"),
                s("j"),
                s("addaction"),
                s("py"),
                s("/etc/fail2ban/action.d/py.py"),
                s("{\"a\": \"1\"}"),
            ]),
            cmd(&[s("set"), s("j"), s("custom"), s("v")]),
        ]))
        .unwrap();
        assert_eq!(j.backend.kind, "systemd");
        assert_eq!(
            j.backend.options,
            vec![("journalfiles".to_string(), "/x.journal".to_string())]
        );
        assert_eq!(j.usedns, UseDns::Raw);
        assert_eq!(j.failregex.len(), 2);
        assert_eq!(j.journalmatch, vec!["A=1", "+", "B=2", "+", "C=3"]);
        assert_eq!(
            (j.maxretry, j.maxmatches, j.findtime, j.bantime),
            (7, 5, 5400.0, -1.0)
        );
        assert_eq!(
            j.bantime_increment, None,
            "bantime.* without increment stays off"
        );
        assert_eq!(j.ignoreip, vec!["10.0.0.0/8", "::1"]);
        assert_eq!(j.logpaths, vec![(PathBuf::from("/var/log/x"), true)]);
        assert_eq!(
            j.actions[0].commands.get("actionban").map(String::as_str),
            Some("ufw deny <ip>")
        );
        assert_eq!(
            j.actions[1].python,
            Some((
                PathBuf::from("/etc/fail2ban/action.d/py.py"),
                "{\"a\": \"1\"}".to_string()
            ))
        );
        assert_eq!(j.other, vec![("custom".to_string(), s("v"))]);
    }

    #[test]
    fn empty_list_options_add_nothing() {
        let mut cmds: Vec<Command> = LIST_OPTIONS
            .iter()
            .map(|o| cmd(&[s("set"), s("j"), s(o)]))
            .collect();
        cmds.push(cmd(&[s("set"), s("j"), s("addignoreip"), s("192.0.2.1")]));
        let j = JailSpec::from_stream(&stream(cmds)).unwrap();
        assert_eq!(j.ignoreip, vec!["192.0.2.1"]);
        assert!(
            j.failregex.is_empty()
                && j.ignoreregex.is_empty()
                && j.journalmatch.is_empty()
                && j.logpaths.is_empty()
        );
        // other options still need their value
        assert!(
            JailSpec::from_stream(&stream(vec![cmd(&[s("set"), s("j"), s("maxretry")])])).is_err()
        );
    }

    #[test]
    fn increment_and_errors() {
        let j = JailSpec::from_stream(&stream(vec![
            cmd(&[s("set"), s("j"), s("bantime.increment"), Value::Bool(true)]),
            cmd(&[s("set"), s("j"), s("bantime.multipliers"), s("1 2 4")]),
            cmd(&[s("set"), s("j"), s("bantime.maxtime"), s("1w")]),
        ]))
        .unwrap();
        let inc = j.bantime_increment.unwrap();
        assert_eq!(
            (inc.multipliers, inc.maxtime),
            (vec![1.0, 2.0, 4.0], Some(604_800.0))
        );
        let e = JailSpec::from_stream(&stream(vec![cmd(&[
            s("set"),
            s("j"),
            s("findtime"),
            s("soon"),
        ])]))
        .unwrap_err();
        assert!(
            matches!(e, ConfigError::JailOption { ref option, .. } if option == "findtime"),
            "{e}"
        );
        let e = JailSpec::from_stream(&stream(vec![cmd(&[
            s("set"),
            s("j"),
            s("action"),
            s("nope"),
            s("k"),
            s("v"),
        ])]))
        .unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        let e = JailSpec::from_stream(&stream(vec![cmd(&[
            s("config-error"),
            s("Jail 'j' skipped"),
        ])]))
        .unwrap_err();
        assert!(matches!(e, ConfigError::Jail { .. }));
    }

    #[test]
    fn server_from_commands() {
        let c = |k: &str, v: Value| cmd(&[s("set"), s(k), v]);
        let sp = ServerSpec::from_stream(&[
            c("loglevel", s("NOTICE")),
            c("dbfile", s("None")),
            c("dbmaxmatches", Value::Int(3)),
            c("dbpurgeage", s("1w")),
            c("allowipv6", s("auto")),
        ])
        .unwrap();
        assert_eq!(sp.loglevel, "NOTICE");
        assert_eq!(
            (sp.dbfile, sp.dbmaxmatches, sp.dbpurgeage, sp.allowipv6),
            (None, Some(3), 604_800.0, None)
        );
        assert!(ServerSpec::from_stream(&[c("dbpurgeage", s("later"))]).is_err());
        let v6 = |v: &str| {
            ServerSpec::from_stream(&[c("allowipv6", s(v))])
                .unwrap()
                .allowipv6
        };
        assert_eq!(
            (v6("auto"), v6("Yes"), v6("off"), v6("maybe")),
            (None, Some(true), Some(false), Some(false))
        );
    }
}
