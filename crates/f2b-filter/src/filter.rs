//! The filter: date cut-out, prefregex, failregex/ignoreregex, multi-line buffer, mlfid merging,
//! failure-id normalisation. One `Filter` per jail (or per fail2ban-regex run); it keeps the state
//! fail2ban keeps between lines (last date, line buffer, mlfid cache).

use crate::date::{DateDetector, DateError};
use crate::faildata::{FailData, Value};
use crate::failregex::{Regex, RegexError};
use crate::ipdns::{self, Cidr, IpAddr, NoResolver, Resolver};
use crate::mlfid::{MlfidCache, Pending};
use crate::tags::UseDns;
use std::collections::BTreeMap;

/// Everything a filter is built from.
#[derive(Debug, Clone)]
pub struct FilterOptions {
    pub prefregex: Option<String>,
    pub failregex: Vec<String>,
    pub ignoreregex: Vec<String>,
    /// Multi-line buffer size (fail2ban's `maxlines`), at least 1.
    pub maxlines: usize,
    pub datepattern: Option<String>,
    pub logtimezone: Option<String>,
    pub usedns: UseDns,
    /// fail2ban-regex `-r`: ids are not resolved, host names stay as they are.
    pub raw_hosts: bool,
    /// Evaluate every failregex on each line (fail2ban-regex report mode) instead of stopping at
    /// the first hit.
    pub check_all_regex: bool,
    /// Drop failures that have no id yet (mlfid pending) instead of reporting them.
    pub ignore_pending: bool,
    /// Server mode: a date more than 60 s away from now is replaced by now (fail2ban's
    /// "in operation" rule).
    pub in_operation: bool,
    /// Skip lines that lack a literal every regex needs before running the date detector on
    /// them (the date of a skipped line is only read when a later line needs it). Results are
    /// the same; only the date detector's per-template hit counts then cover fewer lines, so
    /// fail2ban-regex's report turns this off.
    pub prefilter_lines: bool,
}

impl Default for FilterOptions {
    fn default() -> Self {
        FilterOptions {
            prefregex: None,
            failregex: Vec::new(),
            ignoreregex: Vec::new(),
            maxlines: 1,
            datepattern: None,
            logtimezone: None,
            usedns: UseDns::Warn,
            raw_hosts: false,
            check_all_regex: false,
            ignore_pending: true,
            in_operation: false,
            prefilter_lines: true,
        }
    }
}

/// How many skipped lines are kept to find the last date when a later line needs it.
const SKIPPED_RING: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("{0}")]
    Regex(#[from] RegexError),
    #[error("{0}")]
    Date(#[from] DateError),
    #[error("maxlines must be integer greater than zero")]
    MaxLines,
}

/// One failure found on a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Index of the failregex that produced it.
    pub regex_index: usize,
    /// The failure id as text: normalised IP, raw host, or any `<F-ID>` value. Empty when the
    /// failure is still pending (no id yet; only reported when `ignore_pending` is off).
    pub fid: String,
    /// The parsed id (None when pending).
    pub ip: Option<IpAddr>,
    pub time: f64,
    /// fail2ban holds this time as an integer (zone-converted dates): printed without `.0`.
    pub time_is_int: bool,
    /// The log lines that make up this failure, each with its date text.
    pub matches: Vec<String>,
    /// Captured `F-*` groups and the other values fail2ban keeps (user, ip4, ip6, dns, mlfid,
    /// `ip` for complex ids...), None-valued ones left out.
    pub groups: BTreeMap<String, String>,
    /// Users seen on the connection (`users` set, insertion order).
    pub users: Vec<String>,
    /// A no-failure hit (`<F-NOFAIL>`): counted in reports, never banned.
    pub nofail: bool,
    /// The full ordered data (Python dict order), for `-o row`.
    pub data: FailData,
}

/// What one line did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineOutcome {
    pub failures: Vec<Failure>,
    /// Indices of the ignoreregexes that matched.
    pub ignored_by: Vec<usize>,
    pub pref_matched: bool,
    /// Multi-line mode: earlier buffered lines that became part of a match on this line.
    pub consumed_previous: Vec<String>,
    /// The prefregex groups (content included), when asked for with
    /// [`Filter::set_keep_pref_groups`] (fail2ban-regex `-v`).
    pub pref_groups: Option<FailData>,
}

impl LineOutcome {
    /// fail2ban-regex counts a line "ignored" when an ignoreregex or a no-failure hit took it.
    pub fn is_ignored(&self) -> bool {
        !self.ignored_by.is_empty() || self.failures.iter().any(|f| f.nofail)
    }
    pub fn is_matched(&self) -> bool {
        self.failures.iter().any(|f| !f.nofail)
    }
    /// Failures to act upon (no-failure hits and pending ones left out).
    pub fn actionable(&self) -> impl Iterator<Item = &Failure> {
        self.failures.iter().filter(|f| !f.nofail && f.ip.is_some())
    }
}

/// A line split around its date: the regexes see `text` (pre + post), matches show `full`.
#[derive(Debug, Clone, PartialEq)]
struct TLine {
    full: String,
    text: String,
}

fn tuple_buf(lines: &[TLine]) -> String {
    let mut s = String::with_capacity(lines.iter().map(|l| l.text.len() + 1).sum());
    for l in lines {
        s.push_str(&l.text);
        s.push('\n');
    }
    s
}

/// Where a failregex hit sits in the buffer: indices of the lines it used and of the others.
struct MatchLines {
    matched: Vec<usize>,
    unmatched: Vec<usize>,
}

impl MatchLines {
    fn lines(idx: &[usize], org: &[TLine]) -> Vec<TLine> {
        idx.iter().filter_map(|&i| org.get(i).cloned()).collect()
    }
}

