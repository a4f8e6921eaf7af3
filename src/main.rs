//! segsweep binary.
fn main() {}
