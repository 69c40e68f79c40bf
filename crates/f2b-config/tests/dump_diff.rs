//! `dump_lines` against `fail2ban-client -d` on Debian's stock tree with every jail enabled, and
//! on each users' seed laid over the stock tree (the recipe of shared/compat/dump-diff.sh).

mod common;

use std::path::{Path, PathBuf};

fn shared_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    d.is_dir().then_some(d)
}

fn stock_tree(to: &Path, seed: Option<&Path>) {
    common::copy_tree(Path::new("/etc/fail2ban"), to);
    for e in std::fs::read_dir(to.join("jail.d"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let _ = std::fs::remove_file(e.path());
    }
    if let Some(seed) = seed {
        common::copy_tree(seed, to);
    }
}

fn touch_logs() {
    // The recipe creates these so the jails that read them find a file (ignored when not root).
    let _ = std::fs::create_dir_all("/var/log/apache2");
    for f in [
        "/var/log/messages",
        "/var/log/ufw.log",
        "/var/log/apache2/x_error_ip.log",
    ] {
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(f);
    }
}

#[test]
fn stock_tree_every_jail_enabled() {
    need_reference!();
    if !Path::new("/etc/fail2ban/jail.conf").is_file() {
        eprintln!("SKIP: no stock /etc/fail2ban tree");
        return;
    }
    touch_logs();
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("all");
    stock_tree(&dir, None);
    let jail_conf = std::fs::read_to_string(dir.join("jail.conf")).unwrap();
    let mut local = String::new();
    for line in jail_conf.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|r| r.split(']').next()) {
            if !name.is_empty() && name != "INCLUDES" && name != "DEFAULT" {
                local.push_str(&format!("[{name}]\nenabled = true\n\n"));
            }
        }
    }
    std::fs::write(dir.join("jail.local"), local).unwrap();
    let want = common::reference_lines(&dir);
    let got = common::our_lines(&dir);
    assert!(
        want.len() > 1000,
        "reference produced only {} lines",
        want.len()
    );
    assert_eq!(
        common::diff_count("stock", &want, &got),
        0,
        "differing lines on the stock tree"
    );
}

#[test]
fn seeds_over_stock_tree() {
    need_reference!();
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP: ../shared is absent");
        return;
    };
    if !Path::new("/etc/fail2ban/jail.conf").is_file() {
        eprintln!("SKIP: no stock /etc/fail2ban tree");
        return;
    }
    touch_logs();
    let t = tempfile::tempdir().unwrap();
    let mut total = 0;
    let mut seeds = 0;
    for e in std::fs::read_dir(shared.join("seeds")).unwrap().flatten() {
        if !e.path().is_dir() {
            continue;
        }
        seeds += 1;
        let name = e.file_name().to_string_lossy().to_string();
        let dir = t.path().join(&name);
        stock_tree(&dir, Some(&e.path()));
        let want = common::reference_lines(&dir);
        let got = common::our_lines(&dir);
        assert!(!want.is_empty(), "{name}: reference produced nothing");
        total += common::diff_count(&name, &want, &got);
    }
    assert!(seeds >= 4, "expected the 4 seeds, found {seeds}");
    assert_eq!(total, 0, "differing lines over the seeds");
}
