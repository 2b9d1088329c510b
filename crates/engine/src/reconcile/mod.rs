//! The reconcilers. Each reads the [`Ctx`](crate::context::Ctx) and adds
//! steps and findings to the [`Out`](crate::context::Out).

pub mod backup;
pub mod classes;
pub mod handles;
pub mod health;
pub mod restore;
pub mod sync;
