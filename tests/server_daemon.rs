//! f2b-server as a process: bans, unbans, permanent bans, manual bans through f2b-client, a
//! failing action, restore after restart, reload on SIGHUP, log reopen on SIGUSR1, clean stop.
//! Real binaries, a temp config tree, temp log files and recording shell actions.
mod server_common;

use server_common::*;

const JAILS: &str = "\
[t]
enabled = true
logpath = {dir}/t.log
maxretry = 3
findtime = 20
bantime = 3
action = record[name=t]

[perm]
enabled = true
logpath = {dir}/perm.log
maxretry = 2
bantime = -1
action = record[name=perm]

[bad]
enabled = true
logpath = {dir}/bad.log
maxretry = 1
action = broken
         record[name=bad]
";

fn fails(ip: &str, ages: &[i64]) -> Vec<String> {
    ages.iter()
        .map(|a| format!("{} FAIL from {ip}", stamp(*a)))
        .collect()
}

fn has(tree: &Tree, line: &str) -> bool {
    tree.rec().iter().any(|l| l == line)
}

#[test]
fn bans_unbans_permanent_manual_failing_action_and_stop() {
    let tree = Tree::new(JAILS);
    for f in ["t.log", "perm.log", "bad.log"] {
        tree.write(f, "");
    }
    let mut d = Daemon::start_ours(&tree);
    let sock = tree.sock();
    assert!(
        wait_until(10.0, || has(&tree, "start t") && has(&tree, "start perm")),
        "{:?}",
        tree.rec()
    );

    // maxretry failures inside findtime: ban, then unban after bantime (3 s)
    tree.append("t.log", &fails("192.0.2.1", &[0, 0, 0]));
    assert!(
        wait_until(10.0, || has(&tree, "ban t 192.0.2.1")),
        "no ban: {:?}\n{}",
        tree.rec(),
        tree.read("server.log")
    );
    let (_, st) = ours(&sock, &["status", "t"]);
    assert!(st.contains("Total failed:\t3"), "{st}");
    assert!(st.contains("Banned IP list:\t192.0.2.1"), "{st}");

    // the same number of failures spread wider than findtime (20 s): no ban
    tree.append("t.log", &fails("192.0.2.2", &[50, 25, 0]));
    assert!(wait_until(10.0, || ours(&sock, &["status", "t"])
        .1
        .contains("Total failed:\t6")));
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert!(!has(&tree, "ban t 192.0.2.2"), "{:?}", tree.rec());

    assert!(
        wait_until(15.0, || has(&tree, "unban t 192.0.2.1")),
        "no unban: {:?}",
        tree.rec()
    );
    assert!(ours(&sock, &["status", "t"])
        .1
        .contains("Currently banned:\t0"));

    // a permanent ban stays
    tree.append("perm.log", &fails("198.51.100.1", &[1, 0]));
    assert!(
        wait_until(10.0, || has(&tree, "ban perm 198.51.100.1")),
        "{:?}",
        tree.rec()
    );
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert!(!has(&tree, "unban perm 198.51.100.1"));
    let (_, bl) = ours(&sock, &["get", "perm", "banip", "--with-time"]);
    assert!(
        bl.contains("198.51.100.1 \t") && bl.contains(" + -1 = 9999-12-31 23:59:59"),
        "{bl}"
    );

    // manual ban and unban through the client
    let (code, out) = ours(&sock, &["set", "perm", "banip", "203.0.113.50"]);
    assert_eq!((code, out.trim()), (0, "1"), "{out}");
    assert!(wait_until(5.0, || has(&tree, "ban perm 203.0.113.50")));
    let (code, out) = ours(&sock, &["set", "perm", "unbanip", "203.0.113.50"]);
    assert_eq!((code, out.trim()), (0, "1"), "{out}");
    assert!(has(&tree, "unban perm 203.0.113.50"));
    let (_, out) = ours(&sock, &["banned", "203.0.113.50", "198.51.100.1"]);
    assert_eq!(out.trim(), "[[], ['perm']]");

    // a failing action is logged; its jail and the daemon go on
    tree.append("bad.log", &fails("203.0.113.9", &[0]));
    assert!(
        wait_until(10.0, || has(&tree, "ban bad 203.0.113.9")),
        "{:?}",
        tree.rec()
    );
    assert!(tree.read("broken").contains("attempt 203.0.113.9"));
    let log = tree.read("server.log");
    assert!(
        log.lines().any(|l| l.contains(" fail2ban.actions ")
            && l.contains("ERROR   Failed to execute ban jail 'bad' action 'broken'")),
        "{log}"
    );
    tree.append("bad.log", &fails("203.0.113.10", &[0]));
    assert!(wait_until(10.0, || has(&tree, "ban bad 203.0.113.10")));
    assert_eq!(ours(&sock, &["ping"]).1.trim(), "Server replied: pong");

    // fail2ban's log format for the ban lines (what recidive reads)
    let ban_line = log
        .lines()
        .find(|l| l.ends_with("[t] Ban 192.0.2.1"))
        .expect("Ban line in log");
    let pid = d.pid();
    let want = format!(" fail2ban.actions        [{pid}]: NOTICE  [t] Ban 192.0.2.1");
    assert_eq!(&ban_line[23..], want, "{ban_line}");
    assert!(
        log.contains(&format!(
            "fail2ban.filter         [{pid}]: INFO    [t] Found 192.0.2.1 - "
        )),
        "{log}"
    );

    // SIGTERM: every jail stops (actionstop), pidfile and socket go away
    assert!(tree.path("f2b.pid").exists());
    assert!(d.terminate(), "daemon did not stop");
    let rec = tree.rec();
    for j in ["t", "perm", "bad"] {
        assert!(rec.contains(&format!("stop {j}")), "{rec:?}");
    }
    assert!(
        rec.contains(&"unban perm 198.51.100.1".to_string()),
        "stop unbans: {rec:?}"
    );
    assert!(!tree.path("f2b.pid").exists());
    assert!(!sock.exists());
}

