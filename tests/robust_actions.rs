//! Action faults in a running f2b-server: a hanging action is killed (its whole process group)
//! after the action's `timeout`; a failing actionban triggers actioncheck/actionrepair and is
//! retried, as fail2ban does, with the failure logged; a missing command gives a clear error in
//! the log. In every case the daemon and the other jails go on.
mod server_common;

use server_common::*;

fn has(tree: &Tree, line: &str) -> bool {
    tree.rec().iter().any(|l| l == line)
}

fn pid_alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

#[test]
fn a_hanging_action_is_killed_after_its_timeout() {
    let tree = Tree::new(
        "[hang]\nenabled = true\nlogpath = {dir}/hang.log\nmaxretry = 1\naction = hang\n         record[name=hang]\n\n\
         [t]\nenabled = true\nlogpath = {dir}/t.log\nmaxretry = 1\naction = record[name=t]\n",
    );
    // The child shell records its pid, then a grandchild sleeps: both must die at the timeout.
    tree.write(
        "conf/action.d/hang.conf",
        "[Definition]\nactionban = echo $$ >> {dir}/hang.pids; sleep 300 & echo $! >> {dir}/hang.pids; wait\n[Init]\ntimeout = 2\n",
    );
    tree.write("hang.log", "");
    tree.write("t.log", "");
    let _d = Daemon::start_ours(&tree);
    tree.append("hang.log", &[format!("{} FAIL from 192.0.2.91", stamp(0))]);
    assert!(
        wait_until(10.0, || tree.read("hang.pids").lines().count() >= 2),
        "hanging action did not start"
    );
    // other jails are not held up while it hangs
    tree.append("t.log", &[format!("{} FAIL from 192.0.2.92", stamp(0))]);
    assert!(
        wait_until(10.0, || has(&tree, "ban t 192.0.2.92")),
        "{:?}",
        tree.rec()
    );
    // after the 2 s timeout the process group is gone and the jail's next action runs (the
    // failed ban is retried once first, as fail2ban does, and times out again)
    assert!(
        wait_until(30.0, || has(&tree, "ban hang 192.0.2.91")),
        "{:?}\n{}",
        tree.rec(),
        tree.read("server.log")
    );
    let pids: Vec<i32> = tree
        .read("hang.pids")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert!(pids.len() == 2 || pids.len() == 4, "{pids:?}");
    assert!(
        wait_until(5.0, || pids.iter().all(|p| !pid_alive(*p))),
        "survivors of the timed-out action: {pids:?}"
    );
    let log = tree.read("server.log");
    assert!(
        log.contains("timed out") || log.contains("timeout"),
        "no timeout in the log:\n{log}"
    );
    assert!(
        log.contains("Failed to execute ban jail 'hang' action 'hang'"),
        "{log}"
    );
    assert_eq!(
        ours(&tree.sock(), &["ping"]).1.trim(),
        "Server replied: pong"
    );
}

#[test]
fn a_failing_ban_is_checked_repaired_and_retried() {
    let tree = Tree::new(
        "[rep]\nenabled = true\nlogpath = {dir}/rep.log\nmaxretry = 1\naction = repairable\n",
    );
    // actionban fails until the environment is "repaired" (the ready file exists).
    tree.write(
        "conf/action.d/repairable.conf",
        "[Definition]\nactionstart =\nactioncheck = echo check >> {dir}/rec; test -f {dir}/ready\n\
         actionrepair = echo repair >> {dir}/rec; touch {dir}/ready\n\
         actionban = echo try <ip> >> {dir}/rec; test -f {dir}/ready && echo ban <ip> >> {dir}/rec\nactionunban =\n",
    );
    tree.write("rep.log", "");
    let _d = Daemon::start_ours(&tree);
    tree.append("rep.log", &[format!("{} FAIL from 192.0.2.93", stamp(0))]);
    assert!(
        wait_until(15.0, || has(&tree, "ban 192.0.2.93")),
        "{:?}\n{}",
        tree.rec(),
        tree.read("server.log")
    );
    let rec = tree.rec();
    let pos = |s: &str| rec.iter().position(|l| l == s).unwrap_or(usize::MAX);
    assert!(pos("try 192.0.2.93") < pos("check"), "{rec:?}");
    assert!(pos("check") < pos("repair"), "{rec:?}");
    assert!(pos("repair") < pos("ban 192.0.2.93"), "{rec:?}");
    let log = tree.read("server.log");
    assert!(
        log.contains("ERROR") && log.contains("returned 1"),
        "the failure is not logged:\n{log}"
    );
    assert!(log.contains("Invariant check failed"), "{log}");
    assert!(log.contains("NOTICE  [rep] Ban 192.0.2.93"), "{log}");
}

#[test]
fn a_missing_command_is_a_clear_error_and_the_daemon_goes_on() {
    let tree = Tree::new(
        "[fw]\nenabled = true\nlogpath = {dir}/fw.log\nmaxretry = 1\naction = nofw\n         record[name=fw]\n\n\
         [t]\nenabled = true\nlogpath = {dir}/t.log\nmaxretry = 1\naction = record[name=t]\n",
    );
    tree.write(
        "conf/action.d/nofw.conf",
        "[Definition]\nactionstart =\nactionban = f2b-robust-no-such-ufw insert 1 reject from <ip>\nactionunban = f2b-robust-no-such-ufw delete reject from <ip>\n",
    );
    tree.write("fw.log", "");
    tree.write("t.log", "");
    let _d = Daemon::start_ours(&tree);
    tree.append("fw.log", &[format!("{} FAIL from 192.0.2.94", stamp(0))]);
    assert!(
        wait_until(15.0, || has(&tree, "ban fw 192.0.2.94")),
        "{:?}\n{}",
        tree.rec(),
        tree.read("server.log")
    );
    let log = tree.read("server.log");
    let line = log
        .lines()
        .find(|l| l.contains("f2b-robust-no-such-ufw") && l.contains("not found"))
        .unwrap_or_else(|| panic!("no 'not found' error naming the command:\n{log}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(log.contains("returned 127"), "{log}");
    tree.append("t.log", &[format!("{} FAIL from 192.0.2.95", stamp(0))]);
    assert!(
        wait_until(10.0, || has(&tree, "ban t 192.0.2.95")),
        "{:?}",
        tree.rec()
    );
    assert_eq!(
        ours(&tree.sock(), &["ping"]).1.trim(),
        "Server replied: pong"
    );
}
