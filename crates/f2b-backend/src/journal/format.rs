//! Turning a journal entry into the syslog-style line fail2ban's filters expect.
//!
//! The line fail2ban builds is `HOST IDENT[PID]: MESSAGE`, each part present only when its field
//! is: `_HOSTNAME`; `SYSLOG_IDENTIFIER` (else `_COMM`) followed by `[SYSLOG_PID]` (else
//! `[_PID]`) and a colon; for an identifier of exactly `kernel` without pid, the monotonic stamp
//! as `[%12.6f]` seconds (`_SOURCE_MONOTONIC_TIMESTAMP`, else the entry's own); then `MESSAGE`
//! (several values joined by spaces). Parts are joined by single spaces and every newline becomes
//! the two characters `\n`. The entry's time is `_SOURCE_REALTIME_TIMESTAMP`, else the entry's
//! realtime stamp.
//!
//! Field values are text when they are valid UTF-8; otherwise they are decoded with the jail's
//! `logencoding`, invalid sequences replaced. Pid fields follow Python's `int()`: `0` counts as
//! absent, `0x..`/`0o..`/`0b..` are read in their base, anything else is shown as Python shows
//! bytes (`[b'..']`).

use std::fmt::Write;

use crate::encoding::LogEncoding;

/// The fields of a journal entry that matter for the line, with the entry's own stamps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalEntry {
    /// `(NAME, value)` pairs; a field may appear several times.
    pub fields: Vec<(String, Vec<u8>)>,
    /// `__REALTIME_TIMESTAMP`, microseconds since the epoch.
    pub realtime_usec: u64,
    /// `__MONOTONIC_TIMESTAMP`, microseconds since boot.
    pub monotonic_usec: Option<u64>,
}

/// The fields [`format_journal_entry`] looks at; a reader may skip all others.
pub const FORMAT_FIELDS: [&str; 8] = [
    "_HOSTNAME",
    "SYSLOG_IDENTIFIER",
    "_COMM",
    "SYSLOG_PID",
    "_PID",
    "_SOURCE_MONOTONIC_TIMESTAMP",
    "_SOURCE_REALTIME_TIMESTAMP",
    "MESSAGE",
];

impl JournalEntry {
    /// Adds a field from the journal's `NAME=value` form.
    pub fn push_raw(&mut self, data: &[u8]) {
        if let Some(eq) = memchr::memchr(b'=', data) {
            let name = String::from_utf8_lossy(&data[..eq]).into_owned();
            self.fields.push((name, data[eq + 1..].to_vec()));
        }
    }

    pub fn push(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        self.fields.push((name.to_string(), value.into()));
    }

    /// First value of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// The fields the line is made of, as the formatter reads them: [`JournalEntry`] for owned
/// entries, the reader's reused scratch space for the hot path.
pub(crate) trait EntryFields {
    /// First value of the field.
    fn first(&self, f: Field) -> Option<&[u8]>;
    /// Every `MESSAGE` value, in the entry's order.
    fn messages(&self) -> impl Iterator<Item = &[u8]>;
    /// `__REALTIME_TIMESTAMP`.
    fn realtime_usec(&self) -> u64;
    /// `__MONOTONIC_TIMESTAMP`, only asked for a kernel line without its own stamp.
    fn monotonic_usec(&self) -> Option<u64>;
}

/// The fields in [`FORMAT_FIELDS`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Hostname = 0,
    SyslogIdentifier,
    Comm,
    SyslogPid,
    Pid,
    SourceMonotonic,
    SourceRealtime,
    Message,
}

