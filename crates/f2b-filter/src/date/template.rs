//! Date templates: how a `datepattern` (or one of fail2ban's defaults) becomes a named regex with
//! word/line boundaries, and how a template is matched against a line.
//!
//! Each regex template is compiled twice when needed: a `regex`-crate version (fail2ban's
//! boundary look-aheads become half word boundaries, a backreference becomes a copy of its group
//! checked after the match) that serves almost every line, and a `fancy-regex` version of the
//! exact pattern used when the first one cannot express it or its backreference check fails.

use std::sync::OnceLock;

use super::epoch;
use super::strptime::{self, Clock, Computed, Field};
use super::DateError;
use crate::pyre;

pub(crate) const LINE_BEGIN: u8 = 8;
pub(crate) const LINE_END: u8 = 4;
pub(crate) const WORD_BEGIN: u8 = 2;
pub(crate) const WORD_END: u8 = 1;

/// Where the template must start: anywhere at a word edge, at the line start (after at most two
/// non-word characters), or with no constraint added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Begin {
    No,
    Word,
    Line,
}

const PY_WORD_BEGIN: &str = r"(?=^|\b|\W)";
const PY_LINE_BEGIN: &str = r"^(?:\W{0,2})?";
const PY_WORD_END: &str = r"(?=\b|\W|$)";
/// "Not between two word characters": exactly what both look-aheads above test.
const RS_WORD_EDGE: &str = r"(?:\b{start-half}|\b{end-half})";

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    /// `%`-code pattern: the time comes from the named groups.
    Pattern,
    /// A pattern with `{EPOCH}`/`{LEPOCH}` in it: the stamp is group 2.
    EpochPattern { long: bool },
    /// The `EPOCH`/`LEPOCH` templates.
    Epoch { long: bool, line_begin: bool },
    /// `TAI64N`: `@` and 24 hex digits.
    Tai64n,
}

pub(crate) struct Template {
    pub name: String,
    /// The datepattern text of a `%`-code template (what `--VD` shows as `pattern`).
    pub pattern: Option<String>,
    /// The final regex in Python syntax, as fail2ban shows it.
    pub regex: String,
    pub flags: u8,
    pub kind: Kind,
    engine: Option<Engine>,
}

struct Engine {
    fast: Option<Fast>,
    slow_src: String,
    slow: OnceLock<Option<Slow>>,
}

struct Fast {
    re: regex::Regex,
    /// (group, copy of the group standing for its backreference): their texts must be equal.
    brefs: Vec<(usize, usize)>,
    fields: Vec<(Field, usize)>,
}

struct Slow {
    re: fancy_regex::Regex,
    fields: Vec<(Field, usize)>,
}

/// A match of a template in a line (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    /// Start and end of the whole match.
    pub start: usize,
    pub end: usize,
    /// Group 1: the date text fail2ban cuts out of the line.
    pub g1: Option<(usize, usize)>,
    /// Which engine's capture buffer holds the groups.
    via: Via,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// Groups are in `Scratch::memo_groups`, relative to the match start.
    Memo,
    Slow,
    Epoch,
}

/// Per-detector buffers, so the hit path allocates nothing, and a memo of the last fast match:
/// logs repeat the same date text on many consecutive lines, and the same matched text always
/// has the same groups (the boundary checks at its edges passed for both), so the capture
/// engine and the date arithmetic run once per distinct text.
pub(crate) struct Scratch {
    fast: Option<regex::CaptureLocations>,
    slow: Vec<Option<(usize, usize)>>,
    memo_text: String,
    memo_groups: Vec<Option<(usize, usize)>>,
    memo_valid: bool,
    /// The time computed for the memo text, and the "now" it depended on (if it did).
    memo_time: Option<(Option<Computed>, Option<f64>)>,
}

impl Template {
    pub fn scratch(&self) -> Scratch {
        Scratch {
            fast: self
                .engine
                .as_ref()
                .and_then(|e| e.fast.as_ref())
                .map(|f| f.re.capture_locations()),
            slow: Vec::new(),
            memo_text: String::new(),
            memo_groups: Vec::new(),
            memo_valid: false,
            memo_time: None,
        }
    }

