//! The VMRestore reconciler: a VMRestore becomes PVCs restored from
//! VolumeSnapshots, and a new VM or the VM the backup was taken from,
//! rewritten to use them.
//!
//! Each plan recomputes the restore from the View, Harvester's way but with
//! its hazards removed:
//!
//! 1. Until the restore has started (no restored PVC exists and no VM
//!    carries its id), the checks of Harvester's admission webhook run
//!    ([`preflight`]); a refusal fails the restore with the webhook's
//!    message, a transient obstacle holds it, and nothing is changed.
//! 2. Status: the finalizer, `restores` (one per volume backup, paired by
//!    volume name, not by index), and for a replace with the `delete`
//!    policy the replaced VM's PVCs in `deletedVolumes` (taken from the VM
//!    being replaced, before it is rewritten).
//! 3. A replaced VM is stopped first (run strategy `Halted`).
//! 4. Data sources ([`source`]); once every one is ready, the PVCs
//!    `restore-<backup>-<restore uid>-<volume>` ([`pvc`]). A PVC that is not
//!    bound yet and whose source turns out broken is made again.
//! 5. The VM ([`vm`]): created (new VM) or rewritten (replace), `Halted`;
//!    once it exists, its Secrets; once the PVCs are bound and the Secrets
//!    are in place, it is started through its run strategy (unless
//!    `haltAfterRestore`).
//! 6. When the VM is ready (or, halted, when Longhorn finished restoring
//!    the data): the replaced PVCs are deleted under the `delete` policy,
//!    the restore's own VolumeSnapshots/Contents are removed (they are
//!    `Retain`: no backup data is touched), and the restore is complete.
//!
//! A deleted VMRestore's finalizer removes its VolumeSnapshots/Contents.

mod preflight;
mod pvc;
mod source;
pub mod vm;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vmbackup_api::core::{PersistentVolumeClaim, Secret};
use vmbackup_api::harvester::{PersistentVolumeClaimSourceSpec, VirtualMachineRestoreStatus};
use vmbackup_api::kubevirt::VirtualMachine;
use vmbackup_api::meta::EmbeddedObjectMeta;
use vmbackup_api::wellknown;
use vmbackup_api::{
    BackupType, VirtualMachineBackup, VirtualMachineRestore, VolumeBackup, VolumeRestore,
};

use crate::build;
use crate::conditions;
use crate::context::{
    Ctx, Out, PROGRESS_REQUEUE, VMRESTORE_FINALIZER, create, deleting, name_of, ns_of,
    patch_action, pinned, same_object,
};
use crate::finding::{Code, Finding, Severity};
use crate::naming;
use crate::object::{Kind, ObjectRef};
use crate::plan::{Action, Reconciler};
use crate::reconcile::backup::quantity_bytes;
use source::State;

const R: Reconciler = Reconciler::Restore;

/// Status messages Harvester writes.
const MSG_CREATING_PVCS: &str = "Creating new PVCs";
const MSG_WAITING_VM: &str = "Waiting for target vm to be ready";
const MSG_COMPLETE: &str = "Operation complete";
/// Progress is held below this until the VM is ready.
const PROGRESS_BEFORE_VM: i64 = 90;

/// Kinds a restore cannot be planned without.
const NEEDED: [Kind; 6] = [
    Kind::VirtualMachineBackup,
    Kind::VirtualMachine,
    Kind::PersistentVolumeClaim,
    Kind::VolumeSnapshot,
    Kind::VolumeSnapshotContent,
    Kind::Secret,
];

/// Plans every VMRestore.
/// A VMBackup changed earlier in the same plan is seen as the plan leaves
/// it (see [`Out::planned_vmbackups`]).
pub fn reconcile(ctx: &Ctx, out: &mut Out) {
    let planned = std::mem::take(&mut out.planned_vmbackups);
    for vmr in ctx.view.vmrestores().values() {
        if deleting(&vmr.metadata) {
            finalize(ctx, vmr, out);
        } else if !vmr.is_complete() {
            Restore::new(ctx, &planned, vmr).plan(out);
        }
    }
    out.planned_vmbackups = planned;
}

/// How a plan leaves a restore.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// Going on (or held); `message` goes into the conditions.
    Running {
        /// Status message.
        message: String,
        /// A finding, when a human should look.
        finding: Option<Box<Finding>>,
        /// When to look again.
        requeue: Duration,
    },
    /// Refused or failed; the restore changes nothing more until the cause
    /// is gone.
    Failed {
        /// Status message.
        message: String,
        /// The finding.
        finding: Box<Finding>,
    },
    /// Done.
    Complete,
}

fn running(message: impl Into<String>) -> Outcome {
    Outcome::Running {
        message: message.into(),
        finding: None,
        requeue: PROGRESS_REQUEUE,
    }
}

