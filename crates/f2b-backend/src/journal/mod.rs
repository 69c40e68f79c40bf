//! The systemd journal backend (`backend = systemd`).
//!
//! The line formatter and the match parser are pure and always built; the reader needs
//! libsystemd and exists only with the `systemd` feature (without it, opening a journal is a
//! clear error).

pub mod format;
pub mod matches;
#[cfg(feature = "systemd")]
mod reader;

#[cfg(feature = "systemd")]
pub use reader::JournalReader;

/// Where a journal reader starts.
#[derive(Debug, Clone, PartialEq)]
pub enum JournalStart {
    /// The oldest entry.
    Head,
    /// Only entries written from now on.
    Tail,
    /// The first entry after this time (seconds since the epoch, turned into microseconds by
    /// truncation as fail2ban does). fail2ban starts at `max(saved time, now - findtime)`.
    Time(f64),
    /// The entry after this cursor (or, if that entry is gone, the closest one after it).
    Cursor(String),
}

impl JournalStart {
    /// fail2ban's start: the later of the saved time (if any) and `now - findtime`.
    pub fn since(saved_time: Option<f64>, now: f64, findtime: f64) -> JournalStart {
        JournalStart::Time(saved_time.unwrap_or(0.0).max(now - findtime))
    }
}

/// What [`JournalReader::wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalWait {
    /// Nothing changed before the timeout.
    Nop,
    /// New entries were appended.
    Append,
    /// Files were added, removed or rotated.
    Invalidate,
}

/// A resumable journal position: fail2ban stores the time; the cursor is exact.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalPosition {
    pub time: f64,
    pub cursor: String,
}

/// Stand-in without libsystemd: every open fails with [`crate::BackendError::SystemdUnsupported`].
#[cfg(not(feature = "systemd"))]
pub struct JournalReader {
    _never: std::convert::Infallible,
}

#[cfg(not(feature = "systemd"))]
impl JournalReader {
    pub fn open(
        _opts: &crate::JournalOptions,
        _matches: &[Vec<String>],
        _start: JournalStart,
        _encoding: crate::LogEncoding,
    ) -> Result<JournalReader, crate::BackendError> {
        Err(crate::BackendError::SystemdUnsupported)
    }
    pub fn next_entry(&mut self) -> Result<Option<format::JournalEntry>, crate::BackendError> {
        match self._never {}
    }
    pub fn next_line(&mut self) -> Result<Option<(String, f64)>, crate::BackendError> {
        match self._never {}
    }
    pub fn next_line_into(
        &mut self,
        _line: &mut String,
    ) -> Result<Option<f64>, crate::BackendError> {
        match self._never {}
    }
    pub fn wait(
        &mut self,
        _timeout: std::time::Duration,
    ) -> Result<JournalWait, crate::BackendError> {
        match self._never {}
    }
    pub fn position(&self) -> Option<JournalPosition> {
        match self._never {}
    }
    pub fn set_matches(&mut self, _matches: &[Vec<String>]) -> Result<(), crate::BackendError> {
        match self._never {}
    }
}

#[cfg(all(test, not(feature = "systemd")))]
mod tests {
    #[test]
    fn journal_without_libsystemd_is_a_clear_error() {
        let e = super::JournalReader::open(
            &Default::default(),
            &[],
            super::JournalStart::Head,
            crate::LogEncoding::Utf8,
        );
        assert!(matches!(e, Err(crate::BackendError::SystemdUnsupported)));
    }
}
