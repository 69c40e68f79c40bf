//! Runs the shared filter conformance corpus (`../shared/compat/conform.py` over `compat/dev`)
//! against the built f2b-regex and requires at least 99.5% of the checks to pass (fail2ban 1.0.2
//! itself passes 1376 of 1377).

use std::path::PathBuf;
use std::process::Command;

fn shared_dir() -> PathBuf {
    match std::env::var_os("F2B_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

#[test]
fn conformance_corpus_dev() {
    let shared = shared_dir();
    let conform = shared.join("compat/conform.py");
    let corpus = shared.join("compat/dev");
    if !conform.is_file() || !corpus.is_dir() {
        println!("skipped: {} not present", conform.display());
        return;
    }
    if Command::new("python3").arg("--version").output().is_err() {
        println!("skipped: python3 not available");
        return;
    }
    let out = Command::new("python3")
        .arg(&conform)
        .arg("--tool")
        .arg(env!("CARGO_BIN_EXE_f2b-regex"))
        .arg("--show")
        .arg("-1")
        .arg(&corpus)
        .output()
        .expect("run conform.py");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let last = text
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .expect("conform.py summary line");
    let nums: Vec<u64> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    let (passed, failed) = (nums[0], nums[1]);
    let ratio = passed as f64 / (passed + failed) as f64;
    assert!(passed + failed > 1000, "corpus too small: {last}");
    assert!(
        ratio >= 0.995,
        "conformance {passed}/{} = {:.2}% < 99.5%",
        passed + failed,
        ratio * 100.0
    );
}
