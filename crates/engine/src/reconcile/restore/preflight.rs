//! Checks made before a restore changes anything: Harvester's admission
//! rules for VirtualMachineRestores, evaluated on every plan until the
//! restore has started, so a restore created without Harvester's webhook
//! (or whose situation changed since) is refused or held with a clear
//! message instead of being left half done.
//!
//! Where vmbackup differs: a replace restore stops the running VM itself
//! instead of refusing; it only replaces the VM the backup was taken from;
//! two restores that compete for one VM are ordered (the older goes
//! first) instead of both being refused.

use vmbackup_api::wellknown;
use vmbackup_api::{BackupType, VirtualMachineBackup, VirtualMachineRestore};

use super::{Outcome, Restore};
use crate::context::{TargetConfig, deleting, name_of, ns_of};
use crate::finding::{Code, Finding, Severity};
use crate::naming::is_dns1123_subdomain;
use crate::object::Kind;
use crate::reconcile::backup::UNHEALTHY_MESSAGE;

/// Runs every check in Harvester's order; the first that fails stops the
/// restore with its message.
pub fn check(rs: &Restore) -> Result<(), Outcome> {
    let view = rs.ctx.view;
    let spec = &rs.vmr.spec;
    let fail = |message: String, impact: &str, fix: &str| rs.fail(message, impact, fix);

    if spec.target.kind != wellknown::KIND_VIRTUAL_MACHINE {
        return Err(fail(
            format!("unsupported target kind {:?}", spec.target.kind),
            "nothing is restored",
            "create the restore with target kind VirtualMachine",
        ));
    }
    if !is_dns1123_subdomain(rs.target) || (rs.new_vm && rs.target.len() > 63) {
        return Err(fail(
            format!(
                "Target VM name is invalid: {:?} must be a DNS-1123 name{}",
                rs.target,
                if rs.new_vm {
                    " of at most 63 characters (it becomes a label value)"
                } else {
                    ""
                }
            ),
            "nothing is restored",
            "create the restore again with a valid target name",
        ));
    }
    let (bns, bname) = (rs.backup_namespace, rs.backup_name);
    let Some(vmb) = rs.vmb else {
        if rs.ctx.listing().is_some_and(|l| {
            l.vm_backups
                .contains_key(&(bns.to_owned(), bname.to_owned()))
        }) {
            return Err(rs.wait_finding(
                format!("VMBackup {bns}/{bname} is on the backup target and not rediscovered yet"),
                Severity::Warning,
                "the restore starts once the backup is rediscovered",
                "wait for the rediscovery (or ask for one now by setting the annotation `vmbackup.io/sync-requested-at` on the backup-target setting to the current time (RFC 3339)); its findings say why a backup is skipped",
            ));
        }
        return Err(fail(
            format!("can't get vmbackup {bns}/{bname}"),
            "nothing is restored",
            "name an existing VMBackup, or rediscover it from the backup target first",
        ));
    };
    if deleting(&vmb.metadata) {
        return Err(fail(
            format!("vmbackup {bns}/{bname} is deleted"),
            "nothing is restored",
            "restore from another backup",
        ));
    }
    if let Some(err) = vmb
        .status
        .as_ref()
        .and_then(|s| s.error.as_ref())
        .and_then(|e| e.message.as_deref())
    {
        return Err(fail(
            format!("VMBackup {bns}/{bname} is not ready: it failed: {err}"),
            "a failed backup cannot be restored",
            "restore from another backup",
        ));
    }
    if !vmb.is_ready() {
        let unhealthy = vmb
            .condition(wellknown::CONDITION_READY)
            .filter(|c| c.message.as_deref() == Some(UNHEALTHY_MESSAGE))
            .and_then(|c| c.reason.clone());
        let why = match unhealthy {
            Some(reason) => format!(": {reason}"),
            None => String::new(),
        };
        return Err(rs.wait_finding(
            format!("VMBackup {bns}/{bname} is not ready{why}"),
            Severity::Warning,
            "the restore starts once the backup is ready",
            "wait for the backup (or its repair) to finish; if its data left the backup target, bring it back",
        ));
    }
    if vmb.spec.source.kind != wellknown::KIND_VIRTUAL_MACHINE {
        return Err(fail(
            "unsupported backup source kind".into(),
            "nothing is restored",
            "restore from a backup of a VirtualMachine",
        ));
    }
    let status = vmb.status.as_ref();
    if view.is_listed(Kind::VolumeSnapshotClass) {
        for (driver, class) in status
            .and_then(|s| s.csi_driver_volume_snapshot_class_names.as_ref())
            .into_iter()
            .flatten()
        {
            if view.snapshot_class(class).is_none() {
                return Err(fail(
                    format!("can't get volumeSnapshotClass {class} for driver {driver}"),
                    "nothing is restored",
                    "create the VolumeSnapshotClass the backup was taken with",
                ));
            }
        }
        if rs.cross_namespace && view.snapshot_class(&rs.ctx.restore_class).is_none() {
            return Err(fail(
                format!(
                    "can't get volumeSnapshotClass {} for restores into another namespace (setting {})",
                    rs.ctx.restore_class,
                    wellknown::SETTING_VOLUME_SNAPSHOT_CLASS
                ),
                "nothing is restored",
                "create that class or point the setting at an existing backup class",
            ));
        }
    }
    let is_backup = vmb.backup_type() == BackupType::Backup;
    if is_backup {
        check_target(rs, vmb)?;
        if rs.delete_old_volumes {
            check_snapshot_users(rs, vmb)?;
        }
        for (i, vb) in vmb.volume_backups().iter().enumerate() {
            if vb.longhorn_backup_name.as_deref().is_none_or(str::is_empty) {
                return Err(fail(
                    format!(
                        "vmbackup {bns}/{bname} vb {} at index {i} not from LH, it can't be recovered",
                        vb.name.as_deref().unwrap_or(&vb.volume_name)
                    ),
                    "nothing is restored",
                    "restore from a backup whose volumes all have Longhorn backups",
                ));
            }
        }
    } else {
        if rs.cross_namespace {
            return Err(fail(
                "restore to other namespace with backup type snapshot is not supported".into(),
                "nothing is restored",
                "restore a VM snapshot into its own namespace, or take a backup",
            ));
        }
        if !rs.new_vm && rs.delete_old_volumes {
            return Err(fail(
                "delete policy with backup type snapshot for replacing VM is not supported".into(),
                "nothing is restored",
                "use deletionPolicy retain",
            ));
        }
    }
    if status
        .and_then(|s| s.source.as_ref())
        .and_then(|s| s.spec.as_ref())
        .is_none()
    {
        return Err(fail(
            format!("VMBackup {bns}/{bname} holds no VM spec"),
            "there is no VM to restore",
            "restore from another backup",
        ));
    }
    for vb in vmb.volume_backups() {
        if vb.name.as_deref().is_none_or(str::is_empty) {
            return Err(fail(
                format!(
                    "VMBackup {bns}/{bname}: the backup of volume {} has no name",
                    vb.volume_name
                ),
                "nothing is restored",
                "restore from another backup",
            ));
        }
    }
    if rs.new_vm {
        check_new_vm(rs, vmb)?;
    } else {
        check_replace(rs, vmb)?;
    }
    check_storage_classes(rs, vmb)
}

