//! fail2ban's server command set over the control socket: each command decoded by f2b-protocol
//! is answered with the value fail2ban-server would return, in the same shape (lists of
//! `(label, value)` tuples for `status`, a list of one-key dicts for `banned`, counts for
//! `banip`/`unbanip`), so both Debian's fail2ban-client and f2b-client print identical output.
//!
//! Commands that configure a jail from scratch (`add`, `set JAIL addfailregex ...`) are refused:
//! this daemon reads its configuration itself, and `reload` rereads it.
use std::sync::Arc;

use f2b_protocol::server::{CommandError, Handler};
use f2b_protocol::Value;

use crate::daemon::Event;
use crate::jail::Jail;
use crate::logging::{self, Level};
use crate::server::Server;
use crate::ticket::BanTime;

const LOG: &str = "fail2ban.transmitter";

/// The version string `version` answers.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The command handler of the control socket.
pub struct Transmitter {
    server: Arc<Server>,
}

type Reply = Result<Value, CommandError>;

fn s(v: impl Into<String>) -> Value {
    Value::Str(v.into())
}

fn pair(label: &str, v: Value) -> Value {
    Value::Tuple(vec![s(label), v])
}

fn strs<I: IntoIterator<Item = String>>(it: I) -> Value {
    Value::List(it.into_iter().map(Value::Str).collect())
}

fn int(n: impl TryInto<i64>) -> Value {
    Value::Int(n.try_into().unwrap_or(i64::MAX))
}

/// A word of the command as text (fail2ban's client sends only strings; numbers are accepted).
fn word(cmd: &[Value], i: usize) -> Result<String, CommandError> {
    match cmd.get(i) {
        Some(Value::Str(w)) => Ok(w.clone()),
        Some(Value::Int(n)) => Ok(n.to_string()),
        Some(Value::Float(f)) => Ok(f.to_string()),
        Some(Value::Bool(b)) => Ok(if *b { "True".into() } else { "False".into() }),
        Some(other) => Err(CommandError::Type(format!(
            "expected a string, got {}",
            other.type_name()
        ))),
        None => Err(CommandError::Index("list index out of range".into())),
    }
}

fn words_from(cmd: &[Value], start: usize) -> Result<Vec<String>, CommandError> {
    (start..cmd.len()).map(|i| word(cmd, i)).collect()
}

fn invalid() -> CommandError {
    CommandError::Failed("Invalid command".into())
}

/// fail2ban keeps bantime/findtime as numbers; it answers `get` with an int when whole.
/// `ignorecache` as fail2ban answers it: `[key, max-count, max-time]`, or None when off.
fn ignorecache_value(c: Option<(String, usize, f64)>) -> Value {
    match c {
        Some((key, count, time)) => Value::List(vec![s(key), int(count), secs_value(time)]),
        None => Value::None,
    }
}

fn secs_value(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::Int(v as i64)
    } else {
        Value::Float(v)
    }
}

fn parse_secs(text: &str) -> Result<f64, CommandError> {
    f2b_config::parse_time(text).map_err(|e| CommandError::Value(e.to_string()))
}

impl Transmitter {
    pub fn new(server: Arc<Server>) -> Transmitter {
        Transmitter { server }
    }

    fn jail(&self, name: &str) -> Result<Arc<Jail>, CommandError> {
        self.server
            .jail(name)
            .ok_or_else(|| CommandError::UnknownJail(name.to_string()))
    }

