//! Regressions found by the robustness work (fuzzing and hostile inputs), each kept as a test
//! of the behaviour expected instead.
use std::process::Command;

/// A failregex whose conditional names a group the pattern lacks must be refused (Python raises
/// "invalid group reference" at compile time), never panic at the first line.
#[test]
fn a_conditional_on_an_unknown_group_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("t.log");
    std::fs::write(&log, "2026-01-01 00:00:00 Y from 192.0.2.1\n").expect("write");
    let out = Command::new(f2b::bin("f2b-regex"))
        .arg(&log)
        .arg("(?(9)Y|,c) from <HOST>")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}
