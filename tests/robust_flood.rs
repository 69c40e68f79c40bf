//! A flood through a running f2b-server: 1M portscan log lines with a pool of 100k addresses,
//! written as fast as the disk takes them. The server's peak RSS stays under a generous bound,
//! no ban is lost (the banned set is exactly the addresses that f2b-regex finds at least
//! `maxretry` times), and the control socket answers during the flood. Figures (throughput,
//! peak RSS, `status` latency) are printed for docs/security.md, never asserted.
mod server_common;

use server_common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LINES: usize = 1_000_000;
const MAXRETRY: usize = 5;

fn vm_kb(pid: i32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_million_line_flood_keeps_memory_bounded_loses_no_ban_and_the_socket_answers() {
    let Some(shared) = f2b::shared_dir() else {
        f2b::skip("robust_flood", "../shared (bench/gen.py) not present");
        return;
    };
    let tree = Tree::new(&format!(
        "[flood]\nenabled = true\nlogpath = {{dir}}/flood.log\nfilter = portscan\nmaxretry = {MAXRETRY}\nfindtime = 600\n\
         bantime = 3600\naction = record[name=flood]\n"
    ));
    let filter = std::fs::read_to_string(f2b::repo_root().join("filter.d/portscan.conf"))
        .expect("shipped portscan filter");
    tree.write("conf/filter.d/portscan.conf", &filter);
    tree.write("flood.log", "");
    // 1M lines of log time spanning 20 s that end about now
    let src = tree.path("flood.src");
    let start = now_secs() + 10;
    let t0 = Instant::now();
    let gen = Command::new("python3")
        .arg(shared.join("bench/gen.py"))
        .args([
            "portscan-syslog",
            &LINES.to_string(),
            "7",
            "0.05",
            "--ips",
            "100000",
            "--lps",
            "50000",
        ])
        .arg("--start")
        .arg(start.to_string())
        .arg("-o")
        .arg(&src)
        .output()
        .expect("gen.py");
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    eprintln!(
        "robust_flood: generated {LINES} lines in {:?}",
        t0.elapsed()
    );

    // what the filter finds, by f2b-regex
    let out = Command::new(f2b::bin("f2b-regex"))
        .arg("-o")
        .arg("id")
        .arg(&src)
        .arg(tree.path("conf/filter.d/portscan.conf"))
        .env("TZ", "UTC")
        .output()
        .expect("f2b-regex");
    assert!(out.status.success());
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for id in String::from_utf8_lossy(&out.stdout).lines() {
        *counts.entry(id.to_string()).or_default() += 1;
    }
    let failures: usize = counts.values().sum();
    let expected: BTreeSet<String> = counts
        .iter()
        .filter(|(ip, n)| **n >= MAXRETRY && !ip.starts_with("127."))
        .map(|(ip, _)| ip.clone())
        .collect();
    assert!(
        expected.len() > 100,
        "too few expected bans ({}) for a meaningful test",
        expected.len()
    );
    eprintln!("robust_flood: f2b-regex finds {failures} failures from {} addresses, {} with >= {MAXRETRY}", counts.len(), expected.len());

    let d = Daemon::start_ours(&tree);
    let pid = d.pid();
    let rss_start = vm_kb(pid, "VmRSS:").unwrap_or(0);

    // poll `status` through the flood
    let stop = Arc::new(AtomicBool::new(false));
    let lat: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let poller = {
        let (stop, lat, sock) = (stop.clone(), lat.clone(), tree.sock());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let (code, out) = ours(&sock, &["status", "flood"]);
                assert_eq!(code, 0, "status failed during the flood: {out}");
                lat.lock().expect("lock").push(t.elapsed());
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };

    let t1 = Instant::now();
    {
        let data = std::fs::read(&src).expect("read source");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(tree.path("flood.log"))
            .expect("open log");
        for chunk in data.chunks(1 << 20) {
            f.write_all(chunk).expect("append");
        }
    }
    let written = t1.elapsed();
    let banned = || -> BTreeSet<String> {
        tree.rec()
            .iter()
            .filter_map(|l| l.strip_prefix("ban flood ").map(str::to_string))
            .collect()
    };
    let all_in = wait_until(900.0, || {
        let (_, st) = ours(&tree.sock(), &["status", "flood"]);
        st.contains(&format!("Total failed:\t{failures}")) && banned().len() >= expected.len()
    });
    let took = t1.elapsed();
    stop.store(true, Ordering::Relaxed);
    poller.join().expect("poller");
    let hwm = vm_kb(pid, "VmHWM:").unwrap_or(0);
    let rss_end = vm_kb(pid, "VmRSS:").unwrap_or(0);
    let mut l = lat.lock().expect("lock").clone();
    l.sort();
    let (med, max) = (
        l.get(l.len() / 2).copied().unwrap_or_default(),
        l.last().copied().unwrap_or_default(),
    );
    eprintln!(
        "robust_flood: {LINES} lines written in {written:?}, all processed in {took:?}; RSS start {} MB, peak {} MB, end {} MB; \
         status during the flood: {} calls, median {med:?}, max {max:?}",
        rss_start / 1024,
        hwm / 1024,
        rss_end / 1024,
        l.len()
    );
    let (_, st) = ours(&tree.sock(), &["status", "flood"]);
    assert!(
        all_in,
        "not everything was processed:\n{st}\nbanned {} of {}",
        banned().len(),
        expected.len()
    );
    let got = banned();
    let lost: Vec<&String> = expected.difference(&got).take(10).collect();
    let extra: Vec<&String> = got.difference(&expected).take(10).collect();
    assert!(
        lost.is_empty() && extra.is_empty(),
        "lost bans {lost:?}, unexpected bans {extra:?}"
    );
    assert!(!l.is_empty(), "no status call completed during the flood");
    assert!(hwm < 200 * 1024, "peak RSS {} MB", hwm / 1024);
}