    fn dispatch(&self, cmd: &[Value]) -> Reply {
        let name = word(cmd, 0)?;
        match name.as_str() {
            "ping" => Ok(s("pong")),
            "echo" => Ok(Value::List(cmd[1..].to_vec())),
            "version" => Ok(s(VERSION)),
            "server-status" => Ok(s("Server ready")),
            "status" => self.status(cmd),
            "stop" => {
                if cmd.len() == 1 {
                    self.server.request(Event::Stop);
                    Ok(Value::None)
                } else if word(cmd, 1)? == "--all" {
                    self.server.stop_all();
                    Ok(Value::None)
                } else {
                    let j = word(cmd, 1)?;
                    if self.server.stop_jail(&j) {
                        Ok(Value::None)
                    } else {
                        Err(CommandError::UnknownJail(j))
                    }
                }
            }
            "reload" => {
                // fail2ban-client sends `reload [--all|JAIL] [opts] [stream]`; the stream is what it
                // read from its config: we reread the same tree ourselves.
                let target = match cmd.get(1) {
                    Some(Value::Str(w)) if w != "--all" && !w.starts_with("--") => Some(w.clone()),
                    _ => None,
                };
                self.server
                    .reload(target.as_deref())
                    .map_err(CommandError::Failed)?;
                Ok(s("OK"))
            }
            "flushlogs" => {
                let r = logging::flush();
                crate::log!(
                    LOG,
                    Level::INFO,
                    "{} performed on {}",
                    if r == "rolled over" {
                        "rollover"
                    } else {
                        "flush"
                    },
                    logging::target()
                );
                Ok(s(r))
            }
            "banned" => self.banned(&words_from(cmd, 1)?),
            "unban" => {
                let ips = words_from(cmd, 1)?;
                if ips.is_empty() {
                    return Err(invalid());
                }
                let jails = self.server.jails();
                let mut n = 0;
                if ips.len() == 1 && ips[0] == "--all" {
                    for j in &jails {
                        n += j.unban_all();
                    }
                } else {
                    for j in &jails {
                        n += j.unban_ips(ips.clone());
                    }
                }
                Ok(int(n))
            }
            "get" => self.get(cmd),
            "set" => self.set(cmd),
            "sleep" => {
                let secs: f64 = word(cmd, 1)?
                    .parse()
                    .map_err(|_| CommandError::Value("could not convert string to float".into()))?;
                if !secs.is_finite() {
                    return Err(CommandError::Value(
                        "sleep needs a finite number of seconds".into(),
                    ));
                }
                std::thread::sleep(std::time::Duration::from_secs_f64(secs.clamp(0.0, 3600.0)));
                Ok(Value::None)
            }
            "add" | "start" | "multi-set" | "server-stream" => Err(CommandError::Failed(format!(
                "{name}: jails are defined by the configuration files under {} (use reload)",
                self.server.confdir().display()
            ))),
            "config-error" => {
                crate::log!(LOG, Level::ERROR, "{}", word(cmd, 1)?);
                Ok(Value::None)
            }
            _ => Err(invalid()),
        }
    }

    fn status(&self, cmd: &[Value]) -> Reply {
        match cmd.len() {
            1 => {
                let names = self.server.jail_names();
                Ok(Value::List(vec![
                    pair("Number of jail", int(names.len())),
                    pair("Jail list", s(names.join(", "))),
                ]))
            }
            2 | 3 => {
                let j = self.jail(&word(cmd, 1)?)?;
                let flavor = if cmd.len() == 3 {
                    word(cmd, 2)?
                } else {
                    "basic".to_string()
                };
                if !["short", "basic", "cymru"].contains(&flavor.as_str()) {
                    crate::log!(
                        "fail2ban.actions",
                        Level::WARNING,
                        "Unsupported extended jail status flavor '{flavor}'. Supported: ['short', 'basic', 'cymru']"
                    );
                }
                let st = j.status();
                let (src_label, src_list) = st.source;
                let src = if src_label == "Journal matches" {
                    strs([src_list.join(" + ")])
                } else {
                    strs(src_list)
                };
                let filter = Value::List(vec![
                    pair("Currently failed", int(st.currently_failed)),
                    pair("Total failed", int(st.total_failed)),
                    pair(src_label, src),
                ]);
                let mut actions = vec![
                    pair("Currently banned", int(st.currently_banned)),
                    pair("Total banned", int(st.total_banned)),
                ];
                if flavor != "short" {
                    actions.push(pair("Banned IP list", strs(st.banned)));
                }
                Ok(Value::List(vec![
                    pair("Filter", filter),
                    pair("Actions", Value::List(actions)),
                ]))
            }
            _ => Err(CommandError::Failed("Invalid command (no status)".into())),
        }
    }

