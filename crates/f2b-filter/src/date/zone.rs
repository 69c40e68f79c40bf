//! Fixed-offset time zones as fail2ban understands them: `logtimezone` values and the `%z`/`%Z`
//! fields of a log line.
//!
//! fail2ban accepts an optional upper-case abbreviation followed by an optional `[+-]hh[[:]mm]`
//! offset (`UTC`, `UTC+0200`, `+0200`, `CET`, `EST-05:00`, and also the empty string). Abbreviations
//! map to a fixed offset taken from its built-in table, so `CET` never switches to summer time.
//! Named zones such as `Europe/Paris` are refused, as fail2ban 1.0.2 refuses them.

/// Why a zone text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneError {
    /// The text is not `[ABBR][+-hh[[:]mm]]`.
    Syntax,
    /// The abbreviation is well formed but not in the table (fail2ban fails with a KeyError).
    UnknownAbbreviation(String),
}

/// Offset in minutes east of UTC for a zone text such as `UTC+0200`, `-05`, `CEST` or ``.
pub fn zone_offset_minutes(tz: &str) -> Result<i32, ZoneError> {
    let b = tz.as_bytes();
    // Abbreviation: one upper-case letter, optionally followed by 2 to 4 more.
    let mut i = 0;
    while i < b.len() && i < 5 && b[i].is_ascii_uppercase() {
        i += 1;
    }
    let abbr_len = match i {
        0 => 0,
        1 => 1,
        2 => 1, // "[A-Z](?:[A-Z]{2,4})?" cannot take exactly two letters
        n => n,
    };
    let (abbr, rest) = tz.split_at(abbr_len);
    let offset = parse_offset(rest).ok_or(ZoneError::Syntax)?;
    let base = if abbr.is_empty() {
        0
    } else {
        abbreviation_offset(abbr).ok_or_else(|| ZoneError::UnknownAbbreviation(abbr.to_string()))?
    };
    Ok(base + offset)
}

/// `[+-]hh`, `[+-]hhmm`, `[+-]hh:mm` with hh in 00..19, or nothing at all.
fn parse_offset(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Some(0);
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    if b.len() < 3 || !matches!(b[1], b'0' | b'1') || !b[2].is_ascii_digit() {
        return None;
    }
    let hh = i32::from(b[1] - b'0') * 10 + i32::from(b[2] - b'0');
    let mm_digits = match &b[3..] {
        [] => return Some(sign * hh * 60),
        [b':', m1, m2] | [m1, m2] => [*m1, *m2],
        _ => return None,
    };
    if !mm_digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mm = i32::from(mm_digits[0] - b'0') * 10 + i32::from(mm_digits[1] - b'0');
    Some(sign * (hh * 60 + mm))
}

