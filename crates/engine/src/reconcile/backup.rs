//! The VMBackup reconciler: one VolumeSnapshot per VM volume, status filled
//! as Harvester fills it, the metadata file on the target once ready, handle
//! repair of the contents it depends on, and ready ↔ not-ready when its data
//! leaves or returns to the target.
//!
//! Each VMBackup is planned as a unit: the reconciler computes the VMBackup
//! it wants (status included), the objects to create and retire, and emits
//! one patch for the difference. Objects created in the same plan are
//! counted as existing and not yet ready, so applying the plan and planning
//! again gives nothing new.

use std::collections::{BTreeMap, BTreeSet};

use vmbackup_api::harvester::{SecretBackup, VirtualMachineSourceSpec, VolumeBackup};
use vmbackup_api::meta::{EmbeddedObjectMeta, ErrorInfo};
use vmbackup_api::wellknown;
use vmbackup_api::{BackupType, StringMap, VirtualMachineBackup, VirtualMachineBackupStatus};

use crate::build;
use crate::conditions;
use crate::context::{
    Ctx, Out, TargetRead, VMBACKUP_FINALIZER, create, deleting, name_of, ns_of, patch_action,
    same_object,
};
use crate::finding::{Code, Finding, Severity};
use crate::metadata::VmBackupMetadata;
use crate::naming;
use crate::object::{Kind, ObjectRef};
use crate::plan::{Action, Reconciler};
use crate::reconcile::handles::Scope;
use crate::resolve::{self, Verdict};
use crate::target::TargetState;

const R: Reconciler = Reconciler::Backup;
const REPAIR: Reconciler = Reconciler::HandleRepair;

/// Ready-condition message Harvester uses for a backup whose data left the
/// target; vmbackup reads it as the persisted "unhealthy" flag.
pub const UNHEALTHY_MESSAGE: &str = "Change back to non-ready";

/// Plans every VMBackup. `repair` holds the VMBackups whose broken handles
/// are repaired in this plan.
pub fn reconcile(ctx: &Ctx, repair: &Scope<'_>, out: &mut Out) {
    for ((ns, name), vmb) in ctx.view.vmbackups() {
        if deleting(&vmb.metadata) {
            finalize(ctx, vmb, out);
            continue;
        }
        let mut unit = Unit::default();
        let want = desire(ctx, vmb, repair.contains(&(ns, name)), &mut unit, out);
        let r = ObjectRef::namespaced(Kind::VirtualMachineBackup, ns, name);
        for (action, reason, who) in unit.creates {
            out.step(who, action, reason);
        }
        if let Some(action) = patch_action(r, &vmb.metadata, vmb, &want) {
            out.step(
                R,
                action,
                unit.patch_reason
                    .unwrap_or_else(|| "update VM backup status".into()),
            );
            if ctx.view.restores_of(ns, name).next().is_some() {
                out.planned_vmbackups
                    .insert((ns.to_owned(), name.to_owned()), want);
            }
        }
        for (action, reason) in unit.retires {
            out.step(REPAIR, action, reason);
        }
    }
}

/// Side effects collected while computing the wanted VMBackup.
#[derive(Debug, Default)]
pub struct Unit {
    /// Creations (and other actions that must precede the VMBackup patch).
    pub creates: Vec<(Action, String, Reconciler)>,
    /// Retirement of replaced objects (after the VMBackup patch).
    pub retires: Vec<(Action, String)>,
    /// VolumeSnapshots created in this plan.
    pub planned_snapshots: BTreeSet<String>,
    /// Why the VMBackup itself is patched, if one reason dominates.
    pub patch_reason: Option<String>,
}

/// The VMBackup as it should be, with the actions that get it there
/// collected in `unit`. Also used by rediscovery for a VMBackup it is about
/// to create.
pub fn desire(
    ctx: &Ctx,
    vmb: &VirtualMachineBackup,
    repair: bool,
    unit: &mut Unit,
    out: &mut Out,
) -> VirtualMachineBackup {
    let mut want = vmb.clone();
    let ns = ns_of(&vmb.metadata).to_owned();
    let name = name_of(&vmb.metadata).to_owned();
    let r = ObjectRef::namespaced(Kind::VirtualMachineBackup, &ns, &name);
    let is_backup = vmb.backup_type() == BackupType::Backup;

    let finalizers = want.metadata.finalizers.get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == VMBACKUP_FINALIZER) {
        finalizers.push(VMBACKUP_FINALIZER.to_owned());
    }

    // Harvester's "missing status" (no VM copy or no volume backups), except
    // that a backup whose volumes name Longhorn backups is never re-read
    // from the live VM: it was rediscovered, and its data is on the target.
    let missing_status = want.status.as_ref().is_none_or(|s| {
        let known = s
            .volume_backups
            .as_ref()
            .is_some_and(|v| v.iter().any(|vb| vb.longhorn_backup_name.is_some()));
        s.volume_backups.is_none() || (s.source.is_none() && !known)
    });
    if missing_status {
        match initial_status(ctx, vmb) {
            Ok(status) => {
                want.status = Some(status);
                unit.patch_reason =
                    Some("record the VM, its volumes and secrets in the backup".into());
            }
            Err(Init::Wait(why)) => {
                out.requeue(crate::context::PROGRESS_REQUEUE);
                out.finding(
                    Finding::new(Code::BackupBlocked, Severity::Info, r.clone())
                        .message(format!("backup waits: {why}"))
                        .impact("the backup has not started")
                        .fix("nothing to do if this clears on its own; otherwise fix the cause named above"),
                );
                return want;
            }
            Err(Init::Fail(why)) => {
                let status = want
                    .status
                    .get_or_insert_with(VirtualMachineBackupStatus::default);
                set_error(status, &why, &ctx.now_text);
                status.ready_to_use = Some(false);
                out.finding(
                    Finding::new(Code::BackupBlocked, Severity::Error, r.clone())
                        .message(format!("backup cannot start: {why}"))
                        .impact("no data is backed up for this VMBackup")
                        .fix("fix the cause and create the VMBackup again"),
                );
                return want;
            }
        }
    }

    if is_backup && repair {
        repair_handles(ctx, vmb, &mut want, unit);
    }
    if is_backup {
        retire_replaced(ctx, vmb, &want, unit);
    }
    snapshots(ctx, &mut want, unit, out);
    readiness(ctx, &mut want, unit, out);
    if is_backup && want.is_ready() {
        metadata_file(ctx, &mut want, unit);
    }
    want
}

