//! The vmbackup controller on the simulated cluster: each round it reads
//! the whole cluster into a fresh View and the backup target into facts,
//! asks the real engine for a plan, and executes the plan's actions in
//! order against the API server and the target, stopping at the first one
//! that fails. Crash injection stops it right after the k-th executed
//! action; the next round starts again from a fresh View, as a restarted
//! controller would.

use vmbackup_api::harvester::Setting;
use vmbackup_api::wellknown;
use vmbackup_engine::{Action, Finding, Options, Plan, Step, TargetFacts, View, plan};

use crate::env::Env;
use crate::store::{ApiError, Part};
use crate::target::TargetError;

/// Why an action could not be executed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The API server refused it.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The backup target refused it.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A target file action while no target in reach is configured.
    #[error("no backup target in reach is configured")]
    NoTarget,
}

/// An action the controller executed.
#[derive(Debug, Clone)]
pub struct Executed {
    /// When (simulated time).
    pub time: String,
    /// The step.
    pub step: Step,
}

/// An action that failed.
#[derive(Debug, Clone)]
pub struct Failed {
    /// When (simulated time).
    pub time: String,
    /// The step.
    pub step: Step,
    /// Why.
    pub error: String,
}

/// What one round of the controller did.
#[derive(Debug, Clone, Default)]
pub struct RoundOutcome {
    /// Actions executed.
    pub executed: usize,
    /// Whether a target file was written or deleted.
    pub target_changed: bool,
    /// Whether the crash fired in this round.
    pub crashed: bool,
}

/// The controller and what it has done so far.
#[derive(Debug, Default)]
pub struct Controller {
    enabled: bool,
    options: Options,
    sync_once: bool,
    crash_after: Option<usize>,
    since_start: usize,
    crashes: usize,
    executed: Vec<Executed>,
    failures: Vec<Failed>,
    last_plan: Option<Plan>,
}

impl Controller {
    /// A running controller with default options.
    pub fn new() -> Self {
        Controller {
            enabled: true,
            ..Controller::default()
        }
    }

    /// Starts or stops the controller (a stopped one plans nothing).
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// Whether it runs.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The options passed to the engine.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Changes the options passed to the engine.
    pub fn options_mut(&mut self) -> &mut Options {
        &mut self.options
    }

    /// Asks for one rediscovery on the next round (the `vmbackup.io/sync-requested-at` annotation).
    pub fn request_sync(&mut self) {
        self.sync_once = true;
    }

    /// Crashes the controller right after its `k`-th executed action from
    /// now (k ≥ 1). It restarts on the next round.
    pub fn crash_after(&mut self, k: usize) {
        self.crash_after = Some(k);
        self.since_start = 0;
    }

    /// How many times it crashed.
    pub fn crashes(&self) -> usize {
        self.crashes
    }

    /// Every action executed, oldest first.
    pub fn executed(&self) -> &[Executed] {
        &self.executed
    }

    /// Every action that failed, oldest first.
    pub fn failures(&self) -> &[Failed] {
        &self.failures
    }

    /// The last plan computed.
    pub fn last_plan(&self) -> Option<&Plan> {
        self.last_plan.as_ref()
    }

    /// The findings of the last plan.
    pub fn findings(&self) -> &[Finding] {
        self.last_plan
            .as_ref()
            .map(|p| p.findings.as_slice())
            .unwrap_or_default()
    }

    /// The target facts the engine gets: read from the target when the
    /// configured target is the one in reach.
    pub fn facts(env: &Env) -> Option<TargetFacts> {
        let setting = env
            .store
            .get_as::<Setting>("", wellknown::SETTING_BACKUP_TARGET)?;
        let config = setting.backup_target().ok().filter(|s| !s.is_unset())?;
        let url = config.url();
        Some(match env.target_at(&url) {
            Some(server) => server.facts(),
            None => TargetFacts::not_read(url),
        })
    }

