//! Health and orphans: failed and not-ready VMBackups, an unavailable
//! target, Longhorn backups nothing references, and objects left behind by
//! finished restores. Reported always; stale restore objects are deleted
//! only when the options ask for it (contents set to `Retain` first).

use std::collections::BTreeSet;

use vmbackup_api::handle::SnapshotHandle;
use vmbackup_api::wellknown;

use crate::context::{Ctx, Out, TargetConfig, TargetRead, deleting, name_of, pinned, same_object};
use crate::finding::{Code, Finding, Severity};
use crate::object::{Kind, ObjectRef};
use crate::plan::{Action, Reconciler};
use crate::reconcile::backup::{self, Health, UNHEALTHY_MESSAGE};

const R: Reconciler = Reconciler::Health;

/// Reports and, under policy, cleans up.
pub fn reconcile(ctx: &Ctx, out: &mut Out) {
    vmbackups(ctx, out);
    target(ctx, out);
    orphan_backups(ctx, out);
    stale_restore_objects(ctx, out);
}

fn vmbackups(ctx: &Ctx, out: &mut Out) {
    for ((ns, name), vmb) in ctx.view.vmbackups() {
        if deleting(&vmb.metadata) {
            continue;
        }
        let r = ObjectRef::namespaced(Kind::VirtualMachineBackup, ns, name);
        let status = vmb.status.as_ref();
        if let Some(message) = status
            .and_then(|s| s.error.as_ref())
            .and_then(|e| e.message.as_deref())
        {
            out.finding(
                Finding::new(Code::VmbackupFailed, Severity::Error, r)
                    .message(format!("backup failed: {message}"))
                    .impact("this backup cannot be restored; nothing about it needs repair")
                    .fix("find why the snapshot failed (for a stopped VM, check its volume can be attached), delete this VMBackup and take a new one"),
            );
            continue;
        }
        let ready_cond = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == wellknown::CONDITION_READY));
        let marked = ready_cond.filter(|c| c.message.as_deref() == Some(UNHEALTHY_MESSAGE));
        if let Some(c) = marked {
            out.finding(
                Finding::new(Code::VmbackupNotReady, Severity::Warning, r.clone())
                    .message(format!("backup was ready and is not any more: {}", c.reason.as_deref().unwrap_or("data missing")))
                    .impact("restores from this backup are refused until its data is back")
                    .fix("bring the backup target or the missing data back; vmbackup marks the backup ready again when it is"),
            );
        } else if vmb.is_ready()
            && backup::on_current_target(ctx, vmb)
            && let Health::Bad { reason, code } = backup::health_problem(ctx, vmb)
        {
            // An unavailable target proves nothing about the backup's data:
            // say so, and never advise deleting the backup for it.
            let finding = if code == Code::TargetUnavailable {
                Finding::new(code, Severity::Warning, r)
                    .message(format!("the backup target is unavailable ({reason}): whether this backup's data is there is not known"))
                    .impact("a restore from this backup waits until the target is back; nothing is treated as deleted meanwhile")
                    .fix("restore access to the backup target; nothing needs to be done to this backup")
            } else {
                Finding::new(code, Severity::Error, r)
                    .message(format!("ready backup is missing data: {reason}"))
                    .impact("a restore from this backup fails")
                    .fix("bring the data back (or the storage class); otherwise delete the backup")
            };
            out.finding(finding);
        }
    }
}

fn target(ctx: &Ctx, out: &mut Out) {
    let setting_ref = ObjectRef::cluster(Kind::Setting, wellknown::SETTING_BACKUP_TARGET);
    match &ctx.target {
        TargetConfig::Invalid(e) => out.finding(
            Finding::new(
                Code::TargetNotConfigured,
                Severity::Error,
                setting_ref.clone(),
            )
            .message(format!("the backup-target setting does not decode: {e}"))
            .impact("no backup can be taken and nothing is rediscovered")
            .fix("set a valid backup target"),
        ),
        TargetConfig::NotConfigured if !ctx.view.vmbackups().is_empty() => out.finding(
            Finding::new(
                Code::TargetNotConfigured,
                Severity::Warning,
                setting_ref.clone(),
            )
            .message("no backup target is configured")
            .impact("backups of type backup cannot be taken or restored")
            .fix("configure the backup-target setting"),
        ),
        _ => {}
    }
    if let TargetRead::Unavailable(reason) = &ctx.read {
        out.finding(
            Finding::new(Code::TargetUnavailable, Severity::Error, setting_ref)
                .message(format!("backup target {} is unavailable: {reason}", ctx.facts.url))
                .impact("rediscovery, health checks and restores of remote backups wait; no backup is treated as deleted meanwhile")
                .fix("restore access to the backup target (network, credentials, bucket)"),
        );
    }
    for (name, bt) in ctx.view.backup_targets() {
        if bt.status.as_ref().and_then(|s| s.available) == Some(false) {
            let why = bt
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| {
                    c.iter()
                        .find_map(|c| c.message.clone().filter(|m| !m.is_empty()))
                })
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            let url = bt.spec.backup_target_url.as_deref().unwrap_or_default();
            out.finding(
                Finding::new(Code::TargetUnavailable, Severity::Error, ObjectRef::new(Kind::LonghornBackupTarget, bt.metadata.namespace.as_deref(), name))
                    .message(format!("Longhorn reports backup target {name} ({url}) unavailable{why}"))
                    .impact("Longhorn does not sync its Backup and BackupVolume objects from the target, so rediscovery and restores of backups it does not know yet cannot proceed; this is not a handle problem")
                    .fix("fix the target URL or its credential secret until Longhorn shows status.available: true"),
            );
        }
    }
}

