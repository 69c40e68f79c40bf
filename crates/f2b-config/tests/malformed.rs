//! Broken inputs: each gives an error that names the file and line (lexical problems) or the
//! jail/section and option (semantic ones), and nothing panics.

use std::path::Path;

use f2b_config::{load, load_with, ConfigError, JailSpec, LoadOptions};

const FILTER: &str = "[Definition]\nfailregex = ^fail <HOST>$\n";
const ACTION: &str = "[Definition]\nactionban = echo <ip>\n";

fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let base: &[(&str, &[u8])] = &[
        ("fail2ban.conf", b"[Definition]\nloglevel = INFO\n"),
        ("filter.d/f.conf", FILTER.as_bytes()),
        ("action.d/a.conf", ACTION.as_bytes()),
        ("t.log", b""),
    ];
    for (n, c) in base.iter().chain(files) {
        let p = t.path().join(n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, c).unwrap();
    }
    t
}

fn jail_act(action: &str, body: &str) -> String {
    jail(body).replace("action = a\n", &format!("action = {action}\n"))
}

fn jail(body: &str) -> String {
    format!("[t]\nenabled = true\nfilter = f\naction = a\nlogpath = %(fail2ban_confpath)s/t.log\n{body}")
}

/// The whole load fails with a message containing every piece of `want`.
fn fails(files: &[(&str, &[u8])], want: &[&str]) -> ConfigError {
    let t = tree(files);
    let e = load(t.path()).expect_err("load should fail");
    let msg = e.to_string();
    for w in want {
        assert!(msg.contains(w), "error {msg:?} should mention {w:?}");
    }
    e
}

/// The load succeeds and reports jail `t` as skipped with a message containing `want`.
fn skips(files: &[(&str, &[u8])], want: &str) {
    let t = tree(files);
    let cfg = load(t.path()).expect("load");
    let err = cfg
        .errors
        .iter()
        .find(|e| matches!(e, ConfigError::Jail { jail, .. } if jail == "t"));
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.contains(want),
        "jail error {msg:?} should mention {want:?} (errors: {:?})",
        cfg.errors
    );
    let stream = cfg
        .jails
        .iter()
        .find(|j| j.name == "t")
        .expect("jail t kept as config-error");
    assert!(stream.config_error().is_some());
    let lines = f2b_config::dump_lines(&cfg);
    assert!(
        !lines.iter().any(|l| l == "['start', 't']"),
        "a skipped jail is not started"
    );
    assert!(JailSpec::from_stream(stream).is_err());
}

#[test]
fn missing_section_header() {
    fails(
        &[("jail.conf", b"enabled = true\n")],
        &["jail.conf:1:", "section header"],
    );
}

#[test]
fn line_without_delimiter() {
    fails(
        &[("jail.conf", b"[t]\nenabled = true\njust words\n")],
        &["jail.conf:3:", "just words"],
    );
}

#[test]
fn empty_key() {
    fails(&[("jail.local", b"[t]\n= 1\n")], &["jail.local:2:"]);
}

#[test]
fn duplicate_key_in_one_file() {
    fails(
        &[("jail.conf", b"[t]\nenabled = true\nEnabled = false\n")],
        &["jail.conf:3:", "'enabled'", "'t'"],
    );
}

#[test]
fn duplicate_section_in_one_file() {
    fails(
        &[("jail.conf", b"[t]\nenabled = true\n\n[t]\nmaxretry = 1\n")],
        &["jail.conf:4:", "'t'"],
    );
}

#[test]
fn unterminated_section_header_is_a_bad_line() {
    fails(
        &[("jail.conf", b"[t\nenabled = true\n")],
        &["jail.conf:1:", "section header"],
    );
}

#[test]
fn bad_interpolation_syntax() {
    // Only options fail2ban reads are interpolated: `port` is, through the action arguments.
    fails(
        &[(
            "jail.conf",
            jail_act("a[port=%(port)s]", "port = %(port\n").as_bytes(),
        )],
        &["[t] action:", "bad interpolation"],
    );
    fails(
        &[(
            "jail.conf",
            jail_act("a[port=%(port)s]", "port = 50%\n").as_bytes(),
        )],
        &["[t] action:", "'%'"],
    );
    fails(
        &[("jail.conf", jail_act("a[port=%()s]", "").as_bytes())],
        &["[t] action:"],
    );
}

