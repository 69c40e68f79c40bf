//! Unit tests of the date detector. Expected values were observed with fail2ban 1.0.2 under the
//! test clock (2005-08-14 12:00:00 CEST) and zone.

use super::*;

const TEST_TZ: &str = "CET-01CEST-02,M3.5.0,M10.5.0";
/// 2005-08-14 12:00:00 CEST.
const NOW: f64 = 1124013600.0;

fn tz() -> TimeZone {
    TimeZone::posix(TEST_TZ).unwrap_or_else(|e| panic!("{e}"))
}

fn dd_tz(pattern: Option<&str>, logtz: Option<&str>) -> DateDetector {
    DateDetector::with_local_zone(pattern, logtz, tz())
        .unwrap_or_else(|e| panic!("{pattern:?}: {e}"))
}

fn dd(pattern: Option<&str>) -> DateDetector {
    dd_tz(pattern, None)
}

/// (date text, time, is_int) found in `line`.
fn found(d: &mut DateDetector, line: &str) -> Option<(String, f64, bool)> {
    d.find(line, NOW)
        .map(|m| (line[m.span.clone()].to_string(), m.time, m.is_int))
}

fn check(
    pattern: Option<&str>,
    logtz: Option<&str>,
    line: &str,
    text: &str,
    time: f64,
    is_int: bool,
) {
    let mut d = dd_tz(pattern, logtz);
    assert_eq!(
        found(&mut d, line),
        Some((text.to_string(), time, is_int)),
        "pattern {pattern:?}, tz {logtz:?}, line {line:?}"
    );
}

#[test]
fn default_templates_each_form() {
    let cases: &[(&str, &str, f64, bool)] = &[
        (
            "Aug 14 11:59:59 host sshd[1]: x",
            "Aug 14 11:59:59",
            1124013599.0,
            false,
        ),
        (
            "Sun Aug 14 11:59:59.123456 2005 host x",
            "Sun Aug 14 11:59:59.123456 2005",
            1124013599.0,
            false,
        ),
        (
            "Aug 14 2005 11:59:59 x",
            "Aug 14 2005 11:59:59",
            1124013599.0,
            false,
        ),
        (
            "2005-08-14T11:59:59.123+02:00 x",
            "2005-08-14T11:59:59.123+02:00",
            1124013599.0,
            true,
        ),
        (
            "2005-08-14T11:59:59Z x",
            "2005-08-14T11:59:59Z",
            1124020799.0,
            true,
        ),
        (
            "14/08/05 11:59:59 x",
            "14/08/05 11:59:59",
            1124013599.0,
            false,
        ),
        (
            "[14/Aug/2005:11:59:59 -0500] x",
            "14/Aug/2005:11:59:59 -0500",
            1124038799.0,
            true,
        ),
        (
            "08/14/2005:11:59:59 x",
            "08/14/2005:11:59:59",
            1124013599.0,
            false,
        ),
        (
            "08-14-2005 11:59:59.1 x",
            "08-14-2005 11:59:59.1",
            1124013599.0,
            false,
        ),
        (
            "<08/14/05@11:59:59> x",
            "<08/14/05@11:59:59>",
            1124013599.0,
            false,
        ),
        ("050814 11:59:59 x", "050814 11:59:59", 1124013599.0, false),
        (
            "Aug 14, 2005 11:59:59 PM x",
            "Aug 14, 2005 11:59:59 PM",
            1124056799.0,
            false,
        ),
        (
            "Aug 14, 2005 12:01:00 AM x",
            "Aug 14, 2005 12:01:00 AM",
            1123970460.0,
            false,
        ),
        (
            "Aug-14-05 11:59:59 x",
            "Aug-14-05 11:59:59",
            1124013599.0,
            false,
        ),
        ("20050814T115959 x", "20050814T115959", 1124013599.0, false),
        (
            "PDT Aug 14 11:59:59 x",
            "PDT Aug 14 11:59:59",
            1124045999.0,
            true,
        ),
        (
            "+0200 Aug 14 11:59:59 x",
            "+0200 Aug 14 11:59:59",
            1124013599.0,
            true,
        ),
        ("1124013541 x", "1124013541", 1124013541.0, false),
        (
            "@4000000042ff15d10000000a x",
            "@4000000042ff15d10000000a",
            1124013521.0,
            true,
        ),
        (
            "[Sun Aug 14 11:59:59.123 2005] [error] x",
            "Sun Aug 14 11:59:59.123 2005",
            1124013599.0,
            false,
        ),
        (
            "prefix 2005-08-14 11:59:59 x",
            "2005-08-14 11:59:59",
            1124013599.0,
            false,
        ),
    ];
    for (line, text, time, is_int) in cases {
        check(None, None, line, text, *time, *is_int);
    }
}

