//! Replies of f2b-server read through Debian's fail2ban-client and through our f2b-client print
//! the same text: `status`, `status JAIL`, `banned`, `get JAIL banip --with-time`, and more.
mod server_common;

use server_common::*;

#[test]
fn fail2ban_client_and_f2b_client_print_the_same() {
    if !f2b::have("fail2ban-client") {
        f2b::skip(
            "fail2ban_client_and_f2b_client_print_the_same",
            "Debian's fail2ban-client is not installed",
        );
        return;
    }
    let tree = Tree::new(
        "[t]\nenabled = true\nlogpath = {dir}/t.log\naction = record[name=t]\n\n\
         [perm]\nenabled = true\nlogpath = {dir}/perm.log\n           {dir}/perm2.log\nbantime = -1\nmaxretry = 2\naction = record[name=perm]\n",
    );
    for f in ["t.log", "perm.log", "perm2.log"] {
        tree.write(f, "");
    }
    let _d = Daemon::start_ours(&tree);
    let sock = tree.sock();
    let now = stamp(0);
    tree.append(
        "t.log",
        &(0..3)
            .map(|_| format!("{now} FAIL from 192.0.2.1"))
            .collect::<Vec<_>>(),
    );
    tree.append("t.log", &[format!("{now} FAIL from 192.0.2.2")]);
    tree.append(
        "perm.log",
        &(0..2)
            .map(|_| format!("{now} FAIL from 2001:db8::7"))
            .collect::<Vec<_>>(),
    );
    assert!(
        wait_until(10.0, || tree.rec().len() >= 4),
        "{:?}",
        tree.rec()
    );
    assert_eq!(
        ours(
            &sock,
            &["set", "t", "banip", "198.51.100.3", "198.51.100.4"]
        )
        .1
        .trim(),
        "2"
    );

    let commands: &[&[&str]] = &[
        &["ping"],
        &["status"],
        &["status", "t"],
        &["status", "perm"],
        &["status", "t", "short"],
        &["banned"],
        &["banned", "192.0.2.1", "203.0.113.1", "2001:db8::7"],
        &["get", "t", "banip"],
        &["get", "t", "banned"],
        &["get", "t", "banned", "192.0.2.1"],
        &["get", "t", "banned", "192.0.2.1", "192.0.2.2"],
        &["get", "t", "banip", "--with-time"],
        &["get", "perm", "banip", "--with-time"],
        &["get", "t", "maxretry"],
        &["get", "t", "findtime"],
        &["get", "t", "bantime"],
        &["get", "perm", "bantime"],
        &["get", "t", "logpath"],
        &["get", "perm", "logpath"],
        &["get", "t", "actions"],
        &["get", "t", "ignoreip"],
        &["get", "loglevel"],
        &["get", "dbfile"],
        &["get", "dbpurgeage"],
        &["set", "t", "maxretry", "5"],
        &["set", "t", "unbanip", "203.0.113.99"],
        &["status", "nosuchjail"],
        &["get", "nosuchjail", "banip"],
        &["echo", "a", "b"],
        &["flushlogs"],
    ];
    let mut diffs = Vec::new();
    let mut compare = |c: &[&str], between: &dyn Fn()| {
        let a = normalize(theirs(&sock, c));
        between();
        let b = normalize(ours(&sock, c));
        if a != b {
            diffs.push(format!(
                "{c:?}\n--- fail2ban-client ({}):\n{}--- f2b-client ({}):\n{}",
                a.0, a.1, b.0, b.1
            ));
        }
    };
    for c in commands {
        compare(c, &|| {});
    }
    // a command that changes state: the same state before each client's run
    compare(&["set", "t", "unbanip", "198.51.100.3"], &|| {
        assert_eq!(
            ours(&sock, &["set", "t", "banip", "198.51.100.3"]).1.trim(),
            "1"
        );
    });
    assert!(
        diffs.is_empty(),
        "{} differing:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    // the replies carry what the daemon did
    let st = ours(&sock, &["status", "t"]).1;
    assert!(st.contains("Total failed:\t4"), "{st}");
    assert!(
        st.contains("Banned IP list:\t192.0.2.1 198.51.100.4"),
        "{st}"
    );
    assert_eq!(ours(&sock, &["get", "t", "maxretry"]).1.trim(), "5");
    assert!(ours(&sock, &["get", "perm", "banip", "--with-time"])
        .1
        .contains("2001:db8::7 \t"));
}

/// Client log lines carry a time and a pid: keep what follows `]: `.
fn normalize((code, text): (i32, String)) -> (i32, String) {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| match l.find("]: ") {
            Some(i) if l.len() > 23 && l.as_bytes()[4] == b'-' => &l[i + 3..],
            _ => l,
        })
        .collect();
    (code, lines.join("\n"))
}

#[test]
fn fail2ban_client_reloads_and_stops_f2b_server() {
    if !f2b::have("fail2ban-client") {
        return f2b::skip(
            "fail2ban_client_reloads_and_stops_f2b_server",
            "Debian's fail2ban-client is not installed",
        );
    }
    let tree = Tree::new("[t]\nenabled = true\nlogpath = {dir}/t.log\naction = record[name=t]\n");
    tree.write("t.log", "hello\n");
    tree.write("u.log", "hello\n");
    let mut d = Daemon::start_ours(&tree);
    let sock = tree.sock();
    let conf = tree.conf();
    let conf = conf.to_str().expect("utf-8 path");
    tree.append(
        "t.log",
        &(0..3)
            .map(|_| format!("{} FAIL from 192.0.2.90", stamp(0)))
            .collect::<Vec<_>>(),
    );
    assert!(wait_until(10.0, || tree
        .rec()
        .iter()
        .any(|l| l == "ban t 192.0.2.90")));
    tree.write("conf/jail.local", "[t]\nenabled = true\nlogpath = {dir}/t.log\naction = record[name=t]\n\n[u]\nenabled = true\nlogpath = {dir}/u.log\naction = record[name=u]\n");
    let (code, out) = theirs(&sock, &["-c", conf, "reload"]);
    assert_eq!((code, out.trim()), (0, "OK"), "{out}");
    assert!(ours(&sock, &["status"]).1.contains("Jail list:\tt, u"));
    assert!(
        ours(&sock, &["status", "t"])
            .1
            .contains("Banned IP list:\t192.0.2.90"),
        "reload keeps bans"
    );
    let (code, out) = theirs(&sock, &["-c", conf, "start"]);
    assert_eq!(code, 255, "{out}");
    assert!(out.contains("Server already running"), "{out}");
    let (code, out) = theirs(&sock, &["unban", "--all"]);
    assert_eq!((code, out.trim()), (0, "1"), "{out}");
    let (code, out) = theirs(&sock, &["stop"]);
    assert_eq!((code, out.trim()), (0, "Shutdown successful"), "{out}");
    let child = &mut d.child;
    assert!(
        wait_until(10.0, || matches!(child.try_wait(), Ok(Some(_)))),
        "daemon still running after stop"
    );
    assert!(tree.rec().iter().any(|l| l == "stop u"));
}
