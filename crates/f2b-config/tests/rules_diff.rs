//! One small config tree per reading rule, each compared line for line with `fail2ban-client -d`
//! (including the cases where fail2ban refuses the whole configuration and prints nothing).

mod common;

const F2B_CONF: &str = "[Definition]\nloglevel = INFO\nlogtarget = STDERR\n";

const FILTER: &str = "[INCLUDES]\nbefore = common.conf\n[Definition]\n_daemon = testd\nfailregex = ^%(__prefix_line)sfail from <HOST>$\n            ^other <HOST>\nignoreregex =\n";
const COMMON: &str = "[DEFAULT]\n__prefix_line = \\S+ %(_daemon)s: \n";
const ACTION: &str = "[Definition]\nactionstart = echo start <name> <port>\nactionban = echo ban <ip> <port> <protocol>\nactionunban = echo unban <ip>\n[Init]\nport = 22\nprotocol = tcp\n";

fn base() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("fail2ban.conf", F2B_CONF.as_bytes().to_vec()),
        ("filter.d/test.conf", FILTER.as_bytes().to_vec()),
        ("filter.d/common.conf", COMMON.as_bytes().to_vec()),
        ("action.d/act.conf", ACTION.as_bytes().to_vec()),
    ]
}

/// Build base + `files` (later entries replace earlier ones), compare with the reference.
fn check(label: &str, files: &[(&str, &str)]) -> (usize, usize) {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("test.log");
    std::fs::write(&log, "").unwrap();
    let mut all = base();
    for (n, c) in files {
        let c = c
            .replace("@LOG@", &log.to_string_lossy())
            .replace("@DIR@", &t.path().to_string_lossy());
        all.retain(|(m, _)| m != n);
        // `@FF@` stands for a byte that is not UTF-8.
        let bytes = c
            .split("@FF@")
            .map(|p| p.as_bytes().to_vec())
            .collect::<Vec<_>>()
            .join(&0xffu8);
        all.push((n, bytes));
    }
    let refs: Vec<(&str, &[u8])> = all.iter().map(|(n, c)| (*n, c.as_slice())).collect();
    let dir = t.path().join("conf");
    common::write_tree(&dir, &refs);
    let want = common::reference_lines(&dir);
    let got = common::our_lines(&dir);
    (common::diff_count(label, &want, &got), want.len())
}

