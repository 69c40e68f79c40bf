//! fail2ban configuration reader.
//!
//! Reads a fail2ban configuration tree (`fail2ban.conf`, `jail.conf`, `jail.d/`, `filter.d/`,
//! `action.d/` and every `.local` override) with the very rules fail2ban 1.0 applies: Python
//! ConfigParser lexing, `[INCLUDES]`, `%(name)s` interpolation, `<tag>` substitution,
//! `name[k=v]` arguments. It produces
//! - the resolved command stream that `fail2ban-client -d` prints ([`load`], [`dump_lines`]),
//! - typed specs the daemon runs ([`JailSpec`], [`ServerSpec`]), and
//! - resolved filters for the regex tools ([`load_filter`]).
//!
//! It deliberately does no I/O beyond reading config files and checking which log files exist
//! (fail2ban expands logpath globs when reading), compiles no regex and runs no command.

pub mod error;
pub mod spec;
pub mod time;
pub mod value;

use std::collections::BTreeMap;
use std::path::Path;

pub use error::ConfigError;
pub use spec::{ActionSpec, BackendSpec, BanTimeIncrement, JailSpec, ServerSpec, UseDns};
pub use time::{parse_time, TimeError};
pub use value::{Command, Value};

/// Everything `fail2ban-client -d` resolves from a config dir.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadedConfig {
    /// The general `set` lines from fail2ban.conf (in -d order).
    pub server: Vec<Command>,
    /// The `[Definition] socket` of fail2ban.conf (not part of the -d stream).
    pub socket: std::path::PathBuf,
    /// The `[Definition] pidfile` of fail2ban.conf (not part of the -d stream).
    pub pidfile: std::path::PathBuf,
    /// Enabled jails that loaded, in config order, each from `add` to its last action command.
    pub jails: Vec<JailStream>,
    /// Jails (or files) that could not be loaded; those jails are skipped.
    pub errors: Vec<ConfigError>,
}

/// The commands of one jail, from `['add', name, backend]` to its last action command
/// (the `start` commands are emitted by [`dump_lines`] after all jails, as fail2ban does).
#[derive(Debug, Clone, PartialEq)]
pub struct JailStream {
    pub name: String,
    pub commands: Vec<Command>,
}

/// A filter file resolved with its options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterDef {
    pub name: String,
    pub prefregex: Option<String>,
    pub failregex: Vec<String>,
    pub ignoreregex: Vec<String>,
    pub maxlines: Option<usize>,
    pub datepattern: Option<String>,
    pub journalmatch: Vec<String>,
    /// All resolved `[Definition]` and `[Init]` values.
    pub options: BTreeMap<String, String>,
}

/// Read the configuration under `confdir` and resolve it to the `-d` command stream.
pub fn load(confdir: &Path) -> Result<LoadedConfig, ConfigError> {
    let _ = confdir;
    Err(ConfigError::NotImplemented("load"))
}

/// The lines `fail2ban-client -d` prints for `cfg` (without its log lines).
pub fn dump_lines(cfg: &LoadedConfig) -> Vec<String> {
    let mut out: Vec<String> = cfg.server.iter().map(Command::to_python_repr).collect();
    for j in &cfg.jails {
        out.extend(j.commands.iter().map(Command::to_python_repr));
    }
    for j in &cfg.jails {
        out.push(Command::strs(["start", j.name.as_str()]).to_python_repr());
    }
    out
}

/// Resolve a filter given as `name[k=v]` (looked up in `confdir/filter.d`) or as a path to a
/// filter file, with jail options `jail_opts` taking part in the interpolation.
pub fn load_filter(confdir: &Path, spec: &str, jail_opts: &[(String, String)]) -> Result<FilterDef, ConfigError> {
    let _ = (confdir, spec, jail_opts);
    Err(ConfigError::NotImplemented("load_filter"))
}
