//! The command-line definitions of the three programs, as clap `Command`s, taken from where
//! each program defines them: f2b-client's and f2b-regex's clap structs are compiled in from
//! their own source files; f2b-server parses its options by hand, so its options are read from
//! its usage text and checked against its parser.

use clap::{Arg, ArgAction, Command, CommandFactory, ValueHint};
use f2b_server::daemon::{self, CliError};

use crate::usage::{self, CommandEntry, Flag, UsageOption};
use crate::DocgenError;

#[allow(dead_code)] // the client's helpers on Cli are not needed here
#[path = "../../f2b-client/src/cli.rs"]
mod client_cli;

#[allow(dead_code)]
#[path = "../../f2b-regex/src/cli.rs"]
mod regex_cli;

/// fail2ban-client's usage text as f2b-client prints it (after its `Usage:` line).
const CLIENT_USAGE: &str = include_str!("../../f2b-client/src/usage.txt");

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One program with the extra man page sections clap knows nothing of.
#[derive(Debug, Clone)]
pub struct Program {
    pub name: &'static str,
    /// The command line as the program parses it (the man page is made from it).
    pub command: Command,
    /// The command line shells complete: `command`, with f2b-client's command words as
    /// subcommands.
    pub completion: Command,
    /// Preformatted sections (heading, lines) placed after OPTIONS.
    pub sections: Vec<(&'static str, Vec<String>)>,
}

/// The three programs, in the order the man pages cross-reference them.
pub fn all() -> Result<Vec<Program>, DocgenError> {
    Ok(vec![client()?, regex(), server()?])
}

fn client() -> Result<Program, DocgenError> {
    let cmd = client_cli::Cli::command()
        .version(VERSION)
        .about("control a running f2b-server (fail2ban-client compatible)")
        .long_about(
            "f2b-client sends commands to the control socket of f2b-server (or of \
             fail2ban-server: the protocol is the same) and prints the replies as \
             fail2ban-client does, with the same exit status. Without -s, the socket path \
             is read from fail2ban.conf (with fail2ban.local and fail2ban.d/) in the \
             configuration directory; jail files are read only by the commands that need \
             them (start, reload, -d, -t).",
        )
        .mut_arg("command", |a| {
            a.value_name("COMMAND")
                .help("the command and its arguments (see COMMANDS)")
        });
    let cmd = with_usage_help("f2b-client", cmd, &usage::options(CLIENT_USAGE))?;
    let table = usage::command_block(CLIENT_USAGE);
    let completion = client_completion(&cmd, &usage::command_entries(&table));
    let indent = table
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let commands = table
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end().to_string())
        .collect();
    Ok(Program {
        name: "f2b-client",
        command: cmd,
        completion,
        sections: vec![("COMMANDS", commands)],
    })
}

fn regex() -> Program {
    let cmd = regex_cli::Cli::command().version(VERSION).long_about(
        "f2b-regex runs a filter (a filter.d name, a filter file or a regular expression) \
         over a log file, a systemd journal (systemd-journal) or a single line, and reports \
         matched, ignored and missed lines in fail2ban-regex's format.",
    );
    Program {
        name: "f2b-regex",
        command: cmd.clone(),
        completion: cmd,
        sections: Vec::new(),
    }
}

fn server() -> Result<Program, DocgenError> {
    let text = daemon::USAGE;
    let mut cmd = Command::new("f2b-server")
        .version(VERSION)
        .about("the f2b daemon (fail2ban-server compatible)")
        .long_about(usage::description(text))
        .disable_help_flag(true)
        .disable_version_flag(true);
    for opt in usage::options(text) {
        for (short, long) in server_option_names(&opt.flags) {
            let probe = long.clone().map(Flag::Long).or(short.map(Flag::Short));
            let Some(probe) = probe else { continue };
            let takes_value = match daemon::parse_args([probe.spelling()]) {
                Err(CliError::MissingValue(_)) => true,
                Err(CliError::Unknown(_)) => {
                    return Err(DocgenError::Usage(format!(
                        "f2b-server: its usage text lists {} but its parser rejects it",
                        probe.spelling()
                    )))
                }
                _ => false,
            };
            let id = long
                .clone()
                .unwrap_or_else(|| short.map(String::from).unwrap_or_default());
            let mut arg = Arg::new(id).help(opt.help.clone());
            if let Some(c) = short {
                arg = arg.short(c);
            }
            if let Some(l) = long {
                arg = arg.long(l);
            }
            arg = if takes_value {
                value_of(arg.action(ArgAction::Set), &opt)
            } else {
                arg.action(ArgAction::SetTrue)
            };
            cmd = cmd.arg(arg);
        }
    }
    let cmd = cmd.arg(
        Arg::new("start")
            .value_parser(["start"])
            .help("accepted after the options, as fail2ban-client passes it"),
    );
    Ok(Program {
        name: "f2b-server",
        command: cmd.clone(),
        completion: cmd,
        sections: Vec::new(),
    })
}

