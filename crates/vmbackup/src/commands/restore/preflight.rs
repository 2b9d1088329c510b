//! Everything that would make a restore fail, found before anything is
//! created: Harvester's admission rules for VirtualMachineRestores (all of
//! them, not only the first that fails), and what the restore needs at run
//! time — snapshot handles Longhorn can resolve, the Longhorn Backup and
//! BackupVolume behind each volume, storage classes, the backup target, and
//! names that are free. A check whose objects are not in the input is
//! listed as not checked instead of passing silently.

use vmbackup_api::handle::SnapshotHandle;
use vmbackup_api::wellknown;
use vmbackup_api::{BackupType, VirtualMachineBackup, VolumeBackup};
use vmbackup_engine::finding::sort_findings;
use vmbackup_engine::naming::{self, is_dns1123_label, is_dns1123_subdomain};
use vmbackup_engine::reconcile::backup::UNHEALTHY_MESSAGE;
use vmbackup_engine::resolve::{self, Problem, Verdict};
use vmbackup_engine::{Code, Finding, Kind, ObjectRef, Severity, TargetFacts, TargetState, View};

use super::request::Request;
use crate::source::target::{configured_url, same_target};

/// The outcome of the checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Preflight {
    /// Problems, most severe first. Any error means the restore would fail.
    pub findings: Vec<Finding>,
    /// Checks that could not be made, and why.
    pub unchecked: Vec<String>,
}

impl Preflight {
    /// Whether the restore would fail.
    pub fn blocks(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

struct Checker<'a> {
    view: &'a View,
    request: &'a Request,
    restore: ObjectRef,
    out: Preflight,
}

impl Checker<'_> {
    fn add(
        &mut self,
        code: Code,
        severity: Severity,
        object: ObjectRef,
        message: String,
        impact: &str,
        fix: String,
    ) {
        self.out.findings.push(
            Finding::new(code, severity, object)
                .message(message)
                .impact(impact.to_owned())
                .fix(fix),
        );
    }

    /// A problem with the restore itself (a rule it breaks).
    fn block(&mut self, message: String, fix: impl Into<String>) {
        let restore = self.restore.clone();
        self.add(
            Code::RestoreBlocked,
            Severity::Error,
            restore,
            message,
            "the VirtualMachineRestore is refused or fails; nothing is restored",
            fix.into(),
        );
    }

    /// Whether `kind` was read in full; if not, records what is unchecked.
    fn listed(&mut self, kind: Kind, what: &str) -> bool {
        if self.view.is_listed(kind) {
            return true;
        }
        let line = format!("{what}: no {} in the input", kind.kind());
        if !self.out.unchecked.contains(&line) {
            self.out.unchecked.push(line);
        }
        false
    }
}

/// Runs every check for `request`.
pub fn check(view: &View, facts: &TargetFacts, request: &Request) -> Preflight {
    let mut c = Checker {
        view,
        request,
        restore: ObjectRef::namespaced(
            Kind::VirtualMachineRestore,
            &request.namespace,
            &request.name,
        ),
        out: Preflight::default(),
    };
    names(&mut c);
    match view
        .vmbackups()
        .get(&request.backup_namespace, &request.backup)
    {
        Some(vmb) => {
            backup(&mut c, vmb);
            target(&mut c, vmb, facts);
            for vb in vmb.volume_backups() {
                volume(&mut c, vmb, vb, facts);
            }
            target_vm(&mut c, vmb);
            secrets(&mut c, vmb);
        }
        None if c.listed(Kind::VirtualMachineBackup, "the VM backup") || view.is_empty() => {
            c.block(
                format!(
                    "can't get vmbackup {}/{}: it does not exist",
                    request.backup_namespace, request.backup
                ),
                "name an existing VirtualMachineBackup (`kubectl get vmbackups -A`)",
            );
        }
        None => c.block(
            format!(
                "VirtualMachineBackup {}/{} is not in the input",
                request.backup_namespace, request.backup
            ),
            "include the VirtualMachineBackups (`kubectl get vmbackups -A -o yaml`)",
        ),
    }
    sort_findings(&mut c.out.findings);
    c.out
}

