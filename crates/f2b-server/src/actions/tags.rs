//! `<tag>` substitution for shell actions, in fail2ban's two stages:
//!
//! 1. static: the action's own properties (its `[Init]` values, `name`, `port`, the commands
//!    themselves ...) are substituted recursively, with `tag?family=inet6` variants taking
//!    precedence for an IPv6 ticket; a self-reference is an error;
//! 2. dynamic: the ticket's values (`<ip>`, `<matches>`, `<F-USER>` ...) are substituted once,
//!    never recursively. A value holding any shell syntax is not put in the command text: it
//!    becomes a variable `$f2bV_<tag>` whose value arrives as a positional argument of
//!    `sh -c` and is assigned on a first line, exactly as fail2ban 1.0 builds its commands.
//!    Values without shell syntax are written as they are (fail2ban does the same; actions
//!    such as `grep '<ip>,<name>'` rely on it).

use std::collections::BTreeMap;

use super::ActionError;

/// How often a tag may be replaced in one value before it counts as a self-reference.
const MAX_TAG_REPLACE_COUNT: usize = 25;

/// Tags whose values come from logs even when set as properties: escaped with backslashes
/// when substituted statically, left alone by the recursive stage.
pub const ESCAPED_TAGS: [&str; 3] = ["matches", "ipmatches", "ipjailmatches"];

/// Finds the next `<tag>` (fail2ban's `<([^ <>]+)>`) at or after `from`: (start, end, name).
pub fn next_tag(s: &str, from: usize) -> Option<(usize, usize, &str)> {
    let b = s.as_bytes();
    let mut i = from;
    while i < b.len() {
        if b[i] == b'<' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b' ' && b[j] != b'<' && b[j] != b'>' {
                j += 1;
            }
            if j < b.len() && b[j] == b'>' && j > i + 1 {
                return Some((i, j + 1, &s[i + 1..j]));
            }
            i = if j < b.len() && b[j] == b'<' {
                j
            } else {
                i + 1
            };
        } else {
            i += 1;
        }
    }
    None
}

/// Replaces every `<tag>` of `s` by `f(tag)`, leaving those `f` declines; one pass.
pub fn replace_tags(s: &str, mut f: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut pos = 0;
    while let Some((a, b, name)) = next_tag(s, pos) {
        out.push_str(&s[last..a]);
        match f(name) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&s[a..b]),
        }
        last = b;
        pos = b;
    }
    out.push_str(&s[last..]);
    out
}

/// Resolves tags inside property values using the other properties (fail2ban's
/// `substituteRecursiveTags`). `conditional` is `family=inet6` (or empty): `tag?family=inet6`
/// is preferred to `tag` then. Unknown tags stay as they are.
pub fn substitute_recursive(
    props: &[(String, String)],
    conditional: &str,
    ignore: &[&str],
) -> Result<Vec<(String, String)>, ActionError> {
    let mut tags: Vec<(String, String)> = props.to_vec();
    let index: BTreeMap<String, usize> = tags
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.clone(), i))
        .collect();
    let mut done = vec![false; tags.len()];
    let mut counts: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new(); tags.len()];
    loop {
        let mut again = false;
        for i in 0..tags.len() {
            let tag = tags[i].0.clone();
            if done[i] || ignore.contains(&tag.as_str()) {
                continue;
            }
            let orig = tags[i].1.clone();
            let mut value = orig.clone();
            let mut pos = 0;
            while let Some((a, b, rtag)) = next_tag(&value, pos) {
                let rtag = rtag.to_string();
                if ignore.contains(&rtag.as_str()) {
                    pos = b;
                    continue;
                }
                if rtag == tag || counts[i].get(&rtag).copied().unwrap_or(1) > MAX_TAG_REPLACE_COUNT
                {
                    return Err(ActionError::SelfReference { tag, found: rtag });
                }
                let repl = (!conditional.is_empty())
                    .then(|| index.get(&format!("{rtag}?{conditional}")))
                    .flatten()
                    .or_else(|| index.get(&rtag))
                    .map(|j| tags[*j].1.clone());
                let Some(repl) = repl else {
                    pos = b;
                    continue;
                };
                value = value.replace(&format!("<{rtag}>"), &repl);
                if value.len() > MAX_INTERPOLATED_LEN {
                    return Err(ActionError::SelfReference {
                        tag,
                        found: "(interpolation grows without bound)".into(),
                    });
                }
                *counts[i].entry(rtag).or_insert(0) += 1;
                pos = a;
            }
            if value != orig {
                if next_tag(&value, 0).is_some() {
                    again = true;
                }
                tags[i].1 = value.clone();
            }
            if !value.contains('<') {
                done[i] = true;
            }
        }
        if !again {
            break;
        }
    }
    Ok(tags)
}

