//! `<tag>` substitution between the options of a filter or action, with fail2ban's rules:
//! values are substituted repeatedly until no known tag is left, unknown tags (`<HOST>`, `<ip>`)
//! stay as they are, names in `ignore` are neither substituted nor resolved, a value referring to
//! itself, or one tag replaced more than 25 times in a value, is an error.

use crate::ordmap::OrdMap;

const MAX_TAG_REPLACE_COUNT: usize = 25;

/// The first `<name>` at or after byte `from` (name: no space, `<` or `>`), as (start, end, name).
pub(crate) fn find_tag(s: &str, from: usize) -> Option<(usize, usize, &str)> {
    let mut pos = from;
    while let Some(i) = s.get(pos..)?.find('<') {
        let st = pos + i;
        let rest = &s[st + 1..];
        let end = rest.find([' ', '<', '>']).unwrap_or(rest.len());
        if end > 0 && rest[end..].starts_with('>') {
            return Some((st, st + 1 + end + 1, &rest[..end]));
        }
        pos = st + 1;
    }
    None
}

/// Why substitution failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TagError {
    pub tag: String,
    pub found: String,
    pub value: String,
}

impl std::fmt::Display for TagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "properties contain self referencing definitions and cannot be resolved: tag <{}> refers to <{}> in value {:?}",
            self.tag, self.found, self.value
        )
    }
}

/// Substitute tags in `tags` (values `None` are left alone). `addrepl` resolves a name that is no
/// key of `tags` (fail2ban looks it up in the file's `[Definition]`, incl. `known/` names).
pub(crate) fn substitute(
    tags: &OrdMap<Option<String>>,
    ignore: &std::collections::HashSet<String>,
    addrepl: &mut dyn FnMut(&str) -> Result<Option<String>, crate::ConfigError>,
) -> Result<Result<OrdMap<Option<String>>, TagError>, crate::ConfigError> {
    let mut tags = tags.clone();
    let keys: Vec<String> = tags.keys().cloned().collect();
    let mut done: std::collections::HashSet<String> = Default::default();
    let mut rep_counts: std::collections::HashMap<
        String,
        std::collections::HashMap<String, usize>,
    > = Default::default();
    loop {
        let mut again = false;
        for tag in &keys {
            if ignore.contains(tag) || done.contains(tag) {
                continue;
            }
            let Some(Some(orig)) = tags.get(tag).cloned() else {
                // A missing value reads as the text "None": no tags in it.
                done.insert(tag.clone());
                continue;
            };
            let mut value = orig.clone();
            let mut rplc = rep_counts.get(tag).cloned().unwrap_or_default();
            let mut m = find_tag(&value, 0).map(|(s, e, n)| (s, e, n.to_string()));
            while let Some((start, end, rtag)) = m {
                if ignore.contains(&rtag) {
                    m = find_tag(&value, end).map(|(s, e, n)| (s, e, n.to_string()));
                    continue;
                }
                if rtag == *tag || rplc.get(&rtag).copied().unwrap_or(1) > MAX_TAG_REPLACE_COUNT {
                    return Ok(Err(TagError {
                        tag: tag.clone(),
                        found: rtag,
                        value,
                    }));
                }
                let repl = match tags.get(&rtag) {
                    Some(Some(v)) => Some(v.clone()),
                    // A key without value counts as missing.
                    Some(None) | None => addrepl(&rtag)?,
                };
                let Some(repl) = repl else {
                    m = find_tag(&value, end).map(|(s, e, n)| (s, e, n.to_string()));
                    continue;
                };
                value = value.replace(&format!("<{rtag}>"), &repl);
                *rplc.entry(rtag).or_insert(0) += 1;
                m = find_tag(&value, start).map(|(s, e, n)| (s, e, n.to_string()));
            }
            if value != orig {
                if find_tag(&value, 0).is_some() {
                    rep_counts.insert(tag.clone(), rplc);
                    again = true;
                }
                tags.insert(tag.clone(), Some(value.clone()));
            }
            if !value.contains('<') {
                done.insert(tag.clone());
            }
        }
        if !again {
            break;
        }
    }
    Ok(Ok(tags))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pairs: &[(&str, &str)], ignore: &[&str]) -> Result<Vec<(String, String)>, TagError> {
        let m: OrdMap<Option<String>> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect();
        let ig = ignore.iter().map(|s| s.to_string()).collect();
        let r = substitute(&m, &ig, &mut |_| Ok(None)).unwrap()?;
        Ok(r.iter()
            .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
            .collect())
    }

    #[test]
    fn recursive_and_nested() {
        let r = run(
            &[
                ("a", "3"),
                ("b", "<a>_3"),
                ("c", "<b>-<HOST>"),
                ("lt_file", "F"),
                ("x", "<lt_<t>>"),
                ("t", "file"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(r[1].1, "3_3");
        assert_eq!(r[2].1, "3_3-<HOST>");
        assert_eq!(r[4].1, "F");
    }

    #[test]
    fn self_reference_is_an_error() {
        assert!(run(&[("a", "x<a>")], &[]).is_err());
        assert!(run(&[("a", "<b>"), ("b", "<a>")], &[]).is_err());
        // ignored names are kept
        assert_eq!(
            run(&[("a", "<b>"), ("b", "x")], &["b"]).unwrap()[0].1,
            "<b>"
        );
    }

    #[test]
    fn find_tag_rules() {
        assert_eq!(find_tag("a <b c> <d>", 0).map(|t| t.2), Some("d"));
        assert_eq!(find_tag("<<x>>", 0).map(|t| t.2), Some("x"));
        assert_eq!(find_tag("<>", 0), None);
    }
}