#[test]
fn lines_without_a_date() {
    let mut d = dd(None);
    assert_eq!(d.find("no date here", NOW), None);
    assert_eq!(d.find("x", NOW), None);
    assert_eq!(d.invalid_span(), None);
    // A matched text that is no valid date gives no date either, but its span is known.
    assert_eq!(d.find("2005-02-30 11:59:59 x", NOW), None);
    assert_eq!(d.invalid_span(), Some(0..19));
    assert_eq!(d.find("Aug 14 24:59:59 x", NOW), None);
    assert_eq!(d.invalid_span(), Some(0..15));
    assert!(d.find("Aug 14 11:59:59 x", NOW).is_some());
    assert_eq!(d.invalid_span(), None);
    let mut y0 = dd(Some("{^LN-BEG}%Y-%m-%d %H:%M:%S"));
    assert_eq!(y0.find("0000-12-30 00:00:00 server x", NOW), None);
    assert_eq!(y0.invalid_span(), Some(0..19));
}

#[test]
fn year_and_day_guessing_with_the_fixed_clock() {
    // No year: this year, unless more than a day ahead of now -> the year before.
    check(
        None,
        None,
        "Dec 31 23:59:59 host x",
        "Dec 31 23:59:59",
        1104533999.0,
        false,
    );
    check(
        None,
        None,
        "Aug 15 11:59:59 host x",
        "Aug 15 11:59:59",
        1124099999.0,
        false,
    );
    check(
        None,
        None,
        "Aug 15 12:00:01 host x",
        "Aug 15 12:00:01",
        1092564001.0,
        false,
    );
    // Time only: today, or yesterday when ahead of now.
    check(None, None, "11:59:59 x", "11:59:59", 1124013599.0, false);
    check(None, None, "12:57:32 x", "12:57:32", 1123930652.0, false);
    // A zone offset shifts before the comparison with now (all in naive time, as fail2ban does).
    check(
        None,
        Some("-0130"),
        "Aug 14 11:59:59 x",
        "Aug 14 11:59:59",
        1124026199.0,
        true,
    );
    // Two-digit years are always 20yy.
    check(
        Some("%Exy-%m-%d %H:%M"),
        None,
        "99-08-14 11:59 x",
        "99-08-14 11:59",
        4090384740.0,
        false,
    );
}

#[test]
fn local_time_across_dst_changes() {
    // 02:30 does not exist on 2005-03-27 in CET/CEST: moved forward to 03:30 CEST.
    check(
        None,
        None,
        "2005-03-27 02:30:00 gap",
        "2005-03-27 02:30:00",
        1111887000.0,
        false,
    );
    // 02:30 happens twice on 2005-10-30: the later (CET) instant is taken.
    check(
        None,
        None,
        "2005-10-30 02:30:00 overlap",
        "2005-10-30 02:30:00",
        1130635800.0,
        false,
    );
    check(
        None,
        None,
        "2005-10-30 01:59:59 before",
        "2005-10-30 01:59:59",
        1130633999.0,
        false,
    );
    // Winter time is UTC+1.
    check(
        Some("%Y-%m-%d %H:%M:%S"),
        None,
        "2005-01-15 12:00:00",
        "2005-01-15 12:00:00",
        1105786800.0,
        false,
    );
}

