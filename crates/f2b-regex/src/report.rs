//! Running the lines through the filter and fail2ban-regex's summary report.

use crate::cli::Cli;
use crate::out::{self, OutFormat};
use f2b_filter::Filter;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

pub enum Source {
    File(PathBuf),
    Lines(Vec<String>),
    /// Entries of the systemd journal, each with its own time (no date detection).
    Journal(f2b_backend::JournalReader),
}

/// The text fail2ban puts before a journal message and the time it gives the entry.
///
/// fail2ban-regex gets the entry's stamp as a date in the UTC offset in force *now* (not the
/// one of the entry's date) and prints it in ISO form with that offset (microseconds only when
/// not zero), then a space. Its time is that wall-clock reading taken as local time, so an
/// entry from the other side of a DST change comes out an hour off; we show the same.
pub fn journal_time(t: f64) -> (String, f64) {
    let Ok(ts) = jiff::Timestamp::from_microsecond((t * 1e6).round() as i64) else {
        return (String::new(), t);
    };
    let offset = jiff::Zoned::now().offset();
    let wall = offset.to_datetime(ts);
    let us = wall.subsec_nanosecond() / 1000;
    let secs = offset.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m, sec) = (secs.abs() / 3600, secs.abs() % 3600 / 60, secs.abs() % 60);
    let mut text = wall.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    if us != 0 {
        text.push_str(&format!(".{us:06}"));
    }
    text.push_str(&format!("{sign}{h:02}:{m:02}"));
    if sec != 0 {
        text.push_str(&format!(":{sec:02}"));
    }
    text.push(' ');
    let local = wall
        .to_zoned(jiff::tz::TimeZone::system())
        .map(|z| z.timestamp().as_second() as f64)
        .unwrap_or(t.floor());
    (text, local + f64::from(us) / 1e6)
}

/// `shortstr`: at most `l` characters, `...` marking a cut.
pub fn shortstr(s: &str, l: usize) -> String {
    if s.chars().count() > l {
        let mut o: String = s.chars().take(l - 3).collect();
        o.push_str("...");
        o
    } else {
        s.to_string()
    }
}

/// `repr(dict)` of the `[k=v, ...]` filter options as fail2ban-regex prints them.
pub fn py_opts_repr(opts: &str) -> String {
    let inner = opts.trim().trim_start_matches('[').trim_end_matches(']');
    let mut items = Vec::new();
    let mut rest = inner;
    while !rest.trim().is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().trim_start_matches(',').trim();
        let after = rest[eq + 1..].trim_start();
        let (val, next) = if let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'')
        {
            match after[1..].find(q) {
                Some(e) => (&after[1..1 + e], &after[e + 2..]),
                None => (&after[1..], ""),
            }
        } else {
            match after.find(',') {
                Some(e) => (&after[..e], &after[e..]),
                None => (after, ""),
            }
        };
        items.push(format!(
            "{}: {}",
            crate::pyrepr::string(key),
            crate::pyrepr::string(val.trim())
        ));
        rest = next.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
    }
    format!("{{{}}}", items.join(", "))
}

struct RegexStat {
    source: String,
    hits: u64,
    ips: Vec<(String, f64, bool)>,
}

pub struct Run {
    verbose: u8,
    verbose_date: bool,
    out: Option<OutFormat>,
    print_limit: usize,
    print_all_matched: bool,
    print_all_missed: bool,
    print_all_ignored: bool,
    print_no_missed: bool,
    print_no_ignored: bool,
    failregex: Vec<RegexStat>,
    ignoreregex: Vec<RegexStat>,
    pref_matched: u64,
    pref_groups: Vec<String>,
    tested: u64,
    matched: u64,
    missed: u64,
    ignored: u64,
    matched_lines: Vec<String>,
    missed_lines: Vec<String>,
    ignored_lines: Vec<String>,
    elapsed: f64,
}

impl Run {
    pub fn new(cli: &Cli, failregex: &[String], ignoreregex: &[String]) -> Run {
        let stat = |s: &String| RegexStat {
            source: s.clone(),
            hits: 0,
            ips: Vec::new(),
        };
        Run {
            verbose: cli.verbosity(),
            verbose_date: cli.verbose_date,
            out: cli.out.as_deref().map(OutFormat::parse),
            print_limit: if cli.maxlines > 0 { cli.maxlines } else { 20 },
            print_all_matched: cli.print_all_matched,
            print_all_missed: cli.print_all_missed,
            print_all_ignored: cli.print_all_ignored,
            print_no_missed: cli.print_no_missed,
            print_no_ignored: cli.print_no_ignored,
            failregex: failregex.iter().map(stat).collect(),
            ignoreregex: ignoreregex.iter().map(stat).collect(),
            pref_matched: 0,
            pref_groups: Vec::new(),
            tested: 0,
            matched: 0,
            missed: 0,
            ignored: 0,
            matched_lines: Vec::new(),
            missed_lines: Vec::new(),
            ignored_lines: Vec::new(),
            elapsed: 0.0,
        }
    }

