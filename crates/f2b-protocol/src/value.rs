//! The data that travels over the control socket, and how Python would print it.
//!
//! fail2ban-client prints replies with Python's `print()`, so every value that is not
//! beautified reaches the terminal as Python's `str()` of it (`[{'sshd': ['1.2.3.4']}]`,
//! `None`, `True`, `1e+16`). [`Value::py_str`] and [`Value::py_repr`] reproduce those forms.

use std::fmt::Write as _;

/// One value of the wire protocol: the plain-data subset of Python objects that fail2ban's
/// client and server exchange, plus the exception objects the server sends back on errors.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Insertion-ordered, as Python dicts are.
    Dict(Vec<(Value, Value)>),
    Set(Vec<Value>),
    /// An exception object: `class` is the dotted path (`builtins.ValueError`,
    /// `fail2ban.exceptions.UnknownJailException`), `message` its single argument.
    Exception {
        class: String,
        message: String,
    },
}

impl Value {
    /// A `Value::Str` from anything string-like.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// A list of strings, the shape of every command fail2ban-client sends.
    pub fn words<S: AsRef<str>>(words: &[S]) -> Vec<Value> {
        words
            .iter()
            .map(|w| Value::Str(w.as_ref().to_owned()))
            .collect()
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Python's `type(x).__name__`, used in error texts.
    pub fn type_name(&self) -> &str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::Exception { class, .. } => short_class(class),
        }
    }

    /// Python's `str(x)`: what `print(x)` writes.
    pub fn py_str(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Exception { class, message } => {
                // A KeyError (and fail2ban's UnknownJailException, which derives from it)
                // prints its argument quoted; other exceptions print it bare.
                if is_key_error(class) {
                    py_repr_str(message)
                } else {
                    message.clone()
                }
            }
            other => other.py_repr(),
        }
    }

    /// Python's `repr(x)`.
    pub fn py_repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            Value::None => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&py_float_repr(*f)),
            Value::Str(s) => out.push_str(&py_repr_str(s)),
            Value::Bytes(b) => out.push_str(&py_repr_bytes(b)),
            Value::List(items) => {
                out.push('[');
                write_seq(items, out);
                out.push(']');
            }
            Value::Tuple(items) => {
                out.push('(');
                write_seq(items, out);
                if items.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            Value::Dict(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    k.write_repr(out);
                    out.push_str(": ");
                    v.write_repr(out);
                }
                out.push('}');
            }
            Value::Set(items) if items.is_empty() => out.push_str("set()"),
            Value::Set(items) => {
                out.push('{');
                write_seq(items, out);
                out.push('}');
            }
            Value::Exception { class, message } => {
                out.push_str(short_class(class));
                out.push('(');
                out.push_str(&py_repr_str(message));
                out.push(')');
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

fn write_seq(items: &[Value], out: &mut String) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        v.write_repr(out);
    }
}

/// The class name without its module: `fail2ban.exceptions.UnknownJailException` ->
/// `UnknownJailException`.
pub fn short_class(class: &str) -> &str {
    class.rsplit('.').next().unwrap_or(class)
}

/// Whether exceptions of this class derive from Python's KeyError.
pub(crate) fn is_key_error(class: &str) -> bool {
    matches!(short_class(class), "KeyError" | "UnknownJailException")
}

/// Python's `repr()` of a float: shortest round-trip digits, fixed notation for decimal
/// exponents from -4 to 16, scientific (`1e+16`, `1.5e-05`) outside, `.0` on integral values.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits too: "-1.2345e-5".
    let sci = format!("{:e}", f);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // Position of the decimal point relative to the digit string.
    let decpt = exp + 1;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if decpt > -4 && decpt <= 16 {
        if decpt <= 0 {
            out.push_str("0.");
            for _ in 0..(-decpt) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let d = decpt as usize;
            if digits.len() <= d {
                out.push_str(&digits);
                for _ in digits.len()..d {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..d]);
                out.push('.');
                out.push_str(&digits[d..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        let _ = write!(out, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    out
}

/// Python's `repr()` of a str.
pub fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x7f => out.push(c),
            c if is_printable(c) => out.push(c),
            c => {
                let n = c as u32;
                if n < 0x100 {
                    let _ = write!(out, "\\x{n:02x}");
                } else if n < 0x10000 {
                    let _ = write!(out, "\\u{n:04x}");
                } else {
                    let _ = write!(out, "\\U{n:08x}");
                }
            }
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of bytes.
pub fn py_repr_bytes(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(quote as char);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push(quote as char);
    out
}

/// An approximation of Python's `str.isprintable()` for non-ASCII characters: separators,
/// format characters, controls, private-use and non-characters are escaped by `repr()`.
/// Unassigned code points (which Python also escapes) are not tracked.
fn is_printable(c: char) -> bool {
    let n = c as u32;
    !matches!(n,
        0x80..=0xa0 | 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2
        | 0x1680 | 0x180e | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064
        | 0x2066..=0x206f | 0x3000 | 0xd800..=0xf8ff | 0xfdd0..=0xfdef | 0xfeff
        | 0xfff9..=0xfffb | 0xfffe..=0xffff | 0x110bd | 0x110cd | 0x13430..=0x1343f
        | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        | 0xf0000..=0x10ffff)
        && (n & 0xfffe) != 0xfffe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python_rules() {
        let cases = [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (0.1, "0.1"),
            (0.0125, "0.0125"),
            (600.0, "600.0"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
            (-0.0, "-0.0"),
        ];
        for (f, want) in cases {
            assert_eq!(py_float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn containers_print_as_python_does() {
        let v = Value::List(vec![
            Value::Dict(vec![(
                Value::str("sshd"),
                Value::List(vec![Value::str("1.2.3.4")]),
            )]),
            Value::Tuple(vec![Value::Int(1)]),
            Value::Tuple(vec![]),
            Value::Set(vec![]),
            Value::None,
            Value::Bool(true),
            Value::Bytes(b"a'\x00".to_vec()),
        ]);
        assert_eq!(
            v.py_str(),
            r#"[{'sshd': ['1.2.3.4']}, (1,), (), set(), None, True, b"a'\x00"]"#
        );
    }

    #[test]
    fn strings_choose_quotes_and_escape() {
        assert_eq!(py_repr_str("it's"), "\"it's\"");
        assert_eq!(py_repr_str("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr_str("t\tn\n\\"), "'t\\tn\\n\\\\'");
        assert_eq!(py_repr_str("é\u{a0}\u{200b}"), "'é\\xa0\\u200b'");
    }

    #[test]
    fn exceptions_print_their_message() {
        let e = Value::Exception {
            class: "builtins.ValueError".into(),
            message: "bad".into(),
        };
        assert_eq!(e.py_str(), "bad");
        assert_eq!(e.py_repr(), "ValueError('bad')");
        let k = Value::Exception {
            class: "fail2ban.exceptions.UnknownJailException".into(),
            message: "x".into(),
        };
        assert_eq!(k.py_str(), "'x'");
    }
}