fn check_target(rs: &Restore, vmb: &VirtualMachineBackup) -> Result<(), Outcome> {
    let theirs = vmb.status.as_ref().and_then(|s| s.backup_target.as_ref());
    match &rs.ctx.target {
        TargetConfig::Unknown => Err(rs.wait_finding(
            "the backup-target setting is not known".into(),
            Severity::Info,
            "the restore cannot be checked against the backup target",
            "include the backup-target setting",
        )),
        TargetConfig::NotConfigured | TargetConfig::Invalid(_) => Err(rs.fail(
            "backup target is not set".into(),
            "nothing is restored",
            "configure the backup target the backup was taken to",
        )),
        TargetConfig::Configured(setting) => {
            let current = setting.target_ref();
            if theirs.is_some_and(|t| t.same_target(&current)) {
                Ok(())
            } else {
                let endpoint = |t: Option<&vmbackup_api::harvester::BackupTargetRef>| {
                    t.and_then(|t| t.endpoint.clone()).unwrap_or_default()
                };
                Err(rs.fail(
                    format!(
                        "backup target {} is not matched in vmBackup {}/{} (taken to {:?})",
                        endpoint(Some(&current)),
                        rs.backup_namespace,
                        rs.backup_name,
                        endpoint(theirs)
                    ),
                    "nothing is restored: the backup's data is on another target",
                    "switch the backup target back, or rediscover the backup from the current target",
                ))
            }
        }
    }
}