impl Field {
    /// The field a journal name stands for, if the line uses it.
    #[cfg_attr(not(feature = "systemd"), allow(dead_code))]
    pub(crate) fn of(name: &[u8]) -> Option<Field> {
        Some(match name {
            b"_HOSTNAME" => Field::Hostname,
            b"SYSLOG_IDENTIFIER" => Field::SyslogIdentifier,
            b"_COMM" => Field::Comm,
            b"SYSLOG_PID" => Field::SyslogPid,
            b"_PID" => Field::Pid,
            b"_SOURCE_MONOTONIC_TIMESTAMP" => Field::SourceMonotonic,
            b"_SOURCE_REALTIME_TIMESTAMP" => Field::SourceRealtime,
            b"MESSAGE" => Field::Message,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        FORMAT_FIELDS[self as usize]
    }
}

impl EntryFields for JournalEntry {
    fn first(&self, f: Field) -> Option<&[u8]> {
        self.get(f.name())
    }
    fn messages(&self) -> impl Iterator<Item = &[u8]> {
        self.all("MESSAGE")
    }
    fn realtime_usec(&self) -> u64 {
        self.realtime_usec
    }
    fn monotonic_usec(&self) -> Option<u64> {
        self.monotonic_usec
    }
}

/// The line fail2ban would hand to its filter for this entry, and the entry's time in seconds
/// since the epoch.
pub fn format_journal_entry(entry: &JournalEntry, enc: LogEncoding) -> (String, f64) {
    let mut line = String::new();
    let time = format_into(entry, enc, &mut line);
    (line, time)
}

/// [`format_journal_entry`] into a reused buffer (cleared first); returns the entry's time.
pub(crate) fn format_into<E: EntryFields>(entry: &E, enc: LogEncoding, out: &mut String) -> f64 {
    out.clear();
    // Parts are joined by single spaces, empty ones included.
    let mut parts = 0usize;
    let mut sep = |out: &mut String| {
        if parts > 0 {
            out.push(' ');
        }
        parts += 1;
    };
    if let Some(host) = entry.first(Field::Hostname).filter(|v| !v.is_empty()) {
        sep(out);
        push_text(out, host, enc);
    }
    let ident = entry
        .first(Field::SyslogIdentifier)
        .filter(|v| !v.is_empty())
        .or_else(|| entry.first(Field::Comm).filter(|v| !v.is_empty()));
    if let Some(ident) = ident {
        sep(out);
        let tag_start = out.len();
        push_text(out, ident, enc);
        if !push_pid(out, entry.first(Field::SyslogPid)) {
            push_pid(out, entry.first(Field::Pid));
        }
        out.push(':');
        if &out[tag_start..] == "kernel:" {
            let mono = entry
                .first(Field::SourceMonotonic)
                .and_then(py_int)
                .or_else(|| entry.monotonic_usec().map(i128::from))
                .unwrap_or(0);
            sep(out);
            push_seconds_6_padded(out, mono);
        }
    }
    sep(out);
    for (i, v) in entry.messages().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        push_text(out, v, enc);
    }
    if memchr::memchr(b'\n', out.as_bytes()).is_some() {
        *out = out.replace('\n', "\\n");
    }
    time_of(entry)
}

/// The entry's time in seconds since the epoch (`_SOURCE_REALTIME_TIMESTAMP`, else the entry's
/// realtime stamp).
pub fn entry_time(entry: &JournalEntry) -> f64 {
    time_of(entry)
}

fn time_of<E: EntryFields>(entry: &E) -> f64 {
    let usec = entry
        .first(Field::SourceRealtime)
        .and_then(py_int)
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(entry.realtime_usec() as i64);
    usec.div_euclid(1_000_000) as f64 + usec.rem_euclid(1_000_000) as f64 / 1e6
}

/// A text field: UTF-8 when valid, else the log encoding with replacement.
fn push_text(out: &mut String, v: &[u8], enc: LogEncoding) {
    match std::str::from_utf8(v) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&enc.decode(v)),
    }
}

/// `[%12.6f]` of `usec` microseconds: seconds with six decimals, exactly (no float rounding on
/// the way), right-aligned in 12 columns.
fn push_seconds_6_padded(out: &mut String, usec: i128) {
    let a = usec.unsigned_abs();
    let whole = a / 1_000_000;
    let mut digits = 1;
    let mut w = whole;
    while w >= 10 {
        w /= 10;
        digits += 1;
    }
    let len = usize::from(usec < 0) + digits + 7;
    out.push('[');
    for _ in len..12 {
        out.push(' ');
    }
    if usec < 0 {
        out.push('-');
    }
    let _ = write!(out, "{whole}.{:06}]", a % 1_000_000);
}

/// Appends `[PID]` for a pid field and says whether it did (a missing, empty or zero pid counts
/// as absent).
fn push_pid(out: &mut String, v: Option<&[u8]>) -> bool {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return false;
    };
    // The usual case, plain digits, without going through text.
    if v.len() <= 18 && v.iter().all(u8::is_ascii_digit) {
        let n = v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        if n == 0 {
            return false;
        }
        let _ = write!(out, "[{n}]");
        return true;
    }
    match pid_field(Some(v)) {
        Some(p) => {
            out.push('[');
            out.push_str(&p);
            out.push(']');
            true
        }
        None => false,
    }
}

/// The text between the brackets for a pid field, or None when the field counts as absent
/// (missing, empty, or zero).
fn pid_field(v: Option<&[u8]>) -> Option<String> {
    let v = v?;
    if v.is_empty() {
        return None;
    }
    if let Some(n) = py_int(v) {
        return (n != 0).then(|| n.to_string());
    }
    if let Some(n) = py_int_base0(v) {
        return Some(n.to_string());
    }
    Some(py_bytes_repr(v))
}

/// Python's `int(bytes)`: ASCII spaces around, optional sign, decimal digits with single `_`
/// between them.
fn py_int(v: &[u8]) -> Option<i128> {
    // The journal's own stamps are plain digits: read them without going through text.
    if !v.is_empty() && v.len() <= 18 && v.iter().all(u8::is_ascii_digit) {
        return Some(v.iter().fold(0i128, |n, d| n * 10 + i128::from(d - b'0')));
    }
    let s = std::str::from_utf8(v)
        .ok()?
        .trim_matches(|c: char| c.is_ascii_whitespace());
    let (neg, digits) = split_sign(s);
    parse_digits(digits, 10).map(|n| if neg { -n } else { n })
}

