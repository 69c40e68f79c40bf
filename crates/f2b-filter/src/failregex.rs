//! One compiled fail2ban regex: tags expanded, Python syntax translated, run with the `regex`
//! crate when possible (DFA speed, literal prefilters) and with `fancy-regex` otherwise.
//!
//! Building the automata is most of what a filter costs (time and memory), and a jail whose log
//! stays quiet never needs them. So construction only *validates*: the pattern is parsed (the
//! `regex` crate's parser, or fancy-regex's parser and analysis) and every error a build could
//! give is reported there, as before; the engines are built on the first search. Patterns for
//! which the parse cannot vouch for the build (the `regex` size limit, fancy-regex lookbehinds)
//! are built at once, as before.

use std::cell::OnceCell;

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

/// Which engine runs a pattern; decided when the regex is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Fast,
    Fancy,
}

enum Engine {
    Fast(regex::Regex),
    Fancy(fancy_regex::Regex),
    /// The build failed although the parse passed (a limit the parse cannot see): the regex
    /// matches nothing and every search counts as a limit hit, so the daemon logs it.
    Broken,
}

/// The `regex` crate's compiled-size limit (its default, which [`regex::Regex::new`] uses).
const NFA_SIZE_LIMIT: usize = 10 << 20;

/// A generous upper estimate of the compiled size of `hir` in bytes: classes are counted by
/// their ranges (a Unicode range becomes several UTF-8 byte sequences), repetitions multiply.
/// Only used to decide whether a build could hit [`NFA_SIZE_LIMIT`]; stock patterns stay two
/// orders of magnitude below.
fn size_estimate(hir: &regex_syntax::hir::Hir) -> usize {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 16,
        HirKind::Literal(l) => 16 * l.0.len(),
        HirKind::Class(Class::Unicode(c)) => 96 * c.ranges().len().max(1),
        HirKind::Class(Class::Bytes(c)) => 16 * c.ranges().len().max(1),
        HirKind::Repetition(r) => {
            let copies = match r.max {
                Some(m) => m.max(r.min) as usize,
                None => r.min as usize + 1,
            };
            size_estimate(&r.sub).saturating_mul(copies.max(1))
        }
        HirKind::Capture(c) => size_estimate(&c.sub).saturating_add(32),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().fold(16usize, |a, h| {
            a.saturating_add(size_estimate(h)).saturating_add(16)
        }),
    }
}

/// Whether building this parsed pattern certainly stays under the size limit.
fn surely_builds(hir: &regex_syntax::hir::Hir) -> bool {
    size_estimate(hir) <= NFA_SIZE_LIMIT / 4
}

/// The `regex` crate's own parser with its default settings (those of [`regex::Regex::new`]).
fn parse_fast(pattern: &str) -> Option<regex_syntax::hir::Hir> {
    regex_syntax::ParserBuilder::new()
        .nest_limit(250)
        .build()
        .parse(pattern)
        .ok()
}

/// Named capture groups of a parsed pattern with their index, in index order.
fn hir_names(hir: &regex_syntax::hir::Hir, out: &mut Vec<(String, usize)>) {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Capture(c) => {
            if let Some(n) = &c.name {
                out.push((n.to_string(), c.index as usize));
            }
            hir_names(&c.sub, out);
        }
        HirKind::Repetition(r) => hir_names(&r.sub, out),
        HirKind::Concat(v) | HirKind::Alternation(v) => {
            for h in v {
                hir_names(h, out);
            }
        }
        _ => {}
    }
}

fn build_fancy(pattern: &str) -> Result<fancy_regex::Regex, fancy_regex::Error> {
    fancy_regex::RegexBuilder::new(pattern)
        .backtrack_limit(10_000_000)
        .build()
}

