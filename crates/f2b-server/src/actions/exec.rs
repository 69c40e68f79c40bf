//! Running one action command: `/bin/sh -c SCRIPT ARGS...` in its own session (so a timeout
//! kills the whole process group: SIGTERM, then SIGKILL after 0.2 s, as fail2ban does), with
//! stdout and stderr captured for the log. Commands run one at a time across the daemon, as
//! fail2ban serialises them (firewall tools often refuse concurrent callers).
//!
//! The command costs what the shell costs: it is started with `posix_spawn` (a vfork-style
//! clone, no copy of the daemon's page tables, with `setsid` done by the C library), and the
//! calling thread then sleeps in one `poll` on the child's pidfd and both output pipes, waking
//! the moment the child exits. No helper threads, no timed polling.

use std::ffi::{CString, OsString};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

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

fn io_err(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e as i32)
}

fn cstring(s: impl Into<Vec<u8>>) -> std::io::Result<CString> {
    CString::new(s).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "command contains a NUL byte",
        )
    })
}

/// One captured output stream: open until the child (and whatever inherited it) closes it.
struct Capture {
    pipe: Option<std::fs::File>,
    kept: Vec<u8>,
}

impl Capture {
    fn new(fd: OwnedFd) -> Capture {
        Capture {
            pipe: Some(std::fs::File::from(fd)),
            kept: Vec::new(),
        }
    }

    /// Read what is there (poll said so, the read does not block); closes at end of file.
    fn read_ready(&mut self) {
        let Some(p) = self.pipe.as_mut() else { return };
        let mut buf = [0u8; 8192];
        match p.read(&mut buf) {
            Ok(0) => self.pipe = None,
            Ok(n) => {
                let room = MAX_CAPTURE.saturating_sub(self.kept.len());
                self.kept.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => self.pipe = None,
        }
    }

    fn text(self) -> String {
        String::from_utf8_lossy(&self.kept).into_owned()
    }
}

/// A pidfd for `pid` (readable once it exits); `None` on kernels before 5.3.
fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: plain syscall; on success it returns a new descriptor that we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The child being waited for: reaped at most once.
struct Child {
    pid: Pid,
    pidfd: Option<OwnedFd>,
    status: Option<WaitStatus>,
}

impl Child {
    /// Reap it if it has ended (never blocks).
    fn try_reap(&mut self) -> bool {
        if self.status.is_some() {
            return true;
        }
        match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => false,
            Ok(st) => {
                self.status = Some(st);
                true
            }
            // ECHILD: nothing left to wait for (it cannot be ours to report any more)
            Err(_) => {
                self.status = Some(WaitStatus::StillAlive);
                true
            }
        }
    }

    fn exited(&self) -> bool {
        self.status.is_some()
    }

    fn kill_group(&self, sig: Signal) {
        // the child leads its own session, so its pid is the group id
        let _ = nix::sys::signal::killpg(self.pid, sig);
    }

    fn code_and_signal(&self) -> (Option<i32>, Option<i32>) {
        match self.status {
            Some(WaitStatus::Exited(_, c)) => (Some(c), None),
            Some(WaitStatus::Signaled(_, s, _)) => (None, Some(s as i32)),
            _ => (None, None),
        }
    }
}

