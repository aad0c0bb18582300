//! The qga-agent binary.

fn main() {}
