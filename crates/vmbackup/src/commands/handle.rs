//! `vmbackup handle check`: classify Longhorn CSI snapshot handles.

use std::process::ExitCode;

/// Subcommands of `vmbackup handle`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the class of each handle; exit 0 only if all are backup handles.
    Check(CheckArgs),
}

/// Arguments of `vmbackup handle check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Handles to classify, e.g. `bak://pvc-1234/backup-0123456789abcdef`.
    #[arg(required = true)]
    pub handles: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::output::Format::Table)]
    pub output: crate::output::Format,
}

pub fn run(_cmd: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("handle check is not implemented yet")
}
