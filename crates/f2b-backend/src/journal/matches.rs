//! `journalmatch`: journalctl-style matches, as fail2ban reads them.
//!
//! Each line of the setting is one group of words (split like a POSIX shell splits them); a
//! word `+` starts an alternative. Every alternative of every line is OR-ed; the words of one
//! alternative combine as libsystemd combines matches (same field: OR, different fields: AND).

use crate::BackendError;

/// Splits a `journalmatch` value into its lines' words.
pub fn parse_journalmatch(value: &str) -> Result<Vec<Vec<String>>, BackendError> {
    let mut out = Vec::new();
    for line in value.split('\n') {
        if line.is_empty() {
            continue;
        }
        // fail2ban splits each line with Python's shlex; so does f2b_config::shlex.
        let words = f2b_config::shlex::split(line)
            .map_err(|e| BackendError::JournalMatchSyntax(format!("{e} in {line:?}")))?;
        if !words.is_empty() {
            validate(&words)?;
            out.push(words);
        }
    }
    Ok(out)
}

/// Checks every word is `+` or `FIELD=value` with a field name libsystemd accepts.
pub fn validate<S: AsRef<str>>(words: &[S]) -> Result<(), BackendError> {
    for w in words {
        let w = w.as_ref();
        if w == "+" {
            continue;
        }
        let ok = match w.split_once('=') {
            Some((field, _)) => {
                !field.is_empty()
                    && !field.starts_with(|c: char| c.is_ascii_digit())
                    && field
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            }
            None => false,
        };
        if !ok {
            return Err(BackendError::BadJournalMatch(w.to_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_alternatives() {
        let m = parse_journalmatch("_SYSTEMD_UNIT=sshd.service + _COMM=sshd\n_TRANSPORT=kernel")
            .unwrap();
        assert_eq!(
            m,
            vec![
                vec!["_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd"],
                vec!["_TRANSPORT=kernel"]
            ]
        );
        let m = parse_journalmatch("MESSAGE='a b'").unwrap();
        assert_eq!(m, vec![vec!["MESSAGE=a b"]]);
        assert!(parse_journalmatch("sshd").is_err());
        assert!(parse_journalmatch("_comm=x").is_err());
        assert!(parse_journalmatch("A='x").is_err());
        let odd = "_COMM=\"é\\\" x\" + 'ü' \\";
        for (i, _) in odd.char_indices() {
            let _ = parse_journalmatch(&odd[..i]);
        }
    }
}
