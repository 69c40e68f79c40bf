//! `parse_time` against fail2ban's own `MyTime.str2seconds` on generated time strings (units,
//! combinations, signs, arithmetic, junk).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const PY: &str = r#"
import sys
sys.path.insert(0, "/usr/lib/python3/dist-packages")
from fail2ban.server.mytime import MyTime
for line in sys.stdin:
    s = line.rstrip("\n").replace("\\t", "\t")
    try:
        v = MyTime.str2seconds(s)
        r = repr(float(v)) if isinstance(v, (int, float)) else "ERR"
    except BaseException:
        r = "ERR"
    print(r, flush=False)
"#;

fn cases() -> Vec<String> {
    let nums = [
        "1", "2", "10", "0", "07", "1.5", ".5", "3_0", "15", "-1", "+2",
    ];
    let units = [
        "", "", "d", "h", "m", "s", "w", "mo", "y", "day", "days", "hour", "hours", "min", "mins",
        "minute", "minutes", "sec", "second", "seconds", "week", "weeks", "month", "months",
        "year", "years", "yy", "mm", "hh", "ss", "dd", "ww", "da", "wee", "yea", "hou", "mon", "M",
        "H", "Mo", "x", "e3",
    ];
    let seps = [
        "", " ", "  ", "+", "-", " + ", "*", "/", "\\t", "(", ")", "**",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut out = Vec::new();
    for _ in 0..4000 {
        let mut s = String::new();
        for k in 0..1 + next(4) {
            if k > 0 {
                s.push_str(seps[next(seps.len())]);
            }
            s.push_str(nums[next(nums.len())]);
            if next(6) == 0 {
                s.push(' ');
            }
            s.push_str(units[next(units.len())]);
        }
        out.push(s);
    }
    out
}

#[test]
fn parse_time_matches_fail2ban() {
    if !Path::new("/usr/lib/python3/dist-packages/fail2ban/server/mytime.py").is_file()
        || !Path::new("/usr/bin/python3").is_file()
    {
        eprintln!("SKIP: fail2ban's Python package is not installed (apt-get install fail2ban)");
        return;
    }
    let cases = cases();
    let mut child = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(PY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let input: String = cases.iter().map(|c| format!("{c}\n")).collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let want: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(want.len(), cases.len());
    let mut bad = 0;
    let mut valid = 0;
    for (c, w) in cases.iter().zip(&want) {
        let got = f2b_config::parse_time(&c.replace("\\t", "\t")).ok();
        let want: Option<f64> = w.parse().ok();
        if want.is_some() {
            valid += 1;
        }
        // Equal, allowing for the last bits where Python computed with exact big integers.
        let same = match (got, want) {
            (Some(g), Some(w)) => g == w || ((g - w).abs() <= 1e-12 * w.abs().max(g.abs())),
            (None, None) => true,
            _ => false,
        };
        if !same {
            bad += 1;
            if bad < 10 {
                eprintln!("{c:?}: fail2ban {w}, f2b {got:?}");
            }
        }
    }
    assert!(valid > 1000, "only {valid} valid cases");
    assert_eq!(bad, 0, "{bad} of {} time strings differ", cases.len());
}