    pub fn process(
        &mut self,
        filter: &mut Filter,
        source: &mut Source,
        now: f64,
        w: &mut dyn Write,
    ) -> Result<(), String> {
        let t0 = Instant::now();
        let mut rows: Vec<String> = Vec::new();
        match source {
            Source::File(p) => {
                use std::io::Read;
                let mut file = std::fs::File::open(&*p)
                    .map_err(|e| format!("ERROR: cannot read {}: {e}", p.display()))?;
                // Read in blocks: memory stays flat whatever the log size.
                let mut buf: Vec<u8> = vec![0; 1 << 18];
                let mut filled = 0usize;
                let mut eof = false;
                while !eof || filled > 0 {
                    if !eof {
                        if filled == buf.len() {
                            buf.resize(buf.len() * 2, 0);
                        }
                        let n = file
                            .read(&mut buf[filled..])
                            .map_err(|e| format!("ERROR: cannot read {}: {e}", p.display()))?;
                        if n == 0 {
                            eof = true;
                        }
                        filled += n;
                    }
                    let mut start = 0;
                    while start < filled {
                        let end = match memchr::memchr(b'\n', &buf[start..filled]) {
                            Some(i) => start + i,
                            None if eof => filled,
                            None => break,
                        };
                        let raw = &buf[start..end];
                        start = (end + 1).min(filled);
                        if end == filled {
                            start = filled;
                        }
                        let mut l = raw.len();
                        while l > 0 && (raw[l - 1] == b'\r' || raw[l - 1] == b'\n') {
                            l -= 1;
                        }
                        let raw = &raw[..l];
                        if raw.is_empty() || raw[0] == b'#' {
                            continue;
                        }
                        match std::str::from_utf8(raw) {
                            Ok(line) => self.line(filter, line, now, w, &mut rows)?,
                            Err(_) => {
                                let line = String::from_utf8_lossy(raw);
                                self.line(filter, &line, now, w, &mut rows)?
                            }
                        }
                    }
                    buf.copy_within(start..filled, 0);
                    filled -= start;
                    if eof && filled == 0 {
                        break;
                    }
                }
            }
            Source::Lines(lines) => {
                for l in lines {
                    let line = l.trim_end_matches(['\r', '\n']);
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    self.line(filter, line, now, w, &mut rows)?;
                }
            }
            Source::Journal(reader) => {
                let mut full = String::new();
                while let Some((text, time)) =
                    reader.next_line().map_err(|e| format!("ERROR: {e}"))?
                {
                    let (time_text, time) = journal_time(time);
                    let o = filter.process_journal_line(&text, time, &time_text);
                    full.clear();
                    full.push_str(&time_text);
                    full.push_str(&text);
                    self.record(&o, filter.prefregex_source().is_some(), &full, w, &mut rows)?;
                }
            }
        }
        self.elapsed = t0.elapsed().as_secs_f64();
        Ok(())
    }

    fn line(
        &mut self,
        filter: &mut Filter,
        line: &str,
        now: f64,
        w: &mut dyn Write,
        rows: &mut Vec<String>,
    ) -> Result<(), String> {
        let o = filter.process_line(line, now);
        self.record(&o, filter.prefregex_source().is_some(), line, w, rows)
    }

    /// Counts (report) or prints (`-o`) what one line did; `line` is the text the report lists.
    fn record(
        &mut self,
        o: &f2b_filter::LineOutcome,
        has_pref: bool,
        line: &str,
        w: &mut dyn Write,
        rows: &mut Vec<String>,
    ) -> Result<(), String> {
        if let Some(fmt) = &self.out {
            if o.is_matched() && !o.is_ignored() {
                for f in o.failures.iter().filter(|f| !f.nofail) {
                    rows.clear();
                    out::render(fmt, f, rows).map_err(|e| format!("ERROR: {e}"))?;
                    for r in rows.iter() {
                        if writeln!(w, "{r}").is_err() {
                            // reader went away: stop quietly
                            std::process::exit(0);
                        }
                    }
                }
            }
            return Ok(());
        }
        if has_pref {
            if o.pref_matched {
                self.pref_matched += 1;
                if let Some(g) = &o.pref_groups {
                    if self.pref_groups.len() < self.print_limit {
                        self.pref_groups.push(crate::pyrepr::dict(g));
                    } else if self.pref_groups.len() == self.print_limit {
                        self.pref_groups.push("...".to_string());
                    }
                }
            }
        }
        for i in &o.ignored_by {
            if let Some(s) = self.ignoreregex.get_mut(*i) {
                s.hits += 1;
            }
        }
        let mut ret = 0usize;
        for f in &o.failures {
            if let Some(s) = self.failregex.get_mut(f.regex_index) {
                s.hits += 1;
                if self.verbose > 0 {
                    s.ips.push((f.fid.clone(), f.time, ret > 1));
                }
            }
            if !f.nofail {
                ret += 1;
            }
        }
        for prev in &o.consumed_previous {
            if let Some(i) = self.missed_lines.iter().position(|m| m == prev) {
                self.missed_lines.remove(i);
            }
            if self.print_all_matched {
                self.matched_lines.push(prev.clone());
            }
            self.matched += 1;
            self.missed = self.missed.saturating_sub(1);
        }
        if o.is_ignored() {
            self.ignored += 1;
            if !self.print_no_ignored
                && (self.print_all_ignored || self.ignored as usize <= self.print_limit + 1)
            {
                self.ignored_lines.push(line.to_string());
            }
        } else if ret > 0 {
            self.matched += 1;
            if self.print_all_matched {
                self.matched_lines.push(line.to_string());
            }
        } else {
            self.missed += 1;
            if !self.print_no_missed
                && (self.print_all_missed || self.missed as usize <= self.print_limit + 1)
            {
                self.missed_lines.push(line.to_string());
            }
        }
        self.tested += 1;
        Ok(())
    }

