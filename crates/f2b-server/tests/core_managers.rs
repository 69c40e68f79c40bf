//! Failure counter and ban manager against fail2ban 1.0's `FailManager` and `BanManager` on
//! the same generated event streams. Skips with a printed reason when fail2ban is absent.

use std::process::Command;

use f2b_server::banmanager::{AddBan, BanManager};
use f2b_server::failmanager::FailManager;
use f2b_server::ticket::{BanTicket, BanTime, FailTicket};
use serde_json::{json, Value};

fn python_with_fail2ban() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import fail2ban.server.failmanager"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

fn run_py(py: &str, script: &str, arg: &Value) -> Value {
    let out = Command::new(py)
        .env("TZ", "UTC")
        .arg("-c")
        .arg(script)
        .arg(arg.to_string())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json from python")
}

/// A small deterministic generator (no test may depend on the clock or on chance).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn failmanager_matches_fail2ban() {
    let Some(py) = python_with_fail2ban() else {
        eprintln!("SKIP: no python3 with the fail2ban package");
        return;
    };
    let mut checked = 0;
    for (seed, max_retry, find_time, max_matches) in [
        (1u64, 3u32, 600.0, 5usize),
        (2, 5, 60.0, 2),
        (3, 2, 10.0, 0),
        (4, 20, 3.0, 3),
    ] {
        let mut g = Lcg(seed);
        let mut t = 1_000_000.0;
        let mut events = Vec::new();
        for i in 0..600 {
            if g.below(25) == 0 {
                events.push(json!(["cleanup", t]));
                continue;
            }
            // mostly forward in time, sometimes a late line from the past
            // quarter seconds: exact in binary, so the JSON round trip is exact too
            let step = g.below(160) as f64 / 4.0;
            let when = if g.below(10) == 0 {
                t - step
            } else {
                t += step;
                t
            };
            let ip = format!("10.0.{}.{}", g.below(3), g.below(6));
            events.push(json!([ip, when, format!("line {i}")]));
        }
        let script = r#"
import sys, json
from fail2ban.server.failmanager import FailManager, FailManagerEmpty
from fail2ban.server.ticket import FailTicket
a = json.loads(sys.argv[1])
fm = FailManager(); fm.setMaxRetry(a['max_retry']); fm.setMaxTime(a['find_time']); fm.maxMatches = a['max_matches']
out = []
for ev in a['events']:
    if ev[0] == 'cleanup':
        fm.cleanup(ev[1]); out.append(['cleanup', fm.size()]); continue
    n = fm.addFailure(FailTicket(ev[0], ev[1], matches=[ev[2]]))
    b = None
    if n >= a['max_retry']:
        try:
            t = fm.toBan(ev[0]); b = [str(t.getID()), t.getAttempt(), t.getMatches(), t.getTime()]
        except FailManagerEmpty:
            pass
    out.append([n, b, fm.size()])
print(json.dumps({'out': out, 'total': fm.getFailTotal()}))
"#;
        let arg = json!({"max_retry": max_retry, "find_time": find_time, "max_matches": max_matches, "events": events});
        let theirs = run_py(py, script, &arg);

        let mut fm = FailManager::new();
        fm.set_max_retry(max_retry);
        fm.set_max_time(find_time);
        fm.set_max_matches(max_matches);
        let mut out = Vec::new();
        for ev in &events {
            if ev[0] == "cleanup" {
                fm.cleanup(ev[1].as_f64().unwrap());
                out.push(json!(["cleanup", fm.size()]));
                continue;
            }
            let id = ev[0].as_str().unwrap();
            let n = fm.add_failure(
                FailTicket::new(
                    id,
                    ev[1].as_f64().unwrap(),
                    vec![ev[2].as_str().unwrap().into()],
                ),
                1,
            );
            let mut b = Value::Null;
            if n >= max_retry {
                if let Some(t) = fm.to_ban(Some(id)) {
                    b = json!([t.id(), t.attempt(), t.matches(), t.time()]);
                }
            }
            out.push(json!([n, b, fm.size()]));
        }
        let theirs_out = theirs["out"].as_array().unwrap();
        assert_eq!(out.len(), theirs_out.len());
        for (i, (m, t)) in out.iter().zip(theirs_out).enumerate() {
            assert_eq!(m, t, "seed {seed} step {i}: event {}", events[i]);
        }
        assert_eq!(json!(fm.fail_total()), theirs["total"], "seed {seed}");
        checked += events.len();
    }
    assert_eq!(checked, 2400);
}

