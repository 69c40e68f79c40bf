//! Helpers of the `server_*` integration tests: a temporary fail2ban config tree with recording
//! actions, a daemon process (ours or fail2ban's) on it, and client calls.
#![allow(dead_code)]

pub mod persist;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A config tree in a temp dir. `{dir}` in texts is replaced by the dir's path.
pub struct Tree {
    pub tmp: tempfile::TempDir,
}

pub const JAIL_CONF: &str = "\
[DEFAULT]
ignoreself = false
ignoreip = 127.0.0.1/8
ignorecommand =
maxretry = 3
maxmatches = %(maxretry)s
findtime = 60
bantime = 600
backend = auto
usedns = no
logencoding = auto
enabled = false
filter = t
action = record
";

pub fn fail2ban_conf(dir: &Path) -> String {
    format!(
        "[Definition]\nloglevel = INFO\nlogtarget = {d}/server.log\nsyslogsocket = auto\nsocket = {d}/f2b.sock\n\
         pidfile = {d}/f2b.pid\nallowipv6 = auto\ndbfile = {d}/f2b.sqlite3\ndbpurgeage = 1d\ndbmaxmatches = 10\n\
         [Thread]\nstacksize = 0\n",
        d = dir.display()
    )
}

/// A recording action: every start/ban/unban/stop appends a line to `<recfile>`.
pub const RECORD_ACTION: &str = "\
[Definition]
actionstart = echo \"start <name>\" >> <recfile>
actionstop = echo \"stop <name>\" >> <recfile>
actioncheck =
actionban = echo \"ban <name> <ip>\" >> <recfile>
actionunban = echo \"unban <name> <ip>\" >> <recfile>
[Init]
name = default
recfile = {dir}/rec
";

/// An action whose ban always fails.
pub const BROKEN_ACTION: &str = "\
[Definition]
actionstart =
actionstop =
actioncheck =
actionban = echo \"attempt <ip>\" >> {dir}/broken; exit 3
actionunban =
";

impl Tree {
    /// A tree with our minimal fail2ban.conf/jail.conf, the `t` filter (`FAIL from <HOST>`),
    /// the record and broken actions, and `jail_local` as jail.local.
    pub fn new(jail_local: &str) -> Tree {
        let tmp = tempfile::Builder::new()
            .prefix("f2b-srv")
            .tempdir()
            .expect("tempdir");
        let t = Tree { tmp };
        for d in ["conf/filter.d", "conf/action.d", "conf/jail.d"] {
            fs::create_dir_all(t.dir().join(d)).expect("mkdir");
        }
        t.write("conf/fail2ban.conf", &fail2ban_conf(t.dir()));
        t.write("conf/jail.conf", JAIL_CONF);
        t.write(
            "conf/filter.d/t.conf",
            "[Definition]\nfailregex = FAIL from <HOST>$\n",
        );
        t.write("conf/action.d/record.conf", RECORD_ACTION);
        t.write("conf/action.d/broken.conf", BROKEN_ACTION);
        t.write("conf/jail.local", jail_local);
        t
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn conf(&self) -> PathBuf {
        self.dir().join("conf")
    }

    pub fn sock(&self) -> PathBuf {
        self.dir().join("f2b.sock")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir().join(rel)
    }

    /// Write `text` (with `{dir}` replaced) at `rel`.
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.dir().join(rel);
        fs::write(&p, text.replace("{dir}", &self.dir().display().to_string())).expect("write");
    }

    /// Append lines to a log file under the tree.
    pub fn append(&self, rel: &str, lines: &[String]) {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir().join(rel))
            .expect("open log");
        for l in lines {
            writeln!(f, "{l}").expect("append");
        }
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.dir().join(rel)).unwrap_or_default()
    }

    /// Lines of the record file.
    pub fn rec(&self) -> Vec<String> {
        self.read("rec").lines().map(str::to_string).collect()
    }
}

