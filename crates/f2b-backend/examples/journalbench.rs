//! Throughput of the journal reader:
//! `cargo run --release -p f2b-backend --example journalbench FILE.journal [MATCH...]`.
//! Reads every entry selected by the matches (one journalmatch line) and prints lines per second.

use std::time::Instant;

use f2b_backend::{JournalOptions, JournalReader, JournalStart, LogEncoding};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next() else {
        eprintln!("usage: journalbench FILE.journal [FIELD=value ...]");
        std::process::exit(2);
    };
    let words: Vec<String> = args.collect();
    let matches = if words.is_empty() {
        Vec::new()
    } else {
        vec![words]
    };
    let opts = JournalOptions {
        files: vec![file],
        ..Default::default()
    };
    let start = Instant::now();
    let mut r = match JournalReader::open(&opts, &matches, JournalStart::Head, LogEncoding::Utf8) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let (mut lines, mut bytes) = (0u64, 0u64);
    loop {
        match r.next_line() {
            Ok(Some((l, _))) => {
                lines += 1;
                bytes += l.len() as u64;
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{lines} lines, {bytes} bytes in {secs:.3} s: {:.0} lines/s",
        lines as f64 / secs
    );
}
