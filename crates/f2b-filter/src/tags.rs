//! fail2ban's regex tags (`<HOST>`, `<F-USER>...</F-USER>`, `<SKIPLINES>`, ...) expanded into plain
//! Python-syntax regex text, before translation.
//!
//! Tags are written `<NAME>`, `</NAME>` or `<NAME/>` with NAME made of word characters and `-`.
//! Unknown tags stay as they are (they are then literal text in the regex).

/// How `<HOST>` expands: with `usedns = no` it only accepts addresses, otherwise also host names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UseDns {
    #[default]
    Warn,
    Yes,
    No,
    Raw,
}

impl UseDns {
    pub fn parse(s: &str) -> Option<UseDns> {
        match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Some(UseDns::Yes),
            "warn" => Some(UseDns::Warn),
            "no" | "false" | "off" | "0" => Some(UseDns::No),
            "raw" => Some(UseDns::Raw),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            UseDns::Yes => "yes",
            UseDns::Warn => "warn",
            UseDns::No => "no",
            UseDns::Raw => "raw",
        }
    }
}

pub const IP4_RE: &str = r"(?:\d{1,3}\.){3}\d{1,3}";
/// fail2ban's IPv6 pattern ends in `(?:hex{1,4}|(?<=:):)`. Every repetition of the first part ends
/// with `:`, so the lookbehind always holds there; without it the pattern stays DFA-friendly.
pub const IP6_RE: &str = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)";

fn r_ip4() -> String {
    format!("(?:::f{{4,6}}:)?(?P<ip4>{IP4_RE})")
}
fn r_ip6() -> String {
    format!("(?P<ip6>{IP6_RE})")
}
const R_DNS: &str = r"(?P<dns>[\w\-.^_]*\w)";
const R_CIDR: &str = r"(?P<cidr>\d+)";
fn r_addr() -> String {
    format!(r"\[?(?:{}|{})\]?", r_ip4(), r_ip6())
}
fn r_host() -> String {
    format!("(?:{}|{})", r_addr(), R_DNS)
}
fn r_subnet() -> String {
    format!(r"\[?(?:{}|{})(?:/{})?\]?", r_ip4(), r_ip6(), R_CIDR)
}

/// Group names a failure id can come from (in priority order), plus `mlfid`.
pub const FAILURE_ID_GROUPS: [&str; 4] = ["fid", "ip4", "ip6", "dns"];

/// Maps the short tag names to the group names fail2ban uses for them.
fn map_tag_name(tag: &str) -> String {
    let l = tag.to_lowercase();
    match l.as_str() {
        "id" => "fid".to_string(),
        "port" => "fport".to_string(),
        _ => l,
    }
}

