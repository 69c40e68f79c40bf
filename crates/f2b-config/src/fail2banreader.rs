//! fail2ban.conf as the client reads it: the general settings it sends, in fail2ban's order,
//! plus socket and pidfile.

use crate::config::Config;
use crate::configreader::{get_options, py_repr, s, Loader, Ty};
use crate::optval::OptVal;
use crate::ordmap::OrdMap;
use crate::{Command, ConfigError, Value};

/// The general settings of fail2ban.conf, plus socket and pidfile.
pub(crate) struct ServerRead {
    pub commands: Vec<Command>,
    pub socket: String,
    pub pidfile: String,
}

const LOG_LEVELS: &[&str] = &[
    "CRITICAL",
    "FATAL",
    "ERROR",
    "WARN",
    "WARNING",
    "NOTICE",
    "INFO",
    "DEBUG",
    "TRACEDEBUG",
    "HEAVYDEBUG",
    "MSG",
    "NOTSET",
];

pub(crate) fn read_fail2ban(loader: &mut Loader) -> Result<ServerRead, ConfigError> {
    let (cfg, _found) = Config::read(&mut loader.files, &loader.basedir.clone(), "fail2ban")?;
    let early = get_options(
        &cfg,
        "Definition",
        &[
            (Ty::Str, "socket", s("/var/run/fail2ban/fail2ban.sock")),
            (Ty::Str, "pidfile", s("/var/run/fail2ban/fail2ban.pid")),
            (Ty::Str, "loglevel", s("INFO")),
            (Ty::Str, "logtarget", s("/var/log/fail2ban.log")),
            (Ty::Str, "syslogsocket", s("auto")),
        ],
        &OrdMap::new(),
        false,
        true,
    )?;
    let mut opts = get_options(
        &cfg,
        "Definition",
        &[
            (Ty::Str, "loglevel", s("INFO")),
            (Ty::Str, "logtarget", s("STDERR")),
            (Ty::Str, "syslogsocket", s("auto")),
            (Ty::Str, "allowipv6", s("auto")),
            (Ty::Str, "dbfile", s("/var/lib/fail2ban/fail2ban.sqlite3")),
            (Ty::Int, "dbmaxmatches", None),
            (Ty::Str, "dbpurgeage", s("1d")),
        ],
        &OrdMap::new(),
        false,
        true,
    )?;
    // The client's own settings (taken from the early read) override the general ones.
    for k in ["logtarget", "loglevel", "syslogsocket"] {
        if let Some(v) = early.get(k) {
            opts.insert(k.to_string(), v.clone());
        }
    }
    let level = opts
        .get("loglevel")
        .and_then(OptVal::as_var)
        .unwrap_or_default();
    let numeric = !level.is_empty() && level.chars().all(|c| c.is_ascii_digit());
    if !numeric && !LOG_LEVELS.contains(&level.to_uppercase().as_str()) {
        return Err(ConfigError::Option {
            section: "Definition".into(),
            option: "loglevel".into(),
            msg: format!("invalid log level {}", py_repr(&level)),
        });
    }
    let mut commands = Vec::new();
    if cfg.has_section("Thread") {
        let th = get_options(
            &cfg,
            "Thread",
            &[(Ty::Int, "stacksize", None)],
            &OrdMap::new(),
            false,
            true,
        )?;
        if let Some(v) = th.get("stacksize") {
            commands.push(Command(vec![
                "set".into(),
                "thread".into(),
                Value::Dict(vec![("stacksize".into(), v.to_value())]),
            ]));
        }
    }
    for k in [
        "syslogsocket",
        "loglevel",
        "logtarget",
        "allowipv6",
        "dbfile",
        "dbmaxmatches",
        "dbpurgeage",
    ] {
        if let Some(v) = opts.get(k) {
            commands.push(Command(vec!["set".into(), k.into(), v.to_value()]));
        }
    }
    let text = |k: &str| early.get(k).and_then(OptVal::as_var).unwrap_or_default();
    Ok(ServerRead {
        commands,
        socket: text("socket"),
        pidfile: text("pidfile"),
    })
}
