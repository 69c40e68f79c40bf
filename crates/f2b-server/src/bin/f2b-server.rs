fn main() {
    eprintln!("f2b-server: not yet implemented");
    std::process::exit(1);
}
