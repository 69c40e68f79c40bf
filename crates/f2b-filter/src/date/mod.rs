//! Placeholder for the date detector (owned by the date engineer): it finds no dates yet.

/// A date found in a log line.
#[derive(Debug, Clone, PartialEq)]
pub struct DateMatch {
    pub time: f64,
    pub span: std::ops::Range<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum DateError {
    #[error("invalid date pattern: {0}")]
    Pattern(String),
}

#[derive(Debug)]
pub struct DateDetector {
    none: bool,
}

impl DateDetector {
    pub fn new(datepattern: Option<&str>, _logtimezone: Option<&str>) -> Result<DateDetector, DateError> {
        Ok(DateDetector { none: datepattern == Some("{NONE}") })
    }
    pub fn find(&mut self, _line: &str, _now: f64) -> Option<DateMatch> {
        None
    }
    pub fn is_none(&self) -> bool {
        self.none
    }
    pub fn template_stats(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
}
