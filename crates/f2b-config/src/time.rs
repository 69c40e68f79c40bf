//! fail2ban time strings (`10m`, `1h 30m`, `1y-6mo`, `-1`, plain seconds) to seconds.
//!
//! fail2ban rewrites the string into an arithmetic expression and evaluates it: every unit
//! abbreviation becomes a multiplication, numbers that stand next to each other separated only by
//! blanks are added, and the rest must be a valid arithmetic expression. We do the same rewrite
//! and evaluate the expression with a small parser, so `1h30m`, `1hour+30min`, `2*1h` and `1d-1h`
//! all give what fail2ban gives, and strings fail2ban rejects (`1 2 3`, `5x`, `08`) are errors.

use thiserror::Error;

/// Why a time string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    #[error("empty time value")]
    Empty,
    #[error("invalid time value {value:?}: {reason}")]
    Invalid { value: String, reason: String },
}

/// Seconds per unit, in the order fail2ban tries the unit words. A month is a twelfth of the mean
/// year of 365.25 days (so `1mo` = 30.4375 days), and `m` means minutes, not months.
const UNITS: &[(&[&str], Num)] = &[
    (&["days", "day", "da", "dd", "d"], Num::Int(86_400)),
    (
        &["weeks", "week", "wee", "we", "ww", "w"],
        Num::Int(604_800),
    ),
    (&["months", "month", "mon", "mo"], Num::Float(2_629_800.0)),
    (
        &["years", "year", "yea", "ye", "yy", "y"],
        Num::Float(31_557_600.0),
    ),
    (&["seconds", "second", "sec", "se", "ss", "s"], Num::Int(1)),
    (&["minutes", "minute", "min", "mi", "mm", "m"], Num::Int(60)),
    (&["hours", "hour", "hou", "ho", "hh", "h"], Num::Int(3_600)),
];

