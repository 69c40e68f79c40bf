//! Required literals of a (Python-syntax) regex: substrings every match must contain. A line
//! that lacks one of them cannot match, which lets the filter skip it with a `memmem` scan
//! instead of running the date detector and the regex engines.
//!
//! Only the top level of the pattern is looked at (groups, classes and escapes with a meaning
//! end a literal run); a top-level `|` or a case-insensitive / verbose flag anywhere gives no
//! literals at all, which just means "cannot rule out".

use memchr::memmem::Finder;

/// Literals (at least 2 bytes) that every match of `py` contains; empty when none are known.
pub fn required(py: &str) -> Vec<String> {
    if has_global_flag(py) {
        return Vec::new();
    }
    let chars: Vec<char> = py.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut run = String::new();
    // whether the last item of `run` is a single char a quantifier could apply to
    let mut last_is_char = false;
    let flush = |run: &mut String, out: &mut Vec<String>| {
        if run.len() >= 2 {
            out.push(std::mem::take(run));
        } else {
            run.clear();
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Vec::new();
                };
                i += 2;
                let lit = match e {
                    'n' => Some('\n'),
                    't' => Some('\t'),
                    'r' => Some('\r'),
                    'f' => Some('\u{c}'),
                    'v' => Some('\u{b}'),
                    'a' => Some('\u{7}'),
                    e if e.is_ascii_alphanumeric() => None,
                    e => Some(e),
                };
                match lit {
                    Some(l) => {
                        run.push(l);
                        last_is_char = true;
                    }
                    None => {
                        flush(&mut run, &mut out);
                        last_is_char = false;
                    }
                }
                continue;
            }
            '[' => {
                i = skip_class(&chars, i);
                flush(&mut run, &mut out);
                last_is_char = false;
                continue;
            }
            '(' => {
                i = skip_group(&chars, i);
                flush(&mut run, &mut out);
                last_is_char = false;
                continue;
            }
            '|' => return Vec::new(),
            '*' | '?' => {
                if last_is_char {
                    run.pop();
                }
                flush(&mut run, &mut out);
                last_is_char = false;
            }
            '{' if is_repeat(&chars, i) => {
                if last_is_char {
                    run.pop();
                }
                flush(&mut run, &mut out);
                last_is_char = false;
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
            }
            '+' | '.' | '^' | '$' => {
                flush(&mut run, &mut out);
                last_is_char = false;
            }
            c => {
                run.push(c);
                last_is_char = true;
            }
        }
        i += 1;
    }
    flush(&mut run, &mut out);
    out
}

/// `(?i)`, `(?x)` (alone or with other flags) anywhere: literals could not be compared as bytes.
fn has_global_flag(py: &str) -> bool {
    let b = py.as_bytes();
    let mut i = 0;
    while i + 2 < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'(' && b[i + 1] == b'?' {
            let mut j = i + 2;
            let mut flags = false;
            while j < b.len() && (b[j].is_ascii_alphabetic() || b[j] == b'-') {
                if b[j] == b'i' || b[j] == b'x' {
                    flags = true;
                }
                j += 1;
            }
            if flags && j < b.len() && (b[j] == b')' || b[j] == b':') && b[i + 2] != b'P' {
                return true;
            }
        }
        i += 1;
    }
    false
}

fn is_repeat(chars: &[char], i: usize) -> bool {
    let mut j = i + 1;
    let mut digits = 0;
    while j < chars.len() && chars[j].is_ascii_digit() {
        j += 1;
        digits += 1;
    }
    if j < chars.len() && chars[j] == ',' {
        j += 1;
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
            digits += 1;
        }
    }
    digits > 0 && j < chars.len() && chars[j] == '}'
}

/// Index just after the class starting at `i`.
fn skip_class(chars: &[char], i: usize) -> usize {
    let mut j = i + 1;
    if chars.get(j) == Some(&'^') {
        j += 1;
    }
    if chars.get(j) == Some(&']') {
        j += 1;
    }
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 2,
            ']' => return j + 1,
            _ => j += 1,
        }
    }
    chars.len()
}