/// Sleep in `poll` on the pipes still open (and the child, while it runs) until one of them is
/// ready or `until` passes; then read what is ready and reap the child if it ended. Returns
/// false once `until` has passed.
fn wait_step(child: &mut Child, out: &mut Capture, err: &mut Capture, until: Instant) -> bool {
    let left = until.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return false;
    }
    let mut fds: Vec<libc::pollfd> = Vec::with_capacity(3);
    let mut slots: [Option<usize>; 3] = [None; 3];
    for (i, p) in [out.pipe.as_ref(), err.pipe.as_ref()]
        .into_iter()
        .enumerate()
    {
        if let Some(p) = p {
            slots[i] = Some(fds.len());
            fds.push(libc::pollfd {
                fd: p.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
    }
    let mut ms = left.as_millis().min(i32::MAX as u128) as i32;
    if left.subsec_micros() % 1000 != 0 {
        ms = ms.saturating_add(1);
    }
    if !child.exited() {
        match child.pidfd.as_ref() {
            Some(pfd) => {
                slots[2] = Some(fds.len());
                fds.push(libc::pollfd {
                    fd: pfd.as_fd().as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            // without a pidfd the exit is only seen by asking: ask every 2 ms
            None => ms = ms.min(2),
        }
    }
    if fds.is_empty() {
        std::thread::sleep(Duration::from_millis(ms.max(0) as u64));
    } else {
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd entries for the call's duration.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            let e = Errno::last();
            if e != Errno::EINTR {
                // cannot wait on these descriptors: fall back to a short sleep
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    let ready = |slot: Option<usize>| {
        slot.is_some_and(|i| fds[i].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
    };
    if ready(slots[0]) {
        out.read_ready();
    }
    if ready(slots[1]) {
        err.read_ready();
    }
    if !child.exited() {
        child.try_reap();
    }
    true
}

/// Starts `/bin/sh -c script args...` in a new session, stdin on /dev/null, stdout and stderr
/// into the returned pipes.
fn spawn(script: &str, args: &[String]) -> std::io::Result<(Pid, OwnedFd, OwnedFd)> {
    use nix::spawn::{posix_spawn, PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags};
    let mut argv = Vec::with_capacity(args.len() + 3);
    argv.push(cstring("/bin/sh")?);
    argv.push(cstring("-c")?);
    argv.push(cstring(script)?);
    for a in args {
        argv.push(cstring(a.as_str())?);
    }
    let envp: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv: OsString = k;
            kv.push("=");
            kv.push(v);
            CString::new(kv.into_vec()).ok()
        })
        .collect();
    let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io_err)?;
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io_err)?;
    let null = std::fs::File::open("/dev/null")?;
    let mut fa = PosixSpawnFileActions::init().map_err(io_err)?;
    fa.add_dup2(null.as_raw_fd(), 0).map_err(io_err)?;
    fa.add_dup2(out_w.as_raw_fd(), 1).map_err(io_err)?;
    fa.add_dup2(err_w.as_raw_fd(), 2).map_err(io_err)?;
    let mut attr = PosixSpawnAttr::init().map_err(io_err)?;
    // setsid in the child (glibc >= 2.26), as fail2ban starts each command in a new session;
    // an empty signal mask and default SIGPIPE/SIGXFSZ, whatever the daemon's threads use.
    let flags = PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK
        | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF
        | PosixSpawnFlags::from_bits_retain(libc::c_int::from(libc::POSIX_SPAWN_SETSID));
    attr.set_flags(flags).map_err(io_err)?;
    attr.set_sigmask(&SigSet::empty()).map_err(io_err)?;
    let mut dfl = SigSet::empty();
    dfl.add(Signal::SIGPIPE);
    dfl.add(Signal::SIGXFSZ);
    attr.set_sigdefault(&dfl).map_err(io_err)?;
    let pid = posix_spawn(c"/bin/sh", &fa, &attr, &argv, &envp).map_err(io_err)?;
    // the write ends live on in the child only, so end of file means it (and its heirs) closed them
    drop((out_w, err_w, null));
    Ok((pid, out_r, err_r))
}

/// Runs `script` with `/bin/sh -c`, `args` following it (`$0`, `$1` ...), within `timeout`.
pub fn run_shell(script: &str, args: &[String], timeout: Duration) -> std::io::Result<CmdOutput> {
    let _guard = CMD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let start = Instant::now();
    let (pid, out_r, err_r) = spawn(script, args)?;
    let mut child = Child {
        pid,
        pidfd: pidfd_open(pid),
        status: None,
    };
    let mut out = Capture::new(out_r);
    let mut err = Capture::new(err_r);
    let deadline = start + timeout;
    let mut timed_out = false;
    while !child.exited() {
        if !wait_step(&mut child, &mut out, &mut err, deadline) {
            break;
        }
    }
    if !child.exited() {
        timed_out = true;
        child.kill_group(Signal::SIGTERM);
        std::thread::sleep(Duration::from_millis(200));
        // fail2ban kills the whole tree in any case: children may survive their shell
        child.kill_group(Signal::SIGKILL);
        let until = Instant::now() + Duration::from_millis(500);
        while !child.try_reap() && wait_step(&mut child, &mut out, &mut err, until) {}
    }
    // a background process that keeps the pipes open must not hold us: drain briefly only
    let grace = Instant::now() + Duration::from_millis(if timed_out { 50 } else { 200 });
    while (out.pipe.is_some() || err.pipe.is_some())
        && wait_step(&mut child, &mut out, &mut err, grace)
    {}
    let (code, signal) = child.code_and_signal();
    Ok(CmdOutput {
        code,
        signal,
        timed_out,
        stdout: out.text(),
        stderr: err.text(),
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

    #[test]
    fn own_session_default_signals_and_killed_status() {
        // session id (field 6 of /proc/PID/stat) is the shell's own pid
        let o = run_shell(
            "set -- $(cat /proc/$$/stat); [ \"$6\" = \"$$\" ] && echo leader",
            &[],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(o.stdout, "leader\n", "{o:?}");
        // SIGPIPE is back to default in the child: `yes` dies of it silently
        let o = run_shell("yes | head -n 1", &[], Duration::from_secs(5)).unwrap();
        assert!(o.success(), "{o:?}");
        assert_eq!((o.stdout.as_str(), o.stderr.as_str()), ("y\n", ""));
        let o = run_shell("kill -TERM $$; sleep 5", &[], Duration::from_secs(10)).unwrap();
        assert_eq!((o.code, o.signal, o.timed_out), (None, Some(15), false));
    }

    #[test]
    fn large_output_is_capped_and_background_heirs_do_not_hold_the_result() {
        let o = run_shell(
            "head -c 200000 /dev/zero | tr '\\0' x; echo done >&2",
            &[],
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(o.success(), "{:?}", (o.code, &o.stderr));
        assert_eq!(o.stdout.len(), MAX_CAPTURE);
        assert_eq!(o.stderr, "done\n");
        // a daemonised grandchild keeps the pipes open: the command's own end is what counts
        let t0 = Instant::now();
        let o = run_shell("echo hi; sleep 5 & exit 0", &[], Duration::from_secs(30)).unwrap();
        assert!(o.success() && !o.timed_out);
        assert_eq!(o.stdout, "hi\n");
        assert!(t0.elapsed() < Duration::from_secs(4), "waited for the heir");
    }

    #[test]
    fn nul_byte_is_an_error_not_a_panic() {
        assert!(run_shell("echo a\0b", &[], Duration::from_secs(1)).is_err());
        assert!(run_shell("echo", &["a\0".into()], Duration::from_secs(1)).is_err());
    }
}