/// The names the restore takes: the VMRestore, the target namespace and VM
/// name.
fn names(c: &mut Checker) {
    let view = c.view;
    let r = c.request;
    if !is_dns1123_label(&r.namespace) {
        c.block(
            format!(
                "Target namespace is invalid: {:?} must be a DNS-1123 label of at most 63 characters",
                r.namespace
            ),
            "choose a namespace of lower-case letters, digits and '-' (--to-namespace)",
        );
    }
    if !is_dns1123_subdomain(&r.name) {
        c.block(
            format!(
                "Restore name is invalid: {:?} must be a DNS-1123 name (lower-case letters, digits, '-' and '.')",
                r.name
            ),
            "choose another name with --name",
        );
    }
    if !is_dns1123_subdomain(&r.vm) || (r.new_vm && r.vm.len() > naming::MAX_LABEL_LEN) {
        c.block(
            format!(
                "Target VM name is invalid: {:?} must be a DNS-1123 name of at most 63 characters",
                r.vm
            ),
            "choose a name of lower-case letters, digits and '-'",
        );
    }
    if c.listed(Kind::VirtualMachineRestore, "name of the restore")
        && view.vmrestores().contains(&r.namespace, &r.name)
    {
        c.block(
            format!(
                "VirtualMachineRestore {}/{} already exists",
                r.namespace, r.name
            ),
            "choose another name with --name",
        );
    }
    if c.listed(Kind::Namespace, "target namespace") && view.namespace(&r.namespace).is_none() {
        c.add(
            Code::RestoreBlocked,
            Severity::Error,
            ObjectRef::cluster(Kind::Namespace, &r.namespace),
            format!("namespace {} does not exist", r.namespace),
            "the VirtualMachineRestore cannot be created",
            format!("create it first: kubectl create namespace {}", r.namespace),
        );
    }
}

/// The VM backup itself: exists, ready, not failed, restorable this way.
fn backup(c: &mut Checker, vmb: &VirtualMachineBackup) {
    let view = c.view;
    let r = c.request;
    let b = ObjectRef::namespaced(Kind::VirtualMachineBackup, &r.backup_namespace, &r.backup);
    if vmb.metadata.deletion_timestamp.is_some() {
        c.block(
            format!("vmbackup {}/{} is deleted", r.backup_namespace, r.backup),
            "restore from another backup",
        );
    }
    let status = vmb.status.as_ref();
    if let Some(message) = status
        .and_then(|s| s.error.as_ref())
        .and_then(|e| e.message.as_deref())
    {
        c.add(
            Code::VmbackupFailed,
            Severity::Error,
            b.clone(),
            format!("the backup failed: {message}"),
            "a failed backup holds no complete data: nothing can be restored from it",
            "restore from another backup".into(),
        );
    } else if !vmb.is_ready() {
        let unhealthy = vmb
            .condition(wellknown::CONDITION_READY)
            .filter(|c| c.message.as_deref() == Some(UNHEALTHY_MESSAGE))
            .map(|c| format!(": {}", c.reason.as_deref().unwrap_or("its data is missing")))
            .unwrap_or_default();
        c.add(
            Code::VmbackupNotReady,
            Severity::Error,
            b.clone(),
            format!("VMBackup {}/{} is not ready{unhealthy}", r.backup_namespace, r.backup),
            "Harvester refuses a restore from a backup that is not ready",
            "wait for the backup to finish (or its data to come back), or restore from another backup".into(),
        );
    }
    if vmb.spec.source.kind != wellknown::KIND_VIRTUAL_MACHINE {
        c.block(
            format!("unsupported backup source kind {:?}", vmb.spec.source.kind),
            "only backups of VirtualMachines can be restored",
        );
    }
    if vmb.backup_type() == BackupType::Snapshot {
        if r.is_cross_namespace() {
            c.block(
                "restore to other namespace with backup type snapshot is not supported".into(),
                format!("restore into namespace {}", r.backup_namespace),
            );
        }
        if !r.new_vm && r.delete_old_volumes {
            c.block(
                "delete policy with backup type snapshot for replacing VM is not supported".into(),
                "keep the old volumes (leave out --delete-old-volumes)",
            );
        }
    }
    let classes = status
        .and_then(|s| s.csi_driver_volume_snapshot_class_names.clone())
        .unwrap_or_default();
    for (driver, class) in classes {
        if c.listed(Kind::VolumeSnapshotClass, "snapshot classes")
            && view.snapshot_class(&class).is_none()
        {
            c.add(
                Code::MissingSnapshotClass,
                Severity::Error,
                ObjectRef::cluster(Kind::VolumeSnapshotClass, &class),
                format!("can't get volumeSnapshotClass {class} for driver {driver}"),
                "Harvester refuses the restore",
                format!("create VolumeSnapshotClass {class} for driver {driver}"),
            );
        }
    }
}