/// One VMRestore and what it refers to.
pub(crate) struct Restore<'a> {
    ctx: &'a Ctx<'a>,
    vmr: &'a VirtualMachineRestore,
    namespace: &'a str,
    name: &'a str,
    r: ObjectRef,
    backup_namespace: &'a str,
    backup_name: &'a str,
    vmb: Option<&'a VirtualMachineBackup>,
    target: &'a str,
    vm: Option<&'a VirtualMachine>,
    new_vm: bool,
    cross_namespace: bool,
    delete_old_volumes: bool,
}

/// One volume being restored.
#[derive(Debug)]
struct Vol<'a> {
    /// KubeVirt volume name.
    volume_name: String,
    /// Name of the volume backup restored from.
    vb_name: String,
    /// The volume backup, when the VMBackup is known.
    vb: Option<&'a VolumeBackup>,
    /// The backed-up PVC.
    claim: PersistentVolumeClaimSourceSpec,
    /// Name of the restored PVC.
    pvc_name: String,
    /// The restored PVC, if it exists.
    pvc: Option<&'a PersistentVolumeClaim>,
    /// Its entry in `status.restores`, if any.
    stored: Option<&'a VolumeRestore>,
}

impl<'a> Restore<'a> {
    fn new(
        ctx: &'a Ctx<'a>,
        planned: &'a BTreeMap<crate::view::Key, VirtualMachineBackup>,
        vmr: &'a VirtualMachineRestore,
    ) -> Self {
        let namespace = ns_of(&vmr.metadata);
        let name = name_of(&vmr.metadata);
        let spec = &vmr.spec;
        let backup_namespace = if spec.virtual_machine_backup_namespace.is_empty() {
            namespace
        } else {
            spec.virtual_machine_backup_namespace.as_str()
        };
        let backup_name = spec.virtual_machine_backup_name.as_str();
        let target = spec.target.name.as_str();
        let new_vm = spec.new_vm == Some(true);
        Restore {
            ctx,
            vmr,
            namespace,
            name,
            r: ObjectRef::namespaced(Kind::VirtualMachineRestore, namespace, name),
            backup_namespace,
            backup_name,
            vmb: planned
                .get(&(backup_namespace.to_owned(), backup_name.to_owned()))
                .or_else(|| ctx.view.vmbackup(backup_namespace, backup_name)),
            target,
            vm: ctx.view.vm(namespace, target),
            new_vm,
            cross_namespace: backup_namespace != namespace,
            delete_old_volumes: !new_vm
                && !spec
                    .deletion_policy
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case("retain")),
        }
    }

    /// A refusal.
    fn fail(&self, message: String, impact: &str, fix: &str) -> Outcome {
        Outcome::Failed {
            finding: Box::new(
                Finding::new(Code::RestoreFailed, Severity::Error, self.r.clone())
                    .message(format!("restore refused: {message}"))
                    .impact(impact.to_owned())
                    .fix(fix),
            ),
            message,
        }
    }

    /// A hold a human should know about.
    fn wait_finding(
        &self,
        message: String,
        severity: Severity,
        impact: &str,
        fix: &str,
    ) -> Outcome {
        Outcome::Running {
            finding: Some(Box::new(
                Finding::new(Code::RestoreBlocked, severity, self.r.clone())
                    .message(format!("restore waits: {message}"))
                    .impact(impact.to_owned())
                    .fix(fix),
            )),
            message,
            requeue: PROGRESS_REQUEUE,
        }
    }

    fn plan(self, out: &mut Out) {
        let view = self.ctx.view;
        let missing: Vec<&str> = NEEDED
            .iter()
            .filter(|k| !view.is_listed(**k))
            .map(|k| k.kind())
            .collect();
        let uid = self.vmr.metadata.uid.as_deref().filter(|u| !u.is_empty());
        if !missing.is_empty() || uid.is_none() {
            let need = if missing.is_empty() {
                "the VirtualMachineRestore's uid (restored PVCs are named after it)".to_owned()
            } else {
                format!("complete listings of {}", missing.join(", "))
            };
            out.finding(
                Finding::new(Code::RestoreBlocked, Severity::Info, self.r.clone())
                    .message(format!(
                        "the restore cannot be planned from what was read: needs {need}"
                    ))
                    .impact("nothing is planned for this restore")
                    .fix("read the whole cluster (the controller does)"),
            );
            return;
        }
        let uid = uid.unwrap_or_default();
        let mut want = self.vmr.clone();
        let finalizers = want.metadata.finalizers.get_or_insert_with(Vec::new);
        if !finalizers.iter().any(|f| f == VMRESTORE_FINALIZER) {
            finalizers.push(VMRESTORE_FINALIZER.to_owned());
        }
        let status = want
            .status
            .get_or_insert_with(VirtualMachineRestoreStatus::default);
        status.complete.get_or_insert(false);
        let mut acts = Vec::new();
        let mut notes = Vec::new();
        let outcome = self.drive(uid, &mut want, &mut acts, &mut notes);
        for f in notes {
            out.finding(f);
        }
        self.record(&mut want, &outcome, out);
        let patch = patch_action(self.r.clone(), &self.vmr.metadata, self.vmr, &want);
        let reason = match &outcome {
            Outcome::Complete => "the restore is complete".to_owned(),
            Outcome::Failed { message, .. } => format!("record why the restore stops: {message}"),
            Outcome::Running { message, .. } => format!("restore progress: {message}"),
        };
        let completing = outcome == Outcome::Complete;
        if let Some(action) = patch.as_ref().filter(|_| !completing) {
            out.step(R, action.clone(), reason.clone());
        }
        for (action, why) in acts {
            out.step(R, action, why);
        }
        if let Some(action) = patch.filter(|_| completing) {
            out.step(R, action, reason);
        }
    }

    /// The volumes of the restore: from the VMBackup's volume backups (in
    /// their order), or from the status once the backup is gone.
    fn volumes(&self, uid: &str) -> Vec<Vol<'a>> {
        let view = self.ctx.view;
        let stored: &[VolumeRestore] = self
            .vmr
            .status
            .as_ref()
            .and_then(|s| s.restores.as_deref())
            .unwrap_or_default();
        let find = |volume: &str| {
            stored
                .iter()
                .find(|e| e.volume_name.as_deref() == Some(volume))
        };
        let Some(vmb) = self.vmb else {
            return stored
                .iter()
                .filter_map(|e| {
                    let claim = e.persistent_volume_claim_spec.clone()?;
                    let pvc_name = claim.metadata.as_ref()?.name.clone()?;
                    Some(Vol {
                        volume_name: e.volume_name.clone().unwrap_or_default(),
                        vb_name: e.volume_backup_name.clone().unwrap_or_default(),
                        vb: None,
                        pvc: view.pvc(self.namespace, &pvc_name),
                        pvc_name,
                        claim,
                        stored: Some(e),
                    })
                })
                .collect();
        };
        vmb.volume_backups()
            .iter()
            .map(|vb| {
                let pvc_name = naming::restored_pvc_name(self.backup_name, uid, &vb.volume_name);
                let pvc = view.pvc(self.namespace, &pvc_name);
                let stored = find(&vb.volume_name);
                let current = vb.name.clone().unwrap_or_default();
                // The source of a PVC that holds data (bound), or of a PVC
                // made from this restore's own snapshot, stays what it was.
                let keep = match pvc {
                    Some(p) => self.cross_namespace || !pvc::is_unbound(p),
                    None => false,
                };
                let vb_name = stored
                    .filter(|_| keep)
                    .and_then(|e| e.volume_backup_name.clone())
                    .unwrap_or(current);
                Vol {
                    volume_name: vb.volume_name.clone(),
                    vb_name,
                    vb: Some(vb),
                    claim: vb.persistent_volume_claim.clone(),
                    pvc_name,
                    pvc,
                    stored,
                }
            })
            .collect()
    }

    /// Plans the restore; returns how it stands after the plan.
    fn drive(
        &self,
        uid: &str,
        want: &mut VirtualMachineRestore,
        acts: &mut Vec<(Action, String)>,
        notes: &mut Vec<Finding>,
    ) -> Outcome {
        let id = naming::restore_id(self.name, uid);
        let ours = self
            .vm
            .is_some_and(|vm| vm::last_restore_id(vm) == Some(id.as_str()));
        let vols = self.volumes(uid);
        let started = ours || vols.iter().any(|v| v.pvc.is_some());
        if !started && let Err(outcome) = preflight::check(self) {
            // Nothing is started: the status says only why.
            if let Some(status) = want.status.as_mut() {
                status.restores = None;
                status.deleted_volumes = None;
            }
            return outcome;
        }
        let vmb = self.vmb;
        let all_pvcs = vols.iter().all(|v| v.pvc.is_some());
        if vmb.is_none() && !(ours && all_pvcs) {
            return self.fail(
                format!(
                    "VMBackup {}/{} is gone before the restore could finish",
                    self.backup_namespace, self.backup_name
                ),
                "the restore cannot go on: the VM spec and volume sources come from the backup",
                "delete this restore; the objects it made so far stay",
            );
        }

        // Status: the volumes, and what a replace with the delete policy removes.
        let status = want
            .status
            .get_or_insert_with(VirtualMachineRestoreStatus::default);
        status.restores = Some(vols.iter().map(|v| self.entry(v)).collect());
        let ours_pvcs: BTreeSet<&str> = vols.iter().map(|v| v.pvc_name.as_str()).collect();
        if self.delete_old_volumes
            && !ours
            && status.deleted_volumes.is_none()
            && let Some(vm) = self.vm
        {
            status.deleted_volumes = Some(
                vm::claim_names(vm)
                    .into_iter()
                    .filter(|c| !ours_pvcs.contains(c.as_str()))
                    .collect(),
            );
        }

        // Restored PVCs that exist: failures end the restore.
        for v in &vols {
            if let Some(outcome) = self.check_pvc(v) {
                return outcome;
            }
        }

        // The VM must still be the one the restore is about.
        match (self.new_vm, self.vm, ours) {
            (true, Some(_), false) => {
                return self.fail(
                    format!(
                        "VM {} is already exists and was not made by this restore",
                        self.target
                    ),
                    "the restore stops: an existing VM is never overwritten by a new-VM restore",
                    "delete this restore and restore under another name",
                );
            }
            (false, None, _) => {
                return self.fail(
                    format!("can't replace nonexistent vm {}", self.target),
                    "the restore stops: the VM it was replacing is gone",
                    "restore with newVM: true",
                );
            }
            _ => {}
        }

        // A replaced VM is stopped first.
        let mut vm_stopping = false;
        if let (false, Some(vm), false) = (self.new_vm, self.vm, ours)
            && !vm::is_stopped(vm)
        {
            vm_stopping = true;
            if vm::run_strategy(vm) != vm::HALTED {
                let mut stopped = vm.clone();
                vm::set_run_strategy(&mut stopped.spec, vm::HALTED);
                if let Some(a) = patch_action(self.vm_ref(), &vm.metadata, vm, &stopped) {
                    acts.push((
                        a,
                        format!(
                            "stop VM {}/{} before replacing it",
                            self.namespace, self.target
                        ),
                    ));
                }
            }
        }

        // Data sources, then the PVCs.
        let mut hold: Option<Outcome> = None;
        let mut snapshots: BTreeMap<&str, String> = BTreeMap::new();
        let owner = build::owner_ref(
            wellknown::HARVESTER_API_VERSION,
            wellknown::KIND_VIRTUAL_MACHINE_RESTORE,
            &self.vmr.metadata,
            false,
        );
        let objects = source::RestoreObjects {
            namespace: self.namespace,
            restore: self.name,
            owner,
        };
        for v in &vols {
            if v.pvc.is_some_and(|p| !pvc::is_unbound(p)) {
                continue;
            }
            let Some(vb) = v.vb else {
                return self.fail(
                    format!(
                        "VMBackup {}/{} is gone and PVC {} was not made yet",
                        self.backup_namespace, self.backup_name, v.pvc_name
                    ),
                    "the restore cannot go on",
                    "delete this restore; the objects it made so far stay",
                );
            };
            let src = if self.cross_namespace {
                source::cross_namespace(self.ctx, &self.r, &objects, vb, &v.vb_name)
            } else {
                source::same_namespace(self.ctx, &self.r, self.backup_namespace, vb, &v.vb_name)
            };
            let stale_pvc = v.pvc.filter(|p| {
                matches!(src.state, State::Broken { .. })
                    || pvc::snapshot_source(p) != Some(src.snapshot.as_str())
            });
            if let Some(p) = stale_pvc {
                acts.push((
                    Action::Delete {
                        target: ObjectRef::namespaced(
                            Kind::PersistentVolumeClaim,
                            self.namespace,
                            &v.pvc_name,
                        ),
                        precondition: same_object(&p.metadata),
                    },
                    format!(
                        "PVC {} is not bound and its source cannot be used: make it again from {}",
                        v.pvc_name, src.snapshot
                    ),
                ));
            }
            acts.extend(src.actions);
            match src.state {
                State::Ready if stale_pvc.is_none() => {
                    snapshots.insert(v.volume_name.as_str(), src.snapshot);
                }
                State::Ready => {
                    hold.get_or_insert(running(format!(
                        "PVC {} is made again from {}",
                        v.pvc_name, src.snapshot
                    )));
                }
                State::Waiting { why, finding } | State::Broken { why, finding } => {
                    notes.extend(finding);
                    hold.get_or_insert(running(why));
                }
            }
        }
        let mut planned: BTreeSet<&str> = BTreeSet::new();
        if hold.is_none() {
            for v in vols.iter().filter(|v| v.pvc.is_none()) {
                let Some(snapshot) = snapshots.get(v.volume_name.as_str()) else {
                    continue;
                };
                match pvc::restored_pvc(self.namespace, &v.pvc_name, self.name, &v.claim, snapshot)
                {
                    Ok(p) => {
                        acts.push((
                            create(p),
                            format!(
                                "PVC {}/{} for volume {} from VolumeSnapshot {snapshot}",
                                self.namespace, v.pvc_name, v.volume_name
                            ),
                        ));
                        planned.insert(v.pvc_name.as_str());
                    }
                    Err(e) => {
                        return self.fail(
                            format!(
                                "the backed-up claim of volume {} is not a valid PVC spec: {e}",
                                v.volume_name
                            ),
                            "nothing more is restored",
                            "restore from another backup",
                        );
                    }
                }
            }
        }
        let present = vols
            .iter()
            .all(|v| v.pvc.is_some() || planned.contains(v.pvc_name.as_str()));

        // The VM.
        let info_claims: BTreeMap<String, String> = vols
            .iter()
            .map(|v| (v.volume_name.clone(), v.pvc_name.clone()))
            .collect();
        let secrets = vmb.map(|b| self.secret_names(b)).unwrap_or_default();
        let templates: Vec<_> = vols
            .iter()
            .map(|v| pvc::claim_template(&v.pvc_name, &v.claim))
            .collect();
        let info = vm::VmRestoreInfo {
            target: self.target,
            namespace: self.namespace,
            restore_id: &id,
            restore_name: self.name,
            claims: &info_claims,
            secrets: &secrets,
            claim_templates: &templates,
        };
        let source_spec = vmb
            .and_then(|b| b.status.as_ref())
            .and_then(|s| s.source.as_ref());
        let vm = match (self.vm.filter(|_| ours), source_spec) {
            (Some(vm), _) => vm,
            (None, Some(source)) => {
                if present && !vm_stopping {
                    match self.vm {
                        None => acts.push((
                            create(vm::new_vm(&info, source, self.vmr.spec.keep_mac_address == Some(true))),
                            format!(
                                "VM {}/{} restored from backup {}/{} (halted until its volumes are ready)",
                                self.namespace, self.target, self.backup_namespace, self.backup_name
                            ),
                        )),
                        Some(current) => {
                            let replaced = vm::replaced_vm(current, &info, source);
                            if let Some(a) = patch_action(self.vm_ref(), &current.metadata, current, &replaced) {
                                acts.push((
                                    a,
                                    format!(
                                        "replace the spec of VM {}/{} by the one in backup {}/{}",
                                        self.namespace, self.target, self.backup_namespace, self.backup_name
                                    ),
                                ));
                            }
                        }
                    }
                }
                return hold.unwrap_or_else(|| {
                    running(if vm_stopping {
                        format!("Waiting for VM {} to stop", self.target)
                    } else {
                        MSG_CREATING_PVCS.to_owned()
                    })
                });
            }
            (None, None) => {
                return self.fail(
                    format!(
                        "VMBackup {}/{} holds no VM spec",
                        self.backup_namespace, self.backup_name
                    ),
                    "there is no VM to restore",
                    "restore from another backup",
                );
            }
        };

        // The VM exists and is this restore's: secrets, ownership, start.
        let mut secrets_ready = true;
        if let Some(b) = vmb {
            match self.secrets(b, vm, &secrets, acts) {
                Ok(ready) => secrets_ready = ready,
                Err(outcome) => return outcome,
            }
        }
        if let Some(vm_uid) = vm.metadata.uid.clone() {
            if want
                .metadata
                .owner_references
                .as_ref()
                .is_none_or(Vec::is_empty)
                && let Some(o) = build::owner_ref(
                    wellknown::KUBEVIRT_API_VERSION,
                    wellknown::KIND_VIRTUAL_MACHINE,
                    &vm.metadata,
                    true,
                )
            {
                want.metadata.owner_references = Some(vec![o]);
            }
            if let Some(s) = want.status.as_mut() {
                s.target_uid = Some(vm_uid);
            }
        }
        if let Some(h) = hold {
            return h;
        }
        let bound = vols
            .iter()
            .all(|v| v.pvc.is_some_and(|p| pvc::phase(p) == "Bound"));
        if !bound || !secrets_ready {
            return running(MSG_CREATING_PVCS);
        }
        let halt = self.vmr.spec.halt_after_restore == Some(true);
        if halt {
            let restoring: Vec<&str> = vols
                .iter()
                .filter(|v| self.data_restoring(v))
                .map(|v| v.pvc_name.as_str())
                .collect();
            if !restoring.is_empty() {
                return running(format!(
                    "Waiting for Longhorn to restore the data of {}",
                    restoring.join(", ")
                ));
            }
        } else if vm::run_strategy(vm) == vm::HALTED {
            let mut started = vm.clone();
            let strategy = vm::final_run_strategy(source_spec.and_then(|s| s.spec.as_ref()), false);
            vm::set_run_strategy(&mut started.spec, &strategy);
            if let Some(a) = patch_action(self.vm_ref(), &vm.metadata, vm, &started) {
                acts.push((
                    a,
                    format!(
                        "start restored VM {}/{} (run strategy {strategy}): its volumes are ready",
                        self.namespace, self.target
                    ),
                ));
            }
            return running(MSG_WAITING_VM);
        } else if !vm::is_ready(vm) {
            return running(MSG_WAITING_VM);
        }
        self.finish(&vols, want, acts);
        Outcome::Complete
    }

    fn vm_ref(&self) -> ObjectRef {
        ObjectRef::namespaced(Kind::VirtualMachine, self.namespace, self.target)
    }

    /// The status entry of a volume.
    fn entry(&self, v: &Vol) -> VolumeRestore {
        let mut e = v.stored.cloned().unwrap_or_default();
        e.volume_name = Some(v.volume_name.clone());
        e.volume_backup_name = Some(v.vb_name.clone());
        e.persistent_volume_claim_spec = Some(PersistentVolumeClaimSourceSpec {
            metadata: Some(EmbeddedObjectMeta::named(&v.pvc_name, self.namespace)),
            spec: v.claim.spec.clone(),
            ..PersistentVolumeClaimSourceSpec::default()
        });
        if e.volume_size.is_none() {
            e.volume_size = v.vb.and_then(|vb| vb.volume_size);
        }
        e
    }

    /// A restored PVC that failed ends the restore.
    fn check_pvc(&self, v: &Vol) -> Option<Outcome> {
        let p = v.pvc?;
        let phase = pvc::phase(p);
        if phase != "Bound" && phase != "Pending" {
            return Some(self.fail(
                format!(
                    "PVC {}/{} in status \"{phase}\"",
                    self.namespace, v.pvc_name
                ),
                "the volume cannot be restored",
                "check the PVC's events and the storage; delete this restore and try again",
            ));
        }
        let lh = self.longhorn_volume(v)?;
        if lh.restore_failed() {
            let message = lh
                .restore_condition()
                .and_then(|c| c.message.clone())
                .unwrap_or_default();
            return Some(self.fail(
                format!(
                    "volume {}/{} restore failed: {message}",
                    self.namespace, v.pvc_name
                ),
                "the volume's data could not be restored from the backup target",
                "check the backup target and the Longhorn backup; delete this restore and try again",
            ));
        }
        None
    }

    fn longhorn_volume(&self, v: &Vol) -> Option<&'a vmbackup_api::longhorn::Volume> {
        let pv = v.pvc?.spec.as_ref()?.volume_name.as_deref()?;
        self.ctx.view.longhorn_volume(pv)
    }

    /// Whether Longhorn still restores the volume's data.
    fn data_restoring(&self, v: &Vol) -> bool {
        self.longhorn_volume(v)
            .and_then(|lh| lh.status.as_ref())
            .and_then(|s| s.restore_required)
            == Some(true)
    }

    /// Original secret name → the name in the restored VM.
    fn secret_names(&self, vmb: &VirtualMachineBackup) -> BTreeMap<String, String> {
        vmb.status
            .as_ref()
            .and_then(|s| s.secret_backups.as_ref())
            .into_iter()
            .flatten()
            .map(|sb| {
                let name = if self.new_vm {
                    naming::new_vm_secret_name(self.target, &sb.name)
                } else {
                    sb.name.clone()
                };
                (sb.name.clone(), name)
            })
            .collect()
    }

    /// The backed-up Secrets, in the restored VM's namespace: created
    /// (owned by the VM) or their data put back. `Ok(true)` when every one
    /// is in place already.
    fn secrets(
        &self,
        vmb: &VirtualMachineBackup,
        vm: &VirtualMachine,
        names: &BTreeMap<String, String>,
        acts: &mut Vec<(Action, String)>,
    ) -> Result<bool, Outcome> {
        let view = self.ctx.view;
        let mut ready = true;
        for sb in vmb
            .status
            .as_ref()
            .and_then(|s| s.secret_backups.as_ref())
            .into_iter()
            .flatten()
        {
            let name = names
                .get(&sb.name)
                .cloned()
                .unwrap_or_else(|| sb.name.clone());
            let mut data = BTreeMap::new();
            for (key, value) in sb.data.iter().flatten() {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .map_err(|e| {
                        self.fail(
                            format!(
                                "secret backup {} of VMBackup {}/{}: key {key} is not base64: {e}",
                                sb.name, self.backup_namespace, self.backup_name
                            ),
                            "the VM's secrets cannot be restored",
                            "restore from another backup",
                        )
                    })?;
                data.insert(key.clone(), ByteString(bytes));
            }
            let r = ObjectRef::namespaced(Kind::Secret, self.namespace, &name);
            match view.secret(self.namespace, &name) {
                None => {
                    ready = false;
                    let Some(owner) = build::owner_ref(
                        wellknown::KUBEVIRT_API_VERSION,
                        wellknown::KIND_VIRTUAL_MACHINE,
                        &vm.metadata,
                        true,
                    ) else {
                        continue;
                    };
                    acts.push((
                        create(Secret {
                            metadata: ObjectMeta {
                                name: Some(name.clone()),
                                namespace: Some(self.namespace.to_owned()),
                                owner_references: Some(vec![owner]),
                                ..ObjectMeta::default()
                            },
                            data: Some(data),
                            ..Secret::default()
                        }),
                        format!("secret {name} of restored VM {}", self.target),
                    ));
                }
                Some(existing) => {
                    if existing.data.clone().unwrap_or_default() == data {
                        continue;
                    }
                    ready = false;
                    let mut wanted = existing.clone();
                    wanted.data = Some(data);
                    if let Some(a) = patch_action(r, &existing.metadata, existing, &wanted) {
                        acts.push((a, format!("put the backed-up data back into secret {name}")));
                    }
                }
            }
        }
        Ok(ready)
    }

    /// The last actions of a complete restore: the replaced VM's PVCs
    /// (delete policy) and the restore's own snapshot objects go.
    fn finish(&self, vols: &[Vol], want: &VirtualMachineRestore, acts: &mut Vec<(Action, String)>) {
        let view = self.ctx.view;
        if self.delete_old_volumes {
            let ours: BTreeSet<&str> = vols.iter().map(|v| v.pvc_name.as_str()).collect();
            for name in want
                .status
                .as_ref()
                .and_then(|s| s.deleted_volumes.as_ref())
                .into_iter()
                .flatten()
            {
                let Some(p) = view.pvc(self.namespace, name) else {
                    continue;
                };
                let in_use = view
                    .vms_claiming(name)
                    .any(|((ns, _), _)| ns == self.namespace);
                if deleting(&p.metadata) || in_use || ours.contains(name.as_str()) {
                    continue;
                }
                acts.push((
                    Action::Delete {
                        target: ObjectRef::namespaced(
                            Kind::PersistentVolumeClaim,
                            self.namespace,
                            name,
                        ),
                        precondition: same_object(&p.metadata),
                    },
                    format!(
                        "delete PVC {name} of the replaced VM {} (deletion policy {})",
                        self.target,
                        self.vmr.spec.deletion_policy.as_deref().unwrap_or("delete")
                    ),
                ));
            }
        }
        if self.cross_namespace {
            for v in vols {
                restore_objects_cleanup(
                    self.ctx,
                    self.namespace,
                    self.name,
                    &v.vb_name,
                    "the restore is complete",
                    acts,
                );
            }
        }
    }

    /// Writes the outcome into the status (conditions, progress,
    /// completion) and the findings.
    fn record(&self, want: &mut VirtualMachineRestore, outcome: &Outcome, out: &mut Out) {
        let now = self.ctx.now_text.as_str();
        let snapshot_type = self
            .vmb
            .is_some_and(|b| b.backup_type() == BackupType::Snapshot);
        let view = self.ctx.view;
        let Some(status) = want.status.as_mut() else {
            return;
        };
        let complete = *outcome == Outcome::Complete;
        // Per-volume progress from Longhorn's engines.
        let mut weighted: i128 = 0;
        let mut total: i128 = 0;
        for e in status.restores.iter_mut().flatten() {
            let pvc_name = e
                .persistent_volume_claim_spec
                .as_ref()
                .and_then(|s| s.metadata.as_ref())
                .and_then(|m| m.name.clone())
                .unwrap_or_default();
            let pv = view
                .pvc(self.namespace, &pvc_name)
                .and_then(|p| p.spec.as_ref())
                .and_then(|s| s.volume_name.clone());
            let lh = pv.as_deref().and_then(|pv| view.longhorn_volume(pv));
            if let Some(size) = lh
                .and_then(|v| v.spec.size.as_deref())
                .and_then(quantity_bytes)
            {
                e.volume_size = Some(size);
            }
            let now_progress = if complete || (snapshot_type && pv.is_some()) {
                Some(100)
            } else if let Some(engine) = pv.as_deref().and_then(|pv| view.engines_of(pv).next()) {
                e.longhorn_engine_name = engine.metadata.name.clone();
                engine
                    .status
                    .as_ref()
                    .map(|s| s.restore_progress().clamp(0, 100))
            } else {
                None
            };
            let p = e.progress.unwrap_or(0).max(now_progress.unwrap_or(0));
            e.progress = Some(p);
            let size = i128::from(e.volume_size.unwrap_or(0).max(0));
            weighted += i128::from(p) * size;
            total += size;
        }
        let overall = if total > 0 {
            i64::try_from(weighted / total).unwrap_or(0)
        } else {
            0
        };
        let before = status.progress.unwrap_or(0);
        status.progress = Some(if complete {
            100
        } else {
            before.max(overall.min(PROGRESS_BEFORE_VM))
        });
        match outcome {
            Outcome::Complete => {
                status.complete = Some(true);
                status.restore_time = Some(now.to_owned());
                conditions::set(
                    &mut status.conditions,
                    wellknown::CONDITION_IN_PROGRESS,
                    false,
                    None,
                    MSG_COMPLETE,
                    now,
                );
                conditions::set(
                    &mut status.conditions,
                    wellknown::CONDITION_READY,
                    true,
                    None,
                    MSG_COMPLETE,
                    now,
                );
            }
            Outcome::Failed { message, finding } => {
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
                    Some("Error"),
                    message,
                    now,
                );
                out.finding((**finding).clone());
            }
            Outcome::Running {
                message,
                finding,
                requeue,
            } => {
                conditions::set(
                    &mut status.conditions,
                    wellknown::CONDITION_IN_PROGRESS,
                    true,
                    None,
                    message,
                    now,
                );
                conditions::set(
                    &mut status.conditions,
                    wellknown::CONDITION_READY,
                    false,
                    None,
                    message,
                    now,
                );
                if let Some(f) = finding {
                    out.finding((**f).clone());
                }
                out.requeue(*requeue);
            }
        }
    }
}

