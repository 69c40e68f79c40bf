//! Hand-written scanner for the `EPOCH` / `LEPOCH` templates.
//!
//! fail2ban's epoch regex relies on look-behinds (a stamp at the start of the line, right after a
//! leading `[`, or inside `audit(...)` after a word boundary) that the `regex` crate lacks, and a
//! backtracking engine would try every position of every line. The rules are small enough to
//! scan directly. Its conditional tail (`]` after `[`, `:n)` after `audit(`) never rejects a
//! stamp, because the alternative without the condition always succeeds; so it is not checked.

use super::is_word_char;

/// Where an epoch stamp was found: the whole match and the stamp itself (they differ when the
/// line-start variant skips up to two non-word characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EpochHit {
    pub start: usize,
    pub value: (usize, usize),
}

/// Searches `text` (already cut at the search end) from byte `pos`.
pub(crate) fn find(text: &str, pos: usize, long: bool, line_begin: bool) -> Option<EpochHit> {
    if line_begin {
        if pos > 0 {
            return None;
        }
        // Up to two leading non-word characters are skipped, the longest skip being tried first.
        let mut offsets = vec![0usize];
        let mut it = text.char_indices();
        for _ in 0..2 {
            match it.next() {
                Some((i, c)) if !is_word_char(c) => offsets.push(i + c.len_utf8()),
                _ => break,
            }
        }
        return offsets.iter().rev().find_map(|&p| {
            stamp_end(text, p, long).map(|e| EpochHit {
                start: 0,
                value: (p, e),
            })
        });
    }
    let b = text.as_bytes();
    let try_at = |p: usize| {
        stamp_end(text, p, long).map(|e| EpochHit {
            start: p,
            value: (p, e),
        })
    };
    if pos == 0 {
        if let Some(h) = try_at(0) {
            return Some(h);
        }
    }
    if pos <= 1 && b.first() == Some(&b'[') {
        if let Some(h) = try_at(1) {
            return Some(h);
        }
    }
    let mut from = 0;
    while let Some(off) = memchr::memmem::find(&b[from..], b"audit(") {
        let s = from + off;
        from = s + 1;
        let p = s + 6;
        if p < pos
            || !text[..s]
                .chars()
                .next_back()
                .map_or(true, |c| !is_word_char(c))
        {
            continue;
        }
        if let Some(h) = try_at(p) {
            return Some(h);
        }
    }
    None
}

fn digits_from(b: &[u8], p: usize) -> usize {
    b.get(p..)
        .map_or(0, |s| s.iter().take_while(|c| c.is_ascii_digit()).count())
}

/// The end of a stamp starting at `p`, trying the alternatives in the order a backtracking
/// engine would; each candidate end must be followed by a non-word character or the end.
fn stamp_end(text: &str, p: usize, long: bool) -> Option<usize> {
    let b = text.as_bytes();
    let end_ok = |e: usize| text[e..].chars().next().map_or(true, |c| !is_word_char(c));
    let run = digits_from(b, p);
    for n1 in [11usize, 10] {
        if run < n1 {
            continue;
        }
        let a = p + n1;
        if !long {
            // `\b` right after the integral part.
            if !end_ok(a) {
                continue;
            }
            if b.get(a) == Some(&b'.') {
                let k = digits_from(b, a + 1);
                for m in (3..=k.min(6)).rev() {
                    if end_ok(a + 1 + m) {
                        return Some(a + 1 + m);
                    }
                }
            }
            if end_ok(a) {
                return Some(a);
            }
            continue;
        }
        if run >= n1 + 3 {
            let m3 = a + 3;
            if b.get(m3) == Some(&b'.') {
                let k = digits_from(b, m3 + 1);
                for m in (1..=k.min(6)).rev() {
                    if end_ok(m3 + 1 + m) {
                        return Some(m3 + 1 + m);
                    }
                }
            }
            if run >= n1 + 6 && end_ok(m3 + 3) {
                return Some(m3 + 3);
            }
            if end_ok(m3) {
                return Some(m3);
            }
        }
        if end_ok(a) {
            return Some(a);
        }
    }
    None
}

/// The epoch value of a stamp text, as fail2ban computes it.
pub(crate) fn value(v: &str, long: bool) -> Option<f64> {
    let x: f64 = v.parse().ok()?;
    if long && v.len() >= 13 {
        if v.len() >= 16 && !v.contains('.') {
            return Some(x / 1_000_000.0);
        }
        return Some(x / 1000.0);
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(text: &str, long: bool, lb: bool) -> Option<&str> {
        find(text, 0, long, lb).map(|h| &text[h.value.0..h.value.1])
    }

    #[test]
    fn short_epoch_positions() {
        assert_eq!(hit("1124013541 x", false, false), Some("1124013541"));
        assert_eq!(hit("[1124013541] x", false, false), Some("1124013541"));
        assert_eq!(
            hit("[1124013541.123456] x", false, false),
            Some("1124013541.123456")
        );
        assert_eq!(
            hit("type=X msg=audit(1124013541.123:45): x", false, false),
            Some("1124013541.123")
        );
        assert_eq!(hit("x 1124013541", false, false), None);
        assert_eq!(hit("xaudit(1124013541.123:45)", false, false), None);
        assert_eq!(hit("11240135411 x", false, false), Some("11240135411"));
        assert_eq!(hit("112401354111 x", false, false), None);
        // The fraction needs 3 to 6 digits and a non-word character after it.
        assert_eq!(hit("1124013541.12 x", false, false), Some("1124013541"));
        assert_eq!(
            hit("1124013541.1234567 x", false, false),
            Some("1124013541")
        );
        assert_eq!(hit("1124013541.123abc", false, false), Some("1124013541"));
        assert_eq!(hit("1124013541abc", false, false), None);
    }

    #[test]
    fn line_begin_epoch_skips_two_non_word_chars() {
        assert_eq!(hit("[[1124013541 x", false, true), Some("1124013541"));
        assert_eq!(hit("[ 1124013541 x", false, true), Some("1124013541"));
        assert_eq!(hit("[[[1124013541 x", false, true), None);
        assert_eq!(
            find("(1124013541)", 0, false, true).map(|h| h.start),
            Some(0)
        );
    }

    #[test]
    fn long_epoch_forms() {
        assert_eq!(hit("1124013541123 x", true, false), Some("1124013541123"));
        assert_eq!(
            hit("1124013541123456 x", true, false),
            Some("1124013541123456")
        );
        assert_eq!(
            hit("1124013541123.456 x", true, false),
            Some("1124013541123.456")
        );
        assert_eq!(hit("1124013541 x", true, false), Some("1124013541"));
        assert_eq!(value("1124013541123", true), Some(1124013541.123));
        assert_eq!(value("1124013541123456", true), Some(1124013541.123456));
        assert_eq!(value("1124013541123.5", true), Some(1124013541.1235));
        assert_eq!(value("1124013541.5", true), Some(1124013541.5));
    }
}
