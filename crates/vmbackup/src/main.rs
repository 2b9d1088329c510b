//! `vmbackup`: VM backup and restore for KubeVirt on Longhorn.
//!
//! The binary is thin: it parses the command line, sets up logging and hands
//! over to one module per command under [`commands`].

mod commands;
mod logging;
mod output;
mod progress;
mod render;
mod source;
mod yaml;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// VM backup and restore for KubeVirt virtual machines on Longhorn storage,
/// wire-compatible with Harvester's VirtualMachineBackup/VirtualMachineRestore.
#[derive(Debug, Parser)]
#[command(name = "vmbackup", version, propagate_version = true)]
struct Cli {
    /// Log filter (for example `info`, `vmbackup=debug`); also read from `VMBACKUP_LOG`.
    #[arg(long, global = true, env = "VMBACKUP_LOG", default_value = "warn")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole story on an embedded simulated cluster (no Kubernetes needed).
    Demo(commands::demo::Args),
    /// Classify Longhorn CSI snapshot handles (bak://, bs://, snap://, bi://).
    #[command(subcommand)]
    Handle(commands::handle::Command),
    /// Print the VirtualMachineBackup and VirtualMachineRestore CRDs as YAML.
    Crds(commands::crds::Args),
    /// Read, verify, export and import backups on a backup target, with no cluster.
    #[command(subcommand)]
    Target(commands::target::Command),
    /// Diagnose VM backups and restores: from a cluster, manifests or a support bundle.
    Doctor(commands::doctor::Args),
    /// Plan (and on a cluster apply) the repair of broken snapshot handles.
    Repair(commands::repair::Args),
    /// Restore a VM backup after a preflight of everything that would make it fail.
    Restore(commands::restore::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(&cli.log);
    let result = match cli.command {
        Command::Demo(args) => commands::demo::run(args),
        Command::Handle(cmd) => commands::handle::run(cmd),
        Command::Crds(args) => commands::crds::run(args),
        Command::Target(cmd) => commands::target::run(cmd),
        Command::Doctor(args) => commands::doctor::run(args),
        Command::Repair(args) => commands::repair::run(args),
        Command::Restore(args) => commands::restore::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(commands::EXIT_FAILURE)
        }
    }
}
