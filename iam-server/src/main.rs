//! The `iam-server` binary; everything is in the library.

fn main() {}
