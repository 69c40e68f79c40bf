//! f2b-regex on a real journal file (`systemd-journal[journalfiles=...]`), written by
//! systemd-journal-remote from the generator's export, with the tor-netscan seed filter laid over
//! the stock tree. Compared with the real fail2ban-regex when it (and python3-systemd) is there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DPT: &str = "tor-netscan[DPT=(?:20|21|22|23|389|636|989|990|992)]";
const PORTS: [&str; 9] = ["20", "21", "22", "23", "389", "636", "989", "990", "992"];

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn skip(why: &str) {
    eprintln!("SKIP journal test: {why}");
}

fn journal_remote() -> Option<PathBuf> {
    [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let t = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).expect("copy");
        }
    }
}

/// The stock tree without jail.d, the tor-netscan seed on top, and a journal of `n` entries.
/// Returns None (after printing why) when something it needs is missing.
fn setup(dir: &Path, n: usize) -> Option<(PathBuf, PathBuf, u64)> {
    let gen = shared().join("bench/gen.py");
    let seed = shared().join("seeds/tor-netscan");
    if !gen.is_file() || !seed.is_dir() {
        skip("../shared (gen.py, seeds/tor-netscan) is absent");
        return None;
    }
    if !Path::new("/etc/fail2ban/filter.d/common.conf").is_file() {
        skip("the stock /etc/fail2ban tree is absent");
        return None;
    }
    let Some(remote) = journal_remote() else {
        skip("systemd-journal-remote is not installed");
        return None;
    };
    let tree = dir.join("tree");
    copy_dir(Path::new("/etc/fail2ban"), &tree);
    let _ = std::fs::remove_dir_all(tree.join("jail.d"));
    copy_dir(&seed, &tree);
    let export = dir.join("x.export");
    let meta = dir.join("meta.json");
    let st = Command::new("python3")
        .arg(&gen)
        .args(["ufw-journal-export", &n.to_string(), "7", "0.3", "--meta"])
        .arg(&meta)
        .arg("-o")
        .arg(&export)
        .status()
        .expect("python3");
    assert!(st.success(), "gen.py failed");
    let journal = dir.join("x.journal");
    let st = Command::new(remote)
        .arg("-o")
        .arg(&journal)
        .arg(&export)
        .output()
        .expect("journal-remote");
    assert!(
        journal.is_file(),
        "systemd-journal-remote wrote nothing: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let meta = std::fs::read_to_string(&meta).expect("meta");
    let matches: u64 = meta
        .split("\"match\": ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|v| v.parse().ok())
        .expect("match count in meta");
    Some((tree, journal, matches))
}

fn run(tool: &str, tree: &Path, journal: &Path, extra: &[&str]) -> Output {
    let spec = format!("systemd-journal[journalfiles={}]", journal.display());
    Command::new(tool)
        .env("TZ", "UTC")
        .env("LC_ALL", "C.UTF-8")
        .arg("-c")
        .arg(tree)
        .args(extra)
        .arg(&spec)
        .arg(DPT)
        .output()
        .expect("run")
}

#[test]
fn journal_failures_and_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((tree, journal, matches)) = setup(dir.path(), 2000) else {
        return;
    };
    let me = env!("CARGO_BIN_EXE_f2b-regex");

    let o = run(me, &tree, &journal, &["-o", "<fid> <msg>"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows.len() as u64,
        matches,
        "one failure per watched-port line"
    );
    for r in &rows {
        let (fid, msg) = r.split_once(' ').expect("fid and msg");
        assert!(PORTS.contains(&fid), "{r}");
        assert!(msg.contains(&format!("DPT={fid} ")), "{r}");
        // the journal's ISO time, then the formatted entry
        assert!(msg.contains("+00:00 relay01 kernel: ["), "{r}");
    }

    let o = run(me, &tree, &journal, &[]);
    let report = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        report.contains("Use         systemd journal\nUse         encoding : UTF-8\n"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "Lines: 2000 lines, 0 ignored, {matches} matched, {} missed",
            2000 - matches
        )),
        "{report}"
    );

    // -m selects entries: the kernel ones only
    let o = run(me, &tree, &journal, &["-m", "_TRANSPORT=kernel"]);
    let report = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        report.contains("Use    journal match : _TRANSPORT=kernel\n"),
        "{report}"
    );
    assert!(!report.contains("Lines: 2000 lines"), "{report}");
    assert!(report.contains(&format!(" {matches} matched")), "{report}");

    let o = run(me, &tree, &journal, &["-m", "NOT A MATCH"]);
    assert_eq!(o.status.code(), Some(255), "a bad match is an error");
}

#[test]
fn journal_same_as_fail2ban_regex() {
    let has_ref = Command::new("python3")
        .args(["-c", "import systemd.journal, fail2ban"])
        .output()
        .is_ok_and(|o| o.status.success())
        && Path::new("/usr/bin/fail2ban-regex").is_file();
    if !has_ref {
        return skip("fail2ban-regex with python3-systemd is not installed");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((tree, journal, _)) = setup(dir.path(), 1000) else {
        return;
    };
    let me = env!("CARGO_BIN_EXE_f2b-regex");
    for extra in [
        &["-o", "row"][..],
        &["-o", "<time> <fid> <matches>"],
        &["-m", "_TRANSPORT=kernel + SYSLOG_IDENTIFIER=tor"],
    ] {
        let ours = run(me, &tree, &journal, extra);
        let theirs = run("/usr/bin/fail2ban-regex", &tree, &journal, extra);
        let strip = |o: &Output| -> String {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.starts_with("[processed in"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            strip(&ours),
            strip(&theirs),
            "f2b-regex {extra:?} differs from fail2ban-regex"
        );
        assert!(!strip(&ours).is_empty());
    }
}
