//! The command stream: values as the fail2ban client sends them, printed the way `-d` prints them
//! (Python's `repr` of a list).

use std::fmt::Write as _;

/// One element of a command: what fail2ban's client puts in its lists.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    None,
    List(Vec<Value>),
    /// A Python dict (only `['set', 'thread', {'stacksize': N}]` uses one).
    Dict(Vec<(String, Value)>),
}

impl Value {
    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Render as Python's `repr` would.
    pub fn to_python_repr(&self) -> String {
        let mut s = String::new();
        self.write_repr(&mut s);
        s
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            Value::Str(s) => write_str_repr(out, s),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::None => out.push_str("None"),
            Value::List(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write_repr(out);
                }
                out.push(']');
            }
            Value::Dict(items) => {
                out.push('{');
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_str_repr(out, k);
                    out.push_str(": ");
                    v.write_repr(out);
                }
                out.push('}');
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// Whether Python's `str.isprintable` holds for `c` (repr keeps these as they are).
fn py_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    // Format characters, surrogates, private use, unassigned-ish separators are escaped by Python.
    !matches!(u,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF
        | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001
        | 0xE0020..=0xE007F | 0xF0000..=0x10FFFF | 0xFFFE | 0xFFFF)
}

fn write_str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if py_printable(c) => out.push(c),
            c => {
                let u = c as u32;
                let _ = if u < 0x100 {
                    write!(out, "\\x{u:02x}")
                } else if u < 0x10000 {
                    write!(out, "\\u{u:04x}")
                } else {
                    write!(out, "\\U{u:08x}")
                };
            }
        }
    }
    out.push(quote);
}

/// One command of the stream, e.g. `['set', 'sshd', 'maxretry', 5]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Command(pub Vec<Value>);

impl Command {
    /// Exactly the line `fail2ban-client -d` prints for this command.
    pub fn to_python_repr(&self) -> String {
        let mut s = String::new();
        Value::List(self.0.clone()).write_repr(&mut s);
        s
    }

    /// The `i`-th element as a string, if it is one.
    pub fn str_at(&self, i: usize) -> Option<&str> {
        self.0.get(i).and_then(Value::as_str)
    }

    pub(crate) fn strs<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Command {
        Command(items.into_iter().map(|s| Value::Str(s.into())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_repr_of_strings() {
        assert_eq!(Value::from("abc").to_python_repr(), "'abc'");
        assert_eq!(Value::from("it's").to_python_repr(), "\"it's\"");
        assert_eq!(Value::from("a'b\"c").to_python_repr(), "'a\\'b\"c'");
        assert_eq!(
            Value::from("a\\b\nc\td").to_python_repr(),
            "'a\\\\b\\nc\\td'"
        );
        assert_eq!(
            Value::from("\x01é\u{200b}").to_python_repr(),
            "'\\x01é\\u200b'"
        );
    }

    #[test]
    fn python_repr_of_commands() {
        let c = Command(vec![
            "set".into(),
            "sshd".into(),
            "maxretry".into(),
            Value::Int(5),
        ]);
        assert_eq!(c.to_python_repr(), "['set', 'sshd', 'maxretry', 5]");
        let c = Command(vec![
            "x".into(),
            Value::List(vec![Value::Bool(true), Value::None]),
        ]);
        assert_eq!(c.to_python_repr(), "['x', [True, None]]");
    }
}
