//! The live-cluster shell of vmbackup, on kube-rs: reads the engine's
//! [`View`](vmbackup_engine::View) from a cluster and executes the engine's
//! plans on it.
//!
//! * [`connect`]: a client from a kubeconfig and context (or the defaults);
//! * [`load()`]: every kind the engine needs, listed page by page; kinds
//!   the cluster does not serve or does not let us read are recorded as not
//!   listed, so the engine never takes their absence for a fact;
//! * [`Executor`]: runs steps idempotently (create-or-get, patches pinned
//!   to the `resourceVersion` read, deletes with a `uid` precondition,
//!   already-gone is done) and stops at the first failure with a typed
//!   [`StepError`];
//! * [`apply()`]: runs a plan, and after a conflict or once done reads and
//!   plans again until nothing is left, so that an interrupted run finishes
//!   the job when run again, without duplicates;
//! * [`Progress`] hooks and a [`Summary`] of what was done.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use vmbackup_kube::{ApplyOptions, LoadOptions, NoProgress, connect, load, load_and_apply};
//! let client = connect(None, Some("prod")).await?;
//! let loaded = load(&client, &LoadOptions::default(), &NoProgress).await?;
//! println!("{} objects", loaded.view.len());
//! let summary = load_and_apply(
//!     &client,
//!     |view| vmbackup_engine::plan(view, &vmbackup_engine::TargetFacts::not_read(""),
//!         chrono::Utc::now(), &vmbackup_engine::Options::default()).steps,
//!     &ApplyOptions::default(),
//!     &NoProgress,
//! ).await?;
//! println!("{summary}");
//! # Ok(())
//! # }
//! ```

pub mod apply;
pub mod connect;
pub mod error;
pub mod execute;
pub mod load;
pub mod progress;
pub mod resources;
mod status;
#[cfg(feature = "test-support")]
pub mod testing;

pub use apply::{ApplyOptions, Failed, apply, load_and_apply};
pub use connect::connect;
pub use error::{Error, StepError};
pub use execute::Executor;
pub use load::{InvalidObject, Listing, LoadOptions, Loaded, SecretReads, load};
pub use progress::{NoProgress, Outcome, Progress, Summary};