/// Parse a fail2ban time string to seconds (`-1` means "forever" for bantime).
pub fn parse_time(s: &str) -> Result<f64, TimeError> {
    let invalid = |reason: &str| TimeError::Invalid {
        value: s.to_string(),
        reason: reason.to_string(),
    };
    if s.trim().is_empty() {
        return Err(TimeError::Empty);
    }
    let expr = rewrite(s);
    let toks = tokenize(&expr).map_err(|r| invalid(&r))?;
    let mut p = ExprParser {
        toks: &toks,
        pos: 0,
    };
    let v = p.expr().map_err(|r| invalid(&r))?;
    if p.pos != toks.len() {
        return Err(invalid("unexpected text after expression"));
    }
    match v {
        Num::Int(i) => Ok(i as f64),
        Num::Float(f) if f.is_finite() => Ok(f),
        Num::Float(_) => Err(invalid("result is not a finite number")),
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The textual rewrite: unit words to `*N`, glued `1d12h` split, `1 2` joined with `+`.
fn rewrite(s: &str) -> String {
    // A digit right after a letter starts a new group: `1d12h` reads as `1d 12h`.
    let mut prep: Vec<char> = Vec::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_digit() && prep.last().is_some_and(|p| p.is_ascii_alphabetic()) {
            prep.push(' ');
        }
        prep.push(c);
    }
    let mut cur = prep;
    for (words, mult) in UNITS {
        let repl: Vec<char> = format!("*{}", mult.render()).chars().collect();
        let mut out = Vec::with_capacity(cur.len() + 8);
        let mut i = 0;
        while i < cur.len() {
            let after_num = i > 0 && (cur[i - 1].is_ascii_digit() || cur[i - 1].is_whitespace());
            let mut matched = 0;
            if after_num {
                for w in words.iter() {
                    let n = w.len();
                    if i + n <= cur.len()
                        && cur[i..i + n]
                            .iter()
                            .zip(w.chars())
                            .all(|(a, b)| a.to_ascii_lowercase() == b)
                        && (i + n == cur.len() || !is_word(cur[i + n]))
                    {
                        matched = n;
                        break;
                    }
                }
            }
            if matched > 0 {
                out.extend_from_slice(&repl);
                i += matched;
            } else {
                out.push(cur[i]);
                i += 1;
            }
        }
        cur = out;
    }
    // Numbers separated only by blanks are summed; matches do not overlap, so `1 2 3` stays invalid.
    let mut out = String::with_capacity(cur.len());
    let mut i = 0;
    while i < cur.len() {
        if cur[i].is_ascii_digit() {
            let mut j = i + 1;
            while j < cur.len() && cur[j].is_whitespace() {
                j += 1;
            }
            if j > i + 1 && j < cur.len() && cur[j].is_ascii_digit() {
                out.push(cur[i]);
                out.push('+');
                out.push(cur[j]);
                i = j + 1;
                continue;
            }
        }
        out.push(cur[i]);
        i += 1;
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn render(self) -> String {
        match self {
            Num::Int(i) => i.to_string(),
            Num::Float(f) => format!("{f:?}"),
        }
    }
    fn f(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Num),
    Op(&'static str),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let cs: Vec<char> = s.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c == ' ' || c == '\t' || c == '\x0c' {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && cs.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let st = i;
            while i < cs.len() && (cs[i].is_ascii_digit() || cs[i] == '_') {
                i += 1;
            }
            let mut is_float = false;
            if i < cs.len() && cs[i] == '.' {
                is_float = true;
                i += 1;
                while i < cs.len() && cs[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < cs.len() && (cs[i] == 'e' || cs[i] == 'E') {
                let mut j = i + 1;
                if j < cs.len() && (cs[j] == '+' || cs[j] == '-') {
                    j += 1;
                }
                if j < cs.len() && cs[j].is_ascii_digit() {
                    is_float = true;
                    i = j;
                    while i < cs.len() && cs[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            if i < cs.len() && is_word(cs[i]) {
                return Err(format!(
                    "invalid number near {:?}",
                    cs[st..].iter().collect::<String>()
                ));
            }
            let text: String = cs[st..i].iter().filter(|c| **c != '_').collect();
            if cs[st..i].last() == Some(&'_') || cs[st..i].windows(2).any(|w| w == ['_', '_']) {
                return Err(format!("invalid number {text:?}"));
            }
            if is_float {
                let v: f64 = text
                    .parse()
                    .map_err(|_| format!("invalid number {text:?}"))?;
                toks.push(Tok::Num(Num::Float(v)));
            } else {
                // A decimal literal with a leading zero (`08`) is not a number in the expression.
                if text.len() > 1 && text.starts_with('0') && text.chars().any(|c| c != '0') {
                    return Err(format!("invalid number {text:?} (leading zero)"));
                }
                match text.parse::<i64>() {
                    Ok(v) => toks.push(Tok::Num(Num::Int(v))),
                    Err(_) => toks.push(Tok::Num(Num::Float(
                        text.parse::<f64>().map_err(|_| "bad number".to_string())?,
                    ))),
                }
            }
            continue;
        }
        let two: String = cs[i..(i + 2).min(cs.len())].iter().collect();
        let op: &'static str = match two.as_str() {
            "**" => "**",
            "//" => "//",
            _ => match c {
                '+' => "+",
                '-' => "-",
                '*' => "*",
                '/' => "/",
                '%' => "%",
                '(' => "(",
                ')' => ")",
                _ => {
                    return Err(format!(
                        "unexpected {:?}",
                        cs[i..].iter().collect::<String>()
                    ))
                }
            },
        };
        i += op.len();
        toks.push(Tok::Op(op));
    }
    if toks.is_empty() {
        return Err("no number".into());
    }
    Ok(toks)
}

struct ExprParser<'a> {
    toks: &'a [Tok],
    pos: usize,
}

impl ExprParser<'_> {
    fn peek_op(&self) -> Option<&'static str> {
        match self.toks.get(self.pos) {
            Some(Tok::Op(o)) => Some(o),
            _ => None,
        }
    }
    fn expr(&mut self) -> Result<Num, String> {
        let mut v = self.term()?;
        while let Some(op @ ("+" | "-")) = self.peek_op() {
            self.pos += 1;
            let r = self.term()?;
            v = arith(op, v, r)?;
        }
        Ok(v)
    }
    fn term(&mut self) -> Result<Num, String> {
        let mut v = self.unary()?;
        while let Some(op @ ("*" | "/" | "//" | "%")) = self.peek_op() {
            self.pos += 1;
            let r = self.unary()?;
            v = arith(op, v, r)?;
        }
        Ok(v)
    }
    fn unary(&mut self) -> Result<Num, String> {
        match self.peek_op() {
            Some("-") => {
                self.pos += 1;
                Ok(match self.unary()? {
                    Num::Int(i) => Num::Int(i.checked_neg().ok_or("overflow")?),
                    Num::Float(f) => Num::Float(-f),
                })
            }
            Some("+") => {
                self.pos += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }
    fn power(&mut self) -> Result<Num, String> {
        let base = self.atom()?;
        if self.peek_op() == Some("**") {
            self.pos += 1;
            let exp = self.unary()?;
            return arith("**", base, exp);
        }
        Ok(base)
    }
    fn atom(&mut self) -> Result<Num, String> {
        match self.toks.get(self.pos) {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(*n)
            }
            Some(Tok::Op("(")) => {
                self.pos += 1;
                let v = self.expr()?;
                if self.peek_op() != Some(")") {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                Ok(v)
            }
            Some(Tok::Op(o)) => Err(format!("unexpected '{o}'")),
            None => Err("expression ends too early".into()),
        }
    }
}

/// Python arithmetic on ints and floats. Python ints never overflow; where ours would, the
/// operation continues in floating point (the value ends up as seconds in an f64 anyway).
fn arith(op: &str, a: Num, b: Num) -> Result<Num, String> {
    use Num::*;
    let int_result = match (op, a, b) {
        ("+", Int(x), Int(y)) => Some(x.checked_add(y)),
        ("-", Int(x), Int(y)) => Some(x.checked_sub(y)),
        ("*", Int(x), Int(y)) => Some(x.checked_mul(y)),
        ("**", Int(x), Int(y)) if y >= 0 => {
            Some(u32::try_from(y).ok().and_then(|e| x.checked_pow(e)))
        }
        _ => None,
    };
    match int_result {
        Some(Some(v)) => return Ok(Int(v)),
        Some(None) => return arith(op, Float(a.f()), Float(b.f())),
        None => {}
    }
    let zero = |y: Num| {
        if y.f() == 0.0 {
            Err("division by zero".to_string())
        } else {
            Ok(())
        }
    };
    Ok(match (op, a, b) {
        ("+", x, y) => Float(x.f() + y.f()),
        ("-", x, y) => Float(x.f() - y.f()),
        ("*", x, y) => Float(x.f() * y.f()),
        ("/", x, y) => {
            zero(y)?;
            Float(x.f() / y.f())
        }
        ("//", Int(x), Int(y)) => {
            zero(b)?;
            Int(x.div_euclid(y)
                - if (x.rem_euclid(y) != 0) && y < 0 {
                    1
                } else {
                    0
                })
        }
        ("//", x, y) => {
            zero(y)?;
            Float((x.f() / y.f()).floor())
        }
        ("%", Int(x), Int(y)) => {
            zero(b)?;
            Int(((x % y) + y) % y)
        }
        ("%", x, y) => {
            zero(y)?;
            let r = x.f() % y.f();
            Float(if r != 0.0 && (r < 0.0) != (y.f() < 0.0) {
                r + y.f()
            } else {
                r
            })
        }
        ("**", x, y) => {
            if x.f() == 0.0 && y.f() < 0.0 {
                return Err("zero to a negative power".into());
            }
            Float(x.f().powf(y.f()))
        }
        _ => return Err(format!("unknown operator {op}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_combinations() {
        let cases: &[(&str, f64)] = &[
            ("600", 600.0),
            ("-1", -1.0),
            ("3s", 3.0),
            ("15m", 900.0),
            ("10min", 600.0),
            ("1h", 3600.0),
            ("2d", 172_800.0),
            ("1w", 604_800.0),
            ("1mo", 2_629_800.0),
            ("1month", 2_629_800.0),
            ("6 months", 15_778_800.0),
            ("1y", 31_557_600.0),
            ("1h 30m", 5400.0),
            ("0d 1h 30m", 5400.0),
            ("1h30m", 5400.0),
            ("1d12h", 129_600.0),
            ("1hour+30min", 5400.0),
            ("1year-6mo", 15_778_800.0),
            ("1 H", 3600.0),
            ("2*1h", 7200.0),
            ("0.5h", 1800.0),
            ("1 2", 3.0),
            ("5d 3h 2m 1s", 5.0 * 86400.0 + 3.0 * 3600.0 + 121.0),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s), Ok(*want), "{s}");
        }
    }

    #[test]
    fn invalid_strings() {
        for s in [
            "", "  ", "abc", "5x", "1 2 3", "08", "1h-", "(1h", "1/0", "1e", "10 mins",
        ] {
            assert!(
                parse_time(s).is_err(),
                "{s} should fail: {:?}",
                parse_time(s)
            );
        }
        let e = parse_time("5x").unwrap_err().to_string();
        assert!(e.contains("5x"), "{e}");
    }
}
