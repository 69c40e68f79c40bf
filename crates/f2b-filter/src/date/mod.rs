//! Date detection as fail2ban does it: the default date templates (in fail2ban's order, with
//! their names), `datepattern` with its `%`-codes and special values (`{^LN-BEG}`, `{DEFAULT}`,
//! `{DATE}`, `{NONE}`, `EPOCH`, `LEPOCH`, `TAI64N`), `logtimezone`, the year/day guessing rules,
//! local time from `TZ`, and the template reordering by hits that decides which template wins on
//! ambiguous lines.
//!
//! Not here: what to do with a line without a date (the filter keeps the last date), reading the
//! clock (callers pass "now").

mod epoch;
mod strptime;
mod template;
mod zone;

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;

use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::tz::TimeZone;

use strptime::Clock;
use template::{Scratch, Template, LINE_BEGIN};

/// A date found in a log line.
#[derive(Debug, Clone, PartialEq)]
pub struct DateMatch {
    /// Epoch seconds. `%`-code dates are whole seconds (fail2ban drops `%f`); EPOCH keeps its
    /// fraction.
    pub time: f64,
    /// Byte span of the date text (fail2ban's group 1). Empty for `{NONE}`: there is no date
    /// text, and fail2ban then uses the last date if it is less than 60 s old, else "now" (the
    /// `time` given here is "now").
    pub span: Range<usize>,
    /// fail2ban produces this time as a Python int, printed without `.0` (a zone in the line or
    /// `logtimezone` was applied, or TAI64N).
    pub is_int: bool,
}

/// Why a date detector could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DateError {
    #[error("Failed to set datepattern '{pattern}' (may be an invalid format or unescaped percent char): {message}")]
    Pattern { pattern: String, message: String },
    #[error("Unable to compile date template {template:?}: {message}")]
    Regex { template: String, message: String },
    #[error("There is already a template with name {0}")]
    DuplicateTemplate(String),
    #[error("Unknown or unsupported time zone: '{0}'")]
    TimeZone(String),
}

/// Details of one template for fail2ban-regex's `--verbose-date` listing.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateInfo {
    pub name: String,
    pub hits: u64,
    /// Current sorting weight (hits x base weight / distance).
    pub weight: f64,
    /// Base weight: 100 for the line-anchored copies fail2ban adds to its defaults, else 1.
    pub base_weight: f64,
    /// The `%`-code pattern, empty for EPOCH/TAI64N templates.
    pub pattern: String,
    /// The regex in Python syntax.
    pub regex: String,
}

/// One template in a detector, with its usage statistics.
struct Entry {
    template: Arc<Template>,
    /// Lines this template won.
    hits: u64,
    /// Times its regex matched at all, winner or not.
    matched: u64,
    /// Real time of the last win (seconds).
    last_used: f64,
    /// Character offset of its last winning match.
    distance: u64,
    scratch: Scratch,
}

impl Entry {
    fn new(template: Arc<Template>) -> Entry {
        let scratch = template.scratch();
        Entry {
            template,
            hits: 0,
            matched: 0,
            last_used: 0.0,
            distance: 0x7fff_ffff,
            scratch,
        }
    }

    fn weight(&self) -> f64 {
        self.hits as f64 * base_weight(&self.template) / (self.distance.max(1) as f64)
    }
}

/// Boundary of the last winning match: its character offset, and the characters around it.
#[derive(Debug, Clone, Copy)]
struct Edge {
    pos: u64,
    before: Option<char>,
    at: Option<char>,
}

/// Finds dates in log lines with a list of templates, as fail2ban's DateDetector does.
pub struct DateDetector {
    entries: Vec<Entry>,
    /// No templates were given: fail2ban's defaults are added on first use.
    lazy_defaults: bool,
    datepattern: Option<String>,
    none: bool,
    default_offset: Option<i32>,
    local: TimeZone,
    last_idx: usize,
    first_unused: usize,
    last_pos: Edge,
    last_end: Edge,
    now_memo: std::cell::Cell<Option<(f64, jiff::civil::DateTime)>>,
    invalid: Option<Range<usize>>,
}

