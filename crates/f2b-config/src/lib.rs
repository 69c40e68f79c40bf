//! fail2ban configuration reader.
//!
//! Reads a fail2ban configuration tree (`fail2ban.conf`, `jail.conf`, `jail.d/`, `filter.d/`,
//! `action.d/` and every `.local` override) with the very rules fail2ban 1.0 applies: Python
//! ConfigParser lexing, `[INCLUDES]`, `%(name)s` interpolation, `<tag>` substitution,
//! `name[k=v]` arguments. It produces
//! - the resolved command stream that `fail2ban-client -d` prints ([`load`], [`dump_lines`]),
//! - typed specs the daemon runs ([`JailSpec`], [`ServerSpec`]), and
//! - resolved filters for the regex tools ([`load_filter`]),
//! - the fail2ban.conf family alone, as fail2ban-client reads it before it talks to the server
//!   ([`load_fail2ban`]), and
//! - POSIX shell word splitting as Python's `shlex.split` ([`shlex::split`]), which fail2ban
//!   applies to interactive client lines and `journalmatch`.
//!
//! It deliberately does no I/O beyond reading config files and checking which log files exist
//! (fail2ban expands logpath globs when reading), compiles no regex and runs no command.
//!
//! Errors come in two kinds, as in fail2ban: a problem that makes fail2ban refuse the whole
//! configuration (a syntax error, a broken `%(x)s`, a self-referencing `<tag>`) is the `Err` of
//! [`load`]; a jail whose filter or action cannot be read is skipped, reported in
//! [`LoadedConfig::errors`] and kept as a lone `config-error` command.
//!
//! ```no_run
//! use std::path::Path;
//! let cfg = f2b_config::load(Path::new("/etc/fail2ban"))?;
//! for line in f2b_config::dump_lines(&cfg) {
//!     println!("{line}"); // as `fail2ban-client -d`
//! }
//! for stream in &cfg.jails {
//!     match f2b_config::JailSpec::from_stream(stream) {
//!         Ok(jail) => println!("{}: bantime {} s", jail.name, jail.bantime),
//!         Err(e) => eprintln!("skipped: {e}"),
//!     }
//! }
//! let server = f2b_config::ServerSpec::from_config(&cfg)?;
//! # let _ = server;
//! # Ok::<(), f2b_config::ConfigError>(())
//! ```

mod config;
mod configreader;
mod defreader;
pub mod error;
mod fail2banreader;
mod filterfile;
mod glob;
mod ini;
mod jailreader;
mod options;
mod optval;
mod ordmap;
pub mod shlex;
pub mod spec;
mod tags;
pub mod time;
pub mod value;

use std::collections::BTreeMap;
use std::path::Path;

pub use error::ConfigError;
pub use options::extract_options;
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

/// The fail2ban.conf family alone (`fail2ban.conf`, `fail2ban.d/*.conf`, `fail2ban.local`,
/// `fail2ban.d/*.local`): what [`load_fail2ban`] reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fail2banConfig {
    /// The general `set` lines (in -d order), as [`LoadedConfig::server`].
    pub server: Vec<Command>,
    /// `[Definition] socket` (empty when unset).
    pub socket: std::path::PathBuf,
    /// `[Definition] pidfile` (empty when unset).
    pub pidfile: std::path::PathBuf,
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

/// How [`load_with`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Accept jails whose logpath matches no file (what `-d` does). When false, such a jail
    /// makes the whole configuration fail, as it does when fail2ban starts.
    pub allow_no_files: bool,
    /// Treat every jail as enabled.
    pub force_enable: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            allow_no_files: true,
            force_enable: false,
        }
    }
}

impl JailStream {
    /// The message of a jail skipped for its definition (its stream is one `config-error`).
    pub fn config_error(&self) -> Option<&str> {
        match self.commands.first() {
            Some(c) if c.str_at(0) == Some("config-error") => c.str_at(1),
            _ => None,
        }
    }
}

/// Read the configuration under `confdir` and resolve it to the command stream `-d` prints.
///
/// `Err` when fail2ban itself would stop (a syntax error in a file, a broken `%(...)s`, a
/// self-referencing `<tag>`, ...). A jail whose filter or action cannot be found or parsed is
/// reported in `errors` and kept in `jails` as a lone `config-error` command, as fail2ban does.
pub fn load(confdir: &Path) -> Result<LoadedConfig, ConfigError> {
    load_with(confdir, LoadOptions::default())
}