    #[cfg(test)]
    pub fn has_fast_engine(&self) -> bool {
        self.engine.as_ref().is_some_and(|e| e.fast.is_some())
    }

    pub fn is_anchored(&self) -> bool {
        self.flags & (LINE_BEGIN | LINE_END) != 0
    }

    /// Searches `line[..endpos]` from byte `pos`, like Python's `pattern.search(line, pos, endpos)`.
    pub fn search(
        &self,
        line: &str,
        pos: usize,
        endpos: usize,
        scratch: &mut Scratch,
    ) -> Option<Hit> {
        let endpos = endpos.min(line.len());
        if pos > endpos || !line.is_char_boundary(pos) || !line.is_char_boundary(endpos) {
            return None;
        }
        let text = &line[..endpos];
        if let Kind::Epoch { long, line_begin } = self.kind {
            let h = epoch::find(text, pos, long, line_begin)?;
            return Some(Hit {
                start: h.start,
                end: h.value.1,
                g1: Some(h.value),
                via: Via::Epoch,
            });
        }
        let engine = self.engine.as_ref()?;
        if let (Some(fast), Some(locs)) = (&engine.fast, scratch.fast.as_mut()) {
            let m = fast.re.find_at(text, pos)?;
            let (start, end) = (m.start(), m.end());
            let rel = |g: Option<(usize, usize)>| g.map(|(a, b)| (a + start, b + start));
            if scratch.memo_valid && scratch.memo_text == m.as_str() {
                return Some(Hit {
                    start,
                    end,
                    g1: rel(scratch.memo_groups.get(1).copied().flatten()),
                    via: Via::Memo,
                });
            }
            // Same search, now with groups: it yields the same match.
            let m = fast.re.captures_read_at(locs, text, pos)?;
            debug_assert_eq!((m.start(), m.end()), (start, end));
            let verified =
                fast.brefs
                    .iter()
                    .all(|&(g, copy)| match (locs.get(g), locs.get(copy)) {
                        (Some((a, b)), Some((c, d))) => text[a..b] == text[c..d],
                        _ => false,
                    });
            if verified {
                scratch.memo_text.clear();
                scratch.memo_text.push_str(m.as_str());
                scratch.memo_groups.clear();
                scratch.memo_groups.extend(
                    (0..locs.len()).map(|i| locs.get(i).map(|(a, b)| (a - start, b - start))),
                );
                scratch.memo_valid = true;
                scratch.memo_time = None;
                return Some(Hit {
                    start,
                    end,
                    g1: locs.get(1),
                    via: Via::Memo,
                });
            }
        }
        let slow = engine.slow()?;
        let caps = slow.re.captures_from_pos(text, pos).ok()??;
        scratch.slow.clear();
        scratch
            .slow
            .extend((0..caps.len()).map(|i| caps.get(i).map(|m| (m.start(), m.end()))));
        let (start, end) = scratch.slow.first().copied().flatten()?;
        Some(Hit {
            start,
            end,
            g1: scratch.slow.get(1).copied().flatten(),
            via: Via::Slow,
        })
    }

    /// The time of a hit; `None` when fail2ban could not build a date from it.
    pub fn time(
        &self,
        line: &str,
        hit: &Hit,
        scratch: &mut Scratch,
        clock: &Clock<'_>,
    ) -> Option<Computed> {
        if hit.via == Via::Memo {
            if let Some((c, dep)) = scratch.memo_time {
                if dep.map_or(true, |n| n == clock.now) {
                    return c;
                }
            }
        }
        let (c, used_now) = self.compute(line, hit, scratch, clock);
        if hit.via == Via::Memo {
            scratch.memo_time = Some((c, used_now.then_some(clock.now)));
        }
        c
    }

