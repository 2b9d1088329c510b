//! Findings about VolumeSnapshotContent handles, one per content, with the
//! VMBackup or restore that depends on it named in the message. Which of
//! them are repaired in this plan is decided by [`repair_scope`].

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::context::{Ctx, Options, Out, RepairScope, deleting, name_of, ns_of};
use crate::finding::{Code, Finding, Severity};
use crate::naming;
use crate::object::{Kind, ObjectRef};
use crate::reconcile::backup::{content_of_volume_backup, retires};
use crate::resolve::{self, Problem, Verdict};

/// Who depends on a content (borrowed from the View; described only when a
/// finding needs it).
#[derive(Debug, Clone)]
struct User<'v> {
    /// The KubeVirt volume (or volume backup) name.
    volume: &'v str,
    /// Namespace and name of the VMBackup or restore that uses it.
    owner: (&'v str, &'v str),
    /// Whether `owner` is a restore.
    is_restore: bool,
    /// The Longhorn backup it is meant to hold.
    backup: Option<&'v str>,
    /// A restore in progress that replaces it (its own content).
    restoring: bool,
}

impl User<'_> {
    /// The VMBackup and volume backup (or restore) that uses it.
    fn who(&self) -> String {
        let (ns, name) = self.owner;
        let kind = if self.is_restore {
            "restore"
        } else {
            "VMBackup"
        };
        format!("volume {} of {kind} {ns}/{name}", self.volume)
    }

    /// A VMBackup whose repair fixes it.
    fn vmbackup(&self) -> Option<(&str, &str)> {
        (!self.is_restore).then_some(self.owner)
    }

    /// A restore in progress that replaces it.
    fn restore(&self) -> Option<(&str, &str)> {
        (self.is_restore && self.restoring).then_some(self.owner)
    }
}

