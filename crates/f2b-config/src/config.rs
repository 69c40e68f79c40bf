//! A config "reader" as fail2ban builds one: the file set of a name (`X.conf`, `X.d/*.conf`,
//! `X.local`, `X.d/*.local`), `[INCLUDES] before/after` expanded recursively, every file merged
//! section by section (values a later file overrides are remembered as `KNOWN/<section>`), and
//! values read through `%(name)s` interpolation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::ini::{self, IniFile};
use crate::ordmap::OrdMap;
use crate::ConfigError;

/// Nesting depth at which `%(x)s` interpolation gives up (as Python's ConfigParser).
const MAX_INTERPOLATION_DEPTH: usize = 10;

/// Parsed files and include lists, shared by every reader of one load (fail2ban shares them too).
#[derive(Default)]
pub(crate) struct Files {
    parsed: HashMap<PathBuf, Option<Rc<IniFile>>>,
    /// Include lists by the file list they were computed for. fail2ban caches them the same
    /// way (whatever chain of includes led there), which decides the order inside include loops.
    include_lists: HashMap<Vec<PathBuf>, Vec<PathBuf>>,
    /// Problems that fail2ban only logs (a file that is not UTF-8 is skipped).
    pub notes: Vec<ConfigError>,
}

fn is_file(p: &Path) -> bool {
    p.is_file()
}

/// `X.local` beside `X.conf` (Python's `splitext(name)[0] + '.local'`).
fn local_of(p: &Path) -> PathBuf {
    let s = p.to_string_lossy();
    let base_start = s.rfind('/').map_or(0, |i| i + 1);
    let base = &s[base_start..];
    let stem_len = match base.trim_start_matches('.').rfind('.') {
        Some(i) => base.len() - base.trim_start_matches('.').len() + i,
        None => base.len(),
    };
    PathBuf::from(format!("{}{}.local", &s[..base_start], &base[..stem_len]))
}

impl Files {
    /// Parse one file; `Ok(None)` when it cannot be read (missing, a directory, not UTF-8).
    pub fn parse(&mut self, path: &Path) -> Result<Option<Rc<IniFile>>, ConfigError> {
        if let Some(f) = self.parsed.get(path) {
            return Ok(f.clone());
        }
        let parsed = match std::fs::read(path) {
            Err(_) => None,
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Some(Rc::new(ini::parse(path, &text)?)),
                Err(e) => {
                    let at = e.utf8_error().valid_up_to();
                    let line = 1 + e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count();
                    // fail2ban logs the decoding error and goes on without this file.
                    self.notes.push(ConfigError::Syntax {
                        file: path.to_path_buf(),
                        line,
                        msg: format!("invalid UTF-8 at byte {at}; file ignored"),
                    });
                    None
                }
            },
        };
        self.parsed.insert(path.to_path_buf(), parsed.clone());
        Ok(parsed)
    }

    /// The files to read for `filenames`, each with its `.local` and includes, in read order.
    pub fn includes(
        &mut self,
        filenames: &[PathBuf],
        seen: &[PathBuf],
    ) -> Result<Vec<PathBuf>, ConfigError> {
        let mut expanded: Vec<PathBuf> = Vec::new();
        for f in filenames {
            expanded.push(f.clone());
            let local = local_of(f);
            if !filenames.contains(&local) && is_file(&local) {
                expanded.push(local);
            }
        }
        if let Some(l) = self.include_lists.get(&expanded) {
            return Ok(l.clone());
        }
        let mut out = Vec::new();
        for f in &expanded {
            out.extend(self.includes_of(f, seen)?);
        }
        self.include_lists.insert(expanded, out.clone());
        Ok(out)
    }

    fn includes_of(
        &mut self,
        resource: &Path,
        seen: &[PathBuf],
    ) -> Result<Vec<PathBuf>, ConfigError> {
        let Some(parsed) = self.parse(resource)? else {
            return Ok(Vec::new());
        };
        let dir = resource.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut before = Vec::new();
        let mut after = Vec::new();
        if let Some(inc) = parsed.sections.get("INCLUDES") {
            for (opt, list) in [("before", &mut before), ("after", &mut after)] {
                // Interpolation applies to include lists too (DEFAULT values may be used).
                if !inc.contains_key(opt) && !parsed.defaults.contains_key(opt) {
                    continue;
                }
                let value = single_file_get(&parsed, "INCLUDES", opt)?;
                for item in value.split('\n') {
                    let r = if item.starts_with('/') {
                        PathBuf::from(item)
                    } else {
                        join(&dir, item)
                    };
                    if seen.contains(&r) {
                        continue;
                    }
                    let mut s = seen.to_vec();
                    s.push(resource.to_path_buf());
                    list.extend(self.includes(&[r], &s)?);
                }
            }
        }
        let mut out = before;
        out.push(resource.to_path_buf());
        out.extend(after);
        Ok(out)
    }
}

