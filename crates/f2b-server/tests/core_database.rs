//! The database against fail2ban's own `Fail2BanDb` class: files written by one are read by the
//! other. Skips (with a printed reason) when no python3 can import fail2ban.

use std::process::Command;

use f2b_server::database::{CurrentBansQuery, Database};
use f2b_server::ticket::{BanTicket, BanTime};

fn python_with_fail2ban() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import fail2ban.server.database"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

/// A stand-in for fail2ban's Jail: the database only asks for `name` and the jail's ban time.
const PY_PRELUDE: &str = r#"
import sys, json
from fail2ban.server.database import Fail2BanDb
from fail2ban.server.ticket import FailTicket, BanTicket
from fail2ban.server.mytime import MyTime
class _Act:
    def __init__(self, bt): self.bt = bt
    def getBanTime(self): return self.bt
class _Jail:
    def __init__(self, name, bt=600):
        self.name = name; self.actions = _Act(bt)
    def getMaxBanTime(self): return self.actions.getBanTime()
"#;

fn run_py(py: &str, script: &str, args: &[&str]) -> String {
    let full = format!("{PY_PRELUDE}\n{script}");
    let out = Command::new(py)
        .arg("-c")
        .arg(full)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn reads_database_written_by_fail2ban() {
    let Some(py) = python_with_fail2ban() else {
        eprintln!("SKIP: no python3 with the fail2ban package");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f2b.sqlite3");
    let path_s = path.to_str().unwrap();
    let now = 1_700_000_000.0_f64;
    run_py(
        py,
        r#"
now = float(sys.argv[2])
MyTime.setTime(now)
db = Fail2BanDb(sys.argv[1])
sshd = _Jail('sshd', 600); web = _Jail('web', 3600)
db.addJail(sshd); db.addJail(web)
def ban(jail, ip, t, bt=None, count=1, failures=3, matches=None, data=None):
    tk = BanTicket(ip, t, matches=matches or ['line %s' % ip], data=data or {})
    tk.setAttempt(failures)
    if bt is not None: tk.setBanTime(bt)
    tk.setBanCount(count)
    db.addBan(jail, tk)
ban(sshd, '192.0.2.1', now - 100)                       # active (600 s)
ban(sshd, '192.0.2.2', now - 1000)                      # expired
ban(sshd, '192.0.2.3', now - 90000, bt=-1, count=4)     # permanent
ban(sshd, '2001:db8::7', now - 50, bt=86400.5, count=2, data={'user': 'root'})  # active, fractional
ban(sshd, '192.0.2.4', now - 7200, bt=3600)             # expired with own time
ban(web, '192.0.2.1', now - 10, failures=7, matches=[['pre ', 'GET /x', ' post']])  # tuple line
db.updateLog(sshd, type('C', (), {'getFileName': lambda s: '/var/log/auth.log', 'getPos': lambda s: 4242, 'getHash': lambda s: 'abc123'})())
db.close()
"#,
        &[path_s, &format!("{now}")],
    );

    let db = Database::open(path_s).expect("open fail2ban's file");
    let q = CurrentBansQuery {
        jail: Some("sshd"),
        ..Default::default()
    };
    let cur = db.current_bans(&q, now).unwrap();
    let mut ids: Vec<&str> = cur.iter().map(|t| t.id()).collect();
    ids.sort();
    assert_eq!(ids, ["192.0.2.1", "192.0.2.3", "2001:db8::7"]);
    let v6 = cur.iter().find(|t| t.id() == "2001:db8::7").unwrap();
    assert_eq!(v6.ban_time(), Some(BanTime::Seconds(86400.5)));
    assert_eq!(v6.ban_count(), 2);
    assert_eq!(
        v6.data().captures.get("user").map(String::as_str),
        Some("root")
    );
    let perm = cur.iter().find(|t| t.id() == "192.0.2.3").unwrap();
    assert_eq!(perm.ban_time(), Some(BanTime::Permanent));
    assert_eq!(perm.ban_count(), 4);
    let one = cur.iter().find(|t| t.id() == "192.0.2.1").unwrap();
    assert_eq!(one.data().failures, 3);
    assert_eq!(one.matches(), ["line 192.0.2.1"]);
    assert_eq!(one.time(), now - 100.0);

    let web = db
        .current_bans(
            &CurrentBansQuery {
                jail: Some("web"),
                ..Default::default()
            },
            now,
        )
        .unwrap();
    assert_eq!(web.len(), 1);
    assert_eq!(web[0].matches(), ["pre GET /x post"]);
    assert_eq!(web[0].data().failures, 7);

    assert_eq!(
        db.add_log("sshd", "/var/log/auth.log", 0, Some("abc123"))
            .unwrap(),
        Some(4242)
    );
    let mut names = db.jail_names(None).unwrap();
    names.sort();
    assert_eq!(names, ["sshd", "web"]);
}

#[test]
fn fail2ban_reads_database_we_write() {
    let Some(py) = python_with_fail2ban() else {
        eprintln!("SKIP: no python3 with the fail2ban package");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ours.sqlite3");
    let path_s = path.to_str().unwrap();
    let now = 1_700_000_000.0_f64;
    {
        let db = Database::open(path_s).unwrap();
        db.add_jail("sshd").unwrap();
        let d = BanTime::Seconds(600.0);
        let mk = |ip: &str, t: f64, bt: Option<BanTime>, count: u32, failures: u32| {
            let mut b = BanTicket::new(ip, t);
            if let Some(bt) = bt {
                b.set_ban_time(bt);
            }
            b.set_ban_count(count);
            b.data_mut().failures = failures;
            b.data_mut().matches = vec![format!("Failed password for root from {ip} 'q' \"dq\" é")];
            b
        };
        db.add_ban("sshd", &mk("198.51.100.1", now - 100.0, None, 1, 3), d)
            .unwrap();
        db.add_ban("sshd", &mk("198.51.100.2", now - 5000.0, None, 1, 3), d)
            .unwrap();
        db.add_ban(
            "sshd",
            &mk(
                "198.51.100.3",
                now - 100_000.0,
                Some(BanTime::Permanent),
                3,
                5,
            ),
            d,
        )
        .unwrap();
        let mut cap = mk(
            "198.51.100.4",
            now - 30.0,
            Some(BanTime::Seconds(1631.25)),
            2,
            4,
        );
        cap.set_capture("user", "admin");
        db.add_ban("sshd", &cap, d).unwrap();
        db.update_log("sshd", "/var/log/auth.log", 777, Some("md5hash"))
            .unwrap();
    }
    let out = run_py(
        py,
        r#"
now = float(sys.argv[2])
MyTime.setTime(now)
db = Fail2BanDb(sys.argv[1])
sshd = _Jail('sshd', 600)
res = []
for t in db.getCurrentBans(jail=sshd, fromtime=now, correctBanTime=False):
    res.append([str(t.getID()), t.getTime(), t.getBanTime(), t.getBanCount(), t.getAttempt(), t.getMatches(), t.getData().get('user')])
res.sort()
print(json.dumps({'bans': res,
  'log': db._addLog(db._db.cursor(), sshd, '/var/log/auth.log', 0, 'md5hash'),
  'getban': [list(r) for r in db.getBan('198.51.100.3', sshd)],
  'version': db._db.execute('SELECT version FROM fail2banDb').fetchone()[0]}))
"#,
        &[path_s, &format!("{now}")],
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("python printed json");
    let bans = v["bans"].as_array().unwrap();
    let ids: Vec<&str> = bans.iter().map(|b| b[0].as_str().unwrap()).collect();
    assert_eq!(ids, ["198.51.100.1", "198.51.100.3", "198.51.100.4"]);
    assert_eq!(bans[0][2], serde_json::json!(600));
    assert_eq!(bans[0][4], serde_json::json!(3));
    assert_eq!(
        bans[0][5],
        serde_json::json!(["Failed password for root from 198.51.100.1 'q' \"dq\" é"])
    );
    assert_eq!(bans[1][2], serde_json::json!(-1));
    assert_eq!(bans[1][3], serde_json::json!(3));
    assert_eq!(bans[2][2], serde_json::json!(1631.25));
    assert_eq!(bans[2][6], serde_json::json!("admin"));
    assert_eq!(v["log"], serde_json::json!(777));
    assert_eq!(v["getban"], serde_json::json!([[3, 1_699_900_000, -1]]));
    assert_eq!(v["version"], serde_json::json!(4));
}

/// Merged history and restore selections on one file, by fail2ban and by us.
#[test]
fn merged_bans_and_restore_selection_match_fail2ban() {
    let Some(py) = python_with_fail2ban() else {
        eprintln!("SKIP: no python3 with the fail2ban package");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f2b.sqlite3");
    let path_s = path.to_str().unwrap();
    let now = 1_700_000_000.0_f64;
    let out = run_py(
        py,
        r#"
now = float(sys.argv[2])
MyTime.setTime(now)
db = Fail2BanDb(sys.argv[1])
db.maxMatches = 4
a = _Jail('a', 600); b = _Jail('b', 600)
db.addJail(a); db.addJail(b)
def ban(j, ip, t, bt=None, failures=1, n=1):
    tk = BanTicket(ip, t, matches=['%s %s %d' % (j.name, ip, k) for k in range(n)])
    tk.setAttempt(failures)
    if bt is not None: tk.setBanTime(bt)
    tk.setBanCount(1)
    db.addBan(j, tk)
ban(a, '203.0.113.1', now - 5000, failures=3, n=3)
ban(b, '203.0.113.1', now - 4000, failures=2, n=2)
ban(a, '203.0.113.1', now - 300, failures=4, n=3)
ban(a, '203.0.113.2', now - 100, bt=-1, failures=5, n=1)
ban(a, '203.0.113.3', now - 500, bt=7200, failures=2, n=6)
ban(b, '203.0.113.4', now - 10, bt=86400, failures=1, n=1)
def merged(ip, j):
    t = db.getBansMerged(ip=ip, jail=j)
    return [t.getAttempt(), t.getMatches(), t.getTime()]
def cur(j, forbantime, correct):
    return sorted([str(t.getID()), t.getBanTime(), t.getBanCount(), len(t.getMatches())]
        for t in db.getCurrentBans(jail=j, forbantime=forbantime, correctBanTime=correct, fromtime=now, maxmatches=2))
print(json.dumps({
  'merged_all': merged('203.0.113.1', None), 'merged_a': merged('203.0.113.1', a),
  'cur_plain': cur(a, 600, 600), 'cur_incr': cur(a, None, None), 'cur_incr_max': cur(a, None, 3600),
  'cur_all': sorted([str(t.getID()), t.getBanTime()] for t in db.getCurrentBans(fromtime=now, correctBanTime=False)),
}))
"#,
        &[path_s, &format!("{now}")],
    );
    let theirs: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let mut db = Database::open(path_s).unwrap();
    db.set_max_matches(4);
    // fail2ban keeps whole numbers as ints
    let n = |f: f64| {
        if f.fract() == 0.0 {
            serde_json::json!(f as i64)
        } else {
            serde_json::json!(f)
        }
    };
    let merged = |jail: Option<&str>| {
        let m = db.bans_merged("203.0.113.1", jail).unwrap().unwrap();
        serde_json::json!([m.data.failures, m.data.matches, n(m.time)])
    };
    assert_eq!(merged(None), theirs["merged_all"]);
    assert_eq!(merged(Some("a")), theirs["merged_a"]);
    let cur = |for_ban_time: Option<f64>, correct: Option<f64>| {
        let q = CurrentBansQuery {
            jail: Some("a"),
            for_ban_time,
            correct_ban_time: correct,
            jail_ban_time: Some(600.0),
            max_matches: Some(2),
            ..Default::default()
        };
        let mut v: Vec<serde_json::Value> = db
            .current_bans(&q, now)
            .unwrap()
            .iter()
            .map(|t| {
                let bt = t.ban_time().unwrap().as_secs();
                serde_json::json!([t.id(), n(bt), t.ban_count(), t.matches().len()])
            })
            .collect();
        v.sort_by_key(|x| x.to_string());
        serde_json::Value::Array(v)
    };
    assert_eq!(cur(Some(600.0), Some(600.0)), theirs["cur_plain"]);
    assert_eq!(cur(None, None), theirs["cur_incr"]);
    assert_eq!(cur(None, Some(3600.0)), theirs["cur_incr_max"]);
    let mut all: Vec<serde_json::Value> = db
        .current_bans(&CurrentBansQuery::default(), now)
        .unwrap()
        .iter()
        .map(|t| serde_json::json!([t.id(), n(t.ban_time().unwrap().as_secs())]))
        .collect();
    all.sort_by_key(|x| x.to_string());
    assert_eq!(serde_json::Value::Array(all), theirs["cur_all"]);
}
