//! Print what `fail2ban-client -c DIR -d` prints (its `[...]` lines), for comparing by hand.
fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/etc/fail2ban".into());
    match f2b_config::load(std::path::Path::new(&dir)) {
        Ok(cfg) => {
            for e in &cfg.errors {
                eprintln!("error: {e}");
            }
            for l in f2b_config::dump_lines(&cfg) {
                println!("{l}");
            }
        }
        Err(e) => {
            eprintln!("ERROR: {e}");
            std::process::exit(1);
        }
    }
}