/// Whether a restore has changed anything yet: a PVC it restores exists, or
/// its target VM carries its id.
pub(crate) fn has_started(ctx: &Ctx, vmr: &VirtualMachineRestore) -> bool {
    let view = ctx.view;
    let Some(uid) = vmr.metadata.uid.as_deref() else {
        return false;
    };
    let ns = ns_of(&vmr.metadata);
    let name = name_of(&vmr.metadata);
    let id = naming::restore_id(name, uid);
    if view
        .vm(ns, &vmr.spec.target.name)
        .is_some_and(|vm| vm::last_restore_id(vm) == Some(id.as_str()))
    {
        return true;
    }
    let backup_ns = if vmr.spec.virtual_machine_backup_namespace.is_empty() {
        ns
    } else {
        vmr.spec.virtual_machine_backup_namespace.as_str()
    };
    let backup = vmr.spec.virtual_machine_backup_name.as_str();
    let from_backup = view.vmbackup(backup_ns, backup).is_some_and(|b| {
        b.volume_backups().iter().any(|vb| {
            view.pvc(ns, &naming::restored_pvc_name(backup, uid, &vb.volume_name))
                .is_some()
        })
    });
    from_backup
        || vmr
            .status
            .as_ref()
            .and_then(|s| s.restores.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|e| {
                e.persistent_volume_claim_spec
                    .as_ref()?
                    .metadata
                    .as_ref()?
                    .name
                    .as_deref()
            })
            .any(|pvc| view.pvc(ns, pvc).is_some())
}