/// `os.path.join(dir, name)` on strings (an empty `name` leaves a trailing slash).
pub(crate) fn join(dir: &Path, name: &str) -> PathBuf {
    let d = dir.to_string_lossy();
    if d.is_empty() || d.ends_with('/') {
        PathBuf::from(format!("{d}{name}"))
    } else {
        PathBuf::from(format!("{d}/{name}"))
    }
}

/// Interpolated value of a single parsed file (used for its `[INCLUDES]`).
fn single_file_get(f: &IniFile, section: &str, option: &str) -> Result<String, ConfigError> {
    let cfg = Config {
        basedir: PathBuf::new(),
        defaults: f.defaults.clone(),
        sections: f.sections.clone(),
    };
    cfg.get(section, option, None)
        .map_err(|e| e.into_error(section, option))
}

/// A merged config: DEFAULT plus sections (including `KNOWN/<name>` ones).
#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    pub basedir: PathBuf,
    pub defaults: OrdMap<String>,
    pub sections: OrdMap<OrdMap<String>>,
}

/// Why `get` found no value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GetError {
    NoSection,
    NoOption,
    /// Interpolation failed: fatal for the whole configuration in fail2ban.
    Interp(ConfigError),
}

impl GetError {
    pub fn into_error(self, section: &str, option: &str) -> ConfigError {
        match self {
            GetError::NoSection => ConfigError::Option {
                section: section.into(),
                option: option.into(),
                msg: format!("no section '{section}'"),
            },
            GetError::NoOption => ConfigError::Option {
                section: section.into(),
                option: option.into(),
                msg: "no such option".into(),
            },
            GetError::Interp(e) => e,
        }
    }
}

/// Name of a conditional section (`Init?family=inet6`) split as (`Init`, `?family=inet6`).
pub(crate) fn conditional(name: &str) -> Option<(&str, &str)> {
    let q = name.find('?')?;
    let (base, cond) = name.split_at(q);
    if base.is_empty() || cond.len() < 2 || !base.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    Some((base, cond))
}

struct Chain<'a> {
    vars: Option<&'a OrdMap<String>>,
    section: Option<&'a OrdMap<String>>,
    defaults: &'a OrdMap<String>,
}

impl Chain<'_> {
    fn get(&self, k: &str) -> Option<&str> {
        self.vars
            .and_then(|m| m.get(k))
            .or_else(|| self.section.and_then(|m| m.get(k)))
            .or_else(|| self.defaults.get(k))
            .map(String::as_str)
    }
}

/// `sec/opt` as written in `%(sec/opt)s`: section part is word characters and `-`.
fn split_section_ref(name: &str) -> Option<(&str, &str)> {
    let slash = name.find('/')?;
    let (sec, opt) = (&name[..slash], &name[slash + 1..]);
    if sec.is_empty()
        || opt.is_empty()
        || !sec
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return None;
    }
    Some((sec, opt))
}

impl Config {
    /// Read the file set of `name` under `basedir`. Returns whether any file was read.
    pub fn read(
        files: &mut Files,
        basedir: &Path,
        name: &str,
    ) -> Result<(Config, bool), ConfigError> {
        let mut cfg = Config {
            basedir: basedir.to_path_buf(),
            ..Default::default()
        };
        let found = cfg.read_more(files, name)?;
        Ok((cfg, found))
    }

    pub fn read_more(&mut self, files: &mut Files, name: &str) -> Result<bool, ConfigError> {
        let all = Self::file_list(files, &self.basedir, name)?;
        let mut any = false;
        for f in &all {
            if let Some(parsed) = files.parse(f)? {
                any = true;
                self.merge(&parsed);
            }
        }
        Ok(any)
    }