    fn compute(
        &self,
        line: &str,
        hit: &Hit,
        scratch: &Scratch,
        clock: &Clock<'_>,
    ) -> (Option<Computed>, bool) {
        let group = |i: usize| -> Option<(usize, usize)> {
            match hit.via {
                Via::Memo => scratch
                    .memo_groups
                    .get(i)
                    .copied()
                    .flatten()
                    .map(|(a, b)| (a + hit.start, b + hit.start)),
                Via::Slow => scratch.slow.get(i).copied().flatten(),
                Via::Epoch => (i == 1).then_some(hit.g1).flatten(),
            }
        };
        let epoch_at = |g: Option<(usize, usize)>, long: bool| {
            g.and_then(|(a, b)| {
                Some(Computed {
                    time: epoch::value(&line[a..b], long)?,
                    is_int: false,
                })
            })
        };
        match self.kind {
            Kind::Epoch { long, .. } => (epoch_at(hit.g1, long), false),
            Kind::EpochPattern { long } => (epoch_at(group(2), long), false),
            Kind::Tai64n => {
                let t = hit
                    .g1
                    .and_then(|(a, b)| line[a..b].get(2..17))
                    .and_then(|hex| u64::from_str_radix(hex, 16).ok());
                (
                    t.map(|t| Computed {
                        time: t as f64,
                        is_int: true,
                    }),
                    false,
                )
            }
            Kind::Pattern => {
                let Some(engine) = self.engine.as_ref() else {
                    return (None, false);
                };
                let fields = match hit.via {
                    Via::Memo => engine.fast.as_ref().map(|f| &f.fields),
                    _ => engine.slow().map(|s| &s.fields),
                };
                let Some(fields) = fields else {
                    return (None, false);
                };
                let mut vals: [(Field, &str); 24] = [(Field::AmPm, ""); 24];
                let mut n = 0;
                for &(f, i) in fields.iter() {
                    if let Some((a, b)) = group(i) {
                        if n < vals.len() {
                            vals[n] = (f, &line[a..b]);
                            n += 1;
                        }
                    }
                }
                strptime::compute(&vals[..n], clock)
            }
        }
    }
}

impl Engine {
    fn slow(&self) -> Option<&Slow> {
        self.slow
            .get_or_init(|| {
                let re = fancy_regex::Regex::new(&self.slow_src).ok()?;
                let fields = fields_of(re.capture_names().enumerate());
                Some(Slow { re, fields })
            })
            .as_ref()
    }
}

fn fields_of<'a>(names: impl Iterator<Item = (usize, Option<&'a str>)>) -> Vec<(Field, usize)> {
    names
        .filter_map(|(i, n)| Some((Field::from_group_name(n?)?, i)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Building templates.

/// The parts of a bounded regex: `gf + prefix + core + suffix` is fail2ban's final regex.
struct Bounded {
    gf: String,
    begin: Begin,
    core: String,
    end: bool,
    flags: u8,
}

impl Bounded {
    fn python(&self) -> String {
        let prefix = match self.begin {
            Begin::No => "",
            Begin::Word => PY_WORD_BEGIN,
            Begin::Line => PY_LINE_BEGIN,
        };
        let suffix = if self.end { PY_WORD_END } else { "" };
        format!("{}{}{}{}", self.gf, prefix, self.core, suffix)
    }
}

fn re(src: &str) -> regex::Regex {
    // Only called with constant patterns of this module.
    regex::Regex::new(src).expect("constant regex")
}

fn global_flags_re() -> &'static regex::Regex {
    static R: OnceLock<regex::Regex> = OnceLock::new();
    R.get_or_init(|| re(r"\(\?[a-z]+\)"))
}
fn no_word_begin_re() -> &'static regex::Regex {
    static R: OnceLock<regex::Regex> = OnceLock::new();
    R.get_or_init(|| re(r"^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)"))
}
fn group_wrap_re() -> &'static regex::Regex {
    static R: OnceLock<regex::Regex> = OnceLock::new();
    R.get_or_init(|| re(r"^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$"))
}
fn del_begin_stars_re() -> &'static regex::Regex {
    static R: OnceLock<regex::Regex> = OnceLock::new();
    R.get_or_init(|| re(r"^\(*(?:\(\?\w+\))?\(*\*\*"))
}
fn flag_group_re() -> &'static regex::Regex {
    static R: OnceLock<regex::Regex> = OnceLock::new();
    R.get_or_init(|| re(r"^\(\?\w+\)"))
}

