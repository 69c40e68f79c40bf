//! The data a failure carries: named groups in capture order plus the values fail2ban adds
//! (`users`, `mlfpending`), kept as an insertion-ordered map like Python's dict.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    /// An insertion-ordered set (fail2ban's `users`).
    Set(Vec<String>),
    Int(i64),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// Python truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Set(v) => !v.is_empty(),
            Value::Int(i) => *i != 0,
        }
    }
}

/// Insertion-ordered `name -> Option<Value>` (None = the group did not take part).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailData {
    items: Vec<(String, Option<Value>)>,
}

impl FailData {
    pub fn new() -> FailData {
        FailData { items: Vec::new() }
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&Value>)> {
        self.items.iter().map(|(k, v)| (k.as_str(), v.as_ref()))
    }
    pub fn contains(&self, k: &str) -> bool {
        self.items.iter().any(|(n, _)| n == k)
    }
    /// The value when present and not None.
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.items
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.as_ref())
    }
    pub fn get_str(&self, k: &str) -> Option<&str> {
        self.get(k).and_then(Value::as_str)
    }
    pub fn truthy(&self, k: &str) -> bool {
        self.get(k).is_some_and(Value::truthy)
    }
    pub fn set(&mut self, k: &str, v: Option<Value>) {
        match self.items.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v,
            None => self.items.push((k.to_string(), v)),
        }
    }
    pub fn pop(&mut self, k: &str) -> Option<Value> {
        let i = self.items.iter().position(|(n, _)| n == k)?;
        self.items.remove(i).1
    }
    /// `dict.update`: every key of `other`, None values included.
    pub fn update(&mut self, other: &FailData) {
        for (k, v) in &other.items {
            self.set(k, v.clone());
        }
    }
    /// Update with only the keys of `other` whose value is not None.
    pub fn update_non_none(&mut self, other: &FailData) {
        for (k, v) in &other.items {
            if v.is_some() {
                self.set(k, v.clone());
            }
        }
    }
    /// Adds `user` to the `users` set; returns the set size.
    pub fn add_user(&mut self, user: &str) -> usize {
        match self.items.iter_mut().find(|(n, _)| n == "users") {
            Some((_, Some(Value::Set(s)))) => {
                if !s.iter().any(|u| u == user) {
                    s.push(user.to_string());
                }
                s.len()
            }
            Some(slot) => {
                slot.1 = Some(Value::Set(vec![user.to_string()]));
                1
            }
            None => {
                self.items.push((
                    "users".to_string(),
                    Some(Value::Set(vec![user.to_string()])),
                ));
                1
            }
        }
    }
    pub fn users_len(&self) -> usize {
        match self.get("users") {
            Some(Value::Set(s)) => s.len(),
            _ => 0,
        }
    }
    /// The non-None string values, for consumers that only need the captured text.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.items
            .iter()
            .filter_map(|(k, v)| match v {
                Some(Value::Str(s)) => Some((k.clone(), s.clone())),
                Some(Value::Int(i)) => Some((k.clone(), i.to_string())),
                _ => None,
            })
            .collect()
    }
}
