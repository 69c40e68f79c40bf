//! Splitting an interactive command line into words as Python's `shlex.split` (POSIX mode,
//! no comments) does.

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("No closing quotation")]
    NoClosingQuotation,
    #[error("No escaped character")]
    NoEscapedCharacter,
}

pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
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
                        // Inside double quotes a backslash only escapes `"` and itself.
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\')) => cur.push(x),
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x);
                            }
                            None => return Err(SplitError::NoClosingQuotation),
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

    #[test]
    fn splits_like_python() {
        let w = |s: &str| split(s).unwrap();
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
        assert_eq!(split("'open"), Err(SplitError::NoClosingQuotation));
        assert_eq!(split("trail\\"), Err(SplitError::NoEscapedCharacter));
    }
}
