//! `logencoding`: turning the raw bytes of a log line into text.
//!
//! fail2ban decodes each line strictly and, when that fails, decodes it again replacing every
//! invalid sequence by U+FFFD (it logs a warning and keeps the line). We do the same: a line is
//! never dropped and never stops the reader because of its bytes.

use std::borrow::Cow;

use crate::BackendError;

/// A text encoding a log file may be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogEncoding {
    Utf8,
    Latin1,
    Ascii,
    Cp1252,
}

impl LogEncoding {
    /// Parses a `logencoding` value. `auto` means the locale's encoding, as fail2ban does.
    /// Names are matched the way Python's codec registry matches them (case, `-`, `_` and
    /// spaces do not matter).
    pub fn parse(name: &str) -> Result<LogEncoding, BackendError> {
        let norm: String = name
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        Ok(match norm.as_str() {
            "auto" => Self::from_locale(),
            "utf8" | "u8" | "utf" | "cp65001" | "utf8ucs2" | "utf8ucs4" => Self::Utf8,
            "latin1" | "latin" | "l1" | "iso88591" | "iso885911987" | "8859" | "cp819"
            | "isoir100" | "csisolatin1" => Self::Latin1,
            "ascii" | "usascii" | "646" | "ansix3.41968" | "ansix3.41986" | "us" | "iso646us"
            | "cp367" | "csascii" | "ibm367" | "isoir6" => Self::Ascii,
            "cp1252" | "windows1252" => Self::Cp1252,
            _ => return Err(BackendError::UnknownEncoding(name.to_string())),
        })
    }

    /// The encoding of the current locale (`LC_ALL`, `LC_CTYPE`, `LANG`). Python 3 runs in
    /// UTF-8 mode under the C/POSIX locale, so anything that does not name another supported
    /// codeset is UTF-8.
    pub fn from_locale() -> LogEncoding {
        let value = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        let codeset = value
            .split_once('.')
            .map(|(_, c)| c.split('@').next().unwrap_or(""))
            .unwrap_or("");
        match codeset {
            "" => LogEncoding::Utf8,
            c => LogEncoding::parse(c)
                .ok()
                .filter(|e| *e != LogEncoding::Ascii)
                .unwrap_or(LogEncoding::Utf8),
        }
    }

    /// Decodes `bytes`, replacing invalid sequences by U+FFFD (never fails). Borrows when the
    /// bytes are already valid text in this encoding.
    pub fn decode<'a>(&self, bytes: &'a [u8]) -> Cow<'a, str> {
        match self {
            LogEncoding::Utf8 => String::from_utf8_lossy(bytes),
            _ if bytes.is_ascii() => match std::str::from_utf8(bytes) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(bytes),
            },
            LogEncoding::Latin1 => Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
            LogEncoding::Ascii => Cow::Owned(
                bytes
                    .iter()
                    .map(|&b| {
                        if b < 0x80 {
                            b as char
                        } else {
                            char::REPLACEMENT_CHARACTER
                        }
                    })
                    .collect(),
            ),
            LogEncoding::Cp1252 => Cow::Owned(bytes.iter().map(|&b| cp1252_char(b)).collect()),
        }
    }

    /// Whether `bytes` decode without any replacement.
    pub fn is_valid(&self, bytes: &[u8]) -> bool {
        match self {
            LogEncoding::Utf8 => std::str::from_utf8(bytes).is_ok(),
            LogEncoding::Latin1 => true,
            LogEncoding::Ascii => bytes.is_ascii(),
            LogEncoding::Cp1252 => bytes
                .iter()
                .all(|&b| cp1252_char(b) != char::REPLACEMENT_CHARACTER),
        }
    }
}

/// Windows-1252: Latin-1 except 0x80..0x9F, five of which are undefined (Python's codec
/// rejects them, so they become U+FFFD).
fn cp1252_char(b: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{FFFD}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{FFFD}',
        '\u{017D}', '\u{FFFD}', '\u{FFFD}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}',
        '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}',
        '\u{0153}', '\u{FFFD}', '\u{017E}', '\u{0178}',
    ];
    match b {
        0x80..=0x9F => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_python() {
        assert_eq!(LogEncoding::parse("UTF-8").unwrap(), LogEncoding::Utf8);
        assert_eq!(LogEncoding::parse("latin_1").unwrap(), LogEncoding::Latin1);
        assert_eq!(
            LogEncoding::parse("ISO-8859-1").unwrap(),
            LogEncoding::Latin1
        );
        assert_eq!(LogEncoding::parse("us-ascii").unwrap(), LogEncoding::Ascii);
        assert!(matches!(
            LogEncoding::parse("klingon"),
            Err(BackendError::UnknownEncoding(_))
        ));
    }

    #[test]
    fn replaces_invalid_bytes() {
        assert_eq!(LogEncoding::Utf8.decode(b"a\xffb"), "a\u{FFFD}b");
        assert_eq!(LogEncoding::Latin1.decode(b"a\xe9b"), "a\u{e9}b");
        assert_eq!(LogEncoding::Ascii.decode(b"a\xe9b"), "a\u{FFFD}b");
        assert_eq!(LogEncoding::Cp1252.decode(b"\x80\x81"), "\u{20AC}\u{FFFD}");
    }
}
