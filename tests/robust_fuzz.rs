//! Runs every cargo-fuzz target (fuzz/fuzz_targets) for a short bounded time through
//! scripts/fuzz, when cargo-fuzz is installed; any crash, hang or out-of-memory fails the test
//! and leaves the reproducer in fuzz/artifacts/<target>. Longer runs: `scripts/fuzz 300`.
use std::process::Command;

#[test]
fn fuzz_targets_run_clean_for_a_short_while() {
    let has_cargo_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_cargo_fuzz {
        f2b::skip(
            "fuzz_targets_run_clean_for_a_short_while",
            "cargo-fuzz not installed (cargo install cargo-fuzz --locked)",
        );
        return;
    }
    let secs = std::env::var("F2B_FUZZ_SECS").unwrap_or_else(|_| "20".to_string());
    let out = Command::new(f2b::repo_root().join("scripts/fuzz"))
        .arg(&secs)
        // the test harness's own target dir must not leak into the fuzz build
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run scripts/fuzz");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "scripts/fuzz failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        stdout
            .lines()
            .filter(|l| l.starts_with("fuzz ") && l.contains(": ok,"))
            .count()
            >= 6,
        "{stdout}"
    );
}
