//! Filter and action files as a jail uses them (fail2ban's filterreader and actionreader):
//! `[Definition]` read with the jail's options, `[Init]` and `name[args]` values as init options,
//! `<tag>` substitution, and the commands they add to the jail's stream.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;

use crate::config::{conditional, join, Config, GetError};
use crate::configreader::{convert, get_options, Loader, Tpl, Ty};
use crate::options::shlex_split;
use crate::optval::{vars_of, OptVal};
use crate::ordmap::OrdMap;
use crate::{Command, ConfigError, Value};

pub(crate) fn filter_tpl() -> Vec<Tpl> {
    vec![
        (Ty::Str, "usedns", None),
        (Ty::Str, "prefregex", None),
        (Ty::Str, "ignoreregex", None),
        (Ty::Str, "failregex", None),
        (Ty::Int, "maxlines", None),
        (Ty::Str, "datepattern", None),
        (Ty::Str, "journalmatch", None),
    ]
}

pub(crate) fn action_tpl() -> Vec<Tpl> {
    let mut v = Vec::new();
    for (t, n) in [
        (Ty::Str, "actionstart"),
        (Ty::Bool, "actionstart_on_demand"),
        (Ty::Str, "actionstop"),
        (Ty::Str, "actionflush"),
        (Ty::Str, "actionreload"),
        (Ty::Str, "actioncheck"),
        (Ty::Str, "actionrepair"),
        (Ty::Bool, "actionrepair_on_unban"),
        (Ty::Str, "actionban"),
        (Ty::Str, "actionprolong"),
        (Ty::Str, "actionreban"),
        (Ty::Str, "actionunban"),
        (Ty::Bool, "norestored"),
    ] {
        v.push((t, n, None));
    }
    v
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DefKind {
    Filter,
    Action,
}

/// A filter or action file read for one jail, with its `[Init]` and jail-given arguments.
pub(crate) struct DefReader {
    pub kind: DefKind,
    pub file: String,
    pub jail: String,
    pub cfg: Rc<Config>,
    pub init_opts: OrdMap<String>,
    p_opts: OrdMap<OptVal>,
    opts: OrdMap<OptVal>,
    def_cache: HashMap<String, Option<String>>,
    /// Action name in the jail (`actname`).
    pub name: String,
}

impl DefReader {
    /// Open `file` (a name under `filter.d`/`action.d`, or an absolute path without extension).
    /// `None` when no file of that name exists.
    pub fn open(
        loader: &mut Loader,
        kind: DefKind,
        file: &str,
        jail: &str,
        mut init_opts: OrdMap<String>,
    ) -> Result<Option<DefReader>, ConfigError> {
        let mut name = String::new();
        if kind == DefKind::Action {
            let n = match init_opts.get("name") {
                Some(n) => n.clone(),
                None => {
                    init_opts.insert("name".into(), jail.to_string());
                    jail.to_string()
                }
            };
            name = match init_opts.get("actname") {
                Some(a) => a.clone(),
                None => {
                    // Unique per jail: an action used twice with another `name` gets a suffix.
                    let mut a = file.to_string();
                    if n != jail {
                        match n.strip_prefix(jail) {
                            Some(rest) => a.push_str(rest),
                            None => {
                                a.push('-');
                                a.push_str(&n);
                            }
                        }
                    }
                    init_opts.insert("actname".into(), a.clone());
                    a
                }
            };
        }
        let dir = if kind == DefKind::Filter {
            "filter.d"
        } else {
            "action.d"
        };
        let rel = join(Path::new(dir), file);
        let (cfg, found) = loader.read_shared(&rel.to_string_lossy())?;
        if !found {
            return Ok(None);
        }
        Ok(Some(DefReader {
            kind,
            file: file.to_string(),
            jail: jail.to_string(),
            cfg,
            init_opts,
            p_opts: OrdMap::new(),
            opts: OrdMap::new(),
            def_cache: HashMap::new(),
            name,
        }))
    }

    /// A reader over an already merged config (a filter file read on its own).
    pub fn from_config(
        kind: DefKind,
        file: &str,
        jail: &str,
        cfg: Rc<Config>,
        init_opts: OrdMap<String>,
    ) -> DefReader {
        DefReader {
            kind,
            file: file.to_string(),
            jail: jail.to_string(),
            cfg,
            init_opts,
            p_opts: OrdMap::new(),
            opts: OrdMap::new(),
            def_cache: HashMap::new(),
            name: String::new(),
        }
    }

    fn tpl(&self) -> Vec<Tpl> {
        match self.kind {
            DefKind::Filter => filter_tpl(),
            DefKind::Action => action_tpl(),
        }
    }

    /// Filters get `logtype` (`file` or `journal`, from the backend) unless set otherwise.
    pub fn apply_auto_options(&mut self, backend: &str) {
        let set = self.init_opts.get("logtype").is_some_and(|v| !v.is_empty());
        if !set && !self.cfg.has_own_option("Definition", "logtype") {
            let t = if backend.starts_with("systemd") {
                "journal"
            } else {
                "file"
            };
            self.init_opts.insert("logtype".into(), t.into());
        }
    }

    /// fail2ban's `getOptions` of a definition file: `[Definition]` values read with the jail's
    /// options as variables; `[Init]` values become init options (and `known/` ones).
    pub fn get_options(&mut self, p_opts: &OrdMap<OptVal>, all: bool) -> Result<(), ConfigError> {
        let mut p = p_opts.clone();
        for (k, v) in self.init_opts.iter() {
            p.insert(k.clone(), OptVal::Str(v.clone()));
        }
        self.opts = get_options(&self.cfg, "Definition", &self.tpl(), &p, false, false)?;
        self.p_opts = p;
        self.def_cache.clear();
        if self.cfg.has_section("Init") {
            let get = |opt: &str| {
                self.cfg
                    .get("Init", opt, None)
                    .map_err(|e| e.into_error("Init", opt))
            };
            let mut add = Vec::new();
            for opt in self.cfg.own_options("Init") {
                if !opt.starts_with("known/") {
                    add.push((format!("known/{opt}"), get(&opt)?));
                }
                if !self.init_opts.contains_key(&opt) && !add.iter().any(|(k, _)| *k == opt) {
                    add.push((opt.clone(), get(&opt)?));
                }
            }
            for (k, v) in add {
                self.init_opts.insert(k, v);
            }
        }
        if all && self.cfg.has_section("Definition") {
            // Only the section's own names: DEFAULT values do not join here.
            for opt in self.cfg.own_options("Definition") {
                if self.opts.contains_key(&opt) {
                    continue;
                }
                let v = self
                    .cfg
                    .get("Definition", &opt, None)
                    .map_err(|e| e.into_error("Definition", &opt))?;
                self.opts.insert(opt, OptVal::Str(v));
            }
        }
        Ok(())
    }

    fn comb_option(&mut self, name: &str) -> Result<Option<String>, ConfigError> {
        if let Some(v) = self.def_cache.get(name) {
            return Ok(v.clone());
        }
        let vars = vars_of(&self.p_opts);
        let v = match self.cfg.get_ex("Definition", name, Some(&vars)) {
            Ok(v) => Some(v),
            Err(GetError::NoSection | GetError::NoOption) => None,
            Err(GetError::Interp(e)) => return Err(e),
        };
        self.def_cache.insert(name.to_string(), v.clone());
        Ok(v)
    }

    /// Definition and init options with `<tags>` substituted, then typed.
    pub fn get_combined(&mut self, ignore: &[&str]) -> Result<OrdMap<OptVal>, ConfigError> {
        let mut comb: OrdMap<Option<String>> = OrdMap::new();
        for (k, v) in self.opts.iter() {
            comb.insert(k.clone(), v.as_var());
        }
        for (k, v) in self.init_opts.iter() {
            comb.insert(k.clone(), Some(v.clone()));
        }
        if comb.is_empty() {
            return Ok(OrdMap::new());
        }
        let mut ign: HashSet<String> = ignore.iter().map(|s| s.to_string()).collect();
        for k in comb.keys() {
            if let Some((base, _)) = conditional(k) {
                ign.insert(base.to_string());
            }
        }
        let what = match self.kind {
            DefKind::Filter => "filter",
            DefKind::Action => "action",
        };
        let file = self.file.clone();
        let res = crate::tags::substitute(&comb, &ign, &mut |t| self.comb_option(t))?;
        let subst = res.map_err(|e| ConfigError::Definition {
            kind: what,
            name: file,
            msg: e.to_string(),
        })?;
        let tpl = self.tpl();
        let mut out = OrdMap::new();
        for (k, v) in subst.iter() {
            let val = match v {
                None => OptVal::None,
                Some(v) => match tpl.iter().find(|(_, n, _)| *n == k.as_str()) {
                    Some((ty, _, _)) => convert(*ty, v).unwrap_or(OptVal::None),
                    None => OptVal::Str(v.clone()),
                },
            };
            out.insert(k.clone(), val);
        }
        Ok(out)
    }

    /// The commands of a filter (`set JAIL addfailregex ...`).
    pub fn filter_stream(&mut self) -> Result<Vec<Command>, ConfigError> {
        let opts = self.get_combined(&[])?;
        let mut stream = Vec::new();
        fill_stream(&mut stream, &opts, &self.jail)?;
        Ok(stream)
    }

    /// The commands of an action (`addaction` and its properties).
    pub fn action_stream(&mut self) -> Result<Vec<Command>, ConfigError> {
        let opts = self.get_combined(&[
            "matches",
            "ipmatches",
            "ipjailmatches",
            "timeout",
            "bantime",
        ])?;
        let tpl = self.tpl();
        let in_tpl = |k: &str| tpl.iter().any(|(_, n, _)| *n == k);
        let jail = Value::Str(self.jail.clone());
        let name = Value::Str(self.name.clone());
        let mut stream = vec![Command(vec![
            "set".into(),
            jail.clone(),
            "addaction".into(),
            name.clone(),
        ])];
        let mut multi: Vec<(String, Value)> = Vec::new();
        for (k, v) in opts.iter() {
            if in_tpl(k) && !k.starts_with("known/") {
                multi.push((k.clone(), v.to_value()));
            }
        }
        for (k, v) in self.init_opts.iter() {
            if !in_tpl(k) && !k.starts_with("known/") {
                multi.push((k.clone(), Value::Str(v.clone())));
            }
        }
        if multi.len() > 1 {
            let list = multi
                .into_iter()
                .map(|(k, v)| Value::List(vec![Value::Str(k), v]))
                .collect();
            stream.push(Command(vec![
                "multi-set".into(),
                jail,
                "action".into(),
                name,
                Value::List(list),
            ]));
        } else if let Some((k, v)) = multi.pop() {
            stream.push(Command(vec![
                "set".into(),
                jail,
                "action".into(),
                name,
                Value::Str(k),
                v,
            ]));
        }
        Ok(stream)
    }

    /// The resolved options of this definition (for [`crate::load_filter`]).
    pub fn combined(&mut self) -> Result<OrdMap<OptVal>, ConfigError> {
        self.get_combined(&[])
    }
}

/// Whether `opt` is a piece of "datepattern": fail2ban tests membership in that word, so any
/// substring of it (`date`, `pattern`) is sent as a plain `set`.
fn in_datepattern(opt: &str) -> bool {
    "datepattern".contains(opt)
}

/// Append the filter-related commands for `opts` (fail2ban's `_fillStream`): `usedns` first,
/// `prefregex`/`maxlines` early, regex lists as `multi-set` when more than one.
pub(crate) fn fill_stream(
    stream: &mut Vec<Command>,
    opts: &OrdMap<OptVal>,
    jail: &str,
) -> Result<(), ConfigError> {
    let mut prio = 0usize;
    for (opt, value) in opts.iter() {
        if *value == OptVal::None {
            continue;
        }
        let set = |v: Value| Command(vec!["set".into(), jail.into(), opt.as_str().into(), v]);
        match opt.as_str() {
            "failregex" | "ignoreregex" => {
                let text = value.as_var().unwrap_or_default();
                let multi: Vec<&str> = text.split('\n').filter(|r| !r.is_empty()).collect();
                let add = format!("add{opt}");
                if multi.len() > 1 {
                    let list = multi.iter().map(|r| Value::Str(r.to_string())).collect();
                    stream.push(Command(vec![
                        "multi-set".into(),
                        jail.into(),
                        add.into(),
                        Value::List(list),
                    ]));
                } else if let Some(r) = multi.first() {
                    stream.push(Command::strs(["set", jail, &add, r]));
                }
            }
            "usedns" | "maxlines" | "prefregex" => {
                let at = if opt == "usedns" {
                    0
                } else {
                    prio.min(stream.len())
                };
                stream.insert(at, set(value.to_value()));
                prio += 1;
            }
            "journalmatch" => {
                let text = value.as_var().unwrap_or_default();
                for line in text.split('\n') {
                    if line.is_empty() {
                        continue;
                    }
                    let words = shlex_split(line).map_err(|e| ConfigError::JailOption {
                        jail: jail.into(),
                        option: "journalmatch".into(),
                        msg: format!("{e}: {line:?}"),
                    })?;
                    let mut c = vec!["set".into(), jail.into(), "addjournalmatch".into()];
                    c.extend(words.into_iter().map(Value::Str));
                    stream.push(Command(c));
                }
            }
            o if in_datepattern(o) => stream.push(set(value.to_value())),
            _ => {}
        }
    }
    Ok(())
}
