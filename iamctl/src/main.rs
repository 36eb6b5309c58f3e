//! iamctl: AWS-CLI-shaped administration, self-service and elevation.
fn main() {}
