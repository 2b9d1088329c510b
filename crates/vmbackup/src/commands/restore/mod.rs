//! `vmbackup restore`: create a VirtualMachineRestore — into the backup's
//! namespace or another, as a new VM or replacing the backed-up one — after
//! a preflight that reports everything that would make it fail, before
//! anything is created. With `--dry-run` (the only mode for manifest files
//! and bundles) it shows the preflight and the object.

pub mod preflight;
pub mod request;

use std::process::ExitCode;

use anyhow::bail;
use chrono::Utc;
use serde::Serialize;
use vmbackup_engine::{Finding, Object, ObjectRef, Options, Severity, View, plan};

use crate::commands::doctor::report::{FindingRow, findings_table};
use crate::commands::doctor::{EXIT_ERRORS, emit, unreadable};
use crate::output::Format;
use crate::source::target::{self, TargetArgs};
use crate::source::{self, SourceArgs, live};
use preflight::Preflight;
use request::Request;

/// Arguments of `vmbackup restore`.
///
/// Checks, before creating anything, everything that would make the
/// restore fail: the backup missing, failed or not ready; snapshot handles
/// Longhorn cannot resolve; Longhorn Backups or BackupVolumes missing;
/// storage classes or snapshot classes missing; the backup target not
/// configured, not the backup's or unavailable; names already taken (the
/// VM, the restore, restore contents, secrets); a VM to replace that is
/// running or missing. Then creates the VirtualMachineRestore, which
/// Harvester's controller (or vmbackup's) carries out.
///
/// Exit status: 0 the restore can go ahead (created, or shown with
/// --dry-run), 2 the preflight found problems and nothing was created, 3
/// the input could not be read.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    vmbackup restore vm1-backup -n default --new-vm vm1-copy --to-namespace staging --dry-run --from ./dump\n  \
    vmbackup restore vm1-backup -n default --replace --dry-run --bundle supportbundle.zip")]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The VirtualMachineBackup to restore.
    #[arg(value_name = "VMBACKUP")]
    pub backup: String,
    /// Namespace of the VirtualMachineBackup.
    #[arg(short = 'n', long, value_name = "NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// Namespace to restore into (default: the backup's).
    #[arg(long, value_name = "NAMESPACE")]
    pub to_namespace: Option<String>,
    /// Restore as a new VM of this name.
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present = "replace",
        conflicts_with = "replace"
    )]
    pub new_vm: Option<String>,
    /// Replace the VM the backup was taken from (it must be stopped).
    #[arg(long)]
    pub replace: bool,
    /// Name of the VirtualMachineRestore (default `restore-<backup>-<vm>`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// New VM: keep the backed-up MAC addresses.
    #[arg(long, requires = "new_vm")]
    pub keep_mac_address: bool,
    /// Replace: delete the replaced VM's old volumes once restored (they
    /// are kept by default).
    #[arg(long, requires = "replace")]
    pub delete_old_volumes: bool,
    /// Show the preflight and the VirtualMachineRestore; create nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// Runs the preflight and, when it passes and this is no dry run, creates
/// the restore.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.dry_run && !args.source.is_live() {
        bail!(
            "manifest files and support bundles are read-only: a restore from them can only be shown with --dry-run; to create it, run vmbackup against the cluster (--kubeconfig/--context)"
        );
    }
    let loaded = match source::load(&args.source) {
        Ok(l) => l,
        Err(e) => return unreadable(&e),
    };
    let (facts, _) = match target::read(&args.target, &loaded.view) {
        Ok(x) => x,
        Err(e) => return unreadable(&e),
    };
    let request = request_of(&args, &loaded.view);
    let mut checked = preflight::check(&loaded.view, &facts, &request);
    add_engine_findings(&loaded.view, &facts, &request, &mut checked);
    let object = request.object();
    let created = !checked.blocks() && !args.dry_run;
    if created {
        live::create_restore(&args.source.live(), &object)?;
    }
    let text = render(&args, &request, &checked, Object::from(object), created)?;
    emit(&text)?;
    Ok(if checked.blocks() {
        ExitCode::from(EXIT_ERRORS)
    } else {
        ExitCode::SUCCESS
    })
}

