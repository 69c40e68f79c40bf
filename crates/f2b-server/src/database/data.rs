//! The `data` column: a JSON object with `matches` (list of lines), `failures` (count) and the
//! filter's captures. fail2ban writes it as UTF-8 bytes (a BLOB); it is read back from either
//! a BLOB or TEXT.

use std::collections::BTreeMap;

use rusqlite::types::ValueRef;
use serde_json::{Map, Value};

use crate::ticket::TicketData;

/// Encodes ticket data, keeping only the last `max_matches` lines (0 keeps none).
pub fn encode(data: &TicketData, max_matches: usize) -> Vec<u8> {
    let mut m = Map::new();
    let lines: &[String] = if max_matches == 0 {
        &[]
    } else if data.matches.len() > max_matches {
        &data.matches[data.matches.len() - max_matches..]
    } else {
        &data.matches
    };
    // fail2ban drops the key when it keeps no lines (and has none to keep)
    if max_matches > 0 || data.matches.is_empty() {
        m.insert(
            "matches".into(),
            Value::Array(lines.iter().cloned().map(Value::String).collect()),
        );
    }
    m.insert("failures".into(), Value::from(data.failures));
    for (k, v) in &data.captures {
        // An "ip" key would shadow the ticket's address when fail2ban reads the row back: it
        // takes the stored text for the address object and every restored actionban fails. The
        // address is the row's own `ip` column, so nothing is lost by leaving it out.
        if k != "matches" && k != "failures" && k != "ip" {
            m.insert(k.clone(), Value::String(v.clone()));
        }
    }
    serde_json::to_vec(&Value::Object(m)).unwrap_or_else(|_| b"{}".to_vec())
}

/// Decodes the column; anything unreadable gives empty data, as fail2ban does.
pub fn decode(v: ValueRef<'_>) -> TicketData {
    let bytes = match v {
        ValueRef::Blob(b) => b,
        ValueRef::Text(t) => t,
        _ => return TicketData::default(),
    };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => from_map(m),
        _ => TicketData::default(),
    }
}

fn from_map(m: Map<String, Value>) -> TicketData {
    let mut d = TicketData::default();
    let mut captures = BTreeMap::new();
    for (k, v) in m {
        match k.as_str() {
            "matches" => d.matches = lines(&v),
            "failures" => {
                d.failures = v
                    .as_u64()
                    .map(|n| n.min(u32::MAX as u64) as u32)
                    .unwrap_or(0)
            }
            _ => {
                if !v.is_null() {
                    captures.insert(k, value_text(&v));
                }
            }
        }
    }
    d.captures = captures;
    d
}

/// fail2ban may store a matched line as a list of its parts (prefix, text, suffix); joined,
/// they give the line.
fn lines(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|l| match l {
                Value::Array(parts) => parts.iter().map(value_text).collect::<String>(),
                other => value_text(other),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let mut d = TicketData {
            failures: 4,
            ..Default::default()
        };
        d.matches = (0..12).map(|i| format!("l{i} \"q\" é")).collect();
        d.captures.insert("user".into(), "root".into());
        let b = encode(&d, 10);
        let back = decode(ValueRef::Blob(&b));
        assert_eq!(back.failures, 4);
        assert_eq!(back.matches.len(), 10);
        assert_eq!(back.matches[0], "l2 \"q\" é");
        assert_eq!(back.captures.get("user").map(String::as_str), Some("root"));
        let none = decode(ValueRef::Blob(&encode(&d, 0)));
        assert!(none.matches.is_empty());
    }

    #[test]
    fn reads_tuple_lines_and_text() {
        let j = br#"{"matches": [["pre ", "mid", " post"], "plain"], "failures": 2, "users": ["a"], "n": 3}"#;
        let d = decode(ValueRef::Text(j));
        assert_eq!(d.matches, ["pre mid post", "plain"]);
        assert_eq!(d.failures, 2);
        assert_eq!(d.captures.get("users").map(String::as_str), Some("[\"a\"]"));
        assert_eq!(d.captures.get("n").map(String::as_str), Some("3"));
        assert_eq!(decode(ValueRef::Blob(b"not json")), TicketData::default());
        assert_eq!(decode(ValueRef::Null), TicketData::default());
    }
}

#[cfg(test)]
mod ip_key_tests {
    use super::*;

    #[test]
    fn the_ip_capture_is_not_stored_in_data() {
        let mut d = TicketData::default();
        d.captures.insert("ip".into(), "192.0.2.1".into());
        d.captures.insert("user".into(), "root".into());
        let v: Value = serde_json::from_slice(&encode(&d, 5)).unwrap();
        assert!(v.get("ip").is_none(), "{v}");
        assert_eq!(v.get("user").and_then(Value::as_str), Some("root"));
    }
}