fn prev_is_backslash(s: &str, i: usize) -> bool {
    i > 0 && s.as_bytes()[i - 1] == b'\\'
}

/// Ends with `$`, `$)`, `\b`, `\s` or `**` followed by `)`s, not escaped: no word end is added.
fn ends_without_word_bound(s: &str) -> bool {
    let b = s.as_bytes();
    let n = b.len();
    let at = |i: usize| !prev_is_backslash(s, i);
    if n >= 1 && b[n - 1] == b'$' && at(n - 1) {
        return true;
    }
    if n >= 2 && &b[n - 2..] == b"$)" && at(n - 2) {
        return true;
    }
    if n >= 2 && (&b[n - 2..] == b"\\b" || &b[n - 2..] == b"\\s") && at(n - 2) {
        return true;
    }
    stars_at_end(s).is_some()
}

/// Position of a `**` that only `)`s follow, if not escaped.
fn stars_at_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let parens = b.iter().rev().take_while(|&&c| c == b')').count();
    let e = b.len() - parens;
    (e >= 2 && &b[e - 2..e] == b"**" && !prev_is_backslash(s, e - 2)).then(|| e - 2)
}

/// Is there a capturing group that is not named (`(` not escaped, not `(?`, not after `(?`)?
fn has_plain_group(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len()).any(|i| {
        b[i] == b'('
            && !prev_is_backslash(s, i)
            && !(i >= 2 && &b[i - 2..i] == b"(?")
            && b.get(i + 1) != Some(&b'?')
    })
}

/// Starts at the line begin: `^`, `(^` or `(?:^` (not `(^|`), after an optional flag group.
fn starts_at_line_begin(s: &str) -> bool {
    let rest = match flag_group_re().find(s) {
        Some(m) => &s[m.end()..],
        None => s,
    };
    if rest.starts_with('^') {
        return true;
    }
    let after = rest
        .strip_prefix("(?:^")
        .or_else(|| rest.strip_prefix("(^"));
    matches!(after, Some(a) if !a.starts_with('|'))
}

/// Ends with `$` or `$)` not escaped and not after `|`.
fn ends_at_line_end(s: &str) -> bool {
    let b = s.as_bytes();
    let n = b.len();
    let ok = |i: usize| i == 0 || !matches!(b[i - 1], b'\\' | b'|');
    (n >= 1 && b[n - 1] == b'$' && ok(n - 1)) || (n >= 2 && &b[n - 2..] == b"$)" && ok(n - 2))
}

/// fail2ban's boundary handling of a template regex (`name` gets `{^LN-BEG}` when line-anchored).
fn bound(regex: &str, word_begin: Begin, word_end: bool, name: &mut String) -> Bounded {
    let mut regex = regex.trim().to_string();
    let mut gf = String::new();
    if let Some(m) = global_flags_re().find(&regex) {
        gf = m.as_str().to_string();
        regex.replace_range(m.range(), "");
    }
    let bound_begin = word_begin != Begin::No && !no_word_begin_re().is_match(&regex);
    let bound_end = word_end && !ends_without_word_bound(&regex);
    if !has_plain_group(&regex) {
        if let Some(c) = group_wrap_re().captures(&regex) {
            regex = format!("{}({}){}", &c[1], &c[2], &c[3]);
        }
    }
    let mut flags = 0;
    let begin = if bound_begin { word_begin } else { Begin::No };
    match begin {
        Begin::Word => flags |= WORD_BEGIN,
        Begin::Line => {
            flags |= LINE_BEGIN;
            if !name.starts_with("{^LN-BEG}") {
                name.insert_str(0, "{^LN-BEG}");
            }
        }
        Begin::No => {}
    }
    if bound_end {
        flags |= WORD_END;
    }
    let mut b = Bounded {
        gf,
        begin,
        core: regex,
        end: bound_end,
        flags,
    };
    let full = {
        let mut t = b.clone_python_without_gf();
        if flags & LINE_BEGIN == 0 && starts_at_line_begin(&t) {
            b.flags |= LINE_BEGIN;
        }
        if flags & LINE_END == 0 && ends_at_line_end(&t) {
            b.flags |= LINE_END;
        }
        // `**` at either edge only switched a boundary off; it is not part of the regex.
        if let Some(m) = del_begin_stars_re().find(&t) {
            let cleaned = m.as_str().replacen("**", "", 1);
            t.replace_range(m.range(), &cleaned);
        }
        if let Some(i) = stars_at_end(&t) {
            t.replace_range(i..i + 2, "");
        }
        t
    };
    // Cut the boundaries back off: they are compiled differently per engine.
    let prefix_len = match b.begin {
        Begin::No => 0,
        Begin::Word => PY_WORD_BEGIN.len(),
        Begin::Line => PY_LINE_BEGIN.len(),
    };
    let suffix_len = if b.end { PY_WORD_END.len() } else { 0 };
    b.core = full[prefix_len..full.len() - suffix_len].to_string();
    b
}