enum Init {
    /// Try again later (a PVC not yet bound).
    Wait(String),
    /// Cannot back up (a VM or PVC that does not exist).
    Fail(String),
}

/// Status of a new backup, read from the live VM (Harvester's
/// "initialise status"), with volume backups in the VM's volume order.
fn initial_status(
    ctx: &Ctx,
    vmb: &VirtualMachineBackup,
) -> Result<VirtualMachineBackupStatus, Init> {
    let view = ctx.view;
    let ns = ns_of(&vmb.metadata);
    let vm_name = vmb.spec.source.name.as_str();
    if vmb.spec.source.kind != wellknown::KIND_VIRTUAL_MACHINE {
        return Err(Init::Fail(format!(
            "unsupported source kind {}",
            vmb.spec.source.kind
        )));
    }
    let Some(vm) = view.vm(ns, vm_name) else {
        return if view.is_listed(Kind::VirtualMachine) {
            Err(Init::Fail(format!(
                "VirtualMachine {ns}/{vm_name} does not exist"
            )))
        } else {
            Err(Init::Wait(format!(
                "VirtualMachine {ns}/{vm_name} is not known"
            )))
        };
    };
    if deleting(&vm.metadata) {
        return Err(Init::Fail(format!(
            "VirtualMachine {ns}/{vm_name} is being deleted"
        )));
    }
    let is_backup = vmb.backup_type() == BackupType::Backup;
    let mut volume_backups = Vec::new();
    let mut drivers = BTreeMap::new();
    for volume in vm.volumes() {
        let Some(claim) = volume.claim_name() else {
            continue;
        };
        let Some(pvc) = view.pvc(ns, claim) else {
            return Err(Init::Fail(format!(
                "PVC {ns}/{claim} of volume {} does not exist",
                volume.name
            )));
        };
        let spec = pvc.spec.clone().unwrap_or_default();
        let Some(pv_name) = spec.volume_name.clone().filter(|v| !v.is_empty()) else {
            return Err(Init::Wait(format!("PVC {ns}/{claim} is not bound yet")));
        };
        if spec.storage_class_name.as_deref().is_none_or(str::is_empty) {
            return Err(Init::Fail(format!("PVC {ns}/{claim} has no storage class")));
        }
        let Some(pv) = view.pv(&pv_name) else {
            return Err(Init::Wait(format!(
                "PersistentVolume {pv_name} of PVC {ns}/{claim} is not known"
            )));
        };
        let Some(csi) = pv.spec.as_ref().and_then(|s| s.csi.as_ref()) else {
            return Err(Init::Fail(format!(
                "PersistentVolume {pv_name} is not a CSI volume"
            )));
        };
        let Some(class) = ctx
            .class_for(&csi.driver, is_backup)
            .filter(|c| !c.is_empty())
        else {
            return Err(Init::Fail(format!(
                "no VolumeSnapshotClass is configured for CSI driver {}",
                csi.driver
            )));
        };
        drivers.insert(csi.driver.clone(), class.to_owned());
        let size = pv
            .spec
            .as_ref()
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get("storage"))
            .and_then(|q| quantity_bytes(&q.0));
        let pvc_spec = vmbackup_api::core::PvcSpec::from_k8s(&spec)
            .map_err(|e| Init::Fail(format!("PVC {ns}/{claim}: {e}")))?;
        volume_backups.push(VolumeBackup {
            name: Some(naming::volume_backup_name(name_of(&vmb.metadata), claim)),
            volume_name: volume.name.clone(),
            csi_driver_name: csi.driver.clone(),
            persistent_volume_claim: vmbackup_api::harvester::PersistentVolumeClaimSourceSpec {
                metadata: Some(EmbeddedObjectMeta {
                    name: Some(claim.to_owned()),
                    namespace: Some(ns.to_owned()),
                    labels: pvc.metadata.labels.clone(),
                    annotations: pvc.metadata.annotations.clone(),
                    ..EmbeddedObjectMeta::default()
                }),
                spec: Some(pvc_spec),
                ..Default::default()
            },
            volume_size: size,
            ready_to_use: Some(false),
            ..VolumeBackup::default()
        });
    }
    let secret_backups = secrets_of(ctx, vmb, vm)?;
    let backup_target = if is_backup {
        match ctx.target_ref.clone() {
            Some(t) => Some(t),
            None => return Err(Init::Fail("backup target is not set".into())),
        }
    } else {
        None
    };
    Ok(VirtualMachineBackupStatus {
        source_uid: vm.metadata.uid.clone(),
        backup_target,
        csi_driver_volume_snapshot_class_names: Some(drivers.into()),
        source: Some(VirtualMachineSourceSpec {
            metadata: Some(EmbeddedObjectMeta {
                name: vm.metadata.name.clone(),
                namespace: Some(ns.to_owned()),
                labels: vm.metadata.labels.clone(),
                annotations: vm.metadata.annotations.clone(),
                ..EmbeddedObjectMeta::default()
            }),
            spec: Some(vm.spec.clone()),
            ..Default::default()
        }),
        volume_backups: Some(volume_backups),
        secret_backups: Some(secret_backups),
        progress: Some(0),
        ready_to_use: Some(false),
        ..VirtualMachineBackupStatus::default()
    })
}

