//! The whole filter on fuzzed input: the first line is a failregex (with fail2ban's tags such as
//! `<HOST>`, `<F-USER>`, `<F-ID>`), the following lines are log lines fed one by one. The first
//! byte picks options (multi-line buffer, prefregex, datepattern). Checks that compilation errors
//! are errors and that no line panics, whatever the regex captures.
#![no_main]
use libfuzzer_sys::fuzz_target;
use f2b_filter::{Filter, FilterOptions, UseDns};

/// A conditional naming a group the pattern lacks (`(?(5)a|b)`) makes fancy-regex 0.20 index out
/// of bounds when it runs (fuzz/regressions/pyre_translate-conditional-unknown-group); Python
/// refuses it when compiling. Reported to the filter's owner; until translate refuses it, such
/// inputs are left out so that the rest keeps being fuzzed.
fn known_crash(p: &str) -> bool {
    p.contains("(?(")
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    if rest.len() > 16 * 1024 {
        return;
    }
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let Some(failregex) = lines.next() else { return };
    if known_crash(failregex) {
        return;
    }
    let opts = FilterOptions {
        prefregex: (sel & 1 != 0).then(|| r"^%(__prefix_line)s<F-CONTENT>.+</F-CONTENT>$".replace("%(__prefix_line)s", r"\S+ \S+ ")),
        failregex: vec![failregex.to_string(), r"^user <F-USER>.*</F-USER> from <ADDR>$".to_string()],
        ignoreregex: if sel & 2 != 0 { vec![r"ignore <F-ID>\d+</F-ID>".to_string()] } else { Vec::new() },
        maxlines: if sel & 4 != 0 { 3 } else { 1 },
        // always a pattern: building the ~30 default templates for each input would make this
        // target crawl, and the date_detector target covers them
        datepattern: Some(if sel & 8 != 0 { "{^LN-BEG}%Y-%m-%d %H:%M:%S" } else { "{NONE}" }.to_string()),
        logtimezone: None,
        usedns: UseDns::No,
        raw_hosts: sel & 16 != 0,
        check_all_regex: sel & 32 != 0,
        ignore_pending: sel & 64 != 0,
        in_operation: sel & 128 != 0,
        ..FilterOptions::default()
    };
    let Ok(mut filter) = Filter::new(opts) else { return };
    for line in lines {
        let out = filter.process_line(line, 1_124_013_600.0);
        for f in out.failures {
            std::hint::black_box((f.fid, f.groups, f.matches));
        }
    }
});