#[test]
fn banmanager_matches_fail2ban() {
    let Some(py) = python_with_fail2ban() else {
        eprintln!("SKIP: no python3 with the fail2ban package");
        return;
    };
    let mut g = Lcg(7);
    let mut now = 1_700_000_000.0;
    let mut events = Vec::new();
    for _ in 0..400 {
        now += g.below(300) as f64;
        match g.below(6) {
            // no count limit: which bans a limited call picks depends on map order
            0 => events.push(json!(["unban", now, 1000])),
            1 => events.push(json!(["list", now])),
            _ => {
                let ip = format!("192.0.2.{}", g.below(25));
                let bt = match g.below(5) {
                    0 => json!(null),
                    1 => json!(-1),
                    _ => json!(60 * (1 + g.below(40))),
                };
                let when = now - g.below(900) as f64;
                events.push(json!(["ban", now, ip, when, bt]));
            }
        }
    }
    let script = r#"
import sys, json
from fail2ban.server.banmanager import BanManager
from fail2ban.server.ticket import BanTicket
from fail2ban.server.mytime import MyTime
a = json.loads(sys.argv[1])
bm = BanManager(); bm.setBanTime(600)
out = []
for ev in a:
    MyTime.setTime(ev[1])
    if ev[0] == 'ban':
        t = BanTicket(ev[2], ev[3])
        if ev[4] is not None: t.setBanTime(ev[4])
        r = {}
        ok = bm.addBanTicket(t, reason=r)
        out.append([ok, 'expired' in r, 'prolong' in r, t.getBanCount() if ok else None])
    elif ev[0] == 'unban':
        out.append(sorted(str(t.getID()) for t in bm.unBanList(ev[1], ev[2])))
    else:
        out.append([[str(i) for i in bm.getBanList()], bm.getBanList(ordered=True, withTime=True), bm.size(), bm.getBanTotal()])
print(json.dumps(out))
"#;
    let theirs = run_py(py, script, &Value::Array(events.clone()));

    let utc = jiff::tz::TimeZone::UTC;
    let mut bm = BanManager::new();
    bm.set_ban_time(BanTime::Seconds(600.0));
    let mut out = Vec::new();
    for ev in &events {
        let now = ev[1].as_f64().unwrap();
        match ev[0].as_str().unwrap() {
            "ban" => {
                let mut t = BanTicket::new(ev[2].as_str().unwrap(), ev[3].as_f64().unwrap());
                if let Some(bt) = ev[4].as_f64() {
                    t.set_ban_time(BanTime::from_secs(bt));
                }
                out.push(match bm.add_ban_ticket(t, now) {
                    AddBan::Added(t) => json!([true, false, false, t.ban_count()]),
                    AddBan::Expired => json!([false, true, false, null]),
                    AddBan::AlreadyBanned { prolonged, .. } => {
                        json!([false, false, prolonged, null])
                    }
                });
            }
            "unban" => {
                let mut ids: Vec<String> = bm
                    .unban_list(now, ev[2].as_u64().unwrap() as usize)
                    .iter()
                    .map(|t| t.id().to_string())
                    .collect();
                ids.sort();
                out.push(json!(ids));
            }
            _ => out.push(json!([
                bm.ids(),
                bm.ban_list_with_time_in(&utc),
                bm.size(),
                bm.ban_total()
            ])),
        }
    }
    let theirs = theirs.as_array().unwrap();
    assert_eq!(out.len(), theirs.len());
    // the stream exercises every outcome
    for want in [
        json!([true, false, false, 1]),
        json!([false, true, false, null]),
        json!([false, false, true, null]),
    ] {
        assert!(out.contains(&want), "no {want} in the stream");
    }
    for (i, (m, t)) in out.iter().zip(theirs).enumerate() {
        assert_eq!(m, t, "step {i}: event {}", events[i]);
    }
}