fn split_lines(re: &Regex, buf: &str, org: &[TLine]) -> MatchLines {
    if org.len() <= 1 {
        return MatchLines {
            matched: (0..org.len()).collect(),
            unmatched: Vec::new(),
        };
    }
    let (s, e) = re.span().unwrap_or((0, 0));
    let b = buf.as_bytes();
    let upto = (s + 1).min(b.len());
    let line_start = memchr::memrchr(b'\n', &b[..upto]).map_or(0, |p| p + 1);
    let from = e.saturating_sub(1).min(b.len());
    let line_end = memchr::memchr(b'\n', &b[from..]).map_or(b.len(), |p| from + p + 1);
    let lc1 = memchr::memchr_iter(b'\n', &b[..line_start])
        .count()
        .min(org.len());
    let lc2 = memchr::memchr_iter(b'\n', &b[..line_end])
        .count()
        .min(org.len())
        .max(lc1);
    let mut matched: Vec<usize> = (lc1..lc2).collect();
    let mut unmatched: Vec<usize> = (0..lc1).collect();
    // lines swallowed by <SKIPLINES> are not part of the failure
    let mut skipped = String::new();
    let mut n = 0;
    while let Some(sp) = re
        .group_span(&format!("skiplines{n}"))
        .map(Some)
        .or_else(|| {
            if re.has_group(&format!("skiplines{n}")) {
                Some(None)
            } else {
                None
            }
        })
    {
        if let Some((a, z)) = sp {
            skipped.push_str(&buf[a..z]);
        }
        n += 1;
    }
    let mut pos = 0;
    for sk in skipped.lines() {
        if let Some(m) = matched[pos.min(matched.len())..]
            .iter()
            .position(|&l| org[l].text == sk)
        {
            unmatched.push(matched.remove(pos + m));
            pos += m;
        }
    }
    unmatched.extend(lc2..org.len());
    MatchLines { matched, unmatched }
}

/// One failure candidate while fail2ban's per-regex logic runs.
struct Fail {
    data: FailData,
    matches: Option<Vec<String>>,
    nofail_matches: Option<Vec<String>>,
}

impl From<Pending> for Fail {
    fn from(p: Pending) -> Fail {
        Fail {
            data: p.data,
            matches: p.matches,
            nofail_matches: p.nofail_matches,
        }
    }
}

impl Fail {
    fn to_pending(&self) -> Pending {
        Pending {
            data: self.data.clone(),
            matches: self.matches.clone(),
            nofail_matches: self.nofail_matches.clone(),
        }
    }
}

/// The filter engine.
pub struct Filter {
    prefregex: Option<Regex>,
    failregex: Vec<Regex>,
    ignoreregex: Vec<Regex>,
    maxlines: usize,
    usedns: UseDns,
    raw_hosts: bool,
    check_all: bool,
    ignore_pending: bool,
    in_operation: bool,
    date: Option<DateDetector>,
    last_time_text: String,
    last_date: Option<f64>,
    last_date_int: bool,
    /// Whether the date of the line being processed is an integer time.
    cur_date_int: bool,
    line_buffer: Vec<TLine>,
    mlfid: MlfidCache,
    resolver: Box<dyn Resolver + Send>,
    scratch: String,
    /// Every failregex has a relaxed variant and the prefregex content ends the line: a line
    /// none of the relaxed variants match is a miss (see [`Regex::may_match_suffix`]).
    relaxed_ok: bool,
    keep_pref_groups: bool,
    /// The quick check already searched the prefregex on this line's text (captures kept).
    pref_presearched: bool,
    /// The quick check already found this failregex matching this line's text (captures kept).
    fail_presearched: Option<usize>,
    /// Per failregex, whether it may match the line being processed (false: its relaxed variant
    /// matches no suffix of the line, so it cannot match the content nor the line); only valid
    /// when `cand_valid` (set by the quick check in single-line mode).
    cand: Vec<bool>,
    cand_valid: bool,
    /// Whether lines can be ruled out by required literals (see [`FilterOptions::prefilter_lines`]).
    prefilter: bool,
    /// The last lines skipped by the prefilter (newest at `ring_next - 1`), dates not read yet.
    ring: Vec<String>,
    ring_next: usize,
    ring_count: usize,
    /// The prefregex with its final `(?P<content>.+)$` replaced by `.` (Python text), when it
    /// ends so; see [`Filter::pref_is_match`].
    pref_probe_src: Option<String>,
    /// Its engine, built on first use (None: it did not build; the prefregex itself is used).
    pref_probe: std::cell::OnceCell<Option<regex::Regex>>,
    /// The probe may change what `.` matches (a DOTALL flag): its captures are not used.
    probe_dotall: bool,
    pref_probe_locs: Option<regex::CaptureLocations>,
    probe_slots: Vec<Option<(usize, usize)>>,
    /// Warnings met while compiling (mid-pattern global flags...).
    pub warnings: Vec<String>,
}

/// Whether a Python pattern has a flag group that mentions `s` (DOTALL), or may have.
fn may_set_dotall(py: &str) -> bool {
    let b = py.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'(' && b[i + 1] == b'?' {
            let mut j = i + 2;
            while j < b.len() && (b[j].is_ascii_alphabetic() || b[j] == b'-') {
                if b[j] == b's' {
                    return true;
                }
                j += 1;
            }
        }
        i += 1;
    }
    false
}

/// How a prefregex whose content runs to the end of the line ends (in Python syntax).
const CONTENT_TO_END: &str = "(?P<content>.+)$";

/// `P(?P<content>.+)$` -> `P.`: on a text whose only newline is its last character, `.+$`
/// matches from a position exactly when one character other than that newline follows (or,
/// with DOTALL, any character), which is what `.` asks; so both match the same texts, and the
/// probe's search stops right after the prefix instead of running through the line.
fn content_probe(pref: &str) -> Option<String> {
    let p = pref.strip_suffix(CONTENT_TO_END)?;
    let backslashes = p.len() - p.trim_end_matches('\\').len();
    (backslashes % 2 == 0).then(|| format!("{p}."))
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("failregex", &self.failregex)
            .field("maxlines", &self.maxlines)
            .finish()
    }
}

