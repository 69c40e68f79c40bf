//! Broken configuration with a running f2b-server. A jail whose filter or action is missing, whose
//! failregex does not compile or whose option is nonsense is reported and skipped while the
//! others run (fail2ban skips the same jails). A syntax error in a file is reported with the file
//! and the line; at start it stops the server (as it stops fail2ban), on `reload` the old running
//! configuration stays.
mod server_common;

use server_common::*;
use std::process::{Command, Stdio};

const JAILS: &str = "\
[good]
enabled = true
logpath = {dir}/good.log
maxretry = 1
action = record[name=good]

[nofilter]
enabled = true
filter = f2b-robust-missing
logpath = {dir}/good.log

[noaction]
enabled = true
action = f2b-robust-missing-action
logpath = {dir}/good.log

[badre]
enabled = true
filter = badre
logpath = {dir}/good.log

[alsogood]
enabled = true
logpath = {dir}/also.log
maxretry = 1
action = record[name=alsogood]
";

#[test]
fn broken_jails_are_reported_and_skipped_the_others_run() {
    let tree = Tree::new(JAILS);
    tree.write(
        "conf/filter.d/badre.conf",
        "[Definition]\nfailregex = FAIL (unclosed from <HOST>$\n",
    );
    tree.write("good.log", "");
    tree.write("also.log", "");
    let _d = Daemon::start_ours(&tree);
    let (_, st) = ours(&tree.sock(), &["status"]);
    let list = st
        .lines()
        .find(|l| l.contains("Jail list:"))
        .unwrap_or("")
        .to_string();
    assert!(
        list.contains("good") && list.contains("alsogood"),
        "{st}\n{}",
        tree.read("server.log")
    );
    for skipped in ["nofilter", "noaction", "badre"] {
        assert!(
            !list.split(['\t', ',', ' ']).any(|j| j == skipped),
            "{skipped} runs: {list}"
        );
    }
    let log = tree.read("server.log");
    assert!(
        log.contains("f2b-robust-missing"),
        "missing filter not reported:\n{log}"
    );
    assert!(
        log.contains("f2b-robust-missing-action"),
        "missing action not reported:\n{log}"
    );
    assert!(log.contains("unclosed"), "bad regex not reported:\n{log}");
    tree.append("good.log", &[format!("{} FAIL from 192.0.2.11", stamp(0))]);
    tree.append("also.log", &[format!("{} FAIL from 192.0.2.12", stamp(0))]);
    assert!(
        wait_until(10.0, || {
            let r = tree.rec();
            r.contains(&"ban good 192.0.2.11".to_string())
                && r.contains(&"ban alsogood 192.0.2.12".to_string())
        }),
        "{:?}\n{log}",
        tree.rec()
    );
}

#[test]
fn a_syntax_error_at_start_names_file_and_line() {
    let tree = Tree::new("[good]\nenabled = true\nlogpath = {dir}/good.log\nfilter = syntax\naction = record[name=good]\n");
    tree.write(
        "conf/filter.d/syntax.conf",
        "[Definition]\nfailregex = FAIL from <HOST>$\nthis line is garbage\n",
    );
    tree.write("good.log", "");
    let mut child = Command::new(f2b::bin("f2b-server"))
        .args(["-xf", "-c"])
        .arg(tree.conf())
        .arg("start")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let exited = wait_until(30.0, || matches!(child.try_wait(), Ok(Some(_))));
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("wait");
    let text = format!(
        "{}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        tree.read("server.log")
    );
    assert!(
        exited,
        "server kept running on a broken filter file:\n{text}"
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("filter.d/syntax.conf"),
        "file not named:\n{text}"
    );
    assert!(
        text.contains("syntax.conf:3:") || text.contains("line  3") || text.contains("line 3"),
        "line not named:\n{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn reload_with_a_broken_file_keeps_the_running_config() {
    let tree = Tree::new("[good]\nenabled = true\nlogpath = {dir}/good.log\nmaxretry = 1\naction = record[name=good]\n");
    tree.write("good.log", "");
    let _d = Daemon::start_ours(&tree);
    let sock = tree.sock();
    let conf = tree.conf().display().to_string();
    tree.append("good.log", &[format!("{} FAIL from 192.0.2.21", stamp(0))]);
    assert!(
        wait_until(10.0, || tree
            .rec()
            .contains(&"ban good 192.0.2.21".to_string())),
        "{:?}",
        tree.rec()
    );

    // a syntax error in jail.local, then a broken filter file the jail uses
    let broken: [(&str, &str); 2] = [
        ("conf/jail.local", "[good\nenabled = true\n"),
        (
            "conf/filter.d/t.conf",
            "[Definition]\nfailregex = FAIL from <HOST>$\n  \nnot an option\n",
        ),
    ];
    let good_jail = tree.read("conf/jail.local");
    let good_filter = tree.read("conf/filter.d/t.conf");
    for (i, (file, text)) in broken.iter().enumerate() {
        tree.write(file, text);
        let (code, out) = ours(&sock, &["-c", &conf, "reload"]);
        assert_ne!(code, 0, "reload of a broken {file} succeeded: {out}");
        assert!(
            out.contains(file.trim_start_matches("conf/"))
                || tree
                    .read("server.log")
                    .contains(file.trim_start_matches("conf/")),
            "{file} not named: {out}"
        );
        let (_, st) = ours(&sock, &["status", "good"]);
        assert!(
            st.contains("Banned IP list:\t192.0.2.21"),
            "the running jail changed: {st}"
        );
        let ip = format!("192.0.2.{}", 30 + i);
        tree.append("good.log", &[format!("{} FAIL from {ip}", stamp(0))]);
        assert!(
            wait_until(10.0, || tree.rec().contains(&format!("ban good {ip}"))),
            "jail stopped working after a failed reload: {:?}\n{}",
            tree.rec(),
            tree.read("server.log")
        );
        tree.write("conf/jail.local", &good_jail);
        tree.write("conf/filter.d/t.conf", &good_filter);
    }
    assert!(
        !tree.rec().contains(&"unban good 192.0.2.21".to_string()),
        "{:?}",
        tree.rec()
    );
    let (code, out) = ours(&sock, &["-c", &conf, "reload"]);
    assert_eq!(code, 0, "{out}");
    alive_ping(&tree);
}

fn alive_ping(tree: &Tree) {
    assert_eq!(
        ours(&tree.sock(), &["ping"]).1.trim(),
        "Server replied: pong"
    );
}
