fn main() {
    eprintln!("f2b-client: not yet implemented");
    std::process::exit(1);
}
