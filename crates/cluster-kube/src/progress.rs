//! Hooks for showing progress (the CLI draws a bar from them) and the
//! summary of what an apply did.

use std::fmt;

use serde::Serialize;
use vmbackup_engine::{Kind, Step};

use crate::error::StepError;
use crate::load::Listing;

/// What became of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The object was created.
    Created,
    /// An object of that name was already there; it was left as it is.
    /// `differences` names what differs from the object the plan wanted
    /// (empty when it is the same).
    AlreadyPresent {
        /// Top-level fields, labels or annotations that differ.
        differences: Vec<String>,
    },
    /// The object (or its status) was patched.
    Patched,
    /// The object was deleted (or marked for deletion, when it has
    /// finalizers).
    Deleted,
    /// The object to delete was already gone.
    AlreadyGone,
    /// A file on the backup target was written.
    FileWritten,
    /// A file on the backup target already held these contents.
    FileUnchanged,
    /// A file on the backup target was deleted.
    FileDeleted,
}

/// Receives progress as a cluster is read and a plan is applied. Every
/// method has an empty default.
pub trait Progress: Send + Sync {
    /// A kind was listed (or found missing).
    fn listed(&self, _kind: Kind, _listing: &Listing) {}
    /// A round of applying starts with `steps` steps.
    fn round(&self, _round: usize, _steps: usize) {}
    /// Step `index` of the current round is done.
    fn step(&self, _index: usize, _step: &Step, _outcome: &Outcome) {}
    /// The round stopped at a step whose object changed; the cluster is
    /// read again and the plan made again.
    fn replanning(&self, _error: &StepError) {}
}

/// Progress that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// What an apply did, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Objects created.
    pub created: usize,
    /// Objects patched (objects or their status).
    pub patched: usize,
    /// Objects deleted.
    pub deleted: usize,
    /// Creates skipped: the object was already there.
    pub already_present: usize,
    /// Deletes skipped: the object was already gone.
    pub already_gone: usize,
    /// Files written on the backup target (or found already written).
    pub files_written: usize,
    /// Files deleted on the backup target.
    pub files_deleted: usize,
    /// Objects that were already there but differ from what the plan
    /// wanted, as `Kind namespace/name: fields`.
    pub differing: Vec<String>,
    /// Rounds of read, plan, apply.
    pub rounds: usize,
    /// Rounds cut short by an object that changed underneath.
    pub replans: usize,
}

impl Summary {
    /// Counts one step's outcome.
    pub fn record(&mut self, step: &Step, outcome: &Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::AlreadyPresent { differences } => {
                self.already_present += 1;
                if !differences.is_empty() {
                    self.differing.push(format!(
                        "{}: {}",
                        step.action.target(),
                        differences.join(", ")
                    ));
                }
            }
            Outcome::Patched => self.patched += 1,
            Outcome::Deleted => self.deleted += 1,
            Outcome::AlreadyGone => self.already_gone += 1,
            Outcome::FileWritten | Outcome::FileUnchanged => self.files_written += 1,
            Outcome::FileDeleted => self.files_deleted += 1,
        }
    }

    /// Steps skipped because their work was already done.
    pub fn skipped(&self) -> usize {
        self.already_present + self.already_gone
    }

    /// Whether nothing was changed.
    pub fn changed_nothing(&self) -> bool {
        self.created + self.patched + self.deleted + self.files_written + self.files_deleted == 0
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "created {}, patched {}, deleted {}, skipped {} (already present {}, already gone {})",
            self.created,
            self.patched,
            self.deleted,
            self.skipped(),
            self.already_present,
            self.already_gone
        )?;
        if self.files_written + self.files_deleted > 0 {
            write!(
                f,
                ", target files written {}, deleted {}",
                self.files_written, self.files_deleted
            )?;
        }
        if self.replans > 0 {
            write!(f, ", re-planned {} time(s)", self.replans)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmbackup_engine::{Action, ObjectRef, Precondition, Reconciler};

    fn delete_step() -> Step {
        Step {
            action: Action::Delete {
                target: ObjectRef::namespaced(Kind::VolumeSnapshot, "default", "s"),
                precondition: Precondition::none(),
            },
            reason: "r".into(),
            reconciler: Reconciler::HandleRepair,
        }
    }

    #[test]
    fn counts_and_prints_every_outcome() {
        let mut s = Summary::default();
        let step = delete_step();
        for o in [
            Outcome::Created,
            Outcome::Patched,
            Outcome::Patched,
            Outcome::Deleted,
            Outcome::AlreadyGone,
            Outcome::AlreadyPresent {
                differences: vec!["spec".into()],
            },
        ] {
            s.record(&step, &o);
        }
        assert_eq!(
            s.to_string(),
            "created 1, patched 2, deleted 1, skipped 2 (already present 1, already gone 1)"
        );
        assert_eq!(s.differing, ["VolumeSnapshot default/s: spec"]);
        assert!(!s.changed_nothing());
        assert!(Summary::default().changed_nothing());
    }
}