/// A syslog-style local time stamp `YYYY-MM-DD HH:MM:SS` for `secs_ago` seconds ago.
pub fn stamp(secs_ago: i64) -> String {
    let out = Command::new("date")
        .arg("-d")
        .arg(format!("@{}", now_secs() - secs_ago))
        .arg("+%Y-%m-%d %H:%M:%S")
        .env("TZ", "UTC")
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Poll `f` until it is true or `secs` pass.
pub fn wait_until(secs: f64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running daemon; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Daemon {
    pub child: Child,
    pub sock: PathBuf,
}

impl Daemon {
    /// `f2b-server -xf -c CONF start` on the tree, waiting until it answers ping.
    pub fn start_ours(tree: &Tree) -> Daemon {
        let child = Command::new(f2b::bin("f2b-server"))
            .arg("-xf")
            .arg("-c")
            .arg(tree.conf())
            .arg("start")
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn f2b-server");
        Daemon::wait_ready(child, tree)
    }

    /// Debian's `fail2ban-server -xf -c CONF -s SOCK -p PID start`, which reads the tree itself.
    pub fn start_fail2ban(tree: &Tree) -> Daemon {
        let child = Command::new("fail2ban-server")
            .arg("-xf")
            .arg("-c")
            .arg(tree.conf())
            .arg("-s")
            .arg(tree.sock())
            .arg("-p")
            .arg(tree.path("f2b.pid"))
            .arg("start")
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn fail2ban-server");
        Daemon::wait_ready(child, tree)
    }

    /// `f2b-server` (or, with `theirs`, Debian's `fail2ban-server`) started as
    /// [`Daemon::start_ours`] / [`Daemon::start_fail2ban`] do, but in a private mount namespace
    /// where `hosts` is bind-mounted over /etc/hosts, so host names resolve without network.
    /// `None` when this machine cannot do that (not root, no `unshare`).
    pub fn start_with_hosts(tree: &Tree, hosts: &Path, theirs: bool) -> Option<Daemon> {
        if !private_hosts_work(hosts) {
            return None;
        }
        let mut server = if theirs {
            vec![
                "fail2ban-server".to_string(),
                "-xf".into(),
                "-c".into(),
                tree.conf().display().to_string(),
                "-s".into(),
                tree.sock().display().to_string(),
                "-p".into(),
                tree.path("f2b.pid").display().to_string(),
            ]
        } else {
            vec![
                f2b::bin("f2b-server").display().to_string(),
                "-xf".into(),
                "-c".into(),
                tree.conf().display().to_string(),
            ]
        };
        server.push("start".into());
        // `exec` keeps the daemon's pid that of the spawned child, so signals reach it.
        let child = Command::new("unshare")
            .arg("--mount")
            .arg("sh")
            .arg("-c")
            .arg("mount --bind \"$0\" /etc/hosts && exec \"$@\"")
            .arg(hosts)
            .args(&server)
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn unshare");
        Some(Daemon::wait_ready(child, tree))
    }

    fn wait_ready(mut child: Child, tree: &Tree) -> Daemon {
        let sock = tree.sock();
        let ok = wait_until(30.0, || {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            sock.exists() && ours(&sock, &["ping"]).0 == 0
        });
        if let Ok(Some(st)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!(
                "daemon exited early ({st}): {err}\nlog:\n{}",
                tree.read("server.log")
            );
        }
        assert!(
            ok,
            "daemon did not answer on {}\nlog:\n{}",
            sock.display(),
            tree.read("server.log")
        );
        Daemon { child, sock }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Send a signal by name (`TERM`, `HUP`, `USR1`) with kill(1).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status();
    }

    /// SIGTERM and wait for the exit; returns whether it exited in time.
    pub fn terminate(&mut self) -> bool {
        self.signal("TERM");
        let child = &mut self.child;
        wait_until(30.0, || matches!(child.try_wait(), Ok(Some(_))))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            if !self.terminate() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// Run our f2b-client on `sock`; (exit code, stdout + stderr).
pub fn ours(sock: &Path, args: &[&str]) -> (i32, String) {
    run_client(Command::new(f2b::bin("f2b-client")), sock, args)
}

/// Run Debian's fail2ban-client on `sock`.
pub fn theirs(sock: &Path, args: &[&str]) -> (i32, String) {
    run_client(Command::new("fail2ban-client"), sock, args)
}

fn run_client(mut cmd: Command, sock: &Path, args: &[&str]) -> (i32, String) {
    let out = cmd
        .arg("-s")
        .arg(sock)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run client");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// Whether a private mount namespace with `hosts` over /etc/hosts can be set up here.
pub fn private_hosts_work(hosts: &Path) -> bool {
    f2b::have("unshare")
        && Command::new("unshare")
            .arg("--mount")
            .arg("sh")
            .arg("-c")
            .arg("mount --bind \"$0\" /etc/hosts")
            .arg(hosts)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Lines of the tree's server log holding `needle`.
pub fn log_lines(tree: &Tree, needle: &str) -> Vec<String> {
    tree.read("server.log")
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}