impl Bounded {
    fn clone_python_without_gf(&self) -> String {
        let prefix = match self.begin {
            Begin::No => "",
            Begin::Word => PY_WORD_BEGIN,
            Begin::Line => PY_LINE_BEGIN,
        };
        let suffix = if self.end { PY_WORD_END } else { "" };
        format!("{}{}{}", prefix, self.core, suffix)
    }
}

/// Copies of groups for backreferences, so the `regex` crate can run the pattern; `None` when a
/// referenced group holds groups itself.
fn expand_backrefs(rs: &str) -> Option<(String, Vec<(String, String)>)> {
    if !rs.contains("\\k<") {
        return Some((rs.to_string(), Vec::new()));
    }
    let b = rs.as_bytes();
    let mut out = String::with_capacity(rs.len() + 32);
    let mut pairs = Vec::new();
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' && i + 1 < b.len() {
            if !in_class && b[i + 1] == b'k' && b.get(i + 2) == Some(&b'<') {
                let close = rs[i + 3..].find('>')? + i + 3;
                let name = &rs[i + 3..close];
                let body = group_body(rs, name)?;
                let copy = format!("f2bref{}", pairs.len());
                out.push_str(&format!("(?P<{copy}>{body})"));
                pairs.push((name.to_string(), copy));
                i = close + 1;
                continue;
            }
            let ch_len = rs[i + 1..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&rs[i..i + 1 + ch_len]);
            i += 1 + ch_len;
            continue;
        }
        if c == b'[' {
            in_class = true;
        } else if c == b']' {
            in_class = false;
        }
        let ch_len = rs[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&rs[i..i + ch_len]);
        i += ch_len;
    }
    Some((out, pairs))
}

/// The text of named group `name` if it holds no group of its own.
fn group_body<'a>(rs: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("(?P<{name}>");
    let start = rs.find(&open)? + open.len();
    let b = rs.as_bytes();
    let mut i = start;
    let mut in_class = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'(' if !in_class => return None,
            b')' if !in_class => return Some(&rs[start..i]),
            _ => {}
        }
        i += 1;
    }
    None
}

fn compile_engine(bounded: &Bounded, name: &str, allow_fast: bool) -> Result<Engine, DateError> {
    let err = |e: String| DateError::Regex {
        template: name.to_string(),
        message: e,
    };
    let gf = if bounded.gf.is_empty() {
        String::new()
    } else {
        pyre::translate(&bounded.gf).map_err(|e| err(e.to_string()))?
    };
    let core = pyre::translate(&bounded.core).map_err(|e| err(e.to_string()))?;
    let (py_prefix, rs_prefix) = match bounded.begin {
        Begin::No => ("", ""),
        Begin::Word => (PY_WORD_BEGIN, RS_WORD_EDGE),
        Begin::Line => (PY_LINE_BEGIN, PY_LINE_BEGIN),
    };
    let (py_suffix, rs_suffix) = if bounded.end {
        (PY_WORD_END, RS_WORD_EDGE)
    } else {
        ("", "")
    };
    let slow_src = format!("{gf}{py_prefix}{core}{py_suffix}");
    let fast = if allow_fast {
        expand_backrefs(&core).and_then(|(fast_core, pairs)| {
            let re = regex::Regex::new(&format!("{gf}{rs_prefix}{fast_core}{rs_suffix}")).ok()?;
            let index = |n: &str| re.capture_names().position(|x| x == Some(n));
            let brefs = pairs
                .iter()
                .map(|(g, c)| Some((index(g)?, index(c)?)))
                .collect::<Option<Vec<_>>>()?;
            let fields = fields_of(re.capture_names().enumerate());
            Some(Fast { re, brefs, fields })
        })
    } else {
        None
    };
    let engine = Engine {
        fast,
        slow_src,
        slow: OnceLock::new(),
    };
    if engine.fast.is_none() {
        // No fast engine: the exact one must compile now, so a bad pattern is reported up front.
        if let Err(e) = fancy_regex::Regex::new(&engine.slow_src) {
            return Err(err(e.to_string()));
        }
    }
    Ok(engine)
}