/// fancy-regex's parse and analysis, which give its errors but build nothing; `None` when the
/// later build could still fail (lookbehinds are checked there, delegates may be too large).
fn validate_fancy(
    pattern: &str,
    python: &str,
) -> Option<Result<Vec<(String, usize)>, fancy_regex::Error>> {
    use fancy_regex::internal::{analyze, optimize, AnalyzeContext, FLAG_UNICODE};
    if pattern.contains("(?<=") || pattern.contains("(?<!") {
        return None;
    }
    // the delegates fancy-regex builds are parts of this widened pattern: bounded by it
    let superset = pyre::translate_superset(python).ok()?;
    if !parse_fast(&superset).is_some_and(|h| surely_builds(&h)) {
        return None;
    }
    let mut tree = match fancy_regex::Expr::parse_tree_with_flags(pattern, FLAG_UNICODE) {
        Ok(t) => t,
        Err(e) => return Some(Err(e)),
    };
    let fixup = optimize(&mut tree);
    let ctx = AnalyzeContext {
        explicit_capture_group_0: fixup,
        ..AnalyzeContext::default()
    };
    if let Err(e) = analyze(&tree, ctx) {
        return Some(Err(e));
    }
    let mut names: Vec<(String, usize)> = tree
        .named_groups
        .iter()
        .flat_map(|(n, idx)| idx.iter().map(move |&i| (n.clone(), i)))
        .collect();
    names.sort_by_key(|(_, i)| *i);
    Some(Ok(names))
}

