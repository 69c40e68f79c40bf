//! Unit tests of the date detector against behaviour observed with fail2ban 1.0.2.

use super::*;

const TEST_TZ: &str = "CET-01CEST-02,M3.5.0,M10.5.0";
/// 2005-08-14 12:00:00 CEST.
#[allow(dead_code)]
const NOW: f64 = 1124013600.0;

fn tz() -> TimeZone {
    TimeZone::posix(TEST_TZ).unwrap_or_else(|e| panic!("{e}"))
}

fn dd(pattern: Option<&str>) -> DateDetector {
    DateDetector::with_local_zone(pattern, None, tz()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn dump_defaults() {
    let d = dd(None);
    for i in d.template_info() {
        println!("{:?} {}\n    {}", i.name, i.base_weight, i.regex);
    }
}
