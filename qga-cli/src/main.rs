fn main() {
    std::process::exit(qga_cli::main());
}
