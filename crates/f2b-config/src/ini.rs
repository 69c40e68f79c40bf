//! One config file read with the rules of Python's ConfigParser as fail2ban sets it up:
//! `#`/`;` full-line comments, `;` inline comments only after whitespace, `=` or `:` between key
//! and value, lower-cased keys, case-sensitive section names, indented continuation lines (blank
//! lines inside a value kept, the value right-stripped), a duplicate section or key inside one
//! file is an error, and `[DEFAULT]` may be opened more than once.

use std::path::Path;

use crate::ordmap::OrdMap;
use crate::ConfigError;

/// The sections of one file, values joined.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct IniFile {
    pub defaults: OrdMap<String>,
    pub sections: OrdMap<OrdMap<String>>,
}

/// Python's `str.isspace` (a little wider than Unicode White_Space).
pub(crate) fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}

/// Split like Python's text-mode file iteration (universal newlines).
fn lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => {
                out.push(&text[start..i]);
                i += 1;
                start = i;
            }
            b'\r' => {
                out.push(&text[start..i]);
                i += if b.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < b.len() {
        out.push(&text[start..]);
    }
    out
}

fn syntax(path: &Path, line: usize, msg: String) -> ConfigError {
    ConfigError::Syntax {
        file: path.to_path_buf(),
        line,
        msg,
    }
}

/// Where a `;` inline comment starts: at the line start or right after whitespace.
fn inline_comment_start(line: &str) -> Option<usize> {
    let mut prev: Option<char> = None;
    for (i, c) in line.char_indices() {
        if c == ';' && (i == 0 || prev.is_some_and(py_space)) {
            return Some(i);
        }
        prev = Some(c);
    }
    None
}

/// The lines collected so far for option `name` of the current section.
fn value_lines<'a>(
    cur: &Option<Option<String>>,
    defaults: &'a mut OrdMap<Vec<String>>,
    sections: &'a mut OrdMap<OrdMap<Vec<String>>>,
    name: &str,
) -> Option<&'a mut Vec<String>> {
    match cur {
        Some(None) => defaults.get_mut(name),
        Some(Some(s)) => sections.get_mut(s).and_then(|m| m.get_mut(name)),
        None => None,
    }
}

