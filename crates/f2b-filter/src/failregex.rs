//! One compiled fail2ban regex: tags expanded, Python syntax translated, compiled with the `regex`
//! crate when possible (DFA speed, literal prefilters) and with `fancy-regex` otherwise.

use crate::pyre;
use crate::tags::{self, UseDns};

/// Why a regex cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegexError {
    #[error("Cannot add empty regex")]
    Empty,
    #[error("Unable to compile regular expression '{regex}':\n{reason}")]
    Compile { regex: String, reason: String },
    #[error("No failure-id group in '{0}'")]
    NoFailureId(String),
}

enum Engine {
    Fast(regex::Regex, regex::CaptureLocations),
    Fancy(fancy_regex::Regex),
}

/// A compiled regex with the last search's capture positions (fail2ban's "match cache").
pub struct Regex {
    /// The regex as configured (tags not expanded), for reports.
    pub source: String,
    /// The regex after tag expansion (Python syntax), as fail2ban shows it in errors.
    pub expanded: String,
    engine: Engine,
    /// Named groups in definition order with their capture index.
    names: Vec<(String, usize)>,
    slots: Vec<Option<(usize, usize)>>,
    matched: bool,
    /// Searches abandoned at the backtracking limit (each cost one line its match).
    limit_hits: u64,
    /// `alt_NAME[_N]` groups (group, target), sorted: their value fills `NAME` when it is empty.
    alt: Vec<(String, String)>,
    /// `tuple_NAME[_N]` groups (group, target), sorted: their values join `NAME` as a tuple.
    tuple: Vec<(String, String)>,
    pub warnings: Vec<String>,
    /// Literals every match contains (checked on whole lines before anything else).
    pub prefilter: crate::literals::Prefilter,
    /// The regex without its leading `^`, searched anywhere: whenever the regex matches a
    /// suffix of a text (a prefregex `content` ending the line), this matches the whole text.
    /// Lets the filter rule a line out without capturing the prefregex groups. None when the
    /// pattern has constructs for which that does not hold.
    relaxed: Option<regex::Regex>,
}

/// Whether `^` occurs outside character classes (escapes respected).
fn has_anchor_outside_class(p: &str) -> bool {
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' => {
                i += 1;
                if b.get(i) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i) == Some(&b']') {
                    i += 1;
                }
                while i < b.len() && b[i] != b']' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'^' => return true,
            _ => i += 1,
        }
    }
    false
}

/// The unanchored variant of a pattern, when dropping the leading `^` keeps "matches a suffix
/// => matches the text": no other start anchors. Lookarounds, conditionals and backreferences
/// are widened away (see [`pyre::translate_superset`]), so it is a plain `regex` even for
/// patterns that need `fancy-regex`.
fn relaxed_variant(py: &str) -> Option<regex::Regex> {
    let body = py.strip_prefix('^').unwrap_or(py);
    if has_anchor_outside_class(body) {
        return None;
    }
    if body.contains("\\A") {
        return None;
    }
    let translated = pyre::translate_superset(py).ok()?;
    // the translation keeps a leading `^` (after hoisted flags) as it is
    let t = match translated.find('^') {
        Some(i)
            if py.starts_with('^')
                && translated[..i].chars().all(|c| c != '\\' && c != '[')
                && (i == 0 || translated[..i].ends_with(')')) =>
        {
            format!("{}{}", &translated[..i], &translated[i + 1..])
        }
        _ if !py.starts_with('^') => translated,
        _ => return None,
    };
    regex::Regex::new(&t).ok()
}

