//! `vmbackup doctor`: diagnose VM backups and restores from a live cluster,
//! manifest files or a support bundle (and optionally the backup target).
//! The diagnosis is the engine's findings; nothing is changed.

pub mod report;

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use vmbackup_engine::{Finding, Kind, Options, Severity, View, plan};

use crate::output::Format;
use crate::source::target::{self, TargetArgs};
use crate::source::{self, Note, SourceArgs};
use report::Report;

/// Exit code: nothing wrong (info findings at most).
pub const EXIT_CLEAN: u8 = 0;
/// Exit code: warnings, no errors.
pub const EXIT_WARNINGS: u8 = 1;
/// Exit code: errors found.
pub const EXIT_ERRORS: u8 = 2;
/// Exit code: the input could not be read; nothing was diagnosed.
pub const EXIT_UNREADABLE: u8 = 3;

/// Arguments of `vmbackup doctor`.
///
/// Reads VirtualMachineBackups, VirtualMachineRestores, VolumeSnapshots and
/// their contents and classes, Longhorn Backups, BackupVolumes and
/// BackupTargets, VMs, PVCs, PVs, StorageClasses and the backup-target
/// setting, and reports what is wrong with them: legacy or unresolvable
/// snapshot handles, missing Longhorn backups or storage classes, failed
/// or not-ready backups, an unavailable backup target, objects left over by
/// restores. Each finding names the object, what is wrong, what will fail
/// because of it and the fix. Nothing is changed.
///
/// Exit status: 0 nothing wrong (informational findings at most), 1
/// warnings only, 2 errors found, 3 the input could not be read.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    kubectl get vmbackups,vmrestores,volumesnapshots -A -o yaml > objs.yaml\n  \
    kubectl get volumesnapshotcontents,volumesnapshotclasses,settings.harvesterhci.io -o yaml >> objs.yaml\n  \
    kubectl get backups.longhorn.io,backupvolumes.longhorn.io,backuptargets.longhorn.io -n longhorn-system -o yaml >> objs.yaml\n  \
    vmbackup doctor --from objs.yaml\n  \
    vmbackup doctor --bundle supportbundle_0f1e..._2025-06-01T12-00-00Z.zip --output json\n  \
    vmbackup doctor --from ./dump --target nfs://10.0.0.1:/export --mount-point /mnt/backups")]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// The kinds a diagnosis of backups and restores reads.
const DIAGNOSED_KINDS: [Kind; 10] = [
    Kind::VirtualMachineBackup,
    Kind::Setting,
    Kind::VolumeSnapshot,
    Kind::VolumeSnapshotContent,
    Kind::VolumeSnapshotClass,
    Kind::LonghornBackup,
    Kind::LonghornBackupVolume,
    Kind::VirtualMachine,
    Kind::PersistentVolumeClaim,
    Kind::StorageClass,
];

/// A note naming the kinds the input did not hold: nothing is concluded
/// about objects of those kinds, so whatever depends on them is unchecked.
fn unlisted_note(view: &View) -> Option<Note> {
    let missing: Vec<String> = DIAGNOSED_KINDS
        .iter()
        .filter(|k| !view.is_listed(**k))
        .map(|k| format!("{} ({})", k.kind(), k.api_version()))
        .collect();
    (!missing.is_empty()).then(|| Note {
        message: format!(
            "not in the input, so not checked (add them for a full diagnosis): {}",
            missing.join(", ")
        ),
    })
}

/// Runs the diagnosis.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loaded = match source::load(&args.source) {
        Ok(l) => l,
        Err(e) => return unreadable(&e),
    };
    let (facts, target_notes) = match target::read(&args.target, &loaded.view) {
        Ok(x) => x,
        Err(e) => return unreadable(&e),
    };
    let plan = plan(&loaded.view, &facts, Utc::now(), &Options::default());
    let mut notes = loaded.notes;
    notes.extend(target_notes);
    notes.extend(unlisted_note(&loaded.view));
    if plan.wants_target_scan && args.target.url.is_none() {
        notes.push(Note {
            message:
                "a rediscovery from the backup target is due: add --target to check what it holds"
                    .into(),
        });
    }
    let report = Report::new(
        loaded.origin.to_string(),
        &loaded.view,
        &plan.findings,
        &notes,
    );
    let text = match args.output {
        Format::Table => report.table(),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(&report)?;
            json.push('\n');
            json
        }
        Format::Yaml => crate::yaml::to_string(&report)?,
    };
    emit(&text)?;
    Ok(ExitCode::from(exit_code(&plan.findings)))
}

/// The exit code for a list of findings.
pub fn exit_code(findings: &[Finding]) -> u8 {
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::Error) => EXIT_ERRORS,
        Some(Severity::Warning) => EXIT_WARNINGS,
        Some(Severity::Info) | None => EXIT_CLEAN,
    }
}

/// Reports an input that could not be read.
pub fn unreadable(error: &dyn std::error::Error) -> anyhow::Result<ExitCode> {
    eprintln!("error: {error}");
    Ok(ExitCode::from(EXIT_UNREADABLE))
}

/// Writes `text` to standard output; a closed pipe (`| head`) is not an error.
pub fn emit(text: &str) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(e).context("writing to standard output")
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmbackup_engine::{Code, Kind, ObjectRef};

    fn f(severity: Severity) -> Finding {
        Finding::new(
            Code::RefreshDisabled,
            severity,
            ObjectRef::cluster(Kind::Setting, "backup-target"),
        )
    }

    #[test]
    fn exit_codes_follow_the_worst_finding() {
        assert_eq!(exit_code(&[]), EXIT_CLEAN);
        assert_eq!(exit_code(&[f(Severity::Info)]), EXIT_CLEAN);
        assert_eq!(
            exit_code(&[f(Severity::Info), f(Severity::Warning)]),
            EXIT_WARNINGS
        );
        assert_eq!(
            exit_code(&[f(Severity::Warning), f(Severity::Error)]),
            EXIT_ERRORS
        );
    }
}