fn failure_id_present(re: &Regex) -> bool {
    ["fid", "ip4", "ip6", "dns", "mlfid"]
        .iter()
        .any(|g| re.has_group(g))
}

impl Filter {
    /// Searches abandoned at the regex engine's backtracking limit so far, over all of this
    /// filter's regexes: each left one line unmatched. The daemon logs when it grows.
    pub fn regex_limit_hits(&self) -> u64 {
        self.prefregex
            .iter()
            .chain(&self.failregex)
            .chain(&self.ignoreregex)
            .map(Regex::limit_hits)
            .sum()
    }

    pub fn new(opts: FilterOptions) -> Result<Filter, FilterError> {
        if opts.maxlines == 0 {
            return Err(FilterError::MaxLines);
        }
        let multiline = opts.maxlines > 1;
        let mut warnings = Vec::new();
        let prefregex = match opts.prefregex.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Some(Regex::new(p, multiline, opts.usedns)?),
            None => None,
        };
        let mut failregex = Vec::new();
        for r in &opts.failregex {
            let re = Regex::new(r, multiline, opts.usedns)?;
            if !failure_id_present(&re) && !prefregex.as_ref().is_some_and(failure_id_present) {
                return Err(RegexError::NoFailureId(re.expanded.clone()).into());
            }
            warnings.extend(re.warnings.iter().cloned());
            failregex.push(re);
        }
        let mut ignoreregex = Vec::new();
        for r in &opts.ignoreregex {
            let re = Regex::new(r, multiline, opts.usedns)?;
            warnings.extend(re.warnings.iter().cloned());
            ignoreregex.push(re);
        }
        if let Some(p) = &prefregex {
            warnings.extend(p.warnings.iter().cloned());
        }
        let date = Some(DateDetector::new(
            opts.datepattern.as_deref(),
            opts.logtimezone.as_deref(),
        )?);
        let selective = !failregex.is_empty()
            && (prefregex
                .as_ref()
                .is_some_and(|p| p.prefilter.is_selective())
                || failregex.iter().all(|r| r.prefilter.is_selective()));
        let prefilter = opts.prefilter_lines && opts.maxlines == 1 && selective;
        // the prefregex's content always runs to the end of the line
        let content_ends_line = prefregex
            .as_ref()
            .is_some_and(|p| p.expanded.ends_with(CONTENT_TO_END));
        let pref_probe_src = match &prefregex {
            Some(p) if opts.maxlines == 1 => content_probe(&p.expanded),
            _ => None,
        };
        // (a RegexSet of all of them scans once but is far slower on sshd's 22 patterns)
        let relaxed_ok =
            content_ends_line && failregex.iter().all(|r| r.relaxed_pattern().is_some());
        Ok(Filter {
            keep_pref_groups: false,
            pref_presearched: false,
            fail_presearched: None,
            relaxed_ok,
            cand: Vec::new(),
            cand_valid: false,
            prefilter,
            ring: Vec::new(),
            ring_next: 0,
            ring_count: 0,
            prefregex,
            failregex,
            ignoreregex,
            maxlines: opts.maxlines,
            usedns: opts.usedns,
            raw_hosts: opts.raw_hosts,
            check_all: opts.check_all_regex,
            ignore_pending: opts.ignore_pending,
            in_operation: opts.in_operation,
            date,
            last_time_text: String::new(),
            last_date: None,
            last_date_int: false,
            cur_date_int: false,
            line_buffer: Vec::new(),
            mlfid: MlfidCache::default(),
            resolver: Box::new(NoResolver),
            scratch: String::new(),
            probe_dotall: pref_probe_src.as_deref().is_some_and(may_set_dotall),
            pref_probe_src,
            pref_probe: std::cell::OnceCell::new(),
            pref_probe_locs: None,
            probe_slots: Vec::new(),
            warnings,
        })
    }

    /// Report the prefregex groups of each line in [`LineOutcome::pref_groups`].
    pub fn set_keep_pref_groups(&mut self, keep: bool) {
        self.keep_pref_groups = keep;
    }

    /// Sets the DNS resolver used for host names when `usedns` is yes or warn.
    pub fn set_resolver(&mut self, r: Box<dyn Resolver + Send>) {
        self.resolver = r;
    }

    pub fn maxlines(&self) -> usize {
        self.maxlines
    }

    pub fn failregex_sources(&self) -> Vec<&str> {
        self.failregex.iter().map(|r| r.source.as_str()).collect()
    }

    pub fn ignoreregex_sources(&self) -> Vec<&str> {
        self.ignoreregex.iter().map(|r| r.source.as_str()).collect()
    }

    pub fn prefregex_source(&self) -> Option<&str> {
        self.prefregex.as_ref().map(|r| r.source.as_str())
    }

    /// The prefregex after tag expansion (as fail2ban-regex shows it).
    pub fn prefregex_expanded(&self) -> Option<&str> {
        self.prefregex.as_ref().map(|r| r.expanded.as_str())
    }

    pub fn date_detector(&self) -> Option<&DateDetector> {
        self.date.as_ref()
    }

    /// False when `line` certainly cannot match (a required literal is missing).
    fn may_match(&self, line: &str) -> bool {
        let b = line.as_bytes();
        if let Some(p) = &self.prefregex {
            if !p.prefilter.may_match(b) {
                return false;
            }
        }
        self.failregex.iter().any(|r| r.prefilter.may_match(b))
    }

    fn remember_skipped(&mut self, line: &str) {
        if self.ring.len() < SKIPPED_RING {
            self.ring.push(String::new());
        }
        let i = self.ring_next % SKIPPED_RING;
        if let Some(slot) = self.ring.get_mut(i) {
            slot.clear();
            slot.push_str(line);
        }
        self.ring_next = (i + 1) % SKIPPED_RING;
        self.ring_count = (self.ring_count + 1).min(SKIPPED_RING);
    }

    /// Reads the dates of skipped lines, newest first, until one has a date: that is the last
    /// date fail2ban would have seen.
    fn catch_up_dates(&mut self, now: f64) {
        let n = self.ring_count;
        self.ring_count = 0;
        let Some(dd) = self.date.as_mut() else { return };
        for k in 1..=n {
            let i = (self.ring_next + SKIPPED_RING - k) % SKIPPED_RING;
            let Some(line) = self.ring.get(i) else { break };
            if let Some(m) = dd.find(line, now) {
                let span = m.span;
                if span.start < span.end
                    && span.end <= line.len()
                    && line.is_char_boundary(span.start)
                    && line.is_char_boundary(span.end)
                {
                    self.last_time_text.clear();
                    self.last_time_text.push_str(&line[span]);
                    let weird = self.in_operation && (m.time - now).abs() > 60.0;
                    self.last_date = Some(if weird { now } else { m.time });
                    self.last_date_int = m.is_int && !weird;
                    break;
                }
            }
        }
    }

    /// A line from a file: its date is found by the date detector.
    pub fn process_line(&mut self, line: &str, now: f64) -> LineOutcome {
        let is_none = self.date.as_ref().is_some_and(|d| d.is_none());
        if self.prefilter {
            if !self.may_match(line) {
                if !is_none {
                    self.remember_skipped(line);
                }
                return LineOutcome::default();
            }
            if self.ring_count > 0 {
                self.catch_up_dates(now);
            }
        }
        let found = if is_none {
            Some((0..0, now, false))
        } else {
            self.date
                .as_mut()
                .and_then(|d| d.find(line, now))
                .map(|m| (m.span, m.time, m.is_int))
        };
        self.cur_date_int = false;
        let (pre_end, post_start, mut date, reuse_last, no_date) = match found {
            Some((span, t, is_int))
                if span.start < span.end
                    && span.end <= line.len()
                    && line.is_char_boundary(span.start)
                    && line.is_char_boundary(span.end) =>
            {
                self.last_time_text.clear();
                self.last_time_text.push_str(&line[span.clone()]);
                self.last_date = Some(t);
                self.last_date_int = is_int;
                self.cur_date_int = is_int;
                (span.start, span.end, Some(t), false, false)
            }
            Some((span, _, _))
                if span.start <= line.len()
                    && span.end <= line.len()
                    && line.is_char_boundary(span.start)
                    && line.is_char_boundary(span.end) =>
            {
                // optional date, absent: last date when recent, else now
                if self.last_date.is_some_and(|d| d > now - 60.0) {
                    self.cur_date_int = self.last_date_int;
                    (0, 0, self.last_date, true, false)
                } else {
                    (span.start, span.end, Some(now), false, false)
                }
            }
            _ => {
                if self.last_date.is_some_and(|d| d > now - 60.0) {
                    self.cur_date_int = self.last_date_int;
                    (0, 0, self.last_date, true, true)
                } else {
                    // a template matched text that is no valid date: that text is still cut
                    // out of what the regexes see (fail2ban-regex then reports no date)
                    match self.date.as_ref().and_then(|d| d.invalid_span()) {
                        Some(s)
                            if s.start <= s.end
                                && s.end <= line.len()
                                && line.is_char_boundary(s.start)
                                && line.is_char_boundary(s.end) =>
                        {
                            (s.start, s.end, None, false, true)
                        }
                        _ => (0, 0, None, false, true),
                    }
                }
            }
        };
        if self.in_operation {
            if let Some(d) = date {
                if (d - now).abs() > 60.0 {
                    date = Some(now);
                    self.last_date = Some(now);
                    self.last_date_int = false;
                    self.cur_date_int = false;
                }
            }
        }
        let pre = &line[..pre_end];
        let post = &line[post_start..];
        if let Some(o) = self.quick_miss(pre, post) {
            return o;
        }
        let text = format!("{pre}{post}");
        let full = if reuse_last {
            format!("{}{}", self.last_time_text, line)
        } else {
            line.to_string()
        };
        self.find_failure(TLine { full, text }, date, no_date, now)
    }

    /// A journal entry: the caller gives its time, the whole line is the message. `time_text` is
    /// what fail2ban puts before the message in matches (the ISO time and a space).
    pub fn process_journal_line(&mut self, line: &str, time: f64, time_text: &str) -> LineOutcome {
        self.last_time_text.clear();
        self.last_time_text.push_str(time_text);
        self.last_date = Some(time);
        self.last_date_int = false;
        self.cur_date_int = false;
        self.ring_count = 0;
        if self.prefilter && !self.may_match(line) {
            return LineOutcome::default();
        }
        if let Some(o) = self.quick_miss(line, "") {
            return o;
        }
        let full = format!("{time_text}{line}");
        self.find_failure(
            TLine {
                full,
                text: line.to_string(),
            },
            Some(time),
            false,
            time,
        )
    }

    /// Whether the prefregex matches `text` (a line and its final newline), through the probe
    /// when there is one (see [`content_probe`]).
    fn pref_is_match(&self, text: &str) -> bool {
        let Some(p) = self.prefregex.as_ref() else {
            return false;
        };
        if let Some(src) = &self.pref_probe_src {
            let b = text.as_bytes();
            if b.last() == Some(&b'\n') && memchr::memchr(b'\n', &b[..b.len() - 1]).is_none() {
                if let Some(re) = self.probe(src) {
                    return re.is_match(text);
                }
            }
        }
        p.is_match(text)
    }

    /// The probe's engine, built on first use.
    fn probe(&self, src: &str) -> Option<&regex::Regex> {
        self.pref_probe
            .get_or_init(|| {
                let t = crate::pyre::translate(src).ok()?;
                regex::Regex::new(&t).ok()
            })
            .as_ref()
    }

    /// Where the prefregex's content starts in `text` (a line and its final newline), found by
    /// the probe (see [`Filter::pref_search_by_probe`] for why its match is the prefregex's):
    /// `Some(None)` when the prefregex does not match, `None` when the probe cannot tell.
    fn pref_content_start(&self, text: &str) -> Option<Option<usize>> {
        let src = self.pref_probe_src.as_deref()?;
        if self.probe_dotall {
            return None;
        }
        let b = text.as_bytes();
        if b.last() != Some(&b'\n') || memchr::memchr(b'\n', &b[..b.len() - 1]).is_some() {
            return None;
        }
        let re = self.probe(src)?;
        Some(re.find(text).and_then(|m| {
            let last = text[..m.end()].chars().next_back()?;
            Some(m.end() - last.len_utf8())
        }))
    }

    /// Searches the prefregex on `text` (a line and its final newline) through the probe,
    /// whose captures are the prefregex's: the same path through the prefix is taken (the
    /// first one after which `.` can match is the first one after which `.+$` can), so the
    /// groups before `content` are the same and `content` runs from the probe's last
    /// character to the newline. The capture search then covers the prefix only. False when
    /// the probe cannot stand in (no probe, DOTALL, inner newlines, other group numbering).
    fn pref_search_by_probe(&mut self, text: &str) -> bool {
        if self.pref_probe_src.is_none() || self.probe_dotall {
            return false;
        }
        let b = text.as_bytes();
        if b.last() != Some(&b'\n') || memchr::memchr(b'\n', &b[..b.len() - 1]).is_some() {
            return false;
        }
        let (Some(Some(re)), Some(p)) = (self.pref_probe.get(), self.prefregex.as_mut()) else {
            return false;
        };
        let Some(ci) = p.group_index("content") else {
            return false;
        };
        if re.captures_len() != ci || p.is_fancy() {
            return false;
        }
        let locs = self
            .pref_probe_locs
            .get_or_insert_with(|| re.capture_locations());
        let Some(m) = re.captures_read(locs, text) else {
            p.set_last_match(None);
            return true;
        };
        let end = text.len() - 1;
        let Some(last) = text[..m.end()].chars().next_back() else {
            return false;
        };
        let content_start = m.end() - last.len_utf8();
        self.probe_slots.clear();
        self.probe_slots.push(Some((m.start(), end)));
        for i in 1..ci {
            self.probe_slots.push(locs.get(i));
        }
        self.probe_slots.push(Some((content_start, end)));
        p.set_last_match(Some(&self.probe_slots));
        true
    }

    /// Single-line mode: decides a certain miss without allocating (prefregex and failregexes
    /// searched on a reused buffer). Returns None when the full evaluation is needed.
    fn quick_miss(&mut self, pre: &str, post: &str) -> Option<LineOutcome> {
        self.pref_presearched = false;
        self.fail_presearched = None;
        self.cand_valid = false;
        if self.maxlines > 1 || self.early_ignore() {
            return None;
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.push_str(pre);
        buf.push_str(post);
        buf.push('\n');
        let mut pref_matched = false;
        let mut range = 0..buf.len();
        // Without the literal prefilter every line meets the prefregex anyway: asking it first
        // ends lines from other programs early and tells where the content starts.
        let mut content_from = 0;
        let mut pref_known = false;
        if !self.prefilter && self.prefregex.is_some() {
            match self.pref_content_start(&buf) {
                Some(None) => {
                    self.scratch = buf;
                    return Some(LineOutcome::default());
                }
                Some(Some(c)) => {
                    content_from = c;
                    pref_known = true;
                }
                None => {}
            }
        }
        if self.relaxed_ok {
            // which failregexes can match a suffix of the line at all (decided once per line);
            // the content is such a suffix, and it is what they will see
            self.cand.clear();
            let hay = buf.get(content_from..).unwrap_or(&buf);
            for r in &self.failregex {
                self.cand.push(r.may_match_suffix(hay) != Some(false));
            }
            self.cand_valid = true;
            if self.prefilter && !self.cand.contains(&true) {
                // no report is kept in this mode: whether the prefregex matched does not matter
                self.scratch = buf;
                return Some(LineOutcome::default());
            }
        }
        if self.prefregex.is_some() {
            if !pref_known && !self.pref_is_match(&buf) {
                self.scratch = buf;
                return Some(LineOutcome::default());
            }
            pref_matched = true;
            if self.keep_pref_groups {
                return None;
            }
        }
        // The failregexes see this text (or the prefregex content, a part of it): one lacking a
        // literal every failregex needs is a miss, decided without running any of them.
        if !self
            .failregex
            .iter()
            .any(|r| r.prefilter.may_match(buf.as_bytes()))
        {
            self.scratch = buf;
            return Some(LineOutcome {
                pref_matched,
                ..LineOutcome::default()
            });
        }
        // The content ends the line, so a failregex that cannot match any suffix of the line
        // cannot match the content either: decided without capturing.
        if self.prefregex.is_some() && self.cand_valid && !self.cand.contains(&true) {
            self.scratch = buf;
            return Some(LineOutcome {
                pref_matched,
                ..LineOutcome::default()
            });
        }
        let mut searched_pref = false;
        if self.prefregex.is_some() && !self.pref_search_by_probe(&buf) {
            if let Some(p) = self.prefregex.as_mut() {
                p.search(&buf);
            }
        }
        if let Some(p) = self.prefregex.as_ref() {
            searched_pref = true;
            if let Some((s, e)) = p.group_span("content") {
                if s < e {
                    // the failregexes see the content plus the newline fail2ban appends
                    if e + 1 == buf.len() {
                        range = s..e + 1;
                    } else {
                        self.scratch = buf;
                        return None;
                    }
                }
            }
        }
        let hay = &buf[range];
        // Searching (not just testing) keeps the captures of the first hit for the full
        // evaluation, which sees exactly this text.
        let cand = &self.cand;
        let valid = self.cand_valid;
        let hit = self
            .failregex
            .iter_mut()
            .enumerate()
            .position(|(i, r)| (!valid || cand.get(i) != Some(&false)) && r.search(hay));
        self.scratch = buf;
        match hit {
            Some(i) => {
                self.pref_presearched = searched_pref;
                self.fail_presearched = Some(i);
                None
            }
            None => Some(LineOutcome {
                pref_matched,
                ..LineOutcome::default()
            }),
        }
    }

    /// fail2ban checks ignoreregexes before everything else when there are clearly fewer of them
    /// than failregexes.
    fn early_ignore(&self) -> bool {
        !self.ignoreregex.is_empty()
            && (self.ignoreregex.len() as isize) < self.failregex.len() as isize - 2
    }

    fn ignore_line(
        &mut self,
        buf: &str,
        org: &[TLine],
        hit: Option<&MatchLines>,
        out: &mut LineOutcome,
    ) -> Option<usize> {
        let own;
        let buf = match hit {
            Some(h) if self.maxlines > 1 => {
                own = tuple_buf(&MatchLines::lines(&h.matched, org));
                own.as_str()
            }
            _ => buf,
        };
        let mut found = None;
        for i in 0..self.ignoreregex.len() {
            if self.ignoreregex[i].search(buf) {
                found = Some(i);
                out.ignored_by.push(i);
                if !self.check_all || self.maxlines > 1 {
                    if let Some(h) = hit {
                        self.line_buffer = MatchLines::lines(&h.unmatched, org);
                    }
                }
                if !self.check_all {
                    break;
                }
            }
        }
        found
    }

    fn find_failure(
        &mut self,
        tline: TLine,
        date: Option<f64>,
        _no_date: bool,
        now: f64,
    ) -> LineOutcome {
        let mut out = LineOutcome::default();
        let before: Vec<TLine> = if self.maxlines > 1 {
            self.line_buffer.clone()
        } else {
            Vec::new()
        };
        let org: Vec<TLine> = if self.maxlines > 1 {
            self.line_buffer.push(tline);
            let n = self.line_buffer.len();
            if n > self.maxlines {
                self.line_buffer.drain(..n - self.maxlines);
            }
            self.line_buffer.clone()
        } else {
            // single-line mode: an empty line buffer stands for "the line itself"
            self.line_buffer.clear();
            vec![tline]
        };
        self.find_failure_in(&org, date, now, &mut out);
        if self.maxlines > 1 {
            let full = before.len() >= self.maxlines;
            for b in before.iter().skip(usize::from(full)) {
                if !self.line_buffer.contains(b) {
                    out.consumed_previous.push(b.full.clone());
                }
            }
        }
        out
    }

    fn find_failure_in(
        &mut self,
        org: &[TLine],
        date: Option<f64>,
        now: f64,
        out: &mut LineOutcome,
    ) {
        let pref_done = std::mem::take(&mut self.pref_presearched);
        let mut fail_done = self.fail_presearched.take();
        let raw_default = self.usedns == UseDns::Raw || self.raw_hosts;
        let def_cidr = if raw_default { Cidr::Raw } else { Cidr::Unspec };
        let mut buf: Option<String> = Some(tuple_buf(org));

        if self.early_ignore() {
            let b = buf.clone().unwrap_or_default();
            if self.ignore_line(&b, org, None, out).is_some() {
                return;
            }
        }

        let mut pre_groups = FailData::new();
        if let Some(p) = self.prefregex.as_mut() {
            let b = buf.as_deref().unwrap_or_default();
            let hit = if pref_done { p.matched() } else { p.search(b) };
            if !hit {
                return;
            }
            out.pref_matched = true;
            for (k, v) in p.groups(b) {
                pre_groups.set(&k, v.map(Value::Str));
            }
            if self.keep_pref_groups {
                out.pref_groups = Some(pre_groups.clone());
            }
            if let Some(Value::Str(repl)) = pre_groups.pop("content") {
                if !repl.is_empty() {
                    self.line_buffer = vec![TLine {
                        full: repl.clone(),
                        text: repl,
                    }];
                    buf = None;
                }
            }
        }

        for idx in 0..self.failregex.len() {
            let b = match buf.take() {
                Some(b) => b,
                None if self.maxlines == 1 && self.line_buffer.is_empty() => tuple_buf(org),
                None => tuple_buf(&self.line_buffer),
            };
            if self.cand_valid && self.cand.get(idx) == Some(&false) {
                // its relaxed variant matches no suffix of this line: it cannot match here
                buf = Some(b);
                continue;
            }
            let hit = if fail_done == Some(idx) {
                fail_done = None;
                self.failregex[idx].matched()
            } else {
                self.failregex[idx].search(&b)
            };
            if !hit {
                buf = Some(b);
                continue;
            }
            let re = &self.failregex[idx];
            let mut fail = Fail {
                data: FailData::new(),
                matches: None,
                nofail_matches: None,
            };
            for (k, v) in re.groups(&b) {
                fail.data.set(&k, v.map(Value::Str));
            }
            let hit = split_lines(re, &b, org);
            if !self.ignoreregex.is_empty() && self.ignore_line(&b, org, Some(&hit), out).is_some()
            {
                buf = None;
                if !self.check_all {
                    break;
                }
                continue;
            }
            if !self.check_all || self.maxlines > 1 {
                self.line_buffer = MatchLines::lines(&hit.unmatched, org);
                buf = None;
            } else {
                buf = Some(b);
            }
            let matched_full: Vec<String> = hit
                .matched
                .iter()
                .filter_map(|&i| org.get(i).map(|l| l.full.clone()))
                .collect();

            if !pre_groups.iter().next().is_none() {
                let mut merged = pre_groups.clone();
                for (k, v) in fail.data.iter() {
                    // A failregex group that did not take part keeps the prefregex value.
                    if v.is_none() && merged.get(k).is_some() {
                        continue;
                    }
                    merged.set(k, v.cloned());
                }
                fail.data = merged;
            }

            let mlfid = fail.data.get_str("mlfid").map(str::to_string);
            let mut cached = false;
            if let Some(id) = &mlfid {
                let (merged, c) = self.merge_failure(id, fail, &matched_full, now);
                fail = merged;
                cached = c;
                if fail.data.truthy("nofail") && !self.check_all {
                    if cached {
                        self.mlfid.update(id, fail.to_pending());
                    }
                    return;
                }
            } else {
                let mut m = fail.matches.take().unwrap_or_default();
                m.extend(matched_full);
                fail.matches = Some(m);
            }

            let mut fid = fail.data.get_str("fid").map(str::to_string);
            let mut cidr = def_cidr;
            let mut raw = raw_default;
            let cidr_of =
                |d: &FailData, fam: Cidr| match d.get_str("cidr").filter(|s| !s.is_empty()) {
                    Some(c) => c.trim().parse::<u32>().map(Cidr::Plen).unwrap_or(fam),
                    None => fam,
                };
            let ip: Option<String> = if let Some(ip4) = fail.data.get_str("ip4") {
                cidr = cidr_of(&fail.data, Cidr::V4);
                raw = true;
                Some(ip4.to_string())
            } else if let Some(ip6) = fail.data.get_str("ip6") {
                cidr = cidr_of(&fail.data, Cidr::V6);
                raw = true;
                Some(ip6.to_string())
            } else if let Some(dns) = fail.data.get_str("dns") {
                Some(dns.to_string())
            } else {
                if fid.is_none() && mlfid.is_none() {
                    // a failregex without any id group matched: nothing to report
                    continue;
                }
                raw = true;
                fid.clone()
            };

            let mut ids: Vec<Option<IpAddr>> = Vec::new();
            match ip {
                None => {
                    fail.data.set("mlfpending", Some(Value::Int(1)));
                    if let (Some(id), true) = (&mlfid, cached) {
                        self.mlfid.update(id, fail.to_pending());
                    }
                    if !self.check_all && self.ignore_pending {
                        return;
                    }
                    ids.push(None);
                }
                Some(ip) if raw => {
                    if fid.is_none() || fid.as_deref() == Some(ip.as_str()) {
                        ids.push(Some(IpAddr::new(&ip, cidr)));
                    } else {
                        let addr = IpAddr::new(&ip, cidr);
                        fail.data.set("ip", Some(Value::Str(addr.to_string())));
                        ids.push(Some(IpAddr::new(
                            fid.as_deref().unwrap_or_default(),
                            def_cidr,
                        )));
                    }
                }
                Some(ip) => {
                    let resolve = matches!(self.usedns, UseDns::Yes | UseDns::Warn);
                    for a in ipdns::text_to_ips(&ip, resolve, self.resolver.as_ref()) {
                        ids.push(Some(a));
                    }
                }
            }
            if let (Some(id), true) = (&mlfid, cached) {
                if self.mlfid.contains(id) {
                    self.mlfid.update(id, fail.to_pending());
                }
            }
            fid = None;
            let _ = fid;
            let nofail = fail.data.truthy("nofail");
            let users = match fail.data.get("users") {
                Some(Value::Set(u)) => u.clone(),
                _ => Vec::new(),
            };
            let groups = fail.data.to_map();
            let n = ids.len();
            let mut matches = fail.matches.take().unwrap_or_default();
            let mut data = Some(fail.data);
            let mut users = Some(users);
            for (k, id) in ids.into_iter().enumerate() {
                // the last failure takes the collected values, earlier ones (DNS names with
                // several addresses) get copies
                let last = k + 1 == n;
                out.failures.push(Failure {
                    regex_index: idx,
                    fid: id.as_ref().map(|i| i.to_string()).unwrap_or_default(),
                    ip: id,
                    time: date.unwrap_or(now),
                    time_is_int: date.is_some() && self.cur_date_int,
                    matches: if last {
                        std::mem::take(&mut matches)
                    } else {
                        matches.clone()
                    },
                    groups: groups.clone(),
                    users: if last {
                        users.take().unwrap_or_default()
                    } else {
                        users.clone().unwrap_or_default()
                    },
                    nofail,
                    data: if last {
                        data.take().unwrap_or_default()
                    } else {
                        data.clone().unwrap_or_default()
                    },
                });
            }
            if !self.check_all {
                break;
            }
        }
    }

    /// Merges this hit with what is known about the connection `id` (fail2ban's mlfid logic:
    /// nofail / mlfgained / mlfforget flags, users set, pending failures, collected lines).
    /// Returns the merged failure and whether it is (still) held in the cache.
    fn merge_failure(
        &mut self,
        id: &str,
        mut fail: Fail,
        matched: &[String],
        now: f64,
    ) -> (Fail, bool) {
        const NOFAIL: u8 = 1;
        const FORGET: u8 = 2;
        const PREV_NOFAIL: u8 = 4;
        const GAINED: u8 = 8;
        let entry = self.mlfid.get(id, now);
        let mut fl: u8 = 0;
        if fail.data.truthy("mlfgained") {
            fl |= GAINED | NOFAIL;
            if !fail.data.truthy("nofail") {
                let g = fail.data.get("mlfgained").cloned();
                fail.data.set("nofail", g);
            }
        } else if fail.data.truthy("nofail") {
            fl |= NOFAIL;
        }
        if fail.data.pop("mlfforget").is_some_and(|v| v.truthy()) {
            fl |= FORGET;
        }
        let user = fail
            .data
            .get_str("user")
            .filter(|u| !u.is_empty())
            .map(str::to_string);
        let mut users_len = 0;
        let mut cached = false;
        if let Some(prev) = entry {
            let mut m: Fail = prev.into();
            users_len = match &user {
                Some(u) => m.data.add_user(u),
                None => m.data.users_len(),
            };
            if m.data.pop("nofail").is_some_and(|v| v.truthy()) {
                fl |= PREV_NOFAIL;
            }
            if m.data.pop("mlfgained").is_some_and(|v| v.truthy()) {
                fl |= PREV_NOFAIL;
            }
            if fl & GAINED != 0 {
                m.data.pop("mlfpending");
            }
            if fl & PREV_NOFAIL == 0 && !m.data.truthy("mlfpending") {
                m.matches = None;
            }
            m.data.update_non_none(&fail.data);
            fail = m;
            if fl & FORGET != 0 {
                self.mlfid.unset(id);
            } else {
                cached = true;
            }
        } else if fl & FORGET == 0 {
            users_len = match &user {
                Some(u) => fail.data.add_user(u),
                None => fail.data.users_len(),
            };
            self.mlfid.set(id, fail.to_pending(), now);
            cached = true;
        }
        let pending = fail.data.pop("mlfpending").is_some_and(|v| v.truthy());
        if pending || users_len > 1 {
            fail.data.pop("nofail");
            fail.data.pop("mlfgained");
            fl &= !(GAINED | NOFAIL);
        }
        if fl & NOFAIL == 0 {
            let mut m = fail.nofail_matches.take().unwrap_or_default();
            m.extend(fail.matches.take().unwrap_or_default());
            if fl & GAINED == 0 {
                m.extend(matched.iter().cloned());
            }
            fail.matches = Some(m);
        } else if fl & (NOFAIL | FORGET) == NOFAIL {
            let mut m = fail.nofail_matches.take().unwrap_or_default();
            m.extend(matched.iter().cloned());
            fail.nofail_matches = Some(m);
        }
        if cached {
            self.mlfid.update(id, fail.to_pending());
        }
        (fail, cached)
    }
}

