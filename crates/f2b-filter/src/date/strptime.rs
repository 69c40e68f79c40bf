//! The `%`-codes of a fail2ban `datepattern` and the conversion of the captured fields to a time.
//!
//! fail2ban replaces each `%X` code by a named regex group and, after a match, builds the time from
//! the group values. Its rules differ from C's strptime in ways that show in results:
//! * `%f` is matched but the fraction is dropped (only EPOCH keeps sub-second precision);
//! * a two-digit year `%y` is always 20yy;
//! * no year: the year of "now", or the year before when the date would be more than one day ahead;
//! * no month and day: today, or yesterday when the time would be ahead of "now";
//! * a zone in the line (`%z`, `%Z`) or a `logtimezone` gives a fixed offset and an integral time;
//!   otherwise the date is local time (TZ) resolved like `mktime` with `tm_isdst = -1`.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::zone::zone_offset_minutes;

/// One `%`-code: its spelling after `%`, the regex it stands for and its display name.
pub(crate) struct Code {
    pub key: &'static str,
    pub name: &'static str,
    regex: CodeRegex,
}

enum CodeRegex {
    Fixed(&'static str),
    /// `%ExY`: the years fail2ban expects in logs, computed from the real clock.
    ExYear,
}

const AM_PM: [&str; 2] = ["am", "pm"];
const MONTHS_ABBR: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const MONTHS_FULL: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS_ABBR: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAYS_FULL: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The codes fail2ban knows, multi-letter `Ex` codes first (they win over a single letter).
/// Regexes are Python syntax; names are what fail2ban shows for the template. (fail2ban names
/// `%Exk`/`%Exl` either `Ex%k` or `%Exk` depending on Python's per-process hash order; we always
/// use the first form.)
pub(crate) const CODES: &[Code] = &[
    Code {
        key: "%",
        name: "%",
        regex: CodeRegex::Fixed("%"),
    },
    Code {
        key: "ExZ",
        name: "ExZone name",
        regex: CodeRegex::Fixed(r"(?P<Z>[A-Z](?:[A-Z]{2,4})?)"),
    },
    Code {
        key: "Exz",
        name: "ExZone offset",
        regex: CodeRegex::Fixed(
            r"(?P<z>(?:[A-Z](?:[A-Z]{2,4})?)?[+-][01]\d(?::?\d{2})?|[A-Z](?:[A-Z]{2,4})?)",
        ),
    },
    Code {
        key: "Exd",
        name: "ExDay",
        regex: CodeRegex::Fixed(r"(?P<d>[1-2]\d|0[1-9]|3[0-1])"),
    },
    Code {
        key: "Exm",
        name: "ExMonth",
        regex: CodeRegex::Fixed(r"(?P<m>0[1-9]|1[0-2])"),
    },
    Code {
        key: "ExH",
        name: "Ex24hour",
        regex: CodeRegex::Fixed(r"(?P<H>[0-1]\d|2[0-3])"),
    },
    Code {
        key: "Exk",
        name: "Ex%k",
        regex: CodeRegex::Fixed(r" ?(?P<H>[0-1]?\d|2[0-3])"),
    },
    Code {
        key: "Exl",
        name: "Ex%l",
        regex: CodeRegex::Fixed(r" ?(?P<I>1[0-2]|\d)"),
    },
    Code {
        key: "ExM",
        name: "ExMinute",
        regex: CodeRegex::Fixed(r"(?P<M>[0-5]\d)"),
    },
    Code {
        key: "ExS",
        name: "ExSecond",
        regex: CodeRegex::Fixed(r"(?P<S>[0-5]\d|6[0-1])"),
    },
    Code {
        key: "ExY",
        name: "ExYear",
        regex: CodeRegex::ExYear,
    },
    Code {
        key: "Exy",
        name: "ExYear2",
        regex: CodeRegex::Fixed(r"(?P<y>\d{2})"),
    },
    Code {
        key: "d",
        name: "Day",
        regex: CodeRegex::Fixed(r"(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])"),
    },
    Code {
        key: "f",
        name: "Microseconds",
        regex: CodeRegex::Fixed(r"(?P<f>[0-9]{1,6})"),
    },
    Code {
        key: "H",
        name: "24hour",
        regex: CodeRegex::Fixed(r"(?P<H>[0-1]?\d|2[0-3])"),
    },
    Code {
        key: "I",
        name: "12hour",
        regex: CodeRegex::Fixed(r"(?P<I>1[0-2]|0[1-9]|[1-9])"),
    },
    Code {
        key: "G",
        name: "%G",
        regex: CodeRegex::Fixed(r"(?P<G>\d\d\d\d)"),
    },
    Code {
        key: "j",
        name: "Yearday",
        regex: CodeRegex::Fixed(
            r"(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])",
        ),
    },
    Code {
        key: "m",
        name: "Month",
        regex: CodeRegex::Fixed(r"(?P<m>0?[1-9]|1[0-2])"),
    },
    Code {
        key: "M",
        name: "Minute",
        regex: CodeRegex::Fixed(r"(?P<M>[0-5]?\d)"),
    },
    Code {
        key: "S",
        name: "Second",
        regex: CodeRegex::Fixed(r"(?P<S>[0-5]?\d|6[0-1])"),
    },
    Code {
        key: "U",
        name: "Yearweek",
        regex: CodeRegex::Fixed(r"(?P<U>5[0-3]|[0-4]\d|\d)"),
    },
    Code {
        key: "w",
        name: "Weekday",
        regex: CodeRegex::Fixed(r"(?P<w>[0-6])"),
    },
    Code {
        key: "u",
        name: "%u",
        regex: CodeRegex::Fixed(r"(?P<u>[1-7])"),
    },
    Code {
        key: "V",
        name: "%V",
        regex: CodeRegex::Fixed(r"(?P<V>5[0-3]|0[1-9]|[1-4]\d|\d)"),
    },
    Code {
        key: "y",
        name: "Year2",
        regex: CodeRegex::Fixed(r"(?P<y>\d\d)"),
    },
    Code {
        key: "Y",
        name: "Year",
        regex: CodeRegex::Fixed(r"(?P<Y>\d{4})"),
    },
    Code {
        key: "z",
        name: "Zone offset",
        regex: CodeRegex::Fixed(r"(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)"),
    },
    Code {
        key: "A",
        name: "DAYNAME",
        regex: CodeRegex::Fixed(r"(?P<A>wednesday|thursday|saturday|tuesday|monday|friday|sunday)"),
    },
    Code {
        key: "a",
        name: "DAY",
        regex: CodeRegex::Fixed(r"(?P<a>mon|tue|wed|thu|fri|sat|sun)"),
    },
    Code {
        key: "B",
        name: "MONTH",
        regex: CodeRegex::Fixed(
            r"(?P<B>september|february|november|december|january|october|august|march|april|june|july|may)",
        ),
    },
    Code {
        key: "b",
        name: "MON",
        regex: CodeRegex::Fixed(r"(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"),
    },
    Code {
        key: "p",
        name: "AMPM",
        regex: CodeRegex::Fixed(r"(?P<p>am|pm)"),
    },
    Code {
        key: "Z",
        name: "Zone name",
        regex: CodeRegex::Fixed(r"(?P<Z>Z|[A-Z]{3,5})"),
    },
    Code {
        key: "W",
        name: "Yearweek",
        regex: CodeRegex::Fixed(r"(?P<W>5[0-3]|[0-4]\d|\d)"),
    },
    Code {
        key: "c",
        name: "%c",
        regex: CodeRegex::Fixed(concat!(
            r"(?P<a>mon|tue|wed|thu|fri|sat|sun)\s+(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+",
            r"(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])\s+(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):",
            r"(?P<S>6[0-1]|[0-5]\d|\d)\s+(?P<Y>\d\d\d\d)"
        )),
    },
    Code {
        key: "x",
        name: "%x",
        regex: CodeRegex::Fixed(
            r"(?P<m>1[0-2]|0[1-9]|[1-9])/(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])/(?P<y>\d\d)",
        ),
    },
    Code {
        key: "X",
        name: "%X",
        regex: CodeRegex::Fixed(
            r"(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)",
        ),
    },
    Code {
        key: "k",
        name: "%k",
        regex: CodeRegex::Fixed(r" ?(?P<H>[0-2]?\d)"),
    },
    Code {
        key: "l",
        name: "%l",
        regex: CodeRegex::Fixed(r" ?(?P<I>1?\d)"),
    },
];

impl Code {
    pub fn regex(&self) -> String {
        match self.regex {
            CodeRegex::Fixed(s) => s.to_string(),
            CodeRegex::ExYear => format!("(?P<Y>{}\\d)", year_prefixes_regex(real_current_year())),
        }
    }
}

/// The code spelled at the start of `s` (the text right after a `%`), longest spelling first.
pub(crate) fn code_at(s: &str) -> Option<&'static Code> {
    CODES
        .iter()
        .find(|c| c.key.len() > 1 && s.starts_with(c.key))
        .or_else(|| {
            let first = s.chars().next()?;
            CODES
                .iter()
                .find(|c| c.key.len() == 1 && c.key.starts_with(first))
        })
}