/// f2b-client's command line for completion: its options, then the command words of its
/// usage table as subcommands, each with the literal words that may follow it (`set
/// loglevel`, `get dbfile`; placeholders such as `<JAIL>` cannot be completed statically), and
/// any further words after them.
fn client_completion(cmd: &Command, entries: &[CommandEntry]) -> Command {
    fn literal(word: &str) -> bool {
        word.starts_with(|c: char| c.is_ascii_alphabetic())
    }
    fn word(name: &str) -> Command {
        Command::new(name.to_string())
            .disable_help_flag(true)
            .disable_help_subcommand(true)
            .arg(
                Arg::new("args")
                    .num_args(0..)
                    .trailing_var_arg(true)
                    .allow_hyphen_values(true)
                    .value_name("ARG"),
            )
    }
    let mut verbs: Vec<Command> = Vec::new();
    for e in entries {
        let Some(verb) = e.words.first().filter(|w| literal(w)) else {
            continue;
        };
        let i = match verbs.iter().position(|c| c.get_name() == verb.as_str()) {
            Some(i) => i,
            None => {
                verbs.push(word(verb));
                verbs.len() - 1
            }
        };
        match e.words.get(1).filter(|w| literal(w)) {
            None if e.words.len() == 1 => {
                verbs[i] = verbs[i].clone().about(e.help.clone());
            }
            Some(second) if verbs[i].find_subcommand(second).is_none() => {
                let sub = word(second).about(e.help.clone());
                verbs[i] = verbs[i].clone().subcommand(sub);
            }
            _ => {}
        }
    }
    let mut c = Command::new(cmd.get_name().to_string())
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .args(cmd.get_arguments().filter(|a| !a.is_positional()).cloned());
    for v in verbs {
        c = c.subcommand(v);
    }
    c
}

/// The options one usage line names: a short and the first long spell one option (`-c, --conf`);
/// any further long is an option of its own sharing the help (`--async, --timeout <T>`).
fn server_option_names(flags: &[Flag]) -> Vec<(Option<char>, Option<String>)> {
    let short = flags.iter().find_map(|f| match f {
        Flag::Short(c) => Some(*c),
        Flag::Long(_) => None,
    });
    let mut longs = flags.iter().filter_map(|f| match f {
        Flag::Long(l) => Some(l.clone()),
        Flag::Short(_) => None,
    });
    let mut out = vec![(short, longs.next())];
    out.extend(longs.map(|l| (None, Some(l))));
    out
}

/// Value name and completion hint from the usage text (`<DIR>` completes directories).
fn value_of(arg: Arg, opt: &UsageOption) -> Arg {
    let Some(name) = opt.value_name() else {
        return arg;
    };
    let hint = match name.as_str() {
        "DIR" => ValueHint::DirPath,
        "FILE" => ValueHint::FilePath,
        _ => ValueHint::Unknown,
    };
    arg.value_name(name).value_hint(hint)
}

/// Flags of an argument as a command line can spell them (aliases included).
fn arg_flags(arg: &Arg) -> Vec<Flag> {
    let mut flags: Vec<Flag> = arg.get_short().map(Flag::Short).into_iter().collect();
    flags.extend(arg.get_long().map(|l| Flag::Long(l.to_string())));
    flags.extend(
        arg.get_all_aliases()
            .unwrap_or_default()
            .into_iter()
            .map(|l| Flag::Long(l.to_string())),
    );
    flags
}

