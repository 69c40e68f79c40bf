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

use std::borrow::Cow;
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

/// The line fail2ban would hand to its filter for this entry, and the entry's time in seconds
/// since the epoch.
pub fn format_journal_entry(entry: &JournalEntry, enc: LogEncoding) -> (String, f64) {
    let mut parts: Vec<Cow<'_, str>> = Vec::with_capacity(4);
    if let Some(host) = entry.get("_HOSTNAME").filter(|v| !v.is_empty()) {
        parts.push(text(host, enc));
    }
    let ident = entry
        .get("SYSLOG_IDENTIFIER")
        .filter(|v| !v.is_empty())
        .or_else(|| entry.get("_COMM").filter(|v| !v.is_empty()));
    if let Some(ident) = ident {
        let mut tag = text(ident, enc).into_owned();
        let pid = pid_field(entry.get("SYSLOG_PID")).or_else(|| pid_field(entry.get("_PID")));
        if let Some(pid) = pid {
            tag.push('[');
            tag.push_str(&pid);
            tag.push(']');
        }
        tag.push(':');
        let is_kernel = tag == "kernel:";
        parts.push(Cow::Owned(tag));
        if is_kernel {
            let mono = entry
                .get("_SOURCE_MONOTONIC_TIMESTAMP")
                .and_then(py_int)
                .or_else(|| entry.monotonic_usec.map(i128::from))
                .unwrap_or(0);
            parts.push(Cow::Owned(format!("[{:>12}]", seconds_6(mono))));
        }
    }
    let mut message = String::new();
    for (i, v) in entry.all("MESSAGE").enumerate() {
        if i > 0 {
            message.push(' ');
        }
        message.push_str(&text(v, enc));
    }
    parts.push(Cow::Owned(message));
    let line = parts.join(" ");
    let line = if line.contains('\n') {
        line.replace('\n', "\\n")
    } else {
        line
    };
    (line, entry_time(entry))
}

/// The entry's time in seconds since the epoch (`_SOURCE_REALTIME_TIMESTAMP`, else the entry's
/// realtime stamp).
pub fn entry_time(entry: &JournalEntry) -> f64 {
    let usec = entry
        .get("_SOURCE_REALTIME_TIMESTAMP")
        .and_then(py_int)
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(entry.realtime_usec as i64);
    usec.div_euclid(1_000_000) as f64 + usec.rem_euclid(1_000_000) as f64 / 1e6
}

/// A text field: UTF-8 when valid, else the log encoding with replacement.
fn text(v: &[u8], enc: LogEncoding) -> Cow<'_, str> {
    match std::str::from_utf8(v) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => enc.decode(v),
    }
}

/// `usec` as seconds with six decimals, exactly (no float rounding on the way).
fn seconds_6(usec: i128) -> String {
    let sign = if usec < 0 { "-" } else { "" };
    let a = usec.unsigned_abs();
    format!("{sign}{}.{:06}", a / 1_000_000, a % 1_000_000)
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
