//! What every fail2ban reader shares: typed option templates, `getOptions` (read a list of
//! options with defaults and conversions), and the loader that reads each file set once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::config::{Config, Files, GetError};
use crate::optval::{as_bool, py_int, vars_of, OptVal};
use crate::ordmap::OrdMap;
use crate::{ConfigError, Value};

/// The fail2ban version whose behaviour we follow; offered to configs as `%(fail2ban_version)s`.
pub(crate) const FAIL2BAN_VERSION: &str = "1.0.2";

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Ty {
    Str,
    Int,
    Bool,
}

/// (type, name, default) of an option a reader looks for.
pub(crate) type Tpl = (Ty, &'static str, Option<OptVal>);

pub(crate) fn s(d: &str) -> Option<OptVal> {
    Some(OptVal::Str(d.to_string()))
}

/// Errors that end the whole reading (fail2ban prints nothing of the stream then) versus a
/// problem of one jail definition (the jail is skipped).
pub(crate) enum Fail {
    Fatal(ConfigError),
    Jail(String),
}

impl From<ConfigError> for Fail {
    fn from(e: ConfigError) -> Self {
        Fail::Fatal(e)
    }
}

pub(crate) fn convert(ty: Ty, v: &str) -> Result<OptVal, ()> {
    match ty {
        Ty::Str => Ok(OptVal::Str(v.to_string())),
        Ty::Bool => Ok(OptVal::Bool(as_bool(v))),
        Ty::Int => py_int(v).map(OptVal::Int).ok_or(()),
    }
}

/// Read the options of `tpl` from `sec` (fail2ban's `getOptions`). Names present in `popts` are
/// skipped, `popts` serve as interpolation variables. A missing section gives the defaults
/// unless `should_exist`.
pub(crate) fn get_options(
    cfg: &Config,
    sec: &str,
    tpl: &[Tpl],
    popts: &OrdMap<OptVal>,
    should_exist: bool,
    conv: bool,
) -> Result<OrdMap<OptVal>, ConfigError> {
    let vars = vars_of(popts);
    let mut values = OrdMap::new();
    for (ty, name, default) in tpl {
        if popts.contains_key(name) {
            continue;
        }
        match cfg.get(sec, name, Some(&vars)) {
            Ok(v) => {
                let val = if conv {
                    match convert(*ty, &v) {
                        Ok(x) => x,
                        // fail2ban warns and falls back to the default.
                        Err(()) => default.clone().unwrap_or(OptVal::None),
                    }
                } else {
                    OptVal::Str(v)
                };
                values.insert(name.to_string(), val);
            }
            Err(GetError::NoSection) => {
                if should_exist {
                    return Err(GetError::NoSection.into_error(sec, name));
                }
                values.insert(name.to_string(), default.clone().unwrap_or(OptVal::None));
            }
            Err(GetError::NoOption) => {
                if let Some(d) = default {
                    values.insert(name.to_string(), d.clone());
                }
            }
            Err(GetError::Interp(e)) => return Err(e),
        }
    }
    Ok(values)
}

/// Reads shared between jails: one merged config per file name, read once.
pub(crate) struct Loader {
    pub basedir: PathBuf,
    pub files: Files,
    shared: HashMap<String, (Rc<Config>, bool)>,
}

impl Loader {
    pub fn new(basedir: &Path) -> Loader {
        let b = basedir.to_string_lossy();
        let trimmed = b.trim_end_matches('/');
        let basedir = PathBuf::from(if trimmed.is_empty() && b.starts_with('/') {
            "/"
        } else {
            trimmed
        });
        Loader {
            basedir,
            files: Files::default(),
            shared: HashMap::new(),
        }
    }

    pub fn read_shared(&mut self, name: &str) -> Result<(Rc<Config>, bool), ConfigError> {
        if let Some(x) = self.shared.get(name) {
            return Ok(x.clone());
        }
        let (cfg, found) = Config::read(&mut self.files, &self.basedir, name)?;
        let x = (Rc::new(cfg), found);
        self.shared.insert(name.to_string(), x.clone());
        Ok(x)
    }
}

/// Python's `repr` of a string (used inside fail2ban's messages).
pub(crate) fn py_repr(s: &str) -> String {
    Value::Str(s.to_string()).to_python_repr()
}