/// The backup target: configured, the one the backup was taken to, and
/// available.
fn target(c: &mut Checker, vmb: &VirtualMachineBackup, facts: &TargetFacts) {
    let view = c.view;
    if vmb.backup_type() != BackupType::Backup {
        return;
    }
    let setting_ref = ObjectRef::cluster(Kind::Setting, wellknown::SETTING_BACKUP_TARGET);
    if c.listed(Kind::Setting, "backup target setting") {
        match view
            .setting(wellknown::SETTING_BACKUP_TARGET)
            .map(|s| s.backup_target())
        {
            None | Some(Ok(_)) if configured_url(c.view).is_none() => c.add(
                Code::TargetNotConfigured,
                Severity::Error,
                setting_ref.clone(),
                "backup target is not set".into(),
                "a backup cannot be restored without its backup target",
                "configure the backup-target setting with the target the backup was taken to"
                    .into(),
            ),
            Some(Err(e)) => c.add(
                Code::TargetNotConfigured,
                Severity::Error,
                setting_ref.clone(),
                format!("the backup-target setting does not decode: {e}"),
                "a backup cannot be restored without its backup target",
                "set a valid backup target".into(),
            ),
            Some(Ok(setting)) => {
                let current = setting.target_ref();
                if let Some(theirs) = vmb.status.as_ref().and_then(|s| s.backup_target.as_ref())
                    && !theirs.same_target(&current)
                {
                    c.block(
                        format!(
                            "backup target {} is not matched in vmBackup {}/{} (taken to {})",
                            setting.url(),
                            c.request.backup_namespace,
                            c.request.backup,
                            theirs.endpoint.as_deref().unwrap_or("?")
                        ),
                        "switch the backup-target setting back to the backup's target, or restore from a backup on the current one",
                    );
                }
            }
            None => {}
        }
    }
    for (name, bt) in view.backup_targets() {
        if bt.status.as_ref().and_then(|s| s.available) == Some(false) {
            let url = bt.spec.backup_target_url.clone().unwrap_or_default();
            c.add(
                Code::TargetUnavailable,
                Severity::Error,
                ObjectRef::new(
                    Kind::LonghornBackupTarget,
                    bt.metadata.namespace.as_deref(),
                    name,
                ),
                format!("Longhorn reports backup target {name} ({url}) unavailable"),
                "Longhorn cannot read the backup's data: the restored volumes would not fill",
                "fix the target URL or its credentials until Longhorn shows status.available: true"
                    .into(),
            );
        }
    }
    if let TargetState::Unavailable { reason } = &facts.state
        && configured_url(c.view).is_some_and(|u| same_target(&facts.url, &u))
    {
        c.add(
            Code::TargetUnavailable,
            Severity::Error,
            setting_ref,
            format!("backup target {} cannot be read: {reason}", facts.url),
            "the backup's data cannot be read from it",
            "restore access to the backup target (network, credentials, bucket)".into(),
        );
    }
}

