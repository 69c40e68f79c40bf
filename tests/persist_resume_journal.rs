//! LOCAL ONLY (fails on f2b: the saved journal time is ignored at restart, see report).
//! Restart resume for a journal jail: the time of the last entry read is kept, so entries read
//! before the stop are not read again though still within findtime. Run on f2b-server and, as
//! the reference, on Debian's fail2ban-server when it can read journals.
mod server_common;

use std::process::Command;

use server_common::persist::*;

/// The Python that runs fail2ban-server (its `#!` line): python3-systemd must be importable there.
fn fail2ban_python() -> String {
    let path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("fail2ban-server"))
            .find(|p| p.is_file())
    });
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| {
            t.lines()
                .next()
                .and_then(|l| l.strip_prefix("#!"))
                .map(|l| l.split_whitespace().next().unwrap_or("python3").to_string())
        })
        .unwrap_or_else(|| "python3".to_string())
}

fn servers(name: &str) -> Vec<Server> {
    let mut v = vec![];
    if !have_fail2ban() {
        f2b::skip(name, "fail2ban-server is not installed: f2b-server only");
    } else if !Command::new(fail2ban_python())
        .args(["-c", "import systemd.journal"])
        .status()
        .is_ok_and(|s| s.success())
    {
        f2b::skip(
            name,
            "python3-systemd is missing (fail2ban cannot read journals): f2b-server only",
        );
    } else {
        v.push(Server::Theirs);
    }
    v.push(Server::Ours);
    v
}

fn journal_remote() -> Option<std::path::PathBuf> {
    [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.is_file())
}

/// Generate `n` journal records starting `ago` seconds back into `tree/j/NAME.journal`; returns
/// the number of failure lines for the tor-netscan filter among them.
fn make_journal(
    tree: &Tree,
    shared: &std::path::Path,
    remote: &std::path::Path,
    name: &str,
    seed: u32,
    ago: i64,
) -> u64 {
    let export = tree.path(&format!("{name}.export"));
    let meta = tree.path(&format!("{name}.meta"));
    let out = Command::new("python3")
        .arg(shared.join("bench/gen.py"))
        .args([
            "ufw-journal-export",
            "400",
            &seed.to_string(),
            "0.5",
            "--start",
            &(now_secs() - ago).to_string(),
            "-o",
        ])
        .arg(&export)
        .arg("--meta")
        .arg(&meta)
        .output()
        .expect("gen.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = Command::new(remote)
        .arg("-o")
        .arg(tree.path(&format!("j/{name}.journal")))
        .arg(&export)
        .output()
        .expect("journal-remote");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let meta = std::fs::read_to_string(&meta).expect("meta");
    meta.split("\"match\": ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("match count in meta")
}

fn total_failed(d: &Daemon, jail: &str) -> Option<u64> {
    let (_, st) = d.client(&["status", jail]);
    st.lines()
        .find_map(|l| l.split_once("Total failed:\t"))
        .and_then(|(_, n)| n.trim().parse().ok())
}

#[test]
fn journal_reading_resumes_at_the_saved_time() {
    let name = "journal_reading_resumes_at_the_saved_time";
    let Some(remote) = journal_remote() else {
        return f2b::skip(name, "systemd-journal-remote is not installed");
    };
    let Some(shared) = f2b::shared_dir() else {
        return f2b::skip(
            name,
            "../shared (bench/gen.py, seeds/tor-netscan) is not present",
        );
    };
    let seed_filter = shared.join("seeds/tor-netscan/filter.d/tor-netscan.conf");
    let common = f2b::repo_root().join("filter.d/common.conf");
    if !seed_filter.is_file() || !common.is_file() {
        return f2b::skip(
            name,
            "seeds/tor-netscan filter or filter.d/common.conf missing",
        );
    }
    for server in servers(name) {
        let tree = Tree::new(
            "[tor-netscan]\nenabled = true\nfilter = tor-netscan[DPT=(?:20|21|22|23|389|636|989|990|992)]\n\
             backend = systemd[journalpath={dir}/j]\njournalmatch = _TRANSPORT=kernel\n\
             findtime = 1h\nmaxretry = 1000000\n",
        );
        std::fs::copy(&seed_filter, tree.path("conf/filter.d/tor-netscan.conf"))
            .expect("copy filter");
        std::fs::copy(&common, tree.path("conf/filter.d/common.conf")).expect("copy common");
        std::fs::create_dir_all(tree.path("j")).expect("mkdir j");
        // 400 records at 20 a second: 20 s of log, well inside findtime
        let first = make_journal(&tree, &shared, &remote, "a", 7, 900);
        let mut d = Daemon::start(server, &tree);
        assert!(
            wait_until(30.0, || total_failed(&d, "tor-netscan") == Some(first)),
            "{server:?}: {:?} of {first}\n{}",
            total_failed(&d, "tor-netscan"),
            tree.read("server.log")
        );
        assert!(d.terminate(), "{server:?} did not stop");
        drop(d);
        // newer entries arrive in another journal file while the daemon is down
        let second = make_journal(&tree, &shared, &remote, "b", 8, 300);
        let d = Daemon::start(server, &tree);
        assert!(
            wait_until(30.0, || total_failed(&d, "tor-netscan")
                .is_some_and(|n| n >= second)),
            "{server:?}: {:?} of {second}\n{}",
            total_failed(&d, "tor-netscan"),
            tree.read("server.log")
        );
        sleep_ms(2000);
        // the first file's entries (still inside findtime) were not read again
        assert_eq!(
            total_failed(&d, "tor-netscan"),
            Some(second),
            "{server:?}: first lifetime read {first}"
        );
    }
}