/// Deleting the replaced VM's volumes must not remove a PVC a VM snapshot
/// (a snapshot-type VMBackup, whose data lives in the volume) refers to.
fn check_snapshot_users(rs: &Restore, _vmb: &VirtualMachineBackup) -> Result<(), Outcome> {
    let Some(vm) = rs.vm else { return Ok(()) };
    let ns = rs.namespace;
    for claim in super::vm::claim_names(vm) {
        let users: Vec<&str> = rs
            .ctx
            .view
            .vmbackups()
            .iter()
            .filter(|((bns, _), b)| {
                *bns == ns
                    && b.backup_type() == BackupType::Snapshot
                    && b.volume_backups()
                        .iter()
                        .any(|vb| vb.pvc_name() == Some(claim.as_str()))
            })
            .map(|((_, n), _)| n)
            .collect();
        if !users.is_empty() {
            return Err(rs.fail(
                format!(
                    "can't use delete policy, the volume \"{ns}/{claim}\" is used by the VM Snapshot(s) {}",
                    users.join(", ")
                ),
                "nothing is restored",
                "use deletionPolicy retain, or delete those VM snapshots first",
            ));
        }
    }
    Ok(())
}

/// A restore that competes with `vmr` and goes first: progressing, not
/// failed, not being deleted, and started already, or older (then by name).
fn goes_first(rs: &Restore, other: &VirtualMachineRestore, vmr: &VirtualMachineRestore) -> bool {
    if deleting(&other.metadata) || other.is_complete() || other.is_failed() {
        return false;
    }
    let key = |v: &VirtualMachineRestore| {
        (
            v.metadata.creation_timestamp.clone().map(|t| t.0),
            ns_of(&v.metadata).to_owned(),
            name_of(&v.metadata).to_owned(),
        )
    };
    let started = |v: &VirtualMachineRestore| super::has_started(rs.ctx, v);
    (started(other), std::cmp::Reverse(key(other))) > (started(vmr), std::cmp::Reverse(key(vmr)))
}

fn check_new_vm(rs: &Restore, vmb: &VirtualMachineBackup) -> Result<(), Outcome> {
    let view = rs.ctx.view;
    if rs.vm.is_some() {
        return Err(rs.fail(
            format!("VM {} is already exists", rs.target),
            "nothing is restored: an existing VM is never overwritten by a new-VM restore",
            "choose another target name, or restore with newVM: false to replace the VM the backup was taken from",
        ));
    }
    if rs.vmr.spec.keep_mac_address != Some(true) {
        return Ok(());
    }
    let (bns, bname) = (rs.backup_namespace, rs.backup_name);
    if let Some(other) = view.restores_of(bns, bname).find(|o| {
        o.metadata.uid != rs.vmr.metadata.uid
            && o.spec.new_vm == Some(true)
            && o.spec.keep_mac_address == Some(true)
            && (o.is_complete() || goes_first(rs, o, rs.vmr))
    }) {
        return Err(rs.fail(
            format!(
                "can't restore the new vm with the same macaddress as the vmrestore {}/{}",
                ns_of(&other.metadata),
                name_of(&other.metadata)
            ),
            "nothing is restored: two VMs with the same MAC addresses would conflict",
            "restore with keepMacAddress: false",
        ));
    }
    let source_uid = vmb.status.as_ref().and_then(|s| s.source_uid.as_deref());
    if let Some(uid) = source_uid
        && view
            .vm(bns, &vmb.spec.source.name)
            .is_some_and(|vm| vm.metadata.uid.as_deref() == Some(uid))
    {
        return Err(rs.fail(
            format!(
                "can't restore the new vm {} with the same macaddress as {bns}/{} because the source vm is still existent",
                rs.target, vmb.spec.source.name
            ),
            "nothing is restored: two VMs with the same MAC addresses would conflict",
            "restore with keepMacAddress: false, or delete the source VM first",
        ));
    }
    Ok(())
}

