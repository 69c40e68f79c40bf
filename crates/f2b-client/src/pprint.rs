//! `--dp`: the configuration stream as Python's `pprint.pformat(cmd, width=1000, indent=2)`
//! shows it. Short commands print as their repr; a command longer than the width opens up
//! one element per line, and a string too long for its line is cut after whitespace into
//! adjacent literals.

use f2b_protocol::Value;

const WIDTH: usize = 1000;
const INDENT_PER_LEVEL: usize = 2;

/// The pretty form of one value.
pub fn pformat(v: &Value) -> String {
    let mut out = String::new();
    format(v, &mut out, 0, 0, 0);
    out
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// repr, with dict keys sorted as pprint's safe repr does.
fn repr(v: &Value) -> String {
    match v {
        Value::Dict(pairs) => {
            let mut items: Vec<(String, String)> =
                pairs.iter().map(|(k, v)| (repr(k), repr(v))).collect();
            items.sort();
            let inner: Vec<String> = items
                .into_iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(repr).collect::<Vec<_>>().join(", ")
        ),
        other => other.py_repr(),
    }
}

fn format(v: &Value, out: &mut String, indent: usize, allowance: usize, level: usize) {
    let rep = repr(v);
    let max_width = WIDTH as isize - indent as isize - allowance as isize;
    if chars(&rep) as isize > max_width {
        match v {
            Value::List(items) => {
                out.push('[');
                format_items(items, out, indent, allowance + 1, level + 1);
                out.push(']');
                return;
            }
            Value::Dict(pairs) => {
                out.push('{');
                out.push_str(&" ".repeat(INDENT_PER_LEVEL - 1));
                let mut items: Vec<&(Value, Value)> = pairs.iter().collect();
                items.sort_by_key(|(k, _)| repr(k));
                let inner = indent + INDENT_PER_LEVEL;
                for (i, (k, val)) in items.iter().enumerate() {
                    let last = i + 1 == items.len();
                    let krep = repr(k);
                    out.push_str(&krep);
                    out.push_str(": ");
                    format(
                        val,
                        out,
                        inner + chars(&krep) + 2,
                        if last { allowance + 1 } else { 1 },
                        level + 1,
                    );
                    if !last {
                        out.push_str(",\n");
                        out.push_str(&" ".repeat(inner));
                    }
                }
                out.push('}');
                return;
            }
            Value::Str(s) if !s.is_empty() => {
                pprint_str(s, out, indent, allowance, level + 1);
                return;
            }
            _ => {}
        }
    }
    out.push_str(&rep);
}

fn format_items(items: &[Value], out: &mut String, indent: usize, allowance: usize, level: usize) {
    let indent = indent + INDENT_PER_LEVEL;
    out.push_str(&" ".repeat(INDENT_PER_LEVEL - 1));
    for (i, item) in items.iter().enumerate() {
        let last = i + 1 == items.len();
        if i > 0 {
            out.push_str(",\n");
            out.push_str(&" ".repeat(indent));
        }
        format(item, out, indent, if last { allowance } else { 1 }, level);
    }
}

fn pprint_str(s: &str, out: &mut String, mut indent: usize, mut allowance: usize, level: usize) {
    let py = |x: &str| Value::Str(x.to_owned()).py_repr();
    if level == 1 {
        indent += 1;
        allowance += 1;
    }
    let max_width = WIDTH as isize - indent as isize;
    let mut max_width1 = max_width;
    let lines = split_lines(s);
    let mut chunks: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let rep = py(line);
        let last_line = i + 1 == lines.len();
        if last_line {
            max_width1 -= allowance as isize;
        }
        if chars(&rep) as isize <= max_width1 {
            chunks.push(rep);
            continue;
        }
        let parts = word_parts(line);
        let mut max_width2 = max_width;
        let mut current = String::new();
        for (j, part) in parts.iter().enumerate() {
            let candidate = format!("{current}{part}");
            if j + 1 == parts.len() && last_line {
                max_width2 -= allowance as isize;
            }
            if chars(&py(&candidate)) as isize > max_width2 {
                if !current.is_empty() {
                    chunks.push(py(&current));
                }
                current = part.clone();
            } else {
                current = candidate;
            }
        }
        if !current.is_empty() {
            chunks.push(py(&current));
        }
    }
    if chunks.len() == 1 {
        out.push_str(&py(lines.last().map(String::as_str).unwrap_or("")));
        return;
    }
    if level == 1 {
        out.push('(');
    }
    for (i, c) in chunks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(c);
    }
    if level == 1 {
        out.push(')');
    }
}

/// Python's `str.splitlines(True)`.
fn split_lines(s: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        cur.push(c);
        let brk = matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if brk {
            if c == '\r' && it.peek() == Some(&'\n') {
                cur.push('\n');
                it.next();
            }
            lines.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `re.findall(r'\S*\s*', line)` without its final empty match.
fn word_parts(line: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut in_space = false;
    for c in line.chars() {
        if py_space(c) {
            in_space = true;
        } else if in_space {
            parts.push(std::mem::take(&mut cur));
            in_space = false;
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_commands_stay_on_one_line() {
        let v = Value::List(vec![
            Value::str("set"),
            Value::str("loglevel"),
            Value::str("INFO"),
        ]);
        assert_eq!(pformat(&v), "['set', 'loglevel', 'INFO']");
    }

    #[test]
    fn long_commands_open_up() {
        let long = "x ".repeat(600);
        let v = Value::List(vec![
            Value::str("a"),
            Value::List(vec![Value::str(&long), Value::str("b")]),
        ]);
        let text = pformat(&v);
        assert!(text.starts_with("[ 'a',\n  [ 'x x "), "{text}");
        assert!(text.ends_with("',\n    'b']]"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH), "{text}");
    }
}
