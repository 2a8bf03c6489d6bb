//! The treatment course: sessions and follow-up.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::device::{Device, DeviceParams};
use crate::error::FieldError;
use crate::limits::{self, field};
use crate::tissue::Column;

/// Most sessions a protocol may hold.
pub const MAX_SESSIONS: usize = 100;

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

impl Protocol {
    /// Follow-up, the number and order of sessions, and each session's own device against the
    /// patient's `column` (`path` is where the protocol sits in the scenario).
    pub fn validate(
        &self,
        path: &str,
        column: &Column,
        dp: &DeviceParams,
    ) -> Result<(), FieldError> {
        limits::FOLLOW_UP_DAYS.check(&field(path, "follow_up_days"), self.follow_up_days)?;
        // No session at all is the untreated control arm: a valid scenario (issue 15).
        if self.sessions.len() > MAX_SESSIONS {
            return Err(FieldError::new(
                field(path, "sessions"),
                format!("{} sessions; at most {MAX_SESSIONS}", self.sessions.len()),
            ));
        }
        let mut last = f64::NEG_INFINITY;
        for (i, s) in self.sessions.iter().enumerate() {
            let session = format!("{path}.sessions.{i}");
            s.validate(&session, last, self.follow_up_days)?;
            last = s.day;
            if let Some(d) = &s.device {
                d.validate(&field(&session, "device"), column, dp)?;
            }
        }
        Ok(())
    }

    /// The session days, in order.
    pub fn session_days(&self) -> Vec<f64> {
        self.sessions.iter().map(|s| s.day).collect()
    }
}

impl Session {
    /// The session's day: not before day 0, after the previous session (`previous`, minus
    /// infinity for the first) and before the end of follow-up.
    fn validate(&self, path: &str, previous: f64, follow_up_days: f64) -> Result<(), FieldError> {
        let path = field(path, "day");
        if !self.day.is_finite() || self.day < 0.0 {
            return Err(FieldError::new(path, format!("{} must be 0 or later", self.day)));
        }
        if self.day >= follow_up_days {
            return Err(FieldError::new(
                path,
                format!(
                    "day {} is not before the end of follow-up (protocol.follow_up_days = \
                     {follow_up_days})",
                    self.day
                ),
            ));
        }
        if self.day <= previous {
            return Err(FieldError::new(
                path,
                format!("day {} must come after the previous session (day {previous})", self.day),
            ));
        }
        Ok(())
    }
}
