//! One simulated cluster: the API server, the vmbackup controller running
//! the real engine, and the external controllers (snapshot controller,
//! external provisioner, Longhorn, KubeVirt, Harvester's setting
//! controller), stepped in rounds on a simulated clock.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vmbackup_api::VolumeSnapshotClass;
use vmbackup_api::core::{Namespace, StorageClass};
use vmbackup_api::harvester::{BackupTargetSetting, BackupTargetType, Setting};
use vmbackup_api::longhorn::{BackupTarget, BackupTargetSpec};
use vmbackup_api::wellknown;
use vmbackup_engine::ObjectRef;

use crate::clock::Clock;
use crate::controller::Controller;
use crate::env::Env;
use crate::error::SimError;
use crate::events::Events;
use crate::longhorn::{self, Longhorn, LonghornVersion};
use crate::store::Store;
use crate::target::TargetServer;
use crate::{kubevirt, platform, provisioner, snapshots};

/// How long one round takes on the simulated clock (the external
/// controllers act this long after the vmbackup controller).
pub const ROUND: Duration = Duration::from_secs(1);
/// Rounds [`Cluster::run_until_settled`] allows before giving up.
pub const MAX_ROUNDS: usize = 400;

/// What one round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Whether any object, or the target, changed.
    pub changed: bool,
    /// Actions the controller executed.
    pub executed: usize,
    /// Whether the controller crashed in this round.
    pub crashed: bool,
}

/// What a run until nothing changes did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Settled {
    /// Rounds run (the last one changed nothing).
    pub rounds: usize,
    /// Actions the controller executed.
    pub actions: usize,
}

/// One simulated cluster.
#[derive(Debug)]
pub struct Cluster {
    name: String,
    store: Store,
    events: Events,
    clock: Clock,
    server: Option<Arc<TargetServer>>,
    longhorn: Longhorn,
    controller: Controller,
}

impl Cluster {
    /// A new cluster named `name`, keeping volume data under `data_dir`,
    /// with `server` on its network (not configured as its target yet). It
    /// has the namespaces, storage class, snapshot classes, settings and
    /// Longhorn BackupTarget of a fresh Harvester installation.
    pub fn new(
        name: &str,
        version: LonghornVersion,
        data_dir: &Path,
        server: Option<Arc<TargetServer>>,
    ) -> Result<Self, SimError> {
        let mut cluster = Cluster {
            name: name.to_owned(),
            store: Store::new(name),
            events: Events::default(),
            clock: Clock::default(),
            server,
            longhorn: Longhorn::new(version, data_dir, name)?,
            controller: Controller::new(),
        };
        cluster.install()?;
        Ok(cluster)
    }