/// `alt_user_1` -> ("alt", "user"); names fail2ban merges into another group.
fn complex_name(name: &str) -> Option<(&'static str, String)> {
    let (kind, rest) = if let Some(r) = name.strip_prefix("alt_") {
        ("alt", r)
    } else if let Some(r) = name.strip_prefix("tuple_") {
        ("tuple", r)
    } else {
        return None;
    };
    if rest.is_empty() {
        return None;
    }
    // a trailing `_<digits>` only numbers alternatives of the same target
    let base = match rest.rfind('_') {
        Some(i) if i + 1 < rest.len() && rest[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            &rest[..i]
        }
        _ => rest,
    };
    let target = match base {
        "id" => "fid".to_string(),
        "port" => "fport".to_string(),
        b => b.to_lowercase(),
    };
    Some((kind, target))
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Regex")
            .field("source", &self.source)
            .finish()
    }
}

impl Regex {
    /// Compiles a fail2ban regex (tags allowed). `multiline` is fail2ban's `maxlines > 1` mode.
    pub fn new(source: &str, multiline: bool, usedns: UseDns) -> Result<Regex, RegexError> {
        let expanded = tags::expand(source, usedns);
        if expanded.trim_start().is_empty() {
            return Err(RegexError::Empty);
        }
        let expanded = tags::glob_to_local_flags(&expanded);
        Self::compile_python(source, expanded, multiline)
    }

    /// Compiles a plain Python-syntax regex (no tag expansion).
    pub fn compile_python(
        source: &str,
        expanded: String,
        multiline: bool,
    ) -> Result<Regex, RegexError> {
        let tr = pyre::translate_full(&expanded).map_err(|e| RegexError::Compile {
            regex: expanded.clone(),
            reason: e.to_string(),
        })?;
        let pattern = if multiline {
            format!("(?m){}", tr.pattern)
        } else {
            tr.pattern
        };
        let (engine, names): (Engine, Vec<(String, usize)>) = match regex::Regex::new(&pattern) {
            Ok(re) => {
                let names = re
                    .capture_names()
                    .enumerate()
                    .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
                    .collect();
                let locs = re.capture_locations();
                (Engine::Fast(re, locs), names)
            }
            Err(_) => {
                let re = fancy_regex::RegexBuilder::new(&pattern)
                    .backtrack_limit(10_000_000)
                    .build()
                    .map_err(|e| RegexError::Compile {
                        regex: expanded.clone(),
                        reason: e.to_string(),
                    })?;
                let names = re
                    .capture_names()
                    .enumerate()
                    .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
                    .collect();
                (Engine::Fancy(re), names)
            }
        };
        let mut alt = Vec::new();
        let mut tuple = Vec::new();
        for (n, _) in &names {
            if let Some((kind, target)) = complex_name(n) {
                if kind == "alt" {
                    alt.push((n.clone(), target));
                } else {
                    tuple.push((n.clone(), target));
                }
            }
        }
        alt.sort();
        tuple.sort();
        let prefilter = crate::literals::Prefilter::new(&expanded);
        let relaxed = if multiline {
            None
        } else {
            relaxed_variant(&expanded)
        };
        Ok(Regex {
            prefilter,
            relaxed,
            source: source.to_string(),
            expanded,
            engine,
            names,
            slots: Vec::new(),
            matched: false,
            limit_hits: 0,
            alt,
            tuple,
            warnings: tr.warnings,
        })
    }

    /// How many searches were abandoned at the backtracking limit so far.
    pub fn limit_hits(&self) -> u64 {
        self.limit_hits
    }

    pub fn is_fancy(&self) -> bool {
        matches!(self.engine, Engine::Fancy(_))
    }

    pub fn has_group(&self, name: &str) -> bool {
        self.names.iter().any(|(n, _)| n == name)
    }

