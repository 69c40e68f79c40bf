//! Following one log file across appends and rotations.
//!
//! A [`FileTailer`] keeps the file open between reads (one descriptor per generation of the
//! file) and reads it with positioned reads into a large buffer, splitting lines in bulk. The
//! position it reports is the one fail2ban stores in its `logs` table: the byte offset after the
//! last complete line and the MD5 of the file's first line (newline included), so a restart
//! resumes where the previous run stopped, and a file whose first line changed is read again
//! from its start.
//!
//! Rotation is detected the way fail2ban detects it (a different inode at the path, a file
//! shorter than our offset, a different first line), but the old generation is drained before
//! the new one is read, so lines written just before a rotation are not lost:
//! - rename + create, delete + create: the open descriptor still reads the old file to its end
//!   (and keeps reading it for a while, for writers that reopen late);
//! - copytruncate: the unread tail is taken from the copy (a sibling whose first line matches);
//! - two rotations between two reads: the generation in between is found among the siblings by
//!   its birth time and read whole.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use md5::{Digest, Md5};
use memchr::memchr_iter;

use crate::encoding::LogEncoding;

/// Size of the first positioned read; a read that fills the buffer doubles it (a backlog), up
/// to the largest size. Between reads only the small buffer is kept: a jail with many quiet
/// files costs little memory.
const READ_CHUNK_MIN: usize = 16 * 1024;
const READ_CHUNK_MAX: usize = 256 * 1024;
/// Default bound on a line: longer lines are cut here, the rest is skipped up to the newline.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;
/// How long a rotated-away generation keeps being read after its last new byte.
const RETIRE_GRACE: Duration = Duration::from_secs(30);
/// At most this many rotated-away generations are kept open.
const MAX_RETIRED: usize = 8;
/// Compressed siblings never hold the plain text we are after.
const COMPRESSED: [&str; 9] = [
    ".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z", ".lzma", ".zip", ".lz",
];

/// Where reading starts when a file is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPos {
    /// From the first byte (`logpath = ... head`, fail2ban's default).
    Head,
    /// From the current end; only lines written later are read (`logpath = ... tail`).
    Tail,
    /// From a saved position, if the file's first line still has the saved MD5 and the file is
    /// at least that long; from the start otherwise (the file was replaced meanwhile), after the
    /// unread rest of the saved generation if it is found among the rotated siblings.
    At { pos: u64, first_line_md5: String },
}

/// A resumable position in a log file, as stored in fail2ban's `logs` table
/// (`lastfilepos`, `firstlinemd5`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePosition {
    pub pos: u64,
    /// Hex MD5 of the first line including its newline; empty while the file has no complete
    /// first line.
    pub first_line_md5: String,
}

/// One generation of the file: an open descriptor and how far it has been read.
struct Generation {
    file: File,
    dev: u64,
    ino: u64,
    born: Option<SystemTime>,
    /// Offset just after the last complete line handed out.
    pos: u64,
    /// Offset up to which bytes have been read (`pos` + the incomplete line held).
    read_pos: u64,
    partial: Vec<u8>,
    /// Discarding bytes up to the next newline (rest of an over-long line, or the tail of the
    /// line that was being written when we started at the end).
    skipping: bool,
    first_line_md5: String,
    size_seen: u64,
    /// Modification time (ns) at the last look: a same-size rewrite still changes it.
    mtime_seen: i128,
    last_data: Instant,
}

impl Generation {
    fn open(path: &Path) -> io::Result<Generation> {
        let file = File::open(path)?;
        Generation::from_file(file)
    }

    fn from_file(file: File) -> io::Result<Generation> {
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let first_line_md5 = first_line_md5(&file)?;
        Ok(Generation {
            dev: meta.dev(),
            ino: meta.ino(),
            born: meta.created().ok(),
            pos: 0,
            read_pos: 0,
            partial: Vec::new(),
            skipping: false,
            first_line_md5,
            size_seen: meta.len(),
            mtime_seen: mtime_ns(&meta),
            file,
            last_data: Instant::now(),
        })
    }

    fn same_file(&self, meta: &fs::Metadata) -> bool {
        self.dev == meta.dev() && self.ino == meta.ino()
    }

    fn seek_to(&mut self, pos: u64) {
        self.pos = pos;
        self.read_pos = pos;
        self.partial.clear();
        self.skipping = false;
    }
}

