//! Executing a plan's steps on a live cluster, idempotently:
//!
//! * **create** is create-or-get: `AlreadyExists` reads the object found and
//!   carries on (reporting how it differs from the one planned), unless it
//!   is being deleted;
//! * **patch** and **patch status** are JSON merge patches carrying the
//!   `metadata.resourceVersion` (and `uid`) the plan was made from, so the
//!   API server refuses them (409) if the object changed; status goes to
//!   the `status` subresource for kinds that have one;
//! * **delete** sends the plan's `uid` (and `resourceVersion`) as
//!   preconditions; an object already gone is done;
//! * a conflict or a vanished object stops execution with an error for
//!   which [`StepError::needs_replan`] holds: read the cluster again and
//!   plan again ([`crate::apply`] does);
//! * target-file steps go through the backup target library.
//!
//! Steps run in order and execution stops at the first failure, as the
//! engine expects: the next plan starts from the state reached.

mod compare;
mod target_files;

use std::collections::HashMap;

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions};
use serde_json::Value;
use vmbackup_backupstore::Target;
use vmbackup_engine::{Action, Object, ObjectRef, Precondition, Step};

use crate::error::StepError;
use crate::load::convert;
use crate::progress::{NoProgress, Outcome, Progress, Summary};
use crate::resources::api_for;
use crate::status::{Failure, failure, message};
use target_files::FileError;

/// Runs steps against one cluster (and optionally one backup target).
pub struct Executor<'a> {
    client: Client,
    target: Option<&'a Target>,
    progress: &'a dyn Progress,
}

impl std::fmt::Debug for Executor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("target", &self.target.map(Target::url))
            .finish_non_exhaustive()
    }
}

/// `resourceVersion`s our own writes moved an object through during one
/// execution: a later step pinned to the version the plan saw is pinned to
/// the version our write produced instead (the only change was ours).
#[derive(Debug, Default)]
struct OwnWrites {
    /// Object → (version the plan saw, version after our last write).
    versions: HashMap<ObjectRef, (String, String)>,
}

impl OwnWrites {
    fn resource_version(&self, target: &ObjectRef, planned: Option<&str>) -> Option<String> {
        let planned = planned?;
        match self.versions.get(target) {
            Some((seen, now)) if seen == planned => Some(now.clone()),
            _ => Some(planned.to_owned()),
        }
    }

    fn wrote(&mut self, target: &ObjectRef, planned: Option<&str>, after: Option<&str>) {
        let Some(after) = after else {
            return;
        };
        match self.versions.get_mut(target) {
            Some((_, now)) => *now = after.to_owned(),
            None => {
                if let Some(planned) = planned {
                    self.versions
                        .insert(target.clone(), (planned.to_owned(), after.to_owned()));
                }
            }
        }
    }
}