#[test]
fn missing_interpolation_key() {
    // fail2ban reads `port` for the action and stops on the unknown name.
    fails(
        &[(
            "jail.conf",
            jail_act("a[port=%(nope)s]", "").as_bytes().to_vec().leak(),
        )],
        &["[t] action:", "nope"],
    );
}

#[test]
fn recursive_interpolation() {
    fails(
        &[(
            "jail.conf",
            jail_act("a[p=%(x)s]", "x = %(y)s\ny = %(x)s\n")
                .as_bytes()
                .to_vec()
                .leak(),
        )],
        &["[t]", "deeper than 10"],
    );
}

#[test]
fn self_referencing_tag() {
    fails(
        &[
            (
                "action.d/a.conf",
                b"[Definition]\nactionban = <x>\n[Init]\nx = 1 <x>\n",
            ),
            ("jail.conf", jail("").as_bytes().to_vec().leak()),
        ],
        &["action 'a'", "<x>"],
    );
}

#[test]
fn unknown_filter_skips_the_jail() {
    skips(
        &[(
            "jail.conf",
            jail("filter = nope\n")
                .replace("filter = f\n", "")
                .as_bytes()
                .to_vec()
                .leak(),
        )],
        "Unable to read the filter 'nope'",
    );
}

#[test]
fn unknown_action_skips_the_jail() {
    skips(
        &[(
            "jail.conf",
            jail("")
                .replace("action = a", "action = a\n  gone[x=1]")
                .as_bytes()
                .to_vec()
                .leak(),
        )],
        "Unable to read action 'gone'",
    );
}

#[test]
fn unterminated_filter_arguments_skip_the_jail() {
    skips(
        &[(
            "jail.conf",
            jail("")
                .replace("filter = f", "filter = f[mode=x")
                .as_bytes()
                .to_vec()
                .leak(),
        )],
        "Invalid filter definition",
    );
}

#[test]
fn bad_action_arguments_skip_the_jail() {
    skips(
        &[(
            "jail.conf",
            jail("")
                .replace("action = a", "action = a[port = 1]")
                .as_bytes()
                .to_vec()
                .leak(),
        )],
        "Invalid action definition",
    );
}

#[test]
fn invalid_utf8_is_reported_with_file_and_line_and_skipped() {
    let t = tree(&[
        ("jail.conf", jail("").as_bytes().to_vec().leak()),
        ("jail.local", b"[t]\nmaxretry = 2\nport = \xff\n"),
    ]);
    let cfg = load(t.path()).unwrap();
    let msg = cfg
        .errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        msg.contains("jail.local:3:") && msg.contains("UTF-8"),
        "{msg}"
    );
    // The file is ignored as a whole, like fail2ban does: maxretry stays unset.
    let j = JailSpec::from_stream(&cfg.jails[0]).unwrap();
    assert_eq!(j.maxretry, 3);
}

#[test]
fn bad_time_string_names_jail_and_option() {
    let t = tree(&[(
        "jail.conf",
        jail("bantime = 10 parsecs\nfindtime = 1h\n")
            .as_bytes()
            .to_vec()
            .leak(),
    )]);
    let cfg = load(t.path()).unwrap();
    match JailSpec::from_stream(&cfg.jails[0]) {
        Err(e @ ConfigError::JailOption { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("jail 't'") && m.contains("'bantime'") && m.contains("parsecs"),
                "{m}"
            );
        }
        other => panic!("expected a jail option error, got {other:?}"),
    }
}

#[test]
fn bad_integer_names_jail_and_option() {
    let t = tree(&[(
        "jail.conf",
        jail("maxretry = five\n").as_bytes().to_vec().leak(),
    )]);
    let cfg = load(t.path()).unwrap();
    // fail2ban sends None for it; the typed jail refuses it with the option named.
    assert!(f2b_config::dump_lines(&cfg)
        .iter()
        .any(|l| l == "['set', 't', 'maxretry', None]"));
    let e = JailSpec::from_stream(&cfg.jails[0])
        .unwrap_err()
        .to_string();
    assert!(e.contains("'maxretry'") && e.contains("jail 't'"), "{e}");
}

#[test]
fn bad_log_level() {
    fails(
        &[("fail2ban.conf", b"[Definition]\nloglevel = LOUD\n")],
        &["loglevel", "LOUD"],
    );
}

