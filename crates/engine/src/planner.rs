//! The entry point: run every reconciler over one View and assemble the plan.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use vmbackup_api::wellknown;

use crate::context::{Ctx, Options, Out, pinned};
use crate::finding::sort_findings;
use crate::merge_patch;
use crate::object::{Kind, ObjectRef};
use crate::plan::{Action, Plan, Reconciler, Step};
use crate::reconcile;
use crate::target::TargetFacts;
use crate::view::View;

/// Plans: from the cluster (`view`), the backup target (`target`) and the
/// time, the ordered actions to take, the findings for humans and when to
/// look again. Pure: the same inputs give the same plan.
pub fn plan(view: &View, target: &TargetFacts, now: DateTime<Utc>, options: &Options) -> Plan {
    let ctx = Ctx::new(view, target, now, options);
    let mut out = Out::default();
    let repair = reconcile::handles::repair_scope(&ctx, options);
    reconcile::handles::report(&ctx, &repair, &mut out);
    reconcile::classes::report(&ctx, &mut out);
    reconcile::backup::reconcile(&ctx, &repair, &mut out);
    reconcile::restore::reconcile(&ctx, &mut out);
    reconcile::sync::reconcile(&ctx, &mut out);
    reconcile::health::reconcile(&ctx, &mut out);
    let requeue = out.requeue_hint();
    let steps = safeguard(view, coalesce(out.steps));
    let mut findings = out.findings;
    sort_findings(&mut findings);
    Plan {
        steps,
        findings,
        requeue,
        wants_target_scan: out.wants_target_scan,
    }
}

/// One mutation per object: later patches of an object already patched are
/// merged into the first; repeated deletes and creates are dropped.
fn coalesce(steps: Vec<Step>) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::with_capacity(steps.len());
    let mut deleted = BTreeSet::new();
    let mut created = BTreeSet::new();
    // Index in `out` of the first patch (and first status patch) per object.
    let mut patched: BTreeMap<(bool, ObjectRef), usize> = BTreeMap::new();
    for step in steps {
        match &step.action {
            Action::Patch { target, patch, .. } | Action::PatchStatus { target, patch, .. } => {
                let key = (
                    matches!(step.action, Action::PatchStatus { .. }),
                    target.clone(),
                );
                if let Some(&at) = patched.get(&key) {
                    if let Action::Patch { patch: p, .. } | Action::PatchStatus { patch: p, .. } =
                        &mut out[at].action
                    {
                        merge_patch::apply(p, patch);
                    }
                    continue;
                }
                patched.insert(key, out.len());
            }
            Action::Delete { target, .. } => {
                if !deleted.insert(target.clone()) {
                    continue;
                }
            }
            Action::Create { object } => {
                if !created.insert(object.reference()) {
                    continue;
                }
            }
            Action::WriteTargetFile { .. } | Action::DeleteTargetFile { .. } => {}
        }
        out.push(step);
    }
    out
}

/// The last line of defence for "nothing is lost": a VolumeSnapshotContent
/// with deletion policy `Delete` is switched to `Retain` before any plan
/// deletes it, and nothing deletes a Longhorn Backup.
fn safeguard(view: &View, steps: Vec<Step>) -> Vec<Step> {
    let mut out = Vec::with_capacity(steps.len());
    let mut retained: BTreeSet<ObjectRef> = BTreeSet::new();
    for step in steps {
        match &step.action {
            Action::Patch { target, patch, .. }
                if target.kind == Kind::VolumeSnapshotContent
                    && patch
                        .pointer("/spec/deletionPolicy")
                        .and_then(|v| v.as_str())
                        == Some(wellknown::DELETION_POLICY_RETAIN) =>
            {
                retained.insert(target.clone());
            }
            Action::Delete { target, .. } if target.kind == Kind::LonghornBackup => continue,
            Action::Delete { target, .. }
                if target.kind == Kind::VolumeSnapshotContent && !retained.contains(target) =>
            {
                if let Some(c) = view.content(&target.name).filter(|c| c.deletes_data()) {
                    out.push(Step {
                        action: Action::Patch {
                            target: target.clone(),
                            precondition: pinned(&c.metadata),
                            patch: serde_json::json!({"spec": {"deletionPolicy": wellknown::DELETION_POLICY_RETAIN}}),
                        },
                        reason: "keep backup data: set Retain before deleting the content".into(),
                        reconciler: Reconciler::HandleRepair,
                    });
                    retained.insert(target.clone());
                }
            }
            _ => {}
        }
        out.push(step);
    }
    out
}
