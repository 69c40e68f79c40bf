//! Reading the systemd journal through libsystemd (`sd_journal_*`).

use std::path::PathBuf;
use std::time::Duration;

use systemd::journal::{
    Journal, JournalWaitResult, OpenDirectoryOptions, OpenFilesOptions, OpenOptions,
};

use super::format::{format_into, EntryFields, Field, JournalEntry, FORMAT_FIELDS};
use super::{JournalPosition, JournalStart, JournalWait};
use crate::backendspec::JournalOptions;
use crate::encoding::LogEncoding;
use crate::globs::expand_globs;
use crate::BackendError;

/// `SD_JOURNAL_SYSTEM`: fail2ban's default, so that the journals of user sessions are not opened.
const DEFAULT_FLAGS: i32 = 4;

fn jerr<E: std::fmt::Display>(context: &'static str) -> impl FnOnce(E) -> BackendError {
    move |e| BackendError::Journal {
        context,
        message: e.to_string(),
    }
}

/// A cursor over the journal entries selected by the matches.
pub struct JournalReader {
    journal: Journal,
    encoding: LogEncoding,
    last_time: Option<f64>,
    scratch: Scratch,
}

/// The fields of the current entry that the line uses, copied out of libsystemd (whose data
/// pointers live only until the next call) into one buffer reused from entry to entry.
#[derive(Default)]
struct Scratch {
    buf: Vec<u8>,
    /// Range in `buf` of each field's first value, by [`Field`].
    first: [Option<(u32, u32)>; 8],
    /// Ranges of every `MESSAGE` value.
    messages: Vec<(u32, u32)>,
    realtime_usec: u64,
    monotonic_usec: Option<u64>,
}

impl Scratch {
    fn clear(&mut self) {
        self.buf.clear();
        self.first = [None; 8];
        self.messages.clear();
        self.monotonic_usec = None;
    }

    fn push(&mut self, f: Field, value: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(value);
        // A journal object is far below 4 GiB; saturate rather than wrap if one is not.
        let r = (
            u32::try_from(start).unwrap_or(u32::MAX),
            u32::try_from(self.buf.len()).unwrap_or(u32::MAX),
        );
        if f == Field::Message {
            self.messages.push(r);
        }
        let slot = &mut self.first[f as usize];
        if slot.is_none() {
            *slot = Some(r);
        }
    }

    fn slice(&self, (a, b): (u32, u32)) -> &[u8] {
        self.buf.get(a as usize..b as usize).unwrap_or(&[])
    }

    /// Whether the line will want the monotonic stamp: a kernel identifier without its own.
    fn wants_monotonic(&self) -> bool {
        self.first[Field::SourceMonotonic as usize].is_none()
            && [Field::SyslogIdentifier, Field::Comm]
                .iter()
                .any(|&f| self.first(f) == Some(b"kernel"))
    }
}

impl EntryFields for Scratch {
    fn first(&self, f: Field) -> Option<&[u8]> {
        self.first[f as usize].map(|r| self.slice(r))
    }
    fn messages(&self) -> impl Iterator<Item = &[u8]> {
        self.messages.iter().map(|&r| self.slice(r))
    }
    fn realtime_usec(&self) -> u64 {
        self.realtime_usec
    }
    fn monotonic_usec(&self) -> Option<u64> {
        self.monotonic_usec
    }
}

impl JournalReader {
    /// Opens the journal(s) named by `opts`, installs the matches (each element is one
    /// `journalmatch` line split into words, `+` separating alternatives) and places the
    /// reader at `start`.
    pub fn open(
        opts: &JournalOptions,
        matches: &[Vec<String>],
        start: JournalStart,
        encoding: LogEncoding,
    ) -> Result<JournalReader, BackendError> {
        let mut journal = open_journal(opts)?;
        add_matches(&mut journal, matches)?;
        let mut reader = JournalReader {
            journal,
            encoding,
            last_time: None,
            scratch: Scratch::default(),
        };
        reader.seek(start)?;
        Ok(reader)
    }

    fn seek(&mut self, start: JournalStart) -> Result<(), BackendError> {
        let j = &mut self.journal;
        match start {
            JournalStart::Head => j.seek_head().map_err(jerr("seek head"))?,
            JournalStart::Tail => {
                j.seek_tail().map_err(jerr("seek tail"))?;
                // Stand on the last entry, so that the next one read is the first new one.
                let _ = j.previous();
            }
            JournalStart::Time(t) => {
                let usec = if t.is_finite() && t > 0.0 {
                    (t * 1e6) as u64
                } else {
                    0
                };
                j.seek_realtime_usec(usec).map_err(jerr("seek time"))?;
                // One step back: a time past the end must not leave us beyond the last entry
                // (where new entries would not be seen).
                let _ = j.previous();
            }
            JournalStart::Cursor(c) => {
                j.seek_cursor(c.as_str()).map_err(jerr("seek cursor"))?;
                let moved = j.next().map_err(jerr("next"))?;
                if moved > 0 && !j.test_cursor(c.as_str()).unwrap_or(false) {
                    // The saved entry is gone: this one is new, read it.
                    let _ = j.previous();
                }
            }
        }
        Ok(())
    }

    /// The next entry selected by the matches, with the fields the line needs.
    pub fn next_entry(&mut self) -> Result<Option<JournalEntry>, BackendError> {
        let j = &mut self.journal;
        if j.next().map_err(jerr("next entry"))? == 0 {
            return Ok(None);
        }
        let mut entry = JournalEntry {
            realtime_usec: j.timestamp_usec().map_err(jerr("realtime stamp"))?,
            monotonic_usec: j.monotonic_timestamp().ok().map(|(u, _)| u),
            fields: Vec::with_capacity(8),
        };
        j.restart_data();
        while let Some(field) = j.enumerate_data().map_err(jerr("entry data"))? {
            let name = field.name();
            if FORMAT_FIELDS.iter().any(|f| f.as_bytes() == name) {
                entry.push_raw(field.data());
            }
        }
        Ok(Some(entry))
    }

