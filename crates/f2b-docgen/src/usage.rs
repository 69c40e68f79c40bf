//! The `Options:` block of a hand-written usage text, read back into option descriptions.
//!
//! f2b-client prints fail2ban-client's usage text verbatim and f2b-server prints its own; those
//! texts are where the option help lives, so the man pages take it from there instead of
//! repeating it.

/// One name of an option as written in the usage text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag {
    Short(char),
    Long(String),
}

impl Flag {
    /// The flag as typed on a command line (`-c`, `--conf`).
    pub fn spelling(&self) -> String {
        match self {
            Flag::Short(c) => format!("-{c}"),
            Flag::Long(l) => format!("--{l}"),
        }
    }
}

/// One entry of the `Options:` block: `-c, --conf <DIR>   configuration directory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageOption {
    pub flags: Vec<Flag>,
    /// The value as written after the flags (`<DIR>`, `auto|<FILE>`), if any.
    pub value: Option<String>,
    pub help: String,
}

impl UsageOption {
    /// The value written for clap's `<NAME>`: `<DIR>` gives `DIR`, `auto|<FILE>` gives `auto|FILE`.
    pub fn value_name(&self) -> Option<String> {
        self.value.as_ref().map(|v| v.replace(['<', '>'], ""))
    }

    pub fn has_flag(&self, flag: &Flag) -> bool {
        self.flags.contains(flag)
    }
}

/// The entries of the first `Options:` block of `text` (up to the next blank line). An indented
/// line that does not start with `-` continues the help of the entry above it.
pub fn options(text: &str) -> Vec<UsageOption> {
    let mut out: Vec<UsageOption> = Vec::new();
    let mut lines = text.lines().skip_while(|l| l.trim() != "Options:").skip(1);
    for line in lines.by_ref() {
        let body = line.trim_start();
        if body.is_empty() {
            break;
        }
        if !body.starts_with('-') {
            if let Some(last) = out.last_mut() {
                if !last.help.is_empty() {
                    last.help.push(' ');
                }
                last.help.push_str(body.trim_end());
            }
            continue;
        }
        // The flags end at the first gap of two spaces; the help follows it.
        let (spec, help) = match body.find("  ") {
            Some(i) => (&body[..i], body[i..].trim()),
            None => (body.trim_end(), ""),
        };
        let mut flags = Vec::new();
        let mut value: Option<String> = None;
        for token in spec.split_whitespace() {
            let token = token.trim_end_matches(',');
            if let Some(long) = token.strip_prefix("--") {
                flags.push(Flag::Long(long.to_string()));
            } else if let Some(c) = short_flag(token) {
                flags.push(Flag::Short(c));
            } else {
                value = Some(match value {
                    Some(v) => format!("{v} {token}"),
                    None => token.to_string(),
                });
            }
        }
        out.push(UsageOption {
            flags,
            value,
            help: help.to_string(),
        });
    }
    out
}

fn short_flag(token: &str) -> Option<char> {
    let mut chars = token.strip_prefix('-')?.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c != '-' => Some(c),
        _ => None,
    }
}

/// The paragraph between the `Usage:` line and the `Options:` block, joined into one line.
pub fn description(text: &str) -> String {
    text.lines()
        .skip_while(|l| !l.starts_with("Usage:"))
        .skip(1)
        .take_while(|l| l.trim() != "Options:")
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The lines after the `Command:` line up to (not including) the first line that is not
/// indented: fail2ban-client's command table.
pub fn command_block(text: &str) -> Vec<&str> {
    let mut block: Vec<&str> = text
        .lines()
        .skip_while(|l| l.trim() != "Command:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .collect();
    while block.last().is_some_and(|l| l.trim().is_empty()) {
        block.pop();
    }
    block
}

/// One entry of a command table: its words (`set`, `<JAIL>`, `bantime`, `<TIME>`) and help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandEntry {
    pub words: Vec<String>,
    pub help: String,
}

/// The entries of a command table as [`command_block`] returns it: an entry starts at the
/// table's left edge, its help follows after a gap of two spaces or on the indented lines
/// below it; a blank line ends it (headings such as `BASIC` stand alone after one).
pub fn command_entries(block: &[&str]) -> Vec<CommandEntry> {
    let indent = block
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: Vec<CommandEntry> = Vec::new();
    let mut open = false;
    for line in block {
        let body = line.get(indent..).unwrap_or("");
        if body.trim().is_empty() {
            open = false;
        } else if !body.starts_with(' ') {
            let (spec, help) = match body.find("  ") {
                Some(i) => (&body[..i], body[i..].trim()),
                None => (body.trim_end(), ""),
            };
            let words = spec.split_whitespace().map(String::from).collect();
            out.push(CommandEntry {
                words,
                help: help.to_string(),
            });
            open = true;
        } else if open {
            if let Some(last) = out.last_mut() {
                if !last.help.is_empty() {
                    last.help.push(' ');
                }
                last.help.push_str(body.trim());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Usage: prog [OPTIONS]

Does things
to files.

Options:
    -c, --conf <DIR>        configuration directory
    --syslogsocket auto|<FILE>
    --async, --timeout <T>  two options
                            on two lines
    -v                      more

Command:
    start                   starts
                            the server

    stop                    stops
Report bugs somewhere
";

    #[test]
    fn reads_flags_values_and_help() {
        let o = options(TEXT);
        assert_eq!(o.len(), 4);
        assert_eq!(
            o[0].flags,
            vec![Flag::Short('c'), Flag::Long("conf".into())]
        );
        assert_eq!(o[0].value_name().as_deref(), Some("DIR"));
        assert_eq!(o[0].help, "configuration directory");
        assert_eq!(o[1].flags, vec![Flag::Long("syslogsocket".into())]);
        assert_eq!(o[1].value_name().as_deref(), Some("auto|FILE"));
        assert_eq!(o[1].help, "");
        assert_eq!(
            o[2].flags,
            vec![Flag::Long("async".into()), Flag::Long("timeout".into())]
        );
        assert_eq!(o[2].help, "two options on two lines");
        assert_eq!(o[3].flags, vec![Flag::Short('v')]);
        assert_eq!(o[3].value, None);
    }

    #[test]
    fn reads_description_and_command_block() {
        assert_eq!(description(TEXT), "Does things to files.");
        let block = command_block(TEXT);
        assert_eq!(
            block.first().map(|l| l.trim()),
            Some("start                   starts")
        );
        assert_eq!(
            block.last().map(|l| l.trim()),
            Some("stop                    stops")
        );
        assert_eq!(block.len(), 4);
    }

    #[test]
    fn reads_command_entries_with_their_help() {
        let block = [
            "                       BASIC",
            "    start              starts",
            "                       the server",
            "    set <JAIL> attempt <IP> [<failure1> ... <failureN>]",
            "                       notify",
            "",
            "                       LOGGING",
            "    get loglevel       gets it",
        ];
        let e = command_entries(&block);
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(e[0].words, vec!["start"]);
        assert_eq!(e[0].help, "starts the server");
        assert_eq!(e[1].words[..3], ["set", "<JAIL>", "attempt"]);
        assert_eq!(e[1].help, "notify");
        assert_eq!(e[2].words, vec!["get", "loglevel"]);
        assert_eq!(e[2].help, "gets it");
    }

    #[test]
    fn no_options_block_reads_nothing() {
        assert!(options("Usage: x\n").is_empty());
        assert!(command_block("Usage: x\n").is_empty());
    }
}
