//! Reading one log file: line assembly, encodings, bounds, start positions, restarts.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::Command;

use f2b_backend::{FilePosition, FileTailer, LogEncoding, StartPos};

fn append(path: &Path, data: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(data).unwrap();
}

fn read(t: &mut FileTailer) -> Vec<String> {
    let mut v = Vec::new();
    t.read_available(&mut v).unwrap();
    v
}

#[test]
fn partial_last_line_is_held_until_complete() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    append(&p, b"one\ntw");
    let mut t = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
    assert_eq!(read(&mut t), ["one"]);
    assert_eq!(t.position().pos, 4);
    assert_eq!(read(&mut t), Vec::<String>::new());
    append(&p, b"o");
    assert_eq!(read(&mut t), Vec::<String>::new());
    append(&p, b"\r\nthree\n\nfour\r\r\n");
    assert_eq!(read(&mut t), ["two", "three", "", "four"]);
    assert_eq!(t.position().pos, fs::metadata(&p).unwrap().len());
}

#[test]
fn invalid_bytes_never_stop_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    append(&p, b"ok \xff\xfe end\nsrc=\xc3\xa9t\xc3\n\x00nul\n");
    let mut t = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
    assert_eq!(
        read(&mut t),
        ["ok \u{FFFD}\u{FFFD} end", "src=\u{e9}t\u{FFFD}", "\u{0}nul"]
    );

    let mut t =
        FileTailer::open(&p, StartPos::Head, LogEncoding::parse("latin-1").unwrap()).unwrap();
    assert_eq!(
        read(&mut t),
        ["ok \u{ff}\u{fe} end", "src=\u{c3}\u{a9}t\u{c3}", "\u{0}nul"]
    );
}

/// The same bytes through Python's decoder with errors='replace', as fail2ban decodes a line
/// it could not decode strictly.
#[test]
fn utf8_replacement_matches_python() {
    let samples: [&[u8]; 5] = [
        b"a\xffb",
        b"\xe2\x82",
        b"\xf0\x9f\x98",
        b"\xed\xa0\x80x",
        b"\xc0\xafz\xf5\x80",
    ];
    let have_python = Command::new("python3")
        .arg("-c")
        .arg("pass")
        .status()
        .is_ok_and(|s| s.success());
    if !have_python {
        eprintln!("SKIP: python3 not available");
        return;
    }
    for s in samples {
        let hex: String = s.iter().map(|b| format!("{b:02x}")).collect();
        let out = Command::new("python3")
            .arg("-c")
            .arg(format!("import sys; sys.stdout.buffer.write(bytes.fromhex('{hex}').decode('utf-8', 'replace').encode('utf-8'))"))
            .output()
            .unwrap();
        assert_eq!(
            LogEncoding::Utf8.decode(s),
            String::from_utf8(out.stdout).unwrap(),
            "{hex}"
        );
    }
}

#[test]
fn long_lines_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    let long = vec![b'x'; 3_000_000];
    append(&p, b"before\n");
    append(&p, &long[..1_000_000]);
    let mut t = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
    t.set_max_line(1000);
    // The long line is cut at the bound as soon as the bound is exceeded; the rest is skipped.
    let got = read(&mut t);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], "before");
    assert_eq!(got[1].len(), 1000);
    append(&p, &long[1_000_000..]);
    append(&p, b"\nafter\n");
    assert_eq!(read(&mut t), ["after"]);

    // No bound at all: the 3 MB line comes whole.
    let mut u = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
    u.set_max_line(usize::MAX);
    let got = read(&mut u);
    assert_eq!(
        got.iter().map(String::len).collect::<Vec<_>>(),
        [6, 3_000_000, 5]
    );

    // A long line completed within one read is cut the same way.
    append(&p, &long[..5000]);
    append(&p, b"\nnext\n");
    let got = read(&mut t);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].len(), 1000);
    assert_eq!(got[1], "next");
}

#[test]
fn head_and_tail_starts() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    append(&p, b"old 1\nold 2\nhalf-writ");
    let mut head = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
    let mut tail = FileTailer::open(&p, StartPos::Tail, LogEncoding::Utf8).unwrap();
    assert_eq!(read(&mut head), ["old 1", "old 2"]);
    assert_eq!(read(&mut tail), Vec::<String>::new());
    append(&p, b"ten\nnew\n");
    assert_eq!(read(&mut head), ["half-written", "new"]);
    // The line that was being written when tail reading started is not ours.
    assert_eq!(read(&mut tail), ["new"]);
}