    /// The files read for `name`, in merge order: `name.conf`, `name.d/*.conf`, `name.local`,
    /// `name.d/*.local` (those that exist), each with its includes around it.
    pub fn file_list(
        files: &mut Files,
        basedir: &Path,
        name: &str,
    ) -> Result<Vec<PathBuf>, ConfigError> {
        let base = join(basedir, name);
        let base_s = base.to_string_lossy().to_string();
        let mut candidates = vec![PathBuf::from(format!("{base_s}.conf"))];
        let dir = PathBuf::from(format!("{base_s}.d"));
        candidates.extend(crate::glob::sorted_with_suffix(&dir, ".conf"));
        candidates.push(PathBuf::from(format!("{base_s}.local")));
        candidates.extend(crate::glob::sorted_with_suffix(&dir, ".local"));
        let existing: Vec<PathBuf> = candidates.into_iter().filter(|p| p.exists()).collect();
        if existing.is_empty() {
            return Ok(Vec::new());
        }
        files.includes(&existing, &[])
    }

    /// Merge one file: DEFAULT updated, sections updated key by key; overridden values are kept
    /// under `KNOWN/<section>` for `%(known/x)s` and `<known/x>`.
    pub fn merge(&mut self, f: &IniFile) {
        self.defaults.update(&f.defaults);
        for (name, sect) in f.sections.iter() {
            let (name, sect) = match conditional(name) {
                Some((base, cond)) => {
                    let renamed: OrdMap<String> = sect
                        .iter()
                        .map(|(k, v)| (format!("{k}{cond}"), v.clone()))
                        .collect();
                    (base.to_string(), renamed)
                }
                None => (name.clone(), sect.clone()),
            };
            if let Some(old) = self.sections.get(&name) {
                let known: OrdMap<String> = old
                    .iter()
                    .filter(|(k, _)| sect.contains_key(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                self.merge_section(&format!("KNOWN/{name}"), &known, "");
                if let Some(old) = self.sections.get_mut(&name) {
                    old.update(&sect);
                }
            } else {
                self.sections.insert(name, sect);
            }
        }
    }

    /// Add `options` to `section` (created if missing), keys prefixed with `pref` unless they
    /// already start with it.
    pub fn merge_section(&mut self, section: &str, options: &OrdMap<String>, pref: &str) {
        if self.sections.get(section).is_none() {
            self.sections.insert(section.to_string(), OrdMap::new());
        }
        let Some(sec) = self.sections.get_mut(section) else {
            return;
        };
        for (k, v) in options.iter() {
            if pref.is_empty() {
                sec.insert(k.clone(), v.clone());
            } else if !k.starts_with(pref) {
                sec.insert(format!("{pref}{k}"), v.clone());
            }
        }
    }

    pub fn has_section(&self, s: &str) -> bool {
        self.sections.contains_key(s)
    }

    /// Own option names of a section (no DEFAULT ones), in order.
    pub fn own_options(&self, s: &str) -> Vec<String> {
        self.sections
            .get(s)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Option names of a section together with DEFAULT ones.
    pub fn options_with_defaults(&self, s: &str) -> Vec<String> {
        let mut v = self.own_options(s);
        for k in self.defaults.keys() {
            if !v.contains(k) {
                v.push(k.clone());
            }
        }
        v
    }

    /// Whether `s` holds `opt` itself (not through DEFAULT).
    pub fn has_own_option(&self, s: &str, opt: &str) -> bool {
        self.sections.get(s).is_some_and(|m| m.contains_key(opt))
    }

    /// A value with `%(x)s` interpolated; `vars` take precedence over the section and DEFAULT.
    pub fn get(
        &self,
        section: &str,
        option: &str,
        vars: Option<&OrdMap<String>>,
    ) -> Result<String, GetError> {
        let sect = if section == "DEFAULT" {
            None
        } else {
            Some(self.sections.get(section).ok_or(GetError::NoSection)?)
        };
        let chain = Chain {
            vars,
            section: sect,
            defaults: &self.defaults,
        };
        let option = option.to_lowercase();
        let raw = chain.get(&option).ok_or(GetError::NoOption)?.to_string();
        let mut out = String::new();
        self.interpolate(section, &option, &raw, &raw, &chain, 1, &mut out)
            .map_err(GetError::Interp)?;
        Ok(out)
    }

    /// fail2ban's `get_ex`: `known/x`, `default/x` and `section/x` names look in those sections
    /// first (without vars), then the plain lookup applies.
    pub fn get_ex(
        &self,
        section: &str,
        option: &str,
        vars: Option<&OrdMap<String>>,
    ) -> Result<String, GetError> {
        if let Some((sec, opt)) = split_section_ref(option) {
            if !opt.chars().any(py_whitespace_or_gt) {
                let lower = sec.to_lowercase();
                let tries: Vec<String> = if lower == "known" {
                    vec![format!("KNOWN/{section}"), section.to_string()]
                } else if lower == "default" {
                    vec!["DEFAULT".to_string()]
                } else {
                    vec![sec.to_string()]
                };
                for s in &tries {
                    match self.get(s, opt, None) {
                        Ok(v) => return Ok(v),
                        Err(GetError::NoSection | GetError::NoOption) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        self.get(section, option, vars)
    }

    /// The value a `%(sec/opt)s` reference stands for when `sec/opt` is no plain key.
    fn section_ref_value(&self, section: &str, name: &str) -> Option<&str> {
        let (sec, opt) = split_section_ref(name)?;
        let lower = sec.to_lowercase();
        let own = if lower == "default" {
            None
        } else if lower == "known" {
            self.sections
                .get(&format!("KNOWN/{section}"))
                .and_then(|m| m.get(opt))
        } else {
            // An unknown section leaves the reference unresolved.
            Some(self.sections.get(sec)?.get(opt)).flatten()
        };
        own.or_else(|| self.defaults.get(opt)).map(String::as_str)
    }

    #[allow(clippy::too_many_arguments)]
    fn interpolate(
        &self,
        section: &str,
        option: &str,
        rawval: &str,
        rest: &str,
        chain: &Chain,
        depth: usize,
        out: &mut String,
    ) -> Result<(), ConfigError> {
        let err = |msg: String| ConfigError::Option {
            section: section.into(),
            option: option.into(),
            msg,
        };
        if depth > MAX_INTERPOLATION_DEPTH {
            return Err(err(format!(
                "value substitution nested deeper than {MAX_INTERPOLATION_DEPTH} levels (recursive %(...)s?); raw value: {rawval:?}"
            )));
        }
        let mut rest = rest;
        while !rest.is_empty() {
            let Some(p) = rest.find('%') else {
                out.push_str(rest);
                return Ok(());
            };
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            let next = rest[1..].chars().next();
            match next {
                Some('%') => {
                    out.push('%');
                    rest = &rest[2..];
                }
                Some('(') => {
                    let close = rest[2..].find(')').map(|i| i + 2);
                    let name = match close {
                        Some(c) if c > 2 && rest[c + 1..].starts_with('s') => &rest[2..c],
                        _ => {
                            return Err(err(format!(
                                "bad interpolation variable reference {rest:?}"
                            )))
                        }
                    };
                    let var = name.to_lowercase();
                    rest = &rest[close.unwrap_or(0) + 2..];
                    let v = if var == "__name__" {
                        Some(section)
                    } else {
                        chain.get(&var).or_else(|| {
                            // `%(sec/opt)s` resolves through other sections only when written in
                            // lower case (the lookup key is lower-cased, the mapping is not).
                            if var == name {
                                self.section_ref_value(section, name)
                            } else {
                                None
                            }
                        })
                    };
                    let Some(v) = v else {
                        return Err(err(format!(
                            "bad value substitution: '%({name})s' is not a known option; raw value: {rawval:?}"
                        )));
                    };
                    if v.contains('%') {
                        self.interpolate(section, option, rawval, v, chain, depth + 1, out)?;
                    } else {
                        out.push_str(v);
                    }
                }
                _ => {
                    return Err(err(format!(
                        "'%' must be followed by '%' or '(', found: {rest:?}"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn py_whitespace_or_gt(c: char) -> bool {
    crate::ini::py_space(c) || c == '>'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        let f = ini::parse(Path::new("t.conf"), text).unwrap();
        let mut c = Config::default();
        c.merge(&f);
        c
    }

    #[test]
    fn interpolation_basics() {
        let c = cfg(
            "[DEFAULT]\nd = dv\n[S]\na = x%(d)s\nb = %(a)s-%%-%(__name__)s\nc = %(default/d)s\n",
        );
        assert_eq!(c.get("S", "a", None).unwrap(), "xdv");
        assert_eq!(c.get("S", "b", None).unwrap(), "xdv-%-S");
        assert_eq!(c.get("S", "c", None).unwrap(), "dv");
        let mut vars = OrdMap::new();
        vars.insert("d".to_string(), "V".to_string());
        assert_eq!(c.get("S", "a", Some(&vars)).unwrap(), "xV");
    }

    #[test]
    fn section_references_and_known() {
        let mut c = cfg("[DEFAULT]\nz = dz\n[a]\nk = ak\n[A]\nk = up\n[S]\nk = old\nr = %(a/k)s %(a/z)s\nu = %(A/k)s\n");
        let f = ini::parse(Path::new("t.local"), "[S]\nk = new %(known/k)s\n").unwrap();
        c.merge(&f);
        assert_eq!(c.get("S", "r", None).unwrap(), "ak dz");
        // the reference is looked up lower-cased, so an upper-case section name cannot resolve
        assert!(matches!(c.get("S", "u", None), Err(GetError::Interp(_))));
        assert_eq!(c.get("S", "k", None).unwrap(), "new old");
    }

    #[test]
    fn interpolation_errors() {
        let c = cfg("[S]\na = %(a)s\nb = %(nope)s\nc = %(x\nd = 5%\n");
        let e = c.get("S", "a", None).unwrap_err();
        assert!(
            matches!(e, GetError::Interp(ConfigError::Option { .. })),
            "{e:?}"
        );
        for o in ["b", "c", "d"] {
            match c.get("S", o, None) {
                Err(GetError::Interp(e)) => {
                    assert!(e.to_string().contains(&format!("[S] {o}:")), "{e}")
                }
                other => panic!("{o}: {other:?}"),
            }
        }
        assert_eq!(c.get("S", "zz", None), Err(GetError::NoOption));
        assert_eq!(c.get("T", "a", None), Err(GetError::NoSection));
    }

    #[test]
    fn file_set_order_and_includes() {
        let t = tempfile::tempdir().unwrap();
        let w = |n: &str, c: &str| {
            let p = t.path().join(n);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        };
        let layer = |n: &str| format!("[S]\nlast = {n}\n");
        w(
            "x.conf",
            "[INCLUDES]\nbefore = pre.conf\nafter = post.conf\n[S]\nlast = conf\n",
        );
        w("pre.conf", "[INCLUDES]\nbefore = x.conf\n[S]\nlast = pre\n");
        w("post.conf", &layer("post"));
        w("post.local", &layer("post.local"));
        w("x.d/b.conf", &layer("d/b.conf"));
        w("x.d/a.conf", &layer("d/a.conf"));
        w("x.local", &layer("local"));
        w("x.d/a.local", &layer("d/a.local"));
        w("x.d/.hidden.conf", &layer("hidden"));
        let mut files = Files::default();
        let list = Config::file_list(&mut files, t.path(), "x").unwrap();
        let rel: Vec<String> = list
            .iter()
            .map(|p| {
                p.strip_prefix(t.path())
                    .unwrap()
                    .to_string_lossy()
                    .to_string()
            })
            .collect();
        // pre.conf's include of x.conf is cut by the loop guard; post.conf brings its .local.
        assert_eq!(
            rel,
            [
                "pre.conf",
                "x.conf",
                "post.conf",
                "post.local",
                "x.d/a.conf",
                "x.d/b.conf",
                "x.local",
                "x.d/a.local"
            ]
        );
        let (c, found) = Config::read(&mut files, t.path(), "x").unwrap();
        assert!(found);
        assert_eq!(c.get("S", "last", None).unwrap(), "d/a.local");
        assert_eq!(c.get("KNOWN/S", "last", None).unwrap(), "local");
        let (_, found) = Config::read(&mut files, t.path(), "nothing").unwrap();
        assert!(!found);
    }

    #[test]
    fn conditional_sections_merge_with_suffix() {
        let c = cfg("[Init]\na = 1\n[Init?family=inet6]\na = 6\n");
        assert_eq!(c.get("Init", "a", None).unwrap(), "1");
        assert_eq!(c.get("Init", "a?family=inet6", None).unwrap(), "6");
    }

    #[test]
    fn local_names() {
        assert_eq!(
            local_of(Path::new("/a/b.conf")),
            PathBuf::from("/a/b.local")
        );
        assert_eq!(local_of(Path::new("/a.d/b")), PathBuf::from("/a.d/b.local"));
        assert_eq!(local_of(Path::new("/a/.x")), PathBuf::from("/a/.x.local"));
    }
}
