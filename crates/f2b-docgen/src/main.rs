//! `f2b-docgen`: writes the man pages and shell completions under `dist/` (or checks them).
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "f2b-docgen",
    about = "Generate the f2b man pages and shell completions"
)]
struct Cli {
    /// Compare instead of writing; exit 1 and name each stale file
    #[arg(long)]
    check: bool,
    /// The dist directory (default: the repository's dist/)
    dist: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dist = cli
        .dist
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../dist")));
    if cli.check {
        match f2b_docgen::stale(&dist) {
            Ok(bad) if bad.is_empty() => ExitCode::SUCCESS,
            Ok(bad) => {
                for p in bad {
                    eprintln!("f2b-docgen: stale: {}", p.display());
                }
                eprintln!("f2b-docgen: run `cargo run -p f2b-docgen` and commit the result");
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("f2b-docgen: {e}");
                ExitCode::from(2)
            }
        }
    } else {
        match f2b_docgen::write_all(&dist) {
            Ok(paths) => {
                for p in paths {
                    println!("wrote {}", p.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("f2b-docgen: {e}");
                ExitCode::from(2)
            }
        }
    }
}
