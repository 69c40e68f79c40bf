//! Typed specs built from the command stream: what the daemon runs. Every number and time is
//! parsed here, so the daemon never sees a raw option string.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::{Command, ConfigError, JailStream};

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

/// One action of a jail.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionSpec {
    /// The action's name in the jail (`actname`), unique per jail.
    pub name: String,
    /// `actionstart`, `actionban`, ...: raw templates with their `<tags>` still in.
    pub commands: BTreeMap<String, String>,
    /// Every other property (`port`, `protocol`, `name`, `blocktype?family=inet6`, ...).
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
    pub other: Vec<(String, crate::Value)>,
}

impl JailSpec {
    /// Build the typed jail from its stream.
    pub fn from_stream(s: &JailStream) -> Result<JailSpec, ConfigError> {
        let _ = s;
        Err(ConfigError::NotImplemented("JailSpec::from_stream"))
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
        let _ = cmds;
        Err(ConfigError::NotImplemented("ServerSpec::from_stream"))
    }

    /// Build from a loaded config, including socket and pidfile.
    pub fn from_config(cfg: &crate::LoadedConfig) -> Result<ServerSpec, ConfigError> {
        let mut s = Self::from_stream(&cfg.server)?;
        s.socket = cfg.socket.clone();
        s.pidfile = cfg.pidfile.clone();
        Ok(s)
    }
}
