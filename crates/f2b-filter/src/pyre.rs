//! Python `re` syntax -> Rust `regex` / `fancy-regex` syntax.
//!
//! fail2ban filters are written for Python's `re` module. Most of the syntax is shared with the Rust
//! engines, but a handful of constructs mean something else (or are errors) on one side. This module
//! rewrites a Python pattern into an equivalent pattern accepted by `regex` (when it needs no
//! backtracking features) or by `fancy-regex` (backreferences, lookaround, conditionals).
//!
//! Handled differences:
//! * `\<`, `\>` are plain characters in Python but word boundaries in Rust;
//! * `[` inside a class is literal in Python, a nested class in Rust; `&&`, `--`, `~~` are set
//!   operators in Rust classes;
//! * `]` right after `[` or `[^` is a literal in Python;
//! * `{,n}` means `{0,n}` in Python; a `{` that does not start a valid repeat is a literal;
//! * `\Z` is Rust's `\z`; `$` without MULTILINE also matches before a final newline (we emit
//!   `(?m:$)`, which is exact for the single-line buffers fail2ban searches);
//! * `(?P=name)` becomes `\k<name>`, `(?(name)yes|no)` becomes `(?(<name>)yes|no)`;
//! * `(?#...)` comments are dropped; the `u` flag is dropped (Unicode is the default);
//! * global flags in the middle of a pattern (`.*(?i)/.*`) apply to the whole pattern, as in
//!   Python before 3.11: they are moved to the front and reported in [`Translation::warnings`];
//! * octal, `\x`, `\u`, `\U` escapes become `\x{..}`; `\b` inside a class is a backspace.

use std::fmt::Write as _;

/// Why a Python pattern cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PyReError {
    #[error("bad escape \\{ch} at position {pos}")]
    BadEscape { ch: char, pos: usize },
    #[error("unterminated character set at position {pos}")]
    UnterminatedSet { pos: usize },
    #[error("missing ), unterminated subpattern at position {pos}")]
    UnterminatedGroup { pos: usize },
    #[error("unbalanced parenthesis at position {pos}")]
    UnbalancedParen { pos: usize },
    #[error("unknown extension ?{ext} at position {pos}")]
    UnknownExtension { ext: String, pos: usize },
    #[error("bad character in group name {name:?} at position {pos}")]
    BadGroupName { name: String, pos: usize },
    #[error("pattern ends with a trailing backslash")]
    TrailingBackslash,
    #[error("unsupported flag {flag:?} at position {pos}")]
    BadFlag { flag: char, pos: usize },
    #[error("invalid group reference {group} at position {pos}")]
    InvalidGroupReference { group: String, pos: usize },
    #[error("unknown group name {name:?} at position {pos}")]
    UnknownGroupName { name: String, pos: usize },
}

/// A translated pattern plus notes about constructs whose meaning was adjusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    pub pattern: String,
    pub warnings: Vec<String>,
}

/// Translates a Python `re` pattern into Rust regex syntax (see the module doc).
pub fn translate(py: &str) -> Result<String, PyReError> {
    translate_full(py).map(|t| t.pattern)
}

/// Like [`translate`], also returning warnings (hoisted global flags).
pub fn translate_full(py: &str) -> Result<Translation, PyReError> {
    translate_with(py, false)
}

/// A pattern without lookaround, conditionals, backreferences or atomic groups that matches
/// at least wherever `py` matches (lookarounds dropped, `(?(c)a|b)` -> `(?:a|b)`, backreferences
/// -> any text). Used as a cheap necessary condition, never for results.
pub fn translate_superset(py: &str) -> Result<String, PyReError> {
    translate_with(py, true).map(|t| t.pattern)
}