/// fail2ban's backslash escaping of log text put into a property (`escapeTag`).
pub fn escape_tag(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 8);
    for c in v.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' | '#' | '&' | ';' | '`' | '|' | '*' | '?' | '~' | '<' | '>' | '^' | '(' | ')'
            | '[' | ']' | '{' | '}' | '$' | '\'' | '"' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Tags every action may use: `<br>` (newline), `<sp>` (space), and this host's names.
pub fn builtin_tag(tag: &str) -> Option<String> {
    match tag {
        "br" => Some("\n".into()),
        "sp" => Some(" ".into()),
        "fq-hostname" => Some(hostname(true)),
        "sh-hostname" => Some(hostname(false)),
        _ => None,
    }
}

fn hostname(fqdn: bool) -> String {
    static NAMES: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (short, full) = NAMES.get_or_init(|| {
        let h = local_hostname();
        let full = canonical_name(&h)
            .filter(|c| c.contains('.'))
            .unwrap_or_else(|| h.clone());
        (h.split('.').next().unwrap_or("").to_string(), full)
    });
    if fqdn {
        full.clone()
    } else {
        short.clone()
    }
}

fn local_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is ours and its length is passed; the result is NUL-terminated or
    // truncated, and we stop at the first NUL either way.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The host's canonical (fully qualified) name from the resolver, as `<fq-hostname>` shows.
fn canonical_name(host: &str) -> Option<String> {
    let c = std::ffi::CString::new(host).ok()?;
    // SAFETY: hints is zeroed then filled; getaddrinfo allocates the list we free once, and
    // ai_canonname is read only while the list is alive.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_flags = libc::AI_CANONNAME;
        hints.ai_family = libc::AF_UNSPEC;
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        if libc::getaddrinfo(c.as_ptr(), std::ptr::null(), &hints, &mut res) != 0 || res.is_null() {
            return None;
        }
        let name = if (*res).ai_canonname.is_null() {
            None
        } else {
            std::ffi::CStr::from_ptr((*res).ai_canonname)
                .to_str()
                .ok()
                .map(str::to_string)
        };
        libc::freeaddrinfo(res);
        name
    }
}

/// Upper bound for a command or property after tag substitution. A value whose tags refer to
/// each other through a conditional variant (`port?family=inet6 = <port> <port>`) doubles on
/// every pass; fail2ban would exhaust memory, we refuse the action instead.
const MAX_INTERPOLATED_LEN: usize = 1 << 20;

/// Static substitution of `query` (fail2ban's `replaceTag`): tags from the already resolved
/// properties `subst`, preferring `tag?conditional`, then the builtin tags; repeated until
/// nothing changes.
pub fn replace_static(
    query: &str,
    subst: &BTreeMap<String, String>,
    conditional: &str,
) -> Result<String, ActionError> {
    if !query.contains('<') {
        return Ok(query.to_string());
    }
    let mut q = query.to_string();
    for _ in 0..=MAX_TAG_REPLACE_COUNT {
        let v = replace_tags(&q, |tag| {
            let val = (!conditional.is_empty())
                .then(|| subst.get(&format!("{tag}?{conditional}")))
                .flatten()
                .or_else(|| subst.get(tag));
            match val {
                Some(v) if ESCAPED_TAGS.contains(&tag) => Some(escape_tag(v)),
                Some(v) => Some(v.clone()),
                None => builtin_tag(tag),
            }
        });
        if v == q || !v.contains('<') {
            return Ok(v);
        }
        if v.len() > MAX_INTERPOLATED_LEN {
            break;
        }
        q = v;
    }
    Err(ActionError::SelfReference {
        tag: query.to_string(),
        found: "(too long interpolation)".into(),
    })
}

