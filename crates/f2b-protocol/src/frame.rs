//! Message framing on the control socket.
//!
//! Each message is one pickle followed by the terminator `<F2B_END_COMMAND>`; a client ends
//! its session with `<F2B_CLOSE_COMMAND><F2B_END_COMMAND>`. fail2ban cuts at the first
//! terminator, which breaks on arguments that contain it; we read on when what precedes the
//! terminator is a pickle whose declared frame or string length runs past it, and cut
//! otherwise (garbage gets its error reply at once).

use std::io::Read;

use crate::pickle::{self, DecodeError, Mode};
use crate::value::Value;

/// Ends every message.
pub const END: &[u8] = b"<F2B_END_COMMAND>";
/// Sent (followed by [`END`]) by a client that closes its connection.
pub const CLOSE: &[u8] = b"<F2B_CLOSE_COMMAND>";

/// Largest message accepted, terminator excluded.
pub const MAX_FRAME_LEN: usize = pickle::MAX_PICKLE_LEN;

/// Errors while reading framed messages.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("message exceeds {max} bytes")]
    TooLong { max: usize },
    #[error("connection closed in the middle of a message")]
    UnexpectedEof,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One message read from the socket.
#[derive(Debug)]
pub enum Incoming {
    /// The peer announced it closes the connection.
    Close,
    /// A message, decoded (or the reason it could not be).
    Message(Result<Value, DecodeError>),
}

/// Accumulates bytes from a stream and cuts them into messages.
pub struct FrameReader {
    buf: Vec<u8>,
    scan_from: usize,
    mode: Mode,
    max: usize,
}

impl FrameReader {
    pub fn new(mode: Mode) -> FrameReader {
        FrameReader {
            buf: Vec::new(),
            scan_from: 0,
            mode,
            max: MAX_FRAME_LEN,
        }
    }

    /// A reader with a smaller bound on message size.
    pub fn with_max(mode: Mode, max: usize) -> FrameReader {
        FrameReader {
            max,
            ..FrameReader::new(mode)
        }
    }

    /// Whether bytes of an unfinished message are buffered.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Cuts the next complete message out of the buffer, if there is one.
    pub fn take(&mut self) -> Option<Incoming> {
        while let Some(rel) = find(&self.buf[self.scan_from..], END) {
            let at = self.scan_from + rel;
            let payload = &self.buf[..at];
            let result = if payload == CLOSE {
                Some(Incoming::Close)
            } else {
                match pickle::loads(payload, self.mode) {
                    // The terminator was part of a string (the pickle announced more
                    // bytes than precede it): the message goes on.
                    Err(DecodeError::Incomplete) => None,
                    other => Some(Incoming::Message(other)),
                }
            };
            match result {
                Some(msg) => {
                    self.buf.drain(..at + END.len());
                    self.scan_from = 0;
                    return Some(msg);
                }
                None => self.scan_from = at + 1,
            }
        }
        // Nothing complete: next search may start where a terminator could begin.
        self.scan_from = self
            .scan_from
            .max(self.buf.len().saturating_sub(END.len() - 1));
        None
    }

    /// Adds bytes read from the peer.
    pub fn push(&mut self, data: &[u8]) -> Result<(), FrameError> {
        if self.buf.len() + data.len() > self.max + END.len() {
            return Err(FrameError::TooLong { max: self.max });
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Reads from `stream` until one message is complete. `Ok(None)` on a clean end of
    /// stream between messages.
    pub fn read_from(&mut self, stream: &mut impl Read) -> Result<Option<Incoming>, FrameError> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(msg) = self.take() {
                return Ok(Some(msg));
            }
            let n = match stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(FrameError::UnexpectedEof)
                };
            }
            self.push(&chunk[..n])?;
        }
    }
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}
