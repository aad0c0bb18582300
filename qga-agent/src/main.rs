//! The qga-agent binary: a drop-in replacement for QEMU's qemu-ga on Linux.

fn main() {
    std::process::exit(qga_agent::run::main(std::env::args_os().collect()));
}
