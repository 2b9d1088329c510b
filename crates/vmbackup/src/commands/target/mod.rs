//! `vmbackup target`: read, verify, export and import backups on a backup
//! target directly, with no cluster (disaster recovery, audits, moving
//! disks in and out).
//!
//! Exit status: 0 on success; 1 when the operation failed or `verify` found
//! damage; 2 on a usage error; 130 or 143 when interrupted by SIGINT or
//! SIGTERM (nothing partial is left under the export's name, and no
//! interrupted import looks complete).

mod connect;
mod export;
mod import;
mod interrupt;
mod ls;
mod presence;
mod show;
mod table;
mod units;
mod verify;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use interrupt::{Stop, let_cleanup_finish, run_until_signal};

use crate::output::Format;
use crate::progress::{Reporter, human_bytes};

/// How long an interrupted operation waits for its lock file to be removed.
const CLEANUP_LIMIT: Duration = Duration::from_secs(5);

/// Subcommands of `vmbackup target`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the backup volumes with their backups (created time, size,
    /// complete or not) and Harvester's VM backups with their volumes.
    Ls(ls::Args),
    /// Show one backup in detail.
    Show(show::Args),
    /// Read every block of the selected backups and check its checksum;
    /// report each damaged block with its backup, offset and file.
    ///
    /// Exit status: 0 when everything checked is intact, 1 on any damage.
    Verify(verify::Args),
    /// Write a backup out as a disk image (sparse raw, or qcow2).
    ///
    /// The image is written under a temporary name in the destination's
    /// directory and renamed when complete: an interrupted or failed export
    /// leaves nothing under the final name.
    #[command(after_help = "Examples:\n  \
        vmbackup target export --target /mnt/nfs-backups --volume pvc-1234 \\\n    \
        --backup backup-0123456789ab4def --to disk.img\n  \
        vmbackup target export --target s3://backups@us-east-1/ --credentials secret.yaml \\\n    \
        --volume pvc-1234 --backup backup-0123456789ab4def --to disk.qcow2 --format qcow2")]
    Export(export::Args),
    /// Back up a raw disk image as a new Longhorn backup (incremental when
    /// the volume already has one). The backup's name is the last line
    /// printed on standard output.
    #[command(after_help = "Example:\n  \
        name=$(vmbackup target import --target /mnt/backups --volume pvc-1234 --from disk.img | tail -n1)")]
    Import(import::Args),
}

/// Runs a `vmbackup target` command.
pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(cmd))
}

async fn run_async(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Ls(args) => {
            let target = args.target.open().await?;
            let listing = ls::collect(&target).await?;
            let text = match args.output {
                Format::Table => ls::render_table(&listing),
                other => structured(&listing, other)?,
            };
            print_stdout(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Show(args) => {
            let target = args.target.open().await?;
            presence::require(&target, &args.volume, Some(&args.backup)).await?;
            let details = show::collect(&target, &args.volume, &args.backup).await?;
            let text = match args.output {
                Format::Table => show::render_text(&details),
                other => structured(&details, other)?,
            };
            print_stdout(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => {
            let target = args.target.open().await?;
            let outcome = run_until_signal(verify::collect(
                &target,
                args.volume.as_deref(),
                args.backup.as_deref(),
                args.lock,
                args.progress,
            ))
            .await?;
            let results = match outcome {
                Ok(r) => r?,
                Err(stop) => return Ok(interrupted(stop, "verify").await),
            };
            print_stdout(&verify::render(&results, args.output)?)?;
            Ok(if results.iter().all(|r| r.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(super::EXIT_FAILURE)
            })
        }
        Command::Export(args) => {
            if args.to.as_os_str() == "-" {
                anyhow::bail!(
                    "--to -: an export is written to a file (standard output is not supported); give a path"
                );
            }
            let target = args.target.open().await?;
            presence::require(&target, &args.volume, Some(&args.backup)).await?;
            let reporter = Reporter::new(args.progress, "export");
            let outcome = run_until_signal(export::export(&target, &args, &reporter)).await?;
            reporter.finish();
            let written = match outcome {
                Ok(w) => w?,
                Err(stop) => return Ok(interrupted(stop, "export").await),
            };
            print_stdout(&format!(
                "exported backup {} of volume {} to {} ({}, {} image, {} blocks read)\n",
                args.backup,
                args.volume,
                args.to.display(),
                match args.format {
                    export::ImageFormat::Raw => "raw",
                    export::ImageFormat::Qcow2 => "qcow2",
                },
                human_bytes(written.size),
                written.blocks
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(args) => {
            let target = args.target.open().await?;
            let backup = import::backup_name(&args);
            for w in import::name_warnings(&args.volume, &backup) {
                eprintln!("warning: {w}");
            }
            // A backup of that name that exists already is never touched.
            let existed = import::backup_exists(&target, &args.volume, &backup).await?;
            let reporter = Reporter::new(args.progress, "import");
            let outcome =
                run_until_signal(import::import(&target, &args, &backup, &reporter)).await?;
            reporter.finish();
            let summary = match outcome {
                Ok(s) => s?,
                Err(stop) => {
                    let code = interrupted(stop, "import").await;
                    if !existed {
                        match import::remove_placeholder(&target, &args.volume, &backup).await {
                            Ok(true) => eprintln!(
                                "removed the unfinished backup {backup} of volume {}",
                                args.volume
                            ),
                            Ok(false) => {}
                            Err(e) => eprintln!(
                                "warning: the unfinished backup {backup} stays on the target, marked in progress: {e:#}"
                            ),
                        }
                    }
                    return Ok(code);
                }
            };
            print_stdout(&import::render_summary(&summary))?;
            print_stdout(&format!("{}\n", summary.backup))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reports an interruption once the dropped operation has cleaned up.
async fn interrupted(stop: Stop, what: &str) -> ExitCode {
    let_cleanup_finish(CLEANUP_LIMIT).await;
    eprintln!("{what} interrupted by {}", stop.name());
    ExitCode::from(stop.exit_code())
}

fn structured<T: serde::Serialize>(value: &T, format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json | Format::Table => serde_json::to_string_pretty(value)? + "\n",
        Format::Yaml => crate::yaml::to_string(value)?,
    })
}

/// Writes to standard output; a reader that went away is not an error.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e).context("writing to standard output"),
    }
}
