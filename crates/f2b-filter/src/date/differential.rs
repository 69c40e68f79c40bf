//! Differential test against the installed fail2ban (its Python DateDetector), on the sample logs
//! of shared/compat/dev and on a list of tricky lines, with the test clock and zone. Skips with a
//! printed reason when python3 with fail2ban or the shared samples are absent.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::*;

const TEST_TZ: &str = "CET-01CEST-02,M3.5.0,M10.5.0";
const NOW: f64 = 1124013600.0;

/// Runs fail2ban's detector over jobs and prints one record per line, then the template stats.
const DRIVER: &str = r#"
import sys, json, re
from fail2ban.server.mytime import MyTime
MyTime.setTime(float(sys.argv[1]))
from fail2ban.server.datedetector import DateDetector
mode = sys.argv[2]
if mode == "patterns":
    import os
    from fail2ban.client.filterreader import FilterReader
    base = sys.argv[3]
    for f in sorted(os.listdir(os.path.join(base, "filter.d"))):
        if not f.endswith(".conf") or f.endswith("common.conf"):
            continue
        try:
            fr = FilterReader(f[:-5], "j", {}, share_config={}, basedir=base)
            fr.read(); fr.getOptions({})
            for c in fr.convert():
                if len(c) > 3 and c[2] == "datepattern":
                    print(f[:-5] + "\t" + json.dumps(c[3]))
        except Exception as e:
            pass
    sys.exit(0)
jobs = json.load(sys.stdin)
out = []
for job in jobs:
    dd = DateDetector()
    if job["tz"] is not None:
        dd.default_tz = job["tz"]
    if job["pattern"] is not None:
        for p in filter(bool, map(str.strip, re.split("\n+", job["pattern"]))):
            dd.appendTemplate(p)
    for line in job["lines"]:
        try:
            m, t = dd.matchTime(line)
            if not m:
                out.append("N")
                continue
            s, e = m.start(1), m.end(1)
            d = dd.getTime(line[s:e], (m, t)) if e > s else None
            if d is None:
                out.append("R\t%d\t%d\tNone\t0\t%s" % (s, e, t.name))
            else:
                out.append("R\t%d\t%d\t%r\t%d\t%s" % (s, e, d[0], isinstance(d[0], int), t.name))
        except Exception as ex:
            out.append("E\t%s" % type(ex).__name__)
    for t in dd.templates:
        out.append("S\t%d\t%s" % (t.hits, t.name))
    out.append("J")
sys.stdout.write("\n".join(out) + "\n")
"#;

fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import fail2ban.server.datedetector"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn shared_dev() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/dev")
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Decodes a JSON string literal as Python's json.dumps writes it.
fn json_unstr(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut it = inner.chars();
    let mut pending_high: Option<u32> = None;
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'u' => {
                let hex: String = it.by_ref().take(4).collect();
                let v = u32::from_str_radix(&hex, 16).ok()?;
                if (0xD800..0xDC00).contains(&v) {
                    pending_high = Some(v);
                } else if let Some(h) = pending_high.take() {
                    out.push(char::from_u32(
                        0x10000 + ((h - 0xD800) << 10) + (v - 0xDC00),
                    )?);
                } else {
                    out.push(char::from_u32(v)?);
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

struct Job {
    label: String,
    pattern: Option<String>,
    tz: Option<String>,
    lines: Vec<String>,
}

fn run_python(py: &str, jobs: &[Job]) -> Vec<String> {
    let mut input = String::from("[");
    for (i, j) in jobs.iter().enumerate() {
        if i > 0 {
            input.push(',');
        }
        let lines: Vec<String> = j.lines.iter().map(|l| json_str(l)).collect();
        input.push_str(&format!(
            "{{\"pattern\":{},\"tz\":{},\"lines\":[{}]}}",
            j.pattern.as_deref().map_or("null".to_string(), json_str),
            j.tz.as_deref().map_or("null".to_string(), json_str),
            lines.join(",")
        ));
    }
    input.push(']');
    let mut child = Command::new(py)
        .args(["-c", DRIVER, &NOW.to_string(), "run"])
        .env("TZ", TEST_TZ)
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {py}: {e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("python: {e}"));
    let _ = writer.join();
    assert!(out.status.success(), "python driver failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn filter_patterns(py: &str, dev: &Path) -> Vec<(String, String)> {
    let out = Command::new(py)
        .args([
            "-c",
            DRIVER,
            &NOW.to_string(),
            "patterns",
            &dev.to_string_lossy(),
        ])
        .env("TZ", TEST_TZ)
        .output()
        .unwrap_or_else(|e| panic!("python: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (n, p) = l.split_once('\t')?;
            Some((n.to_string(), json_unstr(p)?))
        })
        .collect()
}

/// Our record for a line, in the driver's format.
fn ours(dd: &mut DateDetector, line: &str) -> String {
    match dd.find_inner(line, NOW) {
        None => "N".to_string(),
        Some((idx, span, computed)) => {
            let s = line[..span.start].chars().count();
            let e = s + line[span.clone()].chars().count();
            let name = &dd.entries[idx].template.name;
            match computed {
                None => format!("R\t{s}\t{e}\tNone\t0\t{name}"),
                Some(c) if c.is_int => format!("R\t{s}\t{e}\t{}\t1\t{name}", c.time as i64),
                Some(c) => format!("R\t{s}\t{e}\t{}\t0\t{name}", py_float(c.time)),
            }
        }
    }
}

/// Python's repr of a float for the values at hand.
fn py_float(x: f64) -> String {
    let s = format!("{x:?}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

fn tricky_jobs() -> Vec<Job> {
    let lines: Vec<String> = [
        "Aug 14 11:59:59 host sshd[1]: x",
        "Dec 31 23:59:59 host sshd[1]: x",
        "Aug 15 11:59:59 host x",
        "Aug 15 12:00:01 host x",
        "Feb 29 10:00:00 host x",
        "Sun Aug 14 11:59:59.123456 2005 host x",
        "Aug 14 2005 11:59:59 x",
        "2005-08-14 11:59:59 x",
        "2005-08-14T11:59:59.123+02:00 x",
        "2005-08-14T11:59:59Z x",
        "2005/08/14 11:59:59 x",
        "2005.08.14 11:59:59 x",
        "2005-08/14 11:59:59 x",
        "2005-02-30 11:59:59 x",
        "14/08/2005 11:59:59 x",
        "14-08-05 11:59:59 x",
        "[14/Aug/2005:11:59:59 +0200] x",
        "14-Aug-2005 11:59:59.252 x",
        "08/14/2005:11:59:59 x",
        "08-14-2005 11:59:59.1 x",
        "1124013541 x",
        "[1124013541.123] x",
        "type=AVC msg=audit(1124013541.123:45): x",
        "12:57:32 x",
        "11:59:59 x",
        "<08/14/05@11:59:59> x",
        "050814 11:59:59 x",
        "Aug 14, 2005 11:59:59 PM x",
        "Aug 14, 2005 12:01:00 AM x",
        "Aug-14-05 11:59:59 x",
        "20050814T115959 x",
        "20050814 115959.5 x",
        "PDT Aug 14 11:59:59 x",
        "CEST Aug 14 11:59:59 x",
        "abc Aug 14 11:59:59 x",
        "+0200 Aug 14 11:59:59 x",
        "@4000000042ff15d10000000a x",
        "x @4000000042ff15d10000000a y",
        "2005-03-27 02:30:00 gap",
        "2005-10-30 02:30:00 overlap",
        "2005-10-30 01:59:59 before",
        "Mar 27 02:30:00 gap",
        "prefix Aug 14 11:59:59 x",
        "prefix 2005-08-14 11:59:59 x",
        "srv 2005-08-14 11:59:59 Aug 14 11:59:50 x",
        "no date here",
        "Aug 14 11:59:59 x",
        "x",
        "[Sun Aug 14 11:59:59.123 2005] [error] x",
        "ünïcödé Aug 14 11:59:59 x",
        "2005-08-14 11:59:59,123 x",
        "Aug  4 11:59:59 x",
        "Aug 14 24:59:59 x",
        "Aug 14 11:59:60 x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut jobs = vec![
        Job {
            label: "tricky/default".into(),
            pattern: None,
            tz: None,
            lines: lines.clone(),
        },
        Job {
            label: "tricky/UTC".into(),
            pattern: None,
            tz: Some("UTC".into()),
            lines: lines.clone(),
        },
        Job {
            label: "tricky/+0530".into(),
            pattern: None,
            tz: Some("UTC+0530".into()),
            lines: lines.clone(),
        },
        Job {
            label: "tricky/ln-beg".into(),
            pattern: Some("{^LN-BEG}".into()),
            tz: None,
            lines: lines.clone(),
        },
        Job {
            label: "tricky/date".into(),
            pattern: Some("{DATE}".into()),
            tz: None,
            lines: lines.clone(),
        },
        Job {
            label: "tricky/lepoch".into(),
            pattern: Some("LEPOCH".into()),
            tz: None,
            lines: vec![
                "1124013541123 x".into(),
                "1124013541123456 x".into(),
                "1124013541123.456 x".into(),
                "1124013541 x".into(),
            ],
        },
        Job {
            label: "tricky/epoch-pattern".into(),
            pattern: Some(r"^\[{EPOCH}\]".into()),
            tz: None,
            lines: vec![
                "[1124013541] x".into(),
                "[1124013541.5] x".into(),
                "1124013541 x".into(),
            ],
        },
    ];
    let codes = [
        ("%Y-%m-%d %H:%M:%S", "2005-08-14 11:59:59 x"),
        ("^%y%m%d %H%M%S", "050814 115959 x"),
        ("%d %B %Y %I:%M:%S %p", "14 August 2005 11:59:59 pm x"),
        ("%A %d %b %Y %H:%M:%S", "Sunday 14 Aug 2005 11:59:59 x"),
        ("%Y %j %H:%M:%S", "2005 226 11:59:59 x"),
        ("%j %H:%M:%S", "226 11:59:59 x"),
        ("%Y %W %w %H:%M:%S", "2005 32 0 11:59:59 x"),
        ("%Y %U %a %H:%M:%S", "2005 33 Sun 11:59:59 x"),
        ("%Y-%m-%d %H:%M:%S %Z", "2005-08-14 11:59:59 EST x"),
        ("%Y-%m-%d %H:%M:%S%z", "2005-08-14 11:59:59-0130 x"),
        ("%Y-%m-%d %H:%M:%S %Exz", "2005-08-14 11:59:59 CET+01 x"),
        ("%Y-%m-%d %H:%M:%S %ExZ", "2005-08-14 11:59:59 A x"),
        ("%ExY%Exm%Exd %ExH%ExM%ExS", "20050814 115959 x"),
        ("%Exd/%Exm/%Exy %k:%M", "14/08/05  9:59 x"),
        ("%m/%d %l:%M %p", "08/14  9:59 pm x"),
        ("%b %d %H:%M:%S", "aug 14 11:59:59 x"),
        ("%%%Y-%m-%d %H:%M:%S", "%2005-08-14 11:59:59 x"),
        ("%c", "Sun Aug 14 11:59:59 2005 x"),
        ("%x %X", "08/14/05 11:59:59 x"),
        ("{^LN-BEG}%Y-%m-%d %H:%M", "[[2005-08-14 11:59 x"),
        ("{UNB}%H:%M:%S", "x11:59:59x"),
        ("**%H:%M:%S", "x11:59:59 x"),
        ("%H:%M:%S**", "11:59:59x x"),
        ("^%H:%M:%S$", "11:59:59"),
        ("(?i)%Y-%m-%d %H:%M:%S", "2005-08-14 11:59:59 x"),
        ("%Y-%m-%d (%H):%M:%S", "2005-08-14 11:59:59 x"),
        ("{^LN-BEG}EPOCH", "[1124013541 x"),
        ("^TAI64N", "@4000000042ff15d10000000a x"),
        ("EPOCH\n%Y-%m-%d %H:%M:%S", "2005-08-14 11:59:59 x"),
        ("^<W>{DATE}", "<W>2005-08-14 11:59:59.123 x"),
        ("^[^\\[]*\\[({DATE})", "srv [14/Aug/2005:11:59:59 +0000] x"),
        ("%Y-%m-%d %H:%M:%S", "2005-08-14 11:59:59.123 x"),
        ("%Y-%m-%d %H:%M:%S.%f", "2005-08-14 11:59:59.123 x"),
    ];
    for (p, l) in codes {
        jobs.push(Job {
            label: format!("code {p}"),
            pattern: Some(p.into()),
            tz: None,
            lines: vec![l.into()],
        });
    }
    jobs
}

/// Deterministic pseudo-random lines in many date shapes, valid or not, with random prefixes.
fn random_lines(n: usize) -> Vec<String> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move |m: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % m
    };
    const MON: [&str; 13] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Foo",
    ];
    const DAY: [&str; 8] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "sun"];
    const PRE: [&str; 8] = ["", "", "", "[", "srv ", "- ", "x", "<13>1 "];
    const POST: [&str; 6] = [" x", "", "x", ".123 y", " 2005 z", "Z q"];
    (0..n)
        .map(|_| {
            let y = 1999 + next(35) as i64;
            let (mo, d, h, mi, se) = (1 + next(13), next(33), next(26), next(61), next(62));
            let date = match next(16) {
                0 => format!(
                    "{} {:2} {:02}:{:02}:{:02}",
                    MON[next(13) as usize],
                    d,
                    h,
                    mi,
                    se
                ),
                1 => format!(
                    "{} {} {:02} {:02}:{:02}:{:02} {y}",
                    DAY[next(8) as usize],
                    MON[next(13) as usize],
                    d,
                    h,
                    mi,
                    se
                ),
                2 => format!("{y}-{mo:02}-{d:02} {h:02}:{mi:02}:{se:02}"),
                3 => format!(
                    "{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}.{}{}",
                    next(1_000_000),
                    ["", "Z", "+02:00", " -0130", "+05"][next(5) as usize]
                ),
                4 => format!("{d:02}/{mo:02}/{y} {h:02}:{mi:02}:{se:02}"),
                5 => format!(
                    "{d:02}/{}/{y}:{h:02}:{mi:02}:{se:02} +0{}00",
                    MON[next(13) as usize],
                    next(3)
                ),
                6 => format!("{mo:02}/{d:02}/{y}:{h:02}:{mi:02}:{se:02}"),
                7 => format!("{}", 1_000_000_000 + next(200_000_000)),
                8 => format!("{h:02}:{mi:02}:{se:02}"),
                9 => format!("{:02}{mo:02}{d:02} {h:2}:{mi:02}:{se:02}", y % 100),
                10 => format!(
                    "{} {d:02}, {y} {}:{mi:02}:{se:02} {}",
                    MON[next(13) as usize],
                    1 + next(12),
                    ["AM", "PM", "am"][next(3) as usize]
                ),
                11 => format!("{y}{mo:02}{d:02}T{h:02}{mi:02}{se:02}"),
                12 => format!(
                    "{} {} {d:2} {h:02}:{mi:02}:{se:02}",
                    ["PDT", "CEST", "UTC", "XYZ", "abc"][next(5) as usize],
                    MON[next(13) as usize]
                ),
                13 => format!("@4000000042ff{:012x}", next(1 << 40)),
                14 => format!(
                    "{}-{d:02}-{:02} {h:02}:{mi:02}:{se:02}",
                    MON[next(13) as usize],
                    y % 100
                ),
                _ => format!("{mo:02}-{d:02}-{y} {h:2}:{mi:02}:{se:02}.{}", next(1000)),
            };
            format!(
                "{}{}{}",
                PRE[next(8) as usize],
                date,
                POST[next(6) as usize]
            )
        })
        .collect()
}

#[test]
fn agrees_with_fail2ban() {
    let Some(py) = python() else {
        println!("SKIP agrees_with_fail2ban: python3 with fail2ban is not installed");
        return;
    };
    let tz = TimeZone::posix(TEST_TZ).unwrap_or_else(|e| panic!("{e}"));
    let mut jobs = tricky_jobs();
    let dev = shared_dev();
    let logs = dev.join("logs");
    if let Ok(dir) = std::fs::read_dir(&logs) {
        let patterns = filter_patterns(py, &dev);
        let mut files: Vec<PathBuf> = dir.filter_map(|e| Some(e.ok()?.path())).collect();
        files.sort();
        // All logs interleaved line by line: formats change all the time, which exercises the
        // reordering of templates and the "last template" shortcut.
        let mut mixed: Vec<Vec<String>> = Vec::new();
        for f in files.clone() {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            let lines: Vec<String> = text
                .lines()
                .map(|l| l.trim_end_matches('\r'))
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect();
            mixed.push(lines.clone());
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            jobs.push(Job {
                label: format!("{name}/default"),
                pattern: None,
                tz: None,
                lines: lines.clone(),
            });
            if let Some((_, p)) = patterns.iter().find(|(n, _)| *n == name) {
                jobs.push(Job {
                    label: format!("{name}/{p:?}"),
                    pattern: Some(p.clone()),
                    tz: None,
                    lines,
                });
            }
        }
        let longest = mixed.iter().map(Vec::len).max().unwrap_or(0);
        let interleaved: Vec<String> = (0..longest)
            .flat_map(|i| mixed.iter().filter_map(move |ls| ls.get(i).cloned()))
            .collect();
        for p in [None, Some("{^LN-BEG}"), Some("{DATE}")] {
            jobs.push(Job {
                label: format!("interleaved/{p:?}"),
                pattern: p.map(str::to_string),
                tz: None,
                lines: interleaved.clone(),
            });
        }
    } else {
        println!(
            "note: {} absent, only the built-in lines are compared",
            logs.display()
        );
    }
    let random = random_lines(3000);
    for p in [None, Some("{^LN-BEG}"), Some("{DATE}")] {
        jobs.push(Job {
            label: format!("random/{p:?}"),
            pattern: p.map(str::to_string),
            tz: None,
            lines: random.clone(),
        });
    }
    jobs.push(Job {
        label: "random/UTC-0330".into(),
        pattern: None,
        tz: Some("UTC-0330".into()),
        lines: random.clone(),
    });
    let theirs = run_python(py, &jobs);
    let mut it = theirs.iter();
    let (mut total, mut same, mut stats_same) = (0usize, 0usize, 0usize);
    let mut diffs = Vec::new();
    for job in &jobs {
        let mut dd =
            DateDetector::with_local_zone(job.pattern.as_deref(), job.tz.as_deref(), tz.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", job.label));
        for line in &job.lines {
            let want = it.next().cloned().unwrap_or_default();
            let got = ours(&mut dd, line);
            total += 1;
            // fail2ban raises on an unknown zone abbreviation; we report no time.
            let equal = got == want || (want.starts_with('E') && got.contains("\tNone\t"));
            if equal {
                same += 1;
            } else {
                diffs.push(format!(
                    "{}: {line:?}\n   fail2ban: {want}\n   f2b:      {got}",
                    job.label
                ));
            }
        }
        let mut want_stats = Vec::new();
        for l in it.by_ref() {
            if l == "J" {
                break;
            }
            if let Some(rest) = l.strip_prefix("S\t") {
                want_stats.push(rest.to_string());
            }
        }
        let got_stats: Vec<String> = dd
            .template_stats()
            .iter()
            .map(|(n, h)| format!("{h}\t{n}"))
            .collect();
        if got_stats == want_stats {
            stats_same += 1;
        } else {
            diffs.push(format!("{}: template order/hits differ\n   fail2ban: {want_stats:?}\n   f2b:      {got_stats:?}", job.label));
        }
    }
    println!("date detector agreement with fail2ban: {same}/{total} lines, {stats_same}/{} template lists", jobs.len());
    for d in diffs.iter().take(40) {
        println!("{d}");
    }
    assert!(diffs.is_empty(), "{} differences (see output)", diffs.len());
}