#[test]
fn bans_are_restored_after_a_restart() {
    let tree = Tree::new(
        "[t]\nenabled = true\nlogpath = {dir}/t.log\nbantime = 1h\naction = record[name=t]\n",
    );
    tree.write("t.log", "");
    {
        let mut d = Daemon::start_ours(&tree);
        tree.append("t.log", &fails("192.0.2.30", &[0, 0, 0]));
        assert!(
            wait_until(10.0, || has(&tree, "ban t 192.0.2.30")),
            "{:?}",
            tree.rec()
        );
        assert!(d.terminate());
    }
    assert!(has(&tree, "unban t 192.0.2.30"));
    std::fs::remove_file(tree.path("rec")).expect("rm rec");
    let _d = Daemon::start_ours(&tree);
    assert!(
        wait_until(10.0, || has(&tree, "ban t 192.0.2.30")),
        "not restored: {:?}\n{}",
        tree.rec(),
        tree.read("server.log")
    );
    assert!(tree
        .read("server.log")
        .contains("NOTICE  [t] Restore Ban 192.0.2.30"));
    let (_, st) = ours(&tree.sock(), &["status", "t"]);
    assert!(st.contains("Banned IP list:\t192.0.2.30"), "{st}");
    // the log position was kept: the three old lines are not counted again
    assert!(st.contains("Total failed:\t0"), "{st}");
}