/// One volume: where its data comes from and what the restored PVC needs.
fn volume(c: &mut Checker, vmb: &VirtualMachineBackup, vb: &VolumeBackup, facts: &TargetFacts) {
    let view = c.view;
    let r = c.request;
    let vb_name = vb.name.clone().unwrap_or_default();
    let is_backup = vmb.backup_type() == BackupType::Backup;
    if is_backup && vb.longhorn_backup_name.as_deref().is_none_or(str::is_empty) {
        c.block(
            format!(
                "vmbackup {}/{} vb {vb_name} not from LH, it can't be recovered",
                r.backup_namespace, r.backup
            ),
            "restore from another backup",
        );
    }
    if let Some(sc) = vb
        .persistent_volume_claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        && c.listed(Kind::StorageClass, "storage classes")
        && view.storage_class(sc).is_none()
    {
        let image = vb
            .persistent_volume_claim
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(wellknown::ANNOTATION_IMAGE_ID))
            .map(|i| format!(" (the storage class of VM image {i})"))
            .unwrap_or_default();
        c.add(
            Code::MissingStorageClass,
            Severity::Error,
            ObjectRef::cluster(Kind::StorageClass, sc),
            format!(
                "volume {} needs StorageClass {sc}{image}, which does not exist",
                vb.volume_name
            ),
            "the restored PVC stays Pending and the VM never starts",
            format!("create StorageClass {sc} (for an image: restore or import the image first)"),
        );
    }
    if r.is_cross_namespace() {
        cross_namespace_source(c, vb, &vb_name);
    } else {
        same_namespace_source(c, vb, &vb_name);
    }
    if is_backup
        && let (Some(lhb), Some(volume)) = (vb.longhorn_backup_name.as_deref(), vb.pv_name())
        && let TargetState::Listed(listing) = &facts.state
        && listing.complete
        && configured_url(c.view).is_some_and(|u| same_target(&facts.url, &u))
        && !listing.has_complete_backup(volume, lhb)
    {
        c.add(
            Code::BackupNotOnTarget,
            Severity::Error,
            ObjectRef::new(
                Kind::LonghornBackup,
                Some(wellknown::LONGHORN_NAMESPACE),
                lhb,
            ),
            format!("the backup target holds no complete backup {lhb} of volume {volume}"),
            "the restored volume cannot be filled",
            "bring the backup's data back to the target, or restore from another backup".into(),
        );
    }
}

