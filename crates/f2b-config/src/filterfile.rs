//! A filter resolved on its own, the way fail2ban-regex finds and reads it: by name under
//! `filter.d` (with `.conf`/`.local`/`.d` files), or as a path (a file outside any `filter.d` is
//! read alone, with its includes).

use std::collections::BTreeMap;
use std::path::Path;

use crate::{ConfigError, FilterDef};

pub(crate) fn load_filter(
    confdir: &Path,
    spec: &str,
    jail_opts: &[(String, String)],
) -> Result<FilterDef, ConfigError> {
    let (name, fopts) =
        crate::options::name_and_args(spec).map_err(|e| ConfigError::Definition {
            kind: "filter",
            name: spec.to_string(),
            msg: e,
        })?;
    let conf = confdir.to_string_lossy().to_string();
    let tail: String = name.chars().rev().take(6).collect();
    let tries: Vec<String> = if tail.contains('.') {
        vec![name.clone()]
    } else {
        vec![
            name.clone(),
            format!("{name}.conf"),
            format!("{name}.local"),
        ]
    };
    let mut basedir = conf.clone();
    let mut found: Option<String> = None;
    for t in &tries {
        let f = if !t.contains('/') {
            if Path::new(&basedir)
                .file_name()
                .is_some_and(|b| b == "filter.d")
            {
                crate::config::join(Path::new(&basedir), t)
            } else {
                crate::config::join(&crate::config::join(Path::new(&basedir), "filter.d"), t)
            }
        } else {
            basedir = Path::new(t)
                .parent()
                .map(|p| p.to_string_lossy().to_string())
                .unwrap_or_default();
            std::path::PathBuf::from(t)
        };
        if f.is_file() {
            found = Some(f.to_string_lossy().to_string());
            break;
        }
    }
    let Some(file) = found else {
        return Err(ConfigError::NotFound {
            kind: "filter",
            name: name.clone(),
            tried: tries.join(", "),
        });
    };
    let bd = Path::new(&basedir);
    let standard = basedir == conf
        || bd.file_name().is_some_and(|b| b == "filter.d")
        || (!tail.contains('.') && !name.contains('/'));
    let popts: crate::ordmap::OrdMap<crate::optval::OptVal> = jail_opts
        .iter()
        .map(|(k, v)| (k.clone(), crate::optval::OptVal::Str(v.clone())))
        .collect();
    let backend = jail_opts
        .iter()
        .find(|(k, _)| k == "backend")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut loader;
    let display_name;
    let mut reader = if standard {
        let base = if bd.file_name().is_some_and(|b| b == "filter.d") {
            bd.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            bd.to_path_buf()
        };
        let stem = Path::new(&name)
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let stem = match stem.rfind('.') {
            Some(i) if i > 0 => stem[..i].to_string(),
            _ => stem,
        };
        display_name = stem.clone();
        loader = crate::configreader::Loader::new(&base);
        crate::defreader::DefReader::open(
            &mut loader,
            crate::defreader::DefKind::Filter,
            &stem,
            "fail2ban-regex-jail",
            fopts,
        )?
        .ok_or_else(|| ConfigError::NotFound {
            kind: "filter",
            name: stem.clone(),
            tried: String::new(),
        })?
    } else {
        // A file outside any filter.d: read it alone (with its includes and .local).
        display_name = name.clone();
        loader = crate::configreader::Loader::new(Path::new("/etc/fail2ban"));
        let abs = std::path::PathBuf::from(&file);
        let all = loader.files.includes(&[abs], &[])?;
        let mut cfg = crate::config::Config {
            basedir: loader.basedir.clone(),
            ..Default::default()
        };
        for f in &all {
            if let Some(p) = loader.files.parse(f)? {
                cfg.merge(&p);
            }
        }
        crate::defreader::DefReader::from_config(
            crate::defreader::DefKind::Filter,
            &file,
            "fail2ban-regex-jail",
            std::rc::Rc::new(cfg),
            fopts,
        )
    };
    reader.apply_auto_options(&backend);
    reader.get_options(&popts, false)?;
    let comb = reader.combined()?;
    let text = |k: &str| comb.get(k).and_then(crate::optval::OptVal::as_var);
    let lines = |k: &str| -> Vec<String> {
        text(k)
            .map(|t| {
                t.split('\n')
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut options = BTreeMap::new();
    for (k, v) in comb.iter() {
        if let Some(s) = v.as_var() {
            options.insert(k.clone(), s);
        }
    }
    // Other [Definition] values, when they resolve on their own.
    for k in reader.cfg.options_with_defaults("Definition") {
        if let std::collections::btree_map::Entry::Vacant(e) = options.entry(k) {
            if let Ok(v) = reader.cfg.get("Definition", e.key(), None) {
                e.insert(v);
            }
        }
    }
    Ok(FilterDef {
        name: display_name,
        prefregex: text("prefregex"),
        failregex: lines("failregex"),
        ignoreregex: lines("ignoreregex"),
        maxlines: match comb.get("maxlines") {
            Some(crate::optval::OptVal::Int(i)) => usize::try_from(*i).ok(),
            _ => None,
        },
        datepattern: text("datepattern"),
        journalmatch: lines("journalmatch"),
        options,
    })
}