#[test]
fn sighup_reloads_and_sigusr1_reopens_the_log() {
    let tree = Tree::new("[t]\nenabled = true\nlogpath = {dir}/t.log\naction = record[name=t]\n");
    tree.write("t.log", "");
    tree.write("u.log", "");
    let d = Daemon::start_ours(&tree);
    let sock = tree.sock();
    tree.append("t.log", &fails("192.0.2.40", &[0, 0, 0]));
    assert!(wait_until(10.0, || has(&tree, "ban t 192.0.2.40")));

    // a new jail u, and t with another maxretry (same actions, same ban time)
    tree.write(
        "conf/jail.local",
        "[t]\nenabled = true\nlogpath = {dir}/t.log\nmaxretry = 5\naction = record[name=t]\n\n[u]\nenabled = true\nlogpath = {dir}/u.log\naction = record[name=u]\n",
    );
    d.signal("HUP");
    assert!(
        wait_until(10.0, || ours(&sock, &["status"])
            .1
            .contains("Jail list:\tt, u")),
        "{}",
        ours(&sock, &["status"]).1
    );
    assert!(wait_until(10.0, || ours(&sock, &["get", "t", "maxretry"])
        .1
        .trim()
        == "5"));
    // t kept its ban through the reload: never lifted, actions not restarted
    assert!(ours(&sock, &["status", "t"])
        .1
        .contains("Banned IP list:\t192.0.2.40"));
    assert!(!has(&tree, "unban t 192.0.2.40"), "{:?}", tree.rec());
    assert_eq!(
        tree.rec().iter().filter(|l| *l == "start t").count(),
        1,
        "{:?}",
        tree.rec()
    );
    // and its new reader works with the new maxretry
    tree.append("t.log", &fails("192.0.2.42", &[0, 0, 0, 0]));
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(!has(&tree, "ban t 192.0.2.42"));
    tree.append("t.log", &fails("192.0.2.42", &[0]));
    assert!(
        wait_until(10.0, || has(&tree, "ban t 192.0.2.42")),
        "{:?}",
        tree.rec()
    );

    std::fs::rename(tree.path("server.log"), tree.path("server.log.1")).expect("rotate");
    d.signal("USR1");
    assert!(wait_until(5.0, || tree.path("server.log").exists()));
    tree.append("u.log", &fails("192.0.2.41", &[0, 0, 0]));
    assert!(
        wait_until(10.0, || tree
            .read("server.log")
            .contains("[u] Ban 192.0.2.41")),
        "{}",
        tree.read("server.log")
    );
}

#[test]
fn bantime_increment_rebans_a_known_bad_address_sooner_and_longer() {
    let tree = Tree::new(
        "[t]\nenabled = true\nlogpath = {dir}/t.log\nmaxretry = 2\nbantime = 3\nbantime.increment = true\naction = record[name=t]\n",
    );
    tree.write("t.log", "hello\n");
    let _d = Daemon::start_ours(&tree);
    tree.append("t.log", &fails("192.0.2.60", &[0, 0]));
    assert!(
        wait_until(10.0, || has(&tree, "ban t 192.0.2.60")),
        "{:?}",
        tree.rec()
    );
    assert!(
        wait_until(10.0, || has(&tree, "unban t 192.0.2.60")),
        "{:?}",
        tree.rec()
    );
    // one failure is enough now: the address counts as bad (2 retries), and its ban doubles
    tree.append("t.log", &fails("192.0.2.60", &[0]));
    assert!(
        wait_until(10.0, || tree
            .rec()
            .iter()
            .filter(|l| *l == "ban t 192.0.2.60")
            .count()
            == 2),
        "{:?}",
        tree.rec()
    );
    let log = tree.read("server.log");
    assert!(
        log.contains("INFO    [t] Found 192.0.2.60, bad - "),
        "{log}"
    );
    assert!(log.contains(" # -> 2.0, Ban"), "{log}");
    assert!(
        log.contains("NOTICE  [t] Increase Ban 192.0.2.60 (2 # 6s -> "),
        "{log}"
    );
    let (_, bl) = ours(&tree.sock(), &["get", "t", "banip", "--with-time"]);
    assert!(bl.contains(" + 6 = "), "{bl}");
}

#[test]
fn the_stock_recidive_filter_reads_our_log() {
    let filters = f2b::repo_root().join("filter.d");
    if !filters.join("recidive.conf").is_file() || !filters.join("common.conf").is_file() {
        return f2b::skip(
            "the_stock_recidive_filter_reads_our_log",
            "filter.d/recidive.conf or common.conf missing in the repo tree",
        );
    }
    let tree = Tree::new(
        "[t]\nenabled = true\nlogpath = {dir}/t.log\nmaxretry = 1\nbantime = 3\naction = record[name=t]\n\n\
         [recidive]\nenabled = true\nfilter = recidive\nlogpath = {dir}/server.log\nmaxretry = 3\nfindtime = 1d\nbantime = 1w\n\
         action = record[name=recidive]\n",
    );
    for f in ["recidive.conf", "common.conf"] {
        std::fs::copy(filters.join(f), tree.path(&format!("conf/filter.d/{f}")))
            .expect("copy filter");
    }
    tree.write("t.log", "hello\n");
    let _d = Daemon::start_ours(&tree);
    // three short bans of the same address in jail t: recidive (reading our own log) bans it
    for round in 1..=3 {
        tree.append("t.log", &fails("203.0.113.77", &[0]));
        assert!(
            wait_until(10.0, || tree
                .rec()
                .iter()
                .filter(|l| *l == "ban t 203.0.113.77")
                .count()
                == round),
            "round {round}: {:?}",
            tree.rec()
        );
        assert!(wait_until(10.0, || tree
            .rec()
            .iter()
            .filter(|l| *l == "unban t 203.0.113.77")
            .count()
            == round));
    }
    assert!(
        wait_until(10.0, || has(&tree, "ban recidive 203.0.113.77")),
        "{:?}\n{}",
        tree.rec(),
        tree.read("server.log")
    );
}

