//! Splitting a line into words as Python's `shlex.split(line)` does (POSIX mode, no comments),
//! which fail2ban applies to `journalmatch` values and to the lines of the interactive client.
//!
//! The rules, observed from Python 3's `shlex`:
//! - words are separated by runs of space, tab, carriage return and newline only (other
//!   Unicode spaces are part of a word);
//! - outside quotes a backslash takes the next character literally (a newline included);
//! - inside `'...'` every character is literal;
//! - inside `"..."` a backslash escapes only `"` and `\`; before any other character it stays
//!   (`"a\$b"` is `a\$b`, unlike a POSIX shell);
//! - quoted parts join the word around them (`a"b"'c'` is `abc`), and `''` is an empty word.

/// Why a line cannot be split; the texts are Python's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("No closing quotation")]
    NoClosingQuotation,
    #[error("No escaped character")]
    NoEscapedCharacter,
}

fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// The words of `line`, as `shlex.split(line)`.
pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if is_separator(c) => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                cur.push(chars.next().ok_or(SplitError::NoEscapedCharacter)?);
                in_word = true;
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(SplitError::NoClosingQuotation),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\')) => cur.push(x),
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x);
                            }
                            None => return Err(SplitError::NoEscapedCharacter),
                        },
                        Some(x) => cur.push(x),
                        None => return Err(SplitError::NoClosingQuotation),
                    }
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        split(s).unwrap()
    }

    // Expected values are what python3's shlex.split returns for the same input.
    #[test]
    fn words_quotes_and_escapes() {
        assert_eq!(
            w("  set sshd  banip 1.2.3.4 "),
            ["set", "sshd", "banip", "1.2.3.4"]
        );
        assert_eq!(
            w(r#"set sshd addfailregex "^x \"y\" \d <HOST>$""#),
            ["set", "sshd", "addfailregex", r#"^x "y" \d <HOST>$"#]
        );
        assert_eq!(w("a 'b c' '' d\\ e"), ["a", "b c", "", "d e"]);
        assert_eq!(w("a'b'\"c\""), ["abc"]);
        assert_eq!(
            w(r#"_SYSTEMD_UNIT=sshd.service + _COMM="a b" 'c d' e\ f"#),
            ["_SYSTEMD_UNIT=sshd.service", "+", "_COMM=a b", "c d", "e f"]
        );
        assert!(w("").is_empty());
        assert!(w(" \t\r\n").is_empty());
    }

    #[test]
    fn where_python_differs_from_a_shell() {
        assert_eq!(w(r#""a\$b""#), [r"a\$b"]);
        assert_eq!(w(r#""a\\b""#), [r"a\b"]);
        assert_eq!(w(r#"'a\b'"#), [r"a\b"]);
        assert_eq!(w("a\\\nb"), ["a\nb"]);
        // only space, tab, CR and LF separate words
        assert_eq!(
            w("a\u{b}b a\u{c}b a\u{a0}b"),
            ["a\u{b}b", "a\u{c}b", "a\u{a0}b"]
        );
    }

    #[test]
    fn errors() {
        assert_eq!(split("'open"), Err(SplitError::NoClosingQuotation));
        assert_eq!(split("\"open"), Err(SplitError::NoClosingQuotation));
        assert_eq!(split("\"open\\"), Err(SplitError::NoEscapedCharacter));
        assert_eq!(split("trail\\"), Err(SplitError::NoEscapedCharacter));
        assert_eq!(
            SplitError::NoClosingQuotation.to_string(),
            "No closing quotation"
        );
    }
}
