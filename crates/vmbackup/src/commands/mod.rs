//! One module per `vmbackup` subcommand. Each exposes its clap arguments and a
//! `run` function returning the process exit code.

pub mod crds;
pub mod demo;
pub mod doctor;
pub mod handle;
pub mod repair;
pub mod restore;
pub mod target;

/// Exit code for a command that failed at run time (not a usage error; clap
/// uses 2 for those).
pub const EXIT_FAILURE: u8 = 1;
