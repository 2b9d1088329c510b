//! What every reconciler reads (the inputs, the settings decoded once, the
//! state of the backup target) and what it writes (steps, findings, requeue).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use vmbackup_api::harvester::{BackupTargetRef, BackupTargetSetting};
use vmbackup_api::object::ToValue;
use vmbackup_api::wellknown;

use crate::finding::{Code, Finding, Severity};
use crate::merge_patch::{self, MergePatch};
use crate::naming;
use crate::object::{Kind, NewObject, Object, ObjectRef};
use crate::plan::{Action, Precondition, Reconciler, Requeue, Step};
use crate::target::{TargetFacts, TargetListing, TargetState};
use crate::view::{Key, View};

/// Which VMBackups get their broken handles repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RepairScope {
    /// Only those a restore in progress needs (the controller's default).
    #[default]
    WhenNeeded,
    /// Every VMBackup (`vmbackup repair`).
    All,
    /// These VMBackups, plus those a restore needs.
    Only(BTreeSet<Key>),
}

/// Choices a caller makes; everything else comes from the View.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Which broken handles to repair.
    pub repair: RepairScope,
    /// Rediscover from the backup target now, whatever the timers say.
    pub sync_now: bool,
    /// Rediscovery may create a missing namespace for a backup.
    pub create_namespaces: bool,
    /// Delete VolumeSnapshots/Contents left by finished or deleted restores
    /// (their contents are switched to `Retain` first, so no backup data is
    /// touched). Off by default: they are only reported.
    pub delete_stale_restore_objects: bool,
}

/// Finalizer vmbackup keeps on VMBackups (Harvester's own name, so either
/// controller finishes what the other started).
pub const VMBACKUP_FINALIZER: &str = wellknown::FINALIZER_VM_BACKUP_CONTROLLER;
/// Finalizer vmbackup keeps on VMRestores.
pub const VMRESTORE_FINALIZER: &str = wellknown::FINALIZER_VM_RESTORE_CONTROLLER;

/// On the backup-target setting: when vmbackup last saw the target
/// unavailable (cleared once a sync succeeds after it came back).
pub const ANNOTATION_TARGET_UNAVAILABLE_SINCE: &str = "vmbackup.io/target-unavailable-since";
/// On the backup-target setting: a rediscovery was asked for at this time.
pub const ANNOTATION_SYNC_REQUESTED_AT: &str = "vmbackup.io/sync-requested-at";
/// On the backup-target setting: the last rediscovery skipped backups only
/// because Longhorn had not synced their Backup objects yet; it runs again
/// once Longhorn has synced.
pub const ANNOTATION_WAITING_FOR_LONGHORN: &str = "vmbackup.io/rediscovery-waits-for-longhorn";
/// Condition on the backup-target setting describing the last rediscovery.
pub const CONDITION_REDISCOVERY: &str = "vmbackup.io/Rediscovery";

/// Longhorn's BackupTarget poll interval when it does not say (300 s).
pub const LONGHORN_DEFAULT_POLL: Duration = Duration::from_secs(300);
/// How soon to look again while something is in progress.
pub const PROGRESS_REQUEUE: Duration = Duration::from_secs(5);
/// How soon to retry a target that was unavailable.
pub const UNAVAILABLE_RETRY: Duration = Duration::from_secs(60);

/// Classes per CSI driver (Harvester's `csi-driver-config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverClasses {
    /// Class for `type: snapshot`.
    pub snapshot: String,
    /// Class for `type: backup`.
    pub backup: String,
}

/// The configured backup target.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetConfig {
    /// Settings were not given to the engine.
    Unknown,
    /// No target configured.
    NotConfigured,
    /// The setting's value does not decode.
    Invalid(String),
    /// A target.
    Configured(Box<BackupTargetSetting>),
}

impl TargetConfig {
    /// The setting, if configured.
    pub fn setting(&self) -> Option<&BackupTargetSetting> {
        match self {
            TargetConfig::Configured(s) => Some(s),
            _ => None,
        }
    }

    /// The identity Harvester compares (`endpoint`, `bucketName`, `bucketRegion`).
    pub fn target_ref(&self) -> Option<BackupTargetRef> {
        self.setting().map(BackupTargetSetting::target_ref)
    }
}

/// How the backup target looked to the shell that read it.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetRead<'a> {
    /// Not read for this plan (or read from another target).
    NotRead,
    /// Unreachable, or a listing that cannot be trusted.
    Unavailable(String),
    /// A complete, plausible listing.
    Usable(&'a TargetListing),
}