#[test]
fn logtimezone_applies_to_dates_without_zone() {
    check(
        None,
        Some("UTC"),
        "2005-08-14 11:59:59 x",
        "2005-08-14 11:59:59",
        1124020799.0,
        true,
    );
    check(
        None,
        Some("UTC+0200"),
        "2005-08-14 11:59:59 x",
        "2005-08-14 11:59:59",
        1124013599.0,
        true,
    );
    check(
        None,
        Some("CET"),
        "2005-08-14 11:59:59 x",
        "2005-08-14 11:59:59",
        1124017199.0,
        true,
    );
    // A zone in the line wins.
    check(
        None,
        Some("UTC"),
        "2005-08-14 11:59:59 +0200 x",
        "2005-08-14 11:59:59 +0200",
        1124013599.0,
        true,
    );
    // EPOCH ignores it.
    check(
        Some("EPOCH"),
        Some("UTC+0200"),
        "1124013541 x",
        "1124013541",
        1124013541.0,
        false,
    );
    for bad in ["Europe/Paris", "utc", "+2", "XYZW"] {
        assert!(
            matches!(
                DateDetector::with_local_zone(None, Some(bad), tz()),
                Err(DateError::TimeZone(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn epoch_lepoch_tai64n() {
    check(
        Some("EPOCH"),
        None,
        "1124013541.123456 x",
        "1124013541.123456",
        1124013541.123456,
        false,
    );
    check(
        Some("EPOCH"),
        None,
        "type=AVC msg=audit(1124013541.123:45): x",
        "1124013541.123",
        1124013541.123,
        false,
    );
    check(
        Some("LEPOCH"),
        None,
        "1124013541123 x",
        "1124013541123",
        1124013541.123,
        false,
    );
    check(
        Some("LEPOCH"),
        None,
        "1124013541123456 x",
        "1124013541123456",
        1124013541.123456,
        false,
    );
    check(
        Some("TAI64N"),
        None,
        "x @4000000042ff15d10000000a y",
        "@4000000042ff15d10000000a",
        1124013521.0,
        true,
    );
    check(
        Some("{^LN-BEG}EPOCH"),
        None,
        "[1124013541] x",
        "1124013541",
        1124013541.0,
        false,
    );
    // The pattern's first group is the whole pattern: the brackets belong to the date text.
    check(
        Some(r"^\[{EPOCH}\]"),
        None,
        "[1124013541.500] x",
        "[1124013541.500]",
        1124013541.5,
        false,
    );
    assert_eq!(
        dd(Some(r"^\[{EPOCH}\]")).find("[1124013541.5] x", NOW),
        None
    );
    assert_eq!(
        dd(Some("^TAI64N")).find("x @4000000042ff15d10000000a", NOW),
        None
    );
    assert_eq!(dd(Some("EPOCH")).find("x 1124013541", NOW), None);
}

#[test]
fn percent_codes() {
    let cases: &[(&str, &str, &str, f64, bool)] = &[
        (
            "%Y-%m-%d %H:%M:%S",
            "2005-08-14 11:59:59 x",
            "2005-08-14 11:59:59",
            1124013599.0,
            false,
        ),
        (
            "%y%m%d %H%M%S",
            "050814 115959 x",
            "050814 115959",
            1124013599.0,
            false,
        ),
        (
            "%d %B %Y %I:%M:%S %p",
            "14 August 2005 11:59:59 pm x",
            "14 August 2005 11:59:59 pm",
            1124056799.0,
            false,
        ),
        (
            "%A %d %b %Y %H:%M:%S",
            "Sunday 14 Aug 2005 11:59:59 x",
            "Sunday 14 Aug 2005 11:59:59",
            1124013599.0,
            false,
        ),
        (
            "%Y %j %H:%M:%S",
            "2005 226 11:59:59 x",
            "2005 226 11:59:59",
            1124013599.0,
            false,
        ),
        (
            "%Y %W %w %H:%M:%S",
            "2005 32 0 11:59:59 x",
            "2005 32 0 11:59:59",
            1124013599.0,
            false,
        ),
        (
            "%Y %U %a %H:%M:%S",
            "2005 33 Sun 11:59:59 x",
            "2005 33 Sun 11:59:59",
            1124013599.0,
            false,
        ),
        (
            "%Y-%m-%d %H:%M:%S %Z",
            "2005-08-14 11:59:59 EST x",
            "2005-08-14 11:59:59 EST",
            1124038799.0,
            true,
        ),
        (
            "%Y-%m-%d %H:%M:%S%z",
            "2005-08-14 11:59:59-0130 x",
            "2005-08-14 11:59:59-0130",
            1124026199.0,
            true,
        ),
        (
            "%Y-%m-%d %H:%M:%S %Exz",
            "2005-08-14 11:59:59 CET+01 x",
            "2005-08-14 11:59:59 CET+01",
            1124013599.0,
            true,
        ),
        (
            "%Y-%m-%d %H:%M:%S %ExZ",
            "2005-08-14 11:59:59 B x",
            "2005-08-14 11:59:59 B",
            1124013599.0,
            true,
        ),
        (
            "%ExY%Exm%Exd %ExH%ExM%ExS",
            "20050814 115959 x",
            "20050814 115959",
            1124013599.0,
            false,
        ),
        (
            "%m/%d %l:%M %p",
            "08/14  9:59 pm x",
            "08/14  9:59 pm",
            1124049540.0,
            false,
        ),
        (
            "%m/%d %Exl:%M %p",
            "08/14 9:59 am x",
            "08/14 9:59 am",
            1124006340.0,
            false,
        ),
        (
            "%d/%m/%Y %k:%M:%S",
            "14/08/2005  9:59:59 x",
            "14/08/2005  9:59:59",
            1124006399.0,
            false,
        ),
        (
            "%d/%m/%Y %Exk:%M:%S",
            "14/08/2005  9:59:59 x",
            "14/08/2005  9:59:59",
            1124006399.0,
            false,
        ),
        (
            "%Exd.%Exm.%Y %H:%M",
            "14.08.2005 11:59 x",
            "14.08.2005 11:59",
            1124013540.0,
            false,
        ),
        (
            "%H:%M:%S.%f",
            "11:59:59.654321 x",
            "11:59:59.654321",
            1124013599.0,
            false,
        ),
        (
            "%%%Y-%m-%d %H:%M:%S",
            "%2005-08-14 11:59:59 x",
            "%2005-08-14 11:59:59",
            1124013599.0,
            false,
        ),
        (
            "%c",
            "Sun Aug 14 11:59:59 2005 x",
            "Sun Aug 14 11:59:59 2005",
            1124013599.0,
            false,
        ),
        (
            "%x %X",
            "08/14/05 11:59:59 x",
            "08/14/05 11:59:59",
            1124013599.0,
            false,
        ),
        (
            "%G %u %V %Y-%m-%d %H:%M",
            "2005 7 32 2005-08-14 11:59 x",
            "2005 7 32 2005-08-14 11:59",
            1124013540.0,
            false,
        ),
    ];
    for (p, line, text, time, is_int) in cases {
        check(Some(p), None, line, text, *time, *is_int);
    }
}

#[test]
fn month_and_day_names_ignore_case() {
    check(
        Some("%b %d %H:%M:%S"),
        None,
        "aUG 14 11:59:59 x",
        "aUG 14 11:59:59",
        1124013599.0,
        false,
    );
    // Without a name code the pattern stays case-sensitive.
    assert_eq!(dd(Some("T%H:%M:%S")).find("t11:59:59", NOW), None);
}

#[test]
fn word_and_line_boundaries() {
    // A date glued to a word is no date.
    assert_eq!(dd(Some("%H:%M:%S")).find("x11:59:59 y", NOW), None);
    // {UNB} and ** switch the boundaries off.
    check(
        Some("{UNB}%H:%M:%S"),
        None,
        "x11:59:59x",
        "11:59:59",
        1124013599.0,
        false,
    );
    check(
        Some("**%H:%M:%S"),
        None,
        "x11:59:59 y",
        "11:59:59",
        1124013599.0,
        false,
    );
    check(
        Some("%H:%M:%S**"),
        None,
        "11:59:59x y",
        "11:59:59",
        1124013599.0,
        false,
    );
    // {^LN-BEG}: at the line start, after at most two non-word characters.
    check(
        Some("{^LN-BEG}%Y-%m-%d %H:%M"),
        None,
        "[[2005-08-14 11:59 x",
        "2005-08-14 11:59",
        1124013540.0,
        false,
    );
    assert_eq!(
        dd(Some("{^LN-BEG}%Y-%m-%d %H:%M")).find("[[[2005-08-14 11:59 x", NOW),
        None
    );
    assert_eq!(
        dd(Some("{^LN-BEG}%Y-%m-%d %H:%M")).find("a 2005-08-14 11:59 x", NOW),
        None
    );
    // With a plain group in the pattern, group 1 is the date text; named groups count too.
    check(
        Some("%Y-%m-%d (%H:%M):%S"),
        None,
        "2005-08-14 11:59:59 x",
        "2005",
        1124013599.0,
        false,
    );
    check(
        Some("x (%Y-%m-%d %H:%M:%S)"),
        None,
        "x 2005-08-14 11:59:59",
        "2005-08-14 11:59:59",
        1124013599.0,
        false,
    );
}

#[test]
fn special_datepatterns() {
    let mut none = dd(Some("{NONE}"));
    assert!(none.is_none());
    let m = none
        .find("srv sshd[1]: x", NOW)
        .unwrap_or_else(|| panic!("{{NONE}} always matches"));
    assert_eq!((m.span, m.time), (0..0, NOW));
    assert!(!dd(None).is_none());

    assert_eq!(dd(Some("{^LN-BEG}")).template_stats().len(), 17);
    assert_eq!(dd(Some("{DEFAULT}")).template_stats().len(), 31);
    assert_eq!(dd(Some("{default}")).template_stats().len(), 31);
    let date = dd(Some("{DATE}")).template_stats();
    assert_eq!(date.len(), 17);
    assert_eq!(date[8].0, "24hour:Minute:Second");
    check(
        Some(r"^<W>{DATE}"),
        None,
        "<W>2005-08-14 11:59:59.123 x",
        "<W>2005-08-14 11:59:59.123",
        1124013599.0,
        false,
    );
    check(
        Some(r"^[^\[]*\[({DATE})"),
        None,
        "srv [14/Aug/2005:11:59:59 +0000] x",
        "14/Aug/2005:11:59:59 +0000",
        1124020799.0,
        true,
    );
    // Several lines: each is a template, in order.
    let mut multi = dd(Some("EPOCH\n  \n%Y-%m-%d %H:%M:%S"));
    assert_eq!(
        multi
            .template_stats()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["Epoch", "Year-Month-Day 24hour:Minute:Second"]
    );
    assert_eq!(
        found(&mut multi, "2005-08-14 11:59:59 x"),
        Some(("2005-08-14 11:59:59".into(), 1124013599.0, false))
    );
}

#[test]
fn default_list_names_and_order() {
    let mut d = dd(None);
    // The list is built on first use.
    assert!(d.template_stats().is_empty());
    d.find("nothing", NOW);
    let names: Vec<String> = d.template_stats().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 31);
    assert_eq!(
        names[0],
        r"{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\s*Zone offset)?"
    );
    assert_eq!(
        names[1],
        r"{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\.Microseconds)?(?: ExYear)?"
    );
    assert_eq!(names[7], "{^LN-BEG}Epoch");
    assert_eq!(names[13], "{^LN-BEG}TAI64N");
    assert_eq!(names[21], "Epoch");
    assert_eq!(names[22], "{^LN-BEG}24hour:Minute:Second");
    assert_eq!(names[23], "^<Month/Day/ExYear2@24hour:Minute:Second>");
    assert_eq!(names[30], "TAI64N");
    let info = d.template_info();
    assert_eq!((info[0].base_weight, info[14].base_weight), (100.0, 1.0));
    assert_eq!(info[21].pattern, "");
    assert_eq!(
        info[14].pattern,
        r"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?"
    );
}

#[test]
fn hits_move_templates_up() {
    let mut d = dd(None);
    for _ in 0..3 {
        assert!(d.find("2005-08-14 11:59:59 x", NOW).is_some());
    }
    // The syslog template (index 1) wins next and moves to the first unused place... which is 1.
    assert!(d.find("Aug 14 11:59:59 x", NOW).is_some());
    let stats = d.template_stats();
    assert_eq!(stats[0].1, 3);
    assert_eq!(
        stats[1],
        (
            r"{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\.Microseconds)?(?: ExYear)?"
                .to_string(),
            1
        )
    );
    // A later template that wins moves up towards the front.
    assert!(d.find("@4000000042ff15d10000000a x", NOW).is_some());
    let stats = d.template_stats();
    assert_eq!(stats[2], ("{^LN-BEG}TAI64N".to_string(), 1));
    // The nearest date wins over a later one in the line.
    let mut d = dd(None);
    assert_eq!(
        found(&mut d, "srv 2005-08-14 11:59:59 Aug 14 11:59:50 x").map(|f| f.0),
        Some("2005-08-14 11:59:59".into())
    );
}

#[test]
fn describe_as_the_fail2ban_regex_header() {
    assert_eq!(
        dd(Some("{^LN-BEG}")).describe(),
        "{^LN-BEG} : Default Detectors"
    );
    assert_eq!(
        dd(Some("^%Y/%m/%d %H:%M:%S")).describe(),
        "^%Y/%m/%d %H:%M:%S : ^Year/Month/Day 24hour:Minute:Second"
    );
    assert_eq!(dd(Some("{NONE}")).describe(), "{NONE} : ^");
    assert_eq!(dd(Some("EPOCH")).describe(), "EPOCH : Epoch");
    assert_eq!(dd(Some("LEPOCH")).describe(), "LEPOCH : LongEpoch");
    assert_eq!(
        dd(Some("{^LN-BEG}EPOCH")).describe(),
        "{^LN-BEG}EPOCH : {^LN-BEG}Epoch"
    );
    assert_eq!(dd(Some("%%Y")).describe(), "%%Y : %Y");
    assert_eq!(
        dd(Some(r"^\[{EPOCH}\]")).describe(),
        r"^\[{EPOCH}\] : ^\[{EPOCH}\]"
    );
    assert_eq!(dd(Some("{DATE}")).describe(), "{DATE} : Default Detectors");
}

#[test]
fn bad_datepatterns_are_errors() {
    for p in ["%Y-%m-%d %e", "%H:%M %", "%Q"] {
        assert!(
            matches!(
                DateDetector::with_local_zone(Some(p), None, tz()),
                Err(DateError::Pattern { .. })
            ),
            "{p}"
        );
    }
    assert!(matches!(
        DateDetector::with_local_zone(Some("%Y-(%m"), None, tz()),
        Err(DateError::Regex { .. })
    ));
    assert!(matches!(
        DateDetector::with_local_zone(Some("EPOCH\nepoch"), None, tz()),
        Err(DateError::DuplicateTemplate(_))
    ));
    // A later {^LN-BEG} skips the templates already there.
    assert_eq!(
        dd(Some("{^LN-BEG}EPOCH\n{^LN-BEG}")).template_stats().len(),
        17
    );
}

#[test]
fn default_regex_templates_run_on_the_fast_engine() {
    for t in defaults().unwrap_or_else(|e| panic!("{e}")) {
        if !matches!(t.kind, template::Kind::Epoch { .. }) {
            assert!(t.has_fast_engine(), "{}", t.name);
        }
    }
}

#[test]
fn fast_engine_falls_back_when_the_backreference_differs() {
    // "2005-08/14" passes the copied group but not the backreference: no date from that template.
    let mut d = dd(Some("%ExY(?P<_sep>[-/.])%m(?P=_sep)%d %H:%M:%S"));
    assert_eq!(d.find("2005-08/14 11:59:59", NOW), None);
    assert_eq!(
        found(&mut d, "2005-08/14 11:59:59 2005/08/14 11:59:58").map(|f| f.0),
        Some("2005/08/14 11:59:58".into())
    );
}

#[test]
fn utf8_lines() {
    check(
        None,
        None,
        "ünïcödé Aug 14 11:59:59 x",
        "Aug 14 11:59:59",
        1124013599.0,
        false,
    );
    let mut d = dd(None);
    assert_eq!(
        found(&mut d, "é Aug 14 11:59:59 x").map(|f| f.0),
        Some("Aug 14 11:59:59".into())
    );
    assert_eq!(
        found(&mut d, "Aug 14 11:59:58 é").map(|f| f.0),
        Some("Aug 14 11:59:58".into())
    );
}

#[test]
fn detectors_can_move_between_threads() {
    fn is_send<T: Send>(_: &T) {}
    is_send(&dd(None));
}

#[test]
fn now_moves_the_guessed_year() {
    // The same date text is re-evaluated when "now" changes (no stale memo).
    let mut d = dd(None);
    assert_eq!(
        d.find("Aug 15 12:00:01 x", NOW).map(|m| m.time),
        Some(1092564001.0)
    );
    assert_eq!(
        d.find("Aug 15 12:00:01 x", NOW + 3600.0).map(|m| m.time),
        Some(1124100001.0)
    );
    assert_eq!(
        d.find("12:57:32 x", NOW).map(|m| m.time),
        Some(1123930652.0)
    );
    assert_eq!(
        d.find("12:57:32 x", NOW + 3600.0).map(|m| m.time),
        Some(1124017052.0)
    );
}

#[test]
fn odd_inputs_do_not_panic() {
    let patterns = [
        "**",
        "{UNB}",
        "{UNB}{^LN-BEG}",
        "^",
        "$",
        "(",
        "%",
        "%%",
        "%E",
        "%Ex",
        "{EPOCH}",
        r"\{EPOCH}",
        "{lepoch}x",
        "{DATE}{DATE}",
        "(?P<x>a)(?P=x)%H",
        "(?P<_sep>(a|b))%H(?P=_sep)",
        "(?i)%H:%M",
        "%H:%M(?i)",
        "(?x) %H : %M",
        "[%H]",
        "%Y\u{e9}%m",
        "{NONE}\n{NONE}",
        "\n\n",
        "TAI64N\n{^LN-BEG}TAI64N\n^TAI64N",
        "(%H)|(%M)",
        "%H(?=x)",
    ];
    let lines = [
        "",
        " ",
        "\u{e9}",
        "\u{1F600}2005-08-14 11:59:59",
        "1124013541\u{e9}",
        "audit(1124013541",
        "[",
        "[[[[",
        "12:34:56\u{e9}",
        "@4000000042ff15d10000000a\u{e9}",
        "Aug 14 11:59:59\u{301}",
        "\u{661}\u{662}:\u{663}\u{664}:\u{665}\u{666}",
        "x audit(1124013541.123:1) audit(1124013542:2)",
        "aug 14 11:59:59 2005 2005-08-14 11:59:59 1124013541",
    ];
    for p in patterns {
        let Ok(mut d) = DateDetector::with_local_zone(Some(p), None, tz()) else {
            continue;
        };
        for l in lines {
            if let Some(m) = d.find(l, NOW) {
                assert!(l.get(m.span.clone()).is_some(), "{p:?} {l:?} {:?}", m.span);
            }
        }
        let _ = (d.describe(), d.template_stats(), d.template_info());
    }
    let mut d = dd(None);
    for l in lines.iter().chain(lines.iter().rev()) {
        let _ = d.find(l, NOW);
        let _ = d.find(l, f64::NAN);
        let _ = d.find(l, 1e300);
    }
}