    /// Named groups in definition order.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|(n, _)| n.as_str())
    }

    /// Searches `hay`; on success the capture positions are kept for [`Regex::group_span`].
    pub fn search(&mut self, hay: &str) -> bool {
        self.matched = false;
        match &mut self.engine {
            Engine::Fast(re, locs) => {
                if re.captures_read(locs, hay).is_some() {
                    self.slots.clear();
                    for i in 0..locs.len() {
                        self.slots.push(locs.get(i));
                    }
                    self.matched = true;
                }
            }
            Engine::Fancy(re) => {
                // A backtracking-limit error counts as no match for this line (a catastrophic
                // pattern costs one line, never the jail); it is counted so the caller can log it.
                match re.captures(hay) {
                    Ok(Some(caps)) => {
                        self.slots.clear();
                        for i in 0..caps.len() {
                            self.slots.push(caps.get(i).map(|m| (m.start(), m.end())));
                        }
                        self.matched = true;
                    }
                    Ok(None) => {}
                    Err(_) => self.limit_hits += 1,
                }
            }
        }
        self.matched
    }

    /// Only tells whether `hay` matches (no capture work).
    pub fn is_match(&self, hay: &str) -> bool {
        match &self.engine {
            Engine::Fast(re, _) => re.is_match(hay),
            Engine::Fancy(re) => re.is_match(hay).unwrap_or(false),
        }
    }

    /// The pattern of the relaxed variant (see [`Regex::may_match_suffix`]).
    pub fn relaxed_pattern(&self) -> Option<&str> {
        self.relaxed.as_ref().map(|r| r.as_str())
    }

    /// False when this regex certainly matches no suffix of `text`; None when unknown.
    pub fn may_match_suffix(&self, text: &str) -> Option<bool> {
        self.relaxed.as_ref().map(|r| r.is_match(text))
    }

    pub fn matched(&self) -> bool {
        self.matched
    }

    /// Span of the whole last match.
    pub fn span(&self) -> Option<(usize, usize)> {
        if self.matched {
            self.slots.first().copied().flatten()
        } else {
            None
        }
    }

    /// Position of a named group in the last match.
    pub fn group_span(&self, name: &str) -> Option<(usize, usize)> {
        if !self.matched {
            return None;
        }
        let idx = self.names.iter().find(|(n, _)| n == name)?.1;
        self.slots.get(idx).copied().flatten()
    }

    /// Named groups of the last match in definition order (None when a group did not take part),
    /// with `alt_*` values merged into their target and `tuple_*` values joined to theirs.
    pub fn groups(&self, hay: &str) -> Vec<(String, Option<String>)> {
        let mut g: Vec<(String, Option<String>)> = self
            .names
            .iter()
            .map(|(n, i)| {
                (
                    n.clone(),
                    self.slots
                        .get(*i)
                        .copied()
                        .flatten()
                        .map(|(s, e)| hay[s..e].to_string()),
                )
            })
            .collect();
        for (k, target) in &self.alt {
            let v = g
                .iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.clone())
                .filter(|v| !v.is_empty());
            let Some(v) = v else { continue };
            match g.iter_mut().find(|(n, _)| n == target) {
                Some((_, slot)) => {
                    if slot.as_deref().is_none_or(str::is_empty) {
                        *slot = Some(v);
                    }
                }
                None => g.push((target.clone(), Some(v))),
            }
        }
        for (k, target) in &self.tuple {
            // fail2ban builds a Python tuple; its text form is what reaches ids and actions
            let v = g.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.clone());
            let item =
                |x: &Option<String>| x.as_ref().map_or("None".to_string(), |s| format!("'{s}'"));
            match g.iter_mut().find(|(n, _)| n == target) {
                Some((_, slot)) => {
                    let cur = slot.take();
                    let joined = match cur.as_deref() {
                        Some(c) if c.starts_with('(') && c.ends_with(')') => {
                            format!("{}, {})", &c[..c.len() - 1], item(&v))
                        }
                        _ => format!("({}, {})", item(&cur), item(&v)),
                    };
                    *slot = Some(joined);
                }
                None => g.push((target.clone(), Some(format!("(None, {})", item(&v))))),
            }
        }
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_regexes_use_the_fast_engine() {
        let re = Regex::new(
            r"^Failed \S+ for .* from <HOST>( port \d+)?$",
            false,
            UseDns::Warn,
        )
        .unwrap();
        assert!(!re.is_fancy());
        let re = Regex::new(r"(?P<a>x)(?P=a)", false, UseDns::Warn).unwrap();
        assert!(re.is_fancy());
    }

    #[test]
    fn groups_in_definition_order() {
        let mut re = Regex::new(
            r"user <F-USER>\S+</F-USER> from <HOST>$",
            false,
            UseDns::Warn,
        )
        .unwrap();
        let hay = "user bob from 10.0.0.1\n";
        assert!(re.search(hay));
        let g = re.groups(hay);
        let names: Vec<&str> = g.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["user", "ip4", "ip6", "dns"]);
        assert_eq!(g[0].1.as_deref(), Some("bob"));
        assert_eq!(g[1].1.as_deref(), Some("10.0.0.1"));
        assert_eq!(g[2].1, None);
    }

    #[test]
    fn alt_groups_fill_their_target() {
        let mut re = Regex::new(
            r"(?:user=<F-USER>\S+</F-USER>|ruser=<F-ALT_USER_1>\S+</F-ALT_USER_1>) from <HOST>",
            false,
            UseDns::No,
        )
        .unwrap();
        let hay = "ruser=joe from 10.0.0.1\n";
        assert!(re.search(hay));
        let g = re.groups(hay);
        assert_eq!(
            g.iter()
                .find(|(n, _)| n == "user")
                .and_then(|(_, v)| v.as_deref()),
            Some("joe")
        );
        let hay = "user=ann from 10.0.0.1\n";
        assert!(re.search(hay));
        let g = re.groups(hay);
        assert_eq!(
            g.iter()
                .find(|(n, _)| n == "user")
                .and_then(|(_, v)| v.as_deref()),
            Some("ann")
        );
    }

    #[test]
    fn relaxed_variant_matches_suffixes() {
        let re = Regex::new(
            r"^\[UFW (?:ALLOW|BLOCK)\] IN= .*?DPT=<F-ID>(?:22|23)</F-ID>\b",
            false,
            UseDns::No,
        )
        .unwrap();
        assert_eq!(
            re.may_match_suffix("srv kernel: [1.0] [UFW BLOCK] IN= OUT=x DPT=22 W\n"),
            Some(true)
        );
        assert_eq!(
            re.may_match_suffix("srv kernel: [1.0] [UFW BLOCK] IN= OUT=x DPT=220 W\n"),
            Some(false)
        );
        let re = Regex::new(r"^a|^b <HOST>", false, UseDns::No).unwrap();
        assert_eq!(
            re.may_match_suffix("x b 1.2.3.4"),
            None,
            "a second start anchor: unknown"
        );
        let re = Regex::new(r"^(?!x)y(?P<a>z)?(?(a)q|r) <HOST>", false, UseDns::No).unwrap();
        assert!(re.is_fancy());
        assert_eq!(re.may_match_suffix("pre yr 1.2.3.4"), Some(true));
        assert_eq!(re.may_match_suffix("pre ys 1.2.3.4"), Some(false));
    }

    #[test]
    fn compile_errors_name_the_expanded_regex() {
        let e = Regex::new("foo(", false, UseDns::Warn).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Unable to compile regular expression 'foo(':"));
        assert_eq!(
            Regex::new("  ", false, UseDns::Warn).unwrap_err(),
            RegexError::Empty
        );
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;
    use crate::tags::UseDns;

    #[test]
    fn a_catastrophic_search_is_abandoned_and_counted() {
        // a backreference forces the backtracking engine; nested quantifiers make it exponential
        let mut re = Regex::new(r"^((a+)+)+\2c from <HOST>", false, UseDns::No).expect("compiles");
        assert!(re.is_fancy());
        let line = format!("{}b from 192.0.2.1", "a".repeat(40));
        assert!(!re.search(&line));
        assert_eq!(re.limit_hits(), 1);
        assert!(!re.search("ab from 192.0.2.1"));
        assert_eq!(re.limit_hits(), 1, "an ordinary miss is no limit hit");
    }
}
