//! fail2ban-client's output: what it prints for a command and the server's reply.
//!
//! The client formats a few known replies (status trees, lists of files, regexes, IPs...)
//! and prints everything else as Python's `str()` of the value. When a reply does not have
//! the shape a formatter expects, fail2ban-client logs "Beautifier error" and prints
//! `repr(partial message) + repr(reply)`; we reproduce that too, so even odd replies print
//! byte for byte the same.
//!
//! Formats follow fail2ban 1.0.2; `status --all` additionally understands fail2ban 1.1's
//! reply (the server status followed by a dict of jail statuses).

use crate::value::{py_repr_str, Value};

/// Whatever Python raised; only the fact matters, the client prints a fixed fallback.
struct PyError;
type Py<T> = Result<T, PyError>;

/// What fail2ban-client prints (without the final newline) for a successful reply.
pub fn beautify(cmd: &[String], response: &Value) -> String {
    match try_beautify(cmd, response) {
        Ok(s) => s,
        Err(fallback) => fallback,
    }
}

/// Like [`beautify`], but tells apart a reply that did not fit its formatter: `Err` holds
/// the fallback text fail2ban-client prints after logging "Beautifier error".
pub fn try_beautify(cmd: &[String], response: &Value) -> Result<String, String> {
    let mut b = Beautify {
        cmd,
        response,
        msg: response.clone(),
    };
    match b.run() {
        Ok(()) => Ok(b.msg.py_str()),
        Err(PyError) => Err(format!("{}{}", b.msg.py_repr(), response.py_repr())),
    }
}

/// What fail2ban-client prints for a failed command (code != 0).
pub fn beautify_error(response: &Value) -> String {
    if let Value::Exception { class, message } = response {
        match crate::value::short_class(class) {
            "UnknownJailException" => {
                return format!("Sorry but the jail '{message}' does not exist")
            }
            "IndexError" => return "Sorry but the command is invalid".into(),
            "DuplicateJailException" => return format!("The jail '{message}' already exists"),
            _ => {}
        }
    }
    response.py_str()
}

struct Beautify<'a> {
    cmd: &'a [String],
    response: &'a Value,
    /// Python's `msg` variable: its value when a step fails is part of the fallback text.
    msg: Value,
}

fn s(x: impl Into<String>) -> Value {
    Value::Str(x.into())
}

