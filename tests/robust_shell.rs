//! Shell safety end to end: hostile log lines (quotes, `$(...)`, backticks, `;`, `|`, `&&`,
//! mailutils `~!` escapes, globs, NUL, tag look-alikes, very long fields) are captured into
//! `<F-USER>`, `<F-ID>` and `<matches>` by a filter of a running f2b-server, and a real shell
//! action records what it receives. The action must see the literal text (NUL dropped), and no
//! canary command may ever run. Then log injection in the style of fail2ban's CVEs: user names
//! that carry `from <address>` must not get that address banned by the shipped sshd filter (and
//! by Debian's stock one, through f2b-regex and, when installed, fail2ban-regex).
mod server_common;

use server_common::*;
use std::path::Path;
use std::process::Command;

/// The hostile values; `{c}` becomes the path of a canary file that only a command run by the
/// shell could create.
fn hostile_values() -> Vec<String> {
    let long = format!(
        "{}$(touch {{c}}long){}",
        "A".repeat(20_000),
        "`touch {c}long2`"
    );
    vec![
        "plain-user".to_string(),
        "it's".to_string(),
        "say \"hi\"".to_string(),
        "$(touch {c}dollar)".to_string(),
        "`touch {c}backtick`".to_string(),
        "x; touch {c}semicolon".to_string(),
        "x | touch {c}pipe".to_string(),
        "x && touch {c}and".to_string(),
        "x & touch {c}bg".to_string(),
        "~! touch {c}tilde".to_string(),
        "'; touch {c}quote1; '".to_string(),
        "\"; touch {c}quote2; \"".to_string(),
        "${IFS}touch${IFS}{c}ifs".to_string(),
        "$((1+1)) $HOME $0 $1 $@".to_string(),
        "* ? [a-z] {a,b} ~root".to_string(),
        "<ip> <F-USER> <matches> <name>".to_string(),
        "%(known/x)s \\ \\\\ \\n #comment".to_string(),
        "> {c}redirect < /etc/passwd".to_string(),
        "-n -e --".to_string(),
        "nul\u{0}byte$(touch {c}nul)".to_string(),
        "tab\there é 漢字 \u{7}bell".to_string(),
        long,
    ]
}

const FILTER: &str =
    "[Definition]\nfailregex = ^ user=<F-USER>.*</F-USER> id=<F-ID>.*</F-ID> from <HOST>$\n";

/// Each value goes to a file of its own as it arrives, NUL-terminated (values cannot hold NUL).
const ACTION: &str = "\
[Definition]
actionstart =
actionstop =
actioncheck =
actionban = printf '%%s\\0' \"<F-USER>\" >> {dir}/user.rec
            printf '%%s\\0' \"<F-ID>\" >> {dir}/id.rec
            printf '%%s\\0' \"<matches>\" >> {dir}/matches.rec
            printf '%%s\\0' \"<ip>\" >> {dir}/ip.rec
actionunban =
";

fn records(tree: &Tree, name: &str) -> Vec<String> {
    let raw = std::fs::read(tree.path(name)).unwrap_or_default();
    let mut v: Vec<String> = raw
        .split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    v.pop(); // after the last terminator
    v
}