/// Gives each option of `cmd` the help and value name of its line in `usage`. Every option
/// must have a line and every flag of the text must belong to an option: the two cannot drift
/// apart silently.
fn with_usage_help(
    name: &str,
    mut cmd: Command,
    usage: &[UsageOption],
) -> Result<Command, DocgenError> {
    let mut plan = Vec::new();
    for arg in cmd.get_arguments().filter(|a| !a.is_positional()) {
        let flags = arg_flags(arg);
        let Some(line) = usage.iter().find(|u| flags.iter().any(|f| u.has_flag(f))) else {
            let spelled: Vec<String> = flags.iter().map(Flag::spelling).collect();
            return Err(DocgenError::Usage(format!(
                "{name}: option {} has no line in its usage text",
                spelled.join("/")
            )));
        };
        plan.push((
            arg.get_id().clone(),
            arg.get_action().takes_values(),
            line.clone(),
        ));
    }
    let known: Vec<Flag> = cmd.get_arguments().flat_map(arg_flags).collect();
    for flag in usage.iter().flat_map(|u| &u.flags) {
        if !known.contains(flag) {
            return Err(DocgenError::Usage(format!(
                "{name}: its usage text lists {} but its command line has no such option",
                flag.spelling()
            )));
        }
    }
    for (id, takes_value, line) in plan {
        cmd = cmd.mut_arg(id, |a| {
            let a = a.help(line.help.clone());
            if takes_value {
                value_of(a, &line)
            } else {
                a
            }
        });
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option the f2b-server page documents is one its parser accepts, with a value
    /// exactly when the page gives it one.
    #[test]
    fn server_page_options_are_accepted_by_the_server() {
        let p = server().expect("server command");
        let mut seen = 0;
        for arg in p.command.get_arguments().filter(|a| !a.is_positional()) {
            for flag in arg_flags(arg) {
                let mut line = vec![flag.spelling()];
                if arg.get_action().takes_values() {
                    line.push("1".into());
                }
                assert!(
                    daemon::parse_args(line.clone()).is_ok(),
                    "{line:?} rejected"
                );
                seen += 1;
            }
        }
        assert!(seen >= 20, "only {seen} server flags documented");
        let timeout = p
            .command
            .get_arguments()
            .find(|a| a.get_long() == Some("timeout"));
        assert!(timeout.is_some_and(|a| a.get_action().takes_values()));
        let asynch = p
            .command
            .get_arguments()
            .find(|a| a.get_long() == Some("async"));
        assert!(asynch.is_some_and(|a| !a.get_action().takes_values()));
    }

    #[test]
    fn client_options_all_have_help_from_the_usage_text() {
        let p = client().expect("client command");
        let conf = p
            .command
            .get_arguments()
            .find(|a| a.get_long() == Some("conf"));
        let conf = conf.expect("--conf");
        assert_eq!(
            conf.get_help().map(|h| h.to_string()).as_deref(),
            Some("configuration directory")
        );
        assert_eq!(
            conf.get_value_names().map(|v| v[0].to_string()).as_deref(),
            Some("DIR")
        );
        let undocumented: Vec<_> = p
            .command
            .get_arguments()
            .filter(|a| !a.is_positional() && a.get_help().is_none())
            .map(|a| a.get_id().to_string())
            .collect();
        assert!(undocumented.is_empty(), "{undocumented:?}");
        let table = &p.sections[0].1;
        assert!(table.iter().any(|l| l.starts_with("ping ")), "{table:?}");
        assert!(!table.iter().any(|l| l.contains("Report bugs")));
    }

    #[test]
    fn client_completion_knows_the_command_words() {
        let p = client().expect("client command");
        let c = &p.completion;
        let about = |cmd: Option<&Command>| cmd.and_then(|c| c.get_about()).map(|a| a.to_string());
        assert_eq!(
            about(c.find_subcommand("ping")).as_deref(),
            Some("tests if the server is alive")
        );
        // `help` is fail2ban-client's command, not clap's.
        assert_eq!(
            about(c.find_subcommand("help")).as_deref(),
            Some("return this output")
        );
        let set = c.find_subcommand("set").expect("set");
        let words: Vec<&str> = set.get_subcommands().map(|s| s.get_name()).collect();
        assert_eq!(
            words,
            [
                "loglevel",
                "logtarget",
                "syslogsocket",
                "dbfile",
                "dbmaxmatches",
                "dbpurgeage"
            ]
        );
        assert!(c.find_subcommand("unban").is_some() && c.find_subcommand("--all").is_none());
        assert!(c.get_arguments().any(|a| a.get_long() == Some("socket")));
        assert!(!c.get_arguments().any(|a| a.is_positional()));
    }

    #[test]
    fn usage_lines_without_an_option_are_refused() {
        let mut usage = usage::options(CLIENT_USAGE);
        usage.push(UsageOption {
            flags: vec![Flag::Long("nosuch".into())],
            value: None,
            help: String::new(),
        });
        let err = with_usage_help("f2b-client", client_cli::Cli::command(), &usage).unwrap_err();
        assert!(err.to_string().contains("--nosuch"), "{err}");
        let usage: Vec<_> = usage::options(CLIENT_USAGE)
            .into_iter()
            .filter(|u| !u.has_flag(&Flag::Long("conf".into())))
            .collect();
        let err = with_usage_help("f2b-client", client_cli::Cli::command(), &usage).unwrap_err();
        assert!(err.to_string().contains("-c/--conf"), "{err}");
    }
}