impl<'a> Executor<'a> {
    /// An executor on `client`, with no backup target and no progress.
    pub fn new(client: &Client) -> Executor<'static> {
        Executor {
            client: client.clone(),
            target: None,
            progress: &NoProgress,
        }
    }

    /// Target-file steps are carried out on `target`.
    #[must_use]
    pub fn with_target(self, target: Option<&'a Target>) -> Executor<'a> {
        Executor {
            client: self.client,
            target,
            progress: self.progress,
        }
    }

    /// Reports each step to `progress`.
    #[must_use]
    pub fn with_progress(self, progress: &'a dyn Progress) -> Executor<'a> {
        Executor {
            client: self.client,
            target: self.target,
            progress,
        }
    }

    /// Runs `steps` in order, counting what each did in `summary`; stops at
    /// the first step that fails. A plan that changes files on the backup
    /// target is refused as a whole, before anything is done, when no
    /// target was given.
    ///
    /// # Errors
    ///
    /// The failed step, typed: [`StepError::needs_replan`] tells whether a
    /// fresh read and plan is the answer.
    pub async fn run(&self, steps: &[Step], summary: &mut Summary) -> Result<(), StepError> {
        if self.target.is_none() {
            // Refuse before changing anything rather than stop half-way.
            let file_step = steps.iter().enumerate().find_map(|(i, s)| match &s.action {
                Action::WriteTargetFile { path, .. } | Action::DeleteTargetFile { path } => {
                    Some((i, s, path))
                }
                _ => None,
            });
            if let Some((index, step, path)) = file_step {
                return Err(StepError::NoTarget {
                    index,
                    step: format!("{} {}", step.action.verb(), step.action.target()),
                    path: path.clone(),
                });
            }
        }
        let mut own = OwnWrites::default();
        for (index, step) in steps.iter().enumerate() {
            let outcome = self.one(index, step, &mut own).await?;
            summary.record(step, &outcome);
            self.progress.step(index, step, &outcome);
        }
        Ok(())
    }

    /// Creates `object`, or finds it already there (create-or-get).
    ///
    /// # Errors
    ///
    /// As [`Executor::run`], for a one-step plan.
    pub async fn create_or_get(&self, object: &Object) -> Result<Outcome, StepError> {
        let at = At::new(0, "create", object.reference());
        self.create(&at, object).await
    }

    async fn one(
        &self,
        index: usize,
        step: &Step,
        own: &mut OwnWrites,
    ) -> Result<Outcome, StepError> {
        let at = At::new(index, step.action.verb(), step.action.target());
        match &step.action {
            Action::Create { object } => {
                let object = object.object().map_err(|e| at.invalid(e.to_string()))?;
                self.create(&at, &object).await
            }
            Action::Patch {
                target,
                precondition,
                patch,
            } => {
                self.patch(&at, target, precondition, &patch.to_value(), false, own)
                    .await
            }
            Action::PatchStatus {
                target,
                precondition,
                patch,
            } => {
                self.patch(&at, target, precondition, &patch.to_value(), true, own)
                    .await
            }
            Action::Delete {
                target,
                precondition,
            } => self.delete(&at, target, precondition, own).await,
            Action::WriteTargetFile { path, contents } => {
                let target = self.target_for(&at, path)?;
                match target_files::write(target, path, contents).await {
                    Ok(true) => Ok(Outcome::FileWritten),
                    Ok(false) => Ok(Outcome::FileUnchanged),
                    Err(e) => Err(at.file_error(path, e)),
                }
            }
            Action::DeleteTargetFile { path } => {
                let target = self.target_for(&at, path)?;
                target_files::delete(target, path)
                    .await
                    .map(|()| Outcome::FileDeleted)
                    .map_err(|e| at.file_error(path, e))
            }
        }
    }

    fn target_for(&self, at: &At, path: &str) -> Result<&'a Target, StepError> {
        self.target.ok_or_else(|| StepError::NoTarget {
            index: at.index,
            step: at.step.clone(),
            path: path.to_owned(),
        })
    }

    fn api(&self, at: &At, target: &ObjectRef) -> Result<Api<DynamicObject>, StepError> {
        api_for(&self.client, target)
            .ok_or_else(|| at.invalid(format!("{target} is not a cluster object")))
    }

    async fn create(&self, at: &At, object: &Object) -> Result<Outcome, StepError> {
        let target = object.reference();
        let api = self.api(at, &target)?;
        let mut body = convert::dynamic(object).map_err(|m| at.invalid(m))?;
        // A create must not carry a version; the server assigns one.
        body.metadata.resource_version = None;
        match api.create(&PostParams::default(), &body).await {
            Ok(_) => Ok(Outcome::Created),
            Err(e) if failure(&e) == Some(Failure::AlreadyExists) => {
                let found = match api.get(&target.name).await {
                    Ok(found) => found,
                    // Deleted between the create and the get: the view is stale.
                    Err(e) if failure(&e) == Some(Failure::NotFound) => return Err(at.gone()),
                    Err(e) => return Err(at.api(e)),
                };
                if found.metadata.deletion_timestamp.is_some() {
                    return Err(StepError::Terminating {
                        index: at.index,
                        step: at.step.clone(),
                        target: Box::new(target.clone()),
                    });
                }
                let found = serde_json::to_value(&found).unwrap_or(Value::Null);
                let differences = compare::differences(&object.to_value(), &found);
                if !differences.is_empty() {
                    tracing::warn!(%target, ?differences, "already exists and differs from the planned object");
                }
                Ok(Outcome::AlreadyPresent { differences })
            }
            Err(e) => Err(at.api(e)),
        }
    }

    async fn patch(
        &self,
        at: &At,
        target: &ObjectRef,
        precondition: &Precondition,
        patch: &Value,
        status: bool,
        own: &mut OwnWrites,
    ) -> Result<Outcome, StepError> {
        let api = self.api(at, target)?;
        let planned = precondition.resource_version.as_deref();
        let version = own.resource_version(target, planned);
        let body = pinned_patch(patch, precondition.uid.as_deref(), version.as_deref())
            .map_err(|m| at.invalid(m))?;
        let params = PatchParams::default();
        let sent = if status && target.kind.has_status_subresource() {
            api.patch_status(&target.name, &params, &Patch::Merge(&body))
                .await
        } else {
            api.patch(&target.name, &params, &Patch::Merge(&body)).await
        };
        match sent {
            Ok(after) => {
                own.wrote(target, planned, after.metadata.resource_version.as_deref());
                Ok(Outcome::Patched)
            }
            Err(e) => Err(self.patch_failure(at, &api, target, precondition, e).await),
        }
    }

    /// Why a patch failed. The API server refuses a changed `uid` as an
    /// invalid update (422) rather than a conflict: the object is read to
    /// tell a replaced object from a real refusal.
    async fn patch_failure(
        &self,
        at: &At,
        api: &Api<DynamicObject>,
        target: &ObjectRef,
        precondition: &Precondition,
        error: kube::Error,
    ) -> StepError {
        match failure(&error) {
            Some(Failure::Conflict) => at.conflict(message(&error)),
            Some(Failure::NotFound) => at.gone(),
            _ if is_invalid(&error) && precondition.uid.is_some() => {
                match api.get_opt(&target.name).await {
                    Ok(None) => at.gone(),
                    Ok(Some(found)) if found.metadata.uid != precondition.uid => {
                        at.conflict(format!(
                            "uid is {}, the plan was made for {}",
                            found.metadata.uid.as_deref().unwrap_or("unset"),
                            precondition.uid.as_deref().unwrap_or_default()
                        ))
                    }
                    _ => at.api(error),
                }
            }
            _ => at.api(error),
        }
    }

    async fn delete(
        &self,
        at: &At,
        target: &ObjectRef,
        precondition: &Precondition,
        own: &OwnWrites,
    ) -> Result<Outcome, StepError> {
        let api = self.api(at, target)?;
        let resource_version =
            own.resource_version(target, precondition.resource_version.as_deref());
        let params = DeleteParams {
            preconditions: (precondition.uid.is_some() || resource_version.is_some()).then(|| {
                Preconditions {
                    uid: precondition.uid.clone(),
                    resource_version,
                }
            }),
            ..DeleteParams::default()
        };
        match api.delete(&target.name, &params).await {
            Ok(_) => Ok(Outcome::Deleted),
            Err(e) => match failure(&e) {
                Some(Failure::NotFound) => Ok(Outcome::AlreadyGone),
                Some(Failure::Conflict) => Err(at.conflict(message(&e))),
                _ => Err(at.api(e)),
            },
        }
    }
}

