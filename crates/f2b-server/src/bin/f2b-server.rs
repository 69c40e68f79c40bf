//! `f2b-server`: fail2ban-server's command line over the f2b daemon library.
use f2b_server::daemon::{self, Command};

fn main() {
    let code = match daemon::parse_args(std::env::args().skip(1)) {
        Err(e) => {
            eprintln!("f2b-server: {e}\n\n{}", daemon::USAGE);
            255
        }
        Ok(Command::Help) => {
            print!("{}", daemon::USAGE);
            0
        }
        Ok(Command::Version { short }) => {
            if short {
                println!("{}", f2b_server::transmitter::VERSION);
            } else {
                println!(
                    "f2b-server v{} (fail2ban 1.0 compatible)",
                    f2b_server::transmitter::VERSION
                );
            }
            0
        }
        Ok(Command::Str2Sec(s)) => match f2b_config::parse_time(&s) {
            Ok(v) => {
                println!("{}", v as i64);
                0
            }
            Err(e) => {
                eprintln!("f2b-server: {e}");
                255
            }
        },
        Ok(Command::Run(opts)) => daemon::run(opts, f2b_server::stages::shell_actions),
    };
    std::process::exit(code);
}