const CASES: &[(&str, &[(&str, &str)])] = &[
    ("plain jail", &[("jail.conf", "[t]\nenabled = true\nfilter = test\naction = act\nlogpath = @LOG@\n")]),
    (
        "comments, delimiters, case",
        &[(
            "jail.conf",
            "# head\n[DEFAULT]\nMaxRetry: 7 ; inline\nfindtime = 1h;not-a-comment\n[t]\n  ; indented comment\nenabled = true\nfilter = test\naction = act[port=\"1, 2\"]\nignorecommand = /bin/x # kept ;gone\nlogpath = @LOG@\n",
        )],
    ),
    (
        "continuation lines with blank and comment lines",
        &[(
            "jail.conf",
            "[t]\nenabled = true\nfilter = test\nfailregex = ^a <HOST>\n\n   # skipped\n    ^b <HOST>\n   \naction = act\nlogpath = @LOG@\n",
        )],
    ),
    (
        "local overrides and known",
        &[
            ("jail.conf", "[DEFAULT]\nbantime = 10m\n[t]\nenabled = false\nfilter = test\nport = 22\naction = act[port=\"%(port)s\"]\nlogpath = @LOG@\n"),
            ("jail.local", "[DEFAULT]\nbantime = 1h\n[t]\nenabled = yes\nport = %(known/port)s,2222\n"),
        ],
    ),
    (
        "jail.d order",
        &[
            ("jail.conf", "[t]\nfilter = test\naction = act\nlogpath = @LOG@\nmaxretry = 1\n"),
            ("jail.d/b.conf", "[t]\nmaxretry = 2\nenabled = 1\n"),
            ("jail.d/a.conf", "[t]\nmaxretry = 3\n"),
            ("jail.d/a.local", "[t]\nfindtime = 5m\n"),
            ("jail.local", "[t]\nbantime = 2d\n"),
        ],
    ),
    (
        "includes before/after with a loop",
        &[
            ("jail.conf", "[INCLUDES]\nbefore = pre.conf\nafter = post.conf\n[t]\nenabled = true\nfilter = test\naction = act\nlogpath = @LOG@\nmaxretry = 1\n"),
            ("pre.conf", "[INCLUDES]\nbefore = jail.conf\n[DEFAULT]\nbantime = 3h\n[t]\nmaxretry = 9\n"),
            ("post.conf", "[t]\nfindtime = %(known/findtime)s\n[DEFAULT]\nfindtime = 7m\n"),
        ],
    ),
    (
        "filter arguments and Init",
        &[
            ("filter.d/opt.conf", "[Definition]\nfailregex = ^<mode> <HOST> <extra>\nmaxlines = <ml>\ndatepattern = ^%%Y\n[Init]\nmode = normal\nextra = x\nml = 2\npattern = quirk\n"),
            ("jail.conf", "[t]\nenabled = true\nfilter = opt[mode=aggressive, extra=\"a, b\"][ml=3]\naction = act\nlogpath = @LOG@\n"),
        ],
    ),
    (
        "nested tags and logtype from backend",
        &[
            (
                "filter.d/lt.conf",
                "[Definition]\nfailregex = <lt_<logtype>/x> <HOST>\njournalmatch = _SYSTEMD_UNIT=x.service + _COMM=\"a b\"\n[lt_file]\nx = file\n[lt_journal]\nx = journal\n",
            ),
            (
                "jail.conf",
                "[f]\nenabled = true\nfilter = lt\naction = act\nlogpath = @LOG@\n[j]\nenabled = true\nbackend = systemd\nfilter = lt\naction = act\nlogpath = /nonexistent\n",
            ),
        ],
    ),
    (
        "several actions, names and actname suffix",
        &[
            ("action.d/two.conf", "[Definition]\nactionban = two <ip> <name> <blocktype>\n[Init]\nblocktype = REJECT\n[Init?family=inet6]\nblocktype = DROP6\n"),
            (
                "jail.conf",
                "[DEFAULT]\naction_ = act[name=%(__name__)s, port=\"%(port)s\"]\n           two[name=other]\naction = %(action_)s\nport = 80\n[t]\nenabled = true\nfilter = test\nlogpath = @LOG@\n[u]\nenabled = true\nfilter = test\naction = act act[name=u-extra] two[actname=mine]\n  py.py[a=1, actname=pa]\nlogpath = @LOG@ tail\n",
            ),
        ],
    ),
    (
        "logpath globs, head/tail, missing files",
        &[
            ("jail.conf", "[t]\nenabled = true\nfilter = test\naction = act\nlogpath = @DIR@/*.log\n          @DIR@/nothing-*.log tail\n          @LOG@ tail\n[m]\nenabled = true\nfilter = test\nlogpath = /nonexistent/x.log\n"),
        ],
    ),
    (
        "missing filter and action skip the jail",
        &[(
            "jail.conf",
            "[a]\nenabled = true\nfilter = nope\nlogpath = @LOG@\n[b]\nenabled = true\nfilter = test\naction = nope[x=1]\nlogpath = @LOG@\n[c]\nenabled = true\nfilter = test[x=1\nlogpath = @LOG@\n[d]\nenabled = true\nfilter = test\naction = act[a = 1]\nlogpath = @LOG@\n[e]\nenabled = true\nfilter = test\nlogpath = @LOG@\n",
        )],
    ),
    (
        "jail options and conversions",
        &[(
            "jail.conf",
            "[t]\nenabled = on\nfilter = test\naction = act\nlogpath = @LOG@\nmaxretry = x5\nmaxmatches = +4\nignoreip = 127.0.0.1/8 ::1,10.0.0.0/8\n  192.168.0.1\nignoreself = false\nbantime.increment = true\nbantime.factor = 2\nbantime.maxtime = 5w\nbantime.overalljails = 1\nignorecommand = /bin/true <ip>\nusedns = no\nlogencoding = utf-8\nlogtimezone = UTC\ndatepattern = {^LN-BEG}\nprefregex = ^<F-CONTENT>.+</F-CONTENT>$\nmaxlines = 2\njournalmatch = A=1\n",
        )],
    ),
    (
        "section references",
        &[(
            "jail.conf",
            "[DEFAULT]\nd = dv\n[other]\nk = ok\n[t]\nenabled = true\nfilter = test\naction = act[port=\"%(other/k)s %(default/d)s %(__name__)s %(other/d)s\"]\nlogpath = @LOG@\n",
        )],
    ),
    (
        "fail2ban.conf settings",
        &[
            ("fail2ban.conf", "[Definition]\nloglevel = 4\nlogtarget = SYSOUT\nsyslogsocket = /dev/log\ndbfile = :memory:\ndbmaxmatches = 3\ndbpurgeage = 2d\nallowipv6 = yes\n[Thread]\nstacksize = 32\n"),
            ("fail2ban.local", "[Definition]\nloglevel = DEBUG\n"),
        ],
    ),
    ("fail2ban.conf bad int", &[("fail2ban.conf", "[Definition]\ndbmaxmatches = many\n")]),
    ("invalid UTF-8 file is skipped", &[("jail.conf", "[t]\nenabled = true\nfilter = test\nlogpath = @LOG@\n"), ("jail.local", "[t]\nmaxretry = @FF@\n")]),
    ("no fail2ban.conf", &[("fail2ban.conf", ""), ("jail.local", "[t]\nenabled = true\nfilter = test\nlogpath = @LOG@\n")]),
    ("empty Thread section", &[("fail2ban.conf", "[Definition]\n[Thread]\n"), ("jail.conf", "[t]\nenabled = true\nfilter = test\nlogpath = @LOG@\n")]),
    (
        "includes of a filter with .local, absolute path and a loop",
        &[
            ("filter.d/inc.conf", "[INCLUDES]\nbefore = common.conf\n         @DIR@/conf/filter.d/abs.conf\nafter = inc.conf\n[Definition]\nfailregex = %(__prefix_line)s<HOST> %(absv)s\n[Init]\na = only-a\n"),
            ("filter.d/common.local", "[DEFAULT]\n_daemon = localized\n"),
            ("filter.d/abs.conf", "[DEFAULT]\nabsv = from-abs\n"),
            ("jail.conf", "[Definition]\nenabled = true\nfilter = inc\nlogpath = @LOG@\n[DEFAULT]\nusedns = raw\nmaxlines = 4\nprefregex = ^x <F-CONTENT>.+</F-CONTENT>\n[jail with spaces]\nenabled = true\nfilter = test\naction = act[port=%(known/port)s]\nport = 9\nlogpath = @LOG@\n[\u{e9}t\u{e9}]\nenabled = true\nfilter = test\naction = act[a=b]\n  act[name=x, port=1]\nlogpath = @LOG@\n"),
            ("jail.d/only.local", "[jail with spaces]\nport = %(known/port)s0\n"),
        ],
    ),
    (
        "action property forms",
        &[
            ("action.d/one.conf", "[Definition]\nactionban = x\n[Init]\nname = fixed\nactname = one\n"),
            ("action.d/none.conf", "[Definition]\n"),
            ("action.d/cond.conf", "[Definition]\nactionban = <cmd> <ip>\n[Init]\ncmd = ip4\n[Init?family=inet6]\ncmd = ip6\n"),
            ("jail.conf", "[t]\nenabled = true\nfilter = test\naction = one\n  none\n  cond[cmd=given]\nlogpath = @LOG@\n"),
        ],
    ),
    (
        "filter options that look like datepattern",
        &[
            ("filter.d/odd.conf", "[Definition]\nfailregex = <a> <HOST>\n[Init]\na = x\ndate = d\npattern = p\ntep = t\n"),
            ("jail.conf", "[t]\nenabled = true\nfilter = odd[a=1]\nlogpath = @LOG@\n"),
        ],
    ),
    ("jail.local without jail.conf", &[("jail.local", "[t]\nenabled = true\nfilter = test\naction = act\nlogpath = @LOG@\n")]),
    ("enabled through DEFAULT", &[("jail.conf", "[DEFAULT]\nenabled = true\nfilter = test\nlogpath = @LOG@\n[a]\n[b]\nenabled = false\n[c]\nfilter = %(__name__)s\n")]),
    (
        "quotes in names and messages",
        &[(
            "jail.conf",
            "[it's]\nenabled = true\nfilter = no'pe\nlogpath = @LOG@\n[say \"hi\"]\nenabled = true\nfilter = test\nignorecommand = echo 'a' \"b\" \\n\naction = act[port=\"it's\"]\nlogpath = @LOG@\n[tab\tname]\nenabled = true\nfilter = test\nlogpath = @LOG@\n",
        )],
    ),
    (
        "interpolated include names",
        &[
            ("jail.conf", "[INCLUDES]\nbefore = %(pfx)s-pre.conf\n[DEFAULT]\npfx = my\nbefore = ignored.conf\n[t]\nenabled = true\nfilter = test\nlogpath = @LOG@\n"),
            ("my-pre.conf", "[t]\nmaxretry = 42\n"),
        ],
    ),
    (
        "logpath glob results in directory order",
        &[
            ("logs/zeta.log", ""),
            ("logs/alpha.log", ""),
            ("logs/mid.log", ""),
            ("logs/.hidden.log", ""),
            ("logs/sub1/q.log", ""),
            ("logs/sub0/q.log", ""),
            ("jail.conf", "[t]\nenabled = true\nfilter = test\nlogpath = @DIR@/conf/logs/*.log\n  @DIR@/conf/logs/sub*/q.log tail\n  @DIR@/conf/logs/[am]*.log\n"),
        ],
    ),
    ("CRLF line endings", &[("jail.conf", "[t]\r\nenabled = true\r\nfilter = test\r\nfailregex = ^a <HOST>\r\n  ^b <HOST>\r\n\r\nlogpath = @LOG@\r\n")]),
    // Fatal cases: fail2ban prints nothing.
    ("missing %(x)s", &[("jail.conf", "[t]\nenabled = true\nfilter = test\nport = %(nope)s\naction = act[port=%(port)s]\nlogpath = @LOG@\n")]),
    ("recursive %(x)s", &[("jail.conf", "[t]\nenabled = true\nfilter = test\na = %(b)s\nb = %(a)s\naction = act[port=%(a)s]\nlogpath = @LOG@\n")]),
    ("duplicate key", &[("jail.conf", "[t]\nenabled = true\nfilter = test\nfilter = x\n")]),
    ("duplicate section", &[("jail.conf", "[t]\nenabled = true\n[t]\nfilter = x\n")]),
    ("no section header", &[("jail.conf", "enabled = true\n")]),
    ("line without delimiter", &[("jail.conf", "[t]\nenabled = true\nfilter\n")]),
    ("self-referencing tag", &[("action.d/act.conf", "[Definition]\nactionban = <a>\n[Init]\na = x <a>\n"), ("jail.conf", "[t]\nenabled = true\nfilter = test\naction = act\nlogpath = @LOG@\n")]),
    ("bad loglevel", &[("fail2ban.conf", "[Definition]\nloglevel = LOUD\n")]),
    ("disabled broken jail is ignored", &[("jail.conf", "[t]\nenabled = false\nfilter = nope\n[u]\nenabled = true\nfilter = test\nlogpath = @LOG@\n")]),
];

const FATAL: &[&str] = &[
    "missing %(x)s",
    "recursive %(x)s",
    "duplicate key",
    "duplicate section",
    "no section header",
    "line without delimiter",
    "self-referencing tag",
    "bad loglevel",
];

#[test]
fn every_rule_matches_fail2ban() {
    need_reference!();
    let mut bad = Vec::new();
    for (label, files) in CASES {
        let (n, len) = check(label, files);
        eprintln!("{label}: {len} reference lines, {n} differing");
        if n > 0 {
            bad.push(format!("{label}: {n} lines"));
        }
        // Fatal cases print nothing; every other case must give a stream to compare.
        let fatal = FATAL.contains(label);
        assert_eq!(len == 0, fatal, "{label}: reference printed {len} lines");
        assert!(
            fatal || len > 6,
            "{label}: the reference stream has no jail"
        );
    }
    assert!(
        bad.is_empty(),
        "cases differing from fail2ban-client -d: {bad:#?}"
    );
}