impl std::fmt::Debug for DateDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DateDetector")
            .field("datepattern", &self.datepattern)
            .field("templates", &self.entries.len())
            .finish()
    }
}

const UNUSED_TIME: f64 = 300.0;

impl DateDetector {
    /// datepattern: the filter/jail `datepattern` value (None = default templates); logtimezone as
    /// in the jail. Local time follows the process time zone (`TZ`, else /etc/localtime).
    pub fn new(
        datepattern: Option<&str>,
        logtimezone: Option<&str>,
    ) -> Result<DateDetector, DateError> {
        Self::with_local_zone(datepattern, logtimezone, TimeZone::system())
    }

    /// Like [`DateDetector::new`] with an explicit local time zone (tests, or a server that pins it).
    pub fn with_local_zone(
        datepattern: Option<&str>,
        logtimezone: Option<&str>,
        local: TimeZone,
    ) -> Result<DateDetector, DateError> {
        let default_offset = match logtimezone {
            None => None,
            Some(tz) => Some(
                zone::zone_offset_minutes(tz).map_err(|_| DateError::TimeZone(tz.to_string()))?,
            ),
        };
        let start = Edge {
            pos: 1,
            before: None,
            at: None,
        };
        let end = Edge {
            pos: 0x7fff_ffff,
            before: None,
            at: None,
        };
        let mut dd = DateDetector {
            entries: Vec::new(),
            lazy_defaults: false,
            datepattern: datepattern.map(str::to_string),
            none: false,
            default_offset,
            local,
            last_idx: usize::MAX,
            first_unused: 0,
            last_pos: start,
            last_end: end,
            now_memo: std::cell::Cell::new(None),
            invalid: None,
        };
        let lines: Vec<&str> = datepattern
            .map(|p| {
                p.split('\n')
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for line in &lines {
            dd.append_pattern(line)?;
        }
        dd.none = !dd.entries.is_empty()
            && dd
                .entries
                .iter()
                .all(|e| Arc::ptr_eq(&e.template, none_template()));
        dd.lazy_defaults = dd.entries.is_empty();
        Ok(dd)
    }

    fn push(&mut self, template: Arc<Template>, ignore_dup: bool) -> Result<(), DateError> {
        if self
            .entries
            .iter()
            .any(|e| e.template.name == template.name)
        {
            if ignore_dup {
                return Ok(());
            }
            return Err(DateError::DuplicateTemplate(template.name.clone()));
        }
        self.entries.push(Entry::new(template));
        Ok(())
    }

    fn append_pattern(&mut self, pattern: &str) -> Result<(), DateError> {
        let key = if pattern.contains('%') {
            pattern.to_string()
        } else {
            pattern.to_uppercase()
        };
        match key.as_str() {
            "{^LN-BEG}" | "{DEFAULT}" => {
                let only_line_begin = key == "{^LN-BEG}";
                let ignore_dup = !self.entries.is_empty();
                for t in defaults()? {
                    if !only_line_begin || t.flags & LINE_BEGIN != 0 {
                        self.push(t.clone(), ignore_dup)?;
                    }
                }
                Ok(())
            }
            k if k.contains("{DATE}") => {
                let ignore_dup = !self.entries.is_empty();
                for t in base_defaults()? {
                    let source = t.pattern.as_deref().unwrap_or(&t.name);
                    let wrapped = replace_date_marker(pattern, &template::unbound_pattern(source));
                    self.push(cached_template(&wrapped)?, ignore_dup)?;
                }
                Ok(())
            }
            "{NONE}" => self.push(none_template().clone(), false),
            _ => self.push(cached_template(pattern)?, false),
        }
    }

    /// Find the date in a line. `now` = epoch seconds (tests pin it via F2B_NOW = 1124013600 in
    /// TZ=CET-01CEST-02,M3.5.0,M10.5.0).
    ///
    /// `None` when no template matches, or when the matched text is no valid date (fail2ban then
    /// treats the line as one without a date).
    pub fn find(&mut self, line: &str, now: f64) -> Option<DateMatch> {
        self.invalid = None;
        let (_, span, computed) = self.find_inner(line, now)?;
        if span.is_empty() {
            return Some(DateMatch {
                time: now,
                span,
                is_int: false,
            });
        }
        match computed {
            Some(c) => Some(DateMatch {
                time: c.time,
                span,
                is_int: c.is_int,
            }),
            None => {
                self.invalid = Some(span);
                None
            }
        }
    }

    /// After [`DateDetector::find`] returned `None`: the span of a text a template matched that
    /// is no valid date (`0000-12-30 00:00:00`, `Feb 30 ...`), else `None`. fail2ban still cuts
    /// that text out of the line (unless it reuses a recent last date, which takes the whole
    /// line), but the line has no date of its own.
    pub fn invalid_span(&self) -> Option<Range<usize>> {
        self.invalid.clone()
    }

    /// The winning template's index, the date span and its time (`None`: not a valid date).
    fn find_inner(
        &mut self,
        line: &str,
        now: f64,
    ) -> Option<(usize, Range<usize>, Option<strptime::Computed>)> {
        if self.lazy_defaults {
            self.lazy_defaults = false;
            if let Ok(list) = defaults() {
                for t in list {
                    self.entries.push(Entry::new(t.clone()));
                }
            }
        }
        let (idx, hit) = self.match_time(line)?;
        let span = hit.g1.map_or(0..0, |(a, b)| a..b);
        if span.is_empty() {
            return Some((idx, span, None));
        }
        let clock = Clock {
            now,
            local: &self.local,
            default_offset: self.default_offset,
            now_memo: &self.now_memo,
        };
        let e = &mut self.entries[idx];
        let c = e.template.time(line, &hit, &mut e.scratch, &clock);
        Some((idx, span, c))
    }

    /// fail2ban's template search: the last winner first (only inside the same boundaries), then
    /// the list in order, preferring the match nearest the line start; the winner may move up.
    fn match_time(&mut self, line: &str) -> Option<(usize, template::Hit)> {
        let n = self.entries.len();
        let mut found: Option<(template::Hit, u64, u64, usize)> = None;
        let mut ignore = usize::MAX;
        let mut winner: Option<(template::Hit, u64, u64, usize)> = None;
        let i = self.last_idx;
        if i < n {
            let e = &mut self.entries[i];
            let hit = if e.template.is_anchored() {
                ignore = i;
                e.template.search(line, 0, line.len(), &mut e.scratch)
            } else {
                let (dist, endp) = (self.last_pos.pos, self.last_end.pos);
                let db = char_to_byte(line, dist);
                let eb = char_to_byte(line, endp);
                let before_d = db.and_then(|b| char_before(line, b));
                let at_d = db.and_then(|b| char_at(line, b));
                let at_e = eb.and_then(|b| char_at(line, b));
                let before_e = eb.and_then(|b| char_before(line, b));
                // Python slices: an offset out of the line reads as an empty string (`None`).
                let left = before_d == self.last_pos.before
                    || (at_d == self.last_pos.at && !self.last_pos.at.is_some_and(is_py_alnum));
                let right = at_e == self.last_end.at
                    || (before_e == self.last_end.before
                        && !self.last_end.before.is_some_and(is_py_alnum));
                match (left && right, db) {
                    (true, Some(db)) => {
                        e.template
                            .search(line, db, eb.unwrap_or(line.len()), &mut e.scratch)
                    }
                    (true, None) => None,
                    (false, _) => {
                        ignore = i;
                        e.template.search(line, 0, line.len(), &mut e.scratch)
                    }
                }
            };
            if let Some(h) = hit {
                e.matched += 1;
                let (d, en) = (char_offset(line, h.start), char_offset(line, h.end));
                if n == 1
                    || e.template.is_anchored()
                    || (d == self.last_pos.pos && en == self.last_end.pos)
                {
                    winner = Some((h, d, en, i));
                } else {
                    found = Some((h, d, en, i));
                }
            }
        }
        if winner.is_none() {
            let mut k = 0;
            while k < n {
                if k == ignore {
                    k += 1;
                    continue;
                }
                let e = &mut self.entries[k];
                if let Some(h) = e.template.search(line, 0, line.len(), &mut e.scratch) {
                    e.matched += 1;
                    let (d, en) = (char_offset(line, h.start), char_offset(line, h.end));
                    let anchored = e.template.is_anchored();
                    let (hits, dist_k) = (e.hits, e.distance);
                    if k + 1 >= n || anchored {
                        winner = Some((h, d, en, k));
                        break;
                    }
                    if d == 0 && hits > 0 && self.entries[k + 1].matched == 0 {
                        winner = Some((h, d, en, k));
                        break;
                    }
                    if d > dist_k || d > self.last_pos.pos {
                        if found.as_ref().map_or(true, |f| d < f.1) {
                            found = Some((h, d, en, k));
                        }
                        k += 1;
                        continue;
                    }
                    winner = Some((h, d, en, k));
                    break;
                }
                k += 1;
            }
            if winner.is_none() {
                winner = found;
            }
        }
        let (hit, d, en, mut i) = winner?;
        // A winning match was found: record it (its slot keeps the captures until `time`).
        let e = &mut self.entries[i];
        e.hits += 1;
        e.last_used = real_time();
        e.distance = d;
        if self.first_unused == i {
            self.first_unused += 1;
        }
        self.last_pos = Edge {
            pos: d,
            before: char_before(line, hit.start),
            at: char_at(line, hit.start),
        };
        self.last_end = Edge {
            pos: en,
            before: char_before(line, hit.end),
            at: char_at(line, hit.end),
        };
        if i != 0 && i != self.last_idx {
            i = self.reorder(i);
        }
        self.last_idx = i;
        Some((i, hit))
    }

    /// Moves a winning template up the list when its weight (or the staleness of the one in the
    /// way) allows, as fail2ban does; returns its new index.
    fn reorder(&mut self, num: usize) -> usize {
        let (weight, untime) = {
            let e = &self.entries[num];
            (e.weight(), e.last_used - UNUSED_TIME)
        };
        let movable = |entries: &[Entry], pos: usize| {
            weight > entries[pos].weight() || untime > entries[pos].last_used
        };
        let mut pos = if self.first_unused < num {
            self.first_unused
        } else {
            num / 2
        };
        if !movable(&self.entries, pos) {
            if pos == num - 1 {
                return num;
            }
            pos = num - 1;
            if !movable(&self.entries, pos) {
                return num;
            }
        }
        let e = self.entries.remove(num);
        self.entries.insert(pos, e);
        while self.first_unused < self.entries.len() && self.entries[self.first_unused].hits > 0 {
            self.first_unused += 1;
        }
        pos
    }

    /// datepattern `{NONE}`: no date is searched, every line is "now" (or the last date).
    pub fn is_none(&self) -> bool {
        self.none
    }

    /// (template name, hits) in report order (the current order of the list). Empty while the
    /// default list has not been used yet, as in fail2ban.
    pub fn template_stats(&self) -> Vec<(String, u64)> {
        self.entries
            .iter()
            .map(|e| (e.template.name.clone(), e.hits))
            .collect()
    }

    /// Every template with the details fail2ban-regex's `--VD` prints, in report order.
    pub fn template_info(&self) -> Vec<TemplateInfo> {
        self.entries
            .iter()
            .map(|e| TemplateInfo {
                name: e.template.name.clone(),
                hits: e.hits,
                weight: e.weight(),
                base_weight: base_weight(&e.template),
                pattern: e.template.pattern.clone().unwrap_or_default(),
                regex: e.template.regex.clone(),
            })
            .collect()
    }

    /// The datepattern as fail2ban-regex's header shows it: `PATTERN : NAME`, NAME being
    /// "Default Detectors" for the default list (or any list of more than two templates).
    pub fn describe(&self) -> String {
        let name = if self.entries.is_empty() || self.entries.len() > 2 {
            "Default Detectors"
        } else {
            &self.entries[0].template.name
        };
        match &self.datepattern {
            Some(p) => format!("{p} : {name}"),
            None => name.to_string(),
        }
    }
}

/// The wall clock for `last_used`, read once per winning line: the coarse clock (a few ms of
/// resolution, against fail2ban's 300 s "unused" rule) costs a memory read where the precise
/// one may cost a system call on some virtual machines.
fn real_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
        return ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Python's `\w`: letters, digits and underscore (Unicode).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_py_alnum(c: char) -> bool {
    c.is_alphanumeric()
}

fn char_before(s: &str, b: usize) -> Option<char> {
    s.get(..b)?.chars().next_back()
}

fn char_at(s: &str, b: usize) -> Option<char> {
    s.get(b..)?.chars().next()
}

/// Character offset of byte offset `b` (fail2ban measures distances in characters).
fn char_offset(s: &str, b: usize) -> u64 {
    let p = &s.as_bytes()[..b.min(s.len())];
    if p.is_ascii() {
        p.len() as u64
    } else {
        s[..b].chars().count() as u64
    }
}

/// Byte offset of character offset `c`, `None` when the line is shorter.
fn char_to_byte(s: &str, c: u64) -> Option<usize> {
    let c = usize::try_from(c).ok()?;
    if s.is_ascii() {
        return (c <= s.len()).then_some(c);
    }
    if c == s.chars().count() {
        return Some(s.len());
    }
    s.char_indices().nth(c).map(|(b, _)| b)
}

/// Replaces each `{DATE}` (any case, not after a backslash) by `with`.
fn replace_date_marker(pattern: &str, with: &str) -> String {
    let up = pattern.to_ascii_uppercase();
    let mut out = String::with_capacity(pattern.len() + with.len());
    let mut last = 0;
    let mut from = 0;
    while let Some(off) = up[from..].find("{DATE}") {
        let i = from + off;
        from = i + 6;
        if i > 0 && pattern.as_bytes()[i - 1] == b'\\' {
            continue;
        }
        out.push_str(&pattern[last..i]);
        out.push_str(with);
        last = i + 6;
    }
    out.push_str(&pattern[last..]);
    out
}

// ---------------------------------------------------------------------------------------------
// Templates are immutable once built and shared by every detector of the process.

type TemplateCache = Mutex<Vec<(String, Arc<Template>)>>;

fn cache() -> &'static TemplateCache {
    static C: OnceLock<TemplateCache> = OnceLock::new();
    C.get_or_init(|| Mutex::new(Vec::new()))
}