impl Beautify<'_> {
    fn arg(&self, i: usize) -> Py<&str> {
        self.cmd.get(i).map(String::as_str).ok_or(PyError)
    }

    /// `msg += text`, where msg must be a str.
    fn append(&mut self, text: &str) -> Py<()> {
        match &mut self.msg {
            Value::Str(m) => {
                m.push_str(text);
                Ok(())
            }
            _ => Err(PyError),
        }
    }

    fn run(&mut self) -> Py<()> {
        let r = self.response;
        let first = self.arg(0)?;
        match first {
            "ping" => self.msg = s(format!("Server replied: {}", text(r)?)),
            "version" => {}
            "start" => self.msg = s("Jail started"),
            "stop" => {
                if r == &Value::None {
                    self.msg = s(if self.cmd.len() == 1 {
                        "Shutdown successful"
                    } else {
                        "Jail stopped"
                    });
                }
            }
            "add" => self.msg = s(format!("Added jail {}", text(r)?)),
            "flushlogs" => self.msg = s(format!("logs: {}", text(r)?)),
            "echo" => self.msg = s(join(" ", &iterate(r)?)?),
            "status" => self.status()?,
            _ => self.settings()?,
        }
        Ok(())
    }

    fn status(&mut self) -> Py<()> {
        let r = self.response;
        if self.cmd.len() > 1 {
            if self.cmd[1] == "--all" {
                if let Value::List(items) = r {
                    if let Some(Value::Dict(jails)) = items.last() {
                        return self.status_all(&items[..items.len() - 1], jails);
                    }
                }
            }
            self.msg = Value::List(vec![s(format!("Status for the jail: {}", self.cmd[1]))]);
            self.jail_status(r, "")?;
        } else {
            self.msg = Value::List(vec![s("Status")]);
            let entries = iterate(r)?;
            let n = entries.len();
            for (i, entry) in entries.iter().enumerate() {
                let prefix = if i + 1 == n { "`-" } else { "|-" };
                let line = format!(
                    "{prefix} {}:\t{}",
                    index(entry, 0)?.py_str(),
                    list_or_value(&index(entry, 1)?)
                );
                self.push_line(line);
            }
        }
        self.join_lines();
        Ok(())
    }

    /// fail2ban 1.1's `status --all`: the server part, then each jail's tree.
    fn status_all(&mut self, head: &[Value], jails: &[(Value, Value)]) -> Py<()> {
        self.msg = Value::List(vec![s("Status")]);
        for (i, entry) in head.iter().enumerate() {
            // Without jails the server part closes the tree.
            let prefix = if jails.is_empty() && i + 1 == head.len() {
                "`-"
            } else {
                "|-"
            };
            let line = format!(
                "{prefix} {}:\t{}",
                index(entry, 0)?.py_str(),
                list_or_value(&index(entry, 1)?)
            );
            self.push_line(line);
        }
        if jails.is_empty() {
            self.join_lines();
            return Ok(());
        }
        self.push_line("`- Status for the jails:".into());
        for (i, (name, status)) in jails.iter().enumerate() {
            let last = i + 1 == jails.len();
            self.push_line(format!(
                "   {} Jail: {}",
                if last { "`-" } else { "|-" },
                name.py_str()
            ));
            self.jail_status(status, if last { "      " } else { "   |  " })?;
        }
        self.join_lines();
        Ok(())
    }

    /// The two-level tree of one jail's status (Filter / Actions with their entries).
    fn jail_status(&mut self, r: &Value, pref: &str) -> Py<()> {
        let sections = iterate(r)?;
        let n = sections.len();
        for (i, section) in sections.iter().enumerate() {
            let last = i + 1 == n;
            let line = format!(
                "{pref}{} {}",
                if last { "`-" } else { "|-" },
                index(section, 0)?.py_str()
            );
            self.push_line(line);
            let prefix1 = format!("{pref}{}", if last { "   " } else { "|  " });
            let entries = iterate(&index(section, 1)?)?;
            let m = entries.len();
            for (j, entry) in entries.iter().enumerate() {
                let prefix2 = format!("{prefix1}{}", if j + 1 == m { "`-" } else { "|-" });
                let line = format!(
                    "{prefix2} {}:\t{}",
                    index(entry, 0)?.py_str(),
                    list_or_value(&index(entry, 1)?)
                );
                self.push_line(line);
            }
        }
        Ok(())
    }

    fn push_line(&mut self, line: String) {
        if let Value::List(lines) = &mut self.msg {
            lines.push(Value::Str(line));
        }
    }

    fn join_lines(&mut self) {
        if let Value::List(lines) = &self.msg {
            let joined: Vec<String> = lines.iter().map(Value::py_str).collect();
            self.msg = s(joined.join("\n"));
        }
    }

    /// `get`/`set` of server and jail settings.
    fn settings(&mut self) -> Py<()> {
        let r = self.response;
        if self.cmd.len() < 2 {
            return Ok(());
        }
        let (first, second) = (self.cmd[0].as_str(), self.cmd[1].as_str());
        match second {
            "syslogsocket" => {
                self.msg = s("Current syslog socket is:\n");
                return self.append(&format!("`- {}", text(r)?));
            }
            "logtarget" => {
                self.msg = s("Current logging target is:\n");
                return self.append(&format!("`- {}", text(r)?));
            }
            "loglevel" => {
                self.msg = s("Current logging level is ");
                let shown = match r {
                    Value::Int(i) => py_repr_str(&level_name(*i)),
                    Value::Bool(b) => py_repr_str(&level_name(*b as i64)),
                    other => other.py_repr(),
                };
                return self.append(&shown);
            }
            "dbfile" => {
                if r == &Value::None {
                    self.msg = s("Database currently disabled");
                } else {
                    self.msg = s("Current database file is:\n");
                    self.append(&format!("`- {}", text(r)?))?;
                }
                return Ok(());
            }
            "dbpurgeage" => {
                if r == &Value::None {
                    self.msg = s("Database currently disabled");
                } else {
                    self.msg = s("Current database purge age is:\n");
                    self.append(&format!("`- {}seconds", percent_i(r)?))?;
                }
                return Ok(());
            }
            _ => {}
        }
        if self.cmd.len() < 3 {
            return Ok(());
        }
        let third = self.cmd[2].as_str();
        match third {
            "logpath" | "addlogpath" | "dellogpath" => self.tree_list(
                r,
                "No file is currently monitored",
                "Current monitored log file(s):\n",
            )?,
            "logencoding" => {
                self.msg = s("Current log encoding is set to:\n");
                self.append(text(r)?)?;
            }
            "journalmatch" | "addjournalmatch" | "deljournalmatch" => {
                if len(r)? == 0 {
                    self.msg = s("No journal match filter set");
                } else {
                    self.msg = s("Current match filter:\n");
                    let groups: Py<Vec<String>> = iterate(r)?
                        .iter()
                        .map(|g| join(" ", &iterate(g)?))
                        .collect();
                    self.append(&groups?.join(" + "))?;
                }
            }
            "datepattern" => {
                self.msg = s("Current date pattern set to: ");
                if r == &Value::None {
                    self.append("Not set/required")?;
                } else if index(r, 0)? == Value::None {
                    self.append(&percent_s(&index(r, 1)?)?)?;
                } else {
                    match r {
                        Value::Tuple(t) if t.len() == 2 => {
                            self.append(&format!("{} ({})", t[0].py_str(), t[1].py_str()))?
                        }
                        _ => return Err(PyError),
                    }
                }
            }
            "ignoreip" | "addignoreip" | "delignoreip" => self.tree_list(
                r,
                "No IP address/network is ignored",
                "These IP addresses/networks are ignored:\n",
            )?,
            "failregex" | "addfailregex" | "delfailregex" | "ignoreregex" | "addignoreregex"
            | "delignoreregex" => {
                if len(r)? == 0 {
                    self.msg = s("No regular expression is defined");
                } else {
                    self.msg = s("The following regular expression are defined:\n");
                    let items = slice_all_but_last(r)?;
                    for (c, item) in items.iter().enumerate() {
                        self.append(&format!("|- [{c}]: {}\n", text(item)?))?;
                    }
                    let last = index(r, -1)?;
                    self.append(&format!("`- [{}]: {}", items.len(), text(&last)?))?;
                }
            }
            "actions" => {
                let jail = &self.cmd[1];
                if len(r)? == 0 {
                    self.msg = s(format!("No actions for jail {jail}"));
                } else {
                    self.msg = s(format!("The jail {jail} has the following actions:\n"));
                    self.append(&join(", ", &iterate(r)?)?)?;
                }
            }
            "actionproperties" | "actionmethods" => {
                let what = if third == "actionproperties" {
                    "properties"
                } else {
                    "methods"
                };
                let (jail, action) = (self.cmd[1].clone(), self.arg(3).map(str::to_owned));
                if len(r)? == 0 {
                    self.msg = s(format!("No {what} for jail {jail} action {}", action?));
                } else {
                    self.msg = s(format!(
                        "The jail {jail} action {} has the following {what}:\n",
                        action?
                    ));
                    self.append(&join(", ", &iterate(r)?)?)?;
                }
            }
            "banip" if first == "get" => {
                if let Value::List(items) = r {
                    let sep = match self.cmd.get(3).map(String::as_str) {
                        None => " ",
                        Some("--with-time") => "\n",
                        Some(other) => other,
                    };
                    self.msg = s(join(sep, items)?);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// "|- a\n|- b\n`- c" lists (log paths, ignored IPs), or a fixed text when empty.
    fn tree_list(&mut self, r: &Value, empty: &str, head: &str) -> Py<()> {
        if len(r)? == 0 {
            self.msg = s(empty);
            return Ok(());
        }
        self.msg = s(head);
        for item in slice_all_but_last(r)? {
            self.append(&format!("|- {}\n", text(&item)?))?;
        }
        let last = index(r, -1)?;
        self.append(&format!("`- {}", text(&last)?))
    }
}

/// A value that must be a str (Python's `"..." + value`).
fn text(v: &Value) -> Py<&str> {
    v.as_str().ok_or(PyError)
}

/// `" ".join(map(str, v)) if isinstance(v, list) else v`, as formatted by `%s`.
fn list_or_value(v: &Value) -> String {
    match v {
        Value::List(items) => items
            .iter()
            .map(Value::py_str)
            .collect::<Vec<_>>()
            .join(" "),
        other => other.py_str(),
    }
}

/// `sep.join(items)`: every item must be a str.
fn join(sep: &str, items: &[Value]) -> Py<String> {
    let parts: Py<Vec<&str>> = items.iter().map(text).collect();
    Ok(parts?.join(sep))
}

/// Python iteration: str yields characters, dict its keys, bytes integers.
fn iterate(v: &Value) -> Py<Vec<Value>> {
    Ok(match v {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => items.clone(),
        Value::Dict(pairs) => pairs.iter().map(|(k, _)| k.clone()).collect(),
        Value::Str(st) => st.chars().map(|c| Value::Str(c.to_string())).collect(),
        Value::Bytes(b) => b.iter().map(|&x| Value::Int(x as i64)).collect(),
        _ => return Err(PyError),
    })
}

fn len(v: &Value) -> Py<usize> {
    Ok(match v {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => items.len(),
        Value::Dict(pairs) => pairs.len(),
        Value::Str(st) => st.chars().count(),
        Value::Bytes(b) => b.len(),
        _ => return Err(PyError),
    })
}

/// Python's `v[i]` with negative indices; dicts look the key up.
fn index(v: &Value, i: i64) -> Py<Value> {
    let pick = |n: usize| -> Py<usize> {
        let k = if i < 0 { n as i64 + i } else { i };
        if k < 0 || k >= n as i64 {
            Err(PyError)
        } else {
            Ok(k as usize)
        }
    };
    Ok(match v {
        Value::List(items) | Value::Tuple(items) => items[pick(items.len())?].clone(),
        Value::Str(st) => {
            let chars: Vec<char> = st.chars().collect();
            Value::Str(chars[pick(chars.len())?].to_string())
        }
        Value::Bytes(b) => Value::Int(b[pick(b.len())?] as i64),
        Value::Dict(pairs) => {
            let key = Value::Int(i);
            pairs
                .iter()
                .find(|(k, _)| py_eq(k, &key))
                .map(|(_, v)| v.clone())
                .ok_or(PyError)?
        }
        _ => return Err(PyError),
    })
}

fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Bool(x), Value::Int(y)) | (Value::Int(y), Value::Bool(x)) => *x as i64 == *y,
        (Value::Float(x), Value::Int(y)) | (Value::Int(y), Value::Float(x)) => *x == *y as f64,
        _ => a == b,
    }
}

