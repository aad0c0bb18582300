//! qapi-parser: reads QAPI schema files into a checked, typed [`Schema`], or reports the first
//! error exactly as QEMU 10.0.2's generator would.

mod construct;
pub mod model;

pub use model::*;