/// Follows one log file; see the module documentation.
pub struct FileTailer {
    path: PathBuf,
    encoding: LogEncoding,
    max_line: usize,
    current: Option<Generation>,
    retired: Vec<Generation>,
    buf: Vec<u8>,
    rotations: u64,
}

impl std::fmt::Debug for FileTailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileTailer")
            .field("path", &self.path)
            .field("position", &self.position())
            .field("retired", &self.retired.len())
            .finish()
    }
}

impl FileTailer {
    /// Opens `path` and places the reader according to `start`.
    pub fn open(
        path: impl Into<PathBuf>,
        start: StartPos,
        encoding: LogEncoding,
    ) -> io::Result<FileTailer> {
        let path = path.into();
        let mut gen = Generation::open(&path)?;
        let size = gen.size_seen;
        let mut resume_rotated = None;
        match start {
            StartPos::Head => {}
            StartPos::Tail => {
                gen.seek_to(size);
                // The line being written when we start is not ours: skip its remainder.
                gen.skipping = size > 0 && last_byte(&gen.file, size)? != Some(b'\n');
            }
            StartPos::At {
                pos,
                first_line_md5,
            } => {
                if first_line_md5 == gen.first_line_md5 && pos <= size {
                    gen.seek_to(pos);
                    gen.skipping = pos > 0 && last_byte(&gen.file, pos)? != Some(b'\n');
                } else if !first_line_md5.is_empty() {
                    resume_rotated = Some((pos, first_line_md5));
                }
            }
        }
        let mut tailer = FileTailer {
            path,
            encoding,
            max_line: DEFAULT_MAX_LINE,
            current: Some(gen),
            retired: Vec::new(),
            buf: Vec::new(),
            rotations: 0,
        };
        if let Some((pos, md5)) = resume_rotated {
            tailer.resume_rotated(pos, &md5);
        }
        Ok(tailer)
    }

    /// The file was rotated while we were stopped: if the generation we were reading is still
    /// there under a rotated name (same first line, at least as long as our position), its
    /// remainder is read first, so a restart across a rotation loses nothing. fail2ban itself
    /// only starts the new file from its head.
    fn resume_rotated(&mut self, pos: u64, md5: &str) {
        let found = self.siblings().into_iter().find(|(p, m)| {
            m.len() >= pos
                && !self.current.as_ref().is_some_and(|c| c.same_file(m))
                && File::open(p)
                    .and_then(|f| first_line_md5(&f))
                    .is_ok_and(|h| h == md5)
        });
        if let Some((p, _)) = found {
            if let Ok(mut gen) = Generation::open(&p) {
                gen.seek_to(pos);
                gen.skipping = pos > 0 && last_byte(&gen.file, pos).ok().flatten() != Some(b'\n');
                self.retired.push(gen);
            }
        }
    }

    /// Changes the bound on line length (bytes, at least 1; `usize::MAX` means no bound that
    /// matters, as fail2ban-regex has none).
    pub fn set_max_line(&mut self, max_line: usize) {
        self.max_line = max_line.clamp(1, usize::MAX / 2);
    }

