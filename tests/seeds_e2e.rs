//! The two seed deployments not covered elsewhere, run unchanged by f2b-server on Debian's stock
//! /etc/fail2ban inside private namespaces (the host's firewall and /etc are never touched):
//! `portscan-ufw` (iptables-allports, an ignoreregex for ports 80/3306/443) and `apache-ipscan`
//! (a multi-line actionstart with comment lines and `%%` escapes, writing to
//! /etc/fail2ban/ip.blocklist.<name>: here a bind mount of the test's own tree).
mod server_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use server_common::*;

fn copy_dir(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .expect("cp");
    assert!(st.success(), "cp {} {}", from.display(), to.display());
}

/// Why these tests cannot run here, if they cannot.
fn unusable() -> Option<String> {
    if !Path::new("/etc/fail2ban/jail.conf").is_file() {
        return Some("Debian's /etc/fail2ban is not installed".into());
    }
    if f2b::shared_dir().is_none() {
        return Some("../shared (seeds) is not present".into());
    }
    for p in ["unshare", "nsenter", "iptables", "mount"] {
        if !f2b::have(p) {
            return Some(format!("{p} is not installed"));
        }
    }
    let ok = Command::new("unshare")
        .args([
            "-n",
            "-m",
            "sh",
            "-c",
            "mount -t tmpfs none /mnt && iptables -L -n",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!ok).then(|| "cannot use private network and mount namespaces (needs root)".into())
}

/// Stock tree with jail.d emptied and the seed laid over it, plus redirections of the server's
/// own files and of the jail's log path.
fn seed_tree(seed: &str, jail: &str) -> (Tree, PathBuf) {
    let shared = f2b::shared_dir().expect("shared");
    let tree = Tree::new("");
    let conf = tree.conf();
    std::fs::remove_dir_all(&conf).expect("rm conf");
    std::fs::create_dir_all(&conf).expect("mkdir conf");
    copy_dir(Path::new("/etc/fail2ban"), &conf);
    for e in std::fs::read_dir(conf.join("jail.d")).expect("jail.d") {
        let _ = std::fs::remove_file(e.expect("entry").path());
    }
    copy_dir(&shared.join("seeds").join(seed), &conf);
    tree.write(
        "conf/fail2ban.local",
        "[Definition]\nlogtarget = {dir}/server.log\nsocket = {dir}/f2b.sock\npidfile = {dir}/f2b.pid\ndbfile = {dir}/f2b.sqlite3\n",
    );
    tree.write(
        "conf/jail.d/zz-test.local",
        &format!("[{jail}]\nlogpath = {{dir}}/app.log\n"),
    );
    tree.write("app.log", "");
    (tree, conf)
}

/// f2b-server in new network and mount namespaces, with the tree's conf dir bind-mounted on
/// /etc/fail2ban (actions that write there write into the test's tree).
fn start(tree: &Tree, conf: &Path) -> Daemon {
    let child = Command::new("unshare")
        .args([
            "-n",
            "-m",
            "sh",
            "-c",
            "mount --bind \"$1\" /etc/fail2ban && exec \"$2\" -xf -c /etc/fail2ban start",
            "sh",
        ])
        .arg(conf)
        .arg(f2b::bin("f2b-server"))
        .env("TZ", "UTC")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn unshare f2b-server");
    let sock = tree.sock();
    let d = Daemon {
        child,
        sock: sock.clone(),
    };
    assert!(
        wait_until(30.0, || sock.exists() && ours(&sock, &["ping"]).0 == 0),
        "no answer\n{}",
        tree.read("server.log")
    );
    d
}

fn iptables_s(d: &Daemon) -> String {
    let out = Command::new("nsenter")
        .args(["-t", &d.pid().to_string(), "-n", "iptables", "-S"])
        .output()
        .expect("nsenter");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn utc(fmt: &str) -> String {
    let out = Command::new("date")
        .arg(fmt)
        .env("TZ", "UTC")
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn portscan_ufw_seed_ignores_open_ports_and_bans_on_all_ports() {
    let name = "portscan_ufw_seed_ignores_open_ports_and_bans_on_all_ports";
    if let Some(why) = unusable() {
        return f2b::skip(name, &why);
    }
    let (tree, conf) = seed_tree("portscan-ufw", "portscan");
    let mut d = start(&tree, &conf);
    assert!(wait_until(15.0, || tree
        .read("server.log")
        .contains("Jail 'portscan' started")));
    let now = utc("+%b %e %H:%M:%S");
    let line = |src: &str, dpt: u16, i: usize| {
        format!("{now} host kernel: [123456.{i:06}] [UFW BLOCK] IN=eth0 OUT= MAC= SRC={src} DST=198.51.100.1 LEN=60 PROTO=TCP SPT=4{i:04} DPT={dpt} WINDOW=1 RES=0x00 SYN URGP=0")
    };
    // five hits on open ports (the seed's ignoreregex) from one source, three on closed ports
    // from another: only the second is a scanner
    let mut lines: Vec<String> = (0..5)
        .map(|i| line("192.0.2.80", [80, 443, 3306, 80, 443][i], i))
        .collect();
    lines.extend((0..3).map(|i| line("192.0.2.23", 23 + i as u16, 10 + i)));
    tree.append("app.log", &lines);
    assert!(
        wait_until(15.0, || iptables_s(&d)
            .contains("-A f2b-portscan -s 192.0.2.23/32 -j REJECT")),
        "no all-ports ban:\n{}\n{}",
        iptables_s(&d),
        tree.read("server.log")
    );
    let rules = iptables_s(&d);
    assert!(
        rules.contains("-A INPUT -p tcp -j f2b-portscan"),
        "all-ports jump missing:\n{rules}"
    );
    assert!(
        !rules.contains("192.0.2.80"),
        "an open-port client was banned:\n{rules}"
    );
    let status = ours(&tree.sock(), &["status", "portscan"]).1;
    assert!(status.contains("Total failed:\t3"), "{status}");
    assert_eq!(
        ours(&tree.sock(), &["set", "portscan", "unbanip", "192.0.2.23"])
            .1
            .trim(),
        "1"
    );
    assert!(!iptables_s(&d).contains("192.0.2.23"));
    assert!(d.terminate());
    let log = tree.read("server.log");
    assert!(!log.contains(" ERROR "), "errors in the log:\n{log}");
}

#[test]
fn apache_ipscan_seed_runs_its_multiline_actions_as_written() {
    let name = "apache_ipscan_seed_runs_its_multiline_actions_as_written";
    if let Some(why) = unusable() {
        return f2b::skip(name, &why);
    }
    let (tree, conf) = seed_tree("apache-ipscan", "apache-ipscan");
    // the seed's actionstart loads a blocklist kept beside the config: one entry, one comment
    tree.write(
        "conf/ip.blocklist.ipscan",
        "# kept by hand\n198.51.100.44\n",
    );
    let mut d = start(&tree, &conf);
    // actionstart: chain, RETURN, the INPUT jump, and the blocklist entry loaded as a DROP; the
    // commented-out lines in between never ran
    assert!(
        wait_until(15.0, || iptables_s(&d)
            .contains("-A fail2ban-BADIPS-ipscan -d 198.51.100.44/32 -j DROP")),
        "actionstart did not load the blocklist:\n{}\n{}",
        iptables_s(&d),
        tree.read("server.log")
    );
    let rules = iptables_s(&d);
    assert!(rules.contains("-N fail2ban-BADIPS-ipscan"), "{rules}");
    assert!(
        rules.contains("-A fail2ban-BADIPS-ipscan -j RETURN"),
        "{rules}"
    );
    assert!(
        rules.contains("-A INPUT -j fail2ban-BADIPS-ipscan"),
        "{rules}"
    );
    assert!(
        !rules.contains("-s 198.51.100.44"),
        "a commented-out line ran:\n{rules}"
    );

    let stamp = utc("+%a %b %d %H:%M:%S.000000 %Y");
    tree.append(
        "app.log",
        &[format!("[{stamp}] [authz_core:error] [pid 4242] [client 192.0.2.9] client denied by server configuration: /var/www/Index.PHP")],
    );
    assert!(
        wait_until(15.0, || iptables_s(&d)
            .contains("-A fail2ban-BADIPS-ipscan -d 192.0.2.9/32 -j DROP")),
        "no ban:\n{}\n{}",
        iptables_s(&d),
        tree.read("server.log")
    );
    // the second line of actionban: `%%` became `%` for date(1), so the stamp is a real date
    let list = tree.read("conf/ip.blocklist.ipscan");
    let entry = list
        .lines()
        .find(|l| l.starts_with("192.0.2.9,ipscan # fail2ban/"))
        .unwrap_or_else(|| panic!("{list}"));
    let day = utc("+%Y-%m-%d");
    assert!(
        entry.contains(&format!("fail2ban/{day} "))
            && entry.ends_with(": auto-add for BadIP offender"),
        "{entry}"
    );
    assert!(d.terminate());
}
