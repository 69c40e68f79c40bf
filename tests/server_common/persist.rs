//! Helpers of the `persist_*` integration tests, on top of the server ones: a tree whose `rec`
//! action records every ban and unban with its `<restored>` flag, ticket time, bantime and the
//! server lifetime that ran it; a daemon (ours or Debian's fail2ban-server) that can be killed;
//! client calls with the matching client; reading back the record file and the database.

pub mod dbshare;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub use super::{now_secs, stamp, wait_until};

/// Which daemon runs on a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// f2b-server.
    Ours,
    /// Debian's fail2ban-server, the reference.
    Theirs,
}

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

/// A server tree ([`super::Tree`]) whose jails use the `rec` action by default.
pub struct Tree(pub super::Tree);

impl std::ops::Deref for Tree {
    type Target = super::Tree;
    fn deref(&self) -> &super::Tree {
        &self.0
    }
}

impl Tree {
    /// [`super::Tree::new`] with the `rec` action as the default action.
    pub fn new(jail_local: &str) -> Tree {
        let t = super::Tree::new(jail_local);
        t.write(
            "conf/jail.conf",
            &super::JAIL_CONF.replace("\naction = record\n", "\naction = rec\n"),
        );
        t.write("conf/action.d/rec.conf", REC_ACTION);
        Tree(t)
    }

    pub fn db(&self) -> PathBuf {
        self.dir().join("f2b.sqlite3")
    }

    /// Append lines to a file under the tree, in one write (a reader never sees a part).
    pub fn append(&self, rel: &str, lines: &[String]) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
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

    /// The parsed lines of the record file.
    pub fn rec(&self) -> Vec<Rec> {
        self.read("rec").lines().filter_map(Rec::parse).collect()
    }

    /// Ban records of one action name.
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

pub fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Whether Debian's fail2ban-server (and its client) can be run here.
pub fn have_fail2ban() -> bool {
    f2b::have("fail2ban-server") && f2b::have("fail2ban-client")
}

/// A running daemon ([`super::Daemon`], stopped when dropped) with the server kind and the
/// lifetime number it was given.
pub struct Daemon {
    pub inner: super::Daemon,
    pub server: Server,
    pub sock: PathBuf,
    /// A number unique to this process within the test run, passed to it (and so to its
    /// actions) as `F2B_TEST_LIFE`.
    pub life: u64,
}

impl std::ops::Deref for Daemon {
    type Target = super::Daemon;
    fn deref(&self) -> &super::Daemon {
        &self.inner
    }
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
            inner: super::Daemon {
                child,
                sock: tree.sock(),
            },
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
            if let Ok(Some(_)) = d.inner.child.try_wait() {
                return true;
            }
            sock.exists() && client(server, &sock, &["ping"]).0 == 0
        });
        if let Ok(Some(st)) = d.inner.child.try_wait() {
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
        i64::from(self.inner.child.id())
    }

    /// A client command against this daemon, with the matching client program.
    pub fn client(&self, args: &[&str]) -> (i32, String) {
        client(self.server, &self.sock, args)
    }

    /// SIGTERM and wait for the exit; returns whether it exited in time.
    pub fn terminate(&mut self) -> bool {
        self.inner.terminate()
    }

    /// SIGKILL and reap: no clean-up of any kind runs.
    pub fn kill9(&mut self) {
        let _ = self.inner.child.kill();
        let _ = self.inner.child.wait();
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
