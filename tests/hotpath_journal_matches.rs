//! The lines a journal jail hands to its actions in `<matches>` carry the entry's time as
//! fail2ban 1.0.2 prints it: `isoformat()` of the time python-systemd gives the entry, with the
//! daemon's UTC offset (`2026-11-22T09:00:00.123456+00:00 kernel: [...] ...`).
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
fn journal_matches_start_with_the_iso_time_and_offset() {
    let name = "journal_matches_start_with_the_iso_time_and_offset";
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
         actionban = echo <matches> >> {dir}/rec\nactionunban =\n",
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
    // the offset the daemon (started with this environment) has now, as `+HH:MM`
    let zone = Command::new("date").arg("+%:z").output().expect("date");
    let offset = String::from_utf8_lossy(&zone.stdout).trim().to_string();
    // nine bans of three matches each; the shell gets the lines of `<matches>` as one
    // argument, so a recorded line holds all three
    assert!(
        wait_until(10.0, || tree.rec().len() >= 9),
        "{:?}",
        tree.rec()
    );
    let rec = tree.rec();
    let mark = format!("{offset} ");
    let mut seen = 0;
    for line in &rec {
        let mut from = 0;
        while let Some(at) = line[from..].find(&mark).map(|i| from + i) {
            from = at + mark.len();
            assert!(line[from..].contains("kernel: ["), "{line}");
            // YYYY-MM-DDTHH:MM:SS before the offset, with .ffffff unless it is zero
            let head = &line.as_bytes()[..at];
            let stamp = match head.len().checked_sub(7).map(|i| head[i]) {
                Some(b'.') => &head[head.len() - 26..],
                _ => &head[head.len().saturating_sub(19)..],
            };
            assert!(
                stamp.len() >= 19
                    && stamp.iter().enumerate().all(|(i, c)| match i {
                        4 | 7 => *c == b'-',
                        10 => *c == b'T',
                        13 | 16 => *c == b':',
                        19 => *c == b'.',
                        _ => c.is_ascii_digit(),
                    }),
                "{line}"
            );
            assert!(
                at == stamp.len() || line.as_bytes()[at - stamp.len() - 1] == b' ',
                "{line}"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 27, "{rec:?}");
    assert!(d.terminate());
}
