//! Applying a plan to a View, as an API server would (create, merge patch,
//! delete with preconditions and finalizers) and to the target facts, for
//! tests that check what plans do. External controllers (snapshot
//! controller, Longhorn, KubeVirt) are not modelled.
//!
//! Objects created here get a UID the way an API server gives one, except
//! that it is deterministic: derived from the object's kind, namespace and
//! name ([`uid_for`]), so the same plan applied twice gives the same
//! objects. The planner cannot know a UID before the object exists, so a
//! plan that creates an object which others must reference by UID (an
//! owner) needs one more plan after it is applied.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::metadata::VmBackupMetadata;
use crate::object::{Object, ObjectRef};
use crate::plan::{Action, Precondition, Step};
use crate::target::{TargetFacts, TargetState};
use crate::view::View;

/// Why applying a step failed (the shell would stop there).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// A patch of an object that does not exist.
    #[error("step {step}: {target} not found")]
    NotFound {
        /// Index of the step.
        step: usize,
        /// The object.
        target: String,
    },
    /// A precondition does not hold.
    #[error("step {step}: precondition failed on {target}: {what}")]
    Conflict {
        /// Index of the step.
        step: usize,
        /// The object.
        target: String,
        /// Which precondition.
        what: String,
    },
    /// Creating an object whose name is held by one being deleted.
    #[error("step {step}: {target} is still being deleted")]
    Terminating {
        /// Index of the step.
        step: usize,
        /// The object.
        target: String,
    },
    /// A patch produced an object that does not decode.
    #[error("step {step}: patch of {target} gives an invalid object: {message}")]
    Invalid {
        /// Index of the step.
        step: usize,
        /// The object.
        target: String,
        /// Decoder message.
        message: String,
    },
}

/// Applies `steps` in order; stops at the first failing step, returning the
/// state reached so far together with the error.
pub fn apply(
    view: &View,
    target: &TargetFacts,
    steps: &[Step],
) -> (View, TargetFacts, Option<ApplyError>) {
    let mut objects: BTreeMap<ObjectRef, Object> = view
        .objects()
        .into_iter()
        .map(|o| (o.reference(), o))
        .collect();
    let mut facts = target.clone();
    let mut error = None;
    for (i, step) in steps.iter().enumerate() {
        if let Err(e) = apply_one(&mut objects, &mut facts, i, &step.action) {
            error = Some(e);
            break;
        }
    }
    (view.with_objects(objects.into_values()), facts, error)
}

/// The UID [`apply`] gives a created object: a UUID-shaped digest of its
/// kind, namespace and name.
pub fn uid_for(r: &ObjectRef) -> String {
    let key = format!(
        "{}/{}/{}",
        r.kind,
        r.namespace.as_deref().unwrap_or_default(),
        r.name
    );
    let h = hex::encode(Sha256::digest(key.as_bytes()));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn check(
    i: usize,
    target: &ObjectRef,
    object: &Object,
    pre: &Precondition,
) -> Result<(), ApplyError> {
    let meta = object.meta();
    if let Some(uid) = &pre.uid
        && meta.uid.as_ref() != Some(uid)
    {
        return Err(ApplyError::Conflict {
            step: i,
            target: target.to_string(),
            what: format!("uid {uid}"),
        });
    }
    if let Some(rv) = &pre.resource_version
        && meta.resource_version.as_ref() != Some(rv)
    {
        return Err(ApplyError::Conflict {
            step: i,
            target: target.to_string(),
            what: format!("resourceVersion {rv}"),
        });
    }
    Ok(())
}

fn bump(object: &mut Object) {
    let meta = object.meta_mut();
    let next = meta
        .resource_version
        .as_deref()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    meta.resource_version = Some(next.to_string());
}

fn apply_one(
    objects: &mut BTreeMap<ObjectRef, Object>,
    facts: &mut TargetFacts,
    i: usize,
    action: &Action,
) -> Result<(), ApplyError> {
    match action {
        Action::Create { object } => {
            let r = object.reference();
            if let Some(existing) = objects.get(&r) {
                if existing.meta().deletion_timestamp.is_some() {
                    return Err(ApplyError::Terminating {
                        step: i,
                        target: r.to_string(),
                    });
                }
                return Ok(());
            }
            let mut created = object.object().map_err(|e| ApplyError::Invalid {
                step: i,
                target: r.to_string(),
                message: e.to_string(),
            })?;
            created.meta_mut().resource_version = Some("1".into());
            if created.meta().uid.as_deref().is_none_or(str::is_empty) {
                created.meta_mut().uid = Some(uid_for(&r));
            }
            objects.insert(r, created);
        }
        Action::Patch {
            target,
            precondition,
            patch,
        }
        | Action::PatchStatus {
            target,
            precondition,
            patch,
        } => {
            let Some(existing) = objects.get(target) else {
                return Err(ApplyError::NotFound {
                    step: i,
                    target: target.to_string(),
                });
            };
            check(i, target, existing, precondition)?;
            let mut value = existing.to_value();
            patch.apply_to(&mut value);
            let mut patched = Object::from_value(value).map_err(|e| ApplyError::Invalid {
                step: i,
                target: target.to_string(),
                message: e.to_string(),
            })?;
            bump(&mut patched);
            let gone = patched.meta().deletion_timestamp.is_some()
                && patched.meta().finalizers.as_ref().is_none_or(Vec::is_empty);
            if gone {
                objects.remove(target);
            } else {
                objects.insert(target.clone(), patched);
            }
        }
        Action::Delete {
            target,
            precondition,
        } => {
            let Some(existing) = objects.get_mut(target) else {
                return Ok(());
            };
            check(i, target, existing, precondition)?;
            if existing
                .meta()
                .finalizers
                .as_ref()
                .is_some_and(|f| !f.is_empty())
            {
                if existing.meta().deletion_timestamp.is_none() {
                    existing.meta_mut().deletion_timestamp =
                        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                        ));
                    bump(existing);
                }
            } else {
                objects.remove(target);
            }
        }
        Action::WriteTargetFile { path, contents } => {
            if let TargetState::Listed(listing) = &mut facts.state
                && let Ok(doc) = serde_json::from_str::<VmBackupMetadata>(contents)
            {
                listing.vm_backups.insert(
                    (doc.namespace_or_default().to_owned(), doc.name.clone()),
                    doc,
                );
            }
            let _ = path;
        }
        Action::DeleteTargetFile { path } => {
            if let TargetState::Listed(listing) = &mut facts.state {
                listing.vm_backups.retain(|(ns, name), _| {
                    crate::naming::vmbackup_metadata_path(ns, name) != *path
                });
            }
        }
    }
    Ok(())
}
