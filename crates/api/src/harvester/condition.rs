//! Harvester's condition type, shared by VM backups, restores and settings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Extra, preserving_serde};

/// A status condition as Harvester writes it (times are strings).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(extend("required" = ["type", "status"]))]
pub struct Condition {
    /// Type of the condition.
    #[serde(rename = "type")]
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub type_: String,
    /// Status of the condition, one of True, False, Unknown.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub status: String,
    /// The last time this condition was updated.
    pub last_update_time: Option<String>,
    /// Last time the condition transitioned from one status to another.
    pub last_transition_time: Option<String>,
    /// The reason for the condition's last transition.
    pub reason: Option<String>,
    /// Human-readable message indicating details about last transition
    pub message: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(Condition);

impl Condition {
    /// Whether the condition's status is `True`.
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// The condition of type `type_` in a list, if any.
pub(crate) fn find<'a>(conditions: Option<&'a [Condition]>, type_: &str) -> Option<&'a Condition> {
    conditions?.iter().find(|c| c.type_ == type_)
}