    pub fn set_encoding(&mut self, encoding: LogEncoding) {
        self.encoding = encoding;
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The position to persist: offset after the last complete line of the current file and the
    /// MD5 of its first line.
    pub fn position(&self) -> FilePosition {
        match &self.current {
            Some(g) => FilePosition {
                pos: g.pos,
                first_line_md5: g.first_line_md5.clone(),
            },
            None => FilePosition {
                pos: 0,
                first_line_md5: String::new(),
            },
        }
    }

    /// How many rotations were seen since the file was opened.
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// Whether rotated-away generations are still being followed.
    pub fn has_retired(&self) -> bool {
        !self.retired.is_empty()
    }

    /// Moves the read position forward, by bisection, to about the first line dated at or
    /// after `time`: fail2ban's first seek to `now - findtime` in a file read from its head, which
    /// spares reading a large file whole at start. `date_of` gives a line's time (the filter's
    /// date detector). Conservative: dates are assumed to grow through the file, undated
    /// stretches are never skipped, and the final position is at most 64 KiB before the first
    /// line at `time` (those old lines are still handed out; the filter ignores them by date).
    pub fn seek_to_time(
        &mut self,
        time: f64,
        date_of: &mut dyn FnMut(&str) -> Option<f64>,
    ) -> io::Result<()> {
        const CLOSE_ENOUGH: u64 = 64 * 1024;
        const PROBE_LINES: usize = 5;
        let encoding = self.encoding;
        let Some(cur) = self.current.as_mut() else {
            return Ok(());
        };
        if cur.skipping || !cur.partial.is_empty() {
            return Ok(());
        }
        let mut lo = cur.pos;
        let mut hi = cur.file.metadata()?.len();
        let mut probe = vec![0u8; 16 * 1024];
        while hi > lo + CLOSE_ENOUGH {
            let mid = lo + (hi - lo) / 2;
            let n = cur.file.read_at(&mut probe, mid - 1)?;
            let chunk = &probe[..n];
            // chunk[0] is the byte before mid: lines start after each newline.
            let mut starts = memchr_iter(b'\n', chunk).map(|i| i + 1).peekable();
            let mut verdict = None;
            for _ in 0..PROBE_LINES {
                let Some(start) = starts.next() else { break };
                let Some(&end) = starts.peek() else { break };
                let line = &chunk[start..end - 1];
                if let Some(t) = date_of(&encoding.decode(line)) {
                    verdict = Some((t < time, mid - 1 + end as u64));
                    break;
                }
            }
            match verdict {
                Some((true, next_line)) if next_line <= hi => lo = next_line,
                _ => hi = mid,
            }
        }
        cur.seek_to(lo);
        Ok(())
    }

    /// Collects every complete line available now into `out`; returns how many were added.
    pub fn read_available(&mut self, out: &mut Vec<String>) -> io::Result<usize> {
        self.read_with(&mut |line: &str| out.push(line.to_owned()))
    }

    /// Hands every complete line available now to `sink` (without its line ending), oldest
    /// first; returns how many lines were handed out. An incomplete last line is held until its
    /// newline arrives.
    pub fn read_with(&mut self, sink: &mut dyn FnMut(&str)) -> io::Result<usize> {
        if self.buf.len() < READ_CHUNK_MIN {
            self.buf.resize(READ_CHUNK_MIN, 0);
        }
        let result = self.read_all_generations(sink);
        if self.buf.len() > READ_CHUNK_MIN {
            self.buf = Vec::new();
        }
        result
    }

    fn read_all_generations(&mut self, sink: &mut dyn FnMut(&str)) -> io::Result<usize> {
        let mut count = 0;
        let reader = LineReader {
            encoding: self.encoding,
            max_line: self.max_line,
        };

        // Older generations first: their lines were written before the current file's. One that
        // cannot be read any more is given up (it must not stop the current file).
        let buf = &mut self.buf;
        self.retired
            .retain_mut(|gen| match reader.drain(gen, buf, sink) {
                Ok(n) => {
                    count += n;
                    true
                }
                Err(_) => false,
            });
        self.expire_retired(&reader, sink);

        let Some(mut cur) = self.current.take() else {
            match Generation::open(&self.path) {
                Ok(gen) => self.current = Some(gen),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(count),
                Err(e) => return Err(e),
            }
            return Ok(count + self.read_current(&reader, sink)?);
        };

        let replaced = match fs::metadata(&self.path) {
            Ok(meta) => !cur.same_file(&meta),
            // Deleted, new one not created yet: keep reading what we hold.
            Err(_) => false,
        };
        if replaced {
            match reader.drain(&mut cur, &mut self.buf, sink) {
                Ok(n) => count += n,
                Err(e) => {
                    self.current = Some(cur);
                    return Err(e);
                }
            }
            let old_born = cur.born;
            self.retire(cur);
            match Generation::open(&self.path) {
                Ok(gen) => {
                    self.rotations += 1;
                    count += self.recover_intermediates(old_born, &gen, &reader, sink);
                    self.current = Some(gen);
                }
                // Gone again already: the next read opens whatever is there then.
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(count),
                Err(e) => return Err(e),
            }
        } else {
            let checked = self.check_truncated(&mut cur, &reader, sink);
            self.current = Some(cur);
            count += checked?;
        }
        Ok(count + self.read_current(&reader, sink)?)
    }

    /// Detects a truncation of the current generation (copytruncate) and restarts it from its
    /// first byte after taking the unread tail from the copy; returns the lines recovered.
    fn check_truncated(
        &mut self,
        cur: &mut Generation,
        reader: &LineReader,
        sink: &mut dyn FnMut(&str),
    ) -> io::Result<usize> {
        let meta = cur.file.metadata()?;
        let size = meta.len();
        let mtime = mtime_ns(&meta);
        let mut truncated = size < cur.read_pos;
        if !truncated && (size != cur.size_seen || mtime != cur.mtime_seen) {
            // Truncated and written again past our offset: only the first line tells.
            let md5 = first_line_md5(&cur.file)?;
            if !cur.first_line_md5.is_empty() && md5 != cur.first_line_md5 {
                truncated = true;
            } else {
                cur.first_line_md5 = md5;
            }
        }
        let mut count = 0;
        if truncated {
            self.rotations += 1;
            count = self.recover_from_copy(cur, reader, sink);
            cur.seek_to(0);
            cur.first_line_md5 = first_line_md5(&cur.file)?;
        }
        cur.size_seen = size;
        cur.mtime_seen = mtime;
        Ok(count)
    }

    fn read_current(
        &mut self,
        reader: &LineReader,
        sink: &mut dyn FnMut(&str),
    ) -> io::Result<usize> {
        let Some(cur) = self.current.as_mut() else {
            return Ok(0);
        };
        let n = reader.drain(cur, &mut self.buf, sink)?;
        if cur.first_line_md5.is_empty() && cur.read_pos > 0 {
            cur.first_line_md5 = first_line_md5(&cur.file)?;
        }
        Ok(n)
    }

    fn retire(&mut self, mut gen: Generation) {
        // The grace period starts now: a quiet file may still get the last lines of a writer
        // that has not reopened yet.
        gen.last_data = Instant::now();
        self.retired.push(gen);
        if self.retired.len() > MAX_RETIRED {
            self.retired.remove(0);
        }
    }

    /// Closes rotated-away generations that stayed silent for a while. A line left without its
    /// newline there will never be completed: it is handed out as it is.
    fn expire_retired(&mut self, reader: &LineReader, sink: &mut dyn FnMut(&str)) {
        let now = Instant::now();
        self.retired.retain_mut(|gen| {
            let keep = now.duration_since(gen.last_data) < RETIRE_GRACE;
            if !keep && !gen.partial.is_empty() && !gen.skipping {
                reader.emit(&gen.partial, sink);
            }
            keep
        });
    }

    /// Siblings of the file (same directory, name starting with the file's name) that may hold
    /// rotated content.
    fn siblings(&self) -> Vec<(PathBuf, fs::Metadata)> {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return Vec::new();
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let name = name.to_string_lossy();
        let Ok(entries) = fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.len() > name.len()
                    && n.starts_with(&*name)
                    && !COMPRESSED.iter().any(|s| n.ends_with(s))
            })
            .filter_map(|e| {
                let p = e.path();
                let m = fs::metadata(&p).ok()?;
                m.is_file().then_some((p, m))
            })
            .collect()
    }

    /// After a rename rotation, finds generations born between the one we held and the new one
    /// (they were rotated away before we saw them) and reads them whole.
    fn recover_intermediates(
        &mut self,
        old_born: Option<SystemTime>,
        new: &Generation,
        reader: &LineReader,
        sink: &mut dyn FnMut(&str),
    ) -> usize {
        let (Some(old_born), Some(new_born)) = (old_born, new.born) else {
            return 0;
        };
        let mut found: Vec<(SystemTime, PathBuf)> = self
            .siblings()
            .into_iter()
            .filter(|(_, m)| {
                let known = (m.dev() == new.dev && m.ino() == new.ino)
                    || self.retired.iter().any(|g| g.same_file(m));
                let born = m.created().ok();
                // Birth times have the filesystem clock's granularity (a few ms on ext4):
                // generations created within one tick compare equal.
                !known && born.is_some_and(|b| b >= old_born && b <= new_born)
            })
            .filter_map(|(p, m)| Some((m.created().ok()?, p)))
            .collect();
        found.sort();
        let mut count = 0;
        for (_, p) in found {
            if let Ok(mut gen) = Generation::open(&p) {
                count += reader.drain(&mut gen, &mut self.buf, sink).unwrap_or(0);
                self.retire(gen);
            }
        }
        count
    }

    /// After a truncation (copytruncate), reads the part we had not read yet from the copy: a
    /// sibling with the same first line, at least as long as what we had read.
    fn recover_from_copy(
        &mut self,
        cur: &Generation,
        reader: &LineReader,
        sink: &mut dyn FnMut(&str),
    ) -> usize {
        if cur.first_line_md5.is_empty() {
            return 0;
        }
        let mut best: Option<(SystemTime, PathBuf)> = None;
        for (p, m) in self.siblings() {
            if cur.same_file(&m) || m.len() < cur.read_pos {
                continue;
            }
            let Ok(f) = File::open(&p) else { continue };
            if first_line_md5(&f).ok().as_deref() != Some(cur.first_line_md5.as_str()) {
                continue;
            }
            let t = m
                .created()
                .or_else(|_| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            if best.as_ref().map_or(true, |(bt, _)| t > *bt) {
                best = Some((t, p));
            }
        }
        let Some((_, p)) = best else { return 0 };
        let Ok(mut copy) = Generation::open(&p) else {
            return 0;
        };
        copy.seek_to(cur.pos);
        copy.skipping = cur.skipping;
        let n = reader.drain(&mut copy, &mut self.buf, sink).unwrap_or(0);
        // The copy is complete: a line left without newline there was cut by the rotation.
        if !copy.partial.is_empty() && !copy.skipping {
            reader.emit(&copy.partial, sink);
            return n + 1;
        }
        n
    }
}

