//! Errors of the config reader: lexical ones name the file and line, semantic ones the jail (or
//! section) and option.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// A line of a config file that cannot be read (`jail.local:12: ...`).
    #[error("{}:{line}: {msg}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        msg: String,
    },
    /// A whole file that cannot be used (unreadable, not UTF-8, ...).
    #[error("{}: {msg}", file.display())]
    File { file: PathBuf, msg: String },
    /// The configuration directory itself is missing or holds no usable file.
    #[error("{msg}")]
    Dir { msg: String },
    /// A value that cannot be resolved or converted (`%(x)s` missing, bad syntax, recursion ...).
    #[error("[{section}] {option}: {msg}")]
    Option {
        section: String,
        option: String,
        msg: String,
    },
    /// A jail that is skipped because of its definition (filter/action not found, bad option ...).
    #[error("jail '{jail}': {msg}")]
    Jail { jail: String, msg: String },
    /// A jail option with an unusable value (in the typed specs).
    #[error("jail '{jail}', option '{option}': {msg}")]
    JailOption {
        jail: String,
        option: String,
        msg: String,
    },
    /// A filter or action file that cannot be found or used.
    #[error("{kind} '{name}': {msg}")]
    Definition {
        kind: &'static str,
        name: String,
        msg: String,
    },
    /// A command of the stream that the typed specs do not understand.
    #[error("command {cmd}: {msg}")]
    Command { cmd: String, msg: String },
    /// No file for a filter or action name.
    #[error("{kind} '{name}' not found{}", if tried.is_empty() { String::new() } else { format!(" (looked for {tried})") })]
    NotFound {
        kind: &'static str,
        name: String,
        tried: String,
    },
}
