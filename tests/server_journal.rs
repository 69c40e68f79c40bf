//! f2b-server with `backend = systemd` on a real journal file (written by systemd-journal-remote
//! from a generated export): the tor-netscan deployment's filter, failure IDs that are ports,
//! recording actions that receive `<F-ID>`.
mod server_common;

use std::process::Command;

use server_common::*;

fn journal_remote() -> Option<std::path::PathBuf> {
    [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.is_file())
}

#[test]
fn journal_jail_bans_ports_like_tor_netscan() {
    let name = "journal_jail_bans_ports_like_tor_netscan";
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
    let tree = Tree::new(
        "[tor-netscan]\nenabled = true\nfilter = tor-netscan[DPT=(?:20|21|22|23|389|636|989|990|992)]\n\
         backend = systemd[journalfiles={dir}/j/x.journal]\njournalmatch = _TRANSPORT=kernel\n\
         findtime = 10m\nmaxretry = 3\nbantime = 15m\naction = portrec\n",
    );
    std::fs::copy(&seed_filter, tree.path("conf/filter.d/tor-netscan.conf")).expect("copy filter");
    std::fs::copy(&common, tree.path("conf/filter.d/common.conf")).expect("copy common");
    tree.write(
        "conf/action.d/portrec.conf",
        "[Definition]\nactionstart =\nactionstop = echo stop >> {dir}/rec\nactioncheck =\n\
         actionban = echo \"ban port <F-ID>\" >> {dir}/rec\nactionunban = echo \"unban port <F-ID>\" >> {dir}/rec\n",
    );
    std::fs::create_dir_all(tree.path("j")).expect("mkdir j");
    let meta = tree.path("meta.json");
    let out = Command::new("python3")
        .arg(shared.join("bench/gen.py"))
        .args([
            "ufw-journal-export",
            "500",
            "7",
            "0.5",
            "--start",
            &(now_secs() - 100).to_string(),
            "-o",
        ])
        .arg(tree.path("x.export"))
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
        .arg(tree.path("j/x.journal"))
        .arg(tree.path("x.export"))
        .output()
        .expect("journal-remote");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let meta = std::fs::read_to_string(&meta).expect("meta");
    let matches: u64 = meta
        .split("\"match\": ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("match count in meta");

    let mut d = Daemon::start_ours(&tree);
    let sock = tree.sock();
    assert!(
        wait_until(20.0, || ours(&sock, &["status", "tor-netscan"])
            .1
            .contains(&format!("Total failed:\t{matches}"))),
        "{}\n{}",
        ours(&sock, &["status", "tor-netscan"]).1,
        tree.read("server.log")
    );
    let st = ours(&sock, &["status", "tor-netscan"]).1;
    assert!(st.contains("Journal matches:\t_TRANSPORT=kernel"), "{st}");
    // every watched port is hit at least three times in this log: nine bans, one per port
    assert!(
        wait_until(10.0, || tree.rec().len() >= 9),
        "{:?}",
        tree.rec()
    );
    let mut ports: Vec<String> = tree
        .rec()
        .iter()
        .filter_map(|l| l.strip_prefix("ban port ").map(str::to_string))
        .collect();
    ports.sort_by_key(|p| p.parse::<u32>().unwrap_or(0));
    assert_eq!(
        ports,
        ["20", "21", "22", "23", "389", "636", "989", "990", "992"]
    );
    assert!(st.contains("Total banned:\t9"), "{st}");
    assert!(d.terminate());
    assert!(tree.rec().iter().any(|l| l == "unban port 992"));
}
