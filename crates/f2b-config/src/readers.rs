//! fail2ban's readers: fail2ban.conf, jails, and the filter and action files a jail names,
//! turned into the command stream in fail2ban's order.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::config::{conditional, join, Config, Files, GetError};
use crate::options::{name_and_args, shlex_split, split_with_options, splitwords};
use crate::optval::{as_bool, py_int, vars_of, OptVal};
use crate::ordmap::OrdMap;
use crate::{Command, ConfigError, Value};

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

fn s(d: &str) -> Option<OptVal> {
    Some(OptVal::Str(d.to_string()))
}

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

fn action_tpl() -> Vec<Tpl> {
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

fn jail_tpl_1st() -> Vec<Tpl> {
    vec![(Ty::Bool, "enabled", Some(OptVal::Bool(false))), (Ty::Str, "backend", s("auto")), (Ty::Str, "filter", s(""))]
}

fn jail_tpl() -> Vec<Tpl> {
    let mut v = vec![
        (Ty::Bool, "enabled", Some(OptVal::Bool(false))),
        (Ty::Str, "backend", s("auto")),
        (Ty::Int, "maxretry", None),
        (Ty::Int, "maxmatches", None),
        (Ty::Str, "findtime", None),
        (Ty::Str, "bantime", None),
        (Ty::Bool, "bantime.increment", None),
        (Ty::Str, "bantime.factor", None),
        (Ty::Str, "bantime.formula", None),
        (Ty::Str, "bantime.multipliers", None),
        (Ty::Str, "bantime.maxtime", None),
        (Ty::Str, "bantime.rndtime", None),
        (Ty::Bool, "bantime.overalljails", None),
        (Ty::Str, "ignorecommand", None),
        (Ty::Bool, "ignoreself", None),
        (Ty::Str, "ignoreip", None),
        (Ty::Str, "ignorecache", None),
        (Ty::Str, "filter", s("")),
        (Ty::Str, "logtimezone", None),
        (Ty::Str, "logencoding", None),
        (Ty::Str, "logpath", None),
        (Ty::Str, "action", s("")),
    ];
    v.extend(filter_tpl());
    v
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

fn convert(ty: Ty, v: &str) -> Result<OptVal, ()> {
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
        let basedir = PathBuf::from(if trimmed.is_empty() && b.starts_with('/') { "/" } else { trimmed });
        Loader { basedir, files: Files::default(), shared: HashMap::new() }
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
        let dir = if kind == DefKind::Filter { "filter.d" } else { "action.d" };
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
    pub fn from_config(kind: DefKind, file: &str, jail: &str, cfg: Rc<Config>, init_opts: OrdMap<String>) -> DefReader {
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
            let t = if backend.starts_with("systemd") { "journal" } else { "file" };
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
            let get = |opt: &str| self.cfg.get("Init", opt, None).map_err(|e| e.into_error("Init", opt));
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
                let v = self.cfg.get("Definition", &opt, None).map_err(|e| e.into_error("Definition", &opt))?;
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
        let subst = res.map_err(|e| ConfigError::Definition { kind: what, name: file, msg: e.to_string() })?;
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
        let opts = self.get_combined(&["matches", "ipmatches", "ipjailmatches", "timeout", "bantime"])?;
        let tpl = self.tpl();
        let in_tpl = |k: &str| tpl.iter().any(|(_, n, _)| *n == k);
        let jail = Value::Str(self.jail.clone());
        let name = Value::Str(self.name.clone());
        let mut stream = vec![Command(vec!["set".into(), jail.clone(), "addaction".into(), name.clone()])];
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
            let list = multi.into_iter().map(|(k, v)| Value::List(vec![Value::Str(k), v])).collect();
            stream.push(Command(vec!["multi-set".into(), jail, "action".into(), name, Value::List(list)]));
        } else if let Some((k, v)) = multi.pop() {
            stream.push(Command(vec!["set".into(), jail, "action".into(), name, Value::Str(k), v]));
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
pub(crate) fn fill_stream(stream: &mut Vec<Command>, opts: &OrdMap<OptVal>, jail: &str) -> Result<(), ConfigError> {
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
                    stream.push(Command(vec!["multi-set".into(), jail.into(), add.into(), Value::List(list)]));
                } else if let Some(r) = multi.first() {
                    stream.push(Command::strs(["set", jail, &add, r]));
                }
            }
            "usedns" | "maxlines" | "prefregex" => {
                let at = if opt == "usedns" { 0 } else { prio.min(stream.len()) };
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

/// Python's `json.dumps` of a string dict (ASCII-only output).
fn json_dumps(m: &OrdMap<String>) -> String {
    fn q(s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x08' => out.push_str("\\b"),
                '\x0c' => out.push_str("\\f"),
                c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{u:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    let mut out = String::from("{");
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        q(k, &mut out);
        out.push_str(": ");
        q(v, &mut out);
    }
    out.push('}');
    out
}

enum JailAction {
    Def(Box<DefReader>),
    Python(Command),
}

/// One jail section read with its filter and actions.
pub(crate) struct JailReader {
    pub name: String,
    opts: OrdMap<OptVal>,
    filter: Option<DefReader>,
    actions: Vec<JailAction>,
    pub error: Option<String>,
}

impl JailReader {
    /// Read jail `name` from the shared jail config. `Ok(None)`: the jail is not enabled.
    pub fn read(loader: &mut Loader, cfg: &mut Config, name: &str, force: bool) -> Result<Option<JailReader>, ConfigError> {
        let mut defaults = OrdMap::new();
        defaults.insert("fail2ban_version".to_string(), FAIL2BAN_VERSION.to_string());
        defaults.insert("fail2ban_confpath".to_string(), loader.basedir.to_string_lossy().to_string());
        cfg.defaults.update(&defaults);
        let mut j = JailReader { name: name.to_string(), opts: OrdMap::new(), filter: None, actions: Vec::new(), error: None };
        match j.read_inner(loader, cfg, force) {
            Ok(true) => Ok(Some(j)),
            Ok(false) => Ok(None),
            Err(Fail::Jail(msg)) => {
                j.error = Some(msg);
                Ok(Some(j))
            }
            Err(Fail::Fatal(e)) => Err(e),
        }
    }

    fn read_inner(&mut self, loader: &mut Loader, cfg: &mut Config, force: bool) -> Result<bool, Fail> {
        let name = self.name.clone();
        let opts1 = get_options(cfg, &name, &jail_tpl_1st(), &OrdMap::new(), true, true)?;
        let enabled = force || opts1.get("enabled").is_some_and(OptVal::truthy);
        self.opts = opts1.clone();
        if !enabled {
            return Ok(false);
        }
        let flt = opts1.get("filter").and_then(OptVal::as_str).unwrap_or("").to_string();
        if !flt.is_empty() {
            let (fname, fopts) =
                name_and_args(&flt).map_err(|e| Fail::Jail(format!("Invalid filter definition {}: {e}", py_repr(&flt))))?;
            let Some(mut f) = DefReader::open(loader, DefKind::Filter, &fname, &name, fopts)? else {
                return Err(Fail::Jail(format!("Unable to read the filter {}", py_repr(&fname))));
            };
            let backend = opts1.get("backend").and_then(OptVal::as_str).unwrap_or("").to_string();
            f.apply_auto_options(&backend);
            f.get_options(&opts1, true)?;
            let comb = f.get_combined(&[])?;
            let as_text: OrdMap<String> = comb.iter().filter_map(|(k, v)| v.as_var().map(|s| (k.clone(), s))).collect();
            cfg.merge_section(&name, &as_text, "known/");
            self.filter = Some(f);
        }
        self.opts = get_options(cfg, &name, &jail_tpl(), &OrdMap::new(), false, true)?;
        if let Some(f) = self.filter.as_mut() {
            f.get_options(&self.opts, false)?;
        }
        let action = self.opts.get("action").and_then(OptVal::as_var).unwrap_or_default();
        let acts = split_with_options(&action).map_err(|e| {
            ConfigError::JailOption { jail: name.clone(), option: "action".into(), msg: e }
        })?;
        for act in acts {
            let act = crate::ini::py_strip(&act).to_string();
            if act.is_empty() {
                continue;
            }
            let (aname, mut aopts) = name_and_args(&act)
                .map_err(|e| Fail::Jail(format!("Invalid action definition {}: {e}", py_repr(&act))))?;
            if aname.ends_with(".py") {
                let actname = match aopts.get("actname").cloned() {
                    Some(a) => {
                        aopts = aopts.iter().filter(|(k, _)| *k != "actname").map(|(k, v)| (k.clone(), v.clone())).collect();
                        a
                    }
                    None => aname.rsplit_once('.').map_or(aname.clone(), |(b, _)| b.to_string()),
                };
                let path = join(&join(&loader.basedir, "action.d"), &aname);
                self.actions.push(JailAction::Python(Command(vec![
                    "set".into(),
                    name.as_str().into(),
                    "addaction".into(),
                    actname.into(),
                    path.to_string_lossy().to_string().into(),
                    json_dumps(&aopts).into(),
                ])));
                continue;
            }
            let Some(mut a) = DefReader::open(loader, DefKind::Action, &aname, &name, aopts)? else {
                return Err(Fail::Jail(format!("Unable to read action {}", py_repr(&aname))));
            };
            a.get_options(&self.opts, false)?;
            self.actions.push(JailAction::Def(Box::new(a)));
        }
        Ok(true)
    }

    /// The jail's commands, from `add` to its last action command.
    pub fn convert(&mut self, allow_no_files: bool) -> Result<Vec<Command>, ConfigError> {
        if let Some(e) = &self.error {
            return Ok(vec![Command::strs([
                "config-error".to_string(),
                format!("Jail '{}' skipped, because of wrong configuration: {e}", self.name),
            ])]);
        }
        let name = self.name.clone();
        let mut stream = Vec::new();
        if let Some(f) = self.filter.as_mut() {
            stream.extend(f.filter_stream()?);
        }
        fill_stream(&mut stream, &self.opts, &name)?;
        let ignored = ["action", "filter", "enabled"];
        let ftpl = filter_tpl();
        let mut stream2 = Vec::new();
        let mut backend = Value::Str("auto".into());
        let backend_str = self.opts.get("backend").and_then(OptVal::as_str).unwrap_or("").to_string();
        for (opt, value) in self.opts.iter() {
            match opt.as_str() {
                "logpath" => {
                    if backend_str.starts_with("systemd") {
                        continue;
                    }
                    let mut found = 0;
                    for line in value.as_var().unwrap_or_default().split('\n') {
                        let (path, tail) = match line.rfind(' ') {
                            Some(i) => (&line[..i], &line[i + 1..]),
                            None => (line, "head"),
                        };
                        for p in crate::glob::glob(path) {
                            // A dangling link is not monitored.
                            if !Path::new(&p).exists() {
                                continue;
                            }
                            found += 1;
                            stream2.push(Command::strs(["set", &name, "addlogpath", &p, tail]));
                        }
                    }
                    if found == 0 && !allow_no_files {
                        return Err(ConfigError::Jail {
                            jail: name.clone(),
                            msg: format!("Have not found any log file for {name} jail"),
                        });
                    }
                }
                "backend" => backend = value.to_value(),
                "ignoreip" => {
                    let mut c: Vec<Value> = vec!["set".into(), name.as_str().into(), "addignoreip".into()];
                    c.extend(splitwords(&value.as_var().unwrap_or_default()).into_iter().map(Value::Str));
                    stream.push(Command(c));
                }
                o if ignored.contains(&o) || ftpl.iter().any(|(_, n, _)| *n == o) => {}
                o => stream.push(Command(vec!["set".into(), name.as_str().into(), o.into(), value.to_value()])),
            }
        }
        stream.extend(stream2);
        for a in self.actions.iter_mut() {
            match a {
                JailAction::Def(d) => stream.extend(d.action_stream()?),
                JailAction::Python(c) => stream.push(c.clone()),
            }
        }
        stream.insert(0, Command(vec!["add".into(), name.as_str().into(), backend]));
        Ok(stream)
    }
}

/// Python's `repr` of a string (used inside fail2ban's messages).
pub(crate) fn py_repr(s: &str) -> String {
    Value::Str(s.to_string()).to_python_repr()
}

/// The general settings of fail2ban.conf, plus socket and pidfile.
pub(crate) struct ServerRead {
    pub commands: Vec<Command>,
    pub socket: String,
    pub pidfile: String,
}

const LOG_LEVELS: &[&str] =
    &["CRITICAL", "FATAL", "ERROR", "WARN", "WARNING", "NOTICE", "INFO", "DEBUG", "TRACEDEBUG", "HEAVYDEBUG", "MSG", "NOTSET"];

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
    let level = opts.get("loglevel").and_then(OptVal::as_var).unwrap_or_default();
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
        let th = get_options(&cfg, "Thread", &[(Ty::Int, "stacksize", None)], &OrdMap::new(), false, true)?;
        if let Some(v) = th.get("stacksize") {
            commands.push(Command(vec![
                "set".into(),
                "thread".into(),
                Value::Dict(vec![("stacksize".into(), v.to_value())]),
            ]));
        }
    }
    for k in ["syslogsocket", "loglevel", "logtarget", "allowipv6", "dbfile", "dbmaxmatches", "dbpurgeage"] {
        if let Some(v) = opts.get(k) {
            commands.push(Command(vec!["set".into(), k.into(), v.to_value()]));
        }
    }
    let text = |k: &str| early.get(k).and_then(OptVal::as_var).unwrap_or_default();
    Ok(ServerRead { commands, socket: text("socket"), pidfile: text("pidfile") })
}
