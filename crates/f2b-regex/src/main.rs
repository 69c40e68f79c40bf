//! f2b-regex: fail2ban-regex's command line, outputs and exit codes on top of `f2b-filter`.
//!
//! Reads the log (a file or one literal line), loads the filter (a filter file through
//! `f2b-config`, or a literal regex), runs every line through one `Filter` and prints either the
//! summary report or the `-o` rows. `systemd-journal[...]` reads the journal (files named by
//! `journalfiles=`, a `journalpath=` directory, or the system journal) through `f2b-backend`,
//! from its first entry, with the filter loaded for `logtype = journal`.

mod cli;
mod out;
mod pyrepr;
mod report;

use clap::Parser;
use f2b_filter::{Filter, FilterOptions, UseDns};
use std::io::Write;
use std::path::{Path, PathBuf};

const VERSION: &str = "1.0.2";

/// An error that ends the run with exit status 255 after printing `msg` on stdout.
struct Fatal(String);

/// Resolves host names with the system resolver (the filter crate does no I/O itself).
struct SystemResolver;

impl f2b_filter::Resolver for SystemResolver {
    fn resolve(&self, host: &str) -> Vec<String> {
        use std::net::ToSocketAddrs;
        match (host, 0u16).to_socket_addrs() {
            Ok(addrs) => addrs.map(|a| a.ip().to_string()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Where the regexes come from, and what is printed about it.
struct Setup {
    header: Vec<String>,
    opts: FilterOptions,
    failregex_src: Vec<String>,
    ignoreregex_src: Vec<String>,
    datepattern_set: bool,
    maxlines_set: bool,
    /// The filter's `journalmatch` (its last line: fail2ban-regex keeps only that one).
    journalmatch: Option<String>,
}

impl Setup {
    fn set_maxlines(&mut self, v: usize) {
        if !self.maxlines_set {
            self.maxlines_set = true;
            self.opts.maxlines = v;
            self.header.push(format!("Use         maxlines : {v}"));
        }
    }
    fn set_datepattern(&mut self, p: &str) -> Result<(), Fatal> {
        if !self.datepattern_set {
            self.datepattern_set = true;
            self.opts.datepattern = Some(p.to_string());
            let name = date_pattern_name(p, self.opts.logtimezone.as_deref())?;
            self.header
                .push(format!("Use      datepattern : {p} : {name}"));
        }
        Ok(())
    }
}

fn date_pattern_name(p: &str, tz: Option<&str>) -> Result<String, Fatal> {
    let dd = f2b_filter::date::DateDetector::new(Some(p), tz)
        .map_err(|e| Fatal(format!("ERROR: {e}")))?;
    let stats = dd.template_stats();
    if stats.is_empty() || stats.len() > 2 {
        Ok("Default Detectors".to_string())
    } else {
        Ok(stats[0].0.clone())
    }
}

fn now_from_env() -> f64 {
    if let Some(v) = std::env::var_os("F2B_NOW") {
        if let Some(t) = v.to_str().and_then(|s| s.trim().parse::<f64>().ok()) {
            return t;
        }
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `^/{0,3}[\w/_\-.]+(?:\[.*\])?$` (dot matching newlines): the REGEX argument may name a filter.
fn looks_like_filter(v: &str) -> bool {
    let name_end = v.find('[').unwrap_or(v.len());
    let name = &v[..name_end];
    let rest = &v[name_end..];
    let name_ok = !name.trim_start_matches('/').is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '/' | '-' | '.'))
        && name.len() - name.trim_start_matches('/').len() <= 3;
    name_ok && (rest.is_empty() || (rest.starts_with('[') && rest.ends_with(']')))
}

fn find_filter_file(confdir: &str, value: &str) -> Option<(PathBuf, String)> {
    let name = value.split('[').next().unwrap_or(value).trim_end();
    let tail: String = name.chars().rev().take(6).collect();
    let tries: Vec<String> = if tail.contains('.') {
        vec![name.to_string()]
    } else {
        vec![
            name.to_string(),
            format!("{name}.conf"),
            format!("{name}.local"),
        ]
    };
    for t in tries {
        let p = if t.contains('/') {
            PathBuf::from(&t)
        } else if Path::new(confdir)
            .file_name()
            .is_some_and(|n| n == "filter.d")
        {
            Path::new(confdir).join(&t)
        } else {
            Path::new(confdir).join("filter.d").join(&t)
        };
        if p.is_file() {
            return Some((p, name.to_string()));
        }
    }
    None
}

fn read_failregex(cli: &Cli, value: &str, setup: &mut Setup, journal: bool) -> Result<(), Fatal> {
    let confdir = cli.config.as_str();
    let found = if looks_like_filter(value) {
        find_filter_file(confdir, value)
    } else {
        None
    };
    let Some((path, name)) = found else {
        setup.header.push(format!(
            "Use   failregex line : {}",
            report::shortstr(value, 53)
        ));
        setup.failregex_src = vec![value.to_string()];
        return Ok(());
    };
    let basedir = path
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or(name.clone());
    let in_tree = path
        .parent()
        .is_some_and(|p| p.file_name().is_some_and(|n| n == "filter.d"));
    if in_tree {
        setup.header.push(format!(
            "Use   failregex filter file : {stem}, basedir: {basedir}"
        ));
    } else {
        setup.header.push(format!("Use   failregex file : {name}"));
    }
    let opts_part = value.find('[').map(|i| &value[i..]).unwrap_or("");
    let spec = format!("{}{}", path.display(), opts_part);
    if !opts_part.is_empty() {
        setup.header.push(format!(
            "Use   filter options : {}",
            report::py_opts_repr(opts_part)
        ));
    }
    // The journal backend makes the filter pick its `logtype = journal` variant.
    let jail_opts: Vec<(String, String)> = if journal {
        vec![("backend".into(), "systemd".into())]
    } else {
        Vec::new()
    };
    let def = f2b_config::load_filter(Path::new(confdir), &spec, &jail_opts).map_err(|e| {
        Fatal(format!(
            "Wrong config file: {e}\nERROR: failed to load filter {value}"
        ))
    })?;
    setup.opts.prefregex = def.prefregex.clone();
    setup.failregex_src = def.failregex.clone();
    setup.ignoreregex_src = def.ignoreregex.clone();
    setup.journalmatch = def
        .journalmatch
        .iter()
        .rev()
        .find(|m| !m.trim().is_empty())
        .cloned();
    if let Some(m) = def.maxlines {
        setup.set_maxlines(m);
    }
    if let Some(d) = def.datepattern.as_deref() {
        setup.set_datepattern(d)?;
    }
    Ok(())
}

fn run(cli: &Cli, stdout: &mut dyn Write) -> Result<(), Fatal> {
    let now = now_from_env();
    let machine = cli.out.is_some();
    let mut setup = Setup {
        header: Vec::new(),
        opts: FilterOptions {
            logtimezone: cli.timezone.clone(),
            raw_hosts: cli.raw,
            check_all_regex: !cli.no_check_all && !machine,
            ignore_pending: machine,
            // the report shows per-template date hits, which need every line's date
            prefilter_lines: machine,
            ..FilterOptions::default()
        },
        failregex_src: Vec::new(),
        ignoreregex_src: Vec::new(),
        datepattern_set: false,
        maxlines_set: false,
        journalmatch: None,
    };
    if let Some(u) = &cli.usedns {
        setup.opts.usedns =
            UseDns::parse(u).ok_or_else(|| Fatal(format!("ERROR: Invalid usedns value: {u}")))?;
    }
    if cli.maxlines > 0 {
        setup.set_maxlines(cli.maxlines);
    }
    if let Some(d) = &cli.datepattern {
        setup.set_datepattern(d)?;
    }
    let log = cli.args[0].as_str();
    let journal = !Path::new(log).is_file() && log.starts_with("systemd-journal");

    let emit_header = |setup: &Setup, out: &mut dyn Write| {
        if !machine {
            for h in &setup.header {
                let _ = writeln!(out, "{h}");
            }
        }
    };
    if let Err(e) = read_failregex(cli, &cli.args[1], &mut setup, journal) {
        emit_header(&setup, stdout);
        return Err(e);
    }
    if let Some(ig) = cli.args.get(2) {
        setup.header.push(format!(
            "Use ignoreregex line : {}",
            report::shortstr(ig, 53)
        ));
        setup.ignoreregex_src = vec![ig.clone()];
    }
    setup.opts.failregex = setup.failregex_src.clone();
    setup.opts.ignoreregex = setup.ignoreregex_src.clone();
    let filter = Filter::new(setup.opts.clone());
    let mut filter = match filter {
        Ok(f) => f,
        Err(e) => {
            emit_header(&setup, stdout);
            return Err(Fatal(format!("ERROR: {e}")));
        }
    };
    filter.set_resolver(Box::new(SystemResolver));
    filter.set_keep_pref_groups(!machine && cli.verbosity() > 0);
    if log_level_num(&cli.log_level) <= 30 {
        for w in &filter.warnings {
            setup.header.push(format!("WARNING: {w}"));
        }
    }

    let mut source: report::Source = if Path::new(log).is_file() {
        setup.header.push(format!("Use         log file : {log}"));
        setup.header.push(format!(
            "Use         encoding : {}",
            cli.encoding.as_deref().unwrap_or("UTF-8")
        ));
        report::Source::File(PathBuf::from(log))
    } else if journal {
        setup.header.push("Use         systemd journal".to_string());
        setup.header.push(format!(
            "Use         encoding : {}",
            cli.encoding.as_deref().unwrap_or("UTF-8")
        ));
        match open_journal(cli, log, &mut setup) {
            Ok(reader) => report::Source::Journal(reader),
            Err(e) => {
                emit_header(&setup, stdout);
                return Err(e);
            }
        }
    } else if filter.maxlines() <= 1 && !log.contains('\n') {
        setup.header.push(format!(
            "Use      single line : {}",
            report::shortstr(&log.replace('\n', "\\n"), 53)
        ));
        report::Source::Lines(vec![log.to_string()])
    } else {
        let lines: Vec<String> = log.split('\n').map(str::to_string).collect();
        setup
            .header
            .push(format!("Use      multi line : {} line(s)", lines.len()));
        for (i, l) in lines.iter().enumerate() {
            if i >= 5 {
                setup.header.push("| ...".to_string());
                break;
            }
            setup.header.push(format!(
                "| {:>2.2}: {}",
                (i + 1).to_string(),
                report::shortstr(l, 53)
            ));
        }
        setup.header.push("`-".to_string());
        report::Source::Lines(lines)
    };
    setup.header.push(String::new());
    emit_header(&setup, stdout);

    let mut run = report::Run::new(cli, &setup.failregex_src, &setup.ignoreregex_src);
    run.process(&mut filter, &mut source, now, stdout)
        .map_err(Fatal)?;
    if !machine {
        run.print_stats(&filter, stdout);
    }
    Ok(())
}

use cli::Cli;

/// Opens the journal named by `systemd-journal[options]` with the matches of `-m` (else the
/// filter's), placed at its first entry.
fn open_journal(
    cli: &Cli,
    log: &str,
    setup: &mut Setup,
) -> Result<f2b_backend::JournalReader, Fatal> {
    use f2b_backend::{parse_journalmatch, BackendSpec, JournalReader, JournalStart, LogEncoding};
    let err = |e: f2b_backend::BackendError| Fatal(format!("ERROR: {e}"));
    let spec = match log.find('[') {
        Some(i) => format!("systemd{}", &log[i..]),
        None => "systemd".to_string(),
    };
    let BackendSpec::Systemd(opts) = BackendSpec::parse(&spec).map_err(err)? else {
        return Err(Fatal(format!("ERROR: not a journal: {log}")));
    };
    let matches = match cli
        .journalmatch
        .as_deref()
        .or(setup.journalmatch.as_deref())
    {
        Some(m) => parse_journalmatch(&m.replace('\n', " ")).map_err(err)?,
        None => Vec::new(),
    };
    if !matches.is_empty() {
        let words: Vec<&str> = matches.iter().flatten().map(String::as_str).collect();
        setup
            .header
            .push(format!("Use    journal match : {}", words.join(" ")));
    }
    let encoding = match cli.encoding.as_deref() {
        Some(e) => LogEncoding::parse(e).map_err(err)?,
        None => LogEncoding::Utf8,
    };
    JournalReader::open(&opts, &matches, JournalStart::Head, encoding).map_err(err)
}

fn log_level_num(s: &str) -> i32 {
    match s.to_ascii_lowercase().as_str() {
        "heavydebug" => 5,
        "tracedebug" => 7,
        "debug" => 10,
        "info" => 20,
        "notice" => 25,
        "warning" | "warn" => 30,
        "error" => 40,
        "critical" | "fatal" => 50,
        n => n.parse().unwrap_or(50),
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if cli.short_version {
        println!("{VERSION}");
        return;
    }
    if cli.version {
        println!("fail2ban-regex {VERSION}");
        return;
    }
    let mut errors = Vec::new();
    if cli.print_no_missed && cli.print_all_missed {
        errors.push("ERROR: --print-no-missed and --print-all-missed are mutually exclusive.");
    }
    if cli.print_no_ignored && cli.print_all_ignored {
        errors.push("ERROR: --print-no-ignored and --print-all-ignored are mutually exclusive.");
    }
    if !(2..=3).contains(&cli.args.len()) {
        errors.push("ERROR: provide both <LOG> and <REGEX>.");
    }
    if !errors.is_empty() {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        let _ = cmd.print_help();
        eprintln!("\n{}", errors.join("\n"));
        std::process::exit(255);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    if cli.out.is_none() {
        let _ = write!(out, "\nRunning tests\n=============\n\n");
    }
    let res = run(&cli, &mut out);
    let flushed = out.flush();
    match res {
        Ok(()) => {
            // A closed pipe (`| head`) is a normal end.
            let _ = flushed;
        }
        Err(Fatal(msg)) => {
            let _ = writeln!(std::io::stdout(), "{msg}");
            std::process::exit(255);
        }
    }
}