fn canaries(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("canary"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn hostile_captures_reach_shell_actions_as_literal_text() {
    let tree = Tree::new(
        "[hostile]\nenabled = true\nlogpath = {dir}/hostile.log\nfilter = hostile\naction = rec\nmaxretry = 2\nfindtime = 600\nbantime = 600\n",
    );
    tree.write("conf/filter.d/hostile.conf", FILTER);
    tree.write("conf/action.d/rec.conf", ACTION);
    tree.write("hostile.log", "");
    let canary = tree.path("canary-").display().to_string();
    let values: Vec<String> = hostile_values()
        .iter()
        .map(|v| v.replace("{c}", &canary))
        .collect();
    let _d = Daemon::start_ours(&tree);

    // Two failures per address (maxretry 2), so <matches> holds two lines joined by a newline.
    let mut expected = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let ip = format!("10.{}.{}.{}", 1 + i / 250, i % 250, 7);
        let id = format!("{v}#{i}");
        let line = format!("{} user={v} id={id} from {ip}", stamp(0));
        tree.append("hostile.log", &[line.clone(), line.clone()]);
        expected.push((
            v.replace('\0', ""),
            id.replace('\0', ""),
            format!("{line}\n{line}").replace('\0', ""),
            ip,
        ));
        // one address at a time keeps the order of the records that of the values
        assert!(
            wait_until(20.0, || records(&tree, "ip.rec").len() == i + 1),
            "value {i} ({:?}) not banned; records {:?}\nlog:\n{}",
            v.chars().take(80).collect::<String>(),
            records(&tree, "ip.rec"),
            tree.read("server.log")
        );
    }
    let (users, ids, matches, ips) = (
        records(&tree, "user.rec"),
        records(&tree, "id.rec"),
        records(&tree, "matches.rec"),
        records(&tree, "ip.rec"),
    );
    for (i, (user, id, m, ip)) in expected.iter().enumerate() {
        let short = |s: &str| s.chars().take(120).collect::<String>();
        assert_eq!(ips[i], *ip);
        assert_eq!(short(&users[i]), short(user), "<F-USER> of value {i}");
        assert_eq!(users[i], *user, "<F-USER> of value {i}");
        assert_eq!(ids[i], *id, "<F-ID> of value {i}");
        assert_eq!(matches[i], *m, "<matches> of value {i}");
    }
    assert_eq!(
        canaries(tree.dir()),
        Vec::<String>::new(),
        "a canary command ran"
    );
    assert_eq!(
        ours(&tree.sock(), &["ping"]).1.trim(),
        "Server replied: pong"
    );
}

const INNOCENT: &str = "203.0.113.66";

/// Crafted user names that the sshd filter must not mistake for the peer.
fn crafted_users() -> Vec<String> {
    let i = INNOCENT;
    vec![
        format!("x from {i}"),
        format!("x from {i} port 22"),
        format!("x from {i} port 22 ssh2"),
        i.to_string(),
        format!("x\" from {i}"),
        format!("x rhost={i}"),
        format!("x [preauth] from {i}"),
        format!("x from {i} port 22 [preauth]"),
    ]
}

/// A user name that imitates the tail of a public-key failure (`... port N ssh2: RSA SHA256:...`).
/// Debian's fail2ban 1.0.2 sshd filter takes the address inside it for the peer on the
/// `Failed password for invalid user` line, and so does our shipped filter, which keeps stock's
/// regexes: recorded in docs/security.md; here it must at least do no worse than the reference.
fn known_weak_users() -> Vec<String> {
    vec![format!("root from {INNOCENT} port 1 ssh2: RSA SHA256:x")]
}

/// sshd lines whose attacker-controlled parts (user names) carry the address of an innocent
/// host; the real peer of every line is in 198.51.100.0/24.
fn injection_lines(users: &[String]) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let peer = format!("198.51.100.{}", i + 1);
        let h = format!("Nov 22 03:00:{:02} host sshd[{}]:", i, 1000 + i);
        lines.push(format!("{h} Invalid user {u} from {peer} port 4000{i}"));
        lines.push(format!(
            "{h} Failed password for invalid user {u} from {peer} port 4000{i} ssh2"
        ));
        lines.push(format!(
            "{h} Failed none for invalid user {u} from {peer} port 4000{i} ssh2"
        ));
        lines.push(format!(
            "{h} Connection closed by invalid user {u} {peer} port 4000{i} [preauth]"
        ));
        lines.push(format!(
            "{h} Disconnected from invalid user {u} {peer} port 4000{i} [preauth]"
        ));
        lines.push(format!(
            "{h} error: PAM: Authentication failure for illegal user {u} from {peer}"
        ));
        lines.push(format!("{h} error: maximum authentication attempts exceeded for invalid user {u} from {peer} port 4000{i} ssh2 [preauth]"));
        lines.push(format!(
            "{h} Received disconnect from {peer} port 4000{i}:11: {u} [preauth]"
        ));
        lines.push(format!(
            "{h} pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser={u} rhost={peer}  user={u}"
        ));
    }
    lines
}

