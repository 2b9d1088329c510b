//! `vmbackup crds`: print our CustomResourceDefinitions.

use std::process::ExitCode;

/// Arguments of `vmbackup crds`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("crds is not implemented yet")
}
