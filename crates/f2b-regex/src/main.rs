fn main() {
    eprintln!("f2b-regex: not yet implemented");
    std::process::exit(1);
}