/// Secrets the VM references (access credentials, cloud-init), with empty
/// values dropped as Harvester drops them.
fn secrets_of(
    ctx: &Ctx,
    vmb: &VirtualMachineBackup,
    vm: &vmbackup_api::kubevirt::VirtualMachine,
) -> Result<Vec<SecretBackup>, Init> {
    let ns = ns_of(&vmb.metadata);
    let mut names = BTreeSet::new();
    if let Some(spec) = vm.spec.template.as_ref().and_then(|t| t.spec.as_ref()) {
        for cred in spec.access_credentials.iter().flatten() {
            if let Some(n) = cred.secret_name() {
                names.insert(n.to_owned());
            }
        }
        for volume in spec.volumes.iter().flatten() {
            for source in [&volume.cloud_init_no_cloud, &volume.cloud_init_config_drive]
                .into_iter()
                .flatten()
            {
                for r in [&source.secret_ref, &source.network_data_secret_ref]
                    .into_iter()
                    .flatten()
                {
                    if let Some(n) = r.name.as_deref().filter(|n| !n.is_empty()) {
                        names.insert(n.to_owned());
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for secret_name in names {
        let Some(secret) = ctx.view.secret(ns, &secret_name) else {
            if ctx.view.is_listed(Kind::Secret) {
                return Err(Init::Fail(format!(
                    "Secret {ns}/{secret_name} used by the VM does not exist"
                )));
            }
            return Err(Init::Wait(format!(
                "Secret {ns}/{secret_name} is not known"
            )));
        };
        let data: BTreeMap<String, String> = secret
            .data
            .iter()
            .flatten()
            .filter(|(_, v)| !v.0.is_empty())
            .map(|(k, v)| (k.clone(), base64_encode(&v.0)))
            .collect();
        out.push(SecretBackup {
            name: secret_name,
            data: Some(data),
            ..SecretBackup::default()
        });
    }
    Ok(out)
}

/// Standard base64 (what Kubernetes uses for secret data in JSON).
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Bytes in a Kubernetes quantity (`10Gi`, `1073741824`, `5G`); `None` when
/// it is not a whole number of bytes in a form Kubernetes writes.
pub fn quantity_bytes(text: &str) -> Option<i64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, suffix) = text.split_at(split);
    let n: i64 = num.parse().ok()?;
    let mult: i64 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// The content a volume backup depends on: its VolumeSnapshot's content,
/// or (no VolumeSnapshot yet) its pre-provisioned content (`<vb>-vsc`, or
/// the namespaced name of [`content_name_for`]) when that content is made
/// for this very VolumeSnapshot, namespace included.
pub fn content_of_volume_backup<'v>(
    ctx: &Ctx<'v>,
    ns: &str,
    vb_name: &str,
) -> Option<&'v vmbackup_api::VolumeSnapshotContent> {
    let view = ctx.view;
    match view.snapshot(ns, vb_name) {
        Some(vs) => view.content_of_snapshot(vs),
        None => [
            naming::content_for_volume_backup(vb_name),
            naming::namespaced_content_for_volume_backup(ns, vb_name),
        ]
        .iter()
        .filter_map(|name| view.content(name))
        .find(|c| made_for(c, ns, vb_name)),
    }
}

/// Whether a content is made for the VolumeSnapshot `ns/vs`.
fn made_for(content: &vmbackup_api::VolumeSnapshotContent, ns: &str, vs: &str) -> bool {
    let r = &content.spec.volume_snapshot_ref;
    r.name.as_deref() == Some(vs) && r.namespace.as_deref() == Some(ns)
}

/// The name of the pre-provisioned content of volume backup `vb_name` of
/// namespace `ns`. Contents are cluster-scoped, so Harvester's `<vb>-vsc` is
/// used only when it cannot be claimed by a volume backup of the same name
/// in another namespace: when it already exists for this one, or when no
/// other namespace has a volume backup of that name. Otherwise the name is
/// qualified by the namespace, so that two namespaces never share a
/// content.
fn content_name_for(ctx: &Ctx, ns: &str, vb_name: &str) -> String {
    let plain = naming::content_for_volume_backup(vb_name);
    let shared = ctx
        .shared_volume_backup_names
        .contains(naming::volume_backup_base(vb_name));
    match ctx.view.content(&plain) {
        Some(c) if made_for(c, ns, vb_name) => plain,
        None if !shared => plain,
        _ => naming::namespaced_content_for_volume_backup(ns, vb_name),
    }
}

/// Handle repair: for every volume backup whose content Longhorn ≥ 1.8
/// cannot resolve but whose Longhorn Backup is known, relink the volume
/// backup to a new name whose VolumeSnapshot and content (created below by
/// [`snapshots`]) carry the right handle. The old pair is retired by
/// [`retire_replaced`].
fn repair_handles(
    ctx: &Ctx,
    vmb: &VirtualMachineBackup,
    want: &mut VirtualMachineBackup,
    unit: &mut Unit,
) {
    let ns = ns_of(&vmb.metadata).to_owned();
    let names: BTreeSet<String> = vmb
        .volume_backups()
        .iter()
        .filter_map(|vb| vb.name.clone())
        .collect();
    let Some(status) = want.status.as_mut() else {
        return;
    };
    let mut revised = false;
    for vb in status.volume_backups.iter_mut().flatten() {
        let Some(vb_name) = vb.name.clone() else {
            continue;
        };
        let Some(content) = content_of_volume_backup(ctx, &ns, &vb_name) else {
            continue;
        };
        let Verdict::Broken(broken) =
            resolve::judge(ctx.view, content, vb.longhorn_backup_name.as_deref())
        else {
            continue;
        };
        if !broken.repairable() {
            continue;
        }
        let mut new_name = naming::revised_volume_backup_name(&vb_name);
        let mut n = 2;
        while names.contains(&new_name) || new_name == vb_name {
            new_name = format!("{}-{n}", naming::revised_volume_backup_name(&vb_name));
            n += 1;
        }
        if vb.longhorn_backup_name.is_none() {
            vb.longhorn_backup_name = broken.backup.clone();
        }
        vb.name = Some(new_name);
        vb.ready_to_use = Some(false);
        revised = true;
    }
    if revised {
        want.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(
                wellknown::ANNOTATION_SNAP_REVISE.to_owned(),
                "true".to_owned(),
            );
        unit.patch_reason =
            Some("relink volume backups to contents with resolvable handles".into());
    }
}

/// Whether a replaced VolumeSnapshot is the VMBackup's to retire: it is
/// controlled by the VMBackup (any is, for a VMBackup that has no uid).
pub(crate) fn retires(vmb: &VirtualMachineBackup, vs: &vmbackup_api::VolumeSnapshot) -> bool {
    let uid = vmb.metadata.uid.as_deref();
    uid.is_none() || build::controlled_by(&vs.metadata, uid)
}

/// Retires VolumeSnapshots this VMBackup controls that no volume backup
/// names any more because they were replaced by a repair: their contents
/// are switched to `Retain` first (so deleting them never deletes backup
/// data), then the snapshot and the content are deleted.
fn retire_replaced(
    ctx: &Ctx,
    vmb: &VirtualMachineBackup,
    want: &VirtualMachineBackup,
    unit: &mut Unit,
) {
    let ns = ns_of(&vmb.metadata);
    let current: BTreeSet<&str> = want
        .volume_backups()
        .iter()
        .filter_map(|vb| vb.name.as_deref())
        .collect();
    for vb_name in vmb
        .volume_backups()
        .iter()
        .filter_map(|vb| vb.name.as_deref())
        .chain(
            // Pairs replaced in an earlier, interrupted plan are found by name.
            current
                .iter()
                .filter_map(|n| n.strip_suffix(naming::REVISE_SUFFIX)),
        )
    {
        if current.contains(vb_name) {
            continue;
        }
        if !current
            .iter()
            .any(|c| c.starts_with(&format!("{vb_name}{}", naming::REVISE_SUFFIX)))
        {
            continue;
        }
        let found = ctx.view.snapshot(ns, vb_name);
        let vs = found.filter(|vs| retires(vmb, vs));
        if found.is_some() && vs.is_none() {
            // A snapshot of that name that is not this backup's.
            continue;
        }
        // The content the snapshot is bound to, and any content still
        // pointing at the snapshot's name (left when an earlier plan stopped
        // after deleting the snapshot).
        let mut contents: Vec<&vmbackup_api::VolumeSnapshotContent> = Vec::new();
        if let Some(c) = vs.and_then(|vs| ctx.view.content_of_snapshot(vs)) {
            contents.push(c);
        }
        for c in ctx.view.contents_for_snapshot(ns, vb_name) {
            if !contents.iter().any(|x| x.metadata.name == c.metadata.name) {
                contents.push(c);
            }
        }
        for c in contents.iter().filter(|c| c.deletes_data()) {
            unit.retires.push((
                Action::Patch {
                    target: ObjectRef::cluster(Kind::VolumeSnapshotContent, name_of(&c.metadata)),
                    precondition: crate::context::pinned(&c.metadata),
                    patch: serde_json::json!({"spec": {"deletionPolicy": wellknown::DELETION_POLICY_RETAIN}}).into(),
                },
                format!("keep the backup data when retiring the content of replaced volume backup {vb_name}"),
            ));
        }
        if let Some(vs) = vs.filter(|vs| !deleting(&vs.metadata)) {
            unit.retires.push((
                Action::Delete {
                    target: ObjectRef::namespaced(Kind::VolumeSnapshot, ns, vb_name),
                    precondition: same_object(&vs.metadata),
                },
                format!("retire VolumeSnapshot {vb_name}, replaced by a repaired one"),
            ));
        }
        for c in contents.iter().filter(|c| !deleting(&c.metadata)) {
            unit.retires.push((
                Action::Delete {
                    target: ObjectRef::cluster(Kind::VolumeSnapshotContent, name_of(&c.metadata)),
                    precondition: same_object(&c.metadata),
                },
                format!("retire content {} with an unresolvable handle (now Retain: no data is deleted)", name_of(&c.metadata)),
            ));
        }
    }
}

/// Creates missing VolumeSnapshots (from the PVC for a new backup, from a
/// pre-provisioned content for a backup known only by its Longhorn backup)
/// and mirrors each snapshot's state into its volume backup.
fn snapshots(ctx: &Ctx, want: &mut VirtualMachineBackup, unit: &mut Unit, out: &mut Out) {
    let view = ctx.view;
    let ns = ns_of(&want.metadata).to_owned();
    let r = ObjectRef::namespaced(Kind::VirtualMachineBackup, &ns, name_of(&want.metadata));
    let is_backup = want.backup_type() == BackupType::Backup;
    let owner = build::owner_ref(
        wellknown::HARVESTER_API_VERSION,
        wellknown::KIND_VIRTUAL_MACHINE_BACKUP,
        &want.metadata,
        true,
    );
    let uid = want.metadata.uid.clone();
    let processing = want.status.as_ref().is_some_and(|s| s.error.is_none()) && !want.is_ready();
    let Some(status) = want.status.as_mut() else {
        return;
    };
    let classes = &status.csi_driver_volume_snapshot_class_names;
    for vb in status.volume_backups.iter_mut().flatten() {
        let Some(vb_name) = vb.name.clone() else {
            continue;
        };
        let class = classes
            .as_ref()
            .and_then(|c| c.get(&vb.csi_driver_name))
            .map(String::as_str)
            .or_else(|| ctx.class_for(&vb.csi_driver_name, is_backup));
        match view.snapshot(&ns, &vb_name) {
            Some(vs) if deleting(&vs.metadata) => {
                out.requeue(crate::context::PROGRESS_REQUEUE);
            }
            Some(vs) if is_backup && vb.longhorn_backup_name.is_some() && content_lost(ctx, vs) => {
                // The content this snapshot is bound to is gone (lost with
                // the cluster's state): the snapshot can never be used
                // again. It is deleted; the next plan binds a new one to a
                // pre-provisioned content for the Longhorn backup.
                unit.creates.push((
                    Action::Delete {
                        target: ObjectRef::namespaced(Kind::VolumeSnapshot, &ns, &vb_name),
                        precondition: same_object(&vs.metadata),
                    },
                    format!(
                        "VolumeSnapshot {ns}/{vb_name} is bound to a content that no longer exists: replace it by one bound to Longhorn backup {}",
                        vb.longhorn_backup_name.as_deref().unwrap_or_default()
                    ),
                    R,
                ));
                vb.ready_to_use = Some(false);
                vb.error = None;
                out.requeue(crate::context::PROGRESS_REQUEUE);
            }
            Some(vs) => {
                // Adopt a snapshot created before this VMBackup had a UID.
                if uid.is_some()
                    && vs
                        .metadata
                        .owner_references
                        .as_ref()
                        .is_none_or(Vec::is_empty)
                {
                    let mut adopted = vs.clone();
                    adopted.metadata.owner_references = owner.clone().map(|o| vec![o]);
                    let target = ObjectRef::namespaced(Kind::VolumeSnapshot, &ns, &vb_name);
                    if let Some(a) = patch_action(target, &vs.metadata, vs, &adopted) {
                        unit.creates.push((
                            a,
                            format!("record VMBackup {} as owner of its snapshot", r.name),
                            R,
                        ));
                    }
                }
                mirror(ctx, vb, vs);
            }
            None if unit.planned_snapshots.contains(&vb_name) => {}
            // VolumeSnapshots were not listed: this one may well exist.
            None if !ctx.view.is_listed(Kind::VolumeSnapshot) => {}
            None => {
                if let Some(lhb) = vb.longhorn_backup_name.clone().filter(|_| is_backup) {
                    from_longhorn_backup(
                        ctx,
                        &ns,
                        &vb_name,
                        &lhb,
                        class,
                        owner.clone(),
                        &r,
                        unit,
                        out,
                    );
                    vb.ready_to_use = Some(false);
                } else if processing {
                    let Some(pvc) = vb.pvc_name().map(str::to_owned) else {
                        continue;
                    };
                    let mut annotations = BTreeMap::new();
                    let source_pvc = vb.persistent_volume_claim.metadata.as_ref();
                    if let Some(sc) = vb
                        .persistent_volume_claim
                        .spec
                        .as_ref()
                        .and_then(|s| s.storage_class_name.clone())
                    {
                        annotations.insert(wellknown::ANNOTATION_STORAGE_CLASS_NAME.to_owned(), sc);
                    }
                    if let Some(image) =
                        source_pvc.and_then(|m| m.annotation(wellknown::ANNOTATION_IMAGE_ID))
                    {
                        annotations
                            .insert(wellknown::ANNOTATION_IMAGE_ID.to_owned(), image.to_owned());
                    }
                    if let Some(p) = source_pvc.and_then(|m| {
                        m.annotation("volume.kubernetes.io/storage-provisioner")
                            .or_else(|| {
                                m.annotation("volume.beta.kubernetes.io/storage-provisioner")
                            })
                    }) {
                        annotations.insert(
                            wellknown::ANNOTATION_STORAGE_PROVISIONER.to_owned(),
                            p.to_owned(),
                        );
                    }
                    let vs = build::snapshot_of_pvc(
                        &ns,
                        &vb_name,
                        &pvc,
                        class,
                        annotations,
                        owner.clone(),
                    );
                    unit.creates.push((
                        create(vs),
                        format!("snapshot PVC {ns}/{pvc} for backup {}", r.name),
                        R,
                    ));
                    unit.planned_snapshots.insert(vb_name.clone());
                    vb.ready_to_use = Some(false);
                } else if want_ready_but_lost(vb) {
                    out.finding(
                        Finding::new(Code::MissingSnapshotObject, Severity::Error, r.clone())
                            .message(format!("VolumeSnapshot {ns}/{vb_name} of volume {} is missing and no Longhorn backup is recorded for it", vb.volume_name))
                            .impact("this volume cannot be restored from this backup")
                            .fix("take a new backup of the VM"),
                    );
                }
            }
        }
    }
}

/// Whether the content a VolumeSnapshot is bound to (or names) is known
/// not to exist.
fn content_lost(ctx: &Ctx, vs: &vmbackup_api::VolumeSnapshot) -> bool {
    let bound = vs
        .status
        .as_ref()
        .and_then(|s| s.bound_volume_snapshot_content_name.as_deref())
        .or(vs.spec.source.volume_snapshot_content_name.as_deref());
    ctx.view.is_listed(Kind::VolumeSnapshotContent)
        && bound.is_some_and(|name| ctx.view.content(name).is_none())
}

fn want_ready_but_lost(vb: &VolumeBackup) -> bool {
    vb.longhorn_backup_name.is_none()
}

/// Creates the content of [`content_name_for`] (`<vb>-vsc` where that is
/// unambiguous) with the right handle and the VolumeSnapshot `<vb>` bound
/// to it, for a volume backup known only by its Longhorn backup.
#[allow(clippy::too_many_arguments)]
fn from_longhorn_backup(
    ctx: &Ctx,
    ns: &str,
    vb_name: &str,
    lhb: &str,
    class: Option<&str>,
    owner: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
    r: &ObjectRef,
    unit: &mut Unit,
    out: &mut Out,
) {
    let view = ctx.view;
    let content_name = content_name_for(ctx, ns, vb_name);
    let existing = view.content(&content_name);
    let handle = match existing {
        Some(c) => {
            match resolve::judge(view, c, Some(lhb)) {
                Verdict::Broken(b) if b.repairable() => {
                    // Reported by the handle findings; the repair renames the
                    // volume backup rather than reusing this content.
                }
                _ => {}
            }
            None
        }
        None => resolve::correct_handle(view, lhb),
    };
    if existing.is_none() {
        let Some(handle) = handle else {
            // Unless Longhorn Backups were listed, their absence proves
            // nothing.
            if view.is_listed(Kind::LonghornBackup) {
                missing_backup_finding(ctx, r, vb_name, lhb, out);
            }
            return;
        };
        let vsc = build::backup_content(
            &content_name,
            &handle,
            class,
            wellknown::DELETION_POLICY_DELETE,
            ns,
            vb_name,
        );
        unit.creates.push((
            create(vsc),
            format!("give backup {lhb} a content with handle {handle}"),
            R,
        ));
    }
    let vs = build::snapshot_of_content(ns, vb_name, &content_name, class, owner);
    unit.creates.push((
        create(vs),
        format!("bind VolumeSnapshot {ns}/{vb_name} to content {content_name}"),
        R,
    ));
    unit.planned_snapshots.insert(vb_name.to_owned());
}

fn missing_backup_finding(ctx: &Ctx, r: &ObjectRef, vb_name: &str, lhb: &str, out: &mut Out) {
    let on_target = ctx
        .listing()
        .and_then(|l| l.volume_of_backup(lhb))
        .is_some();
    let message = match ctx.view.longhorn_backup(lhb) {
        Some(_) => {
            format!("Longhorn Backup {lhb} of volume backup {vb_name} has no status.volumeName yet")
        }
        None if on_target => format!(
            "Longhorn Backup {lhb} of volume backup {vb_name} is on the backup target but not in the cluster yet"
        ),
        None => format!("Longhorn Backup {lhb} of volume backup {vb_name} is not in the cluster"),
    };
    out.requeue(crate::context::UNAVAILABLE_RETRY);
    out.finding(
        Finding::new(Code::MissingLonghornBackup, Severity::Warning, r.clone())
            .message(message)
            .impact("no VolumeSnapshot can be made for this volume, so the backup cannot be restored")
            .fix("wait for Longhorn to sync the backup target (or request a BackupTarget sync); if the backup was deleted on the target, delete this VMBackup"),
    );
}

/// Copies a VolumeSnapshot's state into its volume backup, and finds the
/// Longhorn backup behind it.
fn mirror(ctx: &Ctx, vb: &mut VolumeBackup, vs: &vmbackup_api::VolumeSnapshot) {
    let status = vs.status.as_ref();
    vb.ready_to_use = Some(status.and_then(|s| s.ready_to_use).unwrap_or(false));
    if let Some(t) = status.and_then(|s| s.creation_time.clone()) {
        vb.creation_time = Some(t);
    }
    vb.error = status.and_then(|s| s.error.clone());
    if vb.longhorn_backup_name.is_none() && vb.is_longhorn() {
        let from_handle = ctx
            .view
            .content_of_snapshot(vs)
            .and_then(|c| c.snapshot_handle())
            .and_then(|h| vmbackup_api::handle::SnapshotHandle::parse(h).ok())
            .and_then(|h| h.backup().map(|b| b.as_str().to_owned()));
        let from_snapshot = vs.metadata.uid.as_ref().and_then(|uid| {
            ctx.view
                .longhorn_backups_of_snapshot(&format!("snapshot-{uid}"))
                .find(|b| !deleting(&b.metadata))
                .and_then(|b| b.metadata.name.clone())
        });
        vb.longhorn_backup_name = from_handle.or(from_snapshot);
    }
}

/// Progress, errors, readiness and health of the whole backup.
fn readiness(ctx: &Ctx, want: &mut VirtualMachineBackup, unit: &mut Unit, out: &mut Out) {
    let ns = ns_of(&want.metadata).to_owned();
    let name = name_of(&want.metadata).to_owned();
    let r = ObjectRef::namespaced(Kind::VirtualMachineBackup, &ns, &name);
    let is_backup = want.backup_type() == BackupType::Backup;
    let same_target = is_backup && on_current_target(ctx, want);
    let currently_unhealthy = conditions::get(
        want.status.as_ref().and_then(|s| s.conditions.as_ref()),
        wellknown::CONDITION_READY,
    )
    .filter(|c| c.message.as_deref() == Some(UNHEALTHY_MESSAGE))
    .map(|c| c.reason.clone().unwrap_or_default());
    let health = if same_target {
        health_problem(ctx, want)
    } else {
        Health::Unknown
    };
    let unhealthy = match health {
        Health::Bad { reason, .. } => Some(reason),
        Health::Good => None,
        Health::Unknown => currently_unhealthy.clone(),
    };
    let Some(status) = want.status.as_mut() else {
        return;
    };
    let vbs = status.volume_backups.get_or_insert_with(Vec::new);
    // Progress.
    for vb in vbs.iter_mut() {
        if vb.ready_to_use == Some(true) {
            vb.progress = Some(100);
        } else if let Some(p) = vb
            .longhorn_backup_name
            .as_deref()
            .and_then(|b| ctx.view.longhorn_backup(b))
            .and_then(|b| b.status.as_ref()?.progress)
        {
            vb.progress = Some(p.clamp(0, 100));
        }
    }
    let total: i64 = vbs.iter().map(|vb| vb.volume_size.unwrap_or(0)).sum();
    if total > 0 {
        let done: i128 = vbs
            .iter()
            .map(|vb| {
                i128::from(vb.progress.unwrap_or(0)) * i128::from(vb.volume_size.unwrap_or(0))
            })
            .sum();
        let p = i64::try_from(done / i128::from(total)).unwrap_or(0);
        status.progress = Some(status.progress.unwrap_or(0).max(p));
    } else if !is_backup {
        let all = !vbs.is_empty() && vbs.iter().all(|vb| vb.ready_to_use == Some(true));
        status.progress = Some(if all {
            100
        } else {
            status.progress.unwrap_or(0)
        });
    }
    let failed = vbs
        .iter()
        .find(|vb| vb.error.as_ref().is_some_and(|e| e.message.is_some()))
        .and_then(|vb| vb.name.clone());
    let all_ready = !vbs.is_empty() && vbs.iter().all(|vb| vb.ready_to_use == Some(true));
    let now = ctx.now_text.as_str();
    if let Some(vb_name) = failed {
        set_error(
            status,
            &format!("VolumeSnapshot {vb_name} in error state"),
            now,
        );
        status.ready_to_use = Some(false);
    } else if status.error.is_some() {
        // An error recorded earlier stays until the backup is recreated.
        status.ready_to_use = Some(false);
    } else if !all_ready {
        status.ready_to_use = Some(false);
        conditions::set(
            &mut status.conditions,
            wellknown::CONDITION_IN_PROGRESS,
            true,
            None,
            "Operation in progress",
            now,
        );
        if currently_unhealthy.is_none() {
            conditions::set(
                &mut status.conditions,
                wellknown::CONDITION_READY,
                false,
                None,
                "Not ready",
                now,
            );
        }
        out.requeue(crate::context::PROGRESS_REQUEUE);
    } else if let Some(reason) = unhealthy {
        status.ready_to_use = Some(false);
        conditions::set(
            &mut status.conditions,
            wellknown::CONDITION_READY,
            false,
            Some(&reason),
            UNHEALTHY_MESSAGE,
            now,
        );
        unit.patch_reason
            .get_or_insert_with(|| format!("mark the backup not ready: {reason}"));
    } else {
        if status.ready_to_use != Some(true) {
            unit.patch_reason
                .get_or_insert_with(|| "every volume is backed up: the backup is ready".into());
        }
        status.ready_to_use = Some(true);
        status.progress = Some(100);
        if status.creation_time.is_none() {
            status.creation_time = Some(now.to_owned());
        }
        conditions::set(
            &mut status.conditions,
            wellknown::CONDITION_IN_PROGRESS,
            false,
            None,
            "Operation complete",
            now,
        );
        conditions::set(
            &mut status.conditions,
            wellknown::CONDITION_READY,
            true,
            None,
            "Operation complete",
            now,
        );
        if status
            .csi_driver_volume_snapshot_class_names
            .as_ref()
            .is_none_or(StringMap::is_empty)
        {
            let map: StringMap = vbs
                .iter()
                .filter_map(|vb| {
                    ctx.class_for(&vb.csi_driver_name, is_backup)
                        .map(|c| (vb.csi_driver_name.clone(), c.to_owned()))
                })
                .collect();
            status.csi_driver_volume_snapshot_class_names = Some(map);
        }
    }
    let _ = r;
}

fn set_error(status: &mut VirtualMachineBackupStatus, message: &str, now: &str) {
    if status.error.as_ref().and_then(|e| e.message.as_deref()) != Some(message) {
        status.error = Some(ErrorInfo {
            time: Some(now.to_owned()),
            message: Some(message.to_owned()),
            ..ErrorInfo::default()
        });
    }
    conditions::set(
        &mut status.conditions,
        wellknown::CONDITION_IN_PROGRESS,
        false,
        Some("Error"),
        message,
        now,
    );
    conditions::set(
        &mut status.conditions,
        wellknown::CONDITION_READY,
        false,
        None,
        "Not Ready",
        now,
    );
}

/// Whether the backup was taken to the target configured now.
pub fn on_current_target(ctx: &Ctx, vmb: &VirtualMachineBackup) -> bool {
    let theirs = vmb.status.as_ref().and_then(|s| s.backup_target.as_ref());
    match (theirs, &ctx.target_ref) {
        (Some(a), Some(b)) => a.same_target(b),
        _ => false,
    }
}

/// Whether a backup's data is where it must be.
#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    /// Everything checked is in place.
    Good,
    /// Something is missing.
    Bad {
        /// Harvester-style reason text.
        reason: String,
        /// The finding code that describes it.
        code: Code,
    },
    /// Not enough facts to say.
    Unknown,
}

/// Harvester's health check of a ready backup (storage class, data on the
/// target, Longhorn Backup CR), in its order. `Unknown` unless the target
/// listing was usable.
pub fn health_problem(ctx: &Ctx, vmb: &VirtualMachineBackup) -> Health {
    let view = ctx.view;
    let Some(listing) = ctx.listing() else {
        // As Harvester's check: a target that cannot be reached makes its
        // backups not ready, with the error as the reason; they are ready
        // again once a listing shows their data. A listing that was read
        // but is not trusted (partial, or empty while backups are known)
        // proves nothing either way.
        return match (&ctx.read, &ctx.facts.state) {
            (TargetRead::Unavailable(_), TargetState::Unavailable { reason }) => Health::Bad {
                reason: reason.clone(),
                code: Code::TargetUnavailable,
            },
            _ => Health::Unknown,
        };
    };
    for vb in vmb.volume_backups() {
        let Some(lhb) = vb.longhorn_backup_name.as_deref() else {
            continue;
        };
        if let Some(sc) = vb
            .persistent_volume_claim
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.as_deref())
            && view.is_listed(Kind::StorageClass)
            && view.storage_class(sc).is_none_or(|c| deleting(&c.metadata))
        {
            return Health::Bad {
                reason: format!("cannot find storage class {sc}"),
                code: Code::MissingStorageClass,
            };
        }
        let volume = vb.pv_name().unwrap_or_default();
        if !listing.volumes.contains_key(volume) {
            return Health::Bad {
                reason: format!("cannot find volume {volume} in the backup target"),
                code: Code::BackupNotOnTarget,
            };
        }
        if !listing.has_complete_backup(volume, lhb) {
            return Health::Bad {
                reason: format!("cannot find longhorn backup {lhb} in the backup target"),
                code: Code::BackupNotOnTarget,
            };
        }
        if view.is_listed(Kind::LonghornBackup) {
            match view.longhorn_backup(lhb) {
                None => {
                    return Health::Bad {
                        reason: format!("longhorn backup {lhb} is not ready"),
                        code: Code::MissingLonghornBackup,
                    };
                }
                Some(b) if deleting(&b.metadata) => {
                    return Health::Bad {
                        reason: format!("backup {lhb} is being deleted"),
                        code: Code::MissingLonghornBackup,
                    };
                }
                Some(b) if !b.is_completed() => {
                    return Health::Bad {
                        reason: format!("backup {lhb} is not completed"),
                        code: Code::MissingLonghornBackup,
                    };
                }
                Some(_) => {}
            }
        }
    }
    Health::Good
}

