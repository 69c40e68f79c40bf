//! Log backends: where a jail's lines come from.
//!
//! - Files ([`FileTailer`], [`FileWatcher`]): follows log files across appends and every kind
//!   of rotation, with the resumable position fail2ban keeps in its `logs` table (offset + MD5
//!   of the first line); inotify wakes the reader, polling is the fallback.
//! - The systemd journal ([`JournalReader`], behind the default `systemd` feature): entries
//!   selected by `journalmatch`, formatted into the exact line fail2ban builds
//!   ([`format_journal_entry`], a pure function).
//!
//! This crate does not match lines, parse dates or keep state across restarts: it hands out
//! lines (and journal times) and exposes positions; the daemon filters them and persists the
//! positions. Globs in `logpath` are expanded by the config reader ([`expand_globs`] is here for
//! reloads).
//!
//! ```no_run
//! use std::time::Duration;
//! use f2b_backend::{FileBackend, FileTailer, FileWatcher, LogEncoding, StartPos};
//!
//! let mut watcher = FileWatcher::new(FileBackend::Inotify);
//! let tailer = FileTailer::open("/var/log/auth.log", StartPos::Head, LogEncoding::Utf8)?;
//! watcher.add(tailer)?;
//! let stop = watcher.stop_handle(); // for another thread: stop.stop()
//! loop {
//!     let out = watcher.wait_and_read(Duration::from_secs(1), &mut |path, line| {
//!         println!("{}: {line}", path.display());
//!     });
//!     if out.stopped {
//!         break;
//!     }
//!     // Persist watcher.tailers()[i].position() now and then.
//! }
//! # drop(stop);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backendspec;
mod dirwatch;
mod encoding;
mod error;
mod filetailer;
mod filewatcher;
mod globs;
pub mod journal;

pub use backendspec::{BackendSpec, JournalOptions};
pub use encoding::LogEncoding;
pub use error::BackendError;
pub use filetailer::{first_line_md5, FilePosition, FileTailer, StartPos, DEFAULT_MAX_LINE};
pub use filewatcher::{FileBackend, FileWatcher, StopHandle, WaitOutcome};
pub use globs::expand_globs;
pub use journal::format::{entry_time, format_journal_entry, JournalEntry};
pub use journal::matches::parse_journalmatch;
pub use journal::{JournalPosition, JournalReader, JournalStart, JournalWait};
