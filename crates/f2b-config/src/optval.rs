//! Option values as fail2ban's readers hold them after conversion: strings, ints, bools, or
//! nothing (an option fail2ban set to its `None` default).

use crate::ordmap::OrdMap;
use crate::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OptVal {
    Str(String),
    Int(i64),
    Bool(bool),
    None,
}

impl OptVal {
    /// The text this value has when used for interpolation (Python's `str()`); `None` is skipped.
    pub fn as_var(&self) -> Option<String> {
        match self {
            OptVal::Str(s) => Some(s.clone()),
            OptVal::Int(i) => Some(i.to_string()),
            OptVal::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
            OptVal::None => None,
        }
    }
    pub fn to_value(&self) -> Value {
        match self {
            OptVal::Str(s) => Value::Str(s.clone()),
            OptVal::Int(i) => Value::Int(*i),
            OptVal::Bool(b) => Value::Bool(*b),
            OptVal::None => Value::None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            OptVal::Str(s) => Some(s),
            _ => None,
        }
    }
    /// Python truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            OptVal::Str(s) => !s.is_empty(),
            OptVal::Int(i) => *i != 0,
            OptVal::Bool(b) => *b,
            OptVal::None => false,
        }
    }
}

/// Interpolation variables from options: keys lower-cased, `None` values left out.
pub(crate) fn vars_of(m: &OrdMap<OptVal>) -> OrdMap<String> {
    m.iter()
        .filter_map(|(k, v)| v.as_var().map(|s| (k.to_lowercase(), s)))
        .collect()
}

/// Python's `int(str)`: surrounding blanks, a sign, digits with single `_` between them.
pub(crate) fn py_int(s: &str) -> Option<i64> {
    let t = crate::ini::py_strip(s);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    if !digits.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    let v: i64 = digits.replace('_', "").parse().ok()?;
    Some(if neg { -v } else { v })
}

/// fail2ban's boolean reading: `1`, `on`, `true`, `yes` (any case) are true, anything else false.
pub(crate) fn as_bool(s: &str) -> bool {
    matches!(s.to_lowercase().as_str(), "1" | "on" | "true" | "yes")
}