/// Writes the metadata file of a ready backup when the target lacks it or
/// holds something else, and records `MetadataReady`.
fn metadata_file(ctx: &Ctx, want: &mut VirtualMachineBackup, unit: &mut Unit) {
    if !on_current_target(ctx, want) {
        return;
    }
    let key = (
        ns_of(&want.metadata).to_owned(),
        name_of(&want.metadata).to_owned(),
    );
    let metadata_ready = conditions::get(
        want.status.as_ref().and_then(|s| s.conditions.as_ref()),
        wellknown::CONDITION_METADATA_READY,
    )
    .is_some_and(|c| c.is_true());
    // The document is made only when it is compared or written.
    let write = match ctx.listing() {
        Some(listing) => {
            let doc = VmBackupMetadata::of(want);
            listing
                .vm_backups
                .get(&key)
                .is_none_or(|existing| !existing.same_content(&doc))
                .then_some(doc)
        }
        None => (!metadata_ready).then(|| VmBackupMetadata::of(want)),
    };
    if let Some(doc) = write {
        let path = naming::vmbackup_metadata_path(&key.0, &key.1);
        unit.creates.push((
            Action::WriteTargetFile {
                path,
                contents: doc.to_json(),
            },
            format!(
                "write the metadata of ready backup {}/{} to the target",
                key.0, key.1
            ),
            R,
        ));
    }
    if let Some(status) = want.status.as_mut() {
        conditions::set(
            &mut status.conditions,
            wellknown::CONDITION_METADATA_READY,
            true,
            None,
            "",
            &ctx.now_text,
        );
    }
}

