//! The committed man pages and completions under dist/ are what f2b-docgen generates today,
//! and they work: bash completes with them, groff renders the pages without a warning.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const DOCGEN: &str = env!("CARGO_BIN_EXE_f2b-docgen");
const PROGRAMS: [&str; 3] = ["f2b-client", "f2b-regex", "f2b-server"];

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist")
}

/// Relative paths of the files in the generated directories under `root`, sorted.
fn listing(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["man", "completions"] {
        for e in fs::read_dir(root.join(dir))
            .expect("generated dir")
            .flatten()
        {
            out.push(Path::new(dir).join(e.file_name()));
        }
    }
    out.sort();
    out
}

#[test]
fn committed_files_are_current() {
    let tmp = tempfile::tempdir().unwrap();
    let st = Command::new(DOCGEN).arg(tmp.path()).status().unwrap();
    assert!(st.success());
    let fresh = listing(tmp.path());
    assert_eq!(fresh.len(), 12, "{fresh:?}");
    assert_eq!(
        listing(&dist()),
        fresh,
        "dist/ holds other files than f2b-docgen writes"
    );
    for rel in &fresh {
        let committed = fs::read(dist().join(rel)).unwrap();
        let generated = fs::read(tmp.path().join(rel)).unwrap();
        assert!(
            committed == generated,
            "dist/{} is stale: run `cargo run -p f2b-docgen` and commit dist/",
            rel.display()
        );
    }
}

#[test]
fn check_mode_names_stale_and_stray_files() {
    let st = Command::new(DOCGEN)
        .arg("--check")
        .arg(dist())
        .status()
        .unwrap();
    assert!(st.success(), "dist/ is stale");
    let tmp = tempfile::tempdir().unwrap();
    assert!(Command::new(DOCGEN)
        .arg(tmp.path())
        .status()
        .unwrap()
        .success());
    let page = tmp.path().join("man/f2b-client.1");
    let mut text = fs::read(&page).unwrap();
    text.extend_from_slice(b".\\\" edited by hand\n");
    fs::write(&page, text).unwrap();
    fs::write(tmp.path().join("completions/old-name.bash"), "").unwrap();
    fs::remove_file(tmp.path().join("completions/_f2b-server")).unwrap();
    let out = Command::new(DOCGEN)
        .arg("--check")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for name in [
        "man/f2b-client.1",
        "completions/old-name.bash",
        "completions/_f2b-server",
    ] {
        assert!(err.contains(name), "{name} not reported: {err}");
    }
    assert!(!err.contains("f2b-regex"), "{err}");
}

#[test]
fn man_pages_render_without_warnings_and_hold_the_options() {
    if Command::new("groff").arg("-v").output().is_err() {
        eprintln!("SKIP man page rendering: groff is not installed");
        return;
    }
    for (p, option, text) in [
        ("f2b-client", "--socket", "socket path"),
        (
            "f2b-regex",
            "--datepattern",
            "set custom pattern used to match date/times",
        ),
        (
            "f2b-server",
            "--str2sec",
            "convert time abbreviation format to seconds",
        ),
    ] {
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-rLL=200n"])
            .arg(dist().join(format!("man/{p}.1")))
            .env("LC_ALL", "C.UTF-8")
            .output()
            .unwrap();
        assert!(out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.trim().is_empty(), "{p}: groff warns: {err}");
        // Strip overstrike bold/underline so the text can be searched.
        let raw = String::from_utf8_lossy(&out.stdout);
        let mut plain = String::new();
        for c in raw.chars() {
            if c == '\u{8}' {
                plain.pop();
            } else {
                plain.push(c);
            }
        }
        let plain = plain.replace(['\u{2010}', '\u{2212}'], "-");
        assert!(
            plain.contains(&format!("{p} - ")),
            "{p}: no NAME line:\n{plain}"
        );
        assert!(
            plain.contains(option) && plain.contains(text),
            "{p}: {option} / {text} missing:\n{plain}"
        );
    }
}