/// A shell script with the dynamic values it needs passed outside its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellCommand {
    /// The script for `sh -c`: static text, plus `$f2bV_*` references.
    pub script: String,
    /// (variable name, value): value `k` is `sh`'s positional `$k`.
    pub vars: Vec<(String, String)>,
}

impl ShellCommand {
    /// The script with the variable assignments prepended, and the arguments that follow it
    /// (`sh -c SCRIPT ARG0 ARG1 ...`: `ARG0` is `$0`).
    pub fn to_sh_args(&self) -> (String, Vec<String>) {
        if self.vars.is_empty() {
            return (self.script.clone(), Vec::new());
        }
        let mut head = String::new();
        for (i, (k, _)) in self.vars.iter().enumerate() {
            head.push_str(&format!("{k}=${i} "));
        }
        head.push('\n');
        head.push_str(&self.script);
        (head, self.vars.iter().map(|(_, v)| v.clone()).collect())
    }
}

/// Whether a value may stand in the script as it is: it holds none of the characters the
/// shell gives meaning to (fail2ban's set: `\ # & ; ` | * ? ~ < > ^ ( ) [ ] { } $ ' "`, newline,
/// carriage return), nor any other control character but tab.
pub fn is_inert(v: &str) -> bool {
    !v.chars().any(|c| {
        matches!(
            c,
            '\\' | '#'
                | '&'
                | ';'
                | '`'
                | '|'
                | '*'
                | '?'
                | '~'
                | '<'
                | '>'
                | '^'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '$'
                | '\''
                | '"'
        ) || (c.is_control() && c != '\t')
    })
}

fn var_name(tag: &str) -> String {
    let mut n = String::from("f2bV_");
    for c in tag.chars() {
        n.push(if c.is_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        });
    }
    n
}

/// Dynamic substitution (fail2ban's `replaceDynamicTags`): `<tag>` from `lookup`, then
/// `<F-NAME>` from `capture` (an unknown capture becomes empty). Values with shell syntax
/// become `$f2bV_*` variables. NUL cannot pass through `exec`: it is dropped from values.
pub fn replace_dynamic(
    cmd: &str,
    mut lookup: impl FnMut(&str) -> Option<String>,
    mut capture: impl FnMut(&str) -> Option<String>,
) -> ShellCommand {
    let mut vars: Vec<(String, String)> = Vec::new();
    let place = |tag: &str, value: String, vars: &mut Vec<(String, String)>| -> String {
        let value = if value.contains('\0') {
            value.replace('\0', "")
        } else {
            value
        };
        if is_inert(&value) {
            return value;
        }
        let name = var_name(tag);
        match vars.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => vars.push((name.clone(), value)),
        }
        format!("${name}")
    };
    let step1 = replace_tags(cmd, |tag| match lookup(tag) {
        Some(v) => Some(place(tag, v, &mut vars)),
        None => builtin_tag(tag),
    });
    let script = if step1.contains('<') {
        replace_fcustom(&step1, |name| {
            let key = crate::ticket::capture_key(name);
            let v = capture(&key).unwrap_or_default();
            place(&format!("F_{key}"), v, &mut vars)
        })
    } else {
        step1
    };
    ShellCommand { script, vars }
}

