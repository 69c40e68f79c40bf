//! One generated log through Debian's fail2ban-server and through f2b-server with the same
//! config tree (recording actions only, never the firewall): the same bans and the same
//! `Total failed` / `Total banned` counters.
mod server_common;

use std::collections::BTreeSet;
use std::process::Command;

use server_common::*;

const JAIL: &str = "\
[portscan]
enabled = true
filter = portscan
logpath = {dir}/messages
maxretry = 3
findtime = 10m
bantime = 1h
action = record[name=portscan]
";

fn counters(tree: &Tree) -> (u64, u64) {
    let st = ours(&tree.sock(), &["status", "portscan"]).1;
    let get = |label: &str| {
        st.lines()
            .find_map(|l| {
                l.split_once(&format!("{label}:\t"))
                    .map(|(_, v)| v.trim().parse::<u64>().unwrap_or(0))
            })
            .unwrap_or(0)
    };
    (get("Total failed"), get("Total banned"))
}

/// Run a daemon on a fresh copy of the tree until its counters and bans stop moving.
fn run(log: &str, fail2ban: bool) -> (u64, u64, BTreeSet<String>) {
    let tree = Tree::new(JAIL);
    tree.write(
        "conf/filter.d/portscan.conf",
        "[Definition]\nfailregex = PORT DENIED: .* SRC=<HOST>\n",
    );
    std::fs::copy(log, tree.path("messages")).expect("copy log");
    let mut d = if fail2ban {
        Daemon::start_fail2ban(&tree)
    } else {
        Daemon::start_ours(&tree)
    };
    let mut last = (u64::MAX, 0, 0);
    let mut stable = 0;
    let ok = wait_until(120.0, || {
        let (f, b) = counters(&tree);
        let now = (f, b, tree.rec().len());
        if now == last && f > 0 {
            stable += 1;
        } else {
            stable = 0;
        }
        last = now;
        std::thread::sleep(std::time::Duration::from_millis(250));
        stable >= 8
    });
    assert!(
        ok,
        "{} did not settle: {last:?}",
        if fail2ban {
            "fail2ban-server"
        } else {
            "f2b-server"
        }
    );
    let bans = tree
        .rec()
        .iter()
        .filter_map(|l| l.strip_prefix("ban portscan ").map(str::to_string))
        .collect();
    assert!(d.terminate());
    (last.0, last.1, bans)
}

#[test]
fn same_bans_and_counters_as_fail2ban() {
    let name = "same_bans_and_counters_as_fail2ban";
    if !f2b::have("fail2ban-server") {
        return f2b::skip(name, "Debian's fail2ban-server is not installed");
    }
    let Some(shared) = f2b::shared_dir() else {
        return f2b::skip(name, "../shared (bench/gen.py) is not present");
    };
    if !f2b::have("python3") {
        return f2b::skip(name, "python3 is not installed");
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("messages");
    // 3000 lines over ~150 s ending shortly before now: all inside findtime for both runs.
    let start = now_secs() - 200;
    let st = Command::new("python3")
        .arg(shared.join("bench/gen.py"))
        .args([
            "portscan-syslog",
            "3000",
            "7",
            "0.3",
            "--ips",
            "600",
            "--start",
            &start.to_string(),
            "-o",
        ])
        .arg(&log)
        .env("TZ", "UTC")
        .output()
        .expect("gen.py");
    assert!(
        st.status.success(),
        "gen.py: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let log = log.to_string_lossy().into_owned();
    let (f_ref, b_ref, bans_ref) = run(&log, true);
    let (f_ours, b_ours, bans_ours) = run(&log, false);
    eprintln!("fail2ban-server: {f_ref} failed, {b_ref} banned; f2b-server: {f_ours} failed, {b_ours} banned");
    assert!(
        f_ref > 500 && b_ref > 10,
        "the log should produce many failures and bans: {f_ref} / {b_ref}"
    );
    assert_eq!(
        (f_ours, b_ours),
        (f_ref, b_ref),
        "Total failed / Total banned differ"
    );
    let only_ref: Vec<_> = bans_ref.difference(&bans_ours).collect();
    let only_ours: Vec<_> = bans_ours.difference(&bans_ref).collect();
    assert!(
        only_ref.is_empty() && only_ours.is_empty(),
        "bans only by fail2ban: {only_ref:?}\nbans only by f2b: {only_ours:?}"
    );
    assert_eq!(bans_ours.len() as u64, b_ours);
}
