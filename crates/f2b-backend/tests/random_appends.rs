//! Random bytes appended in random pieces, read at random moments: the lines handed out are
//! always those of a plain model (split on LF, cut at the bound, trailing CRs removed, invalid
//! UTF-8 replaced), whatever the read and buffer boundaries.

use std::fs::OpenOptions;
use std::io::Write;

use f2b_backend::{FileTailer, LogEncoding, StartPos};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn model(data: &[u8], max_line: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut segments: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let last = segments.pop().unwrap_or(&[]);
    let cut = |l: &[u8]| {
        let mut l = &l[..l.len().min(max_line)];
        while let [rest @ .., b'\r'] = l {
            l = rest;
        }
        String::from_utf8_lossy(l).into_owned()
    };
    for l in segments {
        out.push(cut(l));
    }
    // An unfinished line already past the bound has been handed out (cut) already.
    if last.len() > max_line {
        out.push(cut(last));
    }
    out
}

fn random_line(rng: &mut Rng, max_line: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"abc xyz=01\r\r\xff\xc3\xa9\xe2\x82\xac\xf0\x9f";
    let len = match rng.below(10) {
        0 => rng.below(3 * max_line as u64 + 3) as usize,
        1 if rng.below(40) == 0 => 300_000 + rng.below(300_000) as usize, // crosses read buffers
        _ => rng.below(80) as usize,
    };
    let mut l: Vec<u8> = (0..len)
        .map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize])
        .collect();
    l.push(b'\n');
    l
}

#[test]
fn random_appends_match_the_model() {
    for (seed, max_line) in [(1u64, 7usize), (2, 100), (3, 4096), (4, 65536), (5, 1)] {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .unwrap();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
        let mut t = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
        t.set_max_line(max_line);
        let mut all = Vec::new();
        let mut got = Vec::new();
        let mut pending = Vec::new();
        let mut newlines = 0usize;
        for _ in 0..3000 {
            if pending.is_empty() {
                pending = random_line(&mut rng, max_line);
            }
            // Write a random piece of what is pending (lines arrive in pieces).
            let n = 1 + rng.below(pending.len() as u64) as usize;
            let piece: Vec<u8> = pending.drain(..n).collect();
            f.write_all(&piece).unwrap();
            all.extend_from_slice(&piece);
            newlines += piece.iter().filter(|&&b| b == b'\n').count();
            if rng.below(3) == 0 {
                t.read_available(&mut got).unwrap();
                // Cheap check at every read (complete lines, plus an unfinished one past the
                // bound); the full comparison with the model comes at the end.
                let tail = all.len() - all.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                assert_eq!(
                    got.len(),
                    newlines + usize::from(tail > max_line),
                    "seed {seed}"
                );
            }
        }
        t.read_available(&mut got).unwrap();
        assert!(got == model(&all, max_line), "seed {seed} final");
        // Position: after the last complete line, unless a cut line is being skipped.
        let last_nl = all.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) as u64;
        assert!(t.position().pos == last_nl || all.len() - last_nl as usize > max_line);
    }
}