/// A compiled regex with the last search's capture positions (fail2ban's "match cache").
pub struct Regex {
    /// The regex as configured (tags not expanded), for reports.
    pub source: String,
    /// The regex after tag expansion (Python syntax), as fail2ban shows it in errors.
    pub expanded: String,
    /// The translated pattern the engine is built from.
    pattern: String,
    plan: Plan,
    /// Built on first use (see the module doc).
    engine: OnceCell<Engine>,
    locs: Option<regex::CaptureLocations>,
    /// Named groups in definition order with their capture index.
    names: Vec<(String, usize)>,
    slots: Vec<Option<(usize, usize)>>,
    matched: bool,
    /// Searches abandoned at the backtracking limit so far (each cost one line its match).
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
    relaxed_src: Option<String>,
    /// Its engine, built on first use (None: it did not build; the check then says "unknown").
    relaxed: OnceCell<Option<regex::Regex>>,
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
fn relaxed_variant(py: &str) -> Option<String> {
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
    // Built on first use; not even parsed here (a variant that does not build answers
    // "unknown", which only costs the shortcut).
    Some(t)
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
        let compile_err = |reason: String| RegexError::Compile {
            regex: expanded.clone(),
            reason,
        };
        let engine = OnceCell::new();
        let (plan, names) = match parse_fast(&pattern) {
            Some(hir) if surely_builds(&hir) => {
                let mut names = Vec::new();
                hir_names(&hir, &mut names);
                names.sort_by_key(|(_, i)| *i);
                (Plan::Fast, names)
            }
            parsed => {
                let built_fast = match parsed {
                    Some(_) => regex::Regex::new(&pattern).ok(),
                    None => None,
                };
                match built_fast {
                    Some(re) => {
                        let names = re
                            .capture_names()
                            .enumerate()
                            .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
                            .collect();
                        let _ = engine.set(Engine::Fast(re));
                        (Plan::Fast, names)
                    }
                    None => match validate_fancy(&pattern, &expanded) {
                        Some(Ok(names)) => (Plan::Fancy, names),
                        Some(Err(e)) => return Err(compile_err(e.to_string())),
                        None => {
                            let re =
                                build_fancy(&pattern).map_err(|e| compile_err(e.to_string()))?;
                            let names = re
                                .capture_names()
                                .enumerate()
                                .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
                                .collect();
                            let _ = engine.set(Engine::Fancy(re));
                            (Plan::Fancy, names)
                        }
                    },
                }
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
        let relaxed_src = if multiline {
            None
        } else {
            relaxed_variant(&expanded)
        };
        Ok(Regex {
            prefilter,
            relaxed_src,
            relaxed: OnceCell::new(),
            source: source.to_string(),
            expanded,
            pattern,
            plan,
            engine,
            locs: None,
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
        self.plan == Plan::Fancy
    }

    /// Whether the engine has been built (it is on the first search).
    pub fn is_built(&self) -> bool {
        self.engine.get().is_some()
    }

    fn engine(&self) -> &Engine {
        self.engine.get_or_init(|| match self.plan {
            Plan::Fast => match regex::Regex::new(&self.pattern) {
                Ok(re) => Engine::Fast(re),
                Err(_) => build_fancy(&self.pattern).map_or(Engine::Broken, Engine::Fancy),
            },
            Plan::Fancy => build_fancy(&self.pattern).map_or(Engine::Broken, Engine::Fancy),
        })
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
        self.engine();
        match self.engine.get() {
            Some(Engine::Fast(re)) => {
                let locs = self.locs.get_or_insert_with(|| re.capture_locations());
                if re.captures_read(locs, hay).is_some() {
                    self.slots.clear();
                    for i in 0..locs.len() {
                        self.slots.push(locs.get(i));
                    }
                    self.matched = true;
                }
            }
            Some(Engine::Fancy(re)) => {
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
            Some(Engine::Broken) | None => self.limit_hits += 1,
        }
        self.matched
    }

    /// Only tells whether `hay` matches (no capture work).
    pub fn is_match(&self, hay: &str) -> bool {
        match self.engine() {
            Engine::Fast(re) => re.is_match(hay),
            Engine::Fancy(re) => re.is_match(hay).unwrap_or(false),
            Engine::Broken => false,
        }
    }

    /// The pattern of the relaxed variant (see [`Regex::may_match_suffix`]).
    pub fn relaxed_pattern(&self) -> Option<&str> {
        self.relaxed_src.as_deref()
    }

    /// False when this regex certainly matches no suffix of `text`; None when unknown.
    pub fn may_match_suffix(&self, text: &str) -> Option<bool> {
        let src = self.relaxed_src.as_deref()?;
        self.relaxed
            .get_or_init(|| regex::Regex::new(src).ok())
            .as_ref()
            .map(|r| r.is_match(text))
    }

    /// Takes the result of a search another engine made on this regex's behalf: the capture
    /// positions by group index (as [`Regex::search`] keeps them), None for no match.
    pub(crate) fn set_last_match(&mut self, slots: Option<&[Option<(usize, usize)>]>) {
        self.matched = false;
        if let Some(s) = slots {
            self.slots.clear();
            self.slots.extend_from_slice(s);
            self.matched = true;
        }
    }

    /// Capture positions of the last match by group index (None when it did not match).
    #[cfg(test)]
    pub(crate) fn last_slots(&self) -> Option<&[Option<(usize, usize)>]> {
        self.matched.then_some(self.slots.as_slice())
    }

    /// The capture index of a named group.
    pub(crate) fn group_index(&self, name: &str) -> Option<usize> {
        self.names.iter().find(|(n, _)| n == name).map(|(_, i)| *i)
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

/// Lazy building against building at once, over fail2ban's stock filters and the sample lines
/// of the shared conformance corpus.
#[cfg(test)]
mod lazy_tests {
    use super::*;
    use std::path::Path;

    /// What construction gave before building became lazy: the engine built at once.
    fn eager(pattern: &str) -> Result<(bool, Vec<(String, usize)>), String> {
        let names = |it: Vec<Option<String>>| -> Vec<(String, usize)> {
            it.into_iter()
                .enumerate()
                .filter_map(|(i, n)| n.map(|n| (n, i)))
                .collect()
        };
        match regex::Regex::new(pattern) {
            Ok(re) => Ok((
                false,
                names(re.capture_names().map(|n| n.map(str::to_string)).collect()),
            )),
            Err(_) => build_fancy(pattern)
                .map(|re| {
                    (
                        true,
                        names(re.capture_names().map(|n| n.map(str::to_string)).collect()),
                    )
                })
                .map_err(|e| e.to_string()),
        }
    }

    /// Every regex of the stock filters (with their default options), as Python text.
    fn stock_regexes() -> Option<Vec<(String, bool)>> {
        let dir = Path::new("/etc/fail2ban");
        let entries = std::fs::read_dir(dir.join("filter.d")).ok()?;
        let mut out = Vec::new();
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().map_or(true, |x| x != "conf") {
                continue;
            }
            let Some(name) = p.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            let Ok(def) = f2b_config::load_filter(dir, &name, &[]) else {
                continue;
            };
            let ml = def.maxlines.unwrap_or(1) > 1;
            for r in def
                .prefregex
                .iter()
                .chain(&def.failregex)
                .chain(&def.ignoreregex)
            {
                out.push((r.clone(), ml));
            }
        }
        Some(out)
    }

    /// Log lines of the conformance corpus (comments left out).
    fn sample_lines() -> Vec<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/dev/logs");
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return out;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            for l in String::from_utf8_lossy(&bytes).lines() {
                if !l.starts_with('#') && !l.trim().is_empty() {
                    out.push(format!("{l}\n"));
                }
            }
        }
        out
    }

    #[test]
    fn construction_validates_like_an_eager_build() {
        let mut cases: Vec<(String, bool)> = [
            r"^Failed \S+ for .* from <HOST>( port \d+)?$",
            r"(?P<a>x)(?P=a) <HOST>",
            r"(?<=ab)c <HOST>",
            r"(?<=a+)c <HOST>",
            r"(?P<a>x)(?P=b) <HOST>",
            r"(?(a)x|y) <HOST>",
            r"(?P<n>\w{3000}) <HOST>",
            r"\w{400}(?P=x) <HOST>",
            r"^(?!x)y(?P<a>z)?(?(a)q|r) <HOST>",
            r"x{2,1} <HOST>",
            r"[z-a] <HOST>",
        ]
        .iter()
        .map(|s| (s.to_string(), false))
        .collect();
        match stock_regexes() {
            Some(s) => cases.extend(s),
            None => println!("no /etc/fail2ban: stock filters not compared"),
        }
        let mut lazy = 0;
        for (src, ml) in &cases {
            let expanded = tags::glob_to_local_flags(&tags::expand(src, UseDns::Warn));
            let Ok(tr) = pyre::translate_full(&expanded) else {
                continue;
            };
            let pattern = if *ml {
                format!("(?m){}", tr.pattern)
            } else {
                tr.pattern
            };
            let want = eager(&pattern);
            let got = Regex::new(src, *ml, UseDns::Warn);
            match (&want, &got) {
                (Ok((fancy, names)), Ok(re)) => {
                    assert_eq!(re.is_fancy(), *fancy, "{src}");
                    assert_eq!(&re.names, names, "{src}");
                    if !re.is_built() {
                        lazy += 1;
                    }
                }
                (Err(w), Err(RegexError::Compile { reason, .. })) => assert_eq!(w, reason),
                _ => panic!("{src}: eager {want:?}, lazy {got:?}"),
            }
        }
        assert!(
            lazy * 10 >= cases.len() * 9,
            "{lazy} of {} lazy",
            cases.len()
        );
    }

    #[test]
    fn lazy_engines_match_like_eager_ones_and_prefilters_keep_every_match() {
        let Some(regexes) = stock_regexes() else {
            println!("skipped: no /etc/fail2ban");
            return;
        };
        let lines = sample_lines();
        if lines.is_empty() {
            println!("skipped: ../shared/compat/dev/logs not present");
            return;
        }
        let mut hits = 0;
        for (src, ml) in regexes {
            let Ok(mut re) = Regex::new(&src, ml, UseDns::Warn) else {
                continue;
            };
            assert!(!re.is_built() || re.is_fancy());
            let mut reference = match eager(&re.pattern) {
                Ok((false, _)) => Engine::Fast(regex::Regex::new(&re.pattern).unwrap()),
                Ok((true, _)) => Engine::Fancy(build_fancy(&re.pattern).unwrap()),
                Err(e) => panic!("{src}: {e}"),
            };
            for line in &lines {
                let got = re.search(line);
                let slots = re.slots.clone();
                let want: Option<Vec<Option<(usize, usize)>>> = match &mut reference {
                    Engine::Fast(r) => {
                        let mut locs = r.capture_locations();
                        r.captures_read(&mut locs, line)
                            .map(|_| (0..locs.len()).map(|i| locs.get(i)).collect())
                    }
                    Engine::Fancy(r) => r.captures(line).ok().flatten().map(|c| {
                        (0..c.len())
                            .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                            .collect()
                    }),
                    Engine::Broken => None,
                };
                assert_eq!(got, want.is_some(), "{src} on {line:?}");
                if let Some(w) = want {
                    hits += 1;
                    assert_eq!(slots, w, "{src} on {line:?}");
                    assert!(
                        re.prefilter.may_match(line.as_bytes()),
                        "prefilter rules out a match: {src} on {line:?}"
                    );
                    assert_ne!(
                        re.may_match_suffix(line),
                        Some(false),
                        "relaxed variant rules out a match: {src} on {line:?}"
                    );
                }
            }
            assert!(re.is_built());
        }
        assert!(
            hits > 100,
            "only {hits} matches: the corpus did not exercise the regexes"
        );
    }
}