/// Deletes the VolumeSnapshot and VolumeSnapshotContent a restore made for
/// volume backup `vb` (both `Retain`-backed: the backup stays).
fn restore_objects_cleanup(
    ctx: &Ctx,
    ns: &str,
    restore: &str,
    vb: &str,
    why: &str,
    acts: &mut Vec<(Action, String)>,
) {
    let view = ctx.view;
    let vs_name = naming::restore_snapshot_name(restore, vb);
    let vsc_name = naming::restore_content_name(ns, restore, vb);
    if let Some(vs) = view
        .snapshot(ns, &vs_name)
        .filter(|vs| !deleting(&vs.metadata))
    {
        acts.push((
            Action::Delete {
                target: ObjectRef::namespaced(Kind::VolumeSnapshot, ns, &vs_name),
                precondition: same_object(&vs.metadata),
            },
            format!("remove restore VolumeSnapshot {vs_name}: {why}"),
        ));
    }
    if let Some(c) = view.content(&vsc_name).filter(|c| !deleting(&c.metadata)) {
        acts.push((
            Action::Delete {
                target: ObjectRef::cluster(Kind::VolumeSnapshotContent, &vsc_name),
                precondition: same_object(&c.metadata),
            },
            format!("remove restore content {vsc_name} (Retain: the backup stays): {why}"),
        ));
    }
}

