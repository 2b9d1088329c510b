//! Whether a VolumeSnapshotContent's handle resolves under Longhorn ≥ 1.8,
//! judged from the cluster's objects.
//!
//! Longhorn ≥ 1.8.1 resolves `bak://<volume>/<backup>` (and the deprecated
//! `bs://`) by listing BackupVolumes whose `spec.volumeName` equals the
//! volume part, then fetching the Backup CR by name. The right volume part is
//! therefore the Backup CR's `status.volumeName`; anything else (a PVC name,
//! a name that is not a Longhorn volume name) fails with NotFound. A name
//! starting with `pvc-` proves nothing: PVCs can be named like PVs.

use vmbackup_api::VolumeSnapshotContent;
use vmbackup_api::handle::{HandleError, SnapshotHandle};

use crate::naming;
use crate::object::Kind;
use crate::view::View;

/// What is known about one content's handle.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Not a Longhorn content: not judged at all.
    NotLonghorn,
    /// No handle yet (a dynamic content not yet cut).
    NoHandle,
    /// An in-cluster snapshot handle (`snap://`): valid, never rewritten.
    Snapshot,
    /// A backing-image handle (`bi://`): valid, never rewritten.
    BackingImage,
    /// A backup handle that resolves.
    Resolves {
        /// Volume part.
        volume: String,
        /// Backup name.
        backup: String,
        /// It uses the deprecated `bs://` prefix (still resolves).
        deprecated_prefix: bool,
    },
    /// A backup handle that cannot be judged from the objects at hand.
    Undetermined {
        /// The handle as written.
        handle: String,
        /// Backup name.
        backup: String,
        /// It uses the deprecated `bs://` prefix.
        legacy: bool,
        /// What would settle it.
        needs: String,
    },
    /// The handle does not resolve.
    Broken(Broken),
}

/// A handle Longhorn ≥ 1.8 cannot resolve, and how to fix it if known.
#[derive(Debug, Clone, PartialEq)]
pub struct Broken {
    /// The handle as written.
    pub handle: String,
    /// What is wrong.
    pub problem: Problem,
    /// The backup the content is for, when known.
    pub backup: Option<String>,
    /// The handle it must have (`bak://<Backup.status.volumeName>/<backup>`),
    /// when the Backup CR is known.
    pub correct: Option<String>,
}

/// A PVC (or a VM's claim) named like a handle's volume part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvcEvidence {
    /// Namespace of the PVC (or of the VM claiming it).
    pub namespace: String,
    /// The PVC name.
    pub name: String,
    /// The volume the PVC is bound to, if the PVC is known.
    pub bound_volume: Option<String>,
    /// The VM that claims it, if the evidence is a VM's volume.
    pub vm: Option<String>,
}

impl PvcEvidence {
    /// One line for messages.
    pub fn describe(&self) -> String {
        match (&self.vm, &self.bound_volume) {
            (_, Some(pv)) => format!(
                "it is the name of PVC {}/{}, which is bound to Longhorn volume {pv}",
                self.namespace, self.name
            ),
            (Some(vm), None) => format!(
                "it is the name of a PVC used by VM {}/{vm}, not a Longhorn volume name",
                self.namespace
            ),
            (None, None) => format!("it is the name of PVC {}/{}", self.namespace, self.name),
        }
    }
}

/// Why a handle does not resolve.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// It does not parse.
    Malformed(HandleError),
    /// The volume part is not the Backup CR's volume.
    WrongVolume {
        /// Volume part as written.
        volume: String,
        /// `bs://` prefix.
        legacy: bool,
        /// Proof that the volume part is a PVC name (the Harvester bug: the
        /// PVC name was written instead of the volume name).
        pvc: Option<PvcEvidence>,
    },
    /// The volume part is right but Longhorn has no BackupVolume for it.
    NoBackupVolume {
        /// The volume.
        volume: String,
    },
    /// More than one BackupVolume on one target claims the volume.
    AmbiguousBackupVolume {
        /// The volume.
        volume: String,
        /// Names of the BackupVolumes.
        backup_volumes: Vec<String>,
    },
    /// The Backup CR the handle names does not exist.
    MissingBackup,
}

impl Broken {
    /// Whether writing a new content with [`Broken::correct`] fixes it.
    pub fn repairable(&self) -> bool {
        match (&self.problem, &self.correct) {
            (Problem::Malformed(_) | Problem::WrongVolume { .. }, Some(correct)) => {
                *correct != self.handle
            }
            _ => false,
        }
    }
}