/// The template for one datepattern line (fail2ban's rules for EPOCH/LEPOCH/TAI64N spellings).
fn cached_template(pattern: &str) -> Result<Arc<Template>, DateError> {
    let key = if pattern.contains('%') {
        pattern.to_string()
    } else {
        pattern.to_uppercase()
    };
    if let Ok(c) = cache().lock() {
        if let Some((_, t)) = c.iter().find(|(k, _)| *k == key) {
            return Ok(t.clone());
        }
    }
    let t = Arc::new(build_template(pattern, &key)?);
    if let Ok(mut c) = cache().lock() {
        c.push((key, t.clone()));
    }
    Ok(t)
}

fn build_template(pattern: &str, key: &str) -> Result<Template, DateError> {
    if key.contains("EPOCH") {
        if template::find_epoch_marker(pattern).is_some() {
            return template::epoch_pattern_template(pattern, key.contains("LEPOCH"));
        }
        match key {
            "EPOCH" | "{^LN-BEG}EPOCH" | "^EPOCH" => {
                return Ok(template::epoch_template(key != "EPOCH", false))
            }
            "LEPOCH" | "{^LN-BEG}LEPOCH" | "^LEPOCH" => {
                return Ok(template::epoch_template(key != "LEPOCH", true))
            }
            _ => {}
        }
    }
    match key {
        "TAI64N" | "{^LN-BEG}TAI64N" | "^TAI64N" => Ok(template::tai64n_template(key != "TAI64N")),
        _ => template::pattern_template(pattern),
    }
}