    fn install(&mut self) -> Result<(), SimError> {
        for ns in ["default", longhorn::NAMESPACE, "harvester-system"] {
            self.store.create(Namespace {
                metadata: ObjectMeta {
                    name: Some(ns.to_owned()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            })?;
        }
        self.store.create(StorageClass {
            metadata: ObjectMeta {
                name: Some("longhorn".into()),
                ..ObjectMeta::default()
            },
            provisioner: wellknown::LONGHORN_CSI_DRIVER.into(),
            reclaim_policy: Some("Delete".into()),
            allow_volume_expansion: Some(true),
            parameters: Some(BTreeMap::from([
                ("numberOfReplicas".to_owned(), "3".to_owned()),
                ("staleReplicaTimeout".to_owned(), "30".to_owned()),
            ])),
            ..StorageClass::default()
        })?;
        for (name, params) in [
            (wellknown::VSCLASS_LONGHORN_BACKUP, None),
            (
                wellknown::VSCLASS_LONGHORN_SNAPSHOT,
                Some(BTreeMap::from([(
                    wellknown::VSCLASS_PARAMETER_TYPE.to_owned(),
                    "snap".to_owned(),
                )])),
            ),
        ] {
            self.store.create(VolumeSnapshotClass {
                metadata: ObjectMeta {
                    name: Some(name.to_owned()),
                    ..ObjectMeta::default()
                },
                driver: wellknown::LONGHORN_CSI_DRIVER.into(),
                parameters: params,
                deletion_policy: wellknown::DELETION_POLICY_DELETE.into(),
                ..VolumeSnapshotClass::default()
            })?;
        }
        for (name, default) in [
            (wellknown::SETTING_BACKUP_TARGET, ""),
            (
                wellknown::SETTING_VOLUME_SNAPSHOT_CLASS,
                wellknown::VSCLASS_LONGHORN_BACKUP,
            ),
        ] {
            self.store.create(Setting {
                metadata: ObjectMeta {
                    name: Some(name.to_owned()),
                    ..ObjectMeta::default()
                },
                value: Some(String::new()),
                default: Some(default.to_owned()),
                ..Setting::default()
            })?;
        }
        self.store.create(BackupTarget {
            metadata: ObjectMeta {
                name: Some(longhorn::TARGET.to_owned()),
                namespace: Some(longhorn::NAMESPACE.to_owned()),
                ..ObjectMeta::default()
            },
            spec: BackupTargetSpec {
                backup_target_url: Some(String::new()),
                poll_interval: Some("300s".into()),
                ..BackupTargetSpec::default()
            },
            ..BackupTarget::default()
        })?;
        Ok(())
    }

    /// A copy of this cluster (objects, events, clock, Longhorn's data in
    /// `data_dir`) on the network of `server`, with a fresh controller that
    /// has the same options: to explore several futures of one state.
    pub fn fork(
        &self,
        data_dir: &Path,
        server: Option<Arc<TargetServer>>,
    ) -> Result<Cluster, SimError> {
        let mut controller = Controller::new();
        controller.set_enabled(self.controller.is_enabled());
        *controller.options_mut() = self.controller.options().clone();
        Ok(Cluster {
            name: self.name.clone(),
            store: self.store.clone(),
            events: self.events.clone(),
            clock: self.clock,
            server,
            longhorn: self.longhorn.fork(data_dir)?,
            controller,
        })
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The API server.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The API server, for scenario steps that act as a user or admin.
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Events and component logs.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// The simulated clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The vmbackup controller.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// The vmbackup controller, to change options or inject a crash.
    pub fn controller_mut(&mut self) -> &mut Controller {
        &mut self.controller
    }

    /// Longhorn.
    pub fn longhorn(&self) -> &Longhorn {
        &self.longhorn
    }

    /// The backup target on this cluster's network.
    pub fn server(&self) -> Option<&Arc<TargetServer>> {
        self.server.as_ref()
    }

    /// The shared state lent to components and scenario steps.
    pub fn env(&mut self) -> Env<'_> {
        self.store.set_time(self.clock.now());
        Env {
            store: &mut self.store,
            events: &mut self.events,
            clock: self.clock,
            server: self.server.as_deref(),
        }
    }

    /// Points the `backup-target` setting at the target on the network
    /// (NFS), with `refreshIntervalInSeconds` = `refresh` (0 = periodic
    /// rediscovery off).
    pub fn configure_target(&mut self, refresh: i64) -> Result<(), SimError> {
        let url = self
            .server
            .as_ref()
            .map(|s| s.url().to_owned())
            .ok_or_else(|| {
                SimError::Invalid("no backup target on this cluster's network".into())
            })?;
        let value = BackupTargetSetting {
            type_: Some(BackupTargetType::Nfs),
            endpoint: Some(url),
            refresh_interval_in_seconds: Some(refresh),
            ..BackupTargetSetting::default()
        }
        .to_value_string();
        self.store
            .update::<Setting>("", wellknown::SETTING_BACKUP_TARGET, |s| {
                s.value = Some(value);
            })?;
        Ok(())
    }

    /// Switches Longhorn's behaviour (an upgrade from 1.7 to 1.8, or the
    /// reverse to build an old cluster's objects).
    pub fn set_longhorn_version(&mut self, version: LonghornVersion) -> Result<(), SimError> {
        self.store.set_time(self.clock.now());
        let mut env = Env {
            store: &mut self.store,
            events: &mut self.events,
            clock: self.clock,
            server: self.server.as_deref(),
        };
        self.longhorn.set_version(&mut env, version)
    }

    /// One round: the vmbackup controller plans and executes once, then
    /// every external controller takes one pass.
    pub fn step(&mut self) -> Result<Round, SimError> {
        self.store.set_time(self.clock.now());
        let before = self.store.revision();
        let mut env = Env {
            store: &mut self.store,
            events: &mut self.events,
            clock: self.clock,
            server: self.server.as_deref(),
        };
        let outcome = self.controller.round(&mut env);
        // The other components act a moment later than the controller, as
        // they would on a real cluster.
        self.clock.advance(ROUND);
        env.clock = self.clock;
        env.store.set_time(self.clock.now());
        platform::run(&mut env)?;
        snapshots::run(&mut self.longhorn, &mut env)?;
        provisioner::run(&mut self.longhorn, &mut env)?;
        self.longhorn.tick(&mut env)?;
        kubevirt::run(&mut env)?;
        env.store.collect_garbage();
        Ok(Round {
            changed: self.store.revision() != before || outcome.executed > 0,
            executed: outcome.executed,
            crashed: outcome.crashed,
        })
    }

    /// Runs rounds (each one simulated second) until one changes nothing.
    pub fn run_until_settled(&mut self) -> Result<Settled, SimError> {
        let mut settled = Settled::default();
        loop {
            let round = self.step()?;
            settled.rounds += 1;
            settled.actions += round.executed;
            if !round.changed {
                return Ok(settled);
            }
            if settled.rounds >= MAX_ROUNDS {
                let still = self
                    .controller
                    .last_plan()
                    .map(|p| {
                        p.steps
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "external controllers".into());
                return Err(SimError::NotSettled {
                    rounds: settled.rounds,
                    still,
                });
            }
        }
    }

    /// Lets `by` pass on the clock (timers fire), then runs until settled.
    pub fn advance(&mut self, by: Duration) -> Result<Settled, SimError> {
        self.clock.advance(by);
        self.run_until_settled()
    }

    /// Removes objects as if they had never been stored (a control plane
    /// restored from an older state): no finalizer runs, no driver is
    /// called. Their dependants are then garbage-collected as usual.
    pub fn lose(&mut self, refs: &[ObjectRef]) {
        for r in refs {
            self.store.forget(r);
        }
        self.store.collect_garbage();
    }
}
