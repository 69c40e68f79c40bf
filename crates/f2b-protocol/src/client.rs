//! The client end of the control socket (what fail2ban-client's socket helper does):
//! connect, send commands, read `(code, value)` replies, close politely.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::frame::{FrameError, FrameReader, Incoming, CLOSE, END};
use crate::pickle::{DecodeError, Mode};
use crate::value::Value;

/// A failed exchange with the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Connect(std::io::Error),
    #[error("{0}")]
    Io(std::io::Error),
    #[error("[Errno 104] Connection reset by peer")]
    Reset,
    #[error("{0}")]
    Frame(FrameError),
    #[error("{0}")]
    Decode(DecodeError),
}

impl ClientError {
    /// Whether this is a failure of the socket itself (as opposed to a garbled reply).
    pub fn is_socket_error(&self) -> bool {
        matches!(
            self,
            ClientError::Connect(_) | ClientError::Io(_) | ClientError::Reset
        ) || matches!(
            self,
            ClientError::Frame(FrameError::Io(_) | FrameError::UnexpectedEof)
        )
    }
}

/// The server's answer: code 0 with a value, or non-zero with (usually) an exception.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub code: i64,
    pub value: Value,
}

impl Reply {
    pub fn is_ok(&self) -> bool {
        self.code == 0
    }
}

/// One connection to the control socket.
pub struct Connection {
    stream: UnixStream,
    reader: FrameReader,
    closed: bool,
}

impl Connection {
    /// Connects to the socket at `path`; `timeout` bounds each read and write.
    pub fn connect(path: &Path, timeout: Option<Duration>) -> Result<Connection, ClientError> {
        let stream = UnixStream::connect(path).map_err(ClientError::Connect)?;
        let conn = Connection {
            stream,
            reader: FrameReader::new(Mode::Reply),
            closed: false,
        };
        conn.set_timeout(timeout)?;
        Ok(conn)
    }

    pub fn set_timeout(&self, timeout: Option<Duration>) -> Result<(), ClientError> {
        let t = timeout.filter(|d| !d.is_zero());
        self.stream.set_read_timeout(t).map_err(ClientError::Io)?;
        self.stream.set_write_timeout(t).map_err(ClientError::Io)?;
        Ok(())
    }

    /// Sends one command and waits for its reply.
    pub fn send(&mut self, cmd: &[Value]) -> Result<Reply, ClientError> {
        self.stream
            .write_all(&crate::encode_request(cmd))
            .map_err(ClientError::Io)?;
        match self.reader.read_from(&mut self.stream) {
            Ok(Some(Incoming::Message(Ok(v)))) => {
                crate::reply_from_value(v).map_err(ClientError::Decode)
            }
            Ok(Some(Incoming::Message(Err(e)))) => Err(ClientError::Decode(e)),
            Ok(Some(Incoming::Close)) | Ok(None) => Err(ClientError::Reset),
            Err(FrameError::Io(e)) => Err(ClientError::Io(e)),
            Err(e) => Err(ClientError::Frame(e)),
        }
    }

    /// Tells the server this connection ends, then closes it.
    pub fn close(mut self) {
        self.close_inner();
    }

    fn close_inner(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let mut bye = CLOSE.to_vec();
        bye.extend_from_slice(END);
        let _ = self.stream.write_all(&bye);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close_inner();
    }
}
