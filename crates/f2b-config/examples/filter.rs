//! Print a filter as `load_filter` resolves it: `key<TAB>value` lines (newlines escaped).
fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "/etc/fail2ban".into());
    let spec = args.next().unwrap_or_else(|| "sshd".into());
    let jail_opts: Vec<(String, String)> = args
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    match f2b_config::load_filter(std::path::Path::new(&dir), &spec, &jail_opts) {
        Ok(f) => {
            let esc = |s: &str| s.replace('\n', "\\n");
            println!("name\t{}", f.name);
            if let Some(p) = &f.prefregex {
                println!("prefregex\t{}", esc(p));
            }
            for r in &f.failregex {
                println!("failregex\t{}", esc(r));
            }
            for r in &f.ignoreregex {
                println!("ignoreregex\t{}", esc(r));
            }
            if let Some(m) = f.maxlines {
                println!("maxlines\t{m}");
            }
            if let Some(d) = &f.datepattern {
                println!("datepattern\t{}", esc(d));
            }
            for j in &f.journalmatch {
                println!("journalmatch\t{}", esc(j));
            }
        }
        Err(e) => {
            println!("ERROR\t{e}");
            std::process::exit(1);
        }
    }
}
