//! `vmbackup crds`: print our CustomResourceDefinitions.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `vmbackup crds`.
///
/// Prints the `harvesterhci.io/v1beta1` VirtualMachineBackup and
/// VirtualMachineRestore CRDs (Harvester's names, short names and printer
/// columns) as multi-document YAML, ready for `kubectl apply -f -`. Do not
/// apply them on a Harvester cluster: it already has them.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Writes the CRDs to standard output.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let crds = vmbackup_api::crds::all().context("generating the CRDs")?;
    let yaml = vmbackup_api::crds::to_yaml(&crds)?;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(yaml.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // The reader went away (`vmbackup crds | head`): nothing left to do.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(err) => Err(err).context("writing the CRDs to standard output"),
    }
}
