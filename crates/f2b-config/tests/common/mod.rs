//! Helpers for the differential tests: build config trees, run the real `fail2ban-client -d`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The reference client, if installed.
pub fn fail2ban_client() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("fail2ban-client"))
        .find(|p| p.is_file())
}

/// Skip (with a printed reason) when the reference is missing.
#[macro_export]
macro_rules! need_reference {
    () => {
        if common::fail2ban_client().is_none() {
            eprintln!("SKIP: fail2ban-client is not installed (apt-get install fail2ban)");
            return;
        }
    };
}

pub fn write_tree(dir: &Path, files: &[(&str, &[u8])]) {
    for (name, content) in files {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
    }
}

/// Copy a directory tree (for the stock /etc/fail2ban).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// The `[...]` lines `fail2ban-client -c DIR -d` prints.
pub fn reference_lines(dir: &Path) -> Vec<String> {
    let client = fail2ban_client().expect("fail2ban-client");
    let out = Command::new(client)
        .arg("-c")
        .arg(dir)
        .arg("-d")
        .output()
        .expect("run fail2ban-client");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('['))
        .map(str::to_string)
        .collect()
}

/// Our lines for the same dir (none when the whole configuration fails, as fail2ban prints none).
pub fn our_lines(dir: &Path) -> Vec<String> {
    match f2b_config::load(dir) {
        Ok(cfg) => f2b_config::dump_lines(&cfg),
        Err(_) => Vec::new(),
    }
}

/// Compare, printing a short diff on mismatch; returns the number of differing lines.
pub fn diff_count(label: &str, want: &[String], got: &[String]) -> usize {
    let mut bad = 0;
    let n = want.len().max(got.len());
    for i in 0..n {
        let (w, g) = (want.get(i), got.get(i));
        if w != g {
            bad += 1;
            if bad <= 6 {
                eprintln!(
                    "{label}: line {}:\n  fail2ban: {:.300}\n  f2b:      {:.300}",
                    i + 1,
                    w.map_or("<none>", |s| s),
                    g.map_or("<none>", |s| s)
                );
            }
        }
    }
    bad
}