/// fail2ban's table of zone abbreviations and their fixed offsets, in minutes.
fn abbreviation_offset(abbr: &str) -> Option<i32> {
    // (offset in hours, abbreviations). Offsets with fractions are given in minutes below.
    const TABLE: &[(i32, &[&str])] = &[
        (-12 * 60, &["Y"]),
        (-11 * 60, &["X", "NUT", "SST"]),
        (-10 * 60, &["W", "CKT", "HAST", "HST", "TAHT", "TKT"]),
        (-9 * 60, &["V", "AKST", "GAMT", "GIT", "HADT", "HNY"]),
        (-8 * 60, &["U", "AKDT", "CIST", "HAY", "HNP", "PST", "PT"]),
        (-7 * 60, &["T", "HAP", "HNR", "MST", "PDT"]),
        (-6 * 60, &["S", "CST", "EAST", "GALT", "HAR", "HNC", "MDT"]),
        (
            -5 * 60,
            &[
                "R", "CDT", "COT", "EASST", "ECT", "EST", "ET", "HAC", "HNE", "PET",
            ],
        ),
        (
            -4 * 60,
            &[
                "Q", "AST", "BOT", "CLT", "COST", "EDT", "FKT", "GYT", "HAE", "HNA", "PYT",
            ],
        ),
        (
            -3 * 60,
            &[
                "P", "ADT", "ART", "BRT", "CLST", "FKST", "GFT", "HAA", "PMST", "PYST", "SRT",
                "UYT", "WGT",
            ],
        ),
        (-2 * 60, &["O", "BRST", "FNT", "PMDT", "UYST", "WGST"]),
        (-60, &["N", "AZOT", "CVT", "EGT"]),
        (0, &["Z", "EGST", "GMT", "UTC", "WET", "WT"]),
        (60, &["A", "CET", "DFT", "WAT", "WEDT", "WEST"]),
        (2 * 60, &["B", "CAT", "CEDT", "CEST", "EET", "SAST", "WAST"]),
        (3 * 60, &["C", "EAT", "EEDT", "EEST", "IDT", "MSK"]),
        (
            4 * 60,
            &[
                "D", "AMT", "AZT", "GET", "GST", "KUYT", "MSD", "MUT", "RET", "SAMT", "SCT",
            ],
        ),
        (
            5 * 60,
            &[
                "E", "AMST", "AQTT", "AZST", "HMT", "MAWT", "MVT", "PKT", "TFT", "TJT", "TMT",
                "UZT", "YEKT",
            ],
        ),
        (
            6 * 60,
            &[
                "F", "ALMT", "BIOT", "BTT", "IOT", "KGT", "NOVT", "OMST", "YEKST",
            ],
        ),
        (
            7 * 60,
            &[
                "G", "CXT", "DAVT", "HOVT", "ICT", "KRAT", "NOVST", "OMSST", "THA", "WIB",
            ],
        ),
        (
            8 * 60,
            &[
                "H", "ACT", "AWST", "BDT", "BNT", "CAST", "HKT", "IRKT", "KRAST", "MYT", "PHT",
                "SGT", "ULAT", "WITA", "WST",
            ],
        ),
        (
            9 * 60,
            &[
                "I", "AWDT", "IRKST", "JST", "KST", "PWT", "TLT", "WDT", "WIT", "YAKT",
            ],
        ),
        (
            10 * 60,
            &["K", "AEST", "ChST", "PGT", "VLAT", "YAKST", "YAPT"],
        ),
        (
            11 * 60,
            &[
                "L", "AEDT", "LHDT", "MAGT", "NCT", "PONT", "SBT", "VLAST", "VUT",
            ],
        ),
        (
            12 * 60,
            &[
                "M", "ANAST", "ANAT", "FJT", "GILT", "MAGST", "MHT", "NZST", "PETST", "PETT",
                "TVT", "WFT",
            ],
        ),
        (13 * 60, &["FJST", "NZDT"]),
        (690, &["NFT"]),
        (630, &["ACDT", "LHST"]),
        (570, &["ACST"]),
        (390, &["CCT", "MMT"]),
        (345, &["NPT"]),
        (330, &["SLT"]),
        (270, &["AFT", "IRDT"]),
        (210, &["IRST"]),
        (-150, &["HAT", "NDT"]),
        (-210, &["HNT", "NST", "NT"]),
        (-270, &["HLV", "VET"]),
        (-570, &["MART", "MIT"]),
    ];
    TABLE
        .iter()
        .find(|(_, names)| names.contains(&abbr))
        .map(|(off, _)| *off)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_abbreviations() {
        assert_eq!(zone_offset_minutes("UTC"), Ok(0));
        assert_eq!(zone_offset_minutes(""), Ok(0));
        assert_eq!(zone_offset_minutes("UTC+0200"), Ok(120));
        assert_eq!(zone_offset_minutes("+0200"), Ok(120));
        assert_eq!(zone_offset_minutes("-05"), Ok(-300));
        assert_eq!(zone_offset_minutes("-01:30"), Ok(-90));
        assert_eq!(zone_offset_minutes("CET"), Ok(60));
        assert_eq!(zone_offset_minutes("CEST"), Ok(120));
        assert_eq!(zone_offset_minutes("CET+01"), Ok(120));
        assert_eq!(zone_offset_minutes("NPT"), Ok(345));
        assert_eq!(zone_offset_minutes("NST"), Ok(-210));
        assert_eq!(zone_offset_minutes("Z"), Ok(0));
    }

    #[test]
    fn refused_zones() {
        assert_eq!(zone_offset_minutes("Europe/Paris"), Err(ZoneError::Syntax));
        assert_eq!(zone_offset_minutes("utc"), Err(ZoneError::Syntax));
        assert_eq!(zone_offset_minutes("+2"), Err(ZoneError::Syntax));
        assert_eq!(zone_offset_minutes("+0200 "), Err(ZoneError::Syntax));
        assert_eq!(zone_offset_minutes("+2500"), Err(ZoneError::Syntax));
        assert_eq!(zone_offset_minutes("AB"), Err(ZoneError::Syntax));
        assert_eq!(
            zone_offset_minutes("ABCD"),
            Err(ZoneError::UnknownAbbreviation("ABCD".into()))
        );
        // 'ChST' is in the table but its lower-case letter keeps it from ever being recognised.
        assert_eq!(zone_offset_minutes("ChST"), Err(ZoneError::Syntax));
    }
}