    fn pprint_list(w: &mut dyn Write, l: &[String], header: Option<&str>) {
        if l.is_empty() {
            return;
        }
        let mut s = String::new();
        if let Some(h) = header {
            s.push_str(&format!("|- {h}\n"));
        }
        s.push_str("|  ");
        s.push_str(&l.join("\n|  "));
        s.push_str("\n`-");
        let _ = writeln!(w, "{s}");
    }

    fn print_regexes(&self, w: &mut dyn Write, title: &str, stats: &[RegexStat]) {
        let mut total = 0;
        let mut out = Vec::new();
        for (i, s) in stats.iter().enumerate() {
            total += s.hits;
            if s.hits > 0 || self.verbose > 0 {
                out.push(format!("{:2}) [{}] {}", i + 1, s.hits, s.source));
            }
            if self.verbose > 0 {
                for (fid, t, multi) in &s.ips {
                    out.push(format!(
                        "    {}  {}{}",
                        fid,
                        strftime_local(*t),
                        if *multi {
                            " (multiple regex matched)"
                        } else {
                            ""
                        }
                    ));
                }
            }
        }
        let _ = writeln!(w, "\n{title}: {total} total");
        Self::pprint_list(w, &out, Some(" #) [# of hits] regular expression"));
    }

    fn print_lines(&self, w: &mut dyn Write, kind: &str, count: u64, lines: &[String], all: bool) {
        if count == 0 {
            return;
        }
        let mut cap: Vec<char> = kind.chars().collect();
        if let Some(c) = cap.first_mut() {
            *c = c.to_ascii_uppercase();
        }
        let header = format!("{} line(s):", cap.iter().collect::<String>());
        if (count as usize) < self.print_limit || all {
            let l: Vec<String> = lines.iter().map(|x| x.trim_end().to_string()).collect();
            Self::pprint_list(w, &l, Some(&header));
        } else {
            let _ = writeln!(
                w,
                "{header} too many to print.  Use --print-all-{kind} to print all {count} lines"
            );
        }
    }

    pub fn print_stats(&self, filter: &Filter, w: &mut dyn Write) {
        let _ = writeln!(w, "\nResults\n=======");
        if let Some(p) = filter.prefregex_expanded() {
            let _ = writeln!(w, "\nPrefregex: {} total", self.pref_matched);
            let mut l = vec![p.to_string()];
            if self.verbose > 0 {
                l.extend(self.pref_groups.iter().map(|g| format!("    {g}")));
            }
            Self::pprint_list(w, &l, None);
        }
        self.print_regexes(w, "Failregex", &self.failregex);
        self.print_regexes(w, "Ignoreregex", &self.ignoreregex);
        if let Some(dd) = filter.date_detector() {
            let _ = writeln!(w, "\nDate template hits:");
            let mut out = Vec::new();
            for t in dd.template_info() {
                if self.verbose > 0 || t.hits > 0 {
                    out.push(format!("[{}] {}", t.hits, t.name));
                    if self.verbose_date {
                        out.push(format!(
                            "    # weight: {:.3} ({:.3}), pattern: {}",
                            t.weight, t.base_weight, t.pattern
                        ));
                        out.push(format!("    # regex:   {}", t.regex));
                    }
                }
            }
            Self::pprint_list(w, &out, Some("[# of hits] date format"));
        }
        let _ = writeln!(
            w,
            "\nLines: {} lines, {} ignored, {} matched, {} missed",
            self.tested, self.ignored, self.matched, self.missed
        );
        let _ = writeln!(w, "[processed in {:.2} sec]", self.elapsed);
        let _ = writeln!(w);
        if self.print_all_matched {
            self.print_lines(
                w,
                "matched",
                self.matched,
                &self.matched_lines,
                self.print_all_matched,
            );
        }
        if !self.print_no_ignored {
            self.print_lines(
                w,
                "ignored",
                self.ignored,
                &self.ignored_lines,
                self.print_all_ignored,
            );
        }
        if !self.print_no_missed {
            self.print_lines(
                w,
                "missed",
                self.missed,
                &self.missed_lines,
                self.print_all_missed,
            );
        }
    }
}

/// `time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(t))`.
fn strftime_local(t: f64) -> String {
    let ts = jiff::Timestamp::from_microsecond((t * 1e6).round() as i64);
    match ts {
        Ok(ts) => ts
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%a %b %d %H:%M:%S %Y")
            .to_string(),
        Err(_) => t.to_string(),
    }
}