fn none_template() -> &'static Arc<Template> {
    static T: OnceLock<Arc<Template>> = OnceLock::new();
    T.get_or_init(|| {
        Arc::new(template::pattern_template("{UNB}^").expect("the {NONE} template builds"))
    })
}

/// fail2ban's default datepatterns, in its order.
const DEFAULT_PATTERNS: [&str; 17] = [
    r"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?",
    r"%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S",
    r"%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
    r"%m/%d/%ExY:%H:%M:%S",
    r"%m-%d-%ExY %k:%M:%S(?:\.%f)?",
    r"EPOCH",
    r"{^LN-BEG}%H:%M:%S",
    r"^<%m/%d/%Exy@%H:%M:%S>",
    r"%Exy%Exm%Exd  ?%H:%M:%S",
    r"%b %d, %ExY %I:%M:%S %p",
    r"^%b-%d-%Exy %k:%M:%S",
    r"%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"TAI64N",
];

fn base_defaults() -> Result<&'static Vec<Arc<Template>>, DateError> {
    static T: OnceLock<Result<Vec<Arc<Template>>, String>> = OnceLock::new();
    T.get_or_init(|| {
        DEFAULT_PATTERNS
            .iter()
            .map(|p| cached_template(p).map_err(|e| e.to_string()))
            .collect()
    })
    .as_ref()
    .map_err(|e| DateError::Regex {
        template: "defaults".to_string(),
        message: e.clone(),
    })
}

