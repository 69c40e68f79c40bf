//! Each ignore rule through the real daemon: `ignoreip` (address, CIDR network, host name, a
//! file path), `ignoreself`, `ignorecommand` answering 0, 1, failing and missing, and `usedns`
//! yes/warn/no/raw. Asserts on what the recording action banned and on the server log lines
//! fail2ban prints (`[jail] Ignore <ip> by <source>`, `-- returned N` for a failed command).
//!
//! Host names resolve through a private /etc/hosts in a mount namespace when the test runs as
//! root with `unshare`; otherwise through `localhost`. The same checks run against Debian's
//! fail2ban-server when it is installed, so the expectations are fail2ban's own.
mod server_common;

use server_common::*;

/// A name only the private hosts file knows, and its address.
const NAME: &str = "f2b-test-host";
const NAME_IP: &str = "192.0.2.50";

/// Where names resolve for this run: (daemon, name, its address).
fn start(tree: &Tree, theirs: bool) -> (Daemon, &'static str, &'static str) {
    let mut hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    hosts.push_str(&format!("\n{NAME_IP} {NAME}\n"));
    tree.write("hosts", &hosts);
    if let Some(d) = Daemon::start_with_hosts(tree, &tree.path("hosts"), theirs) {
        return (d, NAME, NAME_IP);
    }
    eprintln!("no private mount namespace here: host names are tested with localhost");
    let d = if theirs {
        Daemon::start_fail2ban(tree)
    } else {
        Daemon::start_ours(tree)
    };
    (d, "localhost", "127.0.0.1")
}

fn fails(ips: &[&str]) -> Vec<String> {
    let now = stamp(0);
    ips.iter()
        .map(|ip| format!("{now} FAIL from {ip}"))
        .collect()
}

fn wait_ban(tree: &Tree, jail: &str, id: &str) {
    let want = format!("ban {jail} {id}");
    assert!(
        wait_until(20.0, || tree.rec().contains(&want)),
        "no `{want}` in {:?}\nlog:\n{}",
        tree.rec(),
        tree.read("server.log")
    );
}

fn assert_not_banned(tree: &Tree, jail: &str, id: &str) {
    let bad = format!("ban {jail} {id}");
    assert!(
        !tree.rec().contains(&bad),
        "{bad} should not have happened: {:?}",
        tree.rec()
    );
}

fn assert_logged(tree: &Tree, needle: &str) {
    assert!(
        !log_lines(tree, needle).is_empty(),
        "no log line with {needle:?}:\n{}",
        tree.read("server.log")
    );
}

fn jail(name: &str, extra: &str) -> String {
    format!("[{name}]\nenabled = true\nlogpath = {{dir}}/{name}.log\naction = record[name={name}]\nmaxretry = 1\n{extra}\n")
}

fn ignoreip_and_ignoreself(theirs: bool) {
    let mut conf = String::from("[DEFAULT]\nignoreip =\nignoreself = false\n\n");
    conf.push_str(&jail(
        "ip",
        "ignoreip = 192.0.2.7 198.51.100.0/24 {dir}/ignore.list HOSTNAME",
    ));
    conf.push_str(&jail("self", "ignoreself = true"));
    conf.push_str(&jail("noself", ""));
    let tree = Tree::new("");
    // The host name entry depends on what resolves here: known only after the namespace test.
    let mut hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    hosts.push_str(&format!("\n{NAME_IP} {NAME}\n"));
    tree.write("hosts", &hosts);
    let (name, name_ip) = if private_hosts_work(&tree.path("hosts")) {
        (NAME, NAME_IP)
    } else {
        ("localhost", "127.0.0.1")
    };
    tree.write("conf/jail.local", &conf.replace("HOSTNAME", name));
    tree.write("ignore.list", "203.0.113.1\n");
    for j in ["ip", "self", "noself"] {
        tree.write(&format!("{j}.log"), "");
    }
    let (_d, _, _) = start(&tree, theirs);

    tree.append(
        "ip.log",
        &fails(&["192.0.2.7", "198.51.100.9", name_ip, "203.0.113.1"]),
    );
    tree.append("self.log", &fails(&["127.0.0.1", "192.0.2.40"]));
    tree.append("noself.log", &fails(&["127.0.0.1"]));
    // fail2ban 1.0 has no file entries in ignoreip: a path is a host name that never resolves
    wait_ban(&tree, "ip", "203.0.113.1");
    wait_ban(&tree, "self", "192.0.2.40");
    wait_ban(&tree, "noself", "127.0.0.1");
    for ip in ["192.0.2.7", "198.51.100.9", name_ip] {
        assert_not_banned(&tree, "ip", ip);
    }
    assert_not_banned(&tree, "self", "127.0.0.1");
    assert_logged(&tree, "[ip] Ignore 192.0.2.7 by ip");
    assert_logged(&tree, "[ip] Ignore 198.51.100.9 by ip");
    assert_logged(&tree, &format!("[ip] Ignore {name_ip} by dns"));
    assert_logged(&tree, "[self] Ignore 127.0.0.1 by ignoreself rule");
    assert!(log_lines(&tree, "[noself] Ignore").is_empty());
}

