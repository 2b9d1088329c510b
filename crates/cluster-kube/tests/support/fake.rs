//! The stateful fake API server of `vmbackup_kube::testing`.

pub use vmbackup_kube::testing::{FakeApi, Recorded, status};