/// Reports every Longhorn content whose handle is wrong or doubtful.
pub fn report(ctx: &Ctx, repair: &Scope<'_>, out: &mut Out) {
    let view = ctx.view;
    let mut users: BTreeMap<Cow<'_, str>, User<'_>> = BTreeMap::new();
    for ((ns, name), vmb) in view.vmbackups() {
        for vb in vmb.volume_backups() {
            let Some(vb_name) = vb.name.as_deref() else {
                continue;
            };
            if let Some(c) = content_of_volume_backup(ctx, ns, vb_name) {
                users.insert(
                    Cow::Borrowed(name_of(&c.metadata)),
                    User {
                        volume: &vb.volume_name,
                        owner: (ns, name),
                        is_restore: false,
                        backup: vb.longhorn_backup_name.as_deref(),
                        restoring: false,
                    },
                );
            }
        }
    }
    // The contents restores into another namespace made for themselves.
    for ((ns, name), vmr) in view.vmrestores() {
        let backup_ns = vmr.spec.virtual_machine_backup_namespace.as_str();
        if backup_ns.is_empty() || backup_ns == ns {
            continue;
        }
        let vmb = view.vmbackup(backup_ns, &vmr.spec.virtual_machine_backup_name);
        for e in vmr
            .status
            .as_ref()
            .and_then(|s| s.restores.as_ref())
            .into_iter()
            .flatten()
        {
            let Some(vb_name) = e.volume_backup_name.as_deref() else {
                continue;
            };
            let backup = vmb
                .into_iter()
                .flat_map(|b| b.volume_backups())
                .find(|vb| vb.name.as_deref() == Some(vb_name))
                .and_then(|vb| vb.longhorn_backup_name.as_deref());
            users.insert(
                Cow::Owned(naming::restore_content_name(ns, name, vb_name)),
                User {
                    volume: e.volume_name.as_deref().unwrap_or(vb_name),
                    owner: (ns, name),
                    is_restore: true,
                    backup,
                    restoring: !vmr.is_complete() && !deleting(&vmr.metadata),
                },
            );
        }
    }
    for (name, content) in view.contents() {
        let user = users.get(name);
        let verdict = resolve::judge(view, content, user.and_then(|u| u.backup));
        if matches!(
            verdict,
            Verdict::NotLonghorn
                | Verdict::NoHandle
                | Verdict::Snapshot
                | Verdict::BackingImage
                | Verdict::Resolves {
                    deprecated_prefix: false,
                    ..
                }
        ) {
            continue;
        }
        let r = ObjectRef::cluster(Kind::VolumeSnapshotContent, name);
        let vs_ref = content.spec.volume_snapshot_ref.name.as_deref().map(|vs| {
            format!(
                "{}/{vs}",
                content
                    .spec
                    .volume_snapshot_ref
                    .namespace
                    .as_deref()
                    .unwrap_or("default")
            )
        });
        let used_by = match (user, &vs_ref) {
            (Some(u), _) => format!(" (used by {})", u.who()),
            (None, Some(vs)) => format!(" (bound to VolumeSnapshot {vs})"),
            (None, None) => String::new(),
        };
        let planned = user
            .and_then(User::vmbackup)
            .is_some_and(|key| repair.contains(&key));
        let restoring = user.and_then(User::restore);
        // A repair retires the old pair only when its VolumeSnapshot is the
        // VMBackup's own (or gone).
        let foreign = user
            .and_then(User::vmbackup)
            .and_then(|(ns, vmb)| foreign_snapshot(view, content, ns, vmb));
        let repair_text = |correct: &str| match user.and_then(User::vmbackup) {
            None if restoring.is_some() => {
                let (ns, vmr) = restoring.unwrap_or_default();
                format!(
                    "restore {ns}/{vmr} replaces it: it is retired together with any PVC that is still Pending on it, and made again with handle {correct} (Retain)"
                )
            }
            Some((ns, vmb)) if foreign.is_some() => {
                let vs = foreign.clone().unwrap_or_default();
                let now = if planned {
                    "this plan repairs it"
                } else {
                    "`vmbackup repair` for this VMBackup repairs it"
                };
                format!(
                    "{now}: a new VolumeSnapshot and content with handle {correct} replace it for VMBackup {ns}/{vmb}; the old pair is left in place, because VolumeSnapshot {vs} is not controlled by that VMBackup: set this content's deletionPolicy to Retain, then delete VolumeSnapshot {vs} and this content yourself (the Longhorn backup is kept)"
                )
            }
            Some((ns, vmb)) if planned => format!(
                "this plan repairs it: a new VolumeSnapshot and content with handle {correct} replace it for VMBackup {ns}/{vmb}, then it is set to Retain and deleted (the Longhorn backup is kept)"
            ),
            Some((ns, vmb)) => format!(
                "run `vmbackup repair` for VMBackup {ns}/{vmb} (or restore it, which repairs it first): a new content with handle {correct} replaces this one, which is set to Retain before it is deleted"
            ),
            None => match &vs_ref {
                Some(vs) => format!(
                    "create a new VolumeSnapshotContent with handle {correct} (deletionPolicy Retain) and a VolumeSnapshot bound to it to replace VolumeSnapshot {vs}: a content's source cannot be changed in place; set this content to Retain before deleting it"
                ),
                None => format!(
                    "replace this content by one with handle {correct}; set it to Retain before deleting it"
                ),
            },
        };
        match verdict {
            Verdict::NotLonghorn
            | Verdict::NoHandle
            | Verdict::Snapshot
            | Verdict::BackingImage
            | Verdict::Resolves {
                deprecated_prefix: false,
                ..
            } => {}
            Verdict::Resolves {
                volume,
                backup,
                deprecated_prefix: true,
            } => out.finding(
                Finding::new(Code::DeprecatedHandlePrefix, Severity::Info, r)
                    .message(format!(
                        "handle bs://{volume}/{backup}{used_by} uses the deprecated bs:// prefix; its volume part is the right Longhorn volume"
                    ))
                    .impact("nothing fails today: Longhorn reads bs:// as bak://")
                    .fix(format!("optional: new contents use {}", naming::backup_handle(&volume, &backup))),
            ),
            Verdict::Undetermined {
                handle,
                backup,
                legacy,
                needs,
            } => {
                if legacy {
                    out.finding(
                        Finding::new(Code::LegacyHandle, Severity::Warning, r)
                            .message(format!(
                                "handle {handle}{used_by} uses the deprecated bs:// form; older Harvester wrote a PVC name there, and from this object alone it cannot be told whether its volume part is a PVC name or the Longhorn volume name: needs {needs}"
                            ))
                            .impact("if the volume part is a PVC name, Longhorn ≥ 1.8 cannot find the backup volume and a restore from this content hangs with CreateVolume NotFound")
                            .fix(format!(
                                "read status.volumeName of Longhorn Backup {backup}: if it equals the volume part nothing is wrong; otherwise the handle must be bak://<status.volumeName>/{backup}"
                            )),
                    );
                }
            }
            Verdict::Broken(broken) => {
                let correct = broken.correct.clone();
                let backup = broken.backup.clone().unwrap_or_default();
                let correct_or_needed = correct
                    .clone()
                    .unwrap_or_else(|| format!("bak://<status.volumeName of Longhorn Backup {backup}>/{backup}"));
                let finding = match &broken.problem {
                    Problem::Malformed(err) => Finding::new(Code::MalformedHandle, Severity::Error, r)
                        .message(format!("handle of content{used_by} is malformed: {err}"))
                        .impact("Longhorn cannot restore from this content")
                        .fix(if broken.backup.is_some() {
                            repair_text(&correct_or_needed)
                        } else {
                            "find which Longhorn backup this content was meant to hold and replace the content".into()
                        }),
                    Problem::WrongVolume { volume, legacy, pvc } => {
                        let why = match (pvc, &correct) {
                            (Some(e), _) => format!("; {}", e.describe()),
                            (None, Some(_)) => format!(
                                "; Longhorn Backup {backup} belongs to volume {}",
                                correct.as_deref().and_then(|c| c.strip_prefix("bak://")).and_then(|c| c.split('/').next()).unwrap_or_default()
                            ),
                            (None, None) => format!("; {volume:?} is not a valid Longhorn volume name"),
                        };
                        let (code, form) = if *legacy {
                            (Code::LegacyHandle, "legacy bs://<PVC name>/<backup> handle")
                        } else {
                            (Code::UnresolvableHandle, "backup handle whose volume part is not the backup's Longhorn volume")
                        };
                        let fix = match (&correct, pvc.as_ref().and_then(|e| e.bound_volume.clone())) {
                            (Some(c), _) => repair_text(c),
                            (None, Some(pv)) => format!(
                                "the volume is probably {pv} (PVC's bound volume): confirm with status.volumeName of Longhorn Backup {backup}, then the handle becomes bak://<that volume>/{backup}; do not guess from the PV of a PVC being restored"
                            ),
                            (None, None) => format!(
                                "read status.volumeName of Longhorn Backup {backup}; the handle must be bak://<status.volumeName>/{backup}"
                            ),
                        };
                        Finding::new(code, Severity::Error, r)
                            .message(format!("{form} {}{used_by}{why}", broken.handle))
                            .impact("Longhorn ≥ 1.8 finds no backup volume for it: a restore from this content stays Pending with CreateVolume NotFound (the backup itself is not missing); deleting it would not delete the backup either")
                            .fix(fix)
                    }
                    Problem::NoBackupVolume { volume } => Finding::new(Code::UnresolvableHandle, Severity::Error, r)
                        .message(format!(
                            "handle {}{used_by} names the right volume, but Longhorn has no BackupVolume for volume {volume}",
                            broken.handle
                        ))
                        .impact("a restore from this content fails with CreateVolume NotFound until Longhorn lists the volume")
                        .fix("make sure the backup target is available and request a BackupTarget sync; the handle itself is correct"),
                    Problem::AmbiguousBackupVolume { volume, backup_volumes } => {
                        Finding::new(Code::AmbiguousBackupVolume, Severity::Warning, r)
                            .message(format!(
                                "{} BackupVolumes claim volume {volume} on one backup target: {}",
                                backup_volumes.len(),
                                backup_volumes.join(", ")
                            ))
                            .impact("Longhorn may delete or restore through the wrong BackupVolume until it removes the duplicates")
                            .fix("wait for Longhorn to garbage-collect the duplicates (it keeps the oldest); do not delete them by hand while backups use them")
                    }
                    Problem::MissingBackup => Finding::new(Code::MissingLonghornBackup, Severity::Error, r)
                        .message(format!("handle {}{used_by} names Longhorn Backup {backup}, which is not in the cluster", broken.handle))
                        .impact("a restore from this content fails until Longhorn has the Backup")
                        .fix("if the backup is on the target, wait for (or request) a BackupTarget sync; otherwise the data is gone and the content should be removed"),
                };
                out.finding(finding);
            }
        }
    }
}

