//! The configuration reader on a whole tree built from the input: ConfigParser lexing,
//! `[INCLUDES]`, `%(x)s` interpolation, `<tag>` substitution, `name[k=v]` option lists, the jail,
//! filter and action readers and the `-d` dump. The input holds up to five files separated by
//! NUL bytes: jail.local, filter.d/f.local, action.d/a.local, jail.conf, fail2ban.conf (an empty
//! part falls back to a small valid file). `f2b_config::load` only reads from disk, so the files
//! are written to one scratch directory per process.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

const FAIL2BAN_CONF: &str = "[Definition]\nloglevel = INFO\nlogtarget = STDERR\nsocket = /nonexistent/f2b.sock\npidfile = /nonexistent/f2b.pid\ndbfile = :memory:\n";
const JAIL_CONF: &str = "[DEFAULT]\nbantime = 10m\nfindtime = 10m\nmaxretry = 5\nbackend = auto\nfilter = %(__name__)s\naction = a\nlogpath = /nonexistent/log\nenabled = true\n\n[f]\nport = ssh\n";
const FILTER_CONF: &str = "[Definition]\nfailregex = ^fail from <HOST>$\n";
const ACTION_CONF: &str = "[Definition]\nactionban = echo <ip>\n";

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("f2b-fuzz-config-{}", std::process::id()));
        for sub in ["filter.d", "action.d", "jail.d"] {
            std::fs::create_dir_all(d.join(sub)).expect("scratch dir");
        }
        std::fs::write(d.join("filter.d/f.conf"), FILTER_CONF).expect("write");
        std::fs::write(d.join("action.d/a.conf"), ACTION_CONF).expect("write");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    // Paths are the one thing kept out: a fuzzed `logpath = /**` would walk the whole machine,
    // which is the trusted configuration's right, not a reader bug.
    if data.contains(&b'/') || data.len() > 64 * 1024 {
        return;
    }
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let mut next = |default: &str| -> String {
        match parts.next() {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => default.to_string(),
        }
    };
    let dir = root();
    let files = [
        ("jail.local", next("")),
        ("filter.d/f.local", next("")),
        ("action.d/a.local", next("")),
        ("jail.conf", next(JAIL_CONF)),
        ("fail2ban.conf", next(FAIL2BAN_CONF)),
    ];
    for (name, body) in &files {
        std::fs::write(dir.join(name), body).expect("write scratch file");
    }
    if let Ok(cfg) = f2b_config::load(dir) {
        let lines = f2b_config::dump_lines(&cfg);
        std::hint::black_box(lines);
        for e in &cfg.errors {
            std::hint::black_box(e.to_string());
        }
    }
    let _ = f2b_config::load_filter(dir, "f", &[("logtype".to_string(), "file".to_string())]);
    let _ = f2b_config::load_filter(dir, "f[mode=aggressive, x=\"y\"]", &[]);
    let _ = f2b_config::extract_options(&files[0].1);
    let _ = f2b_config::parse_time(&files[0].1);
});
