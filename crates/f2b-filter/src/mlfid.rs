//! The multi-line failure-id cache: groups collected per connection id (`<F-MLFID>`) until the line
//! that completes the failure. Bounded like fail2ban's: 100 entries, 5 minutes each; when full,
//! the oldest entries make room (expired ones first, then at least one).

use crate::faildata::FailData;

/// What is remembered for one connection id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pending {
    pub data: FailData,
    /// Lines collected for the failure (`None`: not collected yet).
    pub matches: Option<Vec<String>>,
    /// Lines of no-failure matches kept in case the connection turns into a failure.
    pub nofail_matches: Option<Vec<String>>,
}

#[derive(Debug)]
pub struct MlfidCache {
    max_count: usize,
    max_time: f64,
    /// (hash of the id, id, value, expiry), oldest first: the hash spares comparing the many
    /// ids that share a long prefix (` srv sshd[1234]: `).
    entries: Vec<(u64, String, Pending, f64)>,
}

fn key_hash(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

impl Default for MlfidCache {
    fn default() -> Self {
        MlfidCache::new(100, 300.0)
    }
}

impl MlfidCache {
    pub fn new(max_count: usize, max_time: f64) -> MlfidCache {
        MlfidCache {
            max_count,
            max_time,
            entries: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for `id` unless it expired (an expired entry is dropped).
    pub fn get(&mut self, id: &str, now: f64) -> Option<Pending> {
        let h = key_hash(id);
        let i = self
            .entries
            .iter()
            .position(|(kh, k, _, _)| *kh == h && k == id)?;
        if self.entries[i].3 > now {
            return Some(self.entries[i].2.clone());
        }
        self.entries.remove(i);
        None
    }

    pub fn set(&mut self, id: &str, v: Pending, now: f64) {
        let h = key_hash(id);
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|(kh, k, _, _)| *kh == h && k == id)
        {
            e.2 = v;
            e.3 = now + self.max_time;
            return;
        }
        if self.entries.len() >= self.max_count {
            while !self.entries.is_empty() {
                let (_, _, _, exp) = self.entries.remove(0);
                if exp > now && self.entries.len() < self.max_count {
                    break;
                }
            }
        }
        self.entries
            .push((h, id.to_string(), v, now + self.max_time));
    }

    /// Replaces the value of a live entry, keeping its place and expiry.
    pub fn update(&mut self, id: &str, v: Pending) {
        let h = key_hash(id);
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|(kh, k, _, _)| *kh == h && k == id)
        {
            e.2 = v;
        }
    }

    pub fn unset(&mut self, id: &str) {
        self.entries.retain(|(_, k, _, _)| k != id);
    }

    pub fn contains(&self, id: &str) -> bool {
        let h = key_hash(id);
        self.entries.iter().any(|(kh, k, _, _)| *kh == h && k == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_eviction() {
        let mut c = MlfidCache::new(2, 10.0);
        c.set("a", Pending::default(), 0.0);
        c.set("b", Pending::default(), 1.0);
        assert!(c.get("a", 5.0).is_some());
        assert!(c.get("a", 10.0).is_none(), "expired at 10");
        assert!(!c.contains("a"));
        c.set("c", Pending::default(), 2.0);
        c.set("d", Pending::default(), 3.0); // full: oldest ("b") goes
        assert!(!c.contains("b"));
        assert!(c.contains("c") && c.contains("d"));
        c.unset("c");
        assert_eq!(c.len(), 1);
    }
}