fn request_of(args: &Args, view: &View) -> Request {
    let namespace = args
        .to_namespace
        .clone()
        .unwrap_or_else(|| args.namespace.clone());
    let vm = match &args.new_vm {
        Some(vm) => vm.clone(),
        // Replace: the VM the backup was taken from.
        None => view
            .vmbackups()
            .get(&args.namespace, &args.backup)
            .map(|b| b.spec.source.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| args.backup.clone()),
    };
    Request {
        backup_namespace: args.namespace.clone(),
        backup: args.backup.clone(),
        name: args
            .name
            .clone()
            .unwrap_or_else(|| Request::default_name(&args.backup, &vm)),
        namespace,
        vm,
        new_vm: args.new_vm.is_some(),
        keep_mac_address: args.keep_mac_address,
        delete_old_volumes: args.delete_old_volumes,
    }
}

/// The engine's own view of the restore (its reconciler plans restores): an
/// error it reports about the new VirtualMachineRestore is added unless the
/// preflight already reported one of the same code about it.
fn add_engine_findings(
    view: &View,
    facts: &vmbackup_engine::TargetFacts,
    request: &Request,
    out: &mut Preflight,
) {
    let mut objects = view.objects();
    objects.push(Object::from(request.object()));
    let with_restore = view.with_objects(objects);
    let restore = ObjectRef::namespaced(
        vmbackup_engine::Kind::VirtualMachineRestore,
        &request.namespace,
        &request.name,
    );
    let planned = plan(&with_restore, facts, Utc::now(), &Options::default());
    let extra: Vec<Finding> = planned
        .findings
        .into_iter()
        .filter(|f| f.object == restore && f.severity == Severity::Error)
        .filter(|f| {
            !out.findings
                .iter()
                .any(|g| g.object == f.object && g.code == f.code)
        })
        .collect();
    out.findings.extend(extra);
    vmbackup_engine::finding::sort_findings(&mut out.findings);
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Output {
    preflight: PreflightOut,
    restore: serde_json::Value,
    created: bool,
}

#[derive(Serialize)]
struct PreflightOut {
    passed: bool,
    findings: Vec<FindingRow>,
    unchecked: Vec<String>,
}

fn render(
    args: &Args,
    request: &Request,
    checked: &Preflight,
    object: Object,
    created: bool,
) -> anyhow::Result<String> {
    let rows: Vec<FindingRow> = checked.findings.iter().map(FindingRow::from).collect();
    let value = object.to_value();
    Ok(match args.output {
        Format::Json | Format::Yaml => {
            let out = Output {
                preflight: PreflightOut {
                    passed: !checked.blocks(),
                    findings: rows,
                    unchecked: checked.unchecked.clone(),
                },
                restore: value,
                created,
            };
            if args.output == Format::Json {
                let mut json = serde_json::to_string_pretty(&out)?;
                json.push('\n');
                json
            } else {
                crate::yaml::to_string(&out)?
            }
        }
        Format::Table => {
            let how = if request.new_vm {
                format!("as new VM {}/{}", request.namespace, request.vm)
            } else {
                format!("replacing VM {}/{}", request.namespace, request.vm)
            };
            let mut text = format!(
                "Preflight: restore VMBackup {}/{} {how} (VirtualMachineRestore {}/{})\n\n",
                request.backup_namespace, request.backup, request.namespace, request.name
            );
            text.push_str(&findings_table(&rows));
            for line in &checked.unchecked {
                text.push_str(&format!("not checked: {line}\n"));
            }
            let verdict = if checked.blocks() {
                "the restore would fail: nothing was created"
            } else if created {
                "passed: the VirtualMachineRestore was created"
            } else {
                "passed: the restore can go ahead"
            };
            text.push_str(&format!("{verdict}\n"));
            if args.dry_run {
                text.push_str("---\n");
                text.push_str(&crate::yaml::to_string(&value)?);
            }
            text
        }
    })
}