/// Splits bytes into lines for one tailer (encoding and bound on length).
struct LineReader {
    encoding: LogEncoding,
    max_line: usize,
}

impl LineReader {
    /// Hands out one line: cut at the bound, then without its trailing CRs (fail2ban strips
    /// every trailing CR/LF of a line).
    fn emit(&self, mut line: &[u8], sink: &mut dyn FnMut(&str)) {
        if line.len() > self.max_line {
            line = &line[..self.max_line];
        }
        while let [rest @ .., b'\r'] = line {
            line = rest;
        }
        sink(&self.encoding.decode(line));
    }

    /// Reads `gen` from where it stopped to the current end of file.
    fn drain(
        &self,
        gen: &mut Generation,
        buf: &mut Vec<u8>,
        sink: &mut dyn FnMut(&str),
    ) -> io::Result<usize> {
        let mut count = 0;
        loop {
            let n = match gen.file.read_at(buf.as_mut_slice(), gen.read_pos) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            gen.last_data = Instant::now();
            let chunk = &buf[..n];
            let base = gen.read_pos;
            gen.read_pos += n as u64;
            let mut start = 0;
            for nl in memchr_iter(b'\n', chunk) {
                if gen.skipping {
                    gen.skipping = false;
                } else if gen.partial.is_empty() {
                    self.emit(&chunk[start..nl], sink);
                    count += 1;
                } else {
                    let room = self.max_line.saturating_sub(gen.partial.len());
                    let take = (nl - start).min(room);
                    gen.partial.extend_from_slice(&chunk[start..start + take]);
                    self.emit(&gen.partial, sink);
                    count += 1;
                }
                gen.partial.clear();
                start = nl + 1;
                gen.pos = base + start as u64;
            }
            if !gen.skipping && start < n {
                let room = self.max_line + 1 - gen.partial.len().min(self.max_line + 1);
                let take = (n - start).min(room);
                gen.partial.extend_from_slice(&chunk[start..start + take]);
                if gen.partial.len() > self.max_line {
                    // Bounded memory: hand out the first max_line bytes, drop the rest of it.
                    self.emit(&gen.partial, sink);
                    count += 1;
                    gen.partial.clear();
                    gen.skipping = true;
                }
            }
            if n < buf.len() {
                break;
            }
            if buf.len() < READ_CHUNK_MAX {
                let len = (buf.len() * 2).min(READ_CHUNK_MAX);
                buf.resize(len, 0);
            }
        }
        Ok(count)
    }
}

fn mtime_ns(meta: &fs::Metadata) -> i128 {
    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())
}

/// The byte just before `pos`.
fn last_byte(file: &File, pos: u64) -> io::Result<Option<u8>> {
    let mut b = [0u8; 1];
    match file.read_at(&mut b, pos.saturating_sub(1))? {
        1 => Ok(Some(b[0])),
        _ => Ok(None),
    }
}

/// Hex MD5 of the first line including its newline, or "" when the first line is not complete
/// (fail2ban's `firstlinemd5`).
pub fn first_line_md5(file: &File) -> io::Result<String> {
    let mut hasher = Md5::new();
    let mut buf = [0u8; 8192];
    let mut off = 0u64;
    // A first line longer than this is hashed as far as here; still a stable identity.
    const LIMIT: u64 = 1 << 20;
    loop {
        let n = file.read_at(&mut buf, off)?;
        if n == 0 {
            return Ok(String::new());
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            hasher.update(&buf[..=i]);
            break;
        }
        hasher.update(&buf[..n]);
        off += n as u64;
        if off >= LIMIT {
            break;
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