fn real_current_year() -> i16 {
    Timestamp::now().to_zoned(TimeZone::system()).year()
}

/// `%ExY` accepts the years of every decade from 2000 up to three years past the current one
/// (fail2ban builds this from the real clock when it starts), plus the year before.
pub(crate) fn year_prefixes_regex(current: i16) -> String {
    let mut decades: Vec<i16> = (2000..=current + 3)
        .chain([current - 1])
        .map(|y| y / 10)
        .collect();
    decades.sort_unstable();
    decades.dedup();
    let by_century = |d: i16| d / 10;
    if decades.len() == 1 {
        return decades[0].to_string();
    }
    if decades
        .iter()
        .all(|d| by_century(*d) == by_century(decades[0]))
    {
        let digits: String = decades
            .iter()
            .map(|d| char::from(b'0' + (d % 10) as u8))
            .collect();
        return format!("{}[{}]", by_century(decades[0]), digits);
    }
    let alts: Vec<String> = decades.iter().map(|d| d.to_string()).collect();
    format!("(?:{})", alts.join("|"))
}

/// A field fail2ban reads from a named group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Y,
    Y2,
    Mon,
    MonAbbr,
    MonFull,
    Day,
    H24,
    H12,
    Min,
    Sec,
    DayAbbr,
    DayFull,
    Weekday,
    YearDay,
    WeekU,
    WeekW,
    Zone,
    AmPm,
}