/// Parse the text of one file (`path` only names it in errors).
pub(crate) fn parse(path: &Path, text: &str) -> Result<IniFile, ConfigError> {
    // Values are collected as lists of lines and joined at the end, as ConfigParser does.
    let mut defaults: OrdMap<Vec<String>> = OrdMap::new();
    let mut sections: OrdMap<OrdMap<Vec<String>>> = OrdMap::new();
    // Current section: None before any header; Some(None) is DEFAULT.
    let mut cur: Option<Option<String>> = None;
    let mut optname: Option<String> = None;
    let mut indent_level = 0usize;
    let mut seen_options: std::collections::HashSet<(String, String)> = Default::default();
    let mut first_bad: Option<(usize, String)> = None;

    for (idx, line) in lines(text).into_iter().enumerate() {
        let lineno = idx + 1;
        let mut comment_start = inline_comment_start(line);
        let stripped = py_strip(line);
        if stripped.starts_with('#') || stripped.starts_with(';') {
            comment_start = Some(0);
        }
        let value = py_strip(&line[..comment_start.unwrap_or(line.len())]);
        if value.is_empty() {
            // A blank line inside a value is kept; a comment line is not.
            if comment_start.is_none() {
                if let Some(o) = &optname {
                    if let Some(v) = value_lines(&cur, &mut defaults, &mut sections, o) {
                        v.push(String::new());
                    }
                }
            }
            continue;
        }
        let cur_indent = line.chars().position(|c| !py_space(c)).unwrap_or(0);
        if cur.is_some() && optname.is_some() && cur_indent > indent_level {
            if let Some(o) = &optname {
                if let Some(v) = value_lines(&cur, &mut defaults, &mut sections, o) {
                    v.push(value.to_string());
                }
            }
            continue;
        }
        indent_level = cur_indent;
        // A section header: `[` ... `]` with at least one character between, text after the
        // last `]` ignored.
        if let Some(close) = value.strip_prefix('[').and_then(|r| r.rfind(']')) {
            if close >= 1 {
                let name = &value[1..1 + close];
                if name == "DEFAULT" {
                    cur = Some(None);
                } else {
                    if sections.contains_key(name) {
                        return Err(syntax(
                            path,
                            lineno,
                            format!("section '{name}' already exists"),
                        ));
                    }
                    sections.insert(name.to_string(), OrdMap::new());
                    cur = Some(Some(name.to_string()));
                }
                optname = None;
                continue;
            }
        }
        let Some(sect) = &cur else {
            return Err(syntax(
                path,
                lineno,
                format!("file contains no section headers (a line like '[Definition]' must come first): {line:?}"),
            ));
        };
        // key, first `=` or `:`, value.
        let Some(d) = value.find(['=', ':']) else {
            first_bad.get_or_insert((lineno, line.to_string()));
            continue;
        };
        let key = value[..d].trim_end_matches(py_space).to_lowercase();
        if key.is_empty() {
            first_bad.get_or_insert((lineno, line.to_string()));
        }
        let sname = sect.clone().unwrap_or_else(|| "DEFAULT".to_string());
        if !seen_options.insert((sname.clone(), key.clone())) {
            return Err(syntax(
                path,
                lineno,
                format!("option '{key}' in section '{sname}' already exists"),
            ));
        }
        let val = py_strip(&value[d + 1..]).to_string();
        match sect {
            None => defaults.insert(key.clone(), vec![val]),
            Some(s) => {
                if let Some(m) = sections.get_mut(s) {
                    m.insert(key.clone(), vec![val]);
                }
            }
        }
        optname = Some(key);
    }
    if let Some((lineno, line)) = first_bad {
        return Err(syntax(
            path,
            lineno,
            format!("cannot parse line (expected 'name = value' or '[section]'): {line:?}"),
        ));
    }
    let join = |m: &OrdMap<Vec<String>>| -> OrdMap<String> {
        m.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.join("\n").trim_end_matches(py_space).to_string(),
                )
            })
            .collect()
    };
    Ok(IniFile {
        defaults: join(&defaults),
        sections: sections.iter().map(|(k, m)| (k.clone(), join(m))).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<IniFile, ConfigError> {
        parse(Path::new("t.conf"), text)
    }
    fn get(f: &IniFile, s: &str, k: &str) -> Option<String> {
        if s == "DEFAULT" {
            return f.defaults.get(k).cloned();
        }
        f.sections.get(s).and_then(|m| m.get(k)).cloned()
    }

    #[test]
    fn comments_and_delimiters() {
        let f = p("# c\n; c\n[S]\n  # indented comment\nA = 1 ;c\nb: x;y ;z\nc = v # kept\nd=;e\n")
            .unwrap();
        assert_eq!(get(&f, "S", "a").as_deref(), Some("1"));
        assert_eq!(get(&f, "S", "b").as_deref(), Some("x;y"));
        assert_eq!(get(&f, "S", "c").as_deref(), Some("v # kept"));
        assert_eq!(get(&f, "S", "d").as_deref(), Some(";e"));
        assert!(
            f.sections.get("s").is_none(),
            "section names are case-sensitive"
        );
    }

    #[test]
    fn continuation_lines() {
        let f = p("[S]\nx = a\n    b\n\n  # comment inside\n    c\n   \ny = 2\n").unwrap();
        assert_eq!(get(&f, "S", "x").as_deref(), Some("a\nb\n\nc"));
        assert_eq!(get(&f, "S", "y").as_deref(), Some("2"));
        // a first line may be empty
        let f = p("[S]\nx =\n  a\n  b\n").unwrap();
        assert_eq!(get(&f, "S", "x").as_deref(), Some("\na\nb"));
    }

    #[test]
    fn default_section_and_headers() {
        let f = p("[DEFAULT]\na=1\n[X] trailing\nb=2\n[DEFAULT]\nc=3\n").unwrap();
        assert_eq!(get(&f, "DEFAULT", "a").as_deref(), Some("1"));
        assert_eq!(get(&f, "DEFAULT", "c").as_deref(), Some("3"));
        assert_eq!(get(&f, "X", "b").as_deref(), Some("2"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = p("a = 1\n").unwrap_err().to_string();
        assert!(e.starts_with("t.conf:1:"), "{e}");
        let e = p("[S]\na=1\nA=2\n").unwrap_err().to_string();
        assert!(e.starts_with("t.conf:3:") && e.contains("'a'"), "{e}");
        let e = p("[S]\n[T]\n[S]\n").unwrap_err().to_string();
        assert!(e.starts_with("t.conf:3:"), "{e}");
        let e = p("[S]\nfoo\nbar = 1\n").unwrap_err().to_string();
        assert!(e.starts_with("t.conf:2:") && e.contains("foo"), "{e}");
        let e = p("[S]\n= 1\n").unwrap_err().to_string();
        assert!(e.starts_with("t.conf:2:"), "{e}");
        let e = p("[S\na=1\n").unwrap_err().to_string();
        assert!(e.starts_with("t.conf:1:"), "{e}");
    }
}
