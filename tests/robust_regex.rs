//! Catastrophic regexes in user filters: a pattern that needs the backtracking engine and explodes
//! on a crafted line (nested quantifiers behind a look-ahead, on many `a`s followed by `b`) costs
//! that one line and never stalls the jail: the lines around it are still found, by f2b-regex and
//! by a running f2b-server whose jail keeps banning. The same nested quantifiers without
//! look-around run on the linear-time engine. Times are printed, never asserted.
mod server_common;

use server_common::*;
use std::process::Command;
use std::time::Instant;

/// Nested quantifiers: exponential for a backtracking engine on a long word that is not followed
/// by ` from` (Python's `re`, hence fail2ban, needs about 15 s for 26 letters). The look-ahead
/// inside the repeated group keeps it in fancy-regex's backtracking VM.
const EVIL_FANCY: &str = r"^\s*((?=\w)\w+)+ from <HOST>$";
/// The classic form: handled by the `regex` crate's automaton in linear time.
const EVIL_PLAIN: &str = r"^\s*(\w+)+ from <HOST>$";

fn evil_line() -> String {
    format!("{}!", "a".repeat(4000))
}

fn filter_with(evil: &str) -> String {
    format!("[Definition]\nfailregex = {evil}\n")
}

#[test]
fn f2b_regex_pays_one_line_for_a_catastrophic_pattern() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (name, evil) in [("fancy", EVIL_FANCY), ("plain", EVIL_PLAIN)] {
        let filter = tmp.path().join(format!("{name}.conf"));
        std::fs::write(&filter, filter_with(evil)).expect("write filter");
        let log = tmp.path().join("evil.log");
        let mut lines = vec!["2026-01-01 00:00:00 FAIL from 192.0.2.1".to_string()];
        for _ in 0..5 {
            lines.push(format!("2026-01-01 00:00:01 {}", evil_line()));
        }
        lines.push("2026-01-01 00:00:02 FAIL from 192.0.2.2".to_string());
        lines.push(format!("2026-01-01 00:00:03 {}", "a".repeat(40)));
        std::fs::write(&log, lines.join("\n") + "\n").expect("write log");
        let t0 = Instant::now();
        let out = Command::new(f2b::bin("f2b-regex"))
            .arg("-o")
            .arg("id")
            .arg(&log)
            .arg(&filter)
            .env("TZ", "UTC")
            .output()
            .expect("f2b-regex");
        let took = t0.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        // `-o id` prints the id of id-less hits as None-like text; only the two real ones count
        let real: Vec<&String> = ids.iter().filter(|l| l.starts_with("192.0.2.")).collect();
        assert_eq!(real, ["192.0.2.1", "192.0.2.2"], "{name}: {ids:?}");
        eprintln!("robust_regex: f2b-regex with {name} pattern {evil}: 5 crafted lines + 3 others in {took:?}");
    }
}

#[test]
fn a_catastrophic_pattern_never_stalls_the_jail() {
    let tree = Tree::new(
        "[evil]\nenabled = true\nlogpath = {dir}/evil.log\nfilter = evil\naction = record[name=evil]\nmaxretry = 1\n\n\
         [other]\nenabled = true\nlogpath = {dir}/other.log\naction = record[name=other]\nmaxretry = 1\n",
    );
    tree.write("conf/filter.d/evil.conf", &filter_with(EVIL_FANCY));
    tree.write("evil.log", "");
    tree.write("other.log", "");
    let _d = Daemon::start_ours(&tree);
    let t0 = Instant::now();
    let mut lines: Vec<String> = (0..20)
        .map(|_| format!("{} {}", stamp(0), evil_line()))
        .collect();
    lines.push(format!("{} FAIL from 192.0.2.77", stamp(0)));
    tree.append("evil.log", &lines);
    tree.append("other.log", &[format!("{} FAIL from 192.0.2.78", stamp(0))]);
    // the other jail is never held up, and the evil jail gets past the crafted lines
    assert!(
        wait_until(60.0, || tree
            .rec()
            .contains(&"ban other 192.0.2.78".to_string())),
        "{:?}",
        tree.rec()
    );
    let other_at = t0.elapsed();
    assert!(
        wait_until(120.0, || tree
            .rec()
            .contains(&"ban evil 192.0.2.77".to_string())),
        "the jail stalled behind the crafted lines: {:?}\n{}",
        tree.rec(),
        tree.read("server.log")
    );
    eprintln!(
        "robust_regex: server: other jail banned after {other_at:?}, evil jail got past 20 crafted lines after {:?}",
        t0.elapsed()
    );
    let (_, st) = ours(&tree.sock(), &["status", "evil"]);
    assert!(st.contains("Total failed:\t1"), "{st}");
}

/// A backreference keeps this pattern in the backtracking engine, where nested quantifiers make
/// a crafted line hit the engine's step limit: the line is skipped, the server says so in its
/// log, and the next line is matched as usual.
#[test]
fn a_regex_step_limit_hit_is_logged_and_costs_one_line() {
    let tree = Tree::new("[evil]\nenabled = true\nlogpath = {dir}/evil.log\nfilter = evil\naction = record[name=evil]\nmaxretry = 1\n");
    tree.write(
        "conf/filter.d/evil.conf",
        &filter_with(r"^\s*((a+)+)+\2c from <HOST>$"),
    );
    tree.write("evil.log", "");
    let _d = Daemon::start_ours(&tree);
    tree.append(
        "evil.log",
        &[
            format!("{} {}b from 192.0.2.5", stamp(0), "a".repeat(40)),
            format!("{} aac from 192.0.2.6", stamp(0)),
        ],
    );
    assert!(
        wait_until(120.0, || tree
            .rec()
            .contains(&"ban evil 192.0.2.6".to_string())),
        "{:?}\n{}",
        tree.rec(),
        tree.read("server.log")
    );
    let log = tree.read("server.log");
    assert!(
        log.contains("[evil] Regex backtracking limit reached, line skipped"),
        "{log}"
    );
    assert!(
        !tree.rec().iter().any(|r| r.contains("192.0.2.5")),
        "{:?}",
        tree.rec()
    );
}
