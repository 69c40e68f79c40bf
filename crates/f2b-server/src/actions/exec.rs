//! Running one action command: `/bin/sh -c SCRIPT ARGS...` in its own session (so a timeout
//! kills the whole process group: SIGTERM, then SIGKILL after 0.2 s, as fail2ban does), with
//! stdout and stderr captured for the log. Commands run one at a time across the daemon, as
//! fail2ban serialises them (firewall tools often refuse concurrent callers).

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static CMD_LOCK: Mutex<()> = Mutex::new(());

/// Output kept per stream (the rest is dropped, the command is not blocked).
const MAX_CAPTURE: usize = 64 * 1024;

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdOutput {
    /// Exit code (`None` when killed by a signal or unkillable).
    pub code: Option<i32>,
    /// Signal that ended it.
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }
}

fn reader(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = MAX_CAPTURE.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        let _ = tx.send(kept);
    });
    rx
}

fn kill_group(child: &Child, sig: nix::sys::signal::Signal) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // the child leads its own session, so its pid is the group id
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), sig);
    }
}

/// Runs `script` with `/bin/sh -c`, `args` following it (`$0`, `$1` ...), within `timeout`.
pub fn run_shell(script: &str, args: &[String], timeout: Duration) -> std::io::Result<CmdOutput> {
    let _guard = CMD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let out_rx = child.stdout.take().map(reader);
    let err_rx = child.stderr.take().map(reader);
    let start = Instant::now();
    let mut sleep = Duration::from_micros(100);
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if start.elapsed() >= timeout {
            timed_out = true;
            kill_group(&child, nix::sys::signal::Signal::SIGTERM);
            std::thread::sleep(Duration::from_millis(200));
            // fail2ban kills the whole tree in any case: children may survive their shell
            kill_group(&child, nix::sys::signal::Signal::SIGKILL);
            let deadline = Instant::now() + Duration::from_millis(500);
            loop {
                if child.try_wait()?.is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            break child.try_wait()?;
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(50));
    };
    // a background process that keeps the pipes open must not hold us: wait briefly only
    let grace = Duration::from_millis(if timed_out { 50 } else { 200 });
    let collect = |rx: Option<mpsc::Receiver<Vec<u8>>>| {
        rx.and_then(|r| r.recv_timeout(grace).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let stdout = collect(out_rx);
    let stderr = collect(err_rx);
    Ok(CmdOutput {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        timed_out,
        stdout,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_and_output() {
        let o = run_shell(
            "echo out; echo err >&2; exit 3",
            &[],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(o.code, Some(3));
        assert!(!o.success());
        assert_eq!(o.stdout, "out\n");
        assert_eq!(o.stderr, "err\n");
        let o = run_shell("true", &[], Duration::from_secs(5)).unwrap();
        assert!(o.success());
    }

    #[test]
    fn positional_arguments() {
        let o = run_shell(
            "printf '%s|%s' \"$0\" \"$1\"",
            &["a b".into(), "$(c)".into()],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(o.stdout, "a b|$(c)");
    }

    #[test]
    fn timeout_kills_the_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let t0 = Instant::now();
        let o = run_shell(&script, &[], Duration::from_millis(300)).unwrap();
        assert!(o.timed_out);
        assert!(!o.success());
        assert!(t0.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(2500));
        assert!(
            !marker.exists(),
            "a child of the timed-out command survived"
        );
    }
}
