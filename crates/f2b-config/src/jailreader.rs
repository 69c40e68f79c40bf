//! One jail section read as fail2ban's jailreader does: options in two passes (filter options
//! become `known/` values in between), its filter and actions, logpath globs, and its commands.

use std::path::Path;

use crate::config::{join, Config};
use crate::configreader::{get_options, py_repr, s, Fail, Loader, Tpl, Ty, FAIL2BAN_VERSION};
use crate::defreader::{fill_stream, filter_tpl, DefKind, DefReader};
use crate::options::{name_and_args, split_with_options, splitwords};
use crate::optval::OptVal;
use crate::ordmap::OrdMap;
use crate::{Command, ConfigError, Value};

fn jail_tpl_1st() -> Vec<Tpl> {
    vec![
        (Ty::Bool, "enabled", Some(OptVal::Bool(false))),
        (Ty::Str, "backend", s("auto")),
        (Ty::Str, "filter", s("")),
    ]
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
    pub fn read(
        loader: &mut Loader,
        cfg: &mut Config,
        name: &str,
        force: bool,
    ) -> Result<Option<JailReader>, ConfigError> {
        let mut defaults = OrdMap::new();
        defaults.insert("fail2ban_version".to_string(), FAIL2BAN_VERSION.to_string());
        defaults.insert(
            "fail2ban_confpath".to_string(),
            loader.basedir.to_string_lossy().to_string(),
        );
        cfg.defaults.update(&defaults);
        let mut j = JailReader {
            name: name.to_string(),
            opts: OrdMap::new(),
            filter: None,
            actions: Vec::new(),
            error: None,
        };
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

    fn read_inner(
        &mut self,
        loader: &mut Loader,
        cfg: &mut Config,
        force: bool,
    ) -> Result<bool, Fail> {
        let name = self.name.clone();
        let opts1 = get_options(cfg, &name, &jail_tpl_1st(), &OrdMap::new(), true, true)?;
        let enabled = force || opts1.get("enabled").is_some_and(OptVal::truthy);
        self.opts = opts1.clone();
        if !enabled {
            return Ok(false);
        }
        let flt = opts1
            .get("filter")
            .and_then(OptVal::as_str)
            .unwrap_or("")
            .to_string();
        if !flt.is_empty() {
            let (fname, fopts) = name_and_args(&flt).map_err(|e| {
                Fail::Jail(format!("Invalid filter definition {}: {e}", py_repr(&flt)))
            })?;
            let Some(mut f) = DefReader::open(loader, DefKind::Filter, &fname, &name, fopts)?
            else {
                return Err(Fail::Jail(format!(
                    "Unable to read the filter {}",
                    py_repr(&fname)
                )));
            };
            let backend = opts1
                .get("backend")
                .and_then(OptVal::as_str)
                .unwrap_or("")
                .to_string();
            f.apply_auto_options(&backend);
            f.get_options(&opts1, true)?;
            let comb = f.get_combined(&[])?;
            let as_text: OrdMap<String> = comb
                .iter()
                .filter_map(|(k, v)| v.as_var().map(|s| (k.clone(), s)))
                .collect();
            cfg.merge_section(&name, &as_text, "known/");
            self.filter = Some(f);
        }
        self.opts = get_options(cfg, &name, &jail_tpl(), &OrdMap::new(), false, true)?;
        if let Some(f) = self.filter.as_mut() {
            f.get_options(&self.opts, false)?;
        }
        let action = self
            .opts
            .get("action")
            .and_then(OptVal::as_var)
            .unwrap_or_default();
        let acts = split_with_options(&action).map_err(|e| ConfigError::JailOption {
            jail: name.clone(),
            option: "action".into(),
            msg: e,
        })?;
        for act in acts {
            let act = crate::ini::py_strip(&act).to_string();
            if act.is_empty() {
                continue;
            }
            let (aname, mut aopts) = name_and_args(&act).map_err(|e| {
                Fail::Jail(format!("Invalid action definition {}: {e}", py_repr(&act)))
            })?;
            if aname.ends_with(".py") {
                let actname = match aopts.get("actname").cloned() {
                    Some(a) => {
                        aopts = aopts
                            .iter()
                            .filter(|(k, _)| *k != "actname")
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        a
                    }
                    None => aname
                        .rsplit_once('.')
                        .map_or(aname.clone(), |(b, _)| b.to_string()),
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
            let Some(mut a) = DefReader::open(loader, DefKind::Action, &aname, &name, aopts)?
            else {
                return Err(Fail::Jail(format!(
                    "Unable to read action {}",
                    py_repr(&aname)
                )));
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
                format!(
                    "Jail '{}' skipped, because of wrong configuration: {e}",
                    self.name
                ),
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
        let backend_str = self
            .opts
            .get("backend")
            .and_then(OptVal::as_str)
            .unwrap_or("")
            .to_string();
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
                    let mut c: Vec<Value> =
                        vec!["set".into(), name.as_str().into(), "addignoreip".into()];
                    c.extend(
                        splitwords(&value.as_var().unwrap_or_default())
                            .into_iter()
                            .map(Value::Str),
                    );
                    stream.push(Command(c));
                }
                o if ignored.contains(&o) || ftpl.iter().any(|(_, n, _)| *n == o) => {}
                o => stream.push(Command(vec![
                    "set".into(),
                    name.as_str().into(),
                    o.into(),
                    value.to_value(),
                ])),
            }
        }
        stream.extend(stream2);
        for a in self.actions.iter_mut() {
            match a {
                JailAction::Def(d) => stream.extend(d.action_stream()?),
                JailAction::Python(c) => stream.push(c.clone()),
            }
        }
        stream.insert(
            0,
            Command(vec!["add".into(), name.as_str().into(), backend]),
        );
        Ok(stream)
    }
}
