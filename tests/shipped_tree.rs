//! Our shipped configuration tree (fail2ban.conf, jail.conf, filter.d/, action.d/, jail.d/) held
//! against the reference fail2ban installed on the machine:
//!
//! 1. fail2ban-client loads it with every jail enabled, without an error or a warning, and the
//!    jails that also exist in the stock tree or the users' seeds resolve to the same regexes,
//!    settings and action commands;
//! 2. fail2ban-regex with our filters finds the same failures (same IDs, same captured fields) as
//!    with the stock or seed filters, on the conformance sample logs and on generated logs;
//! 3. every seed deployment laid over our tree resolves exactly as it does over the stock tree;
//! 4. the demo of docs/demo/ bans with the reference server.
//!
//! Everything here needs fail2ban (Debian's package) and python3; the tests skip with a printed
//! reason when they are absent, and the ones that need ../shared skip without it.
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use f2b::{have, repo_root, shared_dir, skip};

/// The stock tree of Debian's fail2ban package.
const STOCK: &str = "/etc/fail2ban";

/// fail2ban's clock for the fail2ban-regex runs (2024-08-18), so year-less dates resolve the same
/// way every time.
const FIXED_NOW: &str = "1724013600";

/// The parts of the repository that make up the shipped tree.
const TREE_FILES: [&str; 2] = ["fail2ban.conf", "jail.conf"];
const TREE_DIRS: [&str; 3] = ["filter.d", "action.d", "jail.d"];

/// Flattens a `fail2ban-client -d` dump (one Python list literal per line) into one record per
/// setting, so tests can select and compare them: `set<TAB>target<TAB>option<TAB>value` for
/// (multi-)set lines, `action<TAB>jail<TAB>action<TAB>option<TAB>value` for every option of an
/// action, and the command with its arguments otherwise. Values are Python reprs, compared as
/// text.
const NORMALIZE_DUMP: &str = r#"
import ast, sys
for line in sys.stdin:
    line = line.strip()
    if not line.startswith('['):
        continue
    cmd = ast.literal_eval(line)
    if cmd[0] == 'multi-set' and len(cmd) == 5 and cmd[2] == 'action':
        for opt, val in cmd[4]:
            print('\t'.join(['action', cmd[1], cmd[3], opt, repr(val)]))
    elif cmd[0] in ('set', 'multi-set') and len(cmd) >= 3:
        print('\t'.join(['set', str(cmd[1]), str(cmd[2]), repr(cmd[3:])]))
    else:
        print('\t'.join([str(cmd[0])] + [repr(x) for x in cmd[1:]]))
"#;

/// What the reference needs: fail2ban's two commands, python3 and the stock tree.
fn reference_present(test: &str) -> bool {
    for program in ["fail2ban-client", "fail2ban-regex", "python3"] {
        if !have(program) {
            skip(
                test,
                &format!("{program} is not installed (apt-get install fail2ban)"),
            );
            return false;
        }
    }
    if !Path::new(STOCK).join("jail.conf").is_file() {
        skip(
            test,
            "no stock tree at /etc/fail2ban (apt-get install fail2ban)",
        );
        return false;
    }
    true
}

/// `../shared`, or a printed skip.
fn shared(test: &str) -> Option<PathBuf> {
    let dir = shared_dir();
    if dir.is_none() {
        skip(
            test,
            "../shared (seeds, sample logs, generator) is not beside the repository",
        );
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    let entries = fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap_or_else(|e| {
                panic!(
                    "copy {} -> {}: {e}",
                    entry.path().display(),
                    target.display()
                )
            });
        }
    }
}

/// A copy of our shipped tree at `to`.
fn our_tree(to: &Path) {
    let root = repo_root();
    fs::create_dir_all(to).expect("mkdir tree");
    for f in TREE_FILES {
        fs::copy(root.join(f), to.join(f)).unwrap_or_else(|e| panic!("copy {f}: {e}"));
    }
    for d in TREE_DIRS {
        copy_dir(&root.join(d), &to.join(d));
    }
}

/// A copy of the stock tree at `to`.
fn stock_tree(to: &Path) {
    copy_dir(Path::new(STOCK), to);
}

/// Lay a seed deployment over a tree the way its users do: jail.d/ emptied, then the seed's
/// files copied on top.
fn overlay_seed(tree: &Path, seed: &Path) {
    clear_jail_d(tree);
    copy_dir(seed, tree);
}

/// Remove the files of a tree's jail.d/ (the stock one enables sshd).
fn clear_jail_d(tree: &Path) {
    if let Ok(entries) = fs::read_dir(tree.join("jail.d")) {
        for entry in entries {
            let path = entry.expect("jail.d entry").path();
            if path.is_file() {
                fs::remove_file(&path).expect("remove jail.d file");
            }
        }
    }
}