fn check_replace(rs: &Restore, vmb: &VirtualMachineBackup) -> Result<(), Outcome> {
    let view = rs.ctx.view;
    let Some(vm) = rs.vm else {
        return Err(rs.fail(
            format!("can't replace nonexistent vm {}", rs.target),
            "nothing is restored",
            "restore with newVM: true to create the VM",
        ));
    };
    let status = vmb.status.as_ref();
    let source_uid = status.and_then(|s| s.source_uid.as_deref());
    let vm_uid = vm.metadata.uid.as_deref();
    match source_uid {
        Some(uid) if vm_uid != Some(uid) => {
            return Err(rs.fail(
                format!(
                    "VM {}/{} (uid {}) is not the VM backup {}/{} was taken from (uid {uid}): a VM that was recreated under the same name is not overwritten",
                    rs.namespace,
                    rs.target,
                    vm_uid.unwrap_or("unknown"),
                    rs.backup_namespace,
                    rs.backup_name
                ),
                "nothing is restored",
                "restore with newVM: true under another name",
            ));
        }
        Some(_) => {}
        None => {
            let source = status
                .and_then(|s| s.source.as_ref())
                .and_then(|s| s.metadata.as_ref());
            let source_ns = source
                .and_then(|m| m.namespace.as_deref())
                .unwrap_or(rs.backup_namespace);
            let source_name = source
                .and_then(|m| m.name.as_deref())
                .unwrap_or(&vmb.spec.source.name);
            if source_ns != rs.namespace || source_name != rs.target {
                return Err(rs.fail(
                    format!(
                        "VM {}/{} is not the VM backup {}/{} was taken from ({source_ns}/{source_name})",
                        rs.namespace, rs.target, rs.backup_namespace, rs.backup_name
                    ),
                    "nothing is restored",
                    "restore with newVM: true",
                ));
            }
        }
    }
    if let Some(other) = view.vmrestores().values().find(|o| {
        o.metadata.uid != rs.vmr.metadata.uid
            && ns_of(&o.metadata) == rs.namespace
            && o.spec.target.name == rs.target
            && goes_first(rs, o, rs.vmr)
    }) {
        return Err(rs.wait_finding(
            format!(
                "Please wait for the previous VM restore on the {}/{} to be complete first.",
                ns_of(&other.metadata),
                name_of(&other.metadata)
            ),
            Severity::Info,
            "this restore starts when the other one is complete or failed",
            "nothing to do; or delete one of the two restores",
        ));
    }
    Ok(())
}

fn check_storage_classes(rs: &Restore, vmb: &VirtualMachineBackup) -> Result<(), Outcome> {
    let view = rs.ctx.view;
    if !view.is_listed(Kind::StorageClass) {
        return Ok(());
    }
    for vb in vmb.volume_backups() {
        if let Some(sc) = vb
            .persistent_volume_claim
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.as_deref())
            .filter(|s| !s.is_empty())
            && view.storage_class(sc).is_none_or(|c| deleting(&c.metadata))
        {
            return Err(Outcome::Running {
                message: format!(
                    "storage class {sc} of volume {} does not exist",
                    vb.volume_name
                ),
                finding: Some(Box::new(
                    Finding::new(Code::MissingStorageClass, Severity::Error, rs.r.clone())
                        .message(format!(
                            "the restore needs storage class {sc} for volume {} and it does not exist in this cluster",
                            vb.volume_name
                        ))
                        .impact("no PVC can be created for the volume; the restore waits")
                        .fix(format!(
                            "create storage class {sc} (for a VM image's class: restore or import the image first)"
                        )),
                )),
                requeue: crate::context::UNAVAILABLE_RETRY,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert!(is_dns1123_subdomain("vm-1"));
        assert!(is_dns1123_subdomain("a.b-c"));
        assert!(!is_dns1123_subdomain(""));
        assert!(!is_dns1123_subdomain("VM"));
        assert!(!is_dns1123_subdomain("-a"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(!is_dns1123_subdomain(&"a".repeat(254)));
    }
}