fn translate_with(py: &str, superset: bool) -> Result<Translation, PyReError> {
    let mut t = Translator {
        src: py.chars().collect(),
        pos: 0,
        out: String::with_capacity(py.len() + 16),
        depth: 0,
        global_flags: String::new(),
        warnings: Vec::new(),
        verbose: false,
        group_stack: Vec::new(),
        superset,
        captures: 0,
        names: Vec::new(),
        numbered_refs: Vec::new(),
    };
    t.run()?;
    let mut pattern = String::with_capacity(t.out.len() + 8);
    if !t.global_flags.is_empty() {
        let _ = write!(pattern, "(?{})", t.global_flags);
    }
    pattern.push_str(&t.out);
    Ok(Translation {
        pattern,
        warnings: t.warnings,
    })
}

/// Characters that must be escaped to stand for themselves outside a class in Rust syntax.
fn is_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

fn push_literal(out: &mut String, c: char) {
    if is_meta(c) {
        out.push('\\');
        out.push(c);
    } else if c == ' ' {
        // Escaped so that a `(?x)` flag (ours or the author's) cannot swallow it.
        out.push_str("\\x20");
    } else {
        out.push(c);
    }
}

fn push_codepoint(out: &mut String, cp: u32) {
    match char::from_u32(cp) {
        Some(c) if c.is_ascii_alphanumeric() || c == '_' => out.push(c),
        _ => {
            let _ = write!(out, "\\x{{{cp:X}}}");
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum GroupKind {
    Plain,
    Conditional,
}

struct Translator {
    src: Vec<char>,
    pos: usize,
    out: String,
    depth: usize,
    global_flags: String,
    warnings: Vec<String>,
    verbose: bool,
    group_stack: Vec<GroupKind>,
    superset: bool,
    /// Capturing groups opened so far, and the names among them: a conditional must name a
    /// group that exists, as Python refuses the pattern otherwise (and the regex engine would
    /// fail on it only at match time).
    captures: usize,
    names: Vec<String>,
    /// Numbered conditionals (group, position), checked against the final group count.
    numbered_refs: Vec<(usize, usize)>,
}

impl Translator {
    /// Skips the group whose `(` is at `start` (nested groups, classes and escapes respected).
    fn skip_group_from(&mut self, start: usize) -> Result<(), PyReError> {
        let mut depth = 0usize;
        let mut i = start;
        while i < self.src.len() {
            match self.src[i] {
                '\\' => {
                    i += 2;
                    continue;
                }
                '[' => {
                    i += 1;
                    if self.src.get(i) == Some(&'^') {
                        i += 1;
                    }
                    if self.src.get(i) == Some(&']') {
                        i += 1;
                    }
                    while i < self.src.len() && self.src[i] != ']' {
                        if self.src[i] == '\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                }
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos = i + 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Err(PyReError::UnterminatedGroup { pos: start })
    }

    fn peek(&self) -> Option<char> {
        self.src.get(self.pos).copied()
    }
    fn peek_at(&self, off: usize) -> Option<char> {
        self.src.get(self.pos + off).copied()
    }
    fn starts_with(&self, s: &str) -> bool {
        let mut i = self.pos;
        for c in s.chars() {
            if self.src.get(i) != Some(&c) {
                return false;
            }
            i += 1;
        }
        true
    }

    /// True while nothing but global-flag groups has been emitted: flags there are "at the start".
    fn at_start(&self) -> bool {
        self.out.is_empty()
    }

    fn run(&mut self) -> Result<(), PyReError> {
        while let Some(c) = self.peek() {
            match c {
                '\\' => self.escape_outside()?,
                '[' => self.class()?,
                '(' => self.group_open()?,
                ')' => {
                    if self.group_stack.pop().is_none() {
                        return Err(PyReError::UnbalancedParen { pos: self.pos });
                    }
                    self.depth -= 1;
                    self.out.push(')');
                    self.pos += 1;
                }
                '{' => self.brace(),
                '}' => {
                    self.out.push_str("\\}");
                    self.pos += 1;
                }
                '$' => {
                    self.out.push_str("(?m:$)");
                    self.pos += 1;
                }
                '#' if self.verbose => {
                    // comment up to the end of the line
                    while let Some(c) = self.peek() {
                        self.pos += 1;
                        if c == '\n' {
                            break;
                        }
                    }
                }
                c if self.verbose && c.is_whitespace() => self.pos += 1,
                '&' | '~' | '-' | '#' | ']' | ' ' => {
                    push_literal(&mut self.out, c);
                    self.pos += 1;
                }
                _ => {
                    self.out.push(c);
                    self.pos += 1;
                }
            }
        }
        if !self.group_stack.is_empty() {
            return Err(PyReError::UnterminatedGroup {
                pos: self.src.len(),
            });
        }
        if let Some(&(group, pos)) = self
            .numbered_refs
            .iter()
            .find(|(g, _)| *g == 0 || *g > self.captures)
        {
            return Err(PyReError::InvalidGroupReference {
                group: group.to_string(),
                pos,
            });
        }
        Ok(())
    }

    /// `{` starts a repeat only when followed by `m}`, `m,}`, `,n}`, `m,n}` or `,}`.
    fn brace(&mut self) {
        let start = self.pos;
        let mut i = start + 1;
        let mut lo = String::new();
        while let Some(c) = self.src.get(i).filter(|c| c.is_ascii_digit()) {
            lo.push(*c);
            i += 1;
        }
        let mut hi: Option<String> = None;
        if self.src.get(i) == Some(&',') {
            i += 1;
            let mut h = String::new();
            while let Some(c) = self.src.get(i).filter(|c| c.is_ascii_digit()) {
                h.push(*c);
                i += 1;
            }
            hi = Some(h);
        }
        let closes = self.src.get(i) == Some(&'}');
        let empty = lo.is_empty() && hi.is_none();
        if !closes || empty {
            self.out.push_str("\\{");
            self.pos += 1;
            return;
        }
        let lo = if lo.is_empty() { "0".to_string() } else { lo };
        match hi {
            None => {
                let _ = write!(self.out, "{{{lo}}}");
            }
            Some(h) if h.is_empty() => {
                let _ = write!(self.out, "{{{lo},}}");
            }
            Some(h) => {
                let _ = write!(self.out, "{{{lo},{h}}}");
            }
        }
        self.pos = i + 1;
    }

    fn read_name(&mut self, term: char) -> Result<String, PyReError> {
        let start = self.pos;
        let mut name = String::new();
        loop {
            match self.peek() {
                Some(c) if c == term => {
                    self.pos += 1;
                    break;
                }
                Some(c) => {
                    name.push(c);
                    self.pos += 1;
                }
                None => return Err(PyReError::UnterminatedGroup { pos: start }),
            }
        }
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !valid {
            return Err(PyReError::BadGroupName { name, pos: start });
        }
        Ok(name)
    }

    fn push_group(&mut self, kind: GroupKind) {
        self.group_stack.push(kind);
        self.depth += 1;
    }

    fn group_open(&mut self) -> Result<(), PyReError> {
        let start = self.pos;
        if self.peek_at(1) != Some('?') {
            self.out.push('(');
            self.pos += 1;
            self.captures += 1;
            self.push_group(GroupKind::Plain);
            return Ok(());
        }
        self.pos += 2; // "(?"
        if self.starts_with("P<") {
            self.pos += 2;
            let name = self.read_name('>')?;
            let _ = write!(self.out, "(?P<{name}>");
            self.captures += 1;
            self.names.push(name);
            self.push_group(GroupKind::Plain);
            return Ok(());
        }
        if self.starts_with("P=") {
            self.pos += 2;
            let name = self.read_name(')')?;
            if self.superset {
                self.out.push_str("(?s:.*?)");
            } else {
                let _ = write!(self.out, "\\k<{name}>");
            }
            return Ok(());
        }
        if self.superset {
            for look in ["=", "!", "<=", "<!"] {
                if self.starts_with(look) {
                    // a zero-width condition: leaving it out only widens the matches
                    return self.skip_group_from(start);
                }
            }
            if self.starts_with(">") {
                self.pos += 1;
                self.out.push_str("(?:");
                self.push_group(GroupKind::Plain);
                return Ok(());
            }
        }
        if self.starts_with("P") {
            return Err(PyReError::UnknownExtension {
                ext: "P".into(),
                pos: start,
            });
        }
        if self.starts_with("#") {
            while let Some(c) = self.peek() {
                self.pos += 1;
                if c == ')' {
                    return Ok(());
                }
            }
            return Err(PyReError::UnterminatedGroup { pos: start });
        }
        for lead in [":", "=", "!", "<=", "<!", ">"] {
            if self.starts_with(lead) {
                self.pos += lead.len();
                self.out.push_str("(?");
                self.out.push_str(lead);
                self.push_group(GroupKind::Plain);
                return Ok(());
            }
        }
        if self.starts_with("<") {
            // `(?<name>...)`: accepted by Python 3.12+, same meaning in Rust.
            self.pos += 1;
            let name = self.read_name('>')?;
            let _ = write!(self.out, "(?P<{name}>");
            self.captures += 1;
            self.names.push(name);
            self.push_group(GroupKind::Plain);
            return Ok(());
        }
        if self.starts_with("(") {
            self.pos += 1;
            let cond_start = self.pos;
            let name = self.read_name_or_number(')')?;
            if let Ok(group) = name.parse::<usize>() {
                self.numbered_refs.push((group, cond_start));
            } else if !self.names.contains(&name) {
                return Err(PyReError::UnknownGroupName {
                    name,
                    pos: cond_start,
                });
            }
            if self.superset {
                self.out.push_str("(?:");
            } else if name.chars().all(|c| c.is_ascii_digit()) {
                let _ = write!(self.out, "(?({name})");
            } else {
                let _ = write!(self.out, "(?(<{name}>)");
            }
            let _ = cond_start;
            self.push_group(GroupKind::Conditional);
            return Ok(());
        }
        // flags: (?aiLmsux) global, or (?aiLmsux-imsx:...) scoped
        let mut on = String::new();
        let mut off = String::new();
        let mut neg = false;
        loop {
            let Some(c) = self.peek() else {
                return Err(PyReError::UnterminatedGroup { pos: start });
            };
            self.pos += 1;
            match c {
                'i' | 'm' | 's' | 'x' | 'a' | 'u' | 'L' => {
                    if c == 'L' {
                        return Err(PyReError::BadFlag {
                            flag: c,
                            pos: self.pos - 1,
                        });
                    }
                    if neg {
                        off.push(c)
                    } else {
                        on.push(c)
                    }
                }
                '-' => neg = true,
                ')' if !neg => {
                    self.global(on, start);
                    return Ok(());
                }
                ':' => {
                    let on: String = on.chars().filter(|c| !matches!(c, 'u' | 'a')).collect();
                    let off: String = off.chars().filter(|c| !matches!(c, 'u' | 'a')).collect();
                    self.out.push_str("(?");
                    self.out.push_str(&on);
                    if !off.is_empty() {
                        self.out.push('-');
                        self.out.push_str(&off);
                    }
                    self.out.push(':');
                    self.push_group(GroupKind::Plain);
                    return Ok(());
                }
                other => {
                    return Err(PyReError::UnknownExtension {
                        ext: other.to_string(),
                        pos: start,
                    });
                }
            }
        }
    }

    fn read_name_or_number(&mut self, term: char) -> Result<String, PyReError> {
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            let start = self.pos;
            let mut n = String::new();
            while let Some(c) = self.peek() {
                self.pos += 1;
                if c == term {
                    return Ok(n);
                }
                if !c.is_ascii_digit() {
                    return Err(PyReError::BadGroupName {
                        name: n,
                        pos: start,
                    });
                }
                n.push(c);
            }
            return Err(PyReError::UnterminatedGroup { pos: start });
        }
        self.read_name(term)
    }

    fn global(&mut self, flags: String, start: usize) {
        if flags.contains('x') {
            self.verbose = true;
        }
        let flags: String = flags.chars().filter(|c| !matches!(c, 'u' | 'a')).collect();
        if !self.at_start() {
            self.warnings.push(format!(
                "global flags (?{flags}) not at the start of the expression (position {start}): applied to the whole pattern"
            ));
        }
        for f in flags.chars() {
            if !self.global_flags.contains(f) {
                self.global_flags.push(f);
            }
        }
    }

    fn escape_outside(&mut self) -> Result<(), PyReError> {
        let pos = self.pos;
        let Some(c) = self.peek_at(1) else {
            return Err(PyReError::TrailingBackslash);
        };
        self.pos += 2;
        match c {
            'A' | 'b' | 'B' | 'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                self.out.push('\\');
                self.out.push(c);
            }
            'Z' => self.out.push_str("\\z"),
            '0'..='9' => {
                if let Some(cp) = self.octal(c) {
                    push_codepoint(&mut self.out, cp);
                } else {
                    // backreference \N or \NN
                    let mut n = c.to_string();
                    if let Some(d) = self.peek().filter(|d| d.is_ascii_digit()) {
                        n.push(d);
                        self.pos += 1;
                    }
                    if self.superset {
                        self.out.push_str("(?s:.*?)");
                    } else {
                        let _ = write!(self.out, "\\{n}");
                    }
                }
            }
            _ => self.common_escape(c, pos, false)?,
        }
        Ok(())
    }

    /// Octal escape rules: `\0`, `\0o`, `\0oo` or three octal digits; `c` already consumed.
    fn octal(&mut self, c: char) -> Option<u32> {
        let is_oct = |d: Option<char>| d.is_some_and(|d| ('0'..='7').contains(&d));
        if c == '0' {
            let mut v = 0u32;
            for _ in 0..2 {
                if is_oct(self.peek()) {
                    v = v * 8 + self.peek().and_then(|d| d.to_digit(8)).unwrap_or(0);
                    self.pos += 1;
                } else {
                    break;
                }
            }
            return Some(v);
        }
        if ('0'..='7').contains(&c) && is_oct(self.peek()) && is_oct(self.peek_at(1)) {
            let d1 = self.peek().and_then(|d| d.to_digit(8)).unwrap_or(0);
            let d2 = self.peek_at(1).and_then(|d| d.to_digit(8)).unwrap_or(0);
            self.pos += 2;
            return Some(c.to_digit(8).unwrap_or(0) * 64 + d1 * 8 + d2);
        }
        None
    }

    fn hex(&mut self, n: usize, ch: char, pos: usize) -> Result<u32, PyReError> {
        let mut v = 0u32;
        for _ in 0..n {
            let d = self
                .peek()
                .and_then(|d| d.to_digit(16))
                .ok_or(PyReError::BadEscape { ch, pos })?;
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }

    /// Escapes valid both inside and outside classes.
    fn common_escape(&mut self, c: char, pos: usize, in_class: bool) -> Result<(), PyReError> {
        match c {
            'n' | 't' | 'r' | 'f' | 'v' | 'a' => {
                self.out.push('\\');
                self.out.push(c);
            }
            'x' => {
                let v = self.hex(2, c, pos)?;
                push_codepoint_ctx(&mut self.out, v, in_class);
            }
            'u' => {
                let v = self.hex(4, c, pos)?;
                push_codepoint_ctx(&mut self.out, v, in_class);
            }
            'U' => {
                let v = self.hex(8, c, pos)?;
                push_codepoint_ctx(&mut self.out, v, in_class);
            }
            c if c.is_ascii_alphanumeric() => return Err(PyReError::BadEscape { ch: c, pos }),
            c => {
                if in_class {
                    push_class_literal(&mut self.out, c);
                } else {
                    push_literal(&mut self.out, c);
                }
            }
        }
        Ok(())
    }

    fn class(&mut self) -> Result<(), PyReError> {
        let start = self.pos;
        self.pos += 1;
        self.out.push('[');
        if self.peek() == Some('^') {
            self.out.push('^');
            self.pos += 1;
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(PyReError::UnterminatedSet { pos: start });
            };
            match c {
                ']' if !first => {
                    self.out.push(']');
                    self.pos += 1;
                    return Ok(());
                }
                '\\' => {
                    let pos = self.pos;
                    let Some(e) = self.peek_at(1) else {
                        return Err(PyReError::UnterminatedSet { pos: start });
                    };
                    self.pos += 2;
                    match e {
                        'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                            self.out.push('\\');
                            self.out.push(e);
                        }
                        'b' => self.out.push_str("\\x08"),
                        '0'..='7' => {
                            let v = if e == '0' {
                                self.octal(e)
                            } else {
                                self.class_octal(e)
                            };
                            push_codepoint_ctx(&mut self.out, v.unwrap_or(0), true);
                        }
                        _ => self.common_escape(e, pos, true)?,
                    }
                }
                '-' => {
                    // A range dash sits between two members; elsewhere it is literal.
                    let prev_is_member =
                        !first && !self.out.ends_with('[') && !self.out.ends_with("[^");
                    let next_closes = self.peek_at(1) == Some(']');
                    if prev_is_member && !next_closes {
                        self.out.push('-');
                    } else {
                        self.out.push_str("\\-");
                    }
                    self.pos += 1;
                }
                _ => {
                    push_class_literal(&mut self.out, c);
                    self.pos += 1;
                }
            }
            first = false;
        }
    }

    fn class_octal(&mut self, c: char) -> Option<u32> {
        // In a class, `\1`..`\7` followed by octal digits is an octal escape (up to 3 digits).
        let mut v = c.to_digit(8)?;
        for _ in 0..2 {
            match self.peek().and_then(|d| d.to_digit(8)) {
                Some(d) => {
                    v = v * 8 + d;
                    self.pos += 1;
                }
                None => break,
            }
        }
        Some(v)
    }
}

fn push_class_literal(out: &mut String, c: char) {
    if matches!(c, '[' | ']' | '\\' | '^' | '&' | '~' | '-') {
        out.push('\\');
        out.push(c);
    } else if c == ' ' {
        out.push_str("\\x20");
    } else {
        out.push(c);
    }
}

fn push_codepoint_ctx(out: &mut String, cp: u32, _in_class: bool) {
    push_codepoint(out, cp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(p: &str) -> String {
        translate(p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn rust_match(py: &str, hay: &str) -> Option<String> {
        let re =
            fancy_regex::Regex::new(&tr(py)).unwrap_or_else(|e| panic!("{py} -> {}: {e}", tr(py)));
        re.find(hay).ok().flatten().map(|m| m.as_str().to_string())
    }

    #[test]
    fn angle_escapes_are_literal() {
        assert_eq!(
            rust_match(r"\<HOST\>", "a <HOST> b").as_deref(),
            Some("<HOST>")
        );
    }

    #[test]
    fn bracket_inside_class_is_literal() {
        assert_eq!(rust_match(r"[[a]+", "x[a[b").as_deref(), Some("[a["));
        assert_eq!(rust_match(r"[]x]+", "a]x]b").as_deref(), Some("]x]"));
        assert_eq!(rust_match(r"[^]]+", "]]ab]").as_deref(), Some("ab"));
        assert_eq!(rust_match(r"[a&&b]+", "c&&ab").as_deref(), Some("&&ab"));
        assert_eq!(rust_match(r"[\w.-]+", "  a-b.c ").as_deref(), Some("a-b.c"));
        assert_eq!(rust_match(r"[-a]+", "x-a-").as_deref(), Some("-a-"));
    }

    #[test]
    fn braces() {
        assert_eq!(rust_match(r"a{,2}", "aaa").as_deref(), Some("aa"));
        assert_eq!(rust_match(r"x{foo}", "x{foo}").as_deref(), Some("x{foo}"));
        assert_eq!(rust_match(r"a{}", "a{}").as_deref(), Some("a{}"));
        assert_eq!(rust_match(r"b{2,}", "bbbb").as_deref(), Some("bbbb"));
        assert_eq!(rust_match(r"\d{1,3}", "12345").as_deref(), Some("123"));
    }

    #[test]
    fn named_groups_backrefs_and_conditionals() {
        assert_eq!(
            rust_match(r"(?P<q>['x])a(?P=q)", "'a' xax").as_deref(),
            Some("'a'")
        );
        let p = r"(?P<br>\[)?id(?(br)\]|:)";
        assert_eq!(rust_match(p, "[id]").as_deref(), Some("[id]"));
        assert_eq!(rust_match(p, "id:").as_deref(), Some("id:"));
        assert_eq!(rust_match(p, "id]"), None);
    }

    #[test]
    fn end_anchors() {
        // `$` also matches before a final newline, `\Z` only at the very end.
        assert_eq!(rust_match(r"foo$", "foo\n").as_deref(), Some("foo"));
        assert_eq!(rust_match(r"foo\Z", "foo\n"), None);
        assert_eq!(rust_match(r"foo\Z", "foo").as_deref(), Some("foo"));
    }

    #[test]
    fn mid_pattern_global_flags_apply_everywhere() {
        let t = translate_full(r".*(?i)/admin.*").unwrap();
        assert_eq!(t.warnings.len(), 1);
        assert_eq!(
            rust_match(r"GET (?i)/admin", "get /ADMIN").as_deref(),
            Some("get /ADMIN")
        );
        assert!(translate_full("(?i)abc").unwrap().warnings.is_empty());
    }

    #[test]
    fn comments_flags_and_escapes() {
        assert_eq!(rust_match(r"a(?#note)b", "ab").as_deref(), Some("ab"));
        assert_eq!(
            rust_match(r"(?u)\x41\u0042\101", "ABA").as_deref(),
            Some("ABA")
        );
        assert_eq!(rust_match(r"(?i:ab)c", "ABc").as_deref(), Some("ABc"));
        assert_eq!(rust_match(r"\d+", "x٣4").as_deref(), Some("٣4"));
        assert_eq!(
            rust_match(r"a\ b\-c\/d\:\=", "a b-c/d:=").as_deref(),
            Some("a b-c/d:=")
        );
        assert_eq!(rust_match(r"[\b]", "\u{8}").as_deref(), Some("\u{8}"));
    }

    #[test]
    fn lookbehind_passes_through() {
        assert_eq!(rust_match(r"(?<=:):", "a::").as_deref(), Some(":"));
        assert_eq!(rust_match(r"(?<!x)y", "xyay").as_deref(), Some("y"));
    }

    #[test]
    fn superset_drops_backtracking_features() {
        let p = translate_superset(r"^(?P<a>x)(?!y)(?(a)b|c)(?P=a)(?<=b)(?>z)$").unwrap();
        let re = regex::Regex::new(&p).expect("plain regex syntax");
        assert!(re.is_match("xbxz"));
        assert!(
            re.is_match("xcqz"),
            "superset also matches what the original rejects"
        );
    }

    #[test]
    fn errors() {
        assert!(matches!(
            translate(r"\q"),
            Err(PyReError::BadEscape { ch: 'q', .. })
        ));
        assert!(matches!(
            translate(r"[abc"),
            Err(PyReError::UnterminatedSet { .. })
        ));
        assert!(matches!(
            translate(r"(abc"),
            Err(PyReError::UnterminatedGroup { .. })
        ));
        assert!(matches!(
            translate(r"abc)"),
            Err(PyReError::UnbalancedParen { .. })
        ));
        assert!(translate("abc\\").is_err());
    }
}

#[cfg(test)]
mod group_reference_tests {
    use super::*;

    #[test]
    fn conditionals_must_name_an_existing_group() {
        assert!(matches!(
            translate("(?(2)Y|,c)"),
            Err(PyReError::InvalidGroupReference { .. })
        ));
        assert!(matches!(
            translate("(a)(?(0)b|c)"),
            Err(PyReError::InvalidGroupReference { .. })
        ));
        assert!(matches!(
            translate("(?(x)b|c)(?P<x>a)"),
            Err(PyReError::UnknownGroupName { .. })
        ));
        assert!(translate("(a)?(?(1)b|c)").is_ok());
        assert!(translate("(?(2)b|c)(a)(d)").is_ok());
        assert!(translate("(?P<x>a)?(?(x)b|c)").is_ok());
    }
}
