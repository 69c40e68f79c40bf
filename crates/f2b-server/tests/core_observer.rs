//! Ban-time increment arithmetic against fail2ban's own: the same options are compiled by
//! fail2ban 1.0's `Jail.setBanTimeExtra` in python3 and evaluated for a range of ban counts.

use std::process::Command;

use f2b_server::observer::{BanTimeIncrement, IncrementOptions};

struct Case {
    factor: Option<&'static str>,
    formula: Option<&'static str>,
    multipliers: Option<&'static str>,
    max_time: Option<f64>,
}

const CASES: &[Case] = &[
    Case { factor: None, formula: None, multipliers: None, max_time: None },
    Case { factor: Some("3"), formula: None, multipliers: None, max_time: None },
    Case { factor: Some("1.5"), formula: None, multipliers: None, max_time: Some(86400.0) },
    Case {
        factor: Some("2"),
        formula: Some("ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)"),
        multipliers: None,
        max_time: Some(604800.0),
    },
    Case {
        factor: Some("1"),
        formula: Some("ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)"),
        multipliers: None,
        max_time: None,
    },
    Case { factor: None, formula: None, multipliers: Some("1 2 4 8 16 32 64"), max_time: None },
    Case { factor: Some("2"), formula: None, multipliers: Some("1 5 30 60 300 720 1440 2880"), max_time: Some(500000.0) },
    Case { factor: Some("1/3"), formula: Some("ban.Time + ban.Count ** 2 * 60 // 7 % 1000"), multipliers: None, max_time: None },
    Case { factor: None, formula: Some("max(ban.Time, min(ban.Count * 3600, 7200)) if ban.Count > 1 else ban.Time / 2"), multipliers: None, max_time: None },
    Case { factor: Some("0.5"), formula: Some("round(ban.Time * math.log(ban.Count + 2) * banFactor, 1)"), multipliers: None, max_time: None },
];

const BAN_TIMES: &[i64] = &[60, 600, 3600];
const MAX_COUNT: u32 = 25;

fn ours(c: &Case, ban_time: i64, count: u32) -> f64 {
    let inc = BanTimeIncrement::new(&IncrementOptions {
        increment: true,
        factor: c.factor.map(str::to_string),
        formula: c.formula.map(str::to_string),
        multipliers: c.multipliers.map(str::to_string),
        max_time: c.max_time,
        rnd_time: None,
        over_all_jails: false,
    })
    .expect("options compile");
    inc.calc(ban_time as f64, count, &mut || 0.0).expect("formula evaluates")
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

#[test]
fn hard_coded_values_from_fail2ban() {
    // fail2ban 1.0.2, factor 2, exponential formula, maxtime 1w, ban time 600
    let c = &CASES[3];
    let expect = [600.0, 4433.433659358389, 32758.890019886545, 242057.27609564108, 604800.0, 604800.0];
    for (n, e) in expect.iter().enumerate() {
        let v = ours(c, 600, n as u32);
        assert!(close(v, *e), "count {n}: {v} vs {e}");
    }
    let c = &CASES[0];
    let expect = [600.0, 1200.0, 2400.0, 4800.0, 9600.0, 19200.0];
    for (n, e) in expect.iter().enumerate() {
        assert_eq!(ours(c, 600, n as u32), *e);
    }
}

#[test]
fn matches_fail2ban_formula_evaluation() {
    let py = ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import fail2ban.server.jail"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    let Some(py) = py else {
        eprintln!("SKIP: no python3 with the fail2ban package");
        return;
    };
    let mut spec = Vec::new();
    for c in CASES {
        spec.push(serde_json::json!({
            "factor": c.factor, "formula": c.formula, "multipliers": c.multipliers,
            "maxtime": c.max_time.map(|m| format!("{}", m as i64)),
        }));
    }
    let script = r#"
import sys, json, logging
logging.disable(logging.CRITICAL)
from fail2ban.server.jail import Jail
from fail2ban.server.observer import ObserverThread
class J: pass
out = []
for c in json.loads(sys.argv[1]):
    j = J(); j._banExtra = {}; j.database = None
    Jail.setBanTimeExtra(j, 'increment', 'true')
    for k in ('factor', 'formula', 'multipliers', 'maxtime'):
        if c[k] is not None: Jail.setBanTimeExtra(j, k, c[k])
    f = j._banExtra['evformula']
    out.append([[f(ObserverThread.BanTimeIncr(bt, n)) for n in range(int(sys.argv[3]) + 1)]
                for bt in json.loads(sys.argv[2])])
print(json.dumps(out))
"#;
    let o = Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(serde_json::to_string(&spec).unwrap())
        .arg(serde_json::to_string(BAN_TIMES).unwrap())
        .arg(MAX_COUNT.to_string())
        .output()
        .expect("python runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Vec<Vec<Vec<f64>>> = serde_json::from_slice(&o.stdout).expect("json from python");
    let mut checked = 0;
    for (ci, c) in CASES.iter().enumerate() {
        for (bi, bt) in BAN_TIMES.iter().enumerate() {
            for n in 0..=MAX_COUNT {
                let theirs = v[ci][bi][n as usize];
                let mine = ours(c, *bt, n);
                assert!(close(mine, theirs), "case {ci} bantime {bt} count {n}: ours {mine} fail2ban {theirs}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, CASES.len() * BAN_TIMES.len() * (MAX_COUNT as usize + 1));
}