/// The full default list: a line-anchored copy of each default that is not anchored already,
/// then all defaults; and how many of the first are such copies.
fn defaults() -> Result<&'static Vec<Arc<Template>>, DateError> {
    DEFAULTS
        .get_or_init(|| {
            let base = base_defaults().map_err(|e| e.to_string())?;
            let mut list = Vec::new();
            for t in base {
                if t.name.starts_with("{^LN-BEG}") || t.name.starts_with('^') {
                    continue;
                }
                let source = t.pattern.as_deref().unwrap_or(&t.name);
                let a =
                    cached_template(&format!("{{^LN-BEG}}{source}")).map_err(|e| e.to_string())?;
                if a.name != t.name {
                    list.push(a);
                }
            }
            let anchored = list.len();
            list.extend(base.iter().cloned());
            Ok((list, anchored))
        })
        .as_ref()
        .map(|(list, _)| list)
        .map_err(|e| DateError::Regex {
            template: "defaults".to_string(),
            message: e.clone(),
        })
}

type DefaultList = Result<(Vec<Arc<Template>>, usize), String>;
static DEFAULTS: OnceLock<DefaultList> = OnceLock::new();

/// A template's base weight: 100 for the line-anchored copies of the defaults (once the default
/// list exists in this process, as in fail2ban, where the weight is set on the shared template
/// object, also when a datepattern names the same template), otherwise 1.
fn base_weight(t: &Arc<Template>) -> f64 {
    match DEFAULTS.get() {
        Some(Ok((list, anchored))) if list[..*anchored].iter().any(|a| Arc::ptr_eq(a, t)) => 100.0,
        _ => 1.0,
    }
}
