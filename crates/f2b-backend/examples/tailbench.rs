//! Throughput of the file reader: `cargo run --release -p f2b-backend --example tailbench FILE`.
//! Reads FILE from its head through a FileTailer and prints lines, bytes and lines per second.

use std::time::Instant;

use f2b_backend::{FileTailer, LogEncoding, StartPos};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: tailbench FILE");
        std::process::exit(2);
    };
    let start = Instant::now();
    let mut t = match FileTailer::open(&path, StartPos::Head, LogEncoding::Utf8) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let (mut lines, mut bytes) = (0u64, 0u64);
    if let Err(e) = t.read_with(&mut |l| {
        lines += 1;
        bytes += l.len() as u64 + 1;
    }) {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{lines} lines, {bytes} bytes in {secs:.3} s: {:.0} lines/s, {:.0} MB/s",
        lines as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}