    /// `banned`: with no IPs, one `{jail: [ips]}` dict per jail; with IPs, for each IP the
    /// list of jails it is banned in.
    fn banned(&self, ips: &[String]) -> Reply {
        let jails = self.server.jails();
        if ips.is_empty() {
            Ok(Value::List(
                jails
                    .iter()
                    .map(|j| Value::Dict(vec![(s(j.name()), strs(j.banned_ids()))]))
                    .collect(),
            ))
        } else {
            Ok(Value::List(
                ips.iter()
                    .map(|ip| {
                        strs(
                            jails
                                .iter()
                                .filter(|j| j.is_banned(ip))
                                .map(|j| j.name().to_string()),
                        )
                    })
                    .collect(),
            ))
        }
    }

    fn get(&self, cmd: &[Value]) -> Reply {
        let what = word(cmd, 1)?;
        let db = self.server.db_settings();
        match what.as_str() {
            "loglevel" => return Ok(s(logging::level_text())),
            "logtarget" => return Ok(s(logging::target())),
            "syslogsocket" => return Ok(s(logging::syslog_socket())),
            "dbfile" => {
                return Ok(db
                    .file
                    .map(|p| s(p.to_string_lossy()))
                    .unwrap_or(Value::None))
            }
            "dbpurgeage" => {
                return Ok(if db.file.is_some() {
                    secs_value(db.purgeage)
                } else {
                    Value::None
                })
            }
            "dbmaxmatches" => {
                return Ok(match (db.file, db.maxmatches) {
                    (Some(_), Some(m)) => int(m),
                    (Some(_), None) => int(10),
                    _ => Value::None,
                })
            }
            "thread" => return Ok(Value::Dict(Vec::new())),
            _ => {}
        }
        let j = self.jail(&what)?;
        let spec = self
            .server
            .spec(&what)
            .ok_or_else(|| CommandError::UnknownJail(what.clone()))?;
        let settings = j.settings();
        let opt = word(cmd, 2)?;
        Ok(match opt.as_str() {
            "banned" => {
                let ips = words_from(cmd, 3)?;
                if ips.is_empty() {
                    strs(j.banned_ids())
                } else if ips.len() == 1 {
                    // one ID: fail2ban answers a bare 1/0, several: a list
                    int(j.is_banned(&ips[0]) as i64)
                } else {
                    Value::List(ips.iter().map(|ip| int(j.is_banned(ip) as i64)).collect())
                }
            }
            "banip" => {
                let with_time = word(cmd, 3).map(|w| w == "--with-time").unwrap_or(false);
                strs(if with_time {
                    j.ban_list_with_time()
                } else {
                    j.ban_list()
                })
            }
            "logpath" => strs(
                spec.logpaths
                    .iter()
                    .map(|(p, _)| p.to_string_lossy().into_owned()),
            ),
            "logencoding" => s(spec.logencoding.clone().unwrap_or_else(|| "UTF-8".into())),
            "journalmatch" => Value::List(if spec.journalmatch.is_empty() {
                Vec::new()
            } else {
                spec.journalmatch
                    .split(|w| w == "+")
                    .map(|grp| strs(grp.iter().cloned()))
                    .collect()
            }),
            "ignoreself" => Value::Bool(j.ignore().ignore_self()),
            "ignoreip" => strs(j.ignore().entries()),
            "ignorecommand" => s(j.ignore().command().unwrap_or_default()),
            "ignorecache" => ignorecache_value(j.ignore().cache_settings()),
            "prefregex" => s(spec.prefregex.clone().unwrap_or_default()),
            "failregex" => strs(spec.failregex.clone()),
            "ignoreregex" => strs(spec.ignoreregex.clone()),
            "usedns" => s(match spec.usedns {
                f2b_config::UseDns::Yes => "yes",
                f2b_config::UseDns::Warn => "warn",
                f2b_config::UseDns::No => "no",
                f2b_config::UseDns::Raw => "raw",
            }),
            "findtime" => secs_value(settings.findtime),
            "datepattern" => spec.datepattern.clone().map(s).unwrap_or(Value::None),
            "logtimezone" => spec.logtimezone.clone().map(s).unwrap_or(Value::None),
            "maxmatches" => int(settings.maxmatches),
            "maxretry" => int(settings.maxretry),
            "maxlines" => int(spec.maxlines.unwrap_or(1)),
            "bantime" => secs_value(settings.bantime.as_secs()),
            "actions" => strs(j.action_names()),
            _ if opt.starts_with("bantime.") => {
                let inc = spec.bantime_increment.clone();
                match (&opt["bantime.".len()..], inc) {
                    ("increment", i) => Value::Bool(i.is_some()),
                    ("factor", Some(i)) => i.factor.map(s).unwrap_or(Value::None),
                    ("formula", Some(i)) => i.formula.map(s).unwrap_or(Value::None),
                    ("multipliers", Some(i)) => s(i
                        .multipliers
                        .iter()
                        .map(|m| m.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")),
                    ("maxtime", Some(i)) => i.maxtime.map(secs_value).unwrap_or(Value::None),
                    ("rndtime", Some(i)) => i.rndtime.map(secs_value).unwrap_or(Value::None),
                    ("overalljails", Some(i)) => Value::Bool(i.overalljails),
                    _ => Value::None,
                }
            }
            _ => {
                return Err(CommandError::Failed(
                    "Invalid command (no get action or not yet implemented)".into(),
                ))
            }
        })
    }

    fn set(&self, cmd: &[Value]) -> Reply {
        let what = word(cmd, 1)?;
        match what.as_str() {
            "loglevel" => {
                logging::set_level(&word(cmd, 2)?)
                    .map_err(|e| CommandError::Value(e.to_string()))?;
                return Ok(s(logging::level_text()));
            }
            "logtarget" => {
                let target = word(cmd, 2)?;
                if let Err(e) = logging::set_target(&target) {
                    crate::log!("fail2ban.server", Level::ERROR, "{e}");
                    return Err(CommandError::Failed("Failed to change log target".into()));
                }
                crate::log!("fail2ban.server", Level::INFO, "Start f2b v{VERSION}");
                crate::log!(
                    "fail2ban.server",
                    Level::INFO,
                    "Changed logging target to {target} for f2b v{VERSION}"
                );
                return Ok(s(logging::target()));
            }
            "syslogsocket" => {
                logging::set_syslog_socket(&word(cmd, 2)?)
                    .map_err(|_| CommandError::Failed("Failed to change syslog socket".into()))?;
                return Ok(s(logging::syslog_socket()));
            }
            "dbpurgeage" => {
                let secs = parse_secs(&word(cmd, 2)?)?;
                let mut has_db = false;
                self.server.update_db_settings(|d| {
                    has_db = d.file.is_some();
                    if has_db {
                        d.purgeage = secs;
                    }
                });
                return Ok(if has_db {
                    secs_value(secs)
                } else {
                    Value::None
                });
            }
            "dbmaxmatches" => {
                let n: u32 = word(cmd, 2)?
                    .parse()
                    .map_err(|_| CommandError::Value("invalid literal for int()".into()))?;
                let mut has_db = false;
                self.server.update_db_settings(|d| {
                    has_db = d.file.is_some();
                    if has_db {
                        d.maxmatches = Some(n);
                    }
                });
                return Ok(if has_db { int(n) } else { Value::None });
            }
            "dbfile" => {
                // The database is opened once at start from fail2ban.conf; changing it at run time
                // would need moving every jail's state, so only the current file is accepted.
                let want = word(cmd, 2)?;
                let cur = self.server.db_settings().file;
                let same = match &cur {
                    Some(p) => p.to_string_lossy() == want,
                    None => want.eq_ignore_ascii_case("none"),
                };
                if !same {
                    return Err(CommandError::Failed(
                        "dbfile can only be changed in fail2ban.conf (then restart)".into(),
                    ));
                }
                return Ok(cur.map(|p| s(p.to_string_lossy())).unwrap_or(Value::None));
            }
            _ => {}
        }
        let j = self.jail(&what)?;
        let opt = word(cmd, 2)?;
        match opt.as_str() {
            "banip" => {
                // fail2ban bans whatever ID it is given (a jail's failure ID need not be an
                // address); values reach the actions as data, never as shell text.
                let ips = words_from(cmd, 3)?;
                if ips.iter().any(|ip| ip.trim().is_empty()) {
                    return Err(CommandError::Value("empty ID".into()));
                }
                Ok(int(j.ban_ips(ips)))
            }
            "unbanip" => {
                let mut ips = words_from(cmd, 3)?;
                let report_absent = ips.first().is_some_and(|w| w == "--report-absent");
                if report_absent {
                    ips.remove(0);
                }
                let mut n = 0;
                for ip in ips {
                    let c = j.unban_ips(vec![ip.clone()]);
                    if c == 0 {
                        crate::log!("fail2ban.actions", Level::MSG, "{ip} is not banned");
                        if report_absent {
                            return Err(CommandError::Value(format!("{ip} is not banned")));
                        }
                    }
                    n += c;
                }
                Ok(int(n))
            }
            "bantime" => {
                let secs = parse_secs(&word(cmd, 3)?)?;
                j.update_settings(|st| st.bantime = BanTime::from_secs(secs));
                crate::log!(
                    "fail2ban.actions",
                    Level::INFO,
                    "  banTime: {}",
                    secs as i64
                );
                Ok(secs_value(j.settings().bantime.as_secs()))
            }
            "findtime" => {
                let secs = parse_secs(&word(cmd, 3)?)?;
                j.update_settings(|st| st.findtime = secs);
                crate::log!(
                    "fail2ban.filter",
                    Level::INFO,
                    "  findtime: {}",
                    secs as i64
                );
                Ok(secs_value(secs))
            }
            "maxretry" => {
                let n: u32 = word(cmd, 3)?
                    .parse()
                    .map_err(|_| CommandError::Value("invalid literal for int()".into()))?;
                j.update_settings(|st| st.maxretry = n);
                crate::log!("fail2ban.filter", Level::INFO, "  maxRetry: {n}");
                Ok(int(n))
            }
            "maxmatches" => {
                let n: usize = word(cmd, 3)?
                    .parse()
                    .map_err(|_| CommandError::Value("invalid literal for int()".into()))?;
                j.update_settings(|st| st.maxmatches = n);
                Ok(int(n))
            }
            "addignoreip" => {
                for ip in words_from(cmd, 3)? {
                    j.ignore().add(&ip);
                }
                Ok(strs(j.ignore().entries()))
            }
            "delignoreip" => {
                j.ignore().remove(&word(cmd, 3)?);
                Ok(strs(j.ignore().entries()))
            }
            "ignorecommand" => {
                j.ignore().set_command(&word(cmd, 3)?);
                Ok(s(j.ignore().command().unwrap_or_default()))
            }
            "ignorecache" => {
                let mut ignore = j.ignore();
                ignore
                    .set_cache(&word(cmd, 3)?)
                    .map_err(|e| CommandError::Failed(e.to_string()))?;
                Ok(ignorecache_value(ignore.cache_settings()))
            }
            "ignoreself" => {
                let v = word(cmd, 3)?;
                let on = matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "1" | "on");
                j.ignore().set_ignore_self(on);
                Ok(Value::Bool(on))
            }
            "idle" => match word(cmd, 3)?.as_str() {
                "on" | "off" => Err(CommandError::Failed(
                    "idle: not supported by this daemon".into(),
                )),
                _ => Err(CommandError::Failed(
                    "Invalid idle option, must be 'on' or 'off'".into(),
                )),
            },
            _ => Err(CommandError::Failed(format!(
                "Invalid command {opt:?} (no set action or not yet implemented)"
            ))),
        }
    }
}

impl Handler for Transmitter {
    fn handle(&self, cmd: &[Value]) -> Result<Value, CommandError> {
        let r = self.dispatch(cmd);
        if let Err(e) = &r {
            let shown: Vec<String> = cmd.iter().map(Value::py_repr).collect();
            crate::log!(
                LOG,
                Level::ERROR,
                "Command [{}] has failed. Received {}",
                shown.join(", "),
                e.to_value().py_repr()
            );
        }
        r
    }
}
