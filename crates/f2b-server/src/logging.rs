//! The daemon's own log, written in the exact layout fail2ban uses so that tools reading
//! fail2ban's log (the stock `recidive` jail, logwatch, admins' greps) work unchanged on ours:
//!
//! `2024-05-01 12:00:00,123 fail2ban.actions        [4242]: NOTICE  [sshd] Ban 192.0.2.1`
//!
//! The logger name is padded to 24 columns, the level name to 7, and the time is local time with
//! milliseconds after a comma. Syslog lines carry no time and no padding (fail2ban drops both for
//! its syslog handler), the journal receives the bare message with a priority.
//!
//! One process-wide logger: every thread may log, the target can be swapped at run time
//! (`set logtarget`) and a file target can be reopened after rotation (`flushlogs`, SIGUSR1).
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// fail2ban's log levels with its numeric values (Python logging plus NOTICE, MSG, TRACE, HEAVY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Level(pub u8);

impl Level {
    pub const CRITICAL: Level = Level(50);
    pub const ERROR: Level = Level(40);
    pub const WARNING: Level = Level(30);
    pub const NOTICE: Level = Level(25);
    pub const INFO: Level = Level(20);
    pub const MSG: Level = Level(18);
    pub const DEBUG: Level = Level(10);
    pub const TRACEDEBUG: Level = Level(7);
    pub const HEAVYDEBUG: Level = Level(5);

    /// Parse a level as fail2ban accepts it: a name (any case) or a number.
    pub fn parse(s: &str) -> Result<Level, LogError> {
        let t = s.trim();
        if let Ok(n) = t.parse::<u8>() {
            return Ok(Level(n));
        }
        Ok(match t.to_ascii_uppercase().as_str() {
            "CRITICAL" | "FATAL" => Level::CRITICAL,
            "ERROR" => Level::ERROR,
            "WARNING" | "WARN" => Level::WARNING,
            "NOTICE" => Level::NOTICE,
            "INFO" => Level::INFO,
            "MSG" => Level::MSG,
            "DEBUG" => Level::DEBUG,
            "TRACEDEBUG" | "TRACE" => Level::TRACEDEBUG,
            "HEAVYDEBUG" | "HEAVY" => Level::HEAVYDEBUG,
            _ => return Err(LogError::BadLevel(s.to_string())),
        })
    }

    /// The name printed in the level column.
    pub fn name(self) -> String {
        match self.0 {
            50 => "CRITICAL".into(),
            40 => "ERROR".into(),
            30 => "WARNING".into(),
            25 => "NOTICE".into(),
            20 => "INFO".into(),
            18 => "MSG".into(),
            10 => "DEBUG".into(),
            7 => "TRACE".into(),
            5 => "HEAVY".into(),
            0 => "NOTSET".into(),
            n => format!("Level {n}"),
        }
    }

    /// syslog/journal priority for this level.
    fn priority(self) -> u8 {
        match self.0 {
            50.. => 2,
            40..=49 => 3,
            30..=39 => 4,
            25..=29 => 5,
            18..=24 => 6,
            _ => 7,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("Invalid log level {0:?}")]
    BadLevel(String),
    #[error("Unable to log to {path:?}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("Syslog socket file: {0} does not exists or is not a socket")]
    NoSyslog(String),
}

/// Where log lines go, as named by `logtarget`.
#[derive(Debug)]
enum Sink {
    Stdout,
    Stderr,
    File {
        path: PathBuf,
        file: File,
    },
    Syslog {
        sock: UnixDatagram,
        path: String,
        facility: u8,
    },
    Journal {
        sock: Option<UnixDatagram>,
    },
}

struct State {
    level: Level,
    level_text: String,
    target: String,
    syslog_socket: String,
    sink: Sink,
    pid: u32,
}

fn state() -> &'static Mutex<State> {
    static S: OnceLock<Mutex<State>> = OnceLock::new();
    S.get_or_init(|| {
        Mutex::new(State {
            level: Level::INFO,
            level_text: "INFO".into(),
            target: "STDERR".into(),
            syslog_socket: "auto".into(),
            sink: Sink::Stderr,
            pid: std::process::id(),
        })
    })
}

fn lock() -> std::sync::MutexGuard<'static, State> {
    // A panic while holding the lock must not silence the log of every other thread.
    state().lock().unwrap_or_else(|e| e.into_inner())
}

/// Split `TARGET[opt=val, ...]` the way fail2ban's logtarget accepts options (facility=...).
fn split_options(target: &str) -> (String, Vec<(String, String)>) {
    let t = target.trim();
    if let Some(open) = t.find('[') {
        if t.ends_with(']') {
            let opts = t[open + 1..t.len() - 1]
                .split(',')
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((
                        k.trim().to_string(),
                        v.trim().trim_matches(|c| c == '"' || c == '\'').to_string(),
                    ))
                })
                .collect();
            return (t[..open].trim().to_string(), opts);
        }
    }
    (t.to_string(), Vec::new())
}