    /// The next line, formatted as fail2ban formats it, with its time.
    pub fn next_line(&mut self) -> Result<Option<(String, f64)>, BackendError> {
        let mut line = String::new();
        Ok(self.next_line_into(&mut line)?.map(|time| (line, time)))
    }

    /// [`JournalReader::next_line`] into a buffer the caller reuses (cleared first): the line
    /// is built without allocating once the buffers have grown to the entries' size.
    pub fn next_line_into(&mut self, line: &mut String) -> Result<Option<f64>, BackendError> {
        let j = &mut self.journal;
        if j.next().map_err(jerr("next entry"))? == 0 {
            return Ok(None);
        }
        let sc = &mut self.scratch;
        sc.clear();
        sc.realtime_usec = j.timestamp_usec().map_err(jerr("realtime stamp"))?;
        j.restart_data();
        while let Some(field) = j.enumerate_data().map_err(jerr("entry data"))? {
            if let Some(f) = Field::of(field.name()) {
                sc.push(f, field.value().unwrap_or(&[]));
            }
        }
        if sc.wants_monotonic() {
            sc.monotonic_usec = j.monotonic_timestamp().ok().map(|(u, _)| u);
        }
        let time = format_into(&*sc, self.encoding, line);
        self.last_time = Some(time);
        Ok(Some(time))
    }

    /// Sleeps in `sd_journal_wait` until the journal changes or `timeout` passes. After an
    /// invalidation (rotation, vacuum, files added or removed) the reader steps back and forth
    /// once, so that it stands on a live entry again.
    pub fn wait(&mut self, timeout: Duration) -> Result<JournalWait, BackendError> {
        let r = self.journal.wait(Some(timeout)).map_err(jerr("wait"))?;
        Ok(match r {
            JournalWaitResult::Nop => JournalWait::Nop,
            JournalWaitResult::Append => JournalWait::Append,
            JournalWaitResult::Invalidate => {
                if self.journal.previous().unwrap_or(0) > 0 {
                    let _ = self.journal.next();
                }
                JournalWait::Invalidate
            }
        })
    }

    /// Replaces the matches (fail2ban's `addjournalmatch` / `deljournalmatch` on a running jail);
    /// the reader keeps its place. On a bad match the previous matches stay in force.
    pub fn set_matches(&mut self, matches: &[Vec<String>]) -> Result<(), BackendError> {
        for words in matches {
            super::matches::validate(words)?;
        }
        self.journal.match_flush().map_err(jerr("flush matches"))?;
        add_matches(&mut self.journal, matches)
    }

    /// Where the reader stands: the time of the last line read and the cursor of that entry.
    pub fn position(&self) -> Option<JournalPosition> {
        let time = self.last_time?;
        let cursor = self.journal.cursor().ok()?;
        Some(JournalPosition { time, cursor })
    }
}

fn open_journal(opts: &JournalOptions) -> Result<Journal, BackendError> {
    let files: Option<Vec<PathBuf>> = if opts.files.is_empty() {
        None
    } else {
        let found = expand_globs(&opts.files);
        if found.is_empty() {
            return Err(BackendError::NoJournalFiles(opts.files.join(" ")));
        }
        Some(found)
    };
    // fail2ban opens only the system journal unless told otherwise, and passes no flags at all
    // when it is given files or a directory.
    let flags = match opts.flags {
        Some(f) => f,
        None if files.is_none() && opts.path.is_none() => {
            std::env::var("F2B_SYSTEMD_DEFAULT_FLAGS")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(DEFAULT_FLAGS)
        }
        None => 0,
    };
    if let Some(path) = &opts.path {
        let p = path.to_string_lossy().into_owned();
        return OpenDirectoryOptions::default()
            .extra_raw_flags(flags)
            .open_directory(p)
            .map_err(jerr("open directory"));
    }
    if let Some(files) = files {
        let names: Vec<String> = files
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        return OpenFilesOptions::default()
            .extra_raw_flags(flags)
            .open_files(names.iter().map(String::as_str))
            .map_err(jerr("open files"));
    }
    if let Some(ns) = &opts.namespace {
        return OpenOptions::default()
            .extra_raw_flags(flags)
            .open_namespace(ns.as_str())
            .map_err(jerr("open namespace"));
    }
    OpenOptions::default()
        .extra_raw_flags(flags)
        .open()
        .map_err(jerr("open"))
}

/// Installs the matches as fail2ban does: every alternative of every line OR-ed.
fn add_matches(journal: &mut Journal, matches: &[Vec<String>]) -> Result<(), BackendError> {
    let mut any = false;
    for words in matches {
        super::matches::validate(words)?;
        if any {
            journal.match_or().map_err(jerr("add disjunction"))?;
        }
        for group in words.split(|w| w == "+") {
            for w in group {
                let (field, value) = w
                    .split_once('=')
                    .ok_or_else(|| BackendError::BadJournalMatch(w.clone()))?;
                journal
                    .match_add(field, value.as_bytes().to_vec())
                    .map_err(|_| BackendError::BadJournalMatch(w.clone()))?;
            }
            journal.match_or().map_err(jerr("add disjunction"))?;
        }
        any = true;
    }
    Ok(())
}
