//! Shared support for the integration tests in `tests/`: where the release binaries are, the
//! shared corpus beside the repository, and a uniform way to skip with a printed reason.
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Directory holding the built binaries: `$F2B_BIN_DIR`, else `target/release`.
pub fn bin_dir() -> PathBuf {
    match std::env::var_os("F2B_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => repo_root().join("target/release"),
    }
}

/// Path of one of our binaries; panics with a clear instruction when it was not built, because a
/// test that silently skips on a missing binary of ours would hide a broken build.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.is_file(),
        "{} not found: run `cargo build --release` first (or set F2B_BIN_DIR)",
        p.display()
    );
    p
}

/// `../shared` beside the repository, when present.
pub fn shared_dir() -> Option<PathBuf> {
    let p = repo_root().join("../shared");
    p.is_dir().then(|| p.canonicalize().unwrap_or(p))
}

/// Print why a test does not run here, in one recognisable form.
pub fn skip(test: &str, why: &str) {
    eprintln!("SKIP {test}: {why}");
}

/// Whether an external program is on PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| is_exe(&d.join(program))))
        .unwrap_or(false)
}

fn is_exe(p: &Path) -> bool {
    p.is_file()
}