/// `patch` with `metadata.uid` and `metadata.resourceVersion` set to the
/// preconditions: the API server then applies it only to that object in
/// that version.
fn pinned_patch(patch: &Value, uid: Option<&str>, version: Option<&str>) -> Result<Value, String> {
    let mut body = patch.clone();
    let Value::Object(map) = &mut body else {
        return Err("a merge patch must be a JSON object".into());
    };
    if uid.is_none() && version.is_none() {
        return Ok(body);
    }
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if meta.is_null() {
        *meta = Value::Object(serde_json::Map::new());
    }
    let Value::Object(meta) = meta else {
        return Err("the patch's metadata is not an object".into());
    };
    if let Some(uid) = uid {
        meta.insert("uid".into(), Value::String(uid.to_owned()));
    }
    if let Some(version) = version {
        meta.insert("resourceVersion".into(), Value::String(version.to_owned()));
    }
    Ok(body)
}

fn is_invalid(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if s.code == 422)
}

/// Where in the plan a failure happened.
struct At {
    index: usize,
    step: String,
    target: ObjectRef,
}

impl At {
    fn new(index: usize, verb: &str, target: ObjectRef) -> Self {
        At {
            index,
            step: format!("{verb} {target}"),
            target,
        }
    }

    fn conflict(&self, message: String) -> StepError {
        StepError::Conflict {
            index: self.index,
            step: self.step.clone(),
            target: Box::new(self.target.clone()),
            message,
        }
    }

