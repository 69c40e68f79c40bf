//! fail2ban's control-socket wire protocol and fail2ban-client's output formats.
//!
//! - [`Value`] and the pickle codec ([`encode_request`], [`decode_request`],
//!   [`encode_reply`], [`decode_reply`]): commands travel as a pickled list of words, replies
//!   as a pickled `(code, value)` tuple, each followed by `<F2B_END_COMMAND>`; bytes are
//!   interchangeable with Debian's fail2ban-client and fail2ban-server.
//! - [`server`]: the Unix-socket listener the daemon plugs its command [`server::Handler`] into.
//! - [`client`]: the connection f2b-client uses.
//! - [`beautifier`]: turns a command and its reply into exactly what fail2ban-client prints.
//!
//! It deliberately knows nothing of jails or bans: what a command means is the daemon's
//! business; this crate only moves values and formats them. Decoding accepts plain data
//! only (plus exception objects in replies) and never runs anything a pickle names.
//!
//! ```
//! use f2b_protocol::{beautifier, decode_reply, decode_request, encode_reply, encode_request, Value};
//!
//! // What `fail2ban-client status sshd` sends, and what the server reads.
//! let frame = encode_request(&Value::words(&["status", "sshd"]));
//! assert!(frame.ends_with(f2b_protocol::END));
//! assert_eq!(decode_request(&frame).unwrap(), Value::words(&["status", "sshd"]));
//!
//! // A failed command comes back as an exception the client prints its own way.
//! let err = Value::Exception {
//!     class: "fail2ban.exceptions.UnknownJailException".into(),
//!     message: "sshd".into(),
//! };
//! let (code, value) = decode_reply(&encode_reply(1, &err)).unwrap();
//! assert_eq!(code, 1);
//! assert_eq!(beautifier::beautify_error(&value), "Sorry but the jail 'sshd' does not exist");
//! ```

pub mod beautifier;
pub mod client;
pub mod frame;
pub mod pickle;
pub mod server;
pub mod value;

pub use frame::{CLOSE, END, MAX_FRAME_LEN};
pub use pickle::DecodeError;
pub use value::Value;

/// A full request frame: the pickled command followed by the terminator.
pub fn encode_request(cmd: &[Value]) -> Vec<u8> {
    encode_value(&Value::List(cmd.to_vec()))
}

/// Decodes a request: the pickle, with or without the trailing terminator. Only plain data
/// is accepted; the command must be a list (or tuple) of values.
pub fn decode_request(frame: &[u8]) -> Result<Vec<Value>, DecodeError> {
    match pickle::loads(strip_end(frame), pickle::Mode::Data)? {
        Value::List(items) | Value::Tuple(items) => Ok(items),
        _ => Err(DecodeError::Shape("a command must be a list")),
    }
}

/// A full reply frame: the pickled `(code, value)` tuple followed by the terminator.
pub fn encode_reply(code: i32, value: &Value) -> Vec<u8> {
    encode_value(&Value::Tuple(vec![Value::Int(code as i64), value.clone()]))
}

/// Decodes a reply: the pickle, with or without the trailing terminator.
pub fn decode_reply(frame: &[u8]) -> Result<(i32, Value), DecodeError> {
    let reply = reply_from_value(pickle::loads(strip_end(frame), pickle::Mode::Reply)?)?;
    let code =
        i32::try_from(reply.code).map_err(|_| DecodeError::Shape("reply code out of range"))?;
    Ok((code, reply.value))
}

pub(crate) fn reply_from_value(v: Value) -> Result<client::Reply, DecodeError> {
    match v {
        Value::Tuple(mut items) if items.len() == 2 => {
            let value = items.pop().unwrap_or(Value::None);
            match items.pop() {
                Some(Value::Int(code)) => Ok(client::Reply { code, value }),
                Some(Value::Bool(b)) => Ok(client::Reply {
                    code: b as i64,
                    value,
                }),
                _ => Err(DecodeError::Shape("reply code is not an integer")),
            }
        }
        // A server that could not decode our message answers with a bare string.
        Value::Str(s) => Ok(client::Reply {
            code: 1,
            value: Value::Exception {
                class: "builtins.Exception".into(),
                message: s,
            },
        }),
        _ => Err(DecodeError::Shape("a reply must be a (code, value) pair")),
    }
}

pub(crate) fn encode_value(v: &Value) -> Vec<u8> {
    let mut out = pickle::dumps(v);
    out.extend_from_slice(END);
    out
}

fn strip_end(frame: &[u8]) -> &[u8] {
    frame.strip_suffix(END).unwrap_or(frame)
}