/// The ids a fail2ban-regex compatible tool finds in `log` with `filter` (`-o id`).
fn found_ids(tool: &Path, filter: &Path, log: &Path, mode: &str) -> Vec<String> {
    let out = Command::new(tool)
        .arg("-o")
        .arg("id")
        .arg(log)
        .arg(format!("{}[mode={mode}]", filter.display()))
        .env("TZ", "UTC")
        .output()
        .expect("run regex tool");
    assert!(
        out.status.success(),
        "{} failed: {}",
        tool.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn injected_addresses_in_user_names_ban_nobody() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("auth.log");
    std::fs::write(&log, injection_lines(&crafted_users()).join("\n") + "\n").expect("write log");
    let weak = tmp.path().join("weak.log");
    std::fs::write(
        &weak,
        injection_lines(&known_weak_users()).join("\n") + "\n",
    )
    .expect("write log");
    let mut filters = vec![(f2b::repo_root().join("filter.d/sshd.conf"), "shipped")];
    let stock = Path::new("/etc/fail2ban/filter.d/sshd.conf");
    if stock.is_file() {
        filters.push((stock.to_path_buf(), "stock"));
    } else {
        f2b::skip(
            "injected_addresses_in_user_names_ban_nobody (stock filter)",
            "/etc/fail2ban/filter.d/sshd.conf absent",
        );
    }
    let reference = f2b::have("fail2ban-regex");
    if !reference {
        f2b::skip(
            "injected_addresses_in_user_names_ban_nobody (reference)",
            "fail2ban-regex not installed",
        );
    }
    let mut tools = vec![f2b::bin("f2b-regex")];
    if reference {
        tools.push("fail2ban-regex".into());
    }
    for (filter, which) in &filters {
        for mode in ["normal", "aggressive", "extra", "ddos"] {
            for tool in &tools {
                let ids = found_ids(tool, filter, &log, mode);
                assert!(
                    !ids.is_empty(),
                    "{} found nothing with the {which} filter ({mode})",
                    tool.display()
                );
                for id in &ids {
                    assert!(
                        id.starts_with("198.51.100."),
                        "{} with the {which} sshd filter ({mode}) blames {id}:\n{}",
                        tool.display(),
                        ids.join("\n")
                    );
                }
            }
            if reference {
                let ours = found_ids(&tools[0], filter, &weak, mode);
                let theirs = found_ids(&tools[1], filter, &weak, mode);
                assert_eq!(
                    ours, theirs,
                    "{which} sshd filter ({mode}) on the known weak form"
                );
            }
        }
    }
}

/// The same lines through a running f2b-server with the shipped sshd filter: the innocent address
/// is never banned, and the attackers are.
#[test]
fn injected_addresses_do_not_get_banned_by_the_server() {
    let tree = Tree::new(
        "[sshd]\nenabled = true\nlogpath = {dir}/auth.log\nfilter = sshd[mode=aggressive]\naction = record[name=sshd]\nmaxretry = 1\ndatepattern = {^LN-BEG}\n",
    );
    for f in ["sshd.conf", "common.conf"] {
        let text = std::fs::read_to_string(f2b::repo_root().join("filter.d").join(f))
            .expect("shipped filter");
        tree.write(&format!("conf/filter.d/{f}"), &text);
    }
    tree.write("auth.log", "");
    let _d = Daemon::start_ours(&tree);
    // dates of now, so the lines count as fresh failures
    let now = Command::new("date")
        .arg("+%b %e %H:%M:%S")
        .env("TZ", "UTC")
        .output()
        .expect("date");
    let now = String::from_utf8_lossy(&now.stdout).trim().to_string();
    let users = crafted_users();
    let lines: Vec<String> = injection_lines(&users)
        .iter()
        .map(|l| format!("{now}{}", &l[15..]))
        .collect();
    tree.append("auth.log", &lines);
    assert!(
        wait_until(20.0, || (1..=users.len())
            .all(|i| tree.rec().contains(&format!("ban sshd 198.51.100.{i}")))),
        "attackers not all banned: {:?}\n{}",
        tree.rec(),
        tree.read("server.log")
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let rec = tree.rec();
    assert!(
        rec.iter().all(|l| !l.contains("203.0.113.66")),
        "innocent address banned: {rec:?}"
    );
    let (_, banned) = ours(&tree.sock(), &["banned", "203.0.113.66"]);
    assert_eq!(banned.trim(), "[[]]", "{banned}");
}
