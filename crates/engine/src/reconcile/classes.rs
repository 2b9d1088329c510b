//! VolumeSnapshotClasses: what each Longhorn class makes, spellings Longhorn
//! does not know, old API versions, and classes that objects name but that
//! do not exist.

use vmbackup_api::VolumeSnapshotClass;
use vmbackup_api::wellknown;

use crate::context::{Ctx, Out};
use crate::finding::{Code, Finding, Severity};
use crate::object::{Kind, ObjectRef};

/// What a Longhorn VolumeSnapshotClass makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassType {
    /// Not a Longhorn class.
    NotLonghorn,
    /// A backup to the target (`type` empty, absent, `bak` or `bs`).
    Backup,
    /// An in-cluster snapshot (`snap`): cannot be restored from a target or
    /// in another cluster.
    Snapshot,
    /// A backing image (`bi`).
    BackingImage,
    /// A pre-release spelling (`longhorn-backup`, `longhorn-snapshot`) that
    /// released Longhorn does not recognise.
    NonStandard(String),
    /// A `type` Longhorn does not know.
    Unknown(String),
}

/// Classifies a class by its driver and `type` parameter.
pub fn classify(class: &VolumeSnapshotClass) -> ClassType {
    if class.driver != wellknown::LONGHORN_CSI_DRIVER {
        return ClassType::NotLonghorn;
    }
    match class
        .parameter(wellknown::VSCLASS_PARAMETER_TYPE)
        .unwrap_or("")
    {
        "" | "bak" | "bs" => ClassType::Backup,
        "snap" => ClassType::Snapshot,
        "bi" => ClassType::BackingImage,
        t @ ("longhorn-backup" | "longhorn-snapshot") => ClassType::NonStandard(t.to_owned()),
        t => ClassType::Unknown(t.to_owned()),
    }
}

/// Reports class problems.
pub fn report(ctx: &Ctx, out: &mut Out) {
    let view = ctx.view;
    for (name, class) in view.snapshot_classes() {
        let r = ObjectRef::cluster(Kind::VolumeSnapshotClass, name);
        match classify(class) {
            ClassType::NonStandard(t) => out.finding(
                Finding::new(Code::NonStandardSnapshotClassType, Severity::Warning, r.clone())
                    .message(format!(
                        "type {t:?} is a pre-release spelling; released Longhorn knows bak (backup), snap (snapshot) and bi (backing image)"
                    ))
                    .impact("released Longhorn does not treat this type as a backup or snapshot: snapshots taken with this class do not get a bak:// or snap:// handle")
                    .fix(format!("use type {:?} instead", if t.ends_with("backup") { "bak" } else { "snap" })),
            ),
            ClassType::Unknown(t) => out.finding(
                Finding::new(Code::UnknownSnapshotClassType, Severity::Warning, r.clone())
                    .message(format!("type {t:?} is not a Longhorn snapshot type"))
                    .impact("Longhorn's CreateSnapshot does not make a backup or snapshot for this class")
                    .fix("set parameters.type to bak (backup), snap (snapshot) or bi (backing image), or remove the class"),
            ),
            _ => {}
        }
        if let Some(version) = class.extra.read_api_version() {
            out.finding(
                Finding::new(Code::DeprecatedApiVersion, Severity::Info, r)
                    .message(format!("written as {version}"))
                    .impact("current snapshot controllers serve only snapshot.storage.k8s.io/v1")
                    .fix("apply it as snapshot.storage.k8s.io/v1 (same fields)"),
            );
        }
    }
    if !view.is_listed(Kind::VolumeSnapshotClass) {
        return;
    }
    let known: Vec<&str> = view.snapshot_classes().keys().collect();
    let mut missing = |r: ObjectRef, class: &str| {
        if view.snapshot_class(class).is_some() {
            return;
        }
        let hint = known
            .iter()
            .filter(|k| edit_distance(k, class) <= 2)
            .map(|k| format!(" (did you mean {k:?}?)"))
            .next()
            .unwrap_or_default();
        out.finding(
            Finding::new(Code::MissingSnapshotClass, Severity::Warning, r)
                .message(format!("VolumeSnapshotClass {class:?} does not exist{hint}"))
                .impact("the snapshot controller cannot use a class that does not exist for new snapshots or deletions that need its parameters")
                .fix("create the class or point the object at an existing one"),
        );
    };
    for (name, c) in view.contents() {
        if let Some(class) = c
            .spec
            .volume_snapshot_class_name
            .as_deref()
            .filter(|c| !c.is_empty())
        {
            missing(ObjectRef::cluster(Kind::VolumeSnapshotContent, name), class);
        }
    }
    for ((ns, name), vs) in view.snapshots() {
        if let Some(class) = vs
            .spec
            .volume_snapshot_class_name
            .as_deref()
            .filter(|c| !c.is_empty())
        {
            missing(ObjectRef::namespaced(Kind::VolumeSnapshot, ns, name), class);
        }
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("harveter-backup", "harvester-backup"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("longhorn", "longhorn"), 0);
    }
}