/// A VMRestore being deleted: its own VolumeSnapshots/Contents go, then
/// the finalizer. Restored PVCs and the VM stay.
fn finalize(ctx: &Ctx, vmr: &VirtualMachineRestore, out: &mut Out) {
    let Some(finalizers) = vmr
        .metadata
        .finalizers
        .as_ref()
        .filter(|f| f.iter().any(|f| f == VMRESTORE_FINALIZER))
    else {
        return;
    };
    let ns = ns_of(&vmr.metadata);
    let name = name_of(&vmr.metadata);
    let mut acts = Vec::new();
    let backup_ns = vmr.spec.virtual_machine_backup_namespace.as_str();
    if !backup_ns.is_empty() && backup_ns != ns {
        for e in vmr
            .status
            .as_ref()
            .and_then(|s| s.restores.as_ref())
            .into_iter()
            .flatten()
        {
            if let Some(vb) = e.volume_backup_name.as_deref() {
                restore_objects_cleanup(ctx, ns, name, vb, "its restore is deleted", &mut acts);
            }
        }
    }
    for (action, why) in acts {
        out.step(R, action, why);
    }
    let remaining: Vec<String> = finalizers
        .iter()
        .filter(|f| *f != VMRESTORE_FINALIZER)
        .cloned()
        .collect();
    out.step(
        R,
        Action::Patch {
            target: ObjectRef::namespaced(Kind::VirtualMachineRestore, ns, name),
            precondition: pinned(&vmr.metadata),
            patch: serde_json::json!({"metadata": {"finalizers": remaining}}).into(),
        },
        format!("clean-up of VMRestore {ns}/{name} done: release it"),
    );
}