/// Same namespace: the backup's own VolumeSnapshot, whose content must
/// resolve.
fn same_namespace_source(c: &mut Checker, vb: &VolumeBackup, vb_name: &str) {
    let view = c.view;
    let r = c.request;
    if !c.listed(Kind::VolumeSnapshot, "the backup's VolumeSnapshots") {
        return;
    }
    let Some(vs) = view.snapshot(&r.backup_namespace, vb_name) else {
        c.add(
            Code::MissingSnapshotObject,
            Severity::Error,
            ObjectRef::namespaced(Kind::VolumeSnapshot, &r.backup_namespace, vb_name),
            format!("VolumeSnapshot {}/{vb_name} of volume {} does not exist", r.backup_namespace, vb.volume_name),
            "the restored PVC has no data source",
            "rediscover the backup from the backup target (or wait for the controller to recreate it)".into(),
        );
        return;
    };
    let Some(content) = view.content_of_snapshot(vs) else {
        if c.listed(Kind::VolumeSnapshotContent, "VolumeSnapshotContents") {
            c.add(
                Code::MissingSnapshotObject,
                Severity::Error,
                ObjectRef::namespaced(Kind::VolumeSnapshot, &r.backup_namespace, vb_name),
                format!(
                    "VolumeSnapshot {}/{vb_name} has no VolumeSnapshotContent",
                    r.backup_namespace
                ),
                "the restored PVC has no data source",
                "rediscover the backup from the backup target".into(),
            );
        }
        return;
    };
    let content_name = content.metadata.name.clone().unwrap_or_default();
    let object = ObjectRef::cluster(Kind::VolumeSnapshotContent, &content_name);
    let repair = format!(
        "run `vmbackup repair -n {} {}` first",
        r.backup_namespace, r.backup
    );
    match resolve::judge(c.view, content, vb.longhorn_backup_name.as_deref()) {
        Verdict::Broken(broken) => {
            let (code, severity) = match &broken.problem {
                Problem::Malformed(_) => (Code::MalformedHandle, Severity::Error),
                Problem::WrongVolume { legacy: true, .. } => (Code::LegacyHandle, Severity::Error),
                Problem::WrongVolume { .. } | Problem::NoBackupVolume { .. } => (Code::UnresolvableHandle, Severity::Error),
                Problem::AmbiguousBackupVolume { .. } => (Code::AmbiguousBackupVolume, Severity::Warning),
                Problem::MissingBackup => (Code::MissingLonghornBackup, Severity::Error),
            };
            let fix = match (&broken.correct, broken.repairable()) {
                (Some(correct), true) => format!("{repair}: it replaces the content by one with handle {correct} (Harvester ≥ v1.5 and vmbackup's controller also do this before a same-namespace restore)"),
                _ => "make the Longhorn Backup and its BackupVolume available (BackupTarget sync), then check again".into(),
            };
            c.add(
                code,
                severity,
                object,
                format!("the restore reads VolumeSnapshot {}/{vb_name}, whose content has handle {} that Longhorn ≥ 1.8 cannot resolve", r.backup_namespace, broken.handle),
                "the restored PVC stays Pending with CreateVolume NotFound",
                fix,
            );
        }
        Verdict::Undetermined { handle, needs, .. } => c.add(
            Code::LegacyHandle,
            Severity::Warning,
            object,
            format!("the restore reads content {content_name} with handle {handle}, which cannot be judged from the input: needs {needs}"),
            "if its volume part is a PVC name, the restored PVC stays Pending with CreateVolume NotFound",
            "include the Longhorn Backups (`kubectl get backups.longhorn.io -n longhorn-system -o yaml`) and check again".into(),
        ),
        Verdict::Snapshot if view.vmbackups().get(&r.backup_namespace, &r.backup).is_some_and(|b| b.backup_type() == BackupType::Backup) => c.add(
            Code::UnresolvableHandle,
            Severity::Warning,
            object,
            format!("the content of VolumeSnapshot {}/{vb_name} is an in-cluster snapshot (snap://), not a backup", r.backup_namespace),
            "it restores only while the source volume exists in this cluster",
            "rediscover the backup from the backup target".into(),
        ),
        _ => {}
    }
}

