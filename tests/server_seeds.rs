//! A user's deployment run unchanged by f2b-server: Debian's stock /etc/fail2ban with the
//! `portscan` seed laid over it (its iptables action included), inside a private network
//! namespace so the host's firewall is never touched. Only the log path, socket, pidfile,
//! database and log target are redirected, through extra `.local` files.
mod server_common;

use std::path::Path;
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

fn netns_usable() -> Result<(), String> {
    for p in ["unshare", "nsenter", "iptables"] {
        if !f2b::have(p) {
            return Err(format!("{p} is not installed"));
        }
    }
    let ok = Command::new("unshare")
        .args(["-n", "iptables", "-L", "-n"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err("cannot run iptables in a private network namespace (unshare -n needs root)".into())
    }
}

#[test]
fn portscan_seed_bans_with_iptables_in_a_network_namespace() {
    let name = "portscan_seed_bans_with_iptables_in_a_network_namespace";
    let stock = Path::new("/etc/fail2ban");
    if !stock.join("jail.conf").is_file() {
        return f2b::skip(name, "Debian's /etc/fail2ban is not installed");
    }
    let Some(shared) = f2b::shared_dir() else {
        return f2b::skip(name, "../shared (seeds) is not present");
    };
    let seed = shared.join("seeds/portscan");
    if !seed.is_dir() {
        return f2b::skip(name, "seeds/portscan is missing");
    }
    if let Err(why) = netns_usable() {
        return f2b::skip(name, &why);
    }
    let tree = Tree::new("");
    let conf = tree.conf();
    std::fs::remove_dir_all(&conf).expect("rm conf");
    std::fs::create_dir_all(&conf).expect("mkdir conf");
    copy_dir(stock, &conf);
    for e in std::fs::read_dir(conf.join("jail.d")).expect("jail.d") {
        let p = e.expect("entry").path();
        let _ = std::fs::remove_file(p);
    }
    copy_dir(&seed, &conf);
    tree.write(
        "conf/fail2ban.local",
        "[Definition]\nlogtarget = {dir}/server.log\nsocket = {dir}/f2b.sock\npidfile = {dir}/f2b.pid\ndbfile = {dir}/f2b.sqlite3\n",
    );
    tree.write(
        "conf/jail.d/zz-test.local",
        "[portscan]\nlogpath = {dir}/messages\n",
    );
    tree.write("messages", "");

    let child = Command::new("unshare")
        .arg("-n")
        .arg(f2b::bin("f2b-server"))
        .args(["-xf", "-c"])
        .arg(&conf)
        .arg("start")
        .env("TZ", "UTC")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn unshare f2b-server");
    let sock = tree.sock();
    let mut d = Daemon {
        child,
        sock: sock.clone(),
    };
    assert!(
        wait_until(30.0, || sock.exists() && ours(&sock, &["ping"]).0 == 0),
        "no answer\n{}",
        tree.read("server.log")
    );
    let pid = d.pid().to_string();
    let chain = || {
        let out = Command::new("nsenter")
            .args(["-t", &pid, "-n", "iptables", "-S"])
            .output()
            .expect("nsenter iptables");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // the stock iptables action starts on demand: its chain appears with the first ban
    assert!(wait_until(15.0, || tree
        .read("server.log")
        .contains("Jail 'portscan' started")));

    // syslog lines as the kernel logs a denied port (the seed's failregex), three from one source
    let out = Command::new("date")
        .args(["+%b %e %H:%M:%S"])
        .env("TZ", "UTC")
        .output()
        .expect("date");
    let now = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let lines: Vec<String> = (0..3)
        .map(|i| format!("{now} host kernel: [123456.{i:06}] PORT DENIED: IN=eth0 OUT= SRC=192.0.2.7 DST=198.51.100.1 PROTO=TCP SPT=4000{i} DPT=23"))
        .collect();
    tree.append("messages", &lines);
    assert!(
        wait_until(15.0, || chain()
            .contains("-A f2b-portscan -s 192.0.2.7/32 -j REJECT")),
        "no iptables ban:\n{}\n{}",
        chain(),
        tree.read("server.log")
    );
    assert!(ours(&sock, &["status", "portscan"])
        .1
        .contains("Banned IP list:\t192.0.2.7"));
    assert_eq!(
        ours(&sock, &["set", "portscan", "unbanip", "192.0.2.7"])
            .1
            .trim(),
        "1"
    );
    assert!(!chain().contains("192.0.2.7"), "{}", chain());
    assert!(chain().contains("-N f2b-portscan"), "{}", chain());
    assert!(d.terminate());
    let log = tree.read("server.log");
    assert!(!log.contains(" ERROR "), "errors in the log:\n{log}");
}