/// Longhorn backups made through CSI (their snapshot is `snapshot-<uid>`)
/// that no VMBackup, content or metadata file on the target refers to.
fn orphan_backups(ctx: &Ctx, out: &mut Out) {
    let view = ctx.view;
    if !view.is_listed(Kind::VirtualMachineBackup) || !view.is_listed(Kind::VolumeSnapshotContent) {
        return;
    }
    let mut referenced: BTreeSet<&str> = BTreeSet::new();
    for vmb in view.vmbackups().values() {
        referenced.extend(
            vmb.volume_backups()
                .iter()
                .filter_map(|vb| vb.longhorn_backup_name.as_deref()),
        );
    }
    let mut from_handles = BTreeSet::new();
    for c in view.contents().values() {
        if let Some(b) = c
            .snapshot_handle()
            .and_then(|h| SnapshotHandle::parse(h).ok())
            .and_then(|h| h.backup().map(|b| b.as_str().to_owned()))
        {
            from_handles.insert(b);
        }
    }
    if let Some(listing) = ctx.listing() {
        for doc in listing.vm_backups.values() {
            referenced.extend(
                doc.volume_backups
                    .iter()
                    .filter_map(|vb| vb.longhorn_backup_name.as_deref()),
            );
        }
    }
    for (name, b) in view.longhorn_backups() {
        if deleting(&b.metadata) || referenced.contains(name) || from_handles.contains(name) {
            continue;
        }
        let csi = b
            .status
            .as_ref()
            .and_then(|s| s.snapshot_name.as_deref())
            .is_some_and(|s| s.starts_with("snapshot-"));
        if !csi {
            continue;
        }
        let volume = b.volume_name().unwrap_or("?");
        out.finding(
            Finding::new(Code::OrphanLonghornBackup, Severity::Warning, ObjectRef::new(Kind::LonghornBackup, b.metadata.namespace.as_deref(), name))
                .message(format!("Longhorn backup {name} of volume {volume} was made through CSI but no VMBackup, VolumeSnapshotContent or metadata file refers to it (for example its VolumeSnapshot, with a broken handle, was deleted)"))
                .impact("it keeps using space on the backup target and cannot be restored through vmbackup")
                .fix(format!("if it is still wanted, rediscover or import it; otherwise delete Longhorn Backup {name} yourself (vmbackup never deletes backup data)")),
        );
    }
}

/// VolumeSnapshots owned by a VMRestore that is complete or gone, and their
/// contents.
fn stale_restore_objects(ctx: &Ctx, out: &mut Out) {
    let view = ctx.view;
    if !view.is_listed(Kind::VirtualMachineRestore) {
        return;
    }
    for ((ns, name), vs) in view.snapshots() {
        let Some(owner) = vs
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == wellknown::KIND_VIRTUAL_MACHINE_RESTORE)
        else {
            continue;
        };
        let vmr = view.vmrestores().get(ns, &owner.name);
        let stale = match vmr {
            None => true,
            Some(vmr) => {
                vmr.metadata.uid.as_deref() != Some(owner.uid.as_str()) || vmr.is_complete()
            }
        };
        if !stale || deleting(&vs.metadata) {
            continue;
        }
        let content = view.content_of_snapshot(vs);
        let r = ObjectRef::namespaced(Kind::VolumeSnapshot, ns, name);
        let state = if vmr.is_some() { "finished" } else { "deleted" };
        out.finding(
            Finding::new(Code::StaleRestoreObjects, Severity::Info, r.clone())
                .message(format!(
                    "VolumeSnapshot {ns}/{name}{} was made for restore {} which is {state}",
                    content.map(|c| format!(" and content {}", name_of(&c.metadata))).unwrap_or_default(),
                    owner.name
                ))
                .impact("nothing fails; they clutter the namespace and pin a Longhorn backup reference")
                .fix("vmbackup deletes them when run with the stale-restore-object clean-up enabled (contents are set to Retain first, so no backup data is deleted)"),
        );
        if !ctx.options.delete_stale_restore_objects {
            continue;
        }
        if let Some(c) = content.filter(|c| c.deletes_data()) {
            out.step(
                R,
                Action::Patch {
                    target: ObjectRef::cluster(Kind::VolumeSnapshotContent, name_of(&c.metadata)),
                    precondition: pinned(&c.metadata),
                    patch: serde_json::json!({"spec": {"deletionPolicy": wellknown::DELETION_POLICY_RETAIN}}).into(),
                },
                "keep the backup data before removing a stale restore content",
            );
        }
        out.step(
            R,
            Action::Delete {
                target: r,
                precondition: same_object(&vs.metadata),
            },
            format!(
                "remove VolumeSnapshot left by {state} restore {}",
                owner.name
            ),
        );
        if let Some(c) = content.filter(|c| !deleting(&c.metadata)) {
            out.step(
                R,
                Action::Delete {
                    target: ObjectRef::cluster(Kind::VolumeSnapshotContent, name_of(&c.metadata)),
                    precondition: same_object(&c.metadata),
                },
                format!(
                    "remove content left by {state} restore {} (Retain: the backup stays)",
                    owner.name
                ),
            );
        }
    }
}