impl Field {
    /// The field a group name stands for; other names (`f`, `G`, `u`, `V`, user groups) are ignored.
    pub fn from_group_name(name: &str) -> Option<Field> {
        Some(match name {
            "Y" => Field::Y,
            "y" => Field::Y2,
            "m" => Field::Mon,
            "b" => Field::MonAbbr,
            "B" => Field::MonFull,
            "d" => Field::Day,
            "H" => Field::H24,
            "I" => Field::H12,
            "M" => Field::Min,
            "S" => Field::Sec,
            "a" => Field::DayAbbr,
            "A" => Field::DayFull,
            "w" => Field::Weekday,
            "j" => Field::YearDay,
            "U" => Field::WeekU,
            "W" => Field::WeekW,
            "z" | "Z" => Field::Zone,
            "p" => Field::AmPm,
            _ => return None,
        })
    }
}

/// A time computed from a date text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Computed {
    pub time: f64,
    /// fail2ban yields a Python int here (fixed offset or TAI64N) rather than a float.
    pub is_int: bool,
}

/// The clock and zone a date is interpreted against.
pub(crate) struct Clock<'a> {
    pub now: f64,
    pub local: &'a TimeZone,
    /// `logtimezone`, as minutes east of UTC.
    pub default_offset: Option<i32>,
    /// The last "now" converted to local time (lines come with the same "now" in bursts).
    pub now_memo: &'a std::cell::Cell<Option<(f64, DateTime)>>,
}