/// Python's `v[:-1]`, the items a tree list prints with "|- ".
fn slice_all_but_last(v: &Value) -> Py<Vec<Value>> {
    let mut items = iterate(v)?;
    if matches!(v, Value::Set(_) | Value::Dict(_)) {
        return Err(PyError);
    }
    items.pop();
    Ok(items)
}

/// `"%s" % v`: a tuple supplies the arguments itself.
fn percent_s(v: &Value) -> Py<String> {
    match v {
        Value::Tuple(t) if t.len() == 1 => Ok(t[0].py_str()),
        Value::Tuple(_) => Err(PyError),
        other => Ok(other.py_str()),
    }
}

/// `"%i" % v`.
fn percent_i(v: &Value) -> Py<String> {
    match v {
        Value::Int(i) => Ok(i.to_string()),
        Value::Bool(b) => Ok((*b as i64).to_string()),
        Value::Float(f) if f.is_finite() => Ok(format!("{}", f.trunc() as i128)),
        Value::Tuple(t) if t.len() == 1 => percent_i(&t[0]),
        _ => Err(PyError),
    }
}

/// The name Python's logging (with fail2ban's extra levels) gives a numeric level.
fn level_name(level: i64) -> String {
    match level {
        0 => "NOTSET".into(),
        5 => "HEAVY".into(),
        7 => "TRACE".into(),
        10 => "DEBUG".into(),
        18 => "MSG".into(),
        20 => "INFO".into(),
        25 => "NOTICE".into(),
        30 => "WARNING".into(),
        40 => "ERROR".into(),
        50 => "CRITICAL".into(),
        1..=49 => format!("#{level:02}-Lev."),
        _ => format!("Level {level}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(words: &str) -> Vec<String> {
        words.split(' ').map(str::to_owned).collect()
    }

    fn pair(k: &str, v: Value) -> Value {
        Value::Tuple(vec![s(k), v])
    }

    #[test]
    fn jail_status_tree() {
        let r = Value::List(vec![
            pair(
                "Filter",
                Value::List(vec![
                    pair("Currently failed", Value::Int(0)),
                    pair("Total failed", Value::Int(3)),
                    pair("File list", Value::List(vec![s("/var/log/auth.log")])),
                ]),
            ),
            pair(
                "Actions",
                Value::List(vec![
                    pair("Currently banned", Value::Int(0)),
                    pair("Total banned", Value::Int(0)),
                    pair("Banned IP list", Value::List(vec![])),
                ]),
            ),
        ]);
        assert_eq!(
            beautify(&cmd("status sshd"), &r),
            "Status for the jail: sshd\n|- Filter\n|  |- Currently failed:\t0\n|  |- Total failed:\t3\n\
             |  `- File list:\t/var/log/auth.log\n`- Actions\n   |- Currently banned:\t0\n\
             |  |- Total banned:\t0\n   `- Banned IP list:\t"
                .replace("\n|  |- Total banned", "\n   |- Total banned")
        );
    }

    /// fail2ban 1.1's `status --all` (expected text produced by 1.1's client).
    #[test]
    fn status_all_of_fail2ban_1_1() {
        let js = |files: Vec<Value>, ips: Vec<Value>| {
            Value::List(vec![
                pair(
                    "Filter",
                    Value::List(vec![
                        pair("Currently failed", Value::Int(1)),
                        pair("Total failed", Value::Int(5)),
                        pair("File list", Value::List(files)),
                    ]),
                ),
                pair(
                    "Actions",
                    Value::List(vec![
                        pair("Currently banned", Value::Int(ips.len() as i64)),
                        pair("Total banned", Value::Int(7)),
                        pair("Banned IP list", Value::List(ips)),
                    ]),
                ),
            ])
        };
        let r = Value::List(vec![
            pair("Number of jail", Value::Int(2)),
            pair("Jail list", s("a, b")),
            Value::Dict(vec![
                (s("a"), js(vec![s("/x.log")], vec![s("1.2.3.4")])),
                (s("b"), js(vec![], vec![])),
            ]),
        ]);
        let none = Value::List(vec![
            pair("Number of jail", Value::Int(0)),
            pair("Jail list", s("")),
            Value::Dict(vec![]),
        ]);
        assert_eq!(
            beautify(&cmd("status --all"), &none),
            "Status\n|- Number of jail:\t0\n`- Jail list:\t"
        );
        assert_eq!(
            beautify(&cmd("status --all"), &r),
            "Status\n|- Number of jail:\t2\n|- Jail list:\ta, b\n`- Status for the jails:\n   |- Jail: a\n   |  |- Filter\n   |  |  |- Currently failed:\t1\n   |  |  |- Total failed:\t5\n   |  |  `- File list:\t/x.log\n   |  `- Actions\n   |     |- Currently banned:\t1\n   |     |- Total banned:\t7\n   |     `- Banned IP list:\t1.2.3.4\n   `- Jail: b\n      |- Filter\n      |  |- Currently failed:\t1\n      |  |- Total failed:\t5\n      |  `- File list:\t\n      `- Actions\n         |- Currently banned:\t0\n         |- Total banned:\t7\n         `- Banned IP list:\t"
        );
    }

    #[test]
    fn fallbacks_follow_python() {
        assert_eq!(try_beautify(&cmd("ping"), &Value::Int(1)), Err("11".into()));
        assert_eq!(
            try_beautify(&cmd("get logtarget"), &Value::None),
            Err("'Current logging target is:\\n'None".into())
        );
        assert_eq!(
            beautify(&cmd("get loglevel"), &Value::Int(7)),
            "Current logging level is 'TRACE'"
        );
        assert_eq!(
            beautify(&cmd("get loglevel"), &Value::Int(11)),
            "Current logging level is '#11-Lev.'"
        );
    }

    #[test]
    fn errors() {
        let e = |c: &str, m: &str| Value::Exception {
            class: c.into(),
            message: m.into(),
        };
        assert_eq!(
            beautify_error(&e("fail2ban.exceptions.UnknownJailException", "x")),
            "Sorry but the jail 'x' does not exist"
        );
        assert_eq!(
            beautify_error(&e("builtins.IndexError", "list index")),
            "Sorry but the command is invalid"
        );
        assert_eq!(
            beautify_error(&e("builtins.Exception", "Invalid command")),
            "Invalid command"
        );
        assert_eq!(beautify_error(&e("builtins.KeyError", "k")), "'k'");
    }
}
