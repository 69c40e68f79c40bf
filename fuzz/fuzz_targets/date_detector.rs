//! The date detector: the first line of the input is a `datepattern` (fail2ban's %-codes,
//! `{^LN-BEG}`, `EPOCH`, `TAI64N`, ...), the rest are log lines. Each line is also tried with the
//! default templates and with a `logtimezone`. No pattern or line may panic; a found date's span
//! lies inside the line on character boundaries, and its time is a number.
#![no_main]
use f2b_filter::date::DateDetector;
use libfuzzer_sys::fuzz_target;

const NOW: f64 = 1_124_013_600.0;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.len() > 8192 {
        return;
    }
    let mut lines = text.split('\n');
    let pattern = lines.next().unwrap_or("");
    let lines: Vec<&str> = lines.collect();
    let mut detectors = vec![DateDetector::new(None, None).expect("the default templates build")];
    detectors.extend(DateDetector::new(Some(pattern), None).ok());
    detectors.extend(DateDetector::new(Some(pattern), Some("UTC+02:30")).ok());
    for d in &mut detectors {
        for line in &lines {
            if let Some(m) = d.find(line, NOW) {
                assert!(m.span.start <= m.span.end && m.span.end <= line.len(), "span {:?} outside {line:?}", m.span);
                assert!(line.is_char_boundary(m.span.start) && line.is_char_boundary(m.span.end));
                assert!(!m.time.is_nan(), "NaN time for {line:?}");
            }
        }
        std::hint::black_box(d.describe());
    }
});