    /// Plans once and executes the plan.
    pub fn round(&mut self, env: &mut Env) -> RoundOutcome {
        let mut outcome = RoundOutcome::default();
        if !self.enabled {
            return outcome;
        }
        let view = View::complete(env.store.objects().cloned());
        let facts = Self::facts(env).unwrap_or_else(|| TargetFacts::not_read(""));
        let mut options = self.options.clone();
        options.sync_now |= std::mem::take(&mut self.sync_once);
        let plan = plan(&view, &facts, env.clock.now(), &options);
        for step in &plan.steps {
            let time = env.now();
            match execute(env, &step.action) {
                Ok(()) => {
                    outcome.executed += 1;
                    outcome.target_changed |= matches!(
                        step.action,
                        Action::WriteTargetFile { .. } | Action::DeleteTargetFile { .. }
                    );
                    self.executed.push(Executed {
                        time,
                        step: step.clone(),
                    });
                    self.since_start += 1;
                    if self.crash_after.is_some_and(|k| self.since_start >= k) {
                        self.crash_after = None;
                        self.crashes += 1;
                        outcome.crashed = true;
                        break;
                    }
                }
                Err(e) => {
                    self.failures.push(Failed {
                        time,
                        step: step.clone(),
                        error: e.to_string(),
                    });
                    break;
                }
            }
        }
        self.last_plan = Some(plan);
        outcome
    }
}

/// Executes one action as a shell would: creates are create-or-get, patches
/// go to the object or its status, deletes carry their preconditions, and
/// target files go through the `backupstore` crate.
pub fn execute(env: &mut Env, action: &Action) -> Result<(), ActionError> {
    match action {
        Action::Create { object } => {
            let typed = object.object().map_err(|e| ApiError::Invalid {
                object: object.reference().to_string(),
                message: e.to_string(),
            })?;
            match env.store.create(typed) {
                Ok(_) | Err(ApiError::AlreadyExists { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        Action::Patch {
            target,
            precondition,
            patch,
        } => Ok(env
            .store
            .merge_patch(target, precondition, &patch.to_value(), Part::Main)?),
        Action::PatchStatus {
            target,
            precondition,
            patch,
        } => Ok(env
            .store
            .merge_patch(target, precondition, &patch.to_value(), Part::Status)?),
        Action::Delete {
            target,
            precondition,
        } => {
            env.store.delete(target, precondition)?;
            Ok(())
        }
        Action::WriteTargetFile { path, contents } => {
            let server = configured_server(env).ok_or(ActionError::NoTarget)?;
            Ok(server.write_file(path, contents)?)
        }
        Action::DeleteTargetFile { path } => {
            let server = configured_server(env).ok_or(ActionError::NoTarget)?;
            Ok(server.delete_file(path)?)
        }
    }
}

fn configured_server<'a>(env: &Env<'a>) -> Option<&'a crate::target::TargetServer> {
    let setting = env
        .store
        .get_as::<Setting>("", wellknown::SETTING_BACKUP_TARGET)?;
    let config = setting.backup_target().ok().filter(|s| !s.is_unset())?;
    env.target_at(&config.url())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::events::Events;
    use crate::store::Store;
    use serde_json::json;
    use vmbackup_engine::{Kind, NewObject, Object, ObjectRef, Precondition};

    #[test]
    fn creates_are_create_or_get_but_not_over_an_object_being_deleted() {
        let mut store = Store::new("ctl-test");
        let mut events = Events::default();
        let mut env = Env {
            store: &mut store,
            events: &mut events,
            clock: Clock::default(),
            server: None,
        };
        let ns = Object::from_value(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "finalizers": ["f"]}}),
        )
        .unwrap();
        let create = Action::Create {
            object: NewObject::from(ns),
        };
        execute(&mut env, &create).unwrap();
        execute(&mut env, &create).unwrap();
        env.store
            .delete(
                &ObjectRef::cluster(Kind::Namespace, "n"),
                &Precondition::none(),
            )
            .unwrap();
        let e = execute(&mut env, &create).unwrap_err();
        assert!(e.to_string().contains("being deleted"), "{e}");
        let write = Action::WriteTargetFile {
            path: "harvester/vmbackups/a/b.cfg".into(),
            contents: "{}".into(),
        };
        assert!(matches!(
            execute(&mut env, &write),
            Err(ActionError::NoTarget)
        ));
    }
}
