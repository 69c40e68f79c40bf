//! fail2ban-client's diagnostics on stderr: `DATE TIME,ms fail2ban                [PID]: LEVEL   message`
//! up to `-v`, a shorter thread-tagged form from `-vv` on.

use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 10,
    Info = 20,
    Warning = 30,
    Error = 40,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
        }
    }
}

/// Where diagnostics go, filtered by the `-v`/`-q` verbosity (1 by default).
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    pub verbose: i32,
}

impl Logger {
    fn threshold(&self) -> Level {
        match self.verbose {
            i32::MIN..=0 => Level::Error,
            1 => Level::Warning,
            2 => Level::Info,
            _ => Level::Debug,
        }
    }

    pub fn log(&self, level: Level, msg: &str) {
        if level < self.threshold() {
            return;
        }
        let line = if self.verbose <= 2 {
            format!(
                "{} {:<24}[{}]: {:<7} {msg}\n",
                timestamp(),
                "fail2ban",
                std::process::id(),
                level.name()
            )
        } else {
            let thread = unsafe { libc::pthread_self() } as u64;
            let name: String = level.name().chars().take(5).collect();
            format!(" {:<15} {thread:X} {name:<5} {msg}\n", timestamp())
        };
        let _ = std::io::stderr().write_all(line.as_bytes());
    }

    pub fn error(&self, msg: &str) {
        self.log(Level::Error, msg)
    }
    pub fn warning(&self, msg: &str) {
        self.log(Level::Warning, msg)
    }
    pub fn info(&self, msg: &str) {
        self.log(Level::Info, msg)
    }
}

/// Local time as Python's logging prints it: `2026-11-22 02:57:51,711`.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r only writes into the tm we own.
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if !ok {
        return String::new();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
    )
}
