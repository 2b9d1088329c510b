//! The VMRestore reconciler.

use crate::context::{Ctx, Out};

/// Plans every VMRestore.
pub fn reconcile(_ctx: &Ctx, _out: &mut Out) {}