/// Judges `content`'s handle. `known_backup` is the Longhorn backup the
/// content is meant to hold, when the caller knows it (a volume backup's
/// `longhornBackupName`); it lets a malformed handle be repaired.
pub fn judge(view: &View, content: &VolumeSnapshotContent, known_backup: Option<&str>) -> Verdict {
    if !content.is_longhorn() {
        return Verdict::NotLonghorn;
    }
    let Some(handle) = content.snapshot_handle() else {
        return Verdict::NoHandle;
    };
    let parsed = match SnapshotHandle::parse(handle) {
        Ok(parsed) => parsed,
        Err(err) => {
            let backup = known_backup.map(str::to_owned);
            let correct = backup.as_deref().and_then(|b| correct_handle(view, b));
            return Verdict::Broken(Broken {
                handle: handle.to_owned(),
                problem: Problem::Malformed(err),
                backup,
                correct,
            });
        }
    };
    let bak = match &parsed {
        SnapshotHandle::Snapshot { .. } => return Verdict::Snapshot,
        SnapshotHandle::BackingImage(_) => return Verdict::BackingImage,
        SnapshotHandle::Backup(bak) => bak,
    };
    let volume = bak.volume().to_owned();
    let backup = bak.backup().as_str().to_owned();
    let legacy = bak.is_legacy_prefix();

    let Some(lhb) = view.longhorn_backup(&backup) else {
        if view.is_listed(Kind::LonghornBackup) {
            return Verdict::Broken(Broken {
                handle: handle.to_owned(),
                problem: Problem::MissingBackup,
                backup: Some(backup),
                correct: None,
            });
        }
        // Without the Backup CR, only evidence in the handle itself or a PVC
        // of that name can show the volume part is wrong.
        let pvc = pvc_named(view, &volume);
        if bak.volume_name().is_none() || pvc.is_some() {
            return Verdict::Broken(Broken {
                handle: handle.to_owned(),
                problem: Problem::WrongVolume {
                    volume,
                    legacy,
                    pvc,
                },
                backup: Some(backup),
                correct: None,
            });
        }
        return Verdict::Undetermined {
            handle: handle.to_owned(),
            backup: backup.clone(),
            legacy,
            needs: format!(
                "the Longhorn Backup CR {backup} (its status.volumeName is the volume the handle must name)"
            ),
        };
    };
    let Some(expected) = lhb.volume_name() else {
        return Verdict::Undetermined {
            handle: handle.to_owned(),
            backup: backup.clone(),
            legacy,
            needs: format!("Longhorn to fill status.volumeName of Backup {backup}"),
        };
    };
    let correct = || naming::backup_handle(expected, &backup);
    if expected != volume {
        return Verdict::Broken(Broken {
            handle: handle.to_owned(),
            problem: Problem::WrongVolume {
                pvc: pvc_named(view, &volume),
                volume,
                legacy,
            },
            correct: Some(correct()),
            backup: Some(backup),
        });
    }
    if view.is_listed(Kind::LonghornBackupVolume) {
        let target = lhb
            .status
            .as_ref()
            .and_then(|s| s.backup_target_name.as_deref())
            .filter(|t| !t.is_empty())
            .or_else(|| {
                lhb.metadata
                    .labels
                    .as_ref()?
                    .get("backup-target")
                    .map(String::as_str)
            });
        if view.backup_volumes_of(&volume).next().is_none() {
            return Verdict::Broken(Broken {
                handle: handle.to_owned(),
                correct: Some(correct()),
                problem: Problem::NoBackupVolume { volume },
                backup: Some(backup),
            });
        }
        let same_target = || {
            view.backup_volumes_of(&volume).filter(|bv| match target {
                Some(t) => bv
                    .spec
                    .backup_target_name
                    .as_deref()
                    .is_none_or(|bt| bt == t),
                None => true,
            })
        };
        if same_target().nth(1).is_some() {
            return Verdict::Broken(Broken {
                handle: handle.to_owned(),
                correct: Some(correct()),
                problem: Problem::AmbiguousBackupVolume {
                    backup_volumes: same_target()
                        .map(|bv| bv.metadata.name.clone().unwrap_or_default())
                        .collect(),
                    volume,
                },
                backup: Some(backup),
            });
        }
    }
    Verdict::Resolves {
        volume,
        backup,
        deprecated_prefix: legacy,
    }
}

/// The handle a content for Longhorn backup `backup` must carry, if the
/// Backup CR is known: `bak://<status.volumeName>/<backup>`.
pub fn correct_handle(view: &View, backup: &str) -> Option<String> {
    let lhb = view.longhorn_backup(backup)?;
    lhb.volume_name().map(|v| naming::backup_handle(v, backup))
}

/// A PVC named exactly `name` whose bound volume is something else: proof
/// that a handle's volume part is a PVC name.
fn pvc_named(view: &View, name: &str) -> Option<PvcEvidence> {
    let from_pvc = view.pvcs_named(name).find_map(|((ns, n), pvc)| {
        let bound = pvc.spec.as_ref().and_then(|s| s.volume_name.clone());
        (bound.as_deref() != Some(name)).then(|| PvcEvidence {
            namespace: ns.to_owned(),
            name: n.to_owned(),
            bound_volume: bound,
            vm: None,
        })
    });
    from_pvc.or_else(|| {
        view.vms_claiming(name)
            .next()
            .map(|((ns, vm), _)| PvcEvidence {
                namespace: ns.to_owned(),
                name: name.to_owned(),
                bound_volume: None,
                vm: Some(vm.to_owned()),
            })
    })
}

/// The volume a PVC named `namespace/name` is bound to, for hints.
pub fn bound_volume_of(view: &View, namespace: &str, name: &str) -> Option<String> {
    view.pvc(namespace, name)?
        .spec
        .as_ref()?
        .volume_name
        .clone()
}