#[test]
fn unclosed_quote_in_journalmatch() {
    fails(
        &[(
            "jail.conf",
            jail("journalmatch = _COMM=\"ssh\n")
                .as_bytes()
                .to_vec()
                .leak(),
        )],
        &["jail 't'", "journalmatch"],
    );
}

#[test]
fn missing_log_file_fails_a_real_start() {
    let body = jail("").replace("%(fail2ban_confpath)s/t.log", "/nonexistent/*.log");
    let t = tree(&[("jail.conf", body.as_bytes())]);
    // -d accepts it ...
    assert!(load(t.path()).is_ok());
    // ... a start does not, with fail2ban's message.
    let e = load_with(
        t.path(),
        LoadOptions {
            allow_no_files: false,
            force_enable: false,
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "jail 't': Have not found any log file for t jail"
    );
}

#[test]
fn missing_config_dir() {
    let e = load(Path::new("/nonexistent/f2b-config-dir")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/f2b-config-dir"), "{e}");
}

#[test]
fn filter_not_found_for_regex_tool() {
    let t = tree(&[]);
    match f2b_config::load_filter(t.path(), "nope[x=1]", &[]) {
        Err(ConfigError::NotFound { name, .. }) => assert_eq!(name, "nope"),
        other => panic!("{other:?}"),
    }
    assert!(f2b_config::load_filter(t.path(), "f[x=1", &[]).is_err());
}

/// Mangled configs (lines cut, shuffled, garbage inserted) never panic.
#[test]
fn no_panic_on_mangled_configs() {
    let pieces: &[&str] = &[
        "[t]",
        "[DEFAULT]",
        "[INCLUDES]",
        "before = jail.conf",
        "after = x.conf",
        "enabled = true",
        "filter = f[a=\"b",
        "filter = f",
        "action = a[x=1][y='2']",
        "action = %(action_)s",
        "action_ = a[name=%(__name__)s]",
        "  continued",
        "logpath = %(fail2ban_confpath)s/*.log tail",
        "x = %(y)s",
        "y = %(x)s",
        "z = <z>",
        "failregex = <a<b>>",
        "[Init?family=inet6]",
        "k = %(known/k)s",
        "%(",
        "%",
        ";c",
        "# c",
        "bantime = 1h 30m",
        "maxretry = -1",
        "=",
        ":",
        "[",
        "]",
        "[]",
        "a: b = c",
        "journalmatch = \"x",
        "ignoreip = ,,, ,",
        "backend = systemd[journalfiles=x]",
        "port = %(t/port)s",
        "k = <known/k>",
        "q = <lt_<logtype>/x>",
        "\t\tindented",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for name in [
            "jail.conf",
            "jail.local",
            "filter.d/f.local",
            "action.d/a.local",
        ] {
            let mut text = String::new();
            let n = next() % 12;
            for _ in 0..n {
                text.push_str(pieces[(next() % pieces.len() as u64) as usize]);
                text.push('\n');
            }
            let mut bytes = text.into_bytes();
            if next() % 10 == 0 && !bytes.is_empty() {
                let at = (next() % bytes.len() as u64) as usize;
                bytes.insert(at, 0xfe);
            }
            files.push((name.to_string(), bytes));
        }
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_slice()))
            .collect();
        let t = tree(&refs);
        if let Ok(cfg) = load(t.path()) {
            let _ = f2b_config::dump_lines(&cfg);
            for j in &cfg.jails {
                let _ = JailSpec::from_stream(j);
            }
            let _ = f2b_config::ServerSpec::from_config(&cfg);
        }
        let _ = f2b_config::load_filter(t.path(), "f[a=1]", &[]);
    }
}

#[test]
fn load_one_jail() {
    let body = format!(
        "{}\n[other]\nenabled = true\nfilter = f\n[off]\nenabled = false\nfilter = f\n",
        jail("")
    );
    let t = tree(&[("jail.conf", body.as_bytes())]);
    let cfg = f2b_config::load_jail(t.path(), "other", LoadOptions::default()).unwrap();
    assert_eq!(
        cfg.jails
            .iter()
            .map(|j| j.name.as_str())
            .collect::<Vec<_>>(),
        vec!["other"]
    );
    assert!(!cfg.server.is_empty());
    let cfg = f2b_config::load_jail(t.path(), "off", LoadOptions::default()).unwrap();
    assert!(cfg.jails.is_empty());
    let e = f2b_config::load_jail(t.path(), "nope", LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope"), "{e}");
}
