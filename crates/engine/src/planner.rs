//! The entry point: run every reconciler over one View and assemble the plan.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use vmbackup_api::wellknown;

use crate::context::{Ctx, Options, Out, pinned};
use crate::finding::sort_findings;
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

/// What one step mutates: the kind of mutation (patch, status patch,
/// delete, create) and the object's kind, namespace and name, borrowed from
/// the step where it can be. Two steps with the same key mutate the same
/// thing in the same way.
type MutationKey<'a> = (u8, Kind, Option<Cow<'a, str>>, Cow<'a, str>);

fn of(mutation: u8, r: &ObjectRef) -> MutationKey<'_> {
    (
        mutation,
        r.kind,
        r.namespace.as_deref().map(Cow::Borrowed),
        Cow::Borrowed(r.name.as_str()),
    )
}

fn mutation_key(step: &Step) -> Option<MutationKey<'_>> {
    match &step.action {
        Action::Patch { target, .. } => Some(of(0, target)),
        Action::PatchStatus { target, .. } => Some(of(1, target)),
        Action::Delete { target, .. } => Some(of(2, target)),
        Action::Create { object } => {
            let (namespace, name) = object.namespace_and_name();
            Some((3, object.kind(), namespace, name))
        }
        Action::WriteTargetFile { .. } | Action::DeleteTargetFile { .. } => None,
    }
}

fn key_hash(key: &MutationKey<'_>) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    h.finish()
}

/// For every step, the earlier step that makes the same mutation of the
/// same object, if there is one. Found through a sorted table of key hashes
/// (keys are compared only when hashes are equal), so that a plan of tens
/// of thousands of steps needs no map of their keys.
fn repeats(steps: &[Step]) -> Vec<Option<u32>> {
    let mut hashes: Vec<(u64, u32)> = steps
        .iter()
        .zip(0u32..)
        .filter_map(|(step, i)| mutation_key(step).map(|k| (key_hash(&k), i)))
        .collect();
    hashes.sort_unstable();
    let mut first = vec![None; steps.len()];
    for group in hashes.chunk_by(|a, b| a.0 == b.0) {
        if group.len() < 2 {
            continue;
        }
        // In step order; each step repeats the first earlier one with an
        // equal key that is not itself a repeat.
        for (at, &(_, i)) in group.iter().enumerate() {
            let key = mutation_key(&steps[i as usize]);
            first[i as usize] = group[..at]
                .iter()
                .map(|&(_, j)| j)
                .find(|&j| first[j as usize].is_none() && mutation_key(&steps[j as usize]) == key);
        }
    }
    first
}

/// One mutation per object: later patches of an object already patched are
/// merged into the first; repeated deletes and creates are dropped. Done in
/// place: a plan's steps are not copied.
fn coalesce(mut steps: Vec<Step>) -> Vec<Step> {
    enum Fate {
        Keep,
        Drop,
        MergeInto(usize),
    }
    let fates: Vec<Fate> = {
        let repeats = repeats(&steps);
        // Position among the kept steps of every kept step.
        let mut position = vec![0u32; steps.len()];
        let mut kept = 0u32;
        steps
            .iter()
            .zip(repeats)
            .enumerate()
            .map(|(i, (step, repeat))| match repeat {
                None => {
                    position[i] = kept;
                    kept += 1;
                    Fate::Keep
                }
                Some(first) => match step.action {
                    Action::Patch { .. } | Action::PatchStatus { .. } => {
                        Fate::MergeInto(position[first as usize] as usize)
                    }
                    _ => Fate::Drop,
                },
            })
            .collect()
    };
    let mut kept = 0;
    for (i, fate) in fates.into_iter().enumerate() {
        match fate {
            Fate::Keep => {
                steps.swap(kept, i);
                kept += 1;
            }
            Fate::Drop => {}
            Fate::MergeInto(at) => {
                let (head, tail) = steps.split_at_mut(i);
                if let (
                    Action::Patch { patch: first, .. } | Action::PatchStatus { patch: first, .. },
                    Action::Patch { patch, .. } | Action::PatchStatus { patch, .. },
                ) = (&mut head[at].action, &tail[0].action)
                {
                    first.merge(patch);
                }
            }
        }
    }
    steps.truncate(kept);
    steps
}