fn ignorecommand(theirs: bool) {
    let mut conf = String::from("[DEFAULT]\nignoreip =\nignoreself = false\n\n");
    conf.push_str(&jail("cmd", "ignorecommand = {dir}/ign.sh <ip>"));
    conf.push_str(&jail("cmdfail", "ignorecommand = {dir}/fail.sh <ip>"));
    conf.push_str(&jail(
        "cmdmissing",
        "ignorecommand = {dir}/no-such-helper <ip>",
    ));
    let tree = Tree::new(&conf);
    tree.write(
        "ign.sh",
        "#!/bin/sh\necho \"$1\" >> {dir}/ign.calls\n[ \"$1\" = 192.0.2.20 ] && exit 0\nexit 1\n",
    );
    tree.write(
        "fail.sh",
        "#!/bin/sh\necho \"$1\" >> {dir}/fail.calls\necho broken-helper >&2\nexit 2\n",
    );
    for s in ["ign.sh", "fail.sh"] {
        let st = std::process::Command::new("chmod")
            .arg("+x")
            .arg(tree.path(s))
            .status()
            .expect("chmod");
        assert!(st.success());
    }
    for j in ["cmd", "cmdfail", "cmdmissing"] {
        tree.write(&format!("{j}.log"), "");
    }
    let (_d, _, _) = start(&tree, theirs);
    tree.append("cmd.log", &fails(&["192.0.2.20", "192.0.2.21"]));
    tree.append("cmdfail.log", &fails(&["192.0.2.30"]));
    tree.append("cmdmissing.log", &fails(&["192.0.2.31"]));
    wait_ban(&tree, "cmd", "192.0.2.21");
    assert_not_banned(&tree, "cmd", "192.0.2.20");
    assert_eq!(tree.read("ign.calls"), "192.0.2.20\n192.0.2.21\n");
    assert_logged(&tree, "[cmd] Ignore 192.0.2.20 by command");
    assert!(log_lines(&tree, "Ignore 192.0.2.21").is_empty());

    // a command that fails is an error, and the failure counts
    wait_ban(&tree, "cmdfail", "192.0.2.30");
    assert_eq!(tree.read("fail.calls"), "192.0.2.30\n");
    assert_logged(&tree, "-- returned 2");
    assert_logged(&tree, "-- stderr: 'broken-helper'");
    wait_ban(&tree, "cmdmissing", "192.0.2.31");
    assert_logged(&tree, "-- returned 127");
    assert_logged(&tree, "HINT on 127: \"Command not found\"");
    for l in log_lines(&tree, "-- returned ") {
        assert!(l.contains("ERROR"), "not an error: {l}");
    }
}

/// `usedns` for the given modes (of yes, warn, no, raw): a log line naming a host.
fn usedns(theirs: bool, modes: &[&str]) {
    let mut conf = String::from("[DEFAULT]\nignoreip =\nignoreself = false\n\n");
    for mode in modes {
        conf.push_str(&jail(mode, &format!("usedns = {mode}")));
    }
    let tree = Tree::new(&conf);
    for j in modes {
        tree.write(&format!("{j}.log"), "");
    }
    let (_d, name, name_ip) = start(&tree, theirs);
    for j in modes {
        tree.append(&format!("{j}.log"), &fails(&[name, "192.0.2.60"]));
    }
    for j in modes {
        wait_ban(&tree, j, "192.0.2.60");
    }
    for j in modes {
        match *j {
            "yes" => wait_ban(&tree, j, name_ip),
            "warn" => {
                wait_ban(&tree, j, name_ip);
                assert_logged(
                    &tree,
                    &format!("WARNING Determined IP using DNS Lookup: {name} = {{'{name_ip}'}}"),
                );
            }
            // a name is no address and is not looked up: no failure at all
            "no" => {
                assert!(
                    !tree
                        .rec()
                        .iter()
                        .any(|l| l.starts_with("ban no ") && !l.ends_with("192.0.2.60")),
                    "usedns=no banned a looked-up name: {:?}",
                    tree.rec()
                );
                assert!(log_lines(&tree, &format!("[no] Found {name}")).is_empty());
            }
            // the name itself is the ID
            "raw" => {
                wait_ban(&tree, j, name);
                assert_not_banned(&tree, j, name_ip);
            }
            other => panic!("unknown usedns mode {other}"),
        }
    }
    if !modes.contains(&"warn") {
        assert!(log_lines(&tree, "Determined IP using DNS Lookup").is_empty());
    }
}

#[test]
fn ignoreip_networks_names_and_ignoreself_in_the_daemon() {
    ignoreip_and_ignoreself(false);
}

#[test]
fn ignorecommand_answers_and_failures_in_the_daemon() {
    ignorecommand(false);
}

#[test]
fn usedns_no_and_raw_in_the_daemon() {
    usedns(false, &["no", "raw"]);
}

#[test]
fn usedns_yes_and_warn_in_the_daemon() {
    usedns(false, &["yes", "warn"]);
}

/// The same expectations hold for Debian's fail2ban-server.
#[test]
fn fail2ban_server_agrees_on_the_ignore_rules() {
    if !f2b::have("fail2ban-server") {
        f2b::skip(
            "fail2ban_server_agrees_on_the_ignore_rules",
            "Debian's fail2ban-server is not installed",
        );
        return;
    }
    ignoreip_and_ignoreself(true);
    ignorecommand(true);
    usedns(true, &["yes", "warn", "no", "raw"]);
}