/// Everything reconcilers read.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The cluster.
    pub view: &'a View,
    /// The target, raw.
    pub facts: &'a TargetFacts,
    /// Now.
    pub now: DateTime<Utc>,
    /// Now as Kubernetes writes times.
    pub now_text: String,
    /// The caller's choices.
    pub options: &'a Options,
    /// The configured target.
    pub target: TargetConfig,
    /// The identity of the configured target ([`TargetConfig::target_ref`]).
    pub target_ref: Option<BackupTargetRef>,
    /// The target as read.
    pub read: TargetRead<'a>,
    /// Classes per CSI driver.
    pub driver_classes: BTreeMap<String, DriverClasses>,
    /// Class for restore-time contents (`volume-snapshot-class`).
    pub restore_class: String,
    /// Volume backup names (repair suffixes removed) that VMBackups of more
    /// than one namespace use: their contents cannot all get Harvester's
    /// cluster-wide `<vb>-vsc`.
    pub shared_volume_backup_names: BTreeSet<String>,
}

impl<'a> Ctx<'a> {
    /// Decodes settings and judges the target facts.
    pub fn new(
        view: &'a View,
        facts: &'a TargetFacts,
        now: DateTime<Utc>,
        options: &'a Options,
    ) -> Self {
        let target = target_config(view);
        let read = judge_target(view, facts, &target);
        Ctx {
            view,
            facts,
            now,
            now_text: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            options,
            target_ref: target.target_ref(),
            target,
            read,
            driver_classes: driver_classes(view),
            restore_class: view
                .setting(wellknown::SETTING_VOLUME_SNAPSHOT_CLASS)
                .map(|s| s.effective_value().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| wellknown::VSCLASS_LONGHORN_BACKUP.to_owned()),
            shared_volume_backup_names: shared_volume_backup_names(view),
        }
    }

    /// The class for `driver` and backup type.
    pub fn class_for(&self, driver: &str, backup: bool) -> Option<&str> {
        self.driver_classes.get(driver).map(|c| {
            if backup {
                c.backup.as_str()
            } else {
                c.snapshot.as_str()
            }
        })
    }

    /// The listing, when usable.
    pub fn listing(&self) -> Option<&'a TargetListing> {
        match self.read {
            TargetRead::Usable(l) => Some(l),
            _ => None,
        }
    }
}

fn shared_volume_backup_names(view: &View) -> BTreeSet<String> {
    let mut first_namespace: BTreeMap<&str, &str> = BTreeMap::new();
    let mut shared = BTreeSet::new();
    for vmb in view.vmbackups().values() {
        let ns = vmb.metadata.namespace.as_deref().unwrap_or_default();
        for name in vmb
            .volume_backups()
            .iter()
            .filter_map(|vb| vb.name.as_deref())
        {
            let base = naming::volume_backup_base(name);
            match first_namespace.get(base) {
                None => {
                    first_namespace.insert(base, ns);
                }
                Some(first) if *first != ns => {
                    shared.insert(base.to_owned());
                }
                Some(_) => {}
            }
        }
    }
    shared
}

fn target_config(view: &View) -> TargetConfig {
    match view.setting(wellknown::SETTING_BACKUP_TARGET) {
        None if view.is_listed(Kind::Setting) => TargetConfig::NotConfigured,
        None => TargetConfig::Unknown,
        Some(setting) => match setting.backup_target() {
            Err(e) => TargetConfig::Invalid(e.to_string()),
            Ok(s) if s.is_unset() => TargetConfig::NotConfigured,
            Ok(s) => TargetConfig::Configured(Box::new(s)),
        },
    }
}

fn driver_classes(view: &View) -> BTreeMap<String, DriverClasses> {
    let mut map = BTreeMap::new();
    map.insert(
        wellknown::LONGHORN_CSI_DRIVER.to_owned(),
        DriverClasses {
            snapshot: wellknown::VSCLASS_LONGHORN_SNAPSHOT.to_owned(),
            backup: wellknown::VSCLASS_LONGHORN_BACKUP.to_owned(),
        },
    );
    let user = view
        .setting(wellknown::SETTING_CSI_DRIVER_CONFIG)
        .and_then(|s| serde_json::from_str::<BTreeMap<String, Value>>(s.effective_value()).ok())
        .unwrap_or_default();
    for (driver, entry) in user {
        // Harvester ignores user entries for drivers it configures itself.
        if map.contains_key(&driver) {
            continue;
        }
        let text = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        map.insert(
            driver,
            DriverClasses {
                snapshot: text("volumeSnapshotClassName"),
                backup: text("backupVolumeSnapshotClassName"),
            },
        );
    }
    map
}

/// Whether the cluster knows of backups on the target (so an empty listing
/// cannot be right).
fn backups_known(view: &View, target: &TargetConfig) -> bool {
    let current = target.target_ref();
    let ready_here = view.vmbackups().values().any(|b| {
        b.is_ready()
            && b.status
                .as_ref()
                .and_then(|s| s.backup_target.as_ref())
                .zip(current.as_ref())
                .is_some_and(|(a, c)| a.same_target(c))
    });
    ready_here || view.longhorn_backups().values().any(|b| b.is_completed())
}