#[test]
fn a_broken_jail_is_logged_and_skipped_the_others_run() {
    let tree = Tree::new(
        "[t]\nenabled = true\nlogpath = {dir}/t.log\naction = record[name=t]\n\n\
         [broken]\nenabled = true\nfilter = no-such-filter\nlogpath = {dir}/t.log\naction = record[name=broken]\n\n\
         [badregex]\nenabled = true\nfilter = badre\nlogpath = {dir}/t.log\naction = record[name=badregex]\n",
    );
    tree.write(
        "conf/filter.d/badre.conf",
        "[Definition]\nfailregex = ^(unclosed <HOST>\n",
    );
    tree.write("t.log", "hello\n");
    let _d = Daemon::start_ours(&tree);
    let (_, st) = ours(&tree.sock(), &["status"]);
    assert!(
        st.contains("Number of jail:\t1") && st.contains("Jail list:\tt"),
        "{st}"
    );
    let log = tree.read("server.log");
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains("broken")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains("badregex")),
        "{log}"
    );
    tree.append("t.log", &fails("192.0.2.99", &[0, 0, 0]));
    assert!(
        wait_until(10.0, || has(&tree, "ban t 192.0.2.99")),
        "{:?}",
        tree.rec()
    );
}

/// `restart` may start the new server before the old one has exited: the old one must leave
/// the new one's socket and pid file in place.
#[test]
fn an_old_server_exiting_keeps_the_new_servers_socket_and_pidfile() {
    // an empty `ignoreip =` is no ignore entry (fail2ban runs such a jail)
    let tree = Tree::new(
        "[t]\nenabled = true\nignoreip =\nlogpath = {dir}/t.log\naction = record[name=t]\n",
    );
    tree.write("t.log", "");
    let mut old = Daemon::start_ours(&tree);
    // -x: the new server takes the path over while the old one still runs.
    let new = Daemon::start_ours(&tree);
    assert!(old.terminate(), "old daemon did not stop");
    let sock = tree.sock();
    assert!(sock.exists(), "the old server removed the new one's socket");
    assert_eq!(ours(&sock, &["ping"]).1.trim(), "Server replied: pong");
    assert_eq!(
        ours(&sock, &["status", "t"]).0,
        0,
        "jail with an empty ignoreip must run"
    );
    let pid = tree.read("f2b.pid");
    assert_eq!(
        pid.trim(),
        new.pid().to_string(),
        "pid file must name the new server"
    );
}