/// Another namespace: a content `bak://<Backup.status.volumeName>/<backup>`
/// is made for the restore, so the Backup CR and its BackupVolume must
/// exist, and the names the restore uses must not be taken by an earlier
/// pair with another handle.
fn cross_namespace_source(c: &mut Checker, vb: &VolumeBackup, vb_name: &str) {
    let view = c.view;
    let r = c.request;
    let Some(lhb) = vb.longhorn_backup_name.clone().filter(|b| !b.is_empty()) else {
        return;
    };
    let lhb_ref = ObjectRef::new(
        Kind::LonghornBackup,
        Some(wellknown::LONGHORN_NAMESPACE),
        &lhb,
    );
    let mut correct = None;
    if c.listed(Kind::LonghornBackup, "Longhorn Backups") {
        match view.longhorn_backup(&lhb) {
            None => c.add(
                Code::MissingLonghornBackup,
                Severity::Error,
                lhb_ref.clone(),
                format!("Longhorn Backup {lhb} of volume {} is not in the cluster", vb.volume_name),
                "the content made for the restore cannot get a handle: the restore fails",
                "make the backup target available and request a BackupTarget sync so Longhorn lists the backup".into(),
            ),
            Some(b) => match b.volume_name().filter(|v| !v.is_empty()) {
                None => c.add(
                    Code::MissingLonghornBackup,
                    Severity::Error,
                    lhb_ref.clone(),
                    format!("Longhorn Backup {lhb} has no status.volumeName"),
                    "the content made for the restore cannot get a handle: the restore fails",
                    "wait for Longhorn to sync the backup from the target".into(),
                ),
                Some(volume) => {
                    if !b.is_completed() {
                        c.add(
                            Code::MissingLonghornBackup,
                            Severity::Error,
                            lhb_ref.clone(),
                            format!("Longhorn Backup {lhb} is not completed (state {:?})", b.state()),
                            "there is no complete data to restore",
                            "wait for the backup to complete, or restore from another backup".into(),
                        );
                    }
                    if c.listed(Kind::LonghornBackupVolume, "Longhorn BackupVolumes")
                        && view.backup_volumes_of(volume).next().is_none()
                    {
                        c.add(
                            Code::UnresolvableHandle,
                            Severity::Error,
                            lhb_ref.clone(),
                            format!("Longhorn has no BackupVolume for volume {volume} of backup {lhb}"),
                            "Longhorn ≥ 1.8 cannot resolve the restore's handle: the PVC stays Pending with CreateVolume NotFound",
                            "make sure the backup target is available and request a BackupTarget sync".into(),
                        );
                    }
                    correct = Some(naming::backup_handle(volume, &lhb));
                }
            },
        }
    }
    let content_name = naming::restore_content_name(&r.namespace, &r.name, vb_name);
    if c.listed(Kind::VolumeSnapshotContent, "VolumeSnapshotContents")
        && let Some(existing) = view.content(&content_name)
    {
        let handle = existing.snapshot_handle().unwrap_or_default().to_owned();
        let fine = match &correct {
            Some(correct) => SnapshotHandle::parse(&handle).is_ok() && &handle == correct,
            None => false,
        };
        if !fine {
            c.add(
                Code::RestoreBlocked,
                Severity::Error,
                ObjectRef::cluster(Kind::VolumeSnapshotContent, &content_name),
                format!("VolumeSnapshotContent {content_name}, the name this restore uses for volume {}, already exists with handle {handle:?}", vb.volume_name),
                "Harvester reuses the content by name: the restored PVC would be read from that handle and stay Pending",
                format!("choose another --name, or set {content_name} to Retain and delete it and its VolumeSnapshot first"),
            );
        }
    }
}

