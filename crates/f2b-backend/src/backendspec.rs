//! The `backend` setting of a jail: which backend, with which options.

use std::path::PathBuf;

use crate::filewatcher::FileBackend;
use crate::BackendError;

/// Options of `backend = systemd[...]`, as fail2ban 1.0.2 accepts them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalOptions {
    /// `journalpath`: a directory of journal files.
    pub path: Option<PathBuf>,
    /// `journalfiles`: the patterns as given (split on spaces and commas, glob-expanded at open).
    pub files: Vec<String>,
    /// `journalflags`: raw `sd_journal_open` flags.
    pub flags: Option<i32>,
    /// `namespace`: a journal namespace.
    pub namespace: Option<String>,
    /// `useDns`: fail2ban hands the remaining options of the systemd backend to its filter, whose
    /// only one is this (the jail's `usedns`, overridden here).
    pub use_dns: Option<String>,
}

impl JournalOptions {
    /// Builds the options from `key=value` pairs; any other key is an error.
    pub fn from_args<K: AsRef<str>, V: AsRef<str>>(
        args: &[(K, V)],
    ) -> Result<JournalOptions, BackendError> {
        let mut o = JournalOptions::default();
        for (k, v) in args {
            let (k, v) = (k.as_ref(), v.as_ref());
            match k {
                "journalpath" => o.path = Some(PathBuf::from(v)),
                "journalfiles" => {
                    o.files = v
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                }
                "journalflags" => {
                    o.flags = Some(parse_int(v).ok_or_else(|| BackendError::BadOption {
                        backend: "systemd".into(),
                        option: k.into(),
                        value: v.into(),
                    })?)
                }
                "namespace" => o.namespace = Some(v.to_string()),
                "useDns" => o.use_dns = Some(v.to_string()),
                _ => {
                    return Err(BackendError::UnknownOption {
                        backend: "systemd".into(),
                        option: k.into(),
                    })
                }
            }
        }
        Ok(o)
    }
}

/// Python's `int()` on a decimal string: surrounding spaces, a sign, `_` between digits.
fn parse_int(v: &str) -> Option<i32> {
    let t = v.trim();
    if t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return None;
    }
    t.replace('_', "").parse().ok()
}

/// A parsed `backend` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendSpec {
    Files(FileBackend),
    Systemd(JournalOptions),
}

impl BackendSpec {
    /// Parses `auto`, `pyinotify`, `gamin`, `polling` or `systemd[key=value, ...]`.
    /// gamin no longer exists anywhere: like `pyinotify` and `auto` it means inotify.
    pub fn parse(value: &str) -> Result<BackendSpec, BackendError> {
        let (name, args) = split_options(value)?;
        BackendSpec::from_parts(&name, &args)
    }

    /// From a name and options already split (by the config reader).
    pub fn from_parts<K: AsRef<str>, V: AsRef<str>>(
        name: &str,
        args: &[(K, V)],
    ) -> Result<BackendSpec, BackendError> {
        let name = name.trim().to_lowercase();
        let file = match name.as_str() {
            "systemd" => return Ok(BackendSpec::Systemd(JournalOptions::from_args(args)?)),
            "auto" | "pyinotify" | "gamin" => FileBackend::Inotify,
            "polling" => FileBackend::Polling,
            _ => return Err(BackendError::UnknownBackend(name.to_string())),
        };
        if let Some((k, _)) = args.first() {
            return Err(BackendError::UnknownOption {
                backend: name.to_string(),
                option: k.as_ref().to_string(),
            });
        }
        Ok(BackendSpec::Files(file))
    }
}

/// Splits `name[k=v, k="v, with comma"]` into its name and options.
fn split_options(value: &str) -> Result<(String, Vec<(String, String)>), BackendError> {
    let bad = || BackendError::BadSpec(value.to_string());
    let value = value.trim();
    let Some(open) = value.find('[') else {
        return Ok((value.to_string(), Vec::new()));
    };
    let inner = value[open + 1..].strip_suffix(']').ok_or_else(bad)?;
    let mut args = Vec::new();
    let mut rest = inner.trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or_else(bad)?;
        let key = rest[..eq].trim().to_string();
        if key.is_empty() || key.contains(',') {
            return Err(bad());
        }
        let after = rest[eq + 1..].trim_start();
        let (val, tail) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let end = after[1..].find(q).ok_or_else(bad)? + 1;
                (after[1..end].trim().to_string(), &after[end + 1..])
            }
            _ => {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim_end().to_string(), &after[end..])
            }
        };
        args.push((key, val));
        let tail = tail.trim_start();
        rest = match tail.strip_prefix(',') {
            Some(t) => t.trim_start(),
            None if tail.is_empty() => tail,
            None => return Err(bad()),
        };
    }
    Ok((value[..open].trim().to_string(), args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            BackendSpec::parse("gamin").unwrap(),
            BackendSpec::Files(FileBackend::Inotify)
        );
        assert_eq!(
            BackendSpec::parse("polling").unwrap(),
            BackendSpec::Files(FileBackend::Polling)
        );
        assert!(BackendSpec::parse("inotifywait").is_err());
        assert!(BackendSpec::parse("polling[x=1]").is_err());
        assert_eq!(
            BackendSpec::parse("Polling").unwrap(),
            BackendSpec::Files(FileBackend::Polling)
        );
    }

    #[test]
    fn odd_specs_are_errors_not_panics() {
        for v in [
            "systemd[",
            "systemd[]",
            "systemd[=x]",
            "systemd[journalpath=\"x]",
            "systemd[a=b,,c=d]",
            "systemd[é=ü]",
            "[x=1]",
            "systemd[journalpath='é']x",
        ] {
            let _ = BackendSpec::parse(v);
        }
        // Every prefix of a spec with multi-byte characters and quotes.
        let spec = "systemd[journalpath=\"/é/ü, x\", namespace='ß', journalflags=ü]";
        for (i, _) in spec.char_indices() {
            let _ = BackendSpec::parse(&spec[..i]);
        }
        assert!(BackendSpec::parse("systemd[]").is_ok());
        assert!(BackendSpec::parse("systemd[journalpath=\"x]").is_err());
    }

    #[test]
    fn systemd_options() {
        let s = BackendSpec::parse("systemd[journalpath=/var/log/j, journalflags=1, journalfiles=\"/a/*.journal, /b/x.journal\", namespace=ns, useDns=no]").unwrap();
        let BackendSpec::Systemd(o) = s else {
            panic!("not systemd")
        };
        assert_eq!(o.path.as_deref(), Some(std::path::Path::new("/var/log/j")));
        assert_eq!(o.flags, Some(1));
        assert_eq!(o.files, vec!["/a/*.journal", "/b/x.journal"]);
        assert_eq!(o.namespace.as_deref(), Some("ns"));
        assert_eq!(o.use_dns.as_deref(), Some("no"));
        let s = BackendSpec::parse("systemd[journalpath=' /j ']").unwrap();
        assert_eq!(
            s,
            BackendSpec::Systemd(JournalOptions {
                path: Some("/j".into()),
                ..Default::default()
            })
        );
        assert!(BackendSpec::parse("systemd[journalflags=x]").is_err());
        assert!(BackendSpec::parse("systemd[bogus=1]").is_err());
        assert_eq!(
            BackendSpec::parse("systemd").unwrap(),
            BackendSpec::Systemd(JournalOptions::default())
        );
    }
}
