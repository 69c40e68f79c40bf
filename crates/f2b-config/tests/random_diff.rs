//! Random config trees (jails, includes, filters and actions with `[Init]`, conditional
//! sections, `known/` references, arguments, broken references ...) built from a fixed seed,
//! each compared line for line with `fail2ban-client -d`.

mod common;

const J: &[(&str, &[&str])] = &[
    ("enabled", &["true", "false", "yes", "1", "on", "0"]),
    (
        "filter",
        &[
            "f",
            "f[mode=aggr]",
            "g",
            "f[a=\"x, y\"][b=z]",
            "f[a = 1]",
            "",
            "%(__name__)s",
            "f[logtype=journal]",
            "no'pe",
        ],
    ),
    (
        "action",
        &[
            "a",
            "a[port=\"%(port)s\"]",
            "a b",
            "a[name=%(__name__)s-x]\n  b[actname=bb]",
            "%(action_)s",
            "x.py[k=v]",
            "",
            "a[p=%(port)s]",
        ],
    ),
    ("action_", &["a[port=1]", "b[name=zz]"]),
    (
        "logpath",
        &[
            "%(fail2ban_confpath)s/t.log",
            "%(fail2ban_confpath)s/*.log tail",
            "/nonexistent",
        ],
    ),
    (
        "port",
        &[
            "22",
            "%(known/port)s,23",
            "%(t/port)s",
            "%(default/port)s",
            "%(u/port)s",
        ],
    ),
    ("maxretry", &["3", "x", " 07", "-1"]),
    ("bantime", &["1h", "%(findtime)s"]),
    ("findtime", &["%(bantime)s", "10m"]),
    ("x", &["%(y)s", "<y>"]),
    ("y", &["1", "%(x)s"]),
    (
        "backend",
        &["systemd", "polling", "auto", "systemd[journalfiles=/x]"],
    ),
    ("usedns", &["no", "YES"]),
    (
        "failregex",
        &[
            "^j <HOST>\n   ^k <HOST>",
            "%(known/failregex)s\n  ^m <HOST>",
            "<known/failregex>",
        ],
    ),
    ("journalmatch", &["A=1 + B=2", "_COMM='a b'"]),
    ("ignoreip", &["1.2.3.4, 5.6.7.8", "a\n b"]),
    ("mode", &["extra", "normal"]),
    ("bantime.increment", &["true", "no"]),
    ("k", &["v ;c", "a;b", "x # y"]),
    ("ignorecommand", &["", "/bin/true <ip>"]),
];

const D: &[(&str, &[&str])] = &[
    (
        "failregex",
        &[
            "^<mode> <HOST>",
            "^%(_p)s <HOST>\n  ^<a> <HOST>",
            "<lt_<logtype>/x> <HOST>",
            "^<known/failregex> x",
            "^%(known/failregex)s y",
        ],
    ),
    ("ignoreregex", &["^ig", ""]),
    ("mode", &["normal", "<a>"]),
    ("a", &["A<b>", "a"]),
    ("b", &["B", "<a>", "<mode>"]),
    ("_p", &["pfx", "%(__name__)s"]),
    ("maxlines", &["2", "x"]),
    ("journalmatch", &["_COMM=x\n  B=<mode>"]),
    ("logtype", &["file", "journal"]),
    ("date", &["d"]),
    (
        "actionban",
        &["ban <ip> <port> <a>", "ban <name> <actname> <blocktype>"],
    ),
    ("actionstart", &["start <name> <port>"]),
    ("actioncheck", &["<known/actionban> chk"]),
    ("port", &["1", "<protocol>"]),
    ("protocol", &["tcp", "<port>"]),
    ("blocktype", &["R", "<known/blocktype> R2"]),
    ("norestored", &["1", "x"]),
    ("x", &["%(y)s", "fx"]),
    ("y", &["Y"]),
];

const DSECTS: &[&str] = &[
    "Definition",
    "Init",
    "Init?family=inet6",
    "DEFAULT",
    "lt_file",
    "lt_journal",
    "INCLUDES",
];
const JSECTS: &[&str] = &["t", "u", "DEFAULT", "INCLUDES", "it's"];

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

fn section(r: &mut Rng, name: &str, keys: &[(&str, &[&str])]) -> String {
    let mut out = format!("[{name}]\n");
    if name == "INCLUDES" {
        out.push_str(r.pick(&[
            "before = inc.conf",
            "after = inc.conf",
            "before = common.conf",
            "after = common.conf\n  other.conf",
        ]));
        out.push('\n');
        return out;
    }
    let mut used = Vec::new();
    for _ in 0..1 + r.below(5) {
        let (k, vals) = keys[r.below(keys.len())];
        if used.contains(&k) {
            continue;
        }
        used.push(k);
        let sep = r.pick(&[" = ", "=", ": ", " =\n  "]);
        out.push_str(&format!("{k}{sep}{}\n", r.pick(vals)));
    }
    out
}

fn file(r: &mut Rng, sects: &[&str], keys: &[(&str, &[&str])], n: usize) -> String {
    let mut names: Vec<&str> = Vec::new();
    for _ in 0..n {
        let s = r.pick(sects);
        if !names.contains(&s) {
            names.push(s);
        }
    }
    names.iter().map(|s| section(r, s, keys)).collect()
}

#[test]
fn random_trees_match_fail2ban() {
    need_reference!();
    let mut r = Rng(0x51f1_5eed_0bad_cafe);
    let (mut same, mut fatal, mut bad) = (0, 0, Vec::new());
    for i in 0..60 {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let mut files: Vec<(String, String)> = vec![
            (
                "fail2ban.conf".into(),
                "[Definition]\nloglevel = INFO\n".into(),
            ),
            ("t.log".into(), String::new()),
            ("jail.conf".into(), {
                let n = r.below(2);
                format!("[t]\nenabled = true\nfilter = f\naction = a\n[u]\nenabled = true\nfilter = f\n{}", file(&mut r, &["DEFAULT"], J, n))
            }),
            ("jail.local".into(), {
                let n = 1 + r.below(3);
                file(&mut r, JSECTS, J, n)
            }),
            ("filter.d/f.conf".into(), {
                let n = 1 + r.below(4);
                file(&mut r, DSECTS, D, n)
            }),
            ("action.d/a.conf".into(), {
                let n = 1 + r.below(4);
                file(&mut r, DSECTS, D, n)
            }),
        ];
        for (name, sects, keys) in [
            ("inc.conf", JSECTS, J),
            ("filter.d/f.local", DSECTS, D),
            ("filter.d/common.conf", DSECTS, D),
            ("action.d/a.local", DSECTS, D),
            ("action.d/b.conf", DSECTS, D),
        ] {
            if r.below(3) == 0 {
                let n = 1 + r.below(3);
                files.push((name.into(), file(&mut r, sects, keys, n)));
            }
        }
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_bytes()))
            .collect();
        common::write_tree(d, &refs);
        let want = common::reference_lines(d);
        let got = common::our_lines(d);
        if common::diff_count(&format!("tree {i}"), &want, &got) > 0 {
            bad.push(i);
        } else {
            same += 1;
            if want.is_empty() {
                fatal += 1;
            }
        }
    }
    eprintln!("{same} trees equal ({fatal} refused by both), differing: {bad:?}");
    assert!(
        bad.is_empty(),
        "trees differing from fail2ban-client -d: {bad:?}"
    );
    assert!(
        same - fatal >= 15,
        "too few trees gave a stream to compare ({})",
        same - fatal
    );
}
