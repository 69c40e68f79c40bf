//! Re-expanding `logpath` globs (on reload, or to pick up files created since).

use std::path::PathBuf;

/// Expands each pattern the way Python's `glob.glob` does for fail2ban (hidden files are matched
/// only by patterns that start with a dot; a pattern without wildcards yields itself only if it
/// exists). The result is sorted and free of duplicates.
pub fn expand_globs<S: AsRef<str>>(patterns: &[S]) -> Vec<PathBuf> {
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let mut out: Vec<PathBuf> = patterns
        .iter()
        .filter_map(|p| glob::glob_with(p.as_ref(), opts).ok())
        .flat_map(|paths| paths.filter_map(Result::ok))
        .collect();
    out.sort();
    out.dedup();
    out
}
