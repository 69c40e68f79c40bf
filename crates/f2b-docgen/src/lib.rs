//! Man pages and shell completions of f2b-client, f2b-regex and f2b-server, generated from
//! the programs' own command-line definitions so they cannot drift from them.
//!
//! f2b-client's and f2b-regex's clap structs are compiled in from their source files; option
//! help comes from the usage text each program prints. f2b-server parses its options by hand,
//! so its page is built from its usage text, with each option checked against its parser.
//! The output is committed under `dist/` (`man/`, `completions/`) and installed by
//! `dist/install.sh`; a test regenerates it and compares.
//!
//! It deliberately renders nothing at run time of the programs and owns none of their
//! definitions: a change of an option belongs in the program, then `f2b-docgen` is rerun.

pub mod man;
pub mod programs;
pub mod usage;

use std::path::{Path, PathBuf};

use clap_complete::{Generator, Shell};

/// The shells completions are written for.
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

#[derive(Debug, thiserror::Error)]
pub enum DocgenError {
    /// A program's usage text and its command line disagree.
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One generated file: its path under `dist/` and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub path: PathBuf,
    pub content: Vec<u8>,
}

/// Every generated file, in a stable order: `man/NAME.1` and, per shell,
/// `completions/NAME.bash`, `completions/_NAME` (zsh), `completions/NAME.fish`.
pub fn outputs() -> Result<Vec<Output>, DocgenError> {
    let mut out = Vec::new();
    for p in programs::all()? {
        out.push(Output {
            path: Path::new("man").join(format!("{}.1", p.name)),
            content: man::render(&p),
        });
        for shell in SHELLS {
            let mut cmd = p.completion.clone();
            let mut content = Vec::new();
            clap_complete::generate(shell, &mut cmd, p.name, &mut content);
            if shell == Shell::Bash {
                content = bash_case_names(content, p.name);
            }
            out.push(Output {
                path: Path::new("completions").join(shell.file_name(p.name)),
                content,
            });
        }
    }
    Ok(out)
}

/// clap_complete 4.6 names the bash cases of a hyphenated program's subcommands with the
/// hyphen spelled `__subcmd__` (`f2b__subcmd__client__subcmd__set`) but sets `cmd` to the
/// hyphen spelled `__` (`f2b__client__subcmd__set`), so no subcommand case ever matched and
/// `f2b-client set <TAB>` offered nothing. The case names are brought to the `cmd` spelling.
fn bash_case_names(script: Vec<u8>, name: &str) -> Vec<u8> {
    let wrong = name.replace('-', "__subcmd__");
    let right = name.replace('-', "__");
    match String::from_utf8(script) {
        Ok(text) if wrong != right => text.replace(&wrong, &right).into_bytes(),
        Ok(text) => text.into_bytes(),
        Err(e) => e.into_bytes(),
    }
}

/// The directories under `dist/` that hold only generated files.
pub const GENERATED_DIRS: [&str; 2] = ["man", "completions"];

/// Writes every output under `dist`, creating `man/` and `completions/`.
pub fn write_all(dist: &Path) -> Result<Vec<PathBuf>, DocgenError> {
    let mut written = Vec::new();
    for o in outputs()? {
        let path = dist.join(&o.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| DocgenError::Io {
                path: dir.into(),
                source,
            })?;
        }
        std::fs::write(&path, &o.content).map_err(|source| DocgenError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Files under `dist` that differ from what would be generated: missing, different, or
/// present in a generated directory without being generated. Empty when `dist` is current.
pub fn stale(dist: &Path) -> Result<Vec<PathBuf>, DocgenError> {
    let outs = outputs()?;
    let mut bad = Vec::new();
    for o in &outs {
        let path = dist.join(&o.path);
        if std::fs::read(&path).ok().as_deref() != Some(&o.content[..]) {
            bad.push(path);
        }
    }
    for dir in GENERATED_DIRS {
        let Ok(entries) = std::fs::read_dir(dist.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let rel = Path::new(dir).join(e.file_name());
            if !outs.iter().any(|o| o.path == rel) {
                bad.push(dist.join(rel));
            }
        }
    }
    bad.sort();
    Ok(bad)
}