/// `f2b-server -xf start` with a jail whose log file does not exist: the start fails with
/// exit code 255 and fail2ban's message; no socket is left behind. Compared with Debian's
/// fail2ban-server when it is installed.
#[test]
fn a_jail_whose_log_file_is_missing_fails_the_start_like_fail2ban() {
    let tree = Tree::new(
        "[miss]\nenabled = true\nlogpath = {dir}/missing.log\naction = record[name=miss]\n\n\
         [t]\nenabled = true\nlogpath = {dir}/t.log\naction = record[name=t]\n",
    );
    tree.write("t.log", "");
    let want = "Failed during configuration: Have not found any log file for miss jail";
    let run = |program: std::path::PathBuf| {
        let mut cmd = std::process::Command::new(program);
        cmd.arg("-xf")
            .arg("-c")
            .arg(tree.conf())
            .arg("-s")
            .arg(tree.sock())
            .arg("-p")
            .arg(tree.path("f2b.pid"));
        cmd.arg("start")
            .env("TZ", "UTC")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        let mut child = cmd
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run server");
        // A server that wrongly starts must not hang the test.
        let exited = wait_until(20.0, || matches!(child.try_wait(), Ok(Some(_))));
        if !exited {
            let _ = child.kill();
        }
        let out = child.wait_with_output().expect("server output");
        (
            if exited { out.status.code() } else { None },
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(f2b::bin("f2b-server"));
    assert_eq!(code, Some(255), "{err}\n{}", tree.read("server.log"));
    assert!(err.contains(want), "{err}");
    assert!(!tree.sock().exists() && !tree.path("f2b.pid").exists());
    assert!(
        !tree.read("rec").contains("start"),
        "no jail may start: {:?}",
        tree.rec()
    );
    if !f2b::have("fail2ban-server") {
        return f2b::skip(
            "a_jail_whose_log_file_is_missing_fails_the_start_like_fail2ban",
            "fail2ban-server not installed",
        );
    }
    let (code, err) = run(std::path::PathBuf::from("fail2ban-server"));
    assert_eq!(code, Some(255), "{err}");
    assert!(err.contains(want), "{err}");
}

/// An action that keeps state in `{dir}/fw` (its "firewall"), checks it, repairs it, and
/// records ban, reban, prolong with the dynamic tags fail2ban fills.
const STATEFUL_ACTION: &str = "\
[Definition]
actionstart = touch {dir}/fw
actionstop = rm -f {dir}/fw
actioncheck = test -e {dir}/fw
actionrepair = echo repair >> {dir}/rec; touch {dir}/fw
actionban = echo \"ban <ip> f=<failures> banned=<jail.banned> found_total=<jail.found_total>\" >> {dir}/rec
actionreban = echo \"reban <ip>\" >> {dir}/rec
actionunban = echo \"unban <ip>\" >> {dir}/rec
actionprolong = echo \"prolong <ip> <bantime>\" >> {dir}/rec
";

/// A failure of a banned address long after its ban: the actions are checked, a broken one
/// is repaired and the address banned again through `actionreban`. A ban raised by
/// `bantime.increment` runs `actionprolong`. Commands see the jail's counters.
#[test]
fn consistency_check_repairs_and_rebans_increase_prolongs_and_counters_reach_actions() {
    let tree = Tree::new(
        "[t]\nenabled = true\nlogpath = {dir}/t.log\nmaxretry = 1\nbantime = 600\naction = stateful\n\n\
         [inc]\nenabled = true\nlogpath = {dir}/inc.log\nmaxretry = 1\nbantime = 2\nbantime.increment = true\naction = stateful\n",
    );
    tree.write("conf/action.d/stateful.conf", STATEFUL_ACTION);
    tree.write("t.log", "");
    tree.write("inc.log", "");
    let _d = Daemon::start_ours(&tree);
    assert!(wait_until(10.0, || tree.path("fw").exists()));

    tree.append("t.log", &fails("192.0.2.5", &[0]));
    assert!(
        wait_until(10.0, || has(
            &tree,
            "ban 192.0.2.5 f=1 banned=1 found_total=1"
        )),
        "{:?}",
        tree.rec()
    );
    // the "firewall" loses its state; a failure 4 s after the ban triggers the check
    std::fs::remove_file(tree.path("fw")).expect("rm fw");
    std::thread::sleep(std::time::Duration::from_millis(4200));
    tree.append("t.log", &fails("192.0.2.5", &[0]));
    assert!(
        wait_until(10.0, || has(&tree, "reban 192.0.2.5")),
        "{:?}\n{}",
        tree.rec(),
        tree.read("server.log")
    );
    assert!(
        has(&tree, "repair") && tree.path("fw").exists(),
        "{:?}",
        tree.rec()
    );
    let log = tree.read("server.log");
    assert!(
        log.contains("NOTICE  [t] Reban 192.0.2.5, action 'stateful'"),
        "{log}"
    );

    // bantime.increment: the second ban of a known address is longer and prolonged
    tree.append("inc.log", &fails("198.51.100.7", &[0]));
    assert!(
        wait_until(10.0, || has(&tree, "unban 198.51.100.7")),
        "{:?}",
        tree.rec()
    );
    assert!(
        !tree
            .rec()
            .iter()
            .any(|l| l.starts_with("prolong 198.51.100.7")),
        "first ban is not prolonged: {:?}",
        tree.rec()
    );
    tree.append("inc.log", &fails("198.51.100.7", &[0]));
    assert!(
        wait_until(10.0, || has(&tree, "prolong 198.51.100.7 4")),
        "{:?}\n{}",
        tree.rec(),
        tree.read("server.log")
    );
}
