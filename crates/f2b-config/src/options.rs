//! The small syntaxes inside option values: `name[k=v, k2="a, b"][k3=c]` arguments, several
//! such names on one `action =` value, word lists (`ignoreip`) and shell-like splitting of
//! `journalmatch` lines.

use std::sync::OnceLock;

use fancy_regex::Regex;

use crate::ordmap::OrdMap;

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    // The patterns are constants of this module; a failure to compile is a bug caught by tests.
    cell.get_or_init(|| {
        Regex::new(pat).unwrap_or_else(|e| panic!("bad built-in pattern {pat}: {e}"))
    })
}

fn option_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"(?s)^([^\[]+)(?:\[(.*)\])?\s*\z")
}

fn extract_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r#"(?s)\s*([\w\-_\.]+)=(?:"([^"]*)"|'([^']*)'|([^,\]]*))(?:,|\]\s*\[|(?=\n?\z)|(?P<wrngA>.+))|,?\s*\z|(?P<wrngB>.+)"#,
    )
}

fn split_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r#"(?s)(?:[^\[\s]+(?:\s*\[\s*(?:[\w\-_\.]+=(?:"[^"]*"|'[^']*'|[^,\]]*)\s*(?:,|\]\s*\[)?\s*)*\])?\s*|\S+)(?=\n\s*|\s+|\z)"#,
    )
}

fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Split `name[k=v, ...][...]` into the name and its arguments (values stripped).
pub(crate) fn name_and_args(option: &str) -> Result<(String, OrdMap<String>), String> {
    let caps = option_re()
        .captures(option)
        .map_err(|e| format!("cannot parse option: {e}"))?
        .ok_or_else(|| "unexpected option syntax".to_string())?;
    let name = caps.get(1).map_or("", |m| m.as_str()).to_string();
    let mut opts = OrdMap::new();
    if let Some(optstr) = caps.get(2).map(|m| m.as_str()) {
        for c in extract_re().captures_iter(optstr) {
            let c = c.map_err(|e| format!("cannot parse options: {e}"))?;
            if let Some(w) = c.name("wrngA") {
                return Err(format!(
                    "unexpected syntax at {} after option {}: {}",
                    optstr[..w.start()].chars().count(),
                    crate::configreader::py_repr(c.get(1).map_or("", |m| m.as_str())),
                    cut(w.as_str(), 25)
                ));
            }
            if let Some(w) = c.name("wrngB") {
                return Err(format!(
                    "expected option, wrong syntax at {}: {}",
                    optstr[..w.start()].chars().count(),
                    cut(w.as_str(), 25)
                ));
            }
            let Some(k) = c.get(1) else { continue };
            let v = [2, 3, 4]
                .iter()
                .find_map(|&i| c.get(i))
                .map_or("", |m| m.as_str());
            opts.insert(k.as_str().trim().to_string(), v.trim().to_string());
        }
    }
    Ok((name, opts))
}

/// Split an `action =` value into its entries (`a[x=1] b` or one per line).
pub(crate) fn split_with_options(value: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for m in split_re().find_iter(value) {
        out.push(
            m.map_err(|e| format!("cannot split option list: {e}"))?
                .as_str()
                .to_string(),
        );
    }
    Ok(out)
}

/// Words separated by spaces, commas or newlines (`ignoreip`).
pub(crate) fn splitwords(s: &str) -> Vec<String> {
    s.split([' ', ',', '\n'])
        .map(crate::ini::py_strip)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Python's `shlex.split` with the error texts this crate has always reported.
pub(crate) fn shlex_split(s: &str) -> Result<Vec<String>, String> {
    crate::shlex::split(s).map_err(|e| e.to_string().to_lowercase())
}

/// Split `name[k=v, k2="a, b"][k3=c]` into the name and its arguments in order, as fail2ban
/// reads `filter =`, `action =` and `backend =` values (also handy for `systemd-journal[...]`).
pub fn extract_options(option: &str) -> Result<(String, Vec<(String, String)>), String> {
    name_and_args(option).map(|(n, o)| (n, o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(s: &str) -> Result<(String, Vec<(String, String)>), String> {
        extract_options(s)
    }

    #[test]
    fn extract() {
        assert_eq!(ex("sshd").unwrap(), ("sshd".into(), vec![]));
        assert_eq!(
            ex(r#"x[k=v, k2="a, b"][k3=c]"#).unwrap(),
            (
                "x".into(),
                vec![
                    ("k".into(), "v".into()),
                    ("k2".into(), "a, b".into()),
                    ("k3".into(), "c".into())
                ]
            )
        );
        assert_eq!(
            ex("x[a='q]', b=2 ]").unwrap().1,
            vec![("a".into(), "q]".into()), ("b".into(), "2".into())]
        );
        assert!(ex("x[a='q]' ,b=2 ]").is_err());
        assert!(ex("x[a=1").is_err());
        assert!(ex("[a=1]").is_err());
        assert!(ex("x[a = 1]").is_err());
        assert!(ex("x[a=1]y").is_err());
    }

    #[test]
    fn split() {
        assert_eq!(
            split_with_options("a[x=1, y=\"2 3\"]\n  b\nc[z=4] d").unwrap(),
            vec!["a[x=1, y=\"2 3\"]\n ", "b", "c[z=4]", "d"]
        );
    }

    #[test]
    fn words_and_shlex() {
        assert_eq!(
            splitwords(" 127.0.0.1/8 ::1,10.0.0.1\n x "),
            vec!["127.0.0.1/8", "::1", "10.0.0.1", "x"]
        );
        assert_eq!(
            shlex_split(r#"_SYSTEMD_UNIT=sshd.service + _COMM="a b" 'c d' e\ f"#).unwrap(),
            vec!["_SYSTEMD_UNIT=sshd.service", "+", "_COMM=a b", "c d", "e f"]
        );
        assert!(shlex_split("a 'b").is_err());
    }
}