/// The VM restored into: free for a new VM, existing and stopped for a
/// replace, not the subject of another restore.
fn target_vm(c: &mut Checker, vmb: &VirtualMachineBackup) {
    let view = c.view;
    let r = c.request;
    let vm_ref = ObjectRef::namespaced(Kind::VirtualMachine, &r.namespace, &r.vm);
    if !c.listed(Kind::VirtualMachine, "target VM") {
        return;
    }
    let existing = view.vm(&r.namespace, &r.vm);
    if r.new_vm {
        if existing.is_some() {
            c.block(
                format!("VM {} is already exists in namespace {}", r.vm, r.namespace),
                "choose another VM name, or replace it instead",
            );
        }
        if r.keep_mac_address {
            let source_uid = vmb.status.as_ref().and_then(|s| s.source_uid.as_deref());
            let source = view.vm(&r.backup_namespace, &vmb.spec.source.name);
            if let (Some(uid), Some(vm)) = (source_uid, source)
                && vm.metadata.uid.as_deref() == Some(uid)
            {
                c.block(
                    format!("can't restore the new vm with the same MAC addresses because the source vm {}/{} is still existent", r.backup_namespace, vmb.spec.source.name),
                    "leave out --keep-mac-address, or delete the source VM first",
                );
            }
            if c.listed(Kind::VirtualMachineRestore, "other restores") {
                let other = view.vmrestores().iter().find(|(_, o)| {
                    o.spec.virtual_machine_backup_name == r.backup
                        && o.spec.virtual_machine_backup_namespace == r.backup_namespace
                        && o.spec.new_vm == Some(true)
                        && o.spec.keep_mac_address == Some(true)
                });
                if let Some(((ns, name), _)) = other {
                    c.block(
                        format!("can't restore the new vm with the same macaddress as the vmrestore {ns}/{name}"),
                        "leave out --keep-mac-address",
                    );
                }
            }
        }
        return;
    }
    let Some(vm) = existing else {
        c.block(
            format!("can't replace nonexistent vm {}/{}", r.namespace, r.vm),
            "restore as a new VM (--new-vm NAME)",
        );
        return;
    };
    if vm.status.as_ref().and_then(|s| s.ready) == Some(true) {
        c.add(
            Code::RestoreBlocked,
            Severity::Error,
            vm_ref,
            format!("Please stop the VM {:?} before doing a restore", r.vm),
            "Harvester refuses to replace a running VM",
            format!("stop it: virtctl stop {} -n {}", r.vm, r.namespace),
        );
    }
    if c.listed(Kind::VirtualMachineRestore, "other restores") {
        let busy = view.vmrestores().iter().find(|(_, o)| {
            o.spec.target.name == r.vm
                && o.metadata.namespace.as_deref().unwrap_or("default") == r.namespace
                && o.metadata.deletion_timestamp.is_none()
                && !o.is_complete()
                && !o.is_failed()
        });
        if let Some(((ns, name), _)) = busy {
            c.block(
                format!("Please wait for the previous VM restore {ns}/{name} on the {}/{} to be complete first.", r.namespace, r.vm),
                "wait for it to complete (or delete it if it is stuck)",
            );
        }
    }
    if r.delete_old_volumes {
        let source = view.vm(&r.backup_namespace, &vmb.spec.source.name);
        match source {
            None => c.add(
                Code::RestoreBlocked,
                Severity::Error,
                ObjectRef::namespaced(Kind::VirtualMachine, &r.backup_namespace, &vmb.spec.source.name),
                format!("the backed-up VM {}/{} does not exist, and Harvester looks for the volumes to delete there", r.backup_namespace, vmb.spec.source.name),
                "with deletionPolicy delete the restore never gets past its first step",
                "keep the old volumes (leave out --delete-old-volumes)".into(),
            ),
            Some(src) => {
                let claims: Vec<&str> = src.volumes().iter().filter_map(|v| v.claim_name()).collect();
                let snapshot_user = view.vmbackups().iter().find(|((ns, _), b)| {
                    *ns == r.backup_namespace
                        && b.backup_type() == BackupType::Snapshot
                        && b.volume_backups().iter().any(|vb| vb.pvc_name().is_some_and(|p| claims.contains(&p)))
                });
                if let Some(((ns, name), _)) = snapshot_user {
                    c.block(
                        format!("can't use delete policy, the volumes of VM {}/{} are used by the VM Snapshot {ns}/{name}", r.backup_namespace, vmb.spec.source.name),
                        "keep the old volumes (leave out --delete-old-volumes)",
                    );
                }
            }
        }
    }
}

