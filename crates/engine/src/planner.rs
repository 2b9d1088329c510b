//! The entry point: run every reconciler over one View and assemble the plan.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use vmbackup_api::wellknown;

use crate::context::{Ctx, Options, Out, pinned};
use crate::finding::sort_findings;
use crate::object::{Kind, Object, ObjectRef};
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

/// `(kind, namespace, name)` of an object, borrowed: what tells two
/// [`ObjectRef`]s apart (the `apiVersion` follows from the kind).
type RefKey<'a> = (Kind, Option<&'a str>, &'a str);

fn ref_key(r: &ObjectRef) -> RefKey<'_> {
    (r.kind, r.namespace.as_deref(), &r.name)
}

/// [`ref_key`] of [`Object::reference`], without building the reference.
fn object_key(object: &Object) -> RefKey<'_> {
    let kind = object.kind();
    let meta = object.meta();
    let namespace = match (kind.namespaced(), meta.namespace.as_deref()) {
        (true, Some(ns)) => Some(ns),
        (true, None) => Some("default"),
        (false, _) => None,
    };
    (kind, namespace, meta.name.as_deref().unwrap_or_default())
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
    // Every step's fate, decided on borrowed references.
    let fates: Vec<Fate> = {
        let mut deleted = BTreeSet::new();
        let mut created = BTreeSet::new();
        // Position among the kept steps of the first patch (and first
        // status patch) per object.
        let mut patched: BTreeMap<(bool, RefKey<'_>), usize> = BTreeMap::new();
        let mut kept = 0;
        steps
            .iter()
            .map(|step| {
                let fate = match &step.action {
                    Action::Patch { target, .. } | Action::PatchStatus { target, .. } => {
                        let key = (
                            matches!(step.action, Action::PatchStatus { .. }),
                            ref_key(target),
                        );
                        match patched.get(&key) {
                            Some(&at) => Fate::MergeInto(at),
                            None => {
                                patched.insert(key, kept);
                                Fate::Keep
                            }
                        }
                    }
                    Action::Delete { target, .. } if !deleted.insert(ref_key(target)) => Fate::Drop,
                    Action::Create { object } if !created.insert(object_key(object)) => Fate::Drop,
                    _ => Fate::Keep,
                };
                if matches!(fate, Fate::Keep) {
                    kept += 1;
                }
                fate
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
    use super::*;
    use serde_json::json;

    #[test]
    fn an_object_key_is_the_key_of_its_reference() {
        for value in [
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": "s"}, "spec": {"source": {}}}),
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": "s", "namespace": "ns"}, "spec": {"source": {}}}),
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
                "metadata": {"name": "c", "namespace": "ignored"}, "spec": {"source": {}, "volumeSnapshotRef": {}}}),
        ] {
            let object = Object::from_value(value).unwrap();
            assert_eq!(object_key(&object), ref_key(&object.reference()));
        }
    }
}
