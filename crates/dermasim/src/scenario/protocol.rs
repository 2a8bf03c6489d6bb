//! The treatment course: sessions and follow-up.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::device::Device;
use crate::limits;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// The treatment course.
pub struct Protocol {
    /// Treatment sessions in increasing day order.
    pub sessions: Vec<Session>,
    /// Simulated time after day 0, in days.
    #[schemars(range(min = limits::FOLLOW_UP_DAYS.lo, max = limits::FOLLOW_UP_DAYS.hi))]
    pub follow_up_days: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// One treatment session.
pub struct Session {
    /// Day of the session, from day 0.
    pub day: f64,
    /// Device settings for this session only; the scenario's device when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
}
