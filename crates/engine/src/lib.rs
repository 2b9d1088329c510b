//! The pure planner of vmbackup: from a view of the cluster, what the backup
//! target holds, and the time, compute a plan of actions and findings.

pub mod finding;
pub mod merge_patch;
pub mod metadata;
pub mod naming;
pub mod object;
pub mod plan;
pub mod target;
pub mod view;