/// The jail sections of a jail.conf.
fn jail_names(jail_conf: &Path) -> Vec<String> {
    let text = fs::read_to_string(jail_conf).expect("read jail.conf");
    text.lines()
        .filter_map(|l| {
            l.strip_prefix('[')
                .and_then(|l| l.split_once(']'))
                .map(|(name, _)| name.to_string())
        })
        .filter(|name| name != "INCLUDES" && name != "DEFAULT")
        .collect()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The result of `fail2ban-client -c TREE -d`.
struct Dump {
    records: Vec<String>,
    stderr: String,
}

impl Dump {
    fn of(tree: &Path) -> Dump {
        let out = run(Command::new("fail2ban-client")
            .arg("-c")
            .arg(tree)
            .arg("-d"));
        let mut py = Command::new("python3")
            .args(["-c", NORMALIZE_DUMP])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run python3");
        {
            use std::io::Write;
            let mut stdin = py.stdin.take().expect("python stdin");
            stdin.write_all(&out.stdout).expect("feed dump to python3");
        }
        let flat = py.wait_with_output().expect("python3 output");
        assert!(
            flat.status.success(),
            "normalising the dump failed: {}",
            String::from_utf8_lossy(&flat.stderr)
        );
        Dump {
            records: String::from_utf8_lossy(&flat.stdout)
                .lines()
                .map(str::to_string)
                .collect(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Records of one jail whose option (third field) is one of `options`, or all of the jail's
    /// settings when `options` is empty.
    fn settings(&self, jail: &str, options: &[&str]) -> Vec<String> {
        self.records
            .iter()
            .filter(|r| {
                let f: Vec<&str> = r.split('\t').collect();
                f.len() >= 4
                    && f[0] == "set"
                    && f[1] == jail
                    && (options.is_empty() || options.contains(&f[2]))
            })
            .cloned()
            .collect()
    }

    /// The shell commands of a jail's actions: `action<TAB>jail<TAB>act<TAB>action*<TAB>value`.
    fn action_commands(&self, jail: &str) -> Vec<String> {
        self.records
            .iter()
            .filter(|r| {
                let f: Vec<&str> = r.split('\t').collect();
                f.len() == 5 && f[0] == "action" && f[1] == jail && f[3].starts_with("action")
            })
            .cloned()
            .collect()
    }

    /// Every record naming this jail, whatever the command.
    fn jail_records(&self, jail: &str) -> Vec<String> {
        let quoted = format!("'{jail}'");
        self.records
            .iter()
            .filter(|r| {
                let f: Vec<&str> = r.split('\t').collect();
                f.get(1).is_some_and(|j| *j == jail || *j == quoted)
            })
            .cloned()
            .collect()
    }

    fn started(&self) -> BTreeSet<String> {
        self.records
            .iter()
            .filter_map(|r| {
                r.strip_prefix("start\t'")
                    .and_then(|r| r.strip_suffix('\''))
                    .map(str::to_string)
            })
            .collect()
    }
}

/// Options that hold a filter's resolved regexes.
const FILTER_OPTIONS: [&str; 6] = [
    "prefregex",
    "addfailregex",
    "addignoreregex",
    "datepattern",
    "maxlines",
    "addjournalmatch",
];

/// Jail settings that do not come from the filter.
const JAIL_OPTIONS: [&str; 8] = [
    "maxretry",
    "maxmatches",
    "findtime",
    "bantime",
    "usedns",
    "ignorecommand",
    "logencoding",
    "addaction",
];

/// Our tree, every jail of jail.conf enabled, log locations moved to empty files in `dir` through
/// the paths-overrides.local hook.
fn our_tree_all_enabled(dir: &Path) -> (PathBuf, Vec<String>) {
    let tree = dir.join("ours");
    our_tree(&tree);
    let logs = dir.join("logs");
    fs::create_dir_all(&logs).expect("mkdir logs");
    let mut overrides = String::from("[DEFAULT]\n");
    for (var, file) in [
        ("syslog_authpriv", "auth.log"),
        ("syslog_kernel", "messages"),
        ("fail2ban_log", "fail2ban.log"),
    ] {
        fs::write(logs.join(file), "").expect("create log");
        overrides.push_str(&format!("{var} = {}\n", logs.join(file).display()));
    }
    fs::write(tree.join("paths-overrides.local"), overrides).expect("write paths-overrides.local");
    let jails = jail_names(&tree.join("jail.conf"));
    let local: String = jails
        .iter()
        .map(|j| format!("[{j}]\nenabled = true\n\n"))
        .collect();
    fs::write(tree.join("jail.local"), local).expect("write jail.local");
    (tree, jails)
}

#[test]
fn every_shipped_jail_loads_in_fail2ban() {
    let test = "every_shipped_jail_loads_in_fail2ban";
    if !reference_present(test) {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (tree, jails) = our_tree_all_enabled(tmp.path());
    for expected in ["sshd", "portscan", "tor-netscan", "recidive"] {
        assert!(
            jails.iter().any(|j| j == expected),
            "jail.conf lacks the {expected} jail"
        );
    }

    let dump = Dump::of(&tree);
    let complaints: Vec<&str> = dump
        .stderr
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("WARNING"))
        .collect();
    assert!(
        complaints.is_empty(),
        "fail2ban-client complains about our tree:\n{}",
        complaints.join("\n")
    );
    let wanted: BTreeSet<String> = jails.iter().cloned().collect();
    assert_eq!(dump.started(), wanted, "not every jail of jail.conf starts");
    for jail in &jails {
        assert!(
            !dump.settings(jail, &["addfailregex"]).is_empty(),
            "jail {jail} has no failregex"
        );
        assert!(
            !dump.action_commands(jail).is_empty(),
            "jail {jail} has no action"
        );
    }

    // The log locations come from the overridable path names, not from literal paths.
    let logs = tmp.path().join("logs");
    for (jail, file) in [
        ("sshd", "auth.log"),
        ("portscan", "messages"),
        ("recidive", "fail2ban.log"),
    ] {
        let expected = format!(
            "{:?}",
            vec![logs.join(file).display().to_string(), "head".to_string()]
        );
        assert_eq!(
            dump.settings(jail, &["addlogpath"]),
            vec![format!(
                "set\t{jail}\taddlogpath\t{}",
                expected.replace('"', "'")
            )],
            "logpath of {jail}"
        );
    }
    // Defaults as fail2ban's: the server settings, and an untouched jail's ban policy.
    for (option, value) in [
        ("loglevel", "INFO"),
        ("logtarget", "/var/log/fail2ban.log"),
        ("dbpurgeage", "1d"),
        ("dbmaxmatches", "10"),
    ] {
        assert!(
            dump.records
                .iter()
                .any(|r| *r == format!("set\t{option}\t{value}\t[]")),
            "fail2ban.conf: {option} is not {value}"
        );
    }
    assert_eq!(
        dump.settings("sshd", &["maxretry", "findtime", "bantime"]),
        vec![
            "set\tsshd\tmaxretry\t[5]",
            "set\tsshd\tfindtime\t['10m']",
            "set\tsshd\tbantime\t['10m']"
        ]
    );
}

#[test]
fn shipped_jails_resolve_like_stock_and_seed_trees() {
    let test = "shipped_jails_resolve_like_stock_and_seed_trees";
    if !reference_present(test) {
        return;
    }
    let Some(shared) = shared(test) else { return };
    let seeds = shared.join("seeds");
    let tmp = tempfile::tempdir().expect("tempdir");
    let (tree, _) = our_tree_all_enabled(tmp.path());
    let ours = Dump::of(&tree);

    let seed_dump = |name: &str| {
        let t = tmp.path().join(format!("stock+{name}"));
        stock_tree(&t);
        overlay_seed(&t, &seeds.join(name));
        Dump::of(&t)
    };

    // tor-netscan: the whole jail, from filter regexes to the ufw commands, as the users' seed.
    let tor = seed_dump("tor-netscan");
    let reference = tor.jail_records("tor-netscan");
    assert!(
        reference.len() > 10,
        "the tor-netscan seed did not resolve: {reference:?}"
    );
    assert_eq!(
        ours.jail_records("tor-netscan"),
        reference,
        "tor-netscan jail differs from stock + seed"
    );

    // portscan: the filter of the `portscan` seed, the all-ports iptables action of `portscan-ufw`.
    let portscan = seed_dump("portscan");
    let filter_ref = portscan.settings("portscan", &FILTER_OPTIONS);
    assert!(!filter_ref.is_empty());
    assert_eq!(
        ours.settings("portscan", &FILTER_OPTIONS),
        filter_ref,
        "portscan filter differs from the seed's"
    );
    assert_eq!(
        ours.settings("portscan", &["maxretry"]),
        portscan.settings("portscan", &["maxretry"])
    );
    let allports = seed_dump("portscan-ufw");
    let actions_ref = allports.action_commands("portscan");
    assert!(
        actions_ref.len() >= 5,
        "portscan-ufw seed actions: {actions_ref:?}"
    );
    assert_eq!(
        ours.action_commands("portscan"),
        actions_ref,
        "portscan action differs from iptables-allports"
    );

    // sshd and recidive: settings and iptables commands as in the stock tree (their filters are
    // compared by behaviour in filters_match_the_same_lines_as_the_reference).
    let stock = {
        let t = tmp.path().join("stock");
        stock_tree(&t);
        clear_jail_d(&t);
        fs::write(
            t.join("jail.local"),
            "[sshd]\nenabled = true\n\n[recidive]\nenabled = true\n",
        )
        .expect("jail.local");
        Dump::of(&t)
    };
    for jail in ["sshd", "recidive"] {
        let reference = stock.action_commands(jail);
        assert!(reference.len() >= 5, "stock {jail} actions: {reference:?}");
        assert_eq!(
            ours.action_commands(jail),
            reference,
            "{jail} action commands differ from stock"
        );
        assert_eq!(
            ours.settings(jail, &JAIL_OPTIONS),
            stock.settings(jail, &JAIL_OPTIONS),
            "{jail} settings"
        );
        assert_eq!(
            ours.settings(jail, &["datepattern", "maxlines"]),
            stock.settings(jail, &["datepattern", "maxlines"]),
            "{jail} filter options"
        );
    }
}

#[test]
fn seeds_over_our_tree_resolve_as_over_stock() {
    let test = "seeds_over_our_tree_resolve_as_over_stock";
    if !reference_present(test) {
        return;
    }
    let Some(shared) = shared(test) else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut seeds: Vec<PathBuf> = fs::read_dir(shared.join("seeds"))
        .expect("read seeds")
        .map(|e| e.expect("seed").path())
        .filter(|p| p.join("jail.local").is_file())
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 4, "expected the four seeds, found {seeds:?}");
    for seed in &seeds {
        let name = seed
            .file_name()
            .expect("seed name")
            .to_string_lossy()
            .into_owned();
        let ours = tmp.path().join(format!("ours+{name}"));
        our_tree(&ours);
        overlay_seed(&ours, seed);
        let stock = tmp.path().join(format!("stock+{name}"));
        stock_tree(&stock);
        overlay_seed(&stock, seed);

        let over_ours = Dump::of(&ours);
        let errors: Vec<&str> = over_ours
            .stderr
            .lines()
            .filter(|l| l.contains("ERROR"))
            .collect();
        assert!(
            errors.is_empty(),
            "seed {name} over our tree:\n{}",
            errors.join("\n")
        );
        assert!(
            !over_ours.started().is_empty(),
            "seed {name}: no jail starts"
        );
        let over_stock = Dump::of(&stock);
        assert_eq!(
            over_ours.records, over_stock.records,
            "seed {name}: our tree resolves differently from stock"
        );
    }
}

/// The Python that runs fail2ban (the one in fail2ban-regex's `#!` line), which can import the
/// `fail2ban` package; a `python3` found first on PATH may be another installation.
fn fail2ban_python() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("fail2ban-regex"))
            .find(|p| p.is_file())
    });
    on_path
        .and_then(|script| fs::read_to_string(script).ok())
        .and_then(|text| {
            let first = text.lines().next()?.strip_prefix("#!")?.trim().to_string();
            // "#!/usr/bin/env python3" names the interpreter in its second word.
            let mut words = first.split_whitespace();
            let program = words.next()?;
            Some(if program.ends_with("/env") {
                PathBuf::from(words.next()?)
            } else {
                PathBuf::from(program)
            })
        })
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// `fail2ban-regex -r -o row LOG FILTER` with fail2ban's clock pinned, one row per failure with
/// its ID, time and captured fields.
fn failure_rows(shared: &Path, log: &Path, filter: &str) -> Vec<String> {
    let out = run(Command::new(fail2ban_python())
        .arg(shared.join("compat/tools/fail2ban-regex-fixednow"))
        .args(["-r", "-o", "row"])
        .arg(log)
        .arg(filter)
        .env("F2B_NOW", FIXED_NOW)
        .env("TZ", "UTC")
        .env("PYTHONHASHSEED", "0")
        .env("LC_ALL", "C.UTF-8"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn generate(shared: &Path, kind: &str, lines: u32, seed: u32, extra: &[&str], to: &Path) {
    run(Command::new("python3")
        .arg(shared.join("bench/gen.py"))
        .args([kind, &lines.to_string(), &seed.to_string(), "0.2"])
        .args(extra)
        .arg("-o")
        .arg(to)
        .stderr(Stdio::null()));
}

#[test]
fn filters_match_the_same_lines_as_the_reference() {
    let test = "filters_match_the_same_lines_as_the_reference";
    if !reference_present(test) {
        return;
    }
    let Some(shared) = shared(test) else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let ours = tmp.path().join("ours");
    our_tree(&ours);
    let our_filter = |name: &str| {
        ours.join("filter.d")
            .join(format!("{name}.conf"))
            .display()
            .to_string()
    };
    // The seed filters need the stock common.conf beside them.
    let seed_filters = tmp.path().join("seed/filter.d");
    fs::create_dir_all(&seed_filters).expect("mkdir");
    fs::copy(
        Path::new(STOCK).join("filter.d/common.conf"),
        seed_filters.join("common.conf"),
    )
    .expect("common.conf");
    for (seed, filter) in [("tor-netscan", "tor-netscan"), ("portscan", "portscan")] {
        let from = shared
            .join("seeds")
            .join(seed)
            .join("filter.d")
            .join(format!("{filter}.conf"));
        fs::copy(from, seed_filters.join(format!("{filter}.conf"))).expect("seed filter");
    }
    let seed_filter = |name: &str| {
        seed_filters
            .join(format!("{name}.conf"))
            .display()
            .to_string()
    };
    let stock_filter = |name: &str| format!("{STOCK}/filter.d/{name}.conf");

    let compare = |what: &str, log: &Path, ours: String, reference: String, at_least: usize| {
        // The two runs are independent: run them side by side.
        let (expected, got) = std::thread::scope(|s| {
            let reference_run = s.spawn(|| failure_rows(&shared, log, &reference));
            let got = failure_rows(&shared, log, &ours);
            (reference_run.join().expect("reference run"), got)
        });
        assert!(
            expected.len() >= at_least,
            "{what}: reference found only {} failures",
            expected.len()
        );
        if got != expected {
            let first = got
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(expected.len()));
            panic!(
                "{what}: {} failures with ours, {} with the reference; first difference at row {first}:\n ours: {:?}\n  ref: {:?}",
                got.len(),
                expected.len(),
                got.get(first),
                expected.get(first)
            );
        }
    };

    // sshd on the conformance sample, in every mode and public-key policy.
    let sample = shared.join("compat/dev/logs/sshd");
    for mode in ["normal", "ddos", "extra", "aggressive"] {
        std::thread::scope(|s| {
            for publickey in ["nofail", "invalid", "any", "ignore"] {
                let (compare, sample, our_filter, stock_filter) =
                    (&compare, &sample, &our_filter, &stock_filter);
                s.spawn(move || {
                    let args = format!("[mode={mode}, publickey={publickey}]");
                    compare(
                        &format!("sshd {args}"),
                        sample,
                        format!("{}{args}", our_filter("sshd")),
                        format!("{}{args}", stock_filter("sshd")),
                        50,
                    );
                });
            }
        });
    }
    // sshd on a generated auth.log.
    let authlog = tmp.path().join("auth.log");
    generate(&shared, "sshd-authlog", 3000, 7, &[], &authlog);
    compare(
        "sshd on generated auth.log",
        &authlog,
        our_filter("sshd"),
        stock_filter("sshd"),
        300,
    );

    // recidive on its sample.
    let recidive = shared.join("compat/dev/logs/recidive");
    compare(
        "recidive",
        &recidive,
        our_filter("recidive"),
        stock_filter("recidive"),
        3,
    );

    // portscan against the users' seed filter.
    let messages = tmp.path().join("messages");
    generate(&shared, "portscan-syslog", 3000, 7, &[], &messages);
    compare(
        "portscan",
        &messages,
        our_filter("portscan"),
        seed_filter("portscan"),
        300,
    );

    // tor-netscan against the seed filter with the seed jail's port list; the generated log mixes
    // uptimes above and below 10000 s (padded stamps, missed by both).
    let ufw = tmp.path().join("ufw.log");
    generate(&shared, "ufw-syslog", 3000, 7, &[], &ufw);
    let padded = tmp.path().join("ufw-padded.log");
    generate(&shared, "ufw-syslog", 500, 8, &["--uptime", "500"], &padded);
    let mut both = fs::read(&ufw).expect("read ufw.log");
    both.extend(fs::read(&padded).expect("read ufw-padded.log"));
    fs::write(&ufw, both).expect("write ufw.log");
    compare(
        "tor-netscan",
        &ufw,
        our_filter("tor-netscan"),
        format!(
            "{}[DPT=(?:20|21|22|23|389|636|989|990|992)]",
            seed_filter("tor-netscan")
        ),
        300,
    );
}

/// Run docs/demo/run.sh with the given server and client; its output with the temporary tree's
/// path replaced by `TREE` and the program names by `SERVER` / `CLIENT`.
fn run_demo(server: &Path, client: &Path) -> String {
    let out = run(Command::new(repo_root().join("docs/demo/run.sh"))
        .env("SERVER", server)
        .env("CLIENT", client));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut normal = String::new();
    for line in text.lines() {
        let mut line = line
            .replace(&*server.to_string_lossy(), "SERVER")
            .replace(&*client.to_string_lossy(), "CLIENT");
        // mktemp's directory: f2b-demo.XXXXXX
        if let Some(at) = line.find("/f2b-demo.") {
            let start = line[..at].rfind([' ', '\t']).map_or(0, |i| i + 1);
            let end = line[at + 10..]
                .find(['/', ' ', '\t'])
                .map_or(line.len(), |i| at + 10 + i);
            line.replace_range(start..end, "TREE");
        }
        // The sample lines carry the time of the run: "Nov 22 03:08:06 demo sshd...".
        let b = line.as_bytes();
        if b.len() > 16 && b[3] == b' ' && b[9] == b':' && b[12] == b':' && b[15] == b' ' {
            line.replace_range(..15, "DATE");
        }
        normal.push_str(&line);
        normal.push('\n');
    }
    normal
}

/// What the demo must show, whichever server runs it.
fn check_demo(who: &str, text: &str) {
    // Three failures from 192.0.2.10 ban it; one from 198.51.100.7 and a login do not.
    assert!(
        text.lines().any(|l| l == "+192.0.2.10"),
        "{who}: no ban in the demo output:\n{text}"
    );
    assert!(
        !text.contains("+198.51.100.7") && !text.contains("+203.0.113.5"),
        "{who}: a wrong ban:\n{text}"
    );
    assert!(
        text.contains("Banned IP list:\t192.0.2.10"),
        "{who}: status does not list the ban:\n{text}"
    );
}

#[test]
fn demo_bans_with_the_reference_server() {
    let test = "demo_bans_with_the_reference_server";
    if !reference_present(test) {
        return;
    }
    if !have("fail2ban-server") {
        skip(test, "fail2ban-server is not installed");
        return;
    }
    let text = run_demo(Path::new("fail2ban-server"), Path::new("fail2ban-client"));
    check_demo("fail2ban", &text);
}

#[test]
fn demo_bans_with_f2b_as_with_fail2ban() {
    let test = "demo_bans_with_f2b_as_with_fail2ban";
    // Under tests/run (F2B_BIN_DIR set) missing binaries are an error; in a plain
    // `cargo test` without a release build the test has nothing to run.
    let built =
        f2b::bin_dir().join("f2b-server").is_file() && f2b::bin_dir().join("f2b-client").is_file();
    if std::env::var_os("F2B_BIN_DIR").is_none() && !built {
        skip(
            test,
            "f2b-server / f2b-client not built (cargo build --release)",
        );
        return;
    }
    let ours = run_demo(&f2b::bin("f2b-server"), &f2b::bin("f2b-client"));
    check_demo("f2b", &ours);
    if reference_present(test) && have("fail2ban-server") {
        let reference = run_demo(Path::new("fail2ban-server"), Path::new("fail2ban-client"));
        assert_eq!(
            ours, reference,
            "the demo's output differs between f2b and fail2ban"
        );
    }
}

#[test]
fn install_script_places_files_and_keeps_an_existing_tree() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    // Stand-ins for the built programs: the script only copies them.
    let from = root.join("built");
    fs::create_dir_all(&from).expect("mkdir");
    for p in ["f2b-server", "f2b-client", "f2b-regex"] {
        fs::write(from.join(p), format!("#!/bin/sh\necho {p}\n")).expect("write program");
        run(Command::new("chmod").arg("0755").arg(from.join(p)));
    }
    let prefix = root.join("usr");
    let confdir = root.join("etc/fail2ban");
    let unitdir = root.join("units");
    let install = || {
        run(Command::new("sh")
            .arg(repo_root().join("dist/install.sh"))
            .arg("--from")
            .arg(&from)
            .arg("--prefix")
            .arg(&prefix)
            .arg("--confdir")
            .arg(&confdir)
            .arg("--unitdir")
            .arg(&unitdir)
            .arg("--compat-links")
            .env_remove("DESTDIR"))
    };

    // A real program where a compatibility link would go is left alone.
    fs::create_dir_all(prefix.join("bin")).expect("mkdir bin");
    fs::write(prefix.join("bin/fail2ban-regex"), "#!/bin/sh\n").expect("write fail2ban-regex");
    install();
    for p in ["f2b-server", "f2b-client", "f2b-regex"] {
        let installed = fs::read_to_string(prefix.join("bin").join(p)).expect("installed program");
        assert!(
            installed.contains(&format!("echo {p}")),
            "{p} not installed"
        );
    }
    for p in ["server", "client"] {
        let link = fs::read_link(prefix.join(format!("bin/fail2ban-{p}"))).expect("compat link");
        assert_eq!(link, PathBuf::from(format!("f2b-{p}")));
    }
    assert!(
        fs::read_link(prefix.join("bin/fail2ban-regex")).is_err(),
        "a real fail2ban-regex was replaced"
    );

    assert!(
        prefix.join("share/doc/f2b/migration.md").is_file(),
        "guides not installed"
    );

    // The unit runs the installed server.
    let unit = fs::read_to_string(unitdir.join("f2b.service")).expect("unit installed");
    let server = prefix.join("bin/f2b-server");
    assert!(
        unit.contains(&format!("ExecStart={} -xf start", server.display())),
        "unit:\n{unit}"
    );
    assert!(
        !unit.contains("/usr/local/"),
        "unit still names /usr/local:\n{unit}"
    );
    if have("systemd-analyze") {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(unitdir.join("f2b.service"))
            .output();
        if let Ok(out) = out {
            let text = String::from_utf8_lossy(&out.stderr);
            let ours: Vec<&str> = text.lines().filter(|l| l.contains("f2b.service")).collect();
            assert!(
                ours.is_empty(),
                "systemd-analyze verify:\n{}",
                ours.join("\n")
            );
        }
    } else {
        skip(
            "install_script (unit check)",
            "systemd-analyze is not installed",
        );
    }

    // The shipped tree goes in when there is none ...
    let root_repo = repo_root();
    for f in [
        "jail.conf",
        "fail2ban.conf",
        "filter.d/sshd.conf",
        "action.d/iptables.conf",
        "jail.d/tor-netscan.conf",
    ] {
        assert_eq!(
            fs::read(confdir.join(f)).unwrap_or_default(),
            fs::read(root_repo.join(f)).expect("repo file"),
            "{f} not installed as shipped"
        );
    }
    // ... and an existing one is never touched.
    fs::write(confdir.join("jail.conf"), "# the admin's own\n").expect("edit jail.conf");
    fs::remove_file(confdir.join("filter.d/sshd.conf")).expect("remove a filter");
    install();
    assert_eq!(
        fs::read_to_string(confdir.join("jail.conf")).expect("jail.conf"),
        "# the admin's own\n"
    );
    assert!(
        !confdir.join("filter.d/sshd.conf").exists(),
        "install.sh rewrote an existing tree"
    );
}

#[test]
fn shipped_actions_resolve_like_stock_ones() {
    let test = "shipped_actions_resolve_like_stock_ones";
    if !reference_present(test) {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("x.log");
    fs::write(&log, "").expect("log");
    // One jail per shipped action, with its defaults and with typical arguments; the filter does
    // not matter here.
    let uses = [
        "iptables",
        "iptables[name=web, port=http, protocol=tcp, chain=FORWARD, blocktype=DROP]",
        "iptables-multiport[port=\"ssh,smtp\", protocol=\"tcp,udp\"]",
        "iptables-allports[lockingopt=, returntype=DROP]",
        "nftables",
        "nftables-multiport[port=\"http,https\"]",
        "nftables-allports[blocktype=drop, table_family=ip]",
        "ufw",
        "ufw[application=OpenSSH, kill-mode=ss]",
        "dummy[target=/tmp/bans.txt]",
    ];
    let mut local = String::new();
    for (i, action) in uses.iter().enumerate() {
        local.push_str(&format!(
            "[t{i}]\nenabled = true\nfilter = portscan\nlogpath = {}\naction = {action}\n\n",
            log.display()
        ));
    }
    let dump = |base: &str, make: &dyn Fn(&Path)| {
        let t = tmp.path().join(base);
        make(&t);
        clear_jail_d(&t);
        // The stock tree has no portscan filter: give both trees the same one.
        fs::write(
            t.join("filter.d/portscan.conf"),
            "[Definition]\nfailregex = ^x <HOST>$\n",
        )
        .expect("filter");
        fs::write(t.join("jail.local"), &local).expect("jail.local");
        Dump::of(&t)
    };
    let ours = dump("ours", &our_tree);
    let stock = dump("stock", &stock_tree);
    for (i, action) in uses.iter().enumerate() {
        let jail = format!("t{i}");
        let action_records = |d: &Dump| -> Vec<String> {
            d.records
                .iter()
                .filter(|r| r.starts_with(&format!("action\t{jail}\t")))
                .cloned()
                .collect()
        };
        let reference = action_records(&stock);
        assert!(reference.len() >= 5, "stock {action}: {reference:?}");
        assert_eq!(
            action_records(&ours),
            reference,
            "action {action} resolves differently"
        );
    }
}

/// Inside a private network namespace: start a server on a tree, feed it failures from an IPv4
/// and an IPv6 address, print the firewall state once both are banned (`== banned ==`), stop the
/// server and print it again (`== stopped ==`). Arguments: tree, log file, server, client.
const FIREWALL_SCENARIO: &str = r#"
set -u
tree=$1 log=$2 server=$3 client=$4
state() {
    iptables -w -S; ip6tables -w -S
    nft list ruleset
}
"$server" -xf -c "$tree" start > "$tree/server.out" 2>&1 &
pid=$!
n=0
until "$client" -c "$tree" ping >/dev/null 2>&1; do
    n=$((n + 1)); [ $n -gt 150 ] && { echo "server did not start"; cat "$tree/server.out"; exit 1; }
    sleep 0.1
done
now=$(date '+%b %e %H:%M:%S')
for i in 1 2 3; do
    echo "$now fw sshd[10$i]: Failed password for root from 192.0.2.10 port 4000$i ssh2" >> "$log"
    echo "$now fw sshd[20$i]: Failed password for root from 2001:db8::10 port 5000$i ssh2" >> "$log"
done
n=0
until [ "$(nft list set inet f2b-table addr6-set-nft 2>/dev/null | grep -c 2001:db8::10)" = 1 ] &&
      ip6tables -w -S f2b-ipt 2>/dev/null | grep -q 2001:db8::10 &&
      iptables -w -S f2b-allp 2>/dev/null | grep -q 192.0.2.10; do
    n=$((n + 1)); [ $n -gt 150 ] && { echo "no bans"; cat "$tree/server.log"; state; "$client" -c "$tree" stop; exit 1; }
    sleep 0.1
done
echo "== banned =="
state
"$client" -c "$tree" stop > /dev/null
wait $pid
echo "== stopped =="
state
"#;

#[test]
fn shipped_firewall_actions_ban_in_a_network_namespace() {
    let test = "shipped_firewall_actions_ban_in_a_network_namespace";
    if !reference_present(test) || !have("fail2ban-server") {
        skip(test, "fail2ban-server is not installed");
        return;
    }
    firewall_scenario(
        test,
        Path::new("fail2ban-server"),
        Path::new("fail2ban-client"),
    );
}

#[test]
fn shipped_firewall_actions_ban_with_f2b() {
    let test = "shipped_firewall_actions_ban_with_f2b";
    let built =
        f2b::bin_dir().join("f2b-server").is_file() && f2b::bin_dir().join("f2b-client").is_file();
    if std::env::var_os("F2B_BIN_DIR").is_none() && !built {
        skip(
            test,
            "f2b-server / f2b-client not built (cargo build --release)",
        );
        return;
    }
    firewall_scenario(test, &f2b::bin("f2b-server"), &f2b::bin("f2b-client"));
}

/// iptables-multiport, iptables-allports and nftables-multiport jails banning an IPv4 and an IPv6
/// address, then stopping, inside a private network namespace.
fn firewall_scenario(test: &str, server: &Path, client: &Path) {
    for program in ["unshare", "iptables", "ip6tables", "nft"] {
        if !have(program) {
            skip(test, &format!("{program} is not installed"));
            return;
        }
    }
    // Never touch this machine's firewall: everything below runs in a new network namespace.
    if !Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        skip(
            test,
            "cannot create a network namespace here (needs root / CAP_SYS_ADMIN)",
        );
        return;
    }
    // The kernel side (netfilter modules) may be missing in a container even when the tools are not.
    let usable = Command::new("unshare")
        .args([
            "-n",
            "sh",
            "-c",
            "iptables -w -S && ip6tables -w -S && nft list ruleset",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !usable.is_ok_and(|s| s.success()) {
        skip(
            test,
            "iptables / ip6tables / nft do not work in a network namespace here",
        );
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = tmp.path().join("tree");
    our_tree(&tree);
    clear_jail_d(&tree);
    let log = tmp.path().join("auth.log");
    fs::write(&log, "").expect("log");
    let t = tree.display();
    fs::write(
        tree.join("fail2ban.local"),
        format!("[DEFAULT]\nlogtarget = {t}/server.log\nsocket = {t}/f2b.sock\npidfile = {t}/f2b.pid\ndbfile = {t}/f2b.sqlite3\n"),
    )
    .expect("fail2ban.local");
    let jail = |name: &str, action: &str| {
        format!(
            "[{name}]\nenabled = true\nfilter = sshd\nlogpath = {}\nbackend = polling\nusedns = no\nmaxretry = 3\naction = {action}\n\n",
            log.display()
        )
    };
    let local = [
        jail("ipt", "iptables-multiport[name=ipt, port=\"ssh,http\"]"),
        jail("allp", "iptables-allports[name=allp, protocol=\"tcp,udp\"]"),
        jail("nft", "nftables-multiport[name=nft, port=ssh]"),
    ]
    .concat();
    fs::write(tree.join("jail.local"), local).expect("jail.local");

    let out = run(Command::new("unshare")
        .args(["-n", "sh", "-c", FIREWALL_SCENARIO, "scenario"])
        .arg(&tree)
        .arg(&log)
        .arg(server)
        .arg(client));
    let text = String::from_utf8_lossy(&out.stdout);
    let (banned, stopped) = text
        .split_once("== stopped ==")
        .unwrap_or_else(|| panic!("scenario did not finish:\n{text}"));
    let banned = banned.split_once("== banned ==").map_or(banned, |(_, b)| b);
    for expected in [
        // iptables-multiport: the hook for both named ports, the v4 and v6 ban rules.
        "-A INPUT -p tcp -m multiport --dports 22,80 -j f2b-ipt",
        "-A f2b-ipt -s 192.0.2.10/32 -j REJECT --reject-with icmp-port-unreachable",
        "-A f2b-ipt -s 2001:db8::10/128 -j REJECT --reject-with icmp6-port-unreachable",
        "-A f2b-ipt -j RETURN",
        // iptables-allports: one hook per protocol.
        "-A INPUT -p tcp -j f2b-allp",
        "-A INPUT -p udp -j f2b-allp",
        "-A f2b-allp -s 192.0.2.10/32 -j REJECT --reject-with icmp-port-unreachable",
        // nftables-multiport: named sets per family, a rule for each.
        "set addr-set-nft",
        "set addr6-set-nft",
        "192.0.2.10",
        "2001:db8::10",
        "ip saddr @addr-set-nft reject",
        "ip6 saddr @addr6-set-nft reject",
    ] {
        assert!(
            banned.contains(expected),
            "after the bans, missing `{expected}` in:\n{banned}"
        );
    }
    // Stopping removes every trace: chains, hooks, sets and the table.
    for gone in ["f2b-", "addr-set", "addr6-set"] {
        assert!(
            !stopped.contains(gone),
            "after stop, `{gone}` is still there:\n{stopped}"
        );
    }
}

#[test]
fn filter_prefixes_match_stock_for_files_and_journal() {
    let test = "filter_prefixes_match_stock_for_files_and_journal";
    if !reference_present(test) {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("x.log");
    fs::write(&log, "").expect("log");
    // Each shipped filter that stock also has, read from a file and from the journal: the
    // resolved prefix regex and date pattern must be stock's, character for character.
    let mut local = String::new();
    for (jail, filter, backend) in [
        ("sf", "sshd", "polling"),
        ("sj", "sshd", "systemd"),
        ("sa", "sshd[mode=aggressive]", "systemd"),
        ("rf", "recidive", "polling"),
        ("rj", "recidive", "systemd"),
    ] {
        local.push_str(&format!(
            "[{jail}]\nenabled = true\nfilter = {filter}\nbackend = {backend}\nlogpath = {}\naction = dummy\n\n",
            log.display()
        ));
    }
    let dump = |base: &str, make: &dyn Fn(&Path)| {
        let t = tmp.path().join(base);
        make(&t);
        clear_jail_d(&t);
        fs::write(t.join("jail.local"), &local).expect("jail.local");
        Dump::of(&t)
    };
    let ours = dump("ours", &our_tree);
    let stock = dump("stock", &stock_tree);
    for jail in ["sf", "sj", "sa", "rf", "rj"] {
        let options = ["prefregex", "datepattern", "maxlines"];
        let reference = stock.settings(jail, &options);
        assert!(
            !reference.is_empty(),
            "stock jail {jail} has none of {options:?}"
        );
        assert_eq!(ours.settings(jail, &options), reference, "jail {jail}");
    }
    // sshd's journal match is stock's too (recidive's also names f2b.service).
    assert_eq!(
        ours.settings("sj", &["addjournalmatch"]),
        stock.settings("sj", &["addjournalmatch"])
    );
}

/// A server (fail2ban's or ours) running on a tree in a temporary directory, stopped on drop.
struct RunningServer {
    tree: PathBuf,
    client: PathBuf,
    child: std::process::Child,
}

impl RunningServer {
    /// Point the server's files into the tree, start `server -xf`, wait until it answers.
    fn start(tree: &Path, server: &Path, client: &Path) -> RunningServer {
        let t = tree.display();
        fs::write(
            tree.join("fail2ban.local"),
            format!("[DEFAULT]\nlogtarget = {t}/server.log\nsocket = {t}/f2b.sock\npidfile = {t}/f2b.pid\ndbfile = {t}/f2b.sqlite3\n"),
        )
        .expect("fail2ban.local");
        let child = Command::new(server)
            .arg("-xf")
            .arg("-c")
            .arg(tree)
            .arg("start")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", server.display()));
        let running = RunningServer {
            tree: tree.to_path_buf(),
            client: client.to_path_buf(),
            child,
        };
        let up = wait_for(|| running.client(&["ping"]).status.success());
        assert!(
            up,
            "server did not answer; its log:\n{}",
            fs::read_to_string(tree.join("server.log")).unwrap_or_default()
        );
        running
    }

    fn client(&self, args: &[&str]) -> Output {
        Command::new(&self.client)
            .arg("-c")
            .arg(&self.tree)
            .args(args)
            .output()
            .expect("run client")
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.client(&["stop"]);
        if !wait_for(|| matches!(self.child.try_wait(), Ok(Some(_)))) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Poll `done` every 100 ms for up to 15 s.
fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..150 {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

/// Syslog lines stamped now, as sshd writes failed password attempts.
fn failed_logins(from: &str, count: usize) -> String {
    let now = Command::new("date")
        .arg("+%b %e %H:%M:%S")
        .output()
        .expect("date");
    let now = String::from_utf8_lossy(&now.stdout).trim_end().to_string();
    (0..count)
        .map(|i| {
            format!(
                "{now} mx sshd[{}]: Failed password for root from {from} port {} ssh2\n",
                300 + i,
                40000 + i
            )
        })
        .collect()
}

#[test]
fn mail_shortcut_sends_a_notice_with_log_lines_and_whois() {
    let test = "mail_shortcut_sends_a_notice_with_log_lines_and_whois";
    if !reference_present(test) {
        return;
    }
    if !have("fail2ban-server") {
        skip(test, "fail2ban-server is not installed");
        return;
    }
    mail_scenario(Path::new("fail2ban-server"), Path::new("fail2ban-client"));
}

#[test]
fn mail_shortcut_works_with_f2b() {
    let test = "mail_shortcut_works_with_f2b";
    let built =
        f2b::bin_dir().join("f2b-server").is_file() && f2b::bin_dir().join("f2b-client").is_file();
    if std::env::var_os("F2B_BIN_DIR").is_none() && !built {
        skip(
            test,
            "f2b-server / f2b-client not built (cargo build --release)",
        );
        return;
    }
    mail_scenario(&f2b::bin("f2b-server"), &f2b::bin("f2b-client"));
}

/// action_mwl on the sshd jail: two failures, one ban, one notice mailed through a stand-in
/// mailer, with the log lines and a stand-in whois record.
fn mail_scenario(server_program: &Path, client_program: &Path) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = tmp.path().join("tree");
    our_tree(&tree);
    clear_jail_d(&tree);
    let log = tmp.path().join("auth.log");
    fs::write(&log, "").expect("log");
    let mail = tmp.path().join("mail.txt");
    let whois = tmp.path().join("whois");
    fs::write(&whois, "#!/bin/sh\necho \"whois record of $1\"\n").expect("whois");
    run(Command::new("chmod").arg("0755").arg(&whois));
    // The firewall part of action_mwl is the dummy action; mailer and whois are stand-ins that
    // write where the test can read, set the way an admin would: in .local files.
    fs::write(
        tree.join("action.d/dummy.local"),
        format!(
            "[Init]\ntarget = {}\n",
            tmp.path().join("bans.txt").display()
        ),
    )
    .expect("dummy.local");
    fs::write(
        tree.join("action.d/sendmail-common.local"),
        format!("[Init]\nmailcmd = cat >> {}\n", mail.display()),
    )
    .expect("sendmail-common.local");
    fs::write(
        tree.join("action.d/sendmail-whois.local"),
        format!("[Init]\nwhois = {}\n", whois.display()),
    )
    .expect("sendmail-whois.local");
    fs::write(
        tree.join("jail.local"),
        format!(
            "[DEFAULT]\nbanaction = dummy\n\n[sshd]\nenabled = true\nlogpath = {}\nbackend = polling\nusedns = no\n\
             maxretry = 2\ndestemail = admin@example.org\nsender = f2b@example.org\naction = %(action_mwl)s\n",
            log.display()
        ),
    )
    .expect("jail.local");

    let server = RunningServer::start(&tree, server_program, client_program);
    let lines = failed_logins("192.0.2.77", 2);
    fs::write(&log, &lines).expect("append log");
    let sent = wait_for(|| fs::read_to_string(&mail).is_ok_and(|m| m.contains("whois record of")));
    drop(server);
    let text = fs::read_to_string(&mail).unwrap_or_default();
    assert!(sent, "no complete notice mailed:\n{text}");
    for expected in [
        "Subject: [f2b] sshd: banned 192.0.2.77 from ",
        "From: Fail2Ban <f2b@example.org>",
        "To: admin@example.org",
        "The jail sshd banned 192.0.2.77 after 2 failures.",
        "whois record of 192.0.2.77",
    ] {
        assert!(
            text.contains(expected),
            "notice lacks `{expected}`:\n{text}"
        );
    }
    // The log lines about the address are quoted, and only those.
    for line in lines.lines() {
        assert!(
            text.contains(line),
            "notice lacks the log line `{line}`:\n{text}"
        );
    }
    // Headers, a blank line, then the body: a mailer reads it as a message.
    let (head, _) = text.split_once("\n\n").expect("header/body separator");
    assert!(
        head.lines().all(|l| l.contains(": ")),
        "bad header block:\n{head}"
    );
}

/// Inside private network and mount namespaces, with a copy of /etc/ufw mounted over the real
/// one: start a server with the tor-netscan jail reading a file, write a burst of outgoing
/// connections to port 22 (and a few to an unwatched port), print ufw's user rules once port 22
/// is rejected (`== banned ==`), unban it, print them again (`== unbanned ==`).
/// Arguments: tree, log file, server, client, ufw copy.
const TOR_NETSCAN_SCENARIO: &str = r#"
set -u
tree=$1 log=$2 server=$3 client=$4 ufw=$5
mount --make-rprivate / && mount --bind "$ufw" /etc/ufw || { echo "cannot mount a private /etc/ufw"; exit 3; }
"$server" -xf -c "$tree" start > "$tree/server.out" 2>&1 &
pid=$!
finish() { "$client" -c "$tree" stop > /dev/null 2>&1; wait $pid; }
n=0
until "$client" -c "$tree" ping >/dev/null 2>&1; do
    n=$((n + 1)); [ $n -gt 150 ] && { echo "server did not start"; cat "$tree/server.out"; exit 1; }
    sleep 0.1
done
now=$(date '+%b %e %H:%M:%S')
i=0
while [ $i -lt 25 ]; do
    echo "$now relay kernel: [123456.$((100000 + i))] [UFW AUDIT] IN= OUT=eth0 SRC=198.51.100.1 DST=203.0.113.$i LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=$i DF PROTO=TCP SPT=$((40000 + i)) DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0"
    [ $i -lt 5 ] && echo "$now relay kernel: [123456.$((200000 + i))] [UFW AUDIT] IN= OUT=eth0 SRC=198.51.100.1 DST=203.0.113.$i LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=$i DF PROTO=TCP SPT=$((50000 + i)) DPT=2222 WINDOW=64240 RES=0x00 SYN URGP=0"
    i=$((i + 1))
done >> "$log"
n=0
until grep -q -- '--dport 22 ' /etc/ufw/user.rules; do
    n=$((n + 1)); [ $n -gt 150 ] && { echo "no ban"; cat "$tree/server.log"; finish; exit 1; }
    sleep 0.1
done
echo "== banned =="
cat /etc/ufw/user.rules
"$client" -c "$tree" status tor-netscan
"$client" -c "$tree" set tor-netscan unbanip 22 > /dev/null
n=0
while grep -q -- '--dport 22 ' /etc/ufw/user.rules; do
    n=$((n + 1)); [ $n -gt 150 ] && { echo "no unban"; finish; exit 1; }
    sleep 0.1
done
echo "== unbanned =="
cat /etc/ufw/user.rules
finish
"#;

#[test]
fn tor_netscan_rejects_the_port_through_ufw() {
    let test = "tor_netscan_rejects_the_port_through_ufw";
    if !reference_present(test) || !have("fail2ban-server") {
        skip(test, "fail2ban-server is not installed");
        return;
    }
    tor_netscan_scenario(
        test,
        Path::new("fail2ban-server"),
        Path::new("fail2ban-client"),
    );
}

#[test]
fn tor_netscan_rejects_the_port_through_ufw_with_f2b() {
    let test = "tor_netscan_rejects_the_port_through_ufw_with_f2b";
    let built =
        f2b::bin_dir().join("f2b-server").is_file() && f2b::bin_dir().join("f2b-client").is_file();
    if std::env::var_os("F2B_BIN_DIR").is_none() && !built {
        skip(
            test,
            "f2b-server / f2b-client not built (cargo build --release)",
        );
        return;
    }
    tor_netscan_scenario(test, &f2b::bin("f2b-server"), &f2b::bin("f2b-client"));
}

/// The shipped tor-netscan jail (filter, thresholds, ufw action) with only its log source
/// switched from the journal to a file, against real ufw in private namespaces.
fn tor_netscan_scenario(test: &str, server: &Path, client: &Path) {
    for program in ["unshare", "ufw", "iptables"] {
        if !have(program) {
            skip(test, &format!("{program} is not installed"));
            return;
        }
    }
    if !Path::new("/etc/ufw/user.rules").is_file() {
        skip(test, "no /etc/ufw/user.rules to copy");
        return;
    }
    // Never touch this machine's firewall or ufw rules: private network and mount namespaces,
    // and ufw reads and writes a copy of /etc/ufw.
    if !Command::new("unshare")
        .args(["-n", "-m", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        skip(
            test,
            "cannot create network/mount namespaces here (needs root / CAP_SYS_ADMIN)",
        );
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let ufw = tmp.path().join("ufw");
    run(Command::new("cp").arg("-a").arg("/etc/ufw").arg(&ufw));
    let tree = tmp.path().join("tree");
    our_tree(&tree);
    clear_jail_d(&tree);
    let log = tmp.path().join("kern.log");
    fs::write(&log, "").expect("log");
    let t = tree.display();
    fs::write(
        tree.join("fail2ban.local"),
        format!("[DEFAULT]\nlogtarget = {t}/server.log\nsocket = {t}/f2b.sock\npidfile = {t}/f2b.pid\ndbfile = {t}/f2b.sqlite3\n"),
    )
    .expect("fail2ban.local");
    fs::write(
        tree.join("jail.local"),
        format!(
            "[tor-netscan]\nenabled = true\nbackend = polling\nlogpath = {}\n",
            log.display()
        ),
    )
    .expect("jail.local");

    let out = run(Command::new("unshare")
        .args(["-n", "-m", "sh", "-c", TOR_NETSCAN_SCENARIO, "scenario"])
        .arg(&tree)
        .arg(&log)
        .arg(server)
        .arg(client)
        .arg(&ufw));
    let text = String::from_utf8_lossy(&out.stdout);
    let (banned, unbanned) = text
        .split_once("== unbanned ==")
        .unwrap_or_else(|| panic!("scenario did not finish:\n{text}"));
    let banned = banned.split_once("== banned ==").map_or(banned, |(_, b)| b);
    for expected in [
        "-A ufw-user-output -p tcp --dport 22 -j REJECT --reject-with tcp-reset",
        "-A ufw-user-output -p udp --dport 22 -j REJECT",
        "### tuple ### reject any 22 0.0.0.0/0 any 0.0.0.0/0 out comment=",
        "Banned IP list:\t22",
    ] {
        assert!(
            banned.contains(expected),
            "after the ban, missing `{expected}` in:\n{banned}"
        );
    }
    assert!(
        !banned.contains("--dport 2222"),
        "the unwatched port was rejected:\n{banned}"
    );
    assert!(
        !unbanned.contains("--dport 22 "),
        "port 22 is still rejected after the unban:\n{unbanned}"
    );
}