fn static_tag(name: &str) -> Option<String> {
    Some(match name {
        "IP4" | "F-IP4/" => r_ip4(),
        "IP6" | "F-IP6/" => r_ip6(),
        "ADDR" | "F-ADDR/" => r_addr(),
        "CIDR" | "F-CIDR/" => R_CIDR.to_string(),
        "SUBNET" | "F-SUBNET/" => r_subnet(),
        "DNS" | "F-DNS/" => R_DNS.to_string(),
        "F-ID/" => r"(?P<fid>\S+)".to_string(),
        "F-PORT/" => r"(?P<fport>\w+)".to_string(),
        _ => return None,
    })
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Expands every fail2ban tag in `regex`.
pub fn expand(regex: &str, usedns: UseDns) -> String {
    let mut out = String::with_capacity(regex.len() + 64);
    let mut open: Vec<String> = Vec::new();
    let mut skiplines = 0usize;
    let mut rest = regex;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt..];
        match parse_tag(after) {
            Some((len, inner)) => {
                let tag = &after[..len];
                out.push_str(&substitute(tag, inner, usedns, &mut open, &mut skiplines));
                rest = &after[len..];
            }
            None => {
                out.push('<');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Recognises `</?[\w-]+/?>` at the start of `s`: returns the tag length and its inner text.
fn parse_tag(s: &str) -> Option<(usize, &str)> {
    let body = &s[1..];
    let mut i = 0;
    if body.starts_with('/') {
        i = 1;
    }
    let name_start = i;
    for c in body[i..].chars() {
        if is_tag_char(c) {
            i += c.len_utf8();
        } else {
            break;
        }
    }
    if i == name_start {
        return None;
    }
    if body[i..].starts_with('/') {
        i += 1;
    }
    if body[i..].starts_with('>') {
        Some((i + 2, &body[..i]))
    } else {
        None
    }
}

fn substitute(
    tag: &str,
    inner: &str,
    usedns: UseDns,
    open: &mut Vec<String>,
    skiplines: &mut usize,
) -> String {
    if inner == "HOST" {
        return if usedns == UseDns::No {
            r_addr()
        } else {
            r_host()
        };
    }
    if inner == "SKIPLINES" {
        let n = *skiplines;
        *skiplines += 1;
        return format!(r"\n(?P<skiplines{n}>(?:(?:.*\n)*?))");
    }
    if let Some(r) = static_tag(inner) {
        return r;
    }
    // <F-NAME> opens a named group, </F-NAME> closes it (only if opened); names are upper-case.
    let (closing, name) = match inner.strip_prefix('/') {
        Some(n) => (true, n),
        None => (false, inner),
    };
    if let Some(custom) = name.strip_prefix("F-") {
        let valid = !custom.is_empty()
            && custom
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if valid {
            if closing {
                return if open.iter().any(|o| o == custom) {
                    ")".to_string()
                } else {
                    tag.to_string()
                };
            }
            open.push(custom.to_string());
            return format!("(?P<{}>", map_tag_name(custom));
        }
    }
    tag.to_string()
}

/// fail2ban rewrites `((?i)x)` and `(?:(?i)x)` into the scoped form `(?i:x)` before compiling.
/// (The first form thereby loses its capturing group, which shifts numbered groups; that is what
/// fail2ban does, so we do it too.)
pub fn glob_to_local_flags(regex: &str) -> String {
    let b = regex.as_bytes();
    let mut out = String::with_capacity(regex.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'(' && (i == 0 || b[i - 1] != b'\\') {
            let mut j = i + 1;
            if b[j..].starts_with(b"?:") {
                j += 2;
            }
            if b[j..].starts_with(b"(?") {
                let mut k = j + 2;
                while k < b.len() && b[k].is_ascii_lowercase() {
                    k += 1;
                }
                if k > j + 2 && k < b.len() && b[k] == b')' {
                    out.push_str(&regex[last..i]);
                    out.push_str(&regex[j..k]);
                    out.push(':');
                    i = k + 1;
                    last = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&regex[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(p: &str) -> fancy_regex::Regex {
        let t = crate::pyre::translate(&expand(p, UseDns::Warn)).expect("translate");
        fancy_regex::Regex::new(&t).expect("compile")
    }

    fn group(p: &str, hay: &str, g: &str) -> Option<String> {
        compile(p)
            .captures(hay)
            .ok()
            .flatten()
            .and_then(|c| c.name(g).map(|m| m.as_str().to_string()))
    }

    #[test]
    fn host_alternatives() {
        assert_eq!(
            group("from <HOST> port", "from 192.0.2.1 port", "ip4").as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(
            group("from <HOST> port", "from ::ffff:192.0.2.1 port", "ip4").as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(
            group("from <HOST> port", "from 2001:db8::5 port", "ip6").as_deref(),
            Some("2001:db8::5")
        );
        assert_eq!(
            group("from <HOST> port", "from [2001:db8::] port", "ip6").as_deref(),
            Some("2001:db8::")
        );
        assert_eq!(
            group("from <HOST> port", "from host.example.com port", "dns").as_deref(),
            Some("host.example.com")
        );
        assert_eq!(
            group("from <HOST> port", "from host.example.com port", "ip4"),
            None
        );
    }

    #[test]
    fn usedns_no_has_no_dns_group() {
        assert!(!expand("<HOST>", UseDns::No).contains("dns"));
        assert!(expand("<HOST>", UseDns::Raw).contains("?P<dns>"));
    }

    #[test]
    fn static_tags() {
        assert_eq!(
            group("a <IP4> b", "a 10.0.0.1 b", "ip4").as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            group("a <IP6> b", "a fe80::1 b", "ip6").as_deref(),
            Some("fe80::1")
        );
        assert_eq!(
            group("a <ADDR>/<CIDR>", "a 10.0.0.0/8", "cidr").as_deref(),
            Some("8")
        );
        assert_eq!(
            group("a <SUBNET>$", "a 10.1.0.0/16", "cidr").as_deref(),
            Some("16")
        );
        assert_eq!(
            group("a <DNS>$", "a x-y.org", "dns").as_deref(),
            Some("x-y.org")
        );
        assert_eq!(
            group("port <F-ID/> x", "port 8080 x", "fid").as_deref(),
            Some("8080")
        );
        assert_eq!(
            group("port <F-PORT/>", "port http", "fport").as_deref(),
            Some("http")
        );
    }

    #[test]
    fn custom_tags() {
        let p = "user <F-USER>\\S+</F-USER> id <F-ID>\\d+</F-ID> <F-ALT_USER1>x</F-ALT_USER1>";
        let e = expand(p, UseDns::Warn);
        assert!(e.contains("(?P<user>") && e.contains("(?P<fid>") && e.contains("(?P<alt_user1>"));
        assert_eq!(group(p, "user bob id 42 x", "user").as_deref(), Some("bob"));
        // Close without open, lower-case names and unknown tags stay literal.
        assert_eq!(expand("a</F-X>b", UseDns::Warn), "a</F-X>b");
        assert_eq!(expand("<F-user>", UseDns::Warn), "<F-user>");
        assert_eq!(expand("<nope> <a b>", UseDns::Warn), "<nope> <a b>");
        assert_eq!(expand("<F-NOFAIL>", UseDns::Warn), "(?P<nofail>");
        assert_eq!(expand("<F-MLFID>", UseDns::Warn), "(?P<mlfid>");
    }

    #[test]
    fn skiplines_are_numbered() {
        let e = expand("a<SKIPLINES>b<SKIPLINES>c", UseDns::Warn);
        assert!(e.contains("skiplines0") && e.contains("skiplines1"));
        let re = compile("^a<SKIPLINES>c$");
        let _ = re; // compile succeeds
    }

    #[test]
    fn global_flags_become_local() {
        assert_eq!(glob_to_local_flags("x((?i)ab)y"), "x(?i:ab)y");
        assert_eq!(glob_to_local_flags("x(?:(?i)ab)y"), "x(?i:ab)y");
        assert_eq!(glob_to_local_flags(r"x\((?i)ab)"), r"x\((?i)ab)");
        assert_eq!(glob_to_local_flags("(?i)ab"), "(?i)ab");
    }
}
