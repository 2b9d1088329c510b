//! Test support: the objects of a small Harvester cluster with a legacy
//! snapshot handle, a stateful fake API server, and a scripted one that
//! checks every request.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

pub mod cluster;
pub mod fake;
pub mod scripted;

use chrono::{DateTime, TimeZone, Utc};
use vmbackup_engine::{Options, RepairScope, Step, TargetFacts, View};

/// The time plans are made at.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

/// The engine's repair plan for every VMBackup, from `view`.
pub fn repair_plan(view: &View) -> Vec<Step> {
    let options = Options {
        repair: RepairScope::All,
        ..Options::default()
    };
    vmbackup_engine::plan(view, &TargetFacts::not_read(cluster::NFS), now(), &options).steps
}

/// Steps as `verb Kind name` lines.
pub fn summary(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .map(|s| {
            let t = s.action.target();
            format!("{} {} {}", s.action.verb(), t.kind, t.name)
        })
        .collect()
}