#[test]
fn position_hash_is_fail2bans_first_line_md5() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    append(&p, b"first line\r\n");
    append(&p, b"second\n");
    let t = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("head -n1 '{}' | md5sum", p.display()))
        .output()
        .unwrap();
    let want = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        t.position().first_line_md5,
        want.split_whitespace().next().unwrap()
    );

    // No complete first line yet: no hash, as in fail2ban's database.
    let q = dir.path().join("partial");
    append(&q, b"no newline");
    let mut t = FileTailer::open(&q, StartPos::Head, LogEncoding::Utf8).unwrap();
    assert_eq!(t.position().first_line_md5, "");
    append(&q, b"\n");
    assert_eq!(read(&mut t), ["no newline"]);
    assert_eq!(t.position().first_line_md5.len(), 32);
}

#[test]
fn restart_resumes_at_saved_position() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    for i in 0..1000 {
        append(&p, format!("line {i}\n").as_bytes());
    }
    append(&p, b"line 10"); // half a line when we stop
    let mut t = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
    assert_eq!(read(&mut t).len(), 1000);
    let saved = t.position();
    drop(t);

    append(&p, b"00\n");
    for i in 1001..1500 {
        append(&p, format!("line {i}\n").as_bytes());
    }
    let mut t = FileTailer::open(
        &p,
        StartPos::At {
            pos: saved.pos,
            first_line_md5: saved.first_line_md5.clone(),
        },
        LogEncoding::Utf8,
    )
    .unwrap();
    let got = read(&mut t);
    let want: Vec<String> = (1000..1500).map(|i| format!("line {i}")).collect();
    assert_eq!(got, want);

    // The file was replaced meanwhile (other first line): read from the start.
    fs::remove_file(&p).unwrap();
    append(&p, b"another file\nsecond\n");
    let mut t = FileTailer::open(
        &p,
        StartPos::At {
            pos: saved.pos,
            first_line_md5: saved.first_line_md5.clone(),
        },
        LogEncoding::Utf8,
    )
    .unwrap();
    assert_eq!(read(&mut t), ["another file", "second"]);

    // Same first line but shorter than the saved offset (truncated): from the start too.
    fs::remove_file(&p).unwrap();
    append(&p, b"line 0\nline 1\n");
    let mut t = FileTailer::open(
        &p,
        StartPos::At {
            pos: saved.pos,
            first_line_md5: saved.first_line_md5,
        },
        LogEncoding::Utf8,
    )
    .unwrap();
    assert_eq!(read(&mut t), ["line 0", "line 1"]);
}

#[test]
fn saved_position_not_at_a_line_start_skips_the_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    append(&p, b"aaaa\nbbbb\ncccc\n");
    let md5 = f2b_backend::first_line_md5(&File::open(&p).unwrap()).unwrap();
    let mut t = FileTailer::open(
        &p,
        StartPos::At {
            pos: 7,
            first_line_md5: md5,
        },
        LogEncoding::Utf8,
    )
    .unwrap();
    assert_eq!(read(&mut t), ["cccc"]);
    assert_eq!(
        t.position(),
        FilePosition {
            pos: 15,
            first_line_md5: t.position().first_line_md5
        }
    );
}

#[test]
fn missing_file_is_an_error_and_deleted_file_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    assert!(FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).is_err());
    assert!(FileTailer::open(dir.path(), StartPos::Head, LogEncoding::Utf8).is_err());
    append(&p, b"a\n");
    let mut t = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
    assert_eq!(read(&mut t), ["a"]);
    fs::remove_file(&p).unwrap();
    assert_eq!(read(&mut t), Vec::<String>::new());
    append(&p, b"b\n");
    assert_eq!(read(&mut t), ["b"]);
    assert_eq!(t.rotations(), 1);
}

#[test]
fn globs_are_expanded_sorted() {
    let dir = tempfile::tempdir().unwrap();
    for n in ["b.log", "a.log", ".hidden.log", "c.txt"] {
        append(&dir.path().join(n), b"x\n");
    }
    let pat = format!("{}/*.log", dir.path().display());
    let got = f2b_backend::expand_globs(&[pat.clone(), pat]);
    let names: Vec<_> = got
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.log", "b.log"]);
}