/// The last line of defence for "nothing is lost": a VolumeSnapshotContent
/// with deletion policy `Delete` is switched to `Retain` before any plan
/// deletes it, and nothing deletes a Longhorn Backup.
fn safeguard(view: &View, steps: Vec<Step>) -> Vec<Step> {
    // First what must change: steps to insert (before the step at an
    // index) and steps to drop. Most plans need neither and are returned as
    // they are, without a copy.
    let mut insert: Vec<(usize, Step)> = Vec::new();
    let mut drop: BTreeSet<usize> = BTreeSet::new();
    let mut retained: BTreeSet<&ObjectRef> = BTreeSet::new();
    for (i, step) in steps.iter().enumerate() {
        match &step.action {
            Action::Patch { target, patch, .. }
                if target.kind == Kind::VolumeSnapshotContent
                    && patch.string_at("/spec/deletionPolicy").as_deref()
                        == Some(wellknown::DELETION_POLICY_RETAIN) =>
            {
                retained.insert(target);
            }
            Action::Delete { target, .. } if target.kind == Kind::LonghornBackup => {
                drop.insert(i);
            }
            Action::Delete { target, .. }
                if target.kind == Kind::VolumeSnapshotContent && !retained.contains(target) =>
            {
                if let Some(c) = view.content(&target.name).filter(|c| c.deletes_data()) {
                    insert.push((
                        i,
                        Step {
                            action: Action::Patch {
                                target: target.clone(),
                                precondition: pinned(&c.metadata),
                                patch: serde_json::json!({"spec": {"deletionPolicy": wellknown::DELETION_POLICY_RETAIN}}).into(),
                            },
                            reason: "keep backup data: set Retain before deleting the content"
                                .into(),
                            reconciler: Reconciler::HandleRepair,
                        },
                    ));
                    retained.insert(target);
                }
            }
            _ => {}
        }
    }
    if insert.is_empty() && drop.is_empty() {
        return steps;
    }
    let mut out = Vec::with_capacity(steps.len() + insert.len());
    let mut insert = insert.into_iter().peekable();
    for (i, step) in steps.into_iter().enumerate() {
        while let Some((_, before)) = insert.next_if(|(at, _)| *at == i) {
            out.push(before);
        }
        if !drop.contains(&i) {
            out.push(step);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::merge_patch::MergePatch;
    use crate::object::{NewObject, Object};
    use crate::plan::Precondition;

    fn step(action: Action) -> Step {
        Step {
            action,
            reason: "r".into(),
            reconciler: Reconciler::Backup,
        }
    }

    fn patch(kind: Kind, ns: &str, name: &str, status: bool, value: serde_json::Value) -> Step {
        step(crate::context::patch_of(
            ObjectRef::new(kind, Some(ns), name),
            Precondition::none(),
            MergePatch::from(value),
            status,
        ))
    }

    fn create(value: serde_json::Value) -> Step {
        step(Action::Create {
            object: NewObject::from(Object::from_value(value).unwrap()),
        })
    }

    fn delete(kind: Kind, name: &str) -> Step {
        step(Action::Delete {
            target: ObjectRef::new(kind, None, name),
            precondition: Precondition::none(),
        })
    }

    #[test]
    fn one_mutation_per_object_and_kind_of_mutation() {
        let vmb = Kind::VirtualMachineBackup;
        let pvc = |ns: Option<&str>| {
            let mut metadata = json!({"name": "p"});
            if let Some(ns) = ns {
                metadata["namespace"] = json!(ns);
            }
            create(
                json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata}),
            )
        };
        let steps = vec![
            patch(vmb, "a", "b", false, json!({"metadata": {"x": 1}})),
            patch(vmb, "a", "b", true, json!({"status": {"y": 1}})),
            pvc(None),
            delete(Kind::VolumeSnapshotContent, "c"),
            patch(vmb, "other", "b", false, json!({"metadata": {"x": 3}})),
            patch(vmb, "a", "b", false, json!({"metadata": {"x": 2, "z": 1}})),
            // The same PVC: no namespace means `default`.
            pvc(Some("default")),
            pvc(Some("ns")),
            delete(Kind::VolumeSnapshotContent, "c"),
            patch(vmb, "a", "b", true, json!({"status": {"w": 1}})),
        ];
        let kept = coalesce(steps);
        let summary: Vec<String> = kept
            .iter()
            .map(|s| match &s.action {
                Action::Patch { patch, .. } | Action::PatchStatus { patch, .. } => {
                    format!("{} {} {}", s.action.verb(), s.action.target(), patch)
                }
                _ => format!("{} {}", s.action.verb(), s.action.target()),
            })
            .collect();
        assert_eq!(
            summary,
            [
                r#"patch VirtualMachineBackup a/b {"metadata":{"x":2,"z":1}}"#,
                r#"patch-status VirtualMachineBackup a/b {"status":{"w":1,"y":1}}"#,
                "create PersistentVolumeClaim default/p",
                "delete VolumeSnapshotContent c",
                r#"patch VirtualMachineBackup other/b {"metadata":{"x":3}}"#,
                "create PersistentVolumeClaim ns/p",
            ]
        );
    }
}