fn py_int(s: &str) -> Option<i64> {
    // Python's int() ignores surrounding white space ("%d" may capture " 5").
    let t = s.trim();
    if t.is_empty() || t.len() > 18 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// `val.lower() == name` in Python terms (names are lower-case ASCII).
fn lower_eq(val: &str, name: &str) -> bool {
    if val.is_ascii() {
        val.eq_ignore_ascii_case(name)
    } else {
        val.to_lowercase() == name
    }
}

fn index_of(names: &[&str], val: &str) -> Option<i64> {
    names
        .iter()
        .position(|n| lower_eq(val, n))
        .map(|p| p as i64)
}

/// Builds the time from `(field, text)` pairs given in the order of the groups in the regex.
/// `None` when fail2ban would fail to build a date (bad day of month, second 60, ...). The flag
/// says whether "now" was consulted (the result may then change with it).
pub(crate) fn compute(fields: &[(Field, &str)], clock: &Clock<'_>) -> (Option<Computed>, bool) {
    let used = std::cell::Cell::new(false);
    let c = compute_with(fields, clock, &used);
    (c, used.get())
}

fn compute_with(
    fields: &[(Field, &str)],
    clock: &Clock<'_>,
    used_now: &std::cell::Cell<bool>,
) -> Option<Computed> {
    let mut year: Option<i64> = None;
    let mut month: Option<i64> = None;
    let mut day: Option<i64> = None;
    let (mut hour, mut minute, mut second) = (0i64, 0i64, 0i64);
    let mut weekday: Option<i64> = None;
    let mut julian: Option<i64> = None;
    let mut week: Option<(i64, bool)> = None; // (week number, weeks start on Monday)
    let mut tzoffset: Option<i64> = None;
    let ampm = fields
        .iter()
        .find(|(f, _)| *f == Field::AmPm)
        .map_or("", |(_, v)| *v);
    let is_ampm = |i: usize| lower_eq(ampm, AM_PM[i]);
    for &(field, val) in fields {
        match field {
            Field::Y2 => {
                let y = py_int(val)?;
                year = Some(if y <= 2000 { y + 2000 } else { y });
            }
            Field::Y => year = Some(py_int(val)?),
            Field::Mon => month = Some(py_int(val)?),
            Field::MonFull => month = Some(index_of(&MONTHS_FULL, val)? + 1),
            Field::MonAbbr => month = Some(index_of(&MONTHS_ABBR, val)? + 1),
            Field::Day => day = Some(py_int(val)?),
            Field::H24 => hour = py_int(val)?,
            Field::H12 => {
                hour = py_int(val)?;
                if ampm.is_empty() || is_ampm(0) {
                    if hour == 12 {
                        hour = 0;
                    }
                } else if is_ampm(1) && hour != 12 {
                    hour += 12;
                }
            }
            Field::Min => minute = py_int(val)?,
            Field::Sec => second = py_int(val)?,
            Field::DayFull => weekday = Some(index_of(&DAYS_FULL, val)?),
            Field::DayAbbr => weekday = Some(index_of(&DAYS_ABBR, val)?),
            Field::Weekday => {
                let w = py_int(val)? - 1;
                weekday = Some(if w < 0 { 6 } else { w });
            }
            Field::YearDay => julian = Some(py_int(val)?),
            Field::WeekU => week = Some((py_int(val)?, false)),
            Field::WeekW => week = Some((py_int(val)?, true)),
            Field::Zone => {
                tzoffset = Some(if matches!(val, "Z" | "UTC" | "GMT") {
                    0
                } else {
                    i64::from(zone_offset_minutes(val).ok()?)
                });
            }
            Field::AmPm => {}
        }
    }

    let mut now_cache: Option<DateTime> = None;
    let mut now = || -> Option<DateTime> {
        used_now.set(true);
        if now_cache.is_none() {
            now_cache = Some(local_now(clock)?);
        }
        now_cache
    };

    let assume_year = year.is_none();
    let mut year = match year {
        Some(y) => y,
        None => i64::from(now()?.year()),
    };
    if month.is_none() || day.is_none() {
        if julian.is_none() {
            if let (Some((w, monday_first)), Some(wd)) = (week, weekday) {
                julian = Some(julian_from_week(year, w, wd, monday_first)?);
            }
        }
        if let Some(j) = julian {
            let jan1 = Date::new(i16::try_from(year).ok()?, 1, 1).ok()?;
            let d = jan1.checked_add((j - 1).days()).ok()?;
            year = i64::from(d.year());
            month = Some(i64::from(d.month()));
            day = Some(i64::from(d.day()));
        }
    }
    let assume_today = month.is_none() && day.is_none();
    if assume_today {
        let n = now()?;
        month = Some(i64::from(n.month()));
        day = Some(i64::from(n.day()));
    }
    // A month without a day (or the reverse) makes fail2ban fail.
    let (month, day) = (month?, day?);
    let mut dt = civil(year, month, day, hour, minute, second)?;
    if tzoffset.is_none() {
        tzoffset = clock.default_offset.map(i64::from);
    }
    if let Some(off) = tzoffset {
        dt = dt.checked_sub(off.minutes()).ok()?;
    }
    if assume_today && dt > now()? {
        dt = dt.checked_sub(1.day()).ok()?;
    }
    if assume_year && dt > now()?.checked_add(1.day()).ok()? {
        // The year before, with the month and day as written (the hour keeps any zone shift).
        dt = civil(
            year - 1,
            month,
            day,
            i64::from(dt.hour()),
            i64::from(dt.minute()),
            i64::from(dt.second()),
        )?;
    }
    if tzoffset.is_some() {
        let ts = dt.to_zoned(TimeZone::UTC).ok()?.timestamp();
        Some(Computed {
            time: ts.as_second() as f64,
            is_int: true,
        })
    } else {
        Some(Computed {
            time: mktime(clock.local, dt)?,
            is_int: false,
        })
    }
}

fn civil(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64) -> Option<DateTime> {
    if !(1..=9999).contains(&year) || !(0..=23).contains(&hour) || !(0..=59).contains(&minute) {
        return None;
    }
    if !(0..=59).contains(&second) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    DateTime::new(
        year as i16,
        month as i8,
        day as i8,
        hour as i8,
        minute as i8,
        second as i8,
        0,
    )
    .ok()
}

/// Day of the year from a week number and a weekday (0 = Monday), as C/Python strptime do it.
fn julian_from_week(year: i64, week: i64, weekday: i64, monday_first: bool) -> Option<i64> {
    let jan1 = Date::new(i16::try_from(year).ok()?, 1, 1).ok()?;
    let mut first_weekday = i64::from(jan1.weekday().to_monday_zero_offset());
    let mut weekday = weekday;
    if !monday_first {
        first_weekday = (first_weekday + 1) % 7;
        weekday = (weekday + 1) % 7;
    }
    let week0_len = (7 - first_weekday) % 7;
    if week == 0 {
        Some(1 + weekday - first_weekday)
    } else {
        Some(1 + week0_len + 7 * (week - 1) + weekday)
    }
}

/// "now" as a local civil date-time.
pub(crate) fn local_now(clock: &Clock<'_>) -> Option<DateTime> {
    if let Some((n, dt)) = clock.now_memo.get() {
        if n == clock.now {
            return Some(dt);
        }
    }
    let ts = timestamp_from_f64(clock.now)?;
    let dt = clock.local.to_datetime(ts);
    clock.now_memo.set(Some((clock.now, dt)));
    Some(dt)
}

fn timestamp_from_f64(t: f64) -> Option<Timestamp> {
    if !t.is_finite() {
        return None;
    }
    let secs = t.floor();
    let micros = ((t - secs) * 1e6).round() as i64;
    let (secs, micros) = if micros >= 1_000_000 {
        (secs as i64 + 1, 0)
    } else {
        (secs as i64, micros)
    };
    Timestamp::new(secs, (micros * 1000) as i32).ok()
}

/// Local civil time to epoch seconds like glibc's `mktime` with `tm_isdst = -1`: a time in a
/// spring-forward gap is moved forward by the gap, a repeated autumn time takes the later
/// (standard-time) instant.
pub(crate) fn mktime(tz: &TimeZone, dt: DateTime) -> Option<f64> {
    let ts = tz.to_ambiguous_timestamp(dt).later().ok()?;
    Some(ts.as_second() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_regex_follows_the_real_clock() {
        assert_eq!(year_prefixes_regex(2026), "20[012]");
        assert_eq!(year_prefixes_regex(2005), "200");
        assert_eq!(year_prefixes_regex(2008), "20[01]");
        assert_eq!(
            year_prefixes_regex(2097),
            "(?:200|201|202|203|204|205|206|207|208|209|210)"
        );
    }

    #[test]
    fn longest_code_wins() {
        assert_eq!(code_at("ExYfoo").map(|c| c.key), Some("ExY"));
        assert_eq!(code_at("Exq").map(|c| c.key), None);
        assert_eq!(code_at("Y").map(|c| c.key), Some("Y"));
        assert_eq!(code_at("%").map(|c| c.key), Some("%"));
        assert_eq!(code_at("e").map(|c| c.key), None);
        assert_eq!(code_at("").map(|c| c.key), None);
    }

    #[test]
    fn week_numbers() {
        // 2005-01-01 is a Saturday. %W week 1 Monday = Jan 3 (day 3); %U week 1 Sunday = Jan 2.
        assert_eq!(julian_from_week(2005, 1, 0, true), Some(3));
        assert_eq!(julian_from_week(2005, 1, 6, false), Some(2));
        assert_eq!(julian_from_week(2005, 0, 5, true), Some(1));
    }
}