/// Python's `int(bytes, 0)` for the prefixed forms (`0x`, `0o`, `0b`).
fn py_int_base0(v: &[u8]) -> Option<i128> {
    let s = std::str::from_utf8(v)
        .ok()?
        .trim_matches(|c: char| c.is_ascii_whitespace());
    let (neg, rest) = split_sign(s);
    let lower = rest.get(..2)?.to_ascii_lowercase();
    let base = match lower.as_str() {
        "0x" => 16,
        "0o" => 8,
        "0b" => 2,
        _ => return None,
    };
    let digits = rest[2..].strip_prefix('_').unwrap_or(&rest[2..]);
    parse_digits(digits, base).map(|n| if neg { -n } else { n })
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

fn parse_digits(s: &str, base: u32) -> Option<i128> {
    if s.is_empty() || s.starts_with('_') || s.ends_with('_') || s.contains("__") {
        return None;
    }
    let mut n: i128 = 0;
    for c in s.chars().filter(|&c| c != '_') {
        n = n
            .checked_mul(i128::from(base))?
            .checked_add(i128::from(c.to_digit(base)?))?;
    }
    Some(n)
}

/// Python's `repr()` of a bytes object.
fn py_bytes_repr(v: &[u8]) -> String {
    let quote = if v.contains(&b'\'') && !v.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = String::with_capacity(v.len() + 3);
    s.push('b');
    s.push(quote);
    for &b in v {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            _ if b as char == quote => {
                s.push('\\');
                s.push(quote);
            }
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push(quote);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fields: &[(&str, &[u8])]) -> JournalEntry {
        let mut e = JournalEntry {
            realtime_usec: 1_713_931_200_002_021,
            monotonic_usec: Some(5_000_000),
            ..Default::default()
        };
        for (k, v) in fields {
            e.push(k, v.to_vec());
        }
        e
    }

    #[test]
    fn sshd_line() {
        let e = entry(&[
            ("_HOSTNAME", b"h"),
            ("SYSLOG_IDENTIFIER", b"sshd"),
            ("_PID", b"42"),
            ("MESSAGE", b"a\nb"),
        ]);
        let (l, t) = format_journal_entry(&e, LogEncoding::Utf8);
        assert_eq!(l, "h sshd[42]: a\\nb");
        assert_eq!(t, 1_713_931_200.002021);
    }

    #[test]
    fn kernel_stamp_padded_like_printf() {
        let e = entry(&[
            ("SYSLOG_IDENTIFIER", b"kernel"),
            ("_SOURCE_MONOTONIC_TIMESTAMP", b"5123456789"),
            ("MESSAGE", b"x"),
        ]);
        assert_eq!(
            format_journal_entry(&e, LogEncoding::Utf8).0,
            "kernel: [ 5123.456789] x"
        );
        let e = entry(&[("SYSLOG_IDENTIFIER", b"kernel"), ("MESSAGE", b"x")]);
        assert_eq!(
            format_journal_entry(&e, LogEncoding::Utf8).0,
            "kernel: [    5.000000] x"
        );
    }

    #[test]
    fn stamps_like_python_int() {
        assert_eq!(py_int(b"5123456789"), Some(5_123_456_789));
        assert_eq!(py_int(b"007"), Some(7));
        assert_eq!(py_int(b" 7\n"), Some(7));
        assert_eq!(py_int(b"-7"), Some(-7));
        assert_eq!(py_int(b"1_000"), Some(1000));
        assert_eq!(py_int(b"1__0"), None);
        assert_eq!(
            py_int(b"123456789012345678901"),
            Some(123_456_789_012_345_678_901)
        );
        assert_eq!(py_int(b""), None);
        assert_eq!(py_int(b"12a"), None);
    }

    #[test]
    fn pid_like_python_int() {
        assert_eq!(pid_field(Some(b" 12 ")), Some("12".into()));
        assert_eq!(pid_field(Some(b"0")), None);
        assert_eq!(pid_field(Some(b"0x1f")), Some("31".into()));
        assert_eq!(pid_field(Some(b"1_0")), Some("10".into()));
        assert_eq!(pid_field(Some(b"ab'c")), Some("b\"ab'c\"".into()));
        assert_eq!(pid_field(Some(b"a\xff")), Some("b'a\\xff'".into()));
    }

    #[test]
    fn no_fields_gives_message_only() {
        let e = entry(&[("MESSAGE", b"m1"), ("MESSAGE", b"m2")]);
        assert_eq!(format_journal_entry(&e, LogEncoding::Utf8).0, "m1 m2");
        let e = entry(&[("_COMM", b"cron")]);
        assert_eq!(format_journal_entry(&e, LogEncoding::Utf8).0, "cron: ");
    }
}
