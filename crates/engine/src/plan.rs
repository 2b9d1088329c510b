//! Plans: the ordered actions a shell executes, each with a reason, plus
//! findings for humans and a hint of when to plan again.
//!
//! Shells execute actions in order and stop at the first one that fails (a
//! precondition that does not hold, a conflict, an object that is still being
//! deleted): the next plan, computed from a fresh view, picks up from there.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::finding::Finding;
use crate::merge_patch::MergePatch;
use crate::object::{NewObject, ObjectRef};

/// Which reconciler produced an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reconciler {
    /// Backups: VolumeSnapshots, status, metadata files.
    Backup,
    /// Restores: PVCs, VMs, secrets, cleanup.
    Restore,
    /// Handle repair of VolumeSnapshotContents.
    HandleRepair,
    /// Rediscovery and health of backups on the target.
    TargetSync,
    /// Health and orphan clean-up.
    Health,
}

/// Conditions an object must still meet when the action is executed. The
/// shell sends them to the API server (`resourceVersion` on patches,
/// `preconditions` on deletes) so an action never applies to an object that
/// changed or was replaced since the view was taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Precondition {
    /// The object's `metadata.uid` must be this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The object's `metadata.resourceVersion` must be this.
    #[serde(rename = "resourceVersion", skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

impl Precondition {
    /// No precondition.
    pub fn none() -> Self {
        Precondition::default()
    }
}

/// One change to the cluster or the backup target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Action {
    /// Create the object. If an object of that name already exists the shell
    /// leaves it alone (create-or-get) and carries on.
    Create {
        /// The object, complete.
        object: NewObject,
    },
    /// Apply a JSON merge patch (RFC 7386) to the object.
    Patch {
        /// The object.
        target: ObjectRef,
        /// Must still hold.
        precondition: Precondition,
        /// The merge patch.
        patch: MergePatch,
    },
    /// Apply a JSON merge patch to the object's status. For kinds without a
    /// status subresource (see [`crate::object::Kind::has_status_subresource`])
    /// the shell sends it to the object itself.
    PatchStatus {
        /// The object.
        target: ObjectRef,
        /// Must still hold.
        precondition: Precondition,
        /// The merge patch, rooted at the object (so it has a `status` key).
        patch: MergePatch,
    },
    /// Delete the object.
    Delete {
        /// The object.
        target: ObjectRef,
        /// Must still hold.
        precondition: Precondition,
    },
    /// Write a file on the backup target (replacing it).
    WriteTargetFile {
        /// Path from the target root.
        path: String,
        /// Contents.
        contents: String,
    },
    /// Delete a file on the backup target.
    DeleteTargetFile {
        /// Path from the target root.
        path: String,
    },
}

impl Action {
    /// The object the action is about.
    pub fn target(&self) -> ObjectRef {
        match self {
            Action::Create { object } => object.reference(),
            Action::Patch { target, .. }
            | Action::PatchStatus { target, .. }
            | Action::Delete { target, .. } => target.clone(),
            Action::WriteTargetFile { path, .. } | Action::DeleteTargetFile { path } => {
                ObjectRef::cluster(crate::object::Kind::TargetFile, path.clone())
            }
        }
    }

    /// Short verb for display.
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Patch { .. } => "patch",
            Action::PatchStatus { .. } => "patch-status",
            Action::Delete { .. } => "delete",
            Action::WriteTargetFile { .. } => "write",
            Action::DeleteTargetFile { .. } => "delete-file",
        }
    }
}

/// An action with its one-line reason and the reconciler that planned it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// What to do.
    pub action: Action,
    /// Why, in one line.
    pub reason: String,
    /// Who planned it.
    pub reconciler: Reconciler,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.action.verb(),
            self.action.target(),
            self.reason
        )
    }
}

/// When to plan again if nothing changes in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Requeue {
    /// Only when something changes.
    OnChange,
    /// After this long (something is in progress or a timer is due).
    After(#[serde(with = "duration_secs")] Duration),
}

impl Requeue {
    /// The sooner of two hints.
    pub fn min(self, other: Requeue) -> Requeue {
        match (self, other) {
            (Requeue::OnChange, x) | (x, Requeue::OnChange) => x,
            (Requeue::After(a), Requeue::After(b)) => Requeue::After(a.min(b)),
        }
    }
}

mod duration_secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

/// The output of planning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Ordered actions.
    pub steps: Vec<Step>,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// When to plan again.
    pub requeue: Requeue,
    /// The plan needs a fresh reading of the backup target (a rediscovery is
    /// due and the facts given were not read, or were read too long ago).
    pub wants_target_scan: bool,
}

impl Plan {
    /// An empty plan.
    pub fn empty() -> Self {
        Plan {
            steps: Vec::new(),
            findings: Vec::new(),
            requeue: Requeue::OnChange,
            wants_target_scan: false,
        }
    }

    /// Whether the plan changes nothing.
    pub fn is_noop(&self) -> bool {
        self.steps.is_empty()
    }

    /// The actions alone.
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.steps.iter().map(|s| &s.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requeue_min_prefers_the_sooner_timer() {
        let a = Requeue::After(Duration::from_secs(5));
        let b = Requeue::After(Duration::from_secs(60));
        assert_eq!(a.min(b), a);
        assert_eq!(Requeue::OnChange.min(b), b);
        assert_eq!(b.min(Requeue::OnChange), b);
        assert_eq!(Requeue::OnChange.min(Requeue::OnChange), Requeue::OnChange);
    }
}
