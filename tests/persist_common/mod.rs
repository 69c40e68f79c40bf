//! Helpers of the `persist_*` integration tests: a temporary config tree whose actions only
//! append to a record file, a daemon (ours or Debian's fail2ban-server) on it that can be
//! stopped or killed, client calls, and reading back the record file and the database.
#![allow(dead_code)]

pub mod dbshare;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which daemon runs on a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// f2b-server.
    Ours,
    /// Debian's fail2ban-server, the reference.
    Theirs,
}

/// A config tree in a temp dir; `{dir}` in texts is replaced by the dir's path.
pub struct Tree {
    pub tmp: tempfile::TempDir,
}

const JAIL_CONF: &str = "\
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
action = rec
";

/// The recording action. Each ban and unban appends one line naming the action, the ID, the
/// `<restored>` flag, the ticket's `<time>` and `<bantime>`, the server process that ran it
/// (`$PPID` of the shell, and the `F2B_TEST_LIFE` number the test gave that process in its
/// environment, which an orphaned shell still has after a SIGKILL of the server) and the wall
/// clock, so a test can tell server lifetimes and restores apart and check when a ban ends.
pub const REC_ACTION: &str = "\
[Definition]
actionstart = echo \"start <name> pid=$PPID\" >> <recfile>
actionstop = echo \"stop <name> pid=$PPID\" >> <recfile>
actioncheck =
actionban = echo \"ban <name> <ip> restored=<restored> time=<time> bantime=<bantime> pid=$PPID life=$F2B_TEST_LIFE now=$(date +%%s)\" >> <recfile>
actionunban = echo \"unban <name> <ip> restored=<restored> pid=$PPID life=$F2B_TEST_LIFE now=$(date +%%s)\" >> <recfile>
[Init]
name = default
recfile = {dir}/rec
";

impl Tree {
    /// A tree with fail2ban.conf (log target `server.log`, socket, pid file and database in
    /// the tree), a jail.conf of defaults, the `t` filter (`FAIL from <HOST>`), the `rec`
    /// action and `jail_local` as jail.local.
    pub fn new(jail_local: &str) -> Tree {
        let tmp = tempfile::Builder::new()
            .prefix("f2b-persist")
            .tempdir()
            .expect("tempdir");
        let t = Tree { tmp };
        for d in ["conf/filter.d", "conf/action.d", "conf/jail.d"] {
            fs::create_dir_all(t.dir().join(d)).expect("mkdir");
        }
        t.write(
            "conf/fail2ban.conf",
            "[Definition]\nloglevel = INFO\nlogtarget = {dir}/server.log\nsyslogsocket = auto\nsocket = {dir}/f2b.sock\n\
             pidfile = {dir}/f2b.pid\nallowipv6 = auto\ndbfile = {dir}/f2b.sqlite3\ndbpurgeage = 1d\ndbmaxmatches = 10\n\
             [Thread]\nstacksize = 0\n",
        );
        t.write("conf/jail.conf", JAIL_CONF);
        t.write(
            "conf/filter.d/t.conf",
            "[Definition]\nfailregex = FAIL from <HOST>$\n",
        );
        t.write("conf/action.d/rec.conf", REC_ACTION);
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

    pub fn db(&self) -> PathBuf {
        self.dir().join("f2b.sqlite3")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir().join(rel)
    }

    /// Write `text` (with `{dir}` replaced) at `rel`.
    pub fn write(&self, rel: &str, text: &str) {
        fs::write(
            self.dir().join(rel),
            text.replace("{dir}", &self.dir().display().to_string()),
        )
        .expect("write");
    }

    /// Append lines to a file under the tree.
    pub fn append(&self, rel: &str, lines: &[String]) {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir().join(rel))
            .expect("open log");
        let mut text = String::new();
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        f.write_all(text.as_bytes()).expect("append");
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.dir().join(rel)).unwrap_or_default()
    }

    /// The parsed lines of the record file.
    pub fn rec(&self) -> Vec<Rec> {
        self.read("rec").lines().filter_map(Rec::parse).collect()
    }

    /// Ban records (optionally of one action name).
    pub fn bans(&self, action: &str) -> Vec<Rec> {
        self.rec()
            .into_iter()
            .filter(|r| r.kind == "ban" && r.name == action)
            .collect()
    }

    pub fn unbans(&self, action: &str) -> Vec<Rec> {
        self.rec()
            .into_iter()
            .filter(|r| r.kind == "unban" && r.name == action)
            .collect()
    }
}

/// One line of the record file: `KIND NAME [ID] key=value...`.
#[derive(Clone, Debug)]
pub struct Rec {
    pub kind: String,
    pub name: String,
    pub id: String,
    pub kv: HashMap<String, String>,
    pub line: String,
}

impl Rec {
    fn parse(line: &str) -> Option<Rec> {
        let mut words = line.split(' ');
        let kind = words.next()?.to_string();
        let name = words.next()?.to_string();
        let mut id = String::new();
        let mut kv = HashMap::new();
        for w in words {
            match w.split_once('=') {
                Some((k, v)) => {
                    kv.insert(k.to_string(), v.to_string());
                }
                None => id = w.to_string(),
            }
        }
        Some(Rec {
            kind,
            name,
            id,
            kv,
            line: line.to_string(),
        })
    }

    pub fn get(&self, key: &str) -> &str {
        self.kv.get(key).map(String::as_str).unwrap_or("")
    }

    pub fn restored(&self) -> bool {
        self.get("restored") == "1"
    }

    pub fn pid(&self) -> i64 {
        self.get("pid").parse().unwrap_or(-1)
    }

