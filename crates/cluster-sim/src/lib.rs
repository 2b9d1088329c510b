//! The embedded simulated cluster: vmbackup's default shell and the harness
//! of its end-to-end tests.
//!
//! A [`Cluster`] is a deterministic, in-process Kubernetes cluster: an API
//! server ([`store`]) with UIDs, resource versions, finalizers, merge
//! patches and garbage collection; the vmbackup controller running the real
//! engine ([`controller`]); and external controllers that behave as the
//! real ones do — the CSI snapshot controller ([`snapshots`]), the external
//! provisioner ([`provisioner`]), Longhorn with real backups written through
//! the `backupstore` crate ([`longhorn`]), KubeVirt ([`kubevirt`]) and
//! Harvester's setting controller ([`platform`]). Several clusters can
//! share one backup target ([`target::TargetServer`]), which can be
//! disconnected and reconnected. [`legacy`] builds the objects old
//! Harvester releases left behind.
//!
//! Time is simulated ([`clock`]): [`Cluster::step`] runs one round,
//! [`Cluster::run_until_settled`] runs rounds until nothing changes, and
//! [`Cluster::advance`] lets time pass so timers fire.
//!
//! The API is synchronous; it must not be called from inside an async
//! runtime (the target runs its own).

pub mod audit;
pub mod clock;
pub mod cluster;
pub mod controller;
pub mod demo;
pub mod env;
pub mod error;
pub mod events;
pub mod fsutil;
pub mod ids;
pub mod kubevirt;
pub mod legacy;
pub mod longhorn;
pub mod platform;
pub mod provisioner;
pub mod scenario;
pub mod snapshots;
pub mod store;
pub mod target;
pub mod typed;
pub mod validation;

pub use cluster::{Cluster, Round, Settled};
pub use error::SimError;
pub use events::{Event, EventType, LogLine};
pub use longhorn::LonghornVersion;
pub use scenario::{Disk, VmSpec};
pub use store::{ApiError, Store};
pub use target::TargetServer;