/// A VMBackup being deleted: remove its metadata file from the target it
/// was written to; when the target changed since, detach its snapshots from
/// their backup data first (contents to `Retain`), so that deleting the
/// VMBackup never deletes data on a target that is not the current one.
fn finalize(ctx: &Ctx, vmb: &VirtualMachineBackup, out: &mut Out) {
    let Some(finalizers) = vmb
        .metadata
        .finalizers
        .as_ref()
        .filter(|f| f.iter().any(|f| f == VMBACKUP_FINALIZER))
    else {
        return;
    };
    let ns = ns_of(&vmb.metadata);
    let name = name_of(&vmb.metadata);
    let r = ObjectRef::namespaced(Kind::VirtualMachineBackup, ns, name);
    let has_target = vmb
        .status
        .as_ref()
        .and_then(|s| s.backup_target.as_ref())
        .is_some();
    if vmb.backup_type() == BackupType::Backup && has_target {
        if on_current_target(ctx, vmb) {
            let exists = ctx
                .listing()
                .is_none_or(|l| l.vm_backups.contains_key(&(ns.to_owned(), name.to_owned())));
            if exists {
                out.step(
                    R,
                    Action::DeleteTargetFile {
                        path: naming::vmbackup_metadata_path(ns, name),
                    },
                    format!(
                        "VMBackup {ns}/{name} is being deleted: remove its metadata from the target"
                    ),
                );
            }
        } else if ctx.target.setting().is_some()
            || matches!(ctx.target, crate::context::TargetConfig::NotConfigured)
        {
            for vb in vmb.volume_backups() {
                let Some(vb_name) = vb.name.as_deref() else {
                    continue;
                };
                let vs = ctx.view.snapshot(ns, vb_name);
                let mut contents: Vec<_> = ctx.view.contents_for_snapshot(ns, vb_name).collect();
                if let Some(c) = vs.and_then(|vs| ctx.view.content_of_snapshot(vs))
                    && !contents.iter().any(|x| x.metadata.name == c.metadata.name)
                {
                    contents.push(c);
                }
                for c in contents.iter().filter(|c| c.deletes_data()) {
                    out.step(
                        R,
                        Action::Patch {
                            target: ObjectRef::cluster(Kind::VolumeSnapshotContent, name_of(&c.metadata)),
                            precondition: crate::context::pinned(&c.metadata),
                            patch: serde_json::json!({"spec": {"deletionPolicy": wellknown::DELETION_POLICY_RETAIN}}).into(),
                        },
                        format!("backup {ns}/{name} belongs to another backup target: keep its data there"),
                    );
                }
                if let Some(vs) = vs.filter(|vs| !deleting(&vs.metadata)) {
                    out.step(
                        R,
                        Action::Delete {
                            target: ObjectRef::namespaced(Kind::VolumeSnapshot, ns, vb_name),
                            precondition: same_object(&vs.metadata),
                        },
                        format!("delete VolumeSnapshot {vb_name} of deleted backup {name} without touching its data"),
                    );
                }
                for c in contents.iter().filter(|c| !deleting(&c.metadata)) {
                    out.step(
                        R,
                        Action::Delete {
                            target: ObjectRef::cluster(Kind::VolumeSnapshotContent, name_of(&c.metadata)),
                            precondition: same_object(&c.metadata),
                        },
                        format!("delete content of deleted backup {name} (Retain: its data stays on the old target)"),
                    );
                }
            }
        }
    }
    let remaining: Vec<String> = finalizers
        .iter()
        .filter(|f| *f != VMBACKUP_FINALIZER)
        .cloned()
        .collect();
    out.step(
        R,
        Action::Patch {
            target: r,
            precondition: crate::context::pinned(&vmb.metadata),
            patch: serde_json::json!({"metadata": {"finalizers": remaining}}).into(),
        },
        format!("clean-up of VMBackup {ns}/{name} done: release it"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(quantity_bytes("10Gi"), Some(10 << 30));
        assert_eq!(quantity_bytes("1073741824"), Some(1 << 30));
        assert_eq!(quantity_bytes("5G"), Some(5_000_000_000));
        assert_eq!(quantity_bytes("1.5Gi"), None);
        assert_eq!(quantity_bytes("x"), None);
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"#cloud-config"), "I2Nsb3VkLWNvbmZpZw==");
    }
}