/// Index just after the group starting at `i` (nested groups and classes skipped).
fn skip_group(chars: &[char], i: usize) -> usize {
    let mut depth = 0usize;
    let mut j = i;
    while j < chars.len() {
        match chars[j] {
            '\\' => {
                j += 2;
                continue;
            }
            '[' => {
                j = skip_class(chars, j);
                continue;
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    chars.len()
}

/// Substring finders for one regex's required literals.
///
/// The regexes run on the line with its date cut out, and the cut can join two pieces into a
/// literal that the raw line does not contain (`[` + date + `]` gives `[]` in apache filters).
/// Any such join puts at least the first or the last half of the literal, whole, on one side of
/// the cut; so a literal is certainly absent from the cut text when neither its first half
/// (rounded up) nor its last half (rounded up) occurs in the raw line.
#[derive(Debug, Clone)]
pub struct Prefilter {
    halves: Vec<(Finder<'static>, Finder<'static>)>,
}

impl Prefilter {
    pub fn new(py: &str) -> Prefilter {
        let halves = required(py)
            .iter()
            .map(|l| {
                let b = l.as_bytes();
                let m = b.len().div_ceil(2);
                (
                    Finder::new(&b[..m]).into_owned(),
                    Finder::new(&b[b.len() - m..]).into_owned(),
                )
            })
            .collect();
        Prefilter { halves }
    }
    /// False only when `line` (raw, date not cut out) certainly cannot match.
    pub fn may_match(&self, line: &[u8]) -> bool {
        self.halves
            .iter()
            .all(|(head, tail)| head.find(line).is_some() || tail.find(line).is_some())
    }
    /// Whether this prefilter can ever rule a line out.
    pub fn is_selective(&self) -> bool {
        !self.halves.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_runs() {
        assert_eq!(
            required(r"PORT DENIED: .* SRC=(?P<ip4>x)"),
            ["PORT DENIED: ", " SRC="]
        );
        assert_eq!(
            required(r"^\[UFW (?:ALLOW|BLOCK)\] IN= .*?DPT=\d+"),
            ["[UFW ", "] IN= ", "DPT="]
        );
        assert_eq!(required(r"abc?d"), ["ab"]);
        assert_eq!(required(r"ab+cd"), ["ab", "cd"]);
        assert_eq!(required(r"xy{2}z\.w"), ["z.w"]);
        assert_eq!(required(r"a\d\sfoo[bar]baz"), ["foo", "baz"]);
    }

    #[test]
    fn no_literals_when_unsafe() {
        assert!(required(r"foo|bar").is_empty());
        assert!(required(r"(?i)foo bar").is_empty());
        assert!(required(r"x (?i)foo bar").is_empty());
        assert!(!required(r"(?P<x>a)foo bar").is_empty());
        assert!(required(r"(?x) foo bar").is_empty());
    }

    #[test]
    fn prefilter() {
        let p = Prefilter::new(r"PORT DENIED: .* SRC=\S+");
        assert!(p.may_match(b"kernel: PORT DENIED: IN=eth0 SRC=1.2.3.4"));
        assert!(!p.may_match(b"kernel: PORT ALLOWED: IN=eth0 SRC=1.2.3.4"));
        assert!(!Prefilter::new(r"^\S+ \d+").is_selective());
        // a literal the date cut creates: `[` DATE `]` -> `[]`
        let p = Prefilter::new(r"^\[\]\s\[error\] \[client \S+\] denied");
        assert!(p.may_match(b"[Wed Jul 17 23:20:45 2013] [error] [client 127.0.0.1] denied"));
        let p = Prefilter::new(r"^FOO BARBAZ x");
        assert!(
            p.may_match(b"FOO B2013-01-01ARBAZ x"),
            "straddling the cut is kept"
        );
        assert!(!p.may_match(b"FOO XBAR BAZ y"));
    }
}
