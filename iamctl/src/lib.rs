//! iamctl's library: the AWS operations (verbs) over the directory, shared
//! by the `iamctl` binary (setuid, on a host) and by `iam-server` (the
//! fleet's directory, over AWS's Query API). See docs/ARCHITECTURE.md.

pub mod access_page;
pub mod analyzer;
pub mod cgroups;
pub mod cli;
pub mod ctx;
pub mod elevate;
pub mod error;
pub mod init;
pub mod input;
pub mod output;
pub mod procs;
pub mod qr;
pub mod setuid;
pub mod shapes;
pub mod simulate;
pub mod sshkey;
pub mod verbs;

// `setup-host` and `doctor` (packaging): the rules in `hostsetup`;
// `setup-host --join`'s one network call in `enrol`.
pub mod doctor;
pub mod enrol;
pub mod hostsetup;
pub mod setup_host;