fn judge_target<'a>(view: &View, facts: &'a TargetFacts, target: &TargetConfig) -> TargetRead<'a> {
    let Some(setting) = target.setting() else {
        return TargetRead::NotRead;
    };
    if facts.url != setting.url() {
        return TargetRead::NotRead;
    }
    match &facts.state {
        TargetState::NotRead => TargetRead::NotRead,
        TargetState::Unavailable { reason } => TargetRead::Unavailable(reason.clone()),
        TargetState::Listed(listing) if !listing.complete => {
            TargetRead::Unavailable("the listing of the backup target was partial".into())
        }
        TargetState::Listed(listing) if listing.volumes.is_empty() && backups_known(view, target) => {
            TargetRead::Unavailable(
                "the backup target listed no backup volumes although the cluster knows backups on it".into(),
            )
        }
        TargetState::Listed(listing) => TargetRead::Usable(listing),
    }
}

/// What reconcilers produce.
#[derive(Debug, Default)]
pub struct Out {
    /// Steps, in order.
    pub steps: Vec<Step>,
    /// Findings, unordered.
    pub findings: Vec<Finding>,
    /// Sooner-wins requeue hint.
    pub requeue: Option<Duration>,
    /// The target must be read.
    pub wants_target_scan: bool,
    /// VMBackups this plan changes that a restore refers to, as the plan
    /// leaves them: the restore reconciler decides on these, not on the
    /// View's copies, so that a plan cut short anywhere converges to the
    /// same end.
    pub planned_vmbackups: BTreeMap<Key, vmbackup_api::VirtualMachineBackup>,
}

impl Out {
    /// Adds a step.
    pub fn step(&mut self, reconciler: Reconciler, action: Action, reason: impl Into<String>) {
        self.steps.push(Step {
            action,
            reason: crate::finding::exact(reason.into()),
            reconciler,
        });
    }

    /// Adds a finding.
    pub fn finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Asks to plan again after `after`.
    pub fn requeue(&mut self, after: Duration) {
        self.requeue = Some(self.requeue.map_or(after, |r| r.min(after)));
    }

    /// The requeue hint.
    pub fn requeue_hint(&self) -> Requeue {
        self.requeue.map_or(Requeue::OnChange, Requeue::After)
    }
}

/// A new finding.
pub fn finding(code: Code, severity: Severity, object: ObjectRef) -> Finding {
    Finding::new(code, severity, object)
}

/// Preconditions that pin `meta`'s object as it was seen.
pub fn pinned(meta: &ObjectMeta) -> Precondition {
    Precondition {
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
    }
}

/// Preconditions on the identity only (for deletes, which may follow a
/// patch of the same object in one plan).
pub fn same_object(meta: &ObjectMeta) -> Precondition {
    Precondition {
        uid: meta.uid.clone(),
        resource_version: None,
    }
}

/// The patch that turns `before` into `after` (both the same object), or
/// `None` when nothing changes. A patch touching only `status` is a
/// status patch.
pub fn patch_action<T: ToValue + PartialEq>(
    target: ObjectRef,
    meta: &ObjectMeta,
    before: &T,
    after: &T,
) -> Option<Action> {
    // Equal objects serialise equally: skip the costly JSON diff.
    if before == after {
        return None;
    }
    let from = before.to_value().ok()?;
    let to = after.to_value().ok()?;
    let patch = merge_patch::diff_owned(&from, to)?;
    drop(from);
    let only_status = patch
        .as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key("status"));
    Some(patch_of(
        target,
        pinned(meta),
        MergePatch::from(&patch),
        only_status,
    ))
}

/// A patch of the object, or of its status subresource.
pub fn patch_of(
    target: ObjectRef,
    precondition: Precondition,
    patch: MergePatch,
    status: bool,
) -> Action {
    if status {
        Action::PatchStatus {
            target,
            precondition,
            patch,
        }
    } else {
        Action::Patch {
            target,
            precondition,
            patch,
        }
    }
}

/// A create action.
pub fn create(object: impl Into<Object>) -> Action {
    Action::Create {
        object: NewObject::from(object.into()),
    }
}

/// Whether an object is being deleted.
pub fn deleting(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
}

/// Namespace of a namespaced object (`default` when empty).
pub fn ns_of(meta: &ObjectMeta) -> &str {
    meta.namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
}

/// Name of an object.
pub fn name_of(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

/// Parses a Kubernetes duration such as `5m0s`, `300s` or `1h` (what
/// Longhorn writes for `pollInterval`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push('s');
            chars.next();
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        total += match unit.as_str() {
            "h" => n * 3600,
            "m" => n * 60,
            "s" => n,
            "ms" => 0,
            _ => return None,
        };
    }
    if !number.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_durations() {
        assert_eq!(parse_duration("5m0s"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("60s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("5x"), None);
    }
}
