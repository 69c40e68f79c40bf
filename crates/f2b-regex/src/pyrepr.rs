//! Python `repr`/`str` renderings that fail2ban-regex's outputs are made of.

use f2b_filter::{FailData, Value};

/// `repr(float)` / `str(float)`: shortest round-trip digits, always with a fraction part.
pub fn float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// `repr(str)`.
pub fn string(s: &str) -> String {
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
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (0x80..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `repr(value)`; None as `None`.
pub fn value(v: Option<&Value>) -> String {
    match v {
        None => "None".to_string(),
        Some(Value::Str(s)) => string(s),
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::Set(items)) => {
            if items.is_empty() {
                "set()".to_string()
            } else {
                format!(
                    "{{{}}}",
                    items
                        .iter()
                        .map(|s| string(s))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        }
    }
}

/// `str(value)` as `print` shows it.
pub fn value_str(v: Option<&Value>) -> String {
    match v {
        Some(Value::Str(s)) => s.clone(),
        other => value(other),
    }
}

/// `repr(dict)` of the failure data.
pub fn dict(d: &FailData) -> String {
    let items: Vec<String> = d
        .iter()
        .map(|(k, v)| format!("{}: {}", string(k), value(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// `repr(list of str)`.
pub fn str_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| string(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs() {
        assert_eq!(float(1124013541.0), "1124013541.0");
        assert_eq!(float(1795311703.165015), "1795311703.165015");
        assert_eq!(string("a'b"), "\"a'b\"");
        assert_eq!(string("a\tb"), "'a\\tb'");
        assert_eq!(value(Some(&Value::Set(vec!["root".into()]))), "{'root'}");
        assert_eq!(value(None), "None");
    }
}
