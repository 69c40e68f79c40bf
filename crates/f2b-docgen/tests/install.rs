//! dist/install.sh installs the generated man pages and completions where man, bash, zsh and
//! fish look for them (staged with DESTDIR; the programs are stand-ins, only copied).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist")
}

#[test]
fn install_puts_man_pages_and_completions_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let from = tmp.path().join("bin");
    fs::create_dir(&from).unwrap();
    for p in ["f2b-server", "f2b-client", "f2b-regex"] {
        let exe = from.join(p);
        fs::write(&exe, format!("#!/bin/sh\necho {p}\n")).unwrap();
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let root = tmp.path().join("root");
    let out = Command::new("sh")
        .arg(dist().join("install.sh"))
        .args([
            "--from",
            from.to_str().unwrap(),
            "--prefix",
            "/usr",
            "--no-unit",
        ])
        .env("DESTDIR", &root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("installed the man pages in /usr/share/man/man1"),
        "{stdout}"
    );
    for p in ["f2b-server", "f2b-client", "f2b-regex"] {
        for (installed, source) in [
            (format!("usr/share/man/man1/{p}.1"), format!("man/{p}.1")),
            (
                format!("usr/share/bash-completion/completions/{p}"),
                format!("completions/{p}.bash"),
            ),
            (
                format!("usr/share/zsh/site-functions/_{p}"),
                format!("completions/_{p}"),
            ),
            (
                format!("usr/share/fish/vendor_completions.d/{p}.fish"),
                format!("completions/{p}.fish"),
            ),
        ] {
            let path = root.join(&installed);
            let got = fs::read(&path).unwrap_or_else(|e| panic!("{installed}: {e}"));
            assert!(
                got == fs::read(dist().join(&source)).unwrap(),
                "{installed} differs from dist/{source}"
            );
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "{installed}");
        }
    }
    // man finds the staged page by name through MANPATH.
    if Command::new("man")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let out = Command::new("man")
            .args(["-w", "f2b-client"])
            .env("MANPATH", root.join("usr/share/man"))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            root.join("usr/share/man/man1/f2b-client.1")
                .display()
                .to_string()
        );
    } else {
        eprintln!("SKIP man lookup: man is not installed");
    }
}
