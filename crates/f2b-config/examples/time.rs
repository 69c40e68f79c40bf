//! Read time strings (one per line, `\t` written as `\\t`) and print `parse_time` of each.
use std::io::BufRead;
fn main() {
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let s = line.split('\t').next().unwrap_or("").replace("\\t", "\t");
        match f2b_config::parse_time(&s) {
            Ok(v) => println!("{v:?}"),
            Err(_) => println!("ERR"),
        }
    }
}