#[test]
fn seek_to_time_skips_old_lines_but_never_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    let mut text = String::new();
    for i in 0..200_000u64 {
        if i % 1000 == 7 {
            text.push_str("an undated continuation line\n");
        }
        text.push_str(&format!(
            "{} host sshd[1]: message {i}\n",
            1_700_000_000 + i
        ));
    }
    fs::write(&p, &text).unwrap();
    let date_of = &mut |l: &str| l.split(' ').next()?.parse::<f64>().ok();
    for target in [0u64, 1, 123_456, 199_999, 250_000] {
        let mut t = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
        t.seek_to_time((1_700_000_000 + target) as f64, date_of)
            .unwrap();
        let lines = read(&mut t);
        let dated: Vec<u64> = lines
            .iter()
            .filter_map(|l| date_of(l))
            .map(|t| t as u64 - 1_700_000_000)
            .collect();
        let new = dated.iter().filter(|&&d| d >= target).count() as u64;
        assert_eq!(new, 200_000u64.saturating_sub(target), "target {target}");
        let old_bytes: usize = lines
            .iter()
            .filter(|l| date_of(l).is_some_and(|d| (d as u64) < 1_700_000_000 + target))
            .map(|l| l.len() + 1)
            .sum();
        assert!(
            old_bytes <= 80 * 1024,
            "target {target}: {old_bytes} bytes of old lines"
        );
    }
}

/// The same bytes through fail2ban's own FileContainer: the lines must be identical.
#[test]
fn lines_match_fail2bans_file_container() {
    let py = "/usr/bin/python3";
    let ok = Command::new(py)
        .args(["-c", "import fail2ban.server.filter"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIP: fail2ban (python3) not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    let mut data: Vec<u8> = Vec::new();
    data.extend_from_slice(b"plain line\n");
    data.extend_from_slice(b"crlf line\r\n");
    data.extend_from_slice(b"two crs\r\r\n");
    data.extend_from_slice(b"\n");
    data.extend_from_slice(b"cr \r inside\n");
    data.extend_from_slice(b"utf8 caf\xc3\xa9 \xe2\x82\xac\n");
    data.extend_from_slice(b"invalid \xff\xfe \xc3( \xed\xa0\x80 \xf0\x9f\x98 end\n");
    data.extend_from_slice(b"latin1 caf\xe9\n");
    data.extend_from_slice(b"nul \x00 byte\ttab\x1b[0m\n");
    data.extend_from_slice(b"no newline at the end");
    fs::write(&p, &data).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fail2ban_file.py");
    for (enc, name) in [
        (LogEncoding::Utf8, "utf-8"),
        (LogEncoding::Latin1, "latin-1"),
        (LogEncoding::Ascii, "ascii"),
    ] {
        let out = Command::new(py)
            .arg(&script)
            .arg(name)
            .arg(&p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // json.dumps escapes non-ASCII as \uXXXX: decode with a tiny JSON string reader.
        let theirs: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(json_string)
            .collect();
        let mut t = FileTailer::open(&p, StartPos::Head, enc).unwrap();
        assert_eq!(read(&mut t), theirs, "{name}");
    }
}

fn json_string(l: &str) -> String {
    let s = &l[1..l.len() - 1];
    let mut out = String::new();
    let mut chars = s.chars();
    let mut pending_high: Option<u32> = None;
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next().unwrap() {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                let cp = u32::from_str_radix(&hex, 16).unwrap();
                match (pending_high.take(), cp) {
                    (None, 0xD800..=0xDBFF) => pending_high = Some(cp),
                    (Some(hi), 0xDC00..=0xDFFF) => out.push(
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (cp - 0xDC00)).unwrap(),
                    ),
                    (_, cp) => out.push(char::from_u32(cp).unwrap_or('\u{FFFD}')),
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Stopped, then the file was rotated and written to: the rest of the old generation (now
/// `log.1`) is read first, then the new file from its head.
#[test]
fn restart_across_a_rotation_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    for i in 0..100 {
        append(&p, format!("line {i}\n").as_bytes());
    }
    let mut t = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
    assert_eq!(read(&mut t).len(), 100);
    let saved = t.position();
    drop(t);
    for i in 100..150 {
        append(&p, format!("line {i}\n").as_bytes());
    }
    fs::rename(&p, dir.path().join("log.1")).unwrap();
    for i in 150..200 {
        append(&p, format!("line {i}\n").as_bytes());
    }
    let mut t = FileTailer::open(
        &p,
        StartPos::At {
            pos: saved.pos,
            first_line_md5: saved.first_line_md5,
        },
        LogEncoding::Utf8,
    )
    .unwrap();
    let want: Vec<String> = (100..200).map(|i| format!("line {i}")).collect();
    assert_eq!(read(&mut t), want);
    assert_eq!(read(&mut t), Vec::<String>::new());
}