/// Does the pattern ask for case-insensitive matching (`%a %A %b %B %p %c` not after a `%`)?
fn wants_ignore_case(pattern: &str) -> bool {
    let b = pattern.as_bytes();
    (0..b.len().saturating_sub(1)).any(|i| {
        b[i] == b'%'
            && matches!(b[i + 1], b'a' | b'A' | b'b' | b'B' | b'p' | b'c')
            && (i == 0 || b[i - 1] != b'%')
    })
}

/// A `%`-code template (fail2ban's DatePatternRegex).
pub(crate) fn pattern_template(pattern: &str) -> Result<Template, DateError> {
    let mut p = pattern;
    let mut begin = Begin::Word;
    let mut end = true;
    if let Some(rest) = p.strip_prefix("{UNB}") {
        p = rest;
        begin = Begin::No;
        end = false;
    }
    if begin != Begin::No {
        if let Some(rest) = p.strip_prefix("{^LN-BEG}") {
            p = rest;
            begin = Begin::Line;
        }
    }
    let mut name = String::with_capacity(p.len() + 16);
    let mut regex = String::with_capacity(p.len() * 4);
    let mut rest = p;
    while let Some(i) = rest.find('%') {
        name.push_str(&rest[..i]);
        regex.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let code = strptime::code_at(after).ok_or_else(|| DateError::Pattern {
            pattern: pattern.to_string(),
            message: "invalid format or unescaped percent char".to_string(),
        })?;
        name.push_str(code.name);
        regex.push_str(&code.regex());
        rest = &after[code.key.len()..];
    }
    name.push_str(rest);
    regex.push_str(rest);
    if wants_ignore_case(p) {
        regex.insert_str(0, "(?iu)");
    }
    let bounded = bound(&regex, begin, end, &mut name);
    let engine = compile_engine(&bounded, &name, true)?;
    Ok(Template {
        regex: bounded.python(),
        flags: bounded.flags,
        pattern: Some(pattern.to_string()),
        name,
        kind: Kind::Pattern,
        engine: Some(engine),
    })
}

const EPOCH_RE: &str = r"\d{10,11}\b(?:\.\d{3,6})?";
const LEPOCH_RE: &str = r"\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?";

/// `EPOCH` / `LEPOCH`, anywhere (`line_begin = false`) or at the line start.
pub(crate) fn epoch_template(line_begin: bool, long: bool) -> Template {
    let mut name = if long { "LongEpoch" } else { "Epoch" }.to_string();
    let ere = if long { LEPOCH_RE } else { EPOCH_RE };
    let bounded = if line_begin {
        bound(
            &format!(r"((?P<square>(?<=^\[))?{ere})(?(square)(?=\]))"),
            Begin::Line,
            true,
            &mut name,
        )
    } else {
        let r = r"((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))%s)(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))"
            .replace("%s", ere);
        bound(&r, Begin::No, true, &mut name)
    };
    Template {
        regex: bounded.python(),
        flags: bounded.flags,
        pattern: None,
        name,
        kind: Kind::Epoch { long, line_begin },
        engine: None,
    }
}

