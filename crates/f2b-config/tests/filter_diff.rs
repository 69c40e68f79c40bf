//! `load_filter` against fail2ban's own FilterReader (driven the way fail2ban-regex drives it),
//! over every stock filter and every filter of the conformance corpus, with and without
//! arguments, for file and journal backends.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Reads `confdir<TAB>spec<TAB>backend` lines, prints each resolved filter as `key<TAB>value`
/// lines followed by `=== end`.
const PY: &str = r#"
import sys, os
sys.path.insert(0, "/usr/lib/python3/dist-packages")
from fail2ban.client.filterreader import FilterReader
from fail2ban.helpers import extractOptions
def one(conf, value, backend):
    basedir = conf
    name, opts = extractOptions(value)
    tries = (name,) if "." in name[~5:] else (name, name + '.conf', name + '.local')
    found = None
    for f in tries:
        if "/" not in f:
            f = os.path.join(basedir, f) if os.path.basename(basedir) == 'filter.d' else os.path.join(basedir, 'filter.d', f)
        else:
            basedir = os.path.dirname(f)
        if os.path.isfile(f):
            found = f
            break
    if found is None:
        return ["ERROR"]
    if basedir == conf or os.path.basename(basedir) == 'filter.d' or ("." not in name[~5:] and "/" not in name):
        if os.path.basename(basedir) == 'filter.d':
            basedir = os.path.dirname(basedir)
        name = os.path.splitext(os.path.basename(name))[0]
    else:
        basedir = None
    r = FilterReader(name, 'fail2ban-regex-jail', opts, share_config=dict(), basedir=basedir)
    if basedir is not None:
        ok = r.read()
    else:
        r.setBaseDir(None)
        ok = r.readexplicit()
    if not ok:
        return ["ERROR"]
    r.applyAutoOptions(backend)
    r.getOptions(None)
    o = r.getCombined()
    esc = lambda s: str(s).replace('\n', '\\n')
    out = []
    if o.get('prefregex') is not None: out.append("prefregex\t" + esc(o['prefregex']))
    for k in ('failregex', 'ignoreregex'):
        for x in (o.get(k) or '').split('\n'):
            if x: out.append(k + "\t" + esc(x))
    if o.get('maxlines') is not None: out.append("maxlines\t%s" % o['maxlines'])
    if o.get('datepattern') is not None: out.append("datepattern\t" + esc(o['datepattern']))
    for x in (o.get('journalmatch') or '').split('\n'):
        if x: out.append("journalmatch\t" + esc(x))
    return out
for line in sys.stdin:
    conf, spec, backend = line.rstrip('\n').split('\t')
    try:
        res = one(conf, spec, backend)
    except Exception:
        res = ["ERROR"]
    print("\n".join(res + ["=== end"]), flush=True)
"#;

fn ours(conf: &Path, spec: &str, backend: &str) -> Vec<String> {
    let opts = vec![("backend".to_string(), backend.to_string())];
    let Ok(f) = f2b_config::load_filter(conf, spec, &opts) else {
        return vec!["ERROR".into()];
    };
    let esc = |s: &str| s.replace('\n', "\\n");
    let mut out = Vec::new();
    if let Some(p) = &f.prefregex {
        out.push(format!("prefregex\t{}", esc(p)));
    }
    out.extend(f.failregex.iter().map(|r| format!("failregex\t{}", esc(r))));
    out.extend(
        f.ignoreregex
            .iter()
            .map(|r| format!("ignoreregex\t{}", esc(r))),
    );
    if let Some(m) = f.maxlines {
        out.push(format!("maxlines\t{m}"));
    }
    if let Some(d) = &f.datepattern {
        out.push(format!("datepattern\t{}", esc(d)));
    }
    out.extend(
        f.journalmatch
            .iter()
            .map(|r| format!("journalmatch\t{}", esc(r))),
    );
    out
}

#[test]
fn filters_resolve_like_fail2ban() {
    if !Path::new("/usr/lib/python3/dist-packages/fail2ban/client/filterreader.py").is_file()
        || !Path::new("/usr/bin/python3").is_file()
    {
        eprintln!("SKIP: fail2ban's Python package is not installed (apt-get install fail2ban)");
        return;
    }
    let mut cases: Vec<(PathBuf, String, &str)> = Vec::new();
    let dev = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/dev");
    for conf in [PathBuf::from("/etc/fail2ban"), dev] {
        let Ok(rd) = std::fs::read_dir(conf.join("filter.d")) else {
            continue;
        };
        let mut names: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
        names.sort();
        for p in names {
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            for backend in ["auto", "systemd"] {
                cases.push((conf.clone(), stem.clone(), backend));
                cases.push((conf.clone(), format!("{stem}[mode=aggressive]"), backend));
                cases.push((conf.clone(), p.to_string_lossy().to_string(), backend));
            }
        }
    }
    assert!(cases.len() > 300, "only {} cases", cases.len());
    let mut child = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(PY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let mut input = String::new();
    for (c, s, b) in &cases {
        input.push_str(&format!("{}\t{s}\t{b}\n", c.display()));
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut blocks: Vec<Vec<String>> = text
        .split("=== end\n")
        .map(|b| b.lines().map(str::to_string).collect())
        .collect();
    // The text ends with a terminator: the piece after it is not a block.
    blocks.pop();
    assert_eq!(
        blocks.len(),
        cases.len(),
        "reference answered {} of {} cases",
        blocks.len(),
        cases.len()
    );
    let mut bad = 0;
    for ((c, s, b), want) in cases.iter().zip(&blocks) {
        let got = ours(c, s, b);
        if &got != want {
            bad += 1;
            if bad < 5 {
                eprintln!(
                    "{} {s} {b}:\n  fail2ban: {:?}\n  f2b:      {:?}",
                    c.display(),
                    want.first(),
                    got.first()
                );
            }
        }
    }
    assert_eq!(
        bad,
        0,
        "{bad} of {} filters resolve differently",
        cases.len()
    );
}