/// Secrets a new VM gets under new names: an existing Secret of that name is
/// overwritten.
fn secrets(c: &mut Checker, vmb: &VirtualMachineBackup) {
    let view = c.view;
    let r = c.request;
    if !r.new_vm {
        return;
    }
    let backups = vmb
        .status
        .as_ref()
        .and_then(|s| s.secret_backups.clone())
        .unwrap_or_default();
    if backups.is_empty() || !c.listed(Kind::Secret, "secrets of the new VM") {
        return;
    }
    for secret in backups {
        let name = naming::new_vm_secret_name(&r.vm, &secret.name);
        if view.secret(&r.namespace, &name).is_some() {
            c.add(
                Code::RestoreBlocked,
                Severity::Warning,
                ObjectRef::namespaced(Kind::Secret, &r.namespace, &name),
                format!(
                    "Secret {}/{name} (the new VM's copy of {}) already exists",
                    r.namespace, secret.name
                ),
                "its data is overwritten with the backed-up secret's",
                "choose another VM name if that Secret belongs to something else".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use vmbackup_engine::Object;

    fn obj(v: Value) -> Object {
        Object::from_value(v).unwrap()
    }

    fn backup(ready: bool) -> Object {
        obj(
            json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
            "metadata": {"name": "b1", "namespace": "default"},
            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1"}, "type": "backup"},
            "status": {"readyToUse": ready, "volumeBackups": [{"name": "b1-volume-pvc1", "volumeName": "disk-0",
                "csiDriverName": "driver.longhorn.io", "longhornBackupName": "backup-1",
                "persistentVolumeClaim": {"metadata": {"name": "pvc1", "namespace": "default"},
                    "spec": {"storageClassName": "gold", "volumeName": "pvc-1"}}}]}}),
        )
    }

    fn request(vm: &str, namespace: &str) -> Request {
        Request {
            backup_namespace: "default".into(),
            backup: "b1".into(),
            namespace: namespace.into(),
            name: "r1".into(),
            vm: vm.into(),
            new_vm: true,
            keep_mac_address: false,
            delete_old_volumes: false,
        }
    }

    fn codes(p: &Preflight) -> Vec<&'static str> {
        p.findings.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn names_must_be_dns_subdomains() {
        assert!(is_dns1123_subdomain("vm-1.a"));
        assert!(!is_dns1123_subdomain("VM"));
        assert!(!is_dns1123_subdomain("-a"));
        assert!(!is_dns1123_subdomain(""));
        assert!(is_dns1123_label("staging-1"));
        assert!(!is_dns1123_label("a.b"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        let view = View::from_objects([backup(true)]);
        // The namespace and the restore's own name are checked as well.
        for (namespace, name, says) in [
            ("UPPER", "r1", "Target namespace is invalid"),
            ("../x", "r1", "Target namespace is invalid"),
            (&*"n".repeat(100), "r1", "Target namespace is invalid"),
            ("default", "BAD/name", "Restore name is invalid"),
        ] {
            let mut r = request("vm2", namespace);
            r.name = name.into();
            let p = check(&view, &TargetFacts::not_read(""), &r);
            assert!(p.blocks(), "{namespace} {name}");
            assert!(
                p.findings.iter().any(|f| f.message.contains(says)),
                "{namespace} {name}: {p:?}"
            );
        }
        let p = check(
            &view,
            &TargetFacts::not_read(""),
            &request("Bad_Name", "default"),
        );
        assert!(p.blocks());
        assert!(
            p.findings[0].message.contains("Target VM name is invalid"),
            "{p:?}"
        );
    }

    #[test]
    fn problems_are_all_reported_and_unknowns_listed() {
        let view = View::from_objects([
            backup(false),
            obj(
                json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "silver"}, "provisioner": "x"}),
            ),
        ]);
        let p = check(&view, &TargetFacts::not_read(""), &request("vm2", "other"));
        assert_eq!(
            codes(&p),
            ["vmbackup-not-ready", "missing-storage-class"],
            "{p:#?}"
        );
        assert!(
            p.unchecked.iter().any(|u| u.contains("Longhorn Backups")),
            "{:?}",
            p.unchecked
        );
        assert!(
            p.unchecked.iter().any(|u| u.contains("target VM")),
            "{:?}",
            p.unchecked
        );
    }

    #[test]
    fn a_missing_backup_is_named() {
        let view = View::from_objects([backup(true)]);
        let mut r = request("vm2", "default");
        r.backup = "nope".into();
        let p = check(&view, &TargetFacts::not_read(""), &r);
        assert_eq!(codes(&p), ["restore-blocked"]);
        assert!(p.findings[0].message.contains("default/nope"));
    }
}
