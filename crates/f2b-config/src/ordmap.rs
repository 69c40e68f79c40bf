//! An insertion-ordered map: fail2ban's option order (Python dicts) decides the order of the
//! command stream, so every map of options keeps the order keys were first inserted in.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrdMap<V> {
    entries: Vec<(String, V)>,
    index: HashMap<String, usize>,
}

impl<V> Default for OrdMap<V> {
    fn default() -> Self {
        OrdMap {
            entries: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<V> OrdMap<V> {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn get(&self, k: &str) -> Option<&V> {
        self.index.get(k).map(|&i| &self.entries[i].1)
    }
    pub fn get_mut(&mut self, k: &str) -> Option<&mut V> {
        match self.index.get(k) {
            Some(&i) => Some(&mut self.entries[i].1),
            None => None,
        }
    }
    pub fn contains_key(&self, k: &str) -> bool {
        self.index.contains_key(k)
    }
    /// Insert or replace; a replaced key keeps its position.
    pub fn insert(&mut self, k: String, v: V) {
        match self.index.get(&k) {
            Some(&i) => self.entries[i].1 = v,
            None => {
                self.index.insert(k.clone(), self.entries.len());
                self.entries.push((k, v));
            }
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<V: Clone> OrdMap<V> {
    /// Python's `dict.update`.
    pub fn update(&mut self, other: &OrdMap<V>) {
        for (k, v) in other.iter() {
            self.insert(k.clone(), v.clone());
        }
    }
}

impl<V> FromIterator<(String, V)> for OrdMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        let mut m = OrdMap::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}