    fn gone(&self) -> StepError {
        StepError::Gone {
            index: self.index,
            step: self.step.clone(),
            target: Box::new(self.target.clone()),
        }
    }

    fn api(&self, source: kube::Error) -> StepError {
        StepError::Api {
            index: self.index,
            step: self.step.clone(),
            source,
        }
    }

    fn invalid(&self, message: String) -> StepError {
        StepError::Invalid {
            index: self.index,
            step: self.step.clone(),
            message,
        }
    }

    fn file_error(&self, path: &str, error: FileError) -> StepError {
        match error {
            FileError::Unsupported(reason) => StepError::UnsupportedFile {
                index: self.index,
                step: self.step.clone(),
                path: path.to_owned(),
                reason,
            },
            FileError::Target(source) => StepError::Target {
                index: self.index,
                step: self.step.clone(),
                source: Box::new(source),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vmbackup_engine::Kind;

    #[test]
    fn patches_carry_the_preconditions_in_their_metadata() {
        let p = json!({"spec": {"deletionPolicy": "Retain"}});
        assert_eq!(
            pinned_patch(&p, Some("u1"), Some("7")).unwrap(),
            json!({"spec": {"deletionPolicy": "Retain"}, "metadata": {"uid": "u1", "resourceVersion": "7"}})
        );
        let p = json!({"metadata": {"finalizers": ["f"]}});
        assert_eq!(
            pinned_patch(&p, None, Some("3")).unwrap(),
            json!({"metadata": {"finalizers": ["f"], "resourceVersion": "3"}})
        );
        assert_eq!(pinned_patch(&p, None, None).unwrap(), p);
        assert!(pinned_patch(&json!([1]), None, Some("1")).is_err());
    }

    #[test]
    fn a_later_step_pinned_to_the_seen_version_follows_our_own_write() {
        let r = ObjectRef::namespaced(Kind::VirtualMachineBackup, "default", "b");
        let other = ObjectRef::namespaced(Kind::VirtualMachineBackup, "default", "c");
        let mut own = OwnWrites::default();
        assert_eq!(own.resource_version(&r, Some("7")).as_deref(), Some("7"));
        own.wrote(&r, Some("7"), Some("8"));
        assert_eq!(own.resource_version(&r, Some("7")).as_deref(), Some("8"));
        own.wrote(&r, Some("7"), Some("9"));
        assert_eq!(own.resource_version(&r, Some("7")).as_deref(), Some("9"));
        // Another version than the one seen is left alone (it would conflict).
        assert_eq!(own.resource_version(&r, Some("5")).as_deref(), Some("5"));
        assert_eq!(own.resource_version(&r, None), None);
        assert_eq!(
            own.resource_version(&other, Some("7")).as_deref(),
            Some("7")
        );
    }
}