/// Replaces `<F-NAME>` (upper-case letters, digits, `_`, `-`) with `f(NAME)`.
fn replace_fcustom(s: &str, mut f: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("<F-") {
        let after = &rest[i + 3..];
        let n = after
            .bytes()
            .take_while(|c| {
                c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-'
            })
            .count();
        if n > 0 && after.as_bytes().get(n) == Some(&b'>') {
            out.push_str(&rest[..i]);
            out.push_str(&f(&after[..n]));
            rest = &after[n + 1..];
        } else {
            out.push_str(&rest[..i + 3]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn recursive_and_conditional() {
        let p = props(&[
            (
                "actionban",
                "<iptables> -I f2b-<name> 1 -s <ip> -j <blocktype>",
            ),
            ("iptables", "iptables <lockingopt>"),
            ("lockingopt", "-w"),
            ("name", "sshd"),
            ("blocktype", "REJECT --reject-with icmp-port-unreachable"),
            (
                "blocktype?family=inet6",
                "REJECT --reject-with icmp6-port-unreachable",
            ),
        ]);
        let s: BTreeMap<String, String> = substitute_recursive(&p, "", &ESCAPED_TAGS)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(
            replace_static("<actionban>", &s, "").unwrap(),
            "iptables -w -I f2b-sshd 1 -s <ip> -j REJECT --reject-with icmp-port-unreachable"
        );
        let s6: BTreeMap<String, String> = substitute_recursive(&p, "family=inet6", &ESCAPED_TAGS)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(
            replace_static("<actionban>", &s6, "family=inet6").unwrap(),
            "iptables -w -I f2b-sshd 1 -s <ip> -j REJECT --reject-with icmp6-port-unreachable"
        );
    }

    #[test]
    fn self_reference_is_an_error() {
        let p = props(&[("a", "x <b>"), ("b", "y <a>")]);
        assert!(matches!(
            substitute_recursive(&p, "", &[]),
            Err(ActionError::SelfReference { .. })
        ));
        let p = props(&[("a", "<a>")]);
        assert!(substitute_recursive(&p, "", &[]).is_err());
    }

    #[test]
    fn host_names() {
        let short = builtin_tag("sh-hostname").unwrap_or_default();
        let full = builtin_tag("fq-hostname").unwrap_or_default();
        assert!(!short.is_empty() && !short.contains('.'));
        assert!(!full.is_empty());
    }

    #[test]
    fn builtin_tags_and_unknown_kept() {
        let s = BTreeMap::new();
        assert_eq!(
            replace_static("a<br>b<sp>c <STDIN> <x y>", &s, "").unwrap(),
            "a\nb c <STDIN> <x y>"
        );
    }

    #[test]
    fn dynamic_values_with_shell_syntax_become_variables() {
        let c = replace_dynamic(
            "ban <ip> by <name> '<ip>' <matches> <F-USER> <F-NOPE>.",
            |t| match t {
                "ip" => Some("192.0.2.1".into()),
                "matches" => Some("a $(id) `x`; b".into()),
                _ => None,
            },
            |k| (k == "user").then(|| "r'o\"ot".to_string()),
        );
        assert_eq!(
            c.script,
            "ban 192.0.2.1 by <name> '192.0.2.1' $f2bV_matches $f2bV_F_user ."
        );
        assert_eq!(
            c.vars,
            [
                ("f2bV_matches".to_string(), "a $(id) `x`; b".to_string()),
                ("f2bV_F_user".into(), "r'o\"ot".into())
            ]
        );
        let (script, args) = c.to_sh_args();
        assert!(script.starts_with("f2bV_matches=$0 f2bV_F_user=$1 \nban "));
        assert_eq!(args.len(), 2);
    }

    #[test]
    fn inert_values() {
        assert!(is_inert("2001:db8::1"));
        assert!(is_inert(
            "Failed password for root from 1.2.3.4 port 22 ssh2"
        ));
        assert!(!is_inert("a\nb"));
        assert!(!is_inert("a\u{1}b"));
        assert!(!is_inert("$HOME"));
        assert_eq!(escape_tag("a'b\nc$"), "a\\'b\\nc\\$");
    }

    #[test]
    fn tag_scanner_matches_fail2ban_pattern() {
        assert_eq!(next_tag("x <a b> <<c> d", 0).map(|t| t.2), Some("c"));
        assert_eq!(next_tag("<>", 0), None);
        assert_eq!(next_tag("<F-ID>", 0).map(|t| t.2), Some("F-ID"));
    }
}

#[cfg(test)]
mod growth_tests {
    use super::*;

    #[test]
    fn a_doubling_conditional_reference_is_refused_not_expanded() {
        let mut subst = BTreeMap::new();
        subst.insert("port".to_string(), "22".to_string());
        subst.insert("port?family=inet6".to_string(), "<port><port>".to_string());
        let r = replace_static("x <port> y", &subst, "family=inet6");
        assert!(r.is_err(), "{:?}", r.map(|s| s.len()));
    }
}