/// Runs the bash completion function of `program` on the words typed so far and returns the
/// candidates it offers.
fn bash_complete(program: &str, words: &[&str]) -> Vec<String> {
    let script = format!(
        "source {file}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; \
         COMP_POINT=${{#COMP_LINE}}; fn=$(complete -p {program} | sed -E 's/.*-F ([^ ]+).*/\\1/'); \
         \"$fn\" {program} \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file = dist().join(format!("completions/{program}.bash")).display(),
        words = words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" "),
        cword = words.len() - 1,
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bash_completes_options_of_each_program() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("SKIP bash completion: bash is not installed");
        return;
    }
    assert_eq!(
        bash_complete("f2b-client", &["f2b-client", "--soc"]),
        vec!["--socket"]
    );
    assert_eq!(
        bash_complete("f2b-regex", &["f2b-regex", "--print-all-m"]),
        vec!["--print-all-matched", "--print-all-missed"]
    );
    assert_eq!(
        bash_complete("f2b-server", &["f2b-server", "--str"]),
        vec!["--str2sec"]
    );
    // f2b-client's command words, and the literal words after `set`/`get`.
    assert_eq!(
        bash_complete("f2b-client", &["f2b-client", "sta"]),
        vec!["start", "status"]
    );
    assert_eq!(
        bash_complete("f2b-client", &["f2b-client", "-c", "/etc/fail2ban", "pi"]),
        vec!["ping"]
    );
    assert_eq!(
        bash_complete("f2b-client", &["f2b-client", "set", "logt"]),
        vec!["logtarget"]
    );
    assert_eq!(
        bash_complete("f2b-client", &["f2b-client", "get", "db"]),
        vec!["dbfile", "dbmaxmatches", "dbpurgeage"]
    );
    let all = bash_complete("f2b-server", &["f2b-server", "-"]);
    for flag in ["-c", "--conf", "-x", "--async", "--timeout"] {
        assert!(all.iter().any(|w| w == flag), "{flag} not offered: {all:?}");
    }
}

#[test]
fn every_program_has_a_page_and_three_completions() {
    for p in PROGRAMS {
        for rel in [
            format!("man/{p}.1"),
            format!("completions/{p}.bash"),
            format!("completions/_{p}"),
            format!("completions/{p}.fish"),
        ] {
            // roff writes a hyphen as `\-`.
            let text = fs::read_to_string(dist().join(&rel))
                .unwrap_or_default()
                .replace("\\-", "-");
            assert!(text.contains(p), "dist/{rel} missing or not about {p}");
        }
    }
}

/// Whether `shell` runs here; prints the skip reason when it does not.
fn have(shell: &str) -> bool {
    let ok = Command::new(shell)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIP {shell} completion: {shell} is not installed");
    }
    ok
}

#[test]
fn fish_completes_options_of_each_program() {
    if !have("fish") {
        return;
    }
    for (p, typed, want) in [
        ("f2b-client", "f2b-client --soc", "--socket\tsocket path"),
        ("f2b-regex", "f2b-regex --journalm", "--journalmatch\t"),
        (
            "f2b-server",
            "f2b-server --str",
            "--str2sec\tconvert time abbreviation format to seconds",
        ),
        (
            "f2b-client",
            "f2b-client pi",
            "ping\ttests if the server is alive",
        ),
        (
            "f2b-client",
            "f2b-client set dbpu",
            "dbpurgeage\tsets the max age in <SECONDS>",
        ),
    ] {
        let file = dist().join(format!("completions/{p}.fish"));
        let script = format!("source '{}'; complete -C '{typed}'", file.display());
        let out = Command::new("fish")
            .args(["--no-config", "-c", &script])
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(got.lines().count(), 1, "{p}: {got:?}");
        assert!(got.starts_with(want), "{p}: {got:?}");
    }
}

#[test]
fn zsh_loads_the_completion_functions_from_fpath() {
    if !have("zsh") {
        return;
    }
    let dir = dist().join("completions");
    for p in PROGRAMS {
        let st = Command::new("zsh")
            .arg("-n")
            .arg(dir.join(format!("_{p}")))
            .status()
            .unwrap();
        assert!(st.success(), "_{p} is not valid zsh");
    }
    let script = format!(
        "fpath=('{}' $fpath); autoload -U compinit; compinit -D -u; \
         print -r -- $_comps[f2b-client] $_comps[f2b-regex] $_comps[f2b-server]",
        dir.display()
    );
    let out = Command::new("zsh")
        .args(["-f", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "_f2b-client _f2b-regex _f2b-server"
    );
}