fn facility_code(name: &str) -> Option<u8> {
    Some(match name.to_ascii_uppercase().as_str() {
        "KERN" => 0,
        "USER" => 1,
        "MAIL" => 2,
        "DAEMON" => 3,
        "AUTH" => 4,
        "SYSLOG" => 5,
        "LPR" => 6,
        "NEWS" => 7,
        "UUCP" => 8,
        "CRON" => 9,
        "AUTHPRIV" => 10,
        "FTP" => 11,
        n if n.starts_with("LOCAL") => 16 + n[5..].parse::<u8>().ok().filter(|d| *d < 8)?,
        _ => return None,
    })
}

fn open_sink(target: &str, syslog_socket: &str) -> Result<Sink, LogError> {
    let (name, opts) = split_options(target);
    match name.to_ascii_uppercase().as_str() {
        "STDOUT" | "SYSOUT" => Ok(Sink::Stdout),
        "STDERR" => Ok(Sink::Stderr),
        "SYSTEMD-JOURNAL" => {
            let sock = UnixDatagram::unbound()
                .ok()
                .filter(|s| s.connect("/run/systemd/journal/socket").is_ok());
            Ok(Sink::Journal { sock })
        }
        "SYSLOG" => {
            let path = if syslog_socket == "auto" {
                "/dev/log".to_string()
            } else {
                syslog_socket.to_string()
            };
            let facility = opts
                .iter()
                .find(|(k, _)| k == "facility")
                .and_then(|(_, v)| facility_code(v))
                .unwrap_or(3);
            let sock = UnixDatagram::unbound().map_err(|_| LogError::NoSyslog(path.clone()))?;
            sock.connect(&path)
                .map_err(|_| LogError::NoSyslog(path.clone()))?;
            Ok(Sink::Syslog {
                sock,
                path,
                facility,
            })
        }
        _ => {
            let path = PathBuf::from(&name);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|source| LogError::Open {
                    path: name.clone(),
                    source,
                })?;
            Ok(Sink::File { path, file })
        }
    }
}

/// Current local time as fail2ban's `asctime`: `YYYY-MM-DD HH:MM:SS,mmm`.
fn asctime() -> String {
    let now = jiff::Zoned::now();
    format!(
        "{},{:03}",
        now.strftime("%Y-%m-%d %H:%M:%S"),
        now.subsec_nanosecond() / 1_000_000
    )
}

/// Format one line without the time prefix (the part syslog would receive, padded).
fn body(name: &str, pid: u32, level: Level, msg: &fmt::Arguments<'_>) -> String {
    format!("{name:<24}[{pid}]: {:<7} {msg}", level.name())
}

/// Whether a message at `level` would be written now (to skip formatting costs in hot paths).
pub fn enabled(level: Level) -> bool {
    level >= lock().level
}