/// A pattern holding `{EPOCH}` or `{LEPOCH}`; the template is named after the pattern.
pub(crate) fn epoch_pattern_template(pattern: &str, long: bool) -> Result<Template, DateError> {
    let ere = if long { LEPOCH_RE } else { EPOCH_RE };
    let mut inner = String::new();
    let mut rest = pattern;
    while let Some((i, len)) = find_epoch_marker(rest) {
        inner.push_str(&rest[..i]);
        inner.push('(');
        inner.push_str(ere);
        inner.push(')');
        rest = &rest[i + len..];
    }
    inner.push_str(rest);
    let mut name = pattern.to_string();
    let bounded = bound(&format!("({inner})"), Begin::Word, true, &mut name);
    let engine = compile_engine(&bounded, &name, true)?;
    Ok(Template {
        regex: bounded.python(),
        flags: bounded.flags,
        pattern: None,
        name,
        kind: Kind::EpochPattern { long },
        engine: Some(engine),
    })
}

/// `{EPOCH}` or `{LEPOCH}` (any case) not preceded by a backslash: (offset, length).
pub(crate) fn find_epoch_marker(s: &str) -> Option<(usize, usize)> {
    let up = s.to_ascii_uppercase();
    let mut from = 0;
    while let Some(off) = up[from..].find('{') {
        let i = from + off;
        from = i + 1;
        if prev_is_backslash(s, i) {
            continue;
        }
        for m in ["{EPOCH}", "{LEPOCH}"] {
            if up[i..].starts_with(m) {
                return Some((i, m.len()));
            }
        }
    }
    None
}

/// `TAI64N`, anywhere at a word edge or at the line start.
pub(crate) fn tai64n_template(line_begin: bool) -> Template {
    let mut name = "TAI64N".to_string();
    let bounded = bound(
        "@[0-9a-f]{24}",
        if line_begin { Begin::Line } else { Begin::No },
        true,
        &mut name,
    );
    let engine = compile_engine(&bounded, &name, true).ok();
    Template {
        regex: bounded.python(),
        flags: bounded.flags,
        pattern: None,
        name,
        kind: Kind::Tai64n,
        engine,
    }
}

/// Removes fail2ban's boundary markers from a template name or pattern (for `{DATE}`).
pub(crate) fn unbound_pattern(s: &str) -> String {
    let s = s.strip_prefix("{UNB}").unwrap_or(s);
    let s = s.strip_prefix("{^LN-BEG}").unwrap_or(s);
    let s = s
        .strip_prefix(r"(?:^|\b|\W)")
        .or_else(|| s.strip_prefix(r"(^|\b|\W)"))
        .unwrap_or(s);
    let s = s.strip_suffix(PY_WORD_END).unwrap_or(s);
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_helpers() {
        assert!(ends_without_word_bound("abc$"));
        assert!(ends_without_word_bound("(abc$)"));
        assert!(!ends_without_word_bound(r"abc\$"));
        assert!(ends_without_word_bound(r"abc\s"));
        assert!(ends_without_word_bound("abc**))"));
        assert!(!ends_without_word_bound(r"abc\**"));
        assert!(has_plain_group("a(b)"));
        assert!(!has_plain_group("a(?P<x>b)"));
        assert!(!has_plain_group(r"a\(b"));
        assert!(!has_plain_group("(?(1)a)"));
        assert!(starts_at_line_begin("^abc"));
        assert!(starts_at_line_begin("(?i)(?:^abc)"));
        assert!(!starts_at_line_begin("(^|x)"));
        assert!(ends_at_line_end("abc$"));
        assert!(!ends_at_line_end("(?=\\b|\\W|$)"));
    }

    #[test]
    fn stars_switch_boundaries_off() {
        let t = pattern_template("**%Y-%m-%d**").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.flags, 0);
        assert_eq!(
            t.regex,
            r"((?P<Y>\d{4})-(?P<m>0?[1-9]|1[0-2])-(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1]))"
        );
        assert_eq!(t.name, "**Year-Month-Day**");
    }

    #[test]
    fn backref_copies() {
        let (s, pairs) = expand_backrefs(r"(?P<s>[-/])x\k<s>").unwrap_or_default();
        assert_eq!(s, r"(?P<s>[-/])x(?P<f2bref0>[-/])");
        assert_eq!(pairs, vec![("s".to_string(), "f2bref0".to_string())]);
        assert!(expand_backrefs(r"(?P<s>(a|b))x\k<s>").is_none());
    }
}
