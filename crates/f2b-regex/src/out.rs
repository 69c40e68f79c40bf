//! `-o/--out`: machine output, one or more rows per failure in processing order.

use crate::pyrepr;
use f2b_filter::{Failure, Value};

/// What `-o` asks for.
#[derive(Debug, Clone)]
pub enum OutFormat {
    Id,
    Ip,
    Msg,
    Row,
    /// A bare word: `print(data.get(WORD))`.
    Key(String),
    /// Text with `<tags>` to fill in.
    Template(String),
}

impl OutFormat {
    pub fn parse(s: &str) -> OutFormat {
        match s {
            "id" | "fid" => OutFormat::Id,
            "ip" => OutFormat::Ip,
            "msg" => OutFormat::Msg,
            "row" => OutFormat::Row,
            w if !w.contains('<') => OutFormat::Key(w.to_string()),
            t => OutFormat::Template(t.to_string()),
        }
    }
}

/// Tags that need a jail; fail2ban-regex has none and stops there.
#[derive(Debug, thiserror::Error)]
#[error("tag <{0}> needs a jail, which fail2ban-regex does not have")]
pub struct JailTagError(pub String);

pub fn render(fmt: &OutFormat, f: &Failure, out: &mut Vec<String>) -> Result<(), JailTagError> {
    match fmt {
        OutFormat::Id => out.push(f.fid.clone()),
        OutFormat::Ip => out.push(f.groups.get("ip").cloned().unwrap_or_else(|| f.fid.clone())),
        OutFormat::Msg => out.extend(f.matches.iter().cloned()),
        OutFormat::Row => out.push(format!(
            "[{},\t{},\t{}],",
            pyrepr::string(&f.fid),
            time_text(f),
            pyrepr::dict(&f.data)
        )),
        OutFormat::Key(k) => {
            let v = match k.as_str() {
                "matches" => pyrepr::str_list(&f.matches),
                _ => pyrepr::value_str(f.data.get(k)),
            };
            out.push(v);
        }
        OutFormat::Template(t) => {
            let multi = t.contains("<msg>") && f.matches.len() > 1;
            let row = fill(t, f, multi)?;
            if multi {
                for m in &f.matches {
                    out.push(row.replace("\u{0}msg\u{0}", m));
                }
            } else {
                out.push(row);
            }
        }
    }
    Ok(())
}

/// `str(time)`: an int for zone-converted dates, else a float.
fn time_text(f: &Failure) -> String {
    if f.time_is_int && f.time.fract() == 0.0 {
        format!("{}", f.time as i64)
    } else {
        pyrepr::float(f.time)
    }
}

fn esc(v: &str) -> String {
    v.replace('\u{0}', "\\x00")
}

fn ticket_tag(tag: &str, f: &Failure, multi_msg: bool) -> Result<Option<String>, JailTagError> {
    let ip_text = f.groups.get("ip").cloned().unwrap_or_else(|| f.fid.clone());
    Ok(Some(match tag {
        "fid" => esc(&f.fid),
        "ip" => esc(&ip_text),
        "family" => match f.ip.as_ref().and_then(|i| i.family()) {
            Some(fam) => fam.to_string(),
            None => "None".to_string(),
        },
        "ip-rev" => {
            f.ip.as_ref()
                .and_then(|i| i.ptr())
                .unwrap_or_else(|| "None".to_string())
        }
        "ip-host" => "None".to_string(),
        "time" => time_text(f),
        "failures" | "bancount" | "restored" => "0".to_string(),
        "matches" => esc(&f.matches.join("\n")),
        "msg" => {
            if multi_msg {
                "\u{0}msg\u{0}".to_string()
            } else {
                f.matches.join("\n")
            }
        }
        "raw-ticket" => esc(&format!(
            "BanTicket: ip={} time={} bantime=None bancount=0 #attempts=0 matches={}",
            f.fid,
            pyrepr::float(f.time),
            pyrepr::str_list(&f.matches)
        )),
        "br" => "\n".to_string(),
        "sp" => " ".to_string(),
        "bantime" | "ipmatches" | "ipjailmatches" | "ipfailures" | "ipjailfailures" => {
            return Err(JailTagError(tag.to_string()))
        }
        t if t.starts_with("jail.") => return Err(JailTagError(tag.to_string())),
        _ => return Ok(None),
    }))
}

/// Fills `<tag>`s once (no recursion): first the ticket tags, then `<F-NAME>` captures.
fn fill(t: &str, f: &Failure, multi_msg: bool) -> Result<String, JailTagError> {
    let mut s = String::with_capacity(t.len() + 64);
    let mut rest = t;
    // pass 1: <([^ <>]+)>
    while let Some(lt) = rest.find('<') {
        s.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        let end = after.find(|c: char| c == '>' || c == '<' || c == ' ');
        match end {
            Some(e) if e > 0 && after.as_bytes()[e] == b'>' => {
                let tag = &after[..e];
                match ticket_tag(tag, f, multi_msg)? {
                    Some(v) => s.push_str(&v),
                    None => {
                        s.push('<');
                        s.push_str(tag);
                        s.push('>');
                    }
                }
                rest = &after[e + 1..];
            }
            _ => {
                s.push('<');
                rest = after;
            }
        }
    }
    s.push_str(rest);
    if !s.contains("<F-") {
        return Ok(s);
    }
    // pass 2: <F-([A-Z0-9_-]+)>
    let mut o = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(p) = rest.find("<F-") {
        o.push_str(&rest[..p]);
        let after = &rest[p + 3..];
        let n = after
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-'))
            .unwrap_or(after.len());
        if n > 0 && after[n..].starts_with('>') {
            let name = after[..n].to_lowercase();
            let key = match name.as_str() {
                "id" => "fid",
                "port" => "fport",
                k => k,
            };
            let v = match f.data.get(key) {
                None => String::new(),
                Some(Value::Str(s)) => esc(s),
                Some(v) => esc(&pyrepr::value_str(Some(v))),
            };
            o.push_str(&v);
            rest = &after[n + 1..];
        } else {
            o.push_str("<F-");
            rest = after;
        }
    }
    o.push_str(rest);
    Ok(o)
}