/// [`load`] with options.
pub fn load_with(confdir: &Path, opts: LoadOptions) -> Result<LoadedConfig, ConfigError> {
    load_sections(confdir, opts, None)
}

/// Read the configuration for one jail only (what `reload JAIL` / `restart JAIL` read): the
/// general settings plus that jail's stream (empty when it is not enabled). A jail with no
/// section at all is an error, as in fail2ban.
pub fn load_jail(
    confdir: &Path,
    jail: &str,
    opts: LoadOptions,
) -> Result<LoadedConfig, ConfigError> {
    load_sections(confdir, opts, Some(jail))
}

/// Read only the fail2ban.conf family under `confdir`, as fail2ban-client does before it talks
/// to the server (socket, pid file): no jail file is opened, so a broken jail.local can
/// neither stop `ping` nor change the socket it goes to. Errors are those of [`load`] for
/// these files.
pub fn load_fail2ban(confdir: &Path) -> Result<Fail2banConfig, ConfigError> {
    check_confdir(confdir)?;
    let mut loader = configreader::Loader::new(confdir);
    let server = fail2banreader::read_fail2ban(&mut loader)?;
    Ok(Fail2banConfig {
        server: server.commands,
        socket: server.socket.into(),
        pidfile: server.pidfile.into(),
    })
}

fn check_confdir(confdir: &Path) -> Result<(), ConfigError> {
    if !confdir.exists() {
        return Err(ConfigError::Dir {
            msg: format!(
                "Base configuration directory {} does not exist",
                confdir.display()
            ),
        });
    }
    Ok(())
}

fn load_sections(
    confdir: &Path,
    opts: LoadOptions,
    only: Option<&str>,
) -> Result<LoadedConfig, ConfigError> {
    check_confdir(confdir)?;
    let mut loader = configreader::Loader::new(confdir);
    let server = fail2banreader::read_fail2ban(&mut loader)?;
    let basedir = loader.basedir.clone();
    let (mut jcfg, _) = config::Config::read(&mut loader.files, &basedir, "jail")?;
    let sections: Vec<String> = match only {
        Some("INCLUDES") => Vec::new(),
        Some(j) => vec![j.to_string()],
        None => jcfg
            .sections
            .keys()
            .filter(|s| !s.starts_with("KNOWN/") && *s != "INCLUDES")
            .cloned()
            .collect(),
    };
    let mut jails = Vec::new();
    for sec in &sections {
        if let Some(j) =
            jailreader::JailReader::read(&mut loader, &mut jcfg, sec, opts.force_enable)?
        {
            jails.push(j);
        }
    }
    let mut out = LoadedConfig {
        server: server.commands,
        socket: server.socket.into(),
        pidfile: server.pidfile.into(),
        jails: Vec::new(),
        errors: Vec::new(),
    };
    for j in jails.iter_mut() {
        let commands = j.convert(opts.allow_no_files)?;
        if let Some(e) = &j.error {
            out.errors.push(ConfigError::Jail {
                jail: j.name.clone(),
                msg: e.clone(),
            });
        }
        out.jails.push(JailStream {
            name: j.name.clone(),
            commands,
        });
    }
    out.errors.splice(0..0, loader.files.notes.drain(..));
    Ok(out)
}

/// The lines `fail2ban-client -d` prints for `cfg` (without its log lines).
pub fn dump_lines(cfg: &LoadedConfig) -> Vec<String> {
    let mut out: Vec<String> = cfg.server.iter().map(Command::to_python_repr).collect();
    for j in &cfg.jails {
        out.extend(j.commands.iter().map(Command::to_python_repr));
    }
    for j in &cfg.jails {
        if j.config_error().is_none() {
            out.push(Command::strs(["start", j.name.as_str()]).to_python_repr());
        }
    }
    out
}

/// Resolve a filter given as `name[k=v]` (looked up in `confdir/filter.d` as `name`,
/// `name.conf`, `name.local`) or as a path to a filter file, the way fail2ban-regex does.
/// `jail_opts` act as jail options (interpolation variables); a `backend` among them selects
/// the `logtype` (`journal` for `systemd*`). [`ConfigError::NotFound`] when no file matches, so
/// the caller can treat the argument as a literal regex.
pub fn load_filter(
    confdir: &Path,
    spec: &str,
    jail_opts: &[(String, String)],
) -> Result<FilterDef, ConfigError> {
    filterfile::load_filter(confdir, spec, jail_opts)
}
