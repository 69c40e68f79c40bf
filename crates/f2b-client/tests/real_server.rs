//! f2b-client against Debian's real fail2ban-server (when installed), side by side with
//! fail2ban-client: replies from the reference server (exception objects, IP objects pickled
//! as `str(...)` reductions) must print exactly as fail2ban-client prints them.

use std::path::Path;
use std::process::Command;

const OURS: &str = env!("CARGO_BIN_EXE_f2b-client");

fn run(exe: &str, conf: &Path, words: &[&str]) -> (String, i32) {
    let out = Command::new(exe)
        .arg("-c")
        .arg(conf)
        .args(words)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

struct StopServer<'a>(&'a Path);

impl Drop for StopServer<'_> {
    fn drop(&mut self) {
        let _ = Command::new("fail2ban-client")
            .arg("-c")
            .arg(self.0)
            .arg("stop")
            .output();
    }
}

#[test]
fn same_output_against_fail2ban_server() {
    let present = |exe: &str| {
        Command::new(exe)
            .arg("-V")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !present("fail2ban-client") || !present("fail2ban-server") {
        eprintln!("SKIP same_output_against_fail2ban_server: fail2ban is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let conf = dir.path().join("conf");
    std::fs::create_dir_all(conf.join("filter.d")).unwrap();
    std::fs::write(
        conf.join("fail2ban.conf"),
        format!("[Definition]\nloglevel = INFO\nlogtarget = {d}/f2b.log\nsocket = {d}/f2b.sock\npidfile = {d}/f2b.pid\ndbfile = :memory:\n"),
    )
    .unwrap();
    std::fs::write(
        conf.join("filter.d/test.conf"),
        "[Definition]\nfailregex = ^fail from <HOST>$\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("test.log"), "").unwrap();
    std::fs::write(
        conf.join("jail.conf"),
        format!("[t]\nenabled = true\nfilter = test\nlogpath = {d}/test.log\nbackend = polling\naction =\nignoreip = 127.0.0.1/8 ::1\n"),
    )
    .unwrap();
    let (out, code) = run("fail2ban-client", &conf, &["start"]);
    assert_eq!(
        (out.as_str(), code),
        ("Server ready\n", 0),
        "the reference server did not start"
    );
    let _stop = StopServer(&conf);

    let script: &[&str] = &[
        "ping",
        "status",
        "status t",
        "status nosuch",
        "set t banip 192.0.2.1 198.51.100.2",
        "banned",
        "banned 192.0.2.1 203.0.113.3",
        "get t banip",
        "get t banned",
        "get t ignoreip",
        "set t addignoreip 10.0.0.0/8",
        "get t failregex",
        "get t datepattern",
        "get t logpath",
        "get t bantime",
        "get t ignoreself",
        "get t actions",
        "get loglevel",
        "get logtarget",
        "get dbfile",
        "set t maxretry many",
        "set t unbanip --report-absent 203.0.113.3",
        "get t",
        "frobnicate",
        "echo a b",
        "set t unbanip 192.0.2.1",
        "unban --all",
        // Our reload sends the configuration stream fail2ban-server rebuilds jails from.
        "reload nosuch",
        "reload t",
        "reload",
        "reload --restart t",
        "status",
        "status t",
    ];
    let mut compared = 0;
    for line in script {
        let words: Vec<&str> = line.split(' ').collect();
        // Ours first: where a command changes state, the reference then sees the changed
        // state, so each state-changing line is written to give the same answer twice or is
        // compared on its own first run only.
        let ours = run(OURS, &conf, &words);
        let stateful = line.starts_with("set t banip")
            || line.starts_with("set t unbanip 1")
            || line.starts_with("unban");
        if stateful {
            assert_eq!(ours.1, 0, "`{line}` failed: {}", ours.0);
            continue;
        }
        let theirs = run("fail2ban-client", &conf, &words);
        assert_eq!(ours, theirs, "`{line}`");
        compared += 1;
    }
    eprintln!("{compared} commands compared against fail2ban-server");
    let (out, code) = run(OURS, &conf, &["stop"]);
    assert_eq!((out.as_str(), code), ("Shutdown successful\n", 0));
}