/// Write one message from logger `name` (e.g. `fail2ban.actions`).
pub fn log(name: &str, level: Level, msg: fmt::Arguments<'_>) {
    let mut st = lock();
    if level < st.level {
        return;
    }
    let pid = st.pid;
    match &mut st.sink {
        Sink::Stdout => {
            let line = format!("{} {}\n", asctime(), body(name, pid, level, &msg));
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
        Sink::Stderr => {
            let line = format!("{} {}\n", asctime(), body(name, pid, level, &msg));
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
        Sink::File { file, .. } => {
            let line = format!("{} {}\n", asctime(), body(name, pid, level, &msg));
            let _ = file.write_all(line.as_bytes());
        }
        Sink::Syslog { sock, facility, .. } => {
            // No time and no column padding: what fail2ban sends to syslog by default.
            // ends in NUL, as Python's syslog handler sends it
            let line = format!(
                "<{}>{name}[{pid}]: {} {msg}\0",
                u16::from(*facility) * 8 + u16::from(level.priority()),
                level.name()
            );
            let _ = sock.send(line.as_bytes());
        }
        Sink::Journal { sock } => {
            let text = msg.to_string();
            match sock {
                Some(s) => {
                    let mut d = Vec::with_capacity(text.len() + 96);
                    // MESSAGE may hold newlines only in the binary form of the native protocol.
                    d.extend_from_slice(b"MESSAGE\n");
                    d.extend_from_slice(&(text.len() as u64).to_le_bytes());
                    d.extend_from_slice(text.as_bytes());
                    d.extend_from_slice(
                        format!(
                            "\nPRIORITY={}\nSYSLOG_IDENTIFIER=fail2ban\nLOGGER={name}\n",
                            level.priority()
                        )
                        .as_bytes(),
                    );
                    let _ = s.send(&d);
                }
                None => {
                    let _ = writeln!(std::io::stderr(), "<{}>{}", level.priority(), text);
                }
            }
        }
    }
}

/// Set the level from a fail2ban level string; the text is kept as given (upper-cased), as
/// fail2ban's `get loglevel` returns it.
pub fn set_level(text: &str) -> Result<(), LogError> {
    let level = Level::parse(text)?;
    let mut st = lock();
    st.level = level;
    st.level_text = text.trim().to_ascii_uppercase();
    Ok(())
}

pub fn level_text() -> String {
    lock().level_text.clone()
}

/// Switch the target (a file path, STDOUT, STDERR, SYSLOG, SYSTEMD-JOURNAL). On failure the
/// previous target stays in use.
pub fn set_target(target: &str) -> Result<(), LogError> {
    let mut st = lock();
    if st.target == target {
        return Ok(());
    }
    let sink = open_sink(target, &st.syslog_socket)?;
    st.sink = sink;
    st.target = target.to_string();
    Ok(())
}

pub fn target() -> String {
    lock().target.clone()
}

pub fn set_syslog_socket(path: &str) -> Result<(), LogError> {
    let mut st = lock();
    st.syslog_socket = path.to_string();
    if split_options(&st.target).0.eq_ignore_ascii_case("SYSLOG") {
        let sink = open_sink(&st.target.clone(), path)?;
        st.sink = sink;
    }
    Ok(())
}

pub fn syslog_socket() -> String {
    lock().syslog_socket.clone()
}

/// Record the pid again after daemonizing (the fork changes it).
pub fn refresh_pid() {
    lock().pid = std::process::id();
}

/// Reopen a file target (after logrotate moved it away). Returns fail2ban's reply text.
pub fn flush() -> &'static str {
    let mut st = lock();
    match &mut st.sink {
        Sink::File { path, file } => {
            let _ = file.flush();
            if let Ok(f) = OpenOptions::new().create(true).append(true).open(&*path) {
                *file = f;
            }
            "rolled over"
        }
        Sink::Stdout => {
            let _ = std::io::stdout().flush();
            "flushed"
        }
        Sink::Syslog { sock, path, .. } => {
            if let Ok(s) = UnixDatagram::unbound() {
                if s.connect(&*path).is_ok() {
                    *sock = s;
                }
            }
            "flushed"
        }
        _ => "flushed",
    }
}

/// `log!(target_name, LEVEL, "fmt", args..)`: write one line from logger `target_name`.
#[macro_export]
macro_rules! log {
    ($name:expr, $lvl:expr, $($arg:tt)+) => {
        $crate::logging::log($name, $lvl, format_args!($($arg)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_fail2ban_columns() {
        let b = body(
            "fail2ban.actions",
            4242,
            Level::NOTICE,
            &format_args!("[sshd] Ban {}", "192.0.2.1"),
        );
        assert_eq!(
            b,
            "fail2ban.actions        [4242]: NOTICE  [sshd] Ban 192.0.2.1"
        );
        let b = body("fail2ban.filter", 7, Level::INFO, &format_args!("x"));
        assert_eq!(b, "fail2ban.filter         [7]: INFO    x");
    }

    #[test]
    fn asctime_shape() {
        let t = asctime();
        assert_eq!(t.len(), 23, "{t}");
        assert_eq!(&t[19..20], ",");
    }

    #[test]
    fn levels_parse() {
        assert_eq!(Level::parse("notice").unwrap(), Level::NOTICE);
        assert_eq!(Level::parse("10").unwrap(), Level::DEBUG);
        assert!(Level::parse("LOUD").is_err());
        assert_eq!(Level::HEAVYDEBUG.name(), "HEAVY");
    }

    #[test]
    fn syslog_target_sends_fail2bans_unpadded_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        set_syslog_socket(&path.to_string_lossy()).unwrap();
        set_target("SYSLOG[facility=AUTHPRIV]").unwrap();
        log(
            "fail2ban.actions",
            Level::NOTICE,
            format_args!("[sshd] Ban 192.0.2.1 syslog-marker"),
        );
        let _ = set_target("STDERR");
        let mut buf = [0u8; 512];
        let want = format!(
            "<85>fail2ban.actions[{}]: NOTICE [sshd] Ban 192.0.2.1 syslog-marker\0",
            std::process::id()
        );
        loop {
            let n = rx.recv(&mut buf).expect("a datagram");
            let got = String::from_utf8_lossy(&buf[..n]).into_owned();
            if got.contains("syslog-marker") {
                assert_eq!(got, want);
                break;
            }
        }
        // a file target that cannot be opened is refused and the previous target stays
        let bad = dir.path().join("no/such/dir/f2b.log");
        assert!(set_target(&bad.to_string_lossy()).is_err());
        assert_eq!(target(), "STDERR");
    }

    #[test]
    fn target_options() {
        let (n, o) = split_options("SYSLOG[facility=AUTHPRIV]");
        assert_eq!(n, "SYSLOG");
        assert_eq!(o, vec![("facility".to_string(), "AUTHPRIV".to_string())]);
        assert_eq!(facility_code("local7"), Some(23));
    }
}
