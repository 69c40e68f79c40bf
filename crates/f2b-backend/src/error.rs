//! Errors of the backends, typed so the daemon can render them once.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while setting up or running a log backend.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("unknown log encoding {0:?}")]
    UnknownEncoding(String),
    #[error("unknown backend {0:?} (expected auto, pyinotify, gamin, polling or systemd)")]
    UnknownBackend(String),
    #[error("backend {backend}: unknown option {option:?}")]
    UnknownOption { backend: String, option: String },
    #[error("backend {backend}: bad value {value:?} for option {option}")]
    BadOption {
        backend: String,
        option: String,
        value: String,
    },
    #[error("malformed backend specification {0:?}")]
    BadSpec(String),
    #[error("cannot open log file {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot watch {path}: {message}")]
    Watch { path: PathBuf, message: String },
    #[error("backend = systemd is not available: f2b was built without the `systemd` feature")]
    SystemdUnsupported,
    #[error("invalid journal match {0:?} (expected FIELD=value or +)")]
    BadJournalMatch(String),
    #[error("journalmatch: {0}")]
    JournalMatchSyntax(String),
    #[error("journalfiles {0:?} matched no file")]
    NoJournalFiles(String),
    #[error("systemd journal: {context}: {message}")]
    Journal {
        context: &'static str,
        message: String,
    },
}
