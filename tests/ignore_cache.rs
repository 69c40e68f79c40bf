//! `ignorecache` through the real daemon: an `ignorecommand` that counts its calls in a file
//! runs once per address within `max-time` when the jail has `ignorecache`, and for every
//! failure when it has none. The same checks run against Debian's fail2ban-server when it is
//! installed, so the expectations are fail2ban's own.
mod server_common;

use server_common::*;

const FAILURES: usize = 4;

fn tree() -> Tree {
    let jail = |name: &str, extra: &str| {
        format!(
            "[{name}]\nenabled = true\nlogpath = {{dir}}/{name}.log\naction = record[name={name}]\n\
             maxretry = 10\nignorecommand = {{dir}}/count.sh {name} <ip>\n{extra}\n"
        )
    };
    let conf = format!(
        "[DEFAULT]\nignoreip =\nignoreself = false\n\n{}{}",
        jail(
            "cached",
            "ignorecache = key=\"<ip>\", max-count=100, max-time=5m"
        ),
        jail("plain", "")
    );
    let tree = Tree::new(&conf);
    // Ignores 192.0.2.9, not the others; one line per call in <jail>.calls.
    tree.write(
        "count.sh",
        "#!/bin/sh\necho \"$2\" >> {dir}/\"$1\".calls\n[ \"$2\" = 192.0.2.9 ] && exit 0\nexit 1\n",
    );
    let st = std::process::Command::new("chmod")
        .arg("+x")
        .arg(tree.path("count.sh"))
        .status()
        .expect("chmod");
    assert!(st.success());
    for j in ["cached", "plain"] {
        tree.write(&format!("{j}.log"), "");
    }
    tree
}

fn calls(tree: &Tree, jail: &str, ip: &str) -> usize {
    tree.read(&format!("{jail}.calls"))
        .lines()
        .filter(|l| *l == ip)
        .count()
}

fn repeated_failures_call_the_command(theirs: bool) {
    let tree = tree();
    let _d = if theirs {
        Daemon::start_fail2ban(&tree)
    } else {
        Daemon::start_ours(&tree)
    };
    let now = stamp(0);
    for j in ["cached", "plain"] {
        let mut lines = Vec::new();
        for _ in 0..FAILURES {
            lines.push(format!("{now} FAIL from 192.0.2.9"));
            lines.push(format!("{now} FAIL from 192.0.2.1"));
        }
        tree.append(&format!("{j}.log"), &lines);
    }
    for j in ["cached", "plain"] {
        let found = format!("[{j}] Found 192.0.2.1 ");
        assert!(
            wait_until(20.0, || log_lines(&tree, &found).len() == FAILURES),
            "{j}: {FAILURES} failures of 192.0.2.1 not all found:\n{}",
            tree.read("server.log")
        );
    }
    // The last 192.0.2.9 line comes before the last 192.0.2.1 one: all lines are checked.
    assert_eq!(calls(&tree, "plain", "192.0.2.1"), FAILURES);
    assert_eq!(calls(&tree, "plain", "192.0.2.9"), FAILURES);
    assert_eq!(calls(&tree, "cached", "192.0.2.1"), 1);
    assert_eq!(calls(&tree, "cached", "192.0.2.9"), 1);
    // Ignored each time either way, never counted.
    assert!(log_lines(&tree, "Found 192.0.2.9").is_empty());
    assert_eq!(
        log_lines(&tree, "[plain] Ignore 192.0.2.9 by command").len(),
        FAILURES
    );
    assert!(!log_lines(&tree, "[cached] Ignore 192.0.2.9 by command").is_empty());
    assert!(tree.rec().iter().all(|l| !l.starts_with("ban ")));
}

fn set_and_get(theirs: bool) {
    let tree = tree();
    let _d = if theirs {
        Daemon::start_fail2ban(&tree)
    } else {
        Daemon::start_ours(&tree)
    };
    let sock = tree.sock();
    let (rc, out) = ours(&sock, &["get", "cached", "ignorecache"]);
    assert_eq!((rc, out.trim()), (0, "['<ip>', 100, 300]"));
    let (rc, out) = ours(&sock, &["get", "plain", "ignorecache"]);
    assert_eq!((rc, out.trim()), (0, "None"));
    let (rc, out) = ours(
        &sock,
        &[
            "set",
            "plain",
            "ignorecache",
            "key=<ip>,max-time=1d,max-count=9999",
        ],
    );
    assert_eq!((rc, out.trim()), (0, "['<ip>', 9999, 86400]"));
    let (rc, out) = ours(&sock, &["set", "cached", "ignorecache", ""]);
    assert_eq!((rc, out.trim()), (0, "None"));
}

#[test]
fn without_ignorecache_every_failure_runs_the_command() {
    // `plain` half of the scenario alone: holds whether or not the daemon caches.
    let tree = tree();
    tree.write(
        "conf/jail.local",
        &tree
            .read("conf/jail.local")
            .replace("[cached]\nenabled = true", "[cached]\nenabled = false"),
    );
    let _d = Daemon::start_ours(&tree);
    let now = stamp(0);
    tree.append(
        "plain.log",
        &(0..FAILURES)
            .map(|_| format!("{now} FAIL from 192.0.2.1"))
            .collect::<Vec<_>>(),
    );
    assert!(wait_until(20.0, || log_lines(
        &tree,
        "[plain] Found 192.0.2.1 "
    )
    .len()
        == FAILURES));
    assert_eq!(calls(&tree, "plain", "192.0.2.1"), FAILURES);
}

#[test]
fn with_ignorecache_the_command_runs_once_per_address() {
    repeated_failures_call_the_command(false);
}

#[test]
fn set_and_get_ignorecache_through_the_client() {
    set_and_get(false);
}

#[test]
fn fail2ban_server_agrees_on_ignorecache() {
    if !f2b::have("fail2ban-server") {
        f2b::skip(
            "fail2ban_server_agrees_on_ignorecache",
            "Debian's fail2ban-server is not installed",
        );
        return;
    }
    repeated_failures_call_the_command(true);
    set_and_get(true);
}
