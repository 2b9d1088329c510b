//! `vmbackup demo`: the whole story on the embedded simulated cluster.

use std::process::ExitCode;

/// Arguments of `vmbackup demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the step report as JSON instead of a step log.
    #[arg(long, value_enum, default_value_t = crate::output::Format::Table)]
    pub output: crate::output::Format,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    eprintln!(
        "vmbackup demo: the embedded simulated cluster is not built yet; \
         no demo was run. Try `vmbackup handle check` or `vmbackup crds`."
    );
    Ok(ExitCode::from(super::EXIT_FAILURE))
}