/// The VolumeSnapshot (`namespace/name`) a content is bound to, when it
/// exists and is not the VMBackup `ns/vmb`'s to retire
/// ([`retires`]): a repair then leaves the old pair alone.
fn foreign_snapshot(
    view: &crate::view::View,
    content: &vmbackup_api::VolumeSnapshotContent,
    ns: &str,
    vmb: &str,
) -> Option<String> {
    let vmb = view.vmbackup(ns, vmb)?;
    let r = &content.spec.volume_snapshot_ref;
    let vs_ns = r.namespace.as_deref().unwrap_or("default");
    let vs = view.snapshot(vs_ns, r.name.as_deref()?)?;
    (!retires(vmb, vs)).then(|| format!("{vs_ns}/{}", name_of(&vs.metadata)))
}

/// The VMBackups whose broken handles are repaired in this plan: those
/// named by the options, plus every VMBackup a same-namespace restore in
/// progress reads from.
pub fn repair_scope<'a>(ctx: &Ctx<'a>, options: &'a Options) -> Scope<'a> {
    let view = ctx.view;
    let mut scope: Scope<'a> = match &options.repair {
        RepairScope::All => view.vmbackups().keys().collect(),
        RepairScope::Only(keys) => keys
            .iter()
            .map(|(ns, name)| (ns.as_str(), name.as_str()))
            .collect(),
        RepairScope::WhenNeeded => BTreeSet::new(),
    };
    for vmr in view.vmrestores().values() {
        if deleting(&vmr.metadata) || vmr.is_complete() {
            continue;
        }
        let key = (
            vmr.spec.virtual_machine_backup_namespace.as_str(),
            vmr.spec.virtual_machine_backup_name.as_str(),
        );
        if ns_of(&vmr.metadata) == key.0 {
            scope.insert(key);
        }
    }
    scope
}

/// VMBackups by `(namespace, name)`, borrowed from the View and the options.
pub type Scope<'a> = BTreeSet<(&'a str, &'a str)>;