    /// The `F2B_TEST_LIFE` of the daemon that ran the action (see [`Daemon::life`]).
    pub fn life(&self) -> u64 {
        self.get("life").parse().unwrap_or(0)
    }

    /// The ticket's `<time>` (fail2ban passes a float for fresh bans, whole seconds for
    /// restored ones).
    pub fn time(&self) -> f64 {
        self.get("time").parse().unwrap_or(f64::NAN)
    }

    pub fn bantime(&self) -> i64 {
        self.get("bantime").parse().unwrap_or(i64::MIN)
    }

    pub fn now(&self) -> i64 {
        self.get("now").parse().unwrap_or(-1)
    }
}

/// A syslog-style UTC time stamp `YYYY-MM-DD HH:MM:SS` for `secs_ago` seconds ago.
pub fn stamp(secs_ago: i64) -> String {
    fmt_utc(now_secs() - secs_ago)
}

/// `YYYY-MM-DD HH:MM:SS` of a Unix time, in UTC (the daemons run with TZ=UTC).
pub fn fmt_utc(t: i64) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    // civil-from-days (proleptic Gregorian), shifted so that a year starts in March
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
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

pub fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Whether Debian's fail2ban-server (and its client) can be run here.
pub fn have_fail2ban() -> bool {
    f2b::have("fail2ban-server") && f2b::have("fail2ban-client")
}

/// A running daemon; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Daemon {
    pub child: Child,
    pub server: Server,
    pub sock: PathBuf,
    /// A number unique to this process within the test run, passed to it (and so to its
    /// actions) as `F2B_TEST_LIFE`.
    pub life: u64,
}

static LIVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Daemon {
    /// Spawn the daemon in the foreground on the tree without waiting for it.
    pub fn spawn(server: Server, tree: &Tree) -> Daemon {
        let mut cmd = match server {
            Server::Ours => Command::new(f2b::bin("f2b-server")),
            Server::Theirs => {
                let mut c = Command::new("fail2ban-server");
                c.arg("-s")
                    .arg(tree.sock())
                    .arg("-p")
                    .arg(tree.path("f2b.pid"));
                c
            }
        };
        cmd.arg("-xf").arg("-c").arg(tree.conf()).arg("start");
        let life = LIVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let child = cmd
            .env("TZ", "UTC")
            .env("F2B_TEST_LIFE", life.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {server:?}: {e}"));
        Daemon {
            child,
            server,
            sock: tree.sock(),
            life,
        }
    }

    /// Spawn and wait until it answers ping.
    pub fn start(server: Server, tree: &Tree) -> Daemon {
        let mut d = Daemon::spawn(server, tree);
        let sock = tree.sock();
        let ok = wait_until(30.0, || {
            if let Ok(Some(_)) = d.child.try_wait() {
                return true;
            }
            sock.exists() && client(server, &sock, &["ping"]).0 == 0
        });
        if let Ok(Some(st)) = d.child.try_wait() {
            panic!(
                "{server:?} exited early ({st})\nlog:\n{}",
                tree.read("server.log")
            );
        }
        assert!(
            ok,
            "{server:?} did not answer on {}\nlog:\n{}",
            sock.display(),
            tree.read("server.log")
        );
        d
    }

    pub fn pid(&self) -> i64 {
        i64::from(self.child.id())
    }

    /// A client command against this daemon, with the matching client program.
    pub fn client(&self, args: &[&str]) -> (i32, String) {
        client(self.server, &self.sock, args)
    }

    /// SIGTERM and wait for the exit; returns whether it exited in time.
    pub fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let child = &mut self.child;
        wait_until(30.0, || matches!(child.try_wait(), Ok(Some(_))))
    }

    /// SIGKILL and reap: no clean-up of any kind runs.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            if !self.terminate() {
                self.kill9();
            }
        }
    }
}

/// Run the client matching `server` on `sock`: (exit code, stdout + stderr).
pub fn client(server: Server, sock: &Path, args: &[&str]) -> (i32, String) {
    let mut cmd = match server {
        Server::Ours => Command::new(f2b::bin("f2b-client")),
        Server::Theirs => Command::new("fail2ban-client"),
    };
    let out = cmd
        .arg("-s")
        .arg(sock)
        .args(args)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .output()
        .expect("run client");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// The lines of `get JAIL banip --with-time`, sorted (the two servers list them in different
/// orders).
pub fn banned_with_time(d: &Daemon, jail: &str) -> Vec<String> {
    let (code, out) = d.client(&["get", jail, "banip", "--with-time"]);
    assert_eq!(code, 0, "{out}");
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// The IDs of `Banned IP list:` in `status JAIL`, sorted.
pub fn banned_list(d: &Daemon, jail: &str) -> Vec<String> {
    let (code, out) = d.client(&["status", jail]);
    assert_eq!(code, 0, "{out}");
    let line = out
        .lines()
        .find_map(|l| l.split_once("Banned IP list:").map(|(_, r)| r.to_string()))
        .unwrap_or_default();
    let mut v: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    v.sort();
    v
}

/// Rows of an SQL query on a database file through the sqlite3 program (fields split on '|');
/// None when sqlite3 is not installed.
pub fn sql(db: &Path, query: &str) -> Option<Vec<Vec<String>>> {
    if !f2b::have("sqlite3") {
        return None;
    }
    let out = Command::new("sqlite3")
        .arg("-separator")
        .arg("|")
        .arg(db)
        .arg(query)
        .output()
        .expect("sqlite3");
    assert!(
        out.status.success(),
        "sqlite3 {query}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('|').map(str::to_string).collect())
            .collect(),
    )
}

/// A small deterministic generator (xorshift64*), so a randomized test replays exactly from
/// its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}
