//! The pure planner of vmbackup: from a view of the cluster, what the backup
//! target holds, and the time, compute a plan of actions and findings.
//!
//! ```text
//! View + TargetFacts + now + Options  --plan()-->  Plan { steps, findings, requeue }
//! ```
//!
//! No I/O, no clock reads, no randomness: shells read the cluster and the
//! target, call [`plan`], and execute the steps in order.

pub mod build;
pub mod conditions;
pub mod context;
pub mod finding;
pub mod merge_patch;
pub mod metadata;
pub mod naming;
pub mod object;
pub mod plan;
mod planner;
pub mod reconcile;
pub mod resolve;
pub mod target;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod view;

pub use context::{Options, RepairScope};
pub use finding::{Code, Finding, Severity};
pub use object::{Kind, NewObject, Object, ObjectRef};
pub use plan::{Action, Plan, Precondition, Reconciler, Requeue, Step};
pub use planner::plan;
pub use target::{TargetFacts, TargetState};
pub use view::View;
