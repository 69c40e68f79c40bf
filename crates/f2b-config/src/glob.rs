//! Path globbing as fail2ban sees it (Python's `glob.glob`): `*`, `?` and `[...]` per path
//! component, hidden names only matched by a pattern that starts with `.`, and results in
//! directory order (fail2ban does not sort logpath matches, so neither do we).

use std::path::{Path, PathBuf};

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

enum Tok {
    Star,
    Any,
    Set(Vec<(char, char)>, bool),
    Lit(char),
}

impl Tok {
    fn accepts(&self, c: char) -> bool {
        match self {
            Tok::Star | Tok::Any => true,
            Tok::Set(ranges, neg) => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *neg,
            Tok::Lit(l) => *l == c,
        }
    }
}

fn tokens(pat: &str) -> Vec<Tok> {
    let p: Vec<char> = pat.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '*' => {
                if !matches!(out.last(), Some(Tok::Star)) {
                    out.push(Tok::Star);
                }
                i += 1;
            }
            '?' => {
                out.push(Tok::Any);
                i += 1;
            }
            '[' => match parse_set(&p[i + 1..]) {
                Some((set, neg, used)) => {
                    out.push(Tok::Set(set, neg));
                    i += 1 + used;
                }
                // An unclosed `[` is a literal bracket.
                None => {
                    out.push(Tok::Lit('['));
                    i += 1;
                }
            },
            c => {
                out.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    out
}

/// `fnmatch`: whole-name match of `pat` against `name` (linear backtracking over the last `*`).
pub(crate) fn fnmatch(name: &str, pat: &str) -> bool {
    let n: Vec<char> = name.chars().collect();
    let t = tokens(pat);
    let (mut ni, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match t.get(ti) {
            Some(Tok::Star) => {
                star = Some((ti, ni));
                ti += 1;
            }
            Some(tok) if tok.accepts(n[ni]) => {
                ni += 1;
                ti += 1;
            }
            _ => match star {
                Some((st, sn)) => {
                    ti = st + 1;
                    ni = sn + 1;
                    star = Some((st, sn + 1));
                }
                None => return false,
            },
        }
    }
    t[ti..].iter().all(|x| matches!(x, Tok::Star))
}

/// A parsed `[...]` set: its ranges, whether it is negated, pattern chars used.
type CharSet = (Vec<(char, char)>, bool, usize);

/// A `[...]` set after its `[`.
fn parse_set(p: &[char]) -> Option<CharSet> {
    let mut i = 0;
    let neg = p.first() == Some(&'!');
    if neg {
        i += 1;
    }
    // A `]` right at the start belongs to the set.
    let start = i;
    let mut items = Vec::new();
    loop {
        let c = *p.get(i)?;
        if c == ']' && i > start {
            return Some((items, neg, i + 1));
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
            let hi = p[i + 2];
            if c <= hi {
                items.push((c, hi));
            }
            i += 3;
        } else {
            items.push((c, c));
            i += 1;
        }
    }
}

fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => {
            let head = &path[..i + 1];
            let trimmed = head.trim_end_matches('/');
            (
                if trimmed.is_empty() { head } else { trimmed },
                &path[i + 1..],
            )
        }
        None => ("", path),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn list_dir(dir: &str, dironly: bool) -> Vec<String> {
    let d = if dir.is_empty() { "." } else { dir };
    let Ok(rd) = std::fs::read_dir(d) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| !dironly || e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// Python's `glob.glob(pattern)` (non-recursive).
pub(crate) fn glob(pattern: &str) -> Vec<String> {
    glob_inner(pattern, false)
}

fn glob_inner(pattern: &str, dironly: bool) -> Vec<String> {
    let (dirname, basename) = split(pattern);
    if !has_magic(pattern) {
        let p = Path::new(pattern);
        let ok = if basename.is_empty() {
            Path::new(dirname).is_dir()
        } else {
            p.symlink_metadata().is_ok()
        };
        return if ok {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        };
    }
    let dirs: Vec<String> = if dirname.is_empty() {
        vec![String::new()]
    } else if dirname != pattern && has_magic(dirname) {
        glob_inner(dirname, true)
    } else {
        vec![dirname.to_string()]
    };
    let mut out = Vec::new();
    for d in dirs {
        if has_magic(basename) {
            let hidden_ok = basename.starts_with('.');
            for name in list_dir(&d, dironly) {
                if (hidden_ok || !name.starts_with('.')) && fnmatch(&name, basename) {
                    out.push(join(&d, &name));
                }
            }
        } else if basename.is_empty() {
            if Path::new(&d).is_dir() {
                out.push(join(&d, basename));
            }
        } else if Path::new(&join(&d, basename)).symlink_metadata().is_ok() {
            out.push(join(&d, basename));
        }
    }
    out
}

/// `sorted(glob(dir/*SUFFIX))`: the drop-in files of a `.d` directory.
pub(crate) fn sorted_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let pat = format!("{}/*{suffix}", dir.to_string_lossy());
    let mut v = glob(&pat);
    v.sort();
    v.into_iter().map(PathBuf::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_rules() {
        assert!(fnmatch("error.log", "*.log"));
        assert!(fnmatch("a1", "a?"));
        assert!(fnmatch("b", "[abc]"));
        assert!(!fnmatch("d", "[abc]"));
        assert!(fnmatch("d", "[!abc]"));
        assert!(fnmatch("5", "[0-9]"));
        assert!(fnmatch("]", "[]]"));
        assert!(fnmatch("[x", "[x"));
        assert!(!fnmatch("x.log.1", "*.log"));
        assert!(fnmatch("access-error.log", "*err*.log"));
        assert!(fnmatch("", "*"));
        assert!(!fnmatch("", "?"));
        assert!(fnmatch("abcabcabd", "*abd"));
        // no exponential blow-up on many stars
        let long = "a".repeat(200);
        assert!(!fnmatch(&long, "*a*a*a*a*a*a*a*a*a*a*a*b"));
    }

    #[test]
    fn glob_lists_files_and_skips_hidden() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().to_str().unwrap();
        for n in ["a.log", "b.log", ".h.log", "c.txt"] {
            std::fs::write(format!("{d}/{n}"), "").unwrap();
        }
        std::fs::create_dir(format!("{d}/sub")).unwrap();
        std::fs::write(format!("{d}/sub/x.log"), "").unwrap();
        let mut v = glob(&format!("{d}/*.log"));
        v.sort();
        assert_eq!(v, vec![format!("{d}/a.log"), format!("{d}/b.log")]);
        assert_eq!(glob(&format!("{d}/.*.log")), vec![format!("{d}/.h.log")]);
        assert_eq!(
            glob(&format!("{d}/s*/x.log")),
            vec![format!("{d}/sub/x.log")]
        );
        assert_eq!(glob(&format!("{d}/c.txt")), vec![format!("{d}/c.txt")]);
        assert!(glob(&format!("{d}/nope")).is_empty());
    }
}
