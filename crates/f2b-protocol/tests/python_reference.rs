//! Differential tests against the real thing: Python's pickle module and fail2ban's own
//! Beautifier (Debian's fail2ban 1.0.2). Skipped, with a printed reason, when absent.

use std::io::Write;
use std::process::{Command, Stdio};

use f2b_protocol::beautifier::{beautify, beautify_error};
use f2b_protocol::pickle::{dumps, loads, Mode};
use f2b_protocol::Value;

fn python() -> Option<String> {
    for cand in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(cand)
            .arg("-c")
            .arg("import pickle")
            .output()
            .map(|o| o.status.success());
        if matches!(ok, Ok(true)) {
            return Some(cand.to_owned());
        }
    }
    None
}

fn has_fail2ban(py: &str) -> bool {
    Command::new(py)
        .args(["-c", "import sys; sys.path.insert(0, '/usr/lib/python3/dist-packages'); import fail2ban.client.beautifier"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs `script` with `input` on stdin and returns its stdout lines.
fn run_python(py: &str, script: &str, input: &str) -> Vec<String> {
    let mut child = Command::new(py)
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

/// Python literal and the value we expect it to decode to.
fn codec_cases() -> Vec<(&'static str, Value)> {
    vec![
        ("None", Value::None),
        ("True", Value::Bool(true)),
        ("[False, 0, 1, -1, 255, 256, 65535, 65536, -65536, 2**31-1, 2**31, -2**31, -2**31-1, 2**63-1, -2**63]",
         Value::List([0, 1, -1, 255, 256, 65535, 65536, -65536, (1 << 31) - 1, 1 << 31, -(1 << 31), -(1 << 31) - 1, i64::MAX, i64::MIN]
            .iter().map(|&i| Value::Int(i)).fold(vec![Value::Bool(false)], |mut v, x| { v.push(x); v }))),
        ("[0.1, -2.5, 1e300, 1e-300]", Value::List(vec![Value::Float(0.1), Value::Float(-2.5), Value::Float(1e300), Value::Float(1e-300)])),
        ("['', 'a'*255, 'b'*256, 'ünï ✓ 🦀', 'quote\\'s', 'tab\\there']",
         Value::List(vec![s(""), s(&"a".repeat(255)), s(&"b".repeat(256)), s("ünï ✓ 🦀"), s("quote's"), s("tab\there")])),
        ("[b'', b'\\x00\\xff', bytes(300)]", Value::List(vec![Value::Bytes(vec![]), Value::Bytes(vec![0, 255]), Value::Bytes(vec![0; 300])])),
        ("((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4))", Value::Tuple(vec![
            Value::Tuple(vec![]), Value::Tuple(vec![Value::Int(1)]), Value::Tuple(vec![Value::Int(1), Value::Int(2)]),
            Value::Tuple((1..=3).map(Value::Int).collect()), Value::Tuple((1..=4).map(Value::Int).collect())])),
        ("{'sshd': ['1.2.3.4', '5.6.7.8'], 'x': {}, 1: None}", Value::Dict(vec![
            (s("sshd"), Value::List(vec![s("1.2.3.4"), s("5.6.7.8")])), (s("x"), Value::Dict(vec![])), (Value::Int(1), Value::None)])),
        ("list(range(2500))", Value::List((0..2500).map(Value::Int).collect())),
        ("{i: str(i) for i in range(1001)}", Value::Dict((0..1001).map(|i| (Value::Int(i), s(&i.to_string()))).collect())),
        ("set()", Value::Set(vec![])),
        ("{7}", Value::Set(vec![Value::Int(7)])),
        ("(0, [('Number of jail', 2), ('Jail list', 'a, b')])", Value::Tuple(vec![Value::Int(0), Value::List(vec![
            Value::Tuple(vec![s("Number of jail"), Value::Int(2)]), Value::Tuple(vec![s("Jail list"), s("a, b")])])])),
        ("(1, ValueError('bad value'))", Value::Tuple(vec![Value::Int(1),
            Value::Exception { class: "builtins.ValueError".into(), message: "bad value".into() }])),
        ("(1, Exception('Invalid command'))", Value::Tuple(vec![Value::Int(1),
            Value::Exception { class: "builtins.Exception".into(), message: "Invalid command".into() }])),
        ("(1, KeyError('k'))", Value::Tuple(vec![Value::Int(1),
            Value::Exception { class: "builtins.KeyError".into(), message: "k".into() }])),
        ("{i: str(i) for i in range(2001)}", Value::Dict((0..2001).map(|i| (Value::Int(i), s(&i.to_string()))).collect())),
        ("[[]]*3", Value::List(vec![Value::List(vec![]); 3])),
    ]
}

#[test]
fn codec_matches_python_pickle() {
    let Some(py) = python() else {
        eprintln!("SKIP codec_matches_python_pickle: python3 not found");
        return;
    };
    let cases = codec_cases();
    // For each case Python prints: its own pickle (hex), then repr(loads(ours)) == repr(lit).
    let script = r#"
import sys, pickle
for line in sys.stdin:
    lit, ours = line.rstrip('\n').split('\t')
    v = eval(lit)
    back = pickle.loads(bytes.fromhex(ours))
    print(pickle.dumps(v, 5).hex(), repr(back) == repr(v), repr(v).encode('unicode_escape').decode())
"#;
    let input: String = cases
        .iter()
        .map(|(lit, v)| format!("{lit}\t{}\n", hex(&dumps(v))))
        .collect();
    let lines = run_python(&py, script, &input);
    assert_eq!(lines.len(), cases.len());
    for ((lit, want), line) in cases.iter().zip(&lines) {
        let mut parts = line.splitn(3, ' ');
        let theirs = unhex(parts.next().unwrap());
        assert_eq!(
            parts.next(),
            Some("True"),
            "Python read our pickle of {lit} differently"
        );
        let got = loads(&theirs, Mode::Reply).unwrap_or_else(|e| panic!("{lit}: {e}"));
        assert_eq!(&got, want, "decoding Python's pickle of {lit}");
        // Without shared references, our bytes are Python's bytes.
        if !lit.contains("*3") {
            let ours = dumps(want);
            let diff = ours
                .iter()
                .zip(&theirs)
                .position(|(a, b)| a != b)
                .unwrap_or(ours.len().min(theirs.len()));
            assert!(
                ours == theirs,
                "encoding of {lit} differs from byte {diff} (lengths {} / {})",
                ours.len(),
                theirs.len()
            );
        }
    }
}

#[test]
fn python_reprs_match() {
    let Some(py) = python() else {
        eprintln!("SKIP python_reprs_match: python3 not found");
        return;
    };
    let cases = codec_cases();
    let script = r#"
import sys, pickle
for line in sys.stdin:
    v = pickle.loads(bytes.fromhex(line.strip()))
    print(repr(v).encode('unicode_escape').hex(), str(v).encode('unicode_escape').hex())
"#;
    let input: String = cases
        .iter()
        .map(|(_, v)| format!("{}\n", hex(&dumps(v))))
        .collect();
    let lines = run_python(&py, script, &input);
    for ((lit, v), line) in cases.iter().zip(&lines) {
        let (r, st) = line.split_once(' ').unwrap();
        let esc = |x: String| -> String {
            x.chars()
                .flat_map(|c| {
                    if c.is_ascii() && c != '\\' && c != '\t' && c != '\n' {
                        vec![c as u8]
                    } else {
                        let mut out = Vec::new();
                        match c {
                            '\\' => out.extend_from_slice(b"\\\\"),
                            '\t' => out.extend_from_slice(b"\\t"),
                            '\n' => out.extend_from_slice(b"\\n"),
                            c if (c as u32) < 0x100 => {
                                out.extend_from_slice(format!("\\x{:02x}", c as u32).as_bytes())
                            }
                            c if (c as u32) < 0x10000 => {
                                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                            }
                            c => out.extend_from_slice(format!("\\U{:08x}", c as u32).as_bytes()),
                        }
                        out
                    }
                })
                .map(|b| b as char)
                .collect()
        };
        assert_eq!(hex(esc(v.py_repr()).as_bytes()), r, "repr of {lit}");
        assert_eq!(hex(esc(v.py_str()).as_bytes()), st, "str of {lit}");
    }
}

fn pair(k: &str, v: Value) -> Value {
    Value::Tuple(vec![s(k), v])
}

fn list(items: Vec<Value>) -> Value {
    Value::List(items)
}

fn strs(items: &[&str]) -> Value {
    Value::List(items.iter().map(|x| s(x)).collect())
}

fn jail_status(files: Value, ips: Value, journal: bool) -> Value {
    list(vec![
        pair(
            "Filter",
            list(vec![
                pair("Currently failed", Value::Int(2)),
                pair("Total failed", Value::Int(17)),
                pair(
                    if journal {
                        "Journal matches"
                    } else {
                        "File list"
                    },
                    files,
                ),
            ]),
        ),
        pair(
            "Actions",
            list(vec![
                pair("Currently banned", Value::Int(1)),
                pair("Total banned", Value::Int(4)),
                pair("Banned IP list", ips),
            ]),
        ),
    ])
}

fn exc(class: &str, msg: &str) -> Value {
    Value::Exception {
        class: class.into(),
        message: msg.into(),
    }
}

/// (command, reply, is_error)
fn beautifier_cases() -> Vec<(&'static str, Value, bool)> {
    let status = list(vec![
        pair("Number of jail", Value::Int(2)),
        pair("Jail list", s("recidive, sshd")),
    ]);
    vec![
        ("ping", s("pong"), false),
        ("ping", Value::Int(3), false),
        ("version", s("1.0.2"), false),
        ("start", Value::None, false),
        ("start sshd", Value::None, false),
        ("stop", Value::None, false),
        ("stop", s("odd"), false),
        ("stop sshd", Value::None, false),
        ("add x auto", s("x"), false),
        ("flushlogs", s("rolled over"), false),
        ("echo a b", strs(&["a", "b"]), false),
        ("echo", s("xyz"), false),
        ("echo", Value::Int(1), false),
        ("status", status.clone(), false),
        (
            "status",
            list(vec![
                pair("Number of jail", Value::Int(0)),
                pair("Jail list", s("")),
            ]),
            false,
        ),
        (
            "status",
            list(vec![pair("Jails", strs(&["a", "b"]))]),
            false,
        ),
        ("status", list(vec![]), false),
        ("status", Value::Int(5), false),
        ("status", list(vec![s("x")]), false),
        (
            "status sshd",
            jail_status(
                strs(&["/var/log/auth.log", "/var/log/secure"]),
                strs(&["1.2.3.4", "5.6.7.8"]),
                false,
            ),
            false,
        ),
        (
            "status sshd",
            jail_status(list(vec![]), list(vec![]), false),
            false,
        ),
        (
            "status jsys",
            jail_status(
                strs(&["_SYSTEMD_UNIT=sshd.service + _COMM=sshd"]),
                strs(&["2001:db8::1"]),
                true,
            ),
            false,
        ),
        (
            "status sshd short",
            list(vec![
                pair(
                    "Filter",
                    list(vec![
                        pair("Currently failed", Value::Int(0)),
                        pair("Total failed", Value::Int(0)),
                        pair("File list", strs(&["/x"])),
                    ]),
                ),
                pair(
                    "Actions",
                    list(vec![
                        pair("Currently banned", Value::Int(2)),
                        pair("Total banned", Value::Int(2)),
                    ]),
                ),
            ]),
            false,
        ),
        (
            "status sshd",
            list(vec![
                pair("Filter", list(vec![])),
                pair("Actions", list(vec![pair("n", Value::None)])),
            ]),
            false,
        ),
        (
            "status sshd",
            list(vec![pair("Filter", Value::Int(1))]),
            false,
        ),
        (
            "status sshd",
            list(vec![pair(
                "Filter",
                list(vec![pair(
                    "x",
                    list(vec![Value::Int(1), Value::Float(2.5), Value::None]),
                )]),
            )]),
            false,
        ),
        ("status sshd", s("ab"), false),
        (
            "status nosuch",
            exc("fail2ban.exceptions.UnknownJailException", "nosuch"),
            true,
        ),
        (
            "add sshd",
            exc("fail2ban.exceptions.DuplicateJailException", "sshd"),
            true,
        ),
        (
            "get sshd",
            exc("builtins.IndexError", "list index out of range"),
            true,
        ),
        ("foo", exc("builtins.Exception", "Invalid command"), true),
        (
            "set sshd maxretry x",
            exc(
                "builtins.ValueError",
                "invalid literal for int() with base 10: 'x'",
            ),
            true,
        ),
        ("get x y", exc("builtins.KeyError", "y"), true),
        ("get x y", s("plain string error"), true),
        (
            "banned",
            list(vec![
                Value::Dict(vec![(s("sshd"), strs(&["1.2.3.4"]))]),
                Value::Dict(vec![(s("jsys"), list(vec![]))]),
            ]),
            false,
        ),
        (
            "banned 1.2.3.4 9.9.9.9",
            list(vec![strs(&["sshd"]), list(vec![])]),
            false,
        ),
        ("unban --all", Value::Int(3), false),
        ("unban 1.2.3.4", Value::Int(0), false),
        ("set sshd banip 1.2.3.4 5.6.7.8", Value::Int(2), false),
        ("set sshd unbanip 1.2.3.4", Value::Int(1), false),
        ("get sshd banip", strs(&["5.6.7.8", "1.2.3.4"]), false),
        ("get sshd banip ,", strs(&["5.6.7.8", "1.2.3.4"]), false),
        (
            "get sshd banip --with-time",
            strs(&[
                "5.6.7.8 \t2026-11-22 02:49:51 + 600 = 2026-11-22 02:59:51",
                "1.2.3.4 \t2026-11-22 02:49:51 + 600 = 2026-11-22 02:59:51",
            ]),
            false,
        ),
        ("get sshd banip", list(vec![]), false),
        ("get sshd banip", s("notalist"), false),
        ("get sshd banip", list(vec![Value::Int(1)]), false),
        ("get sshd banned", strs(&["5.6.7.8"]), false),
        ("get sshd banned 5.6.7.8", Value::Int(1), false),
        ("get loglevel", s("INFO"), false),
        ("get loglevel", Value::Int(10), false),
        ("get loglevel", Value::Int(11), false),
        ("get loglevel", Value::Int(100), false),
        ("get loglevel", Value::Bool(true), false),
        ("set loglevel DEBUG", s("DEBUG"), false),
        ("get logtarget", s("/var/log/fail2ban.log"), false),
        ("get logtarget", Value::None, false),
        ("get syslogsocket", s("auto"), false),
        ("get dbfile", s("/var/lib/fail2ban/fail2ban.sqlite3"), false),
        ("get dbfile", Value::None, false),
        ("get dbpurgeage", Value::Int(86400), false),
        ("get dbpurgeage", Value::Float(3600.7), false),
        ("get dbpurgeage", Value::None, false),
        ("get dbpurgeage", s("1d"), false),
        ("get dbmaxmatches", Value::Int(10), false),
        ("get sshd logpath", strs(&["/var/log/auth.log"]), false),
        ("get sshd logpath", strs(&["/a", "/b", "/c"]), false),
        ("set sshd addlogpath /b", list(vec![]), false),
        ("get sshd logpath", Value::None, false),
        ("get sshd logencoding", s("UTF-8"), false),
        (
            "get sshd journalmatch",
            list(vec![
                strs(&["_SYSTEMD_UNIT=sshd.service"]),
                strs(&["_COMM=sshd", "PRIORITY=3"]),
            ]),
            false,
        ),
        ("get sshd journalmatch", list(vec![]), false),
        (
            "get sshd datepattern",
            Value::Tuple(vec![Value::None, s("Default Detectors")]),
            false,
        ),
        (
            "get sshd datepattern",
            Value::Tuple(vec![s("%Y-%m-%d"), s("{^LN-BEG}Year-Month-Day")]),
            false,
        ),
        ("get sshd datepattern", Value::None, false),
        ("get sshd datepattern", list(vec![s("a"), s("b")]), false),
        ("get sshd ignoreip", strs(&["127.0.0.1/8", "::1"]), false),
        ("get sshd ignoreip", list(vec![]), false),
        ("set sshd addignoreip 10.0.0.1", strs(&["10.0.0.1"]), false),
        ("set sshd delignoreip 10.0.0.1", list(vec![]), false),
        (
            "get sshd failregex",
            strs(&["^a <HOST>$", "^b <HOST>$"]),
            false,
        ),
        ("get sshd ignoreregex", list(vec![]), false),
        ("set sshd addfailregex x", strs(&["x"]), false),
        (
            "get sshd actions",
            strs(&["iptables-multiport", "sendmail"]),
            false,
        ),
        ("get sshd actions", list(vec![]), false),
        (
            "get sshd actionproperties iptables",
            strs(&["actionban", "actionunban"]),
            false,
        ),
        ("get sshd actionmethods iptables", list(vec![]), false),
        ("get sshd actionproperties", list(vec![]), false),
        ("get sshd bantime", Value::Int(600), false),
        ("get sshd findtime", Value::Int(600), false),
        ("get sshd maxretry", Value::Int(5), false),
        ("get sshd ignoreself", Value::Bool(true), false),
        ("get sshd usedns", s("warn"), false),
        (
            "get sshd action iptables actionban",
            s("iptables -I f2b-<name> 1 -s <ip> -j <blocktype>"),
            false,
        ),
        ("set sshd idle on", Value::Bool(true), false),
        ("get sshd bantime.increment", Value::Bool(false), false),
        ("set sshd bantime 3600", Value::Int(3600), false),
        ("get sshd maxlines", Value::Float(1.0), false),
        ("set sshd attempt 1.2.3.4", Value::Int(1), false),
        ("reload", s("OK"), false),
        (
            "get sshd x",
            Value::Dict(vec![(s("k"), Value::Set(vec![Value::Int(1)]))]),
            false,
        ),
        (
            "get sshd x",
            Value::Tuple(vec![Value::Bytes(b"\x00a'".to_vec())]),
            false,
        ),
        ("get sshd x", s("ünï ✓"), false),
    ]
}

#[test]
fn beautifier_matches_fail2ban() {
    let Some(py) = python() else {
        eprintln!("SKIP beautifier_matches_fail2ban: python3 not found");
        return;
    };
    if !has_fail2ban(&py) {
        eprintln!("SKIP beautifier_matches_fail2ban: fail2ban's Python package is not installed");
        return;
    }
    let script = r#"
import sys, pickle, logging
sys.path.insert(0, '/usr/lib/python3/dist-packages')
logging.disable(logging.CRITICAL)
from fail2ban.client.beautifier import Beautifier
for line in sys.stdin:
    words, err, data = line.rstrip('\n').split('\t')
    b = Beautifier(words.split(' '))
    v = pickle.loads(bytes.fromhex(data))
    out = b.beautifyError(v) if err == '1' else b.beautify(v)
    print(str(out).encode('utf-8').hex())
"#;
    let cases = beautifier_cases();
    let input: String = cases
        .iter()
        .map(|(c, v, err)| format!("{c}\t{}\t{}\n", if *err { 1 } else { 0 }, hex(&dumps(v))))
        .collect();
    let lines = run_python(&py, script, &input);
    assert_eq!(lines.len(), cases.len());
    let mut failures = Vec::new();
    for ((c, v, err), line) in cases.iter().zip(&lines) {
        let want = String::from_utf8(unhex(line)).unwrap();
        let words: Vec<String> = c.split(' ').map(str::to_owned).collect();
        let got = if *err {
            beautify_error(v)
        } else {
            beautify(&words, v)
        };
        if got != want {
            failures.push(format!(
                "{c} with {}:\n  python: {want:?}\n  ours:   {got:?}",
                v.py_repr()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("beautifier: {} cases identical to fail2ban's", cases.len());
}