#[cfg(test)]
mod probe_tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn probe_shape() {
        assert_eq!(
            content_probe(r"^\S+ x (?P<content>.+)$").as_deref(),
            Some(r"^\S+ x .")
        );
        assert_eq!(
            content_probe(r"^x\\(?P<content>.+)$").as_deref(),
            Some(r"^x\\.")
        );
        assert_eq!(content_probe(r"^x\(?P<content>.+)$"), None);
        assert_eq!(content_probe(r"^x (?P<content>.+)"), None);
    }

    /// The probe answers as the prefregex does, for every stock prefregex on every line of the
    /// conformance corpus (and on lines with an inner newline, where the prefregex is used).
    #[test]
    fn probe_matches_like_the_prefregex() {
        let dir = Path::new("/etc/fail2ban/filter.d");
        let logs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/dev/logs");
        let (Ok(filters), Ok(logfiles)) = (std::fs::read_dir(dir), std::fs::read_dir(&logs)) else {
            println!("skipped: no stock filters or no ../shared/compat/dev/logs");
            return;
        };
        let mut lines: Vec<String> = Vec::new();
        for f in logfiles.flatten() {
            let Ok(b) = std::fs::read(f.path()) else {
                continue;
            };
            for l in String::from_utf8_lossy(&b)
                .lines()
                .filter(|l| !l.starts_with('#'))
            {
                lines.push(format!("{l}\n"));
            }
        }
        lines.push("a\nb\n".into());
        lines.push("\n".into());
        let mut tried = 0;
        let mut built = 0;
        let mut matched = 0;
        let mut captured = 0;
        for e in filters.flatten() {
            let Some(name) = e
                .path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
            else {
                continue;
            };
            let Ok(def) = f2b_config::load_filter(Path::new("/etc/fail2ban"), &name, &[]) else {
                continue;
            };
            let Some(pref) = def.prefregex.clone() else {
                continue;
            };
            let opts = FilterOptions {
                prefregex: Some(pref),
                failregex: def.failregex.clone(),
                ..FilterOptions::default()
            };
            let Ok(mut f) = Filter::new(opts) else {
                continue;
            };
            if f.pref_probe_src.is_none() {
                continue;
            }
            tried += 1;
            for l in &lines {
                let want = f.prefregex.as_ref().unwrap().is_match(l);
                assert_eq!(f.pref_is_match(l), want, "{name}: {l:?}");
                matched += usize::from(want);
                match f.pref_content_start(l) {
                    Some(None) => assert!(!want, "{name}: {l:?}"),
                    Some(Some(c)) => {
                        let p = f.prefregex.as_mut().unwrap();
                        assert!(p.search(l), "{name}: {l:?}");
                        assert_eq!(
                            p.group_span("content").map(|s| s.0),
                            Some(c),
                            "{name}: {l:?}"
                        );
                    }
                    None => {}
                }
                if f.pref_search_by_probe(l) {
                    let p = f.prefregex.as_mut().unwrap();
                    let got = p.last_slots().map(<[_]>::to_vec);
                    assert_eq!(got.is_some(), want, "{name}: {l:?}");
                    p.search(l);
                    assert_eq!(got.as_deref(), p.last_slots(), "{name}: {l:?}");
                    captured += usize::from(want);
                }
            }
            // a prefix that needs fancy-regex has no probe: the prefregex answers itself
            built += usize::from(matches!(f.pref_probe.get(), Some(Some(_))));
        }
        assert!(
            built >= 10 && matched > 100 && captured > 100,
            "{tried} prefregexes, {built} probes, {matched} matches, {captured} by the probe"
        );
    }
}
