//! The days a run records depth data on, as plain numbers: which files hold them is the
//! scenario file's concern (`dermasim-io`), but the stepper lands on these days whatever is
//! written, so they are part of what a run is.

use crate::error::FieldError;
use crate::limits::check_range;

use super::Protocol;

/// Most snapshot days a scenario may ask for (each is a file per 3d field format).
pub const MAX_SNAPSHOT_DAYS: usize = 20;

/// Snapshot days as a scenario file asks for them, and the field path that holds them (for
/// errors). No days: 1, 7 and 28 days after the first session, and the end of follow-up.
#[derive(Debug, Clone, Copy, Default)]
pub struct SnapshotRequest<'a> {
    /// Where the days sit in the scenario file, e.g. `outputs.snapshot_days`.
    pub path: &'a str,
    /// Days from day 0, in any order; empty for the default days.
    pub days: &'a [f64],
}

impl SnapshotRequest<'_> {
    /// At most [`MAX_SNAPSHOT_DAYS`], each within 0 to the protocol's follow-up; the error
    /// names the offending index.
    pub fn validate(&self, protocol: &Protocol) -> Result<(), FieldError> {
        if self.days.len() > MAX_SNAPSHOT_DAYS {
            return Err(FieldError::new(
                self.path,
                format!("{} days; at most {MAX_SNAPSHOT_DAYS}", self.days.len()),
            ));
        }
        for (i, &d) in self.days.iter().enumerate() {
            check_range(
                &format!("{}.{i}", self.path),
                d,
                0.0,
                protocol.follow_up_days,
                "days (0 to protocol.follow_up_days)",
            )?;
        }
        Ok(())
    }

    /// The days to record, sorted and unique (the default days when none were asked for).
    pub fn resolve(&self, protocol: &Protocol) -> Vec<f64> {
        let end = protocol.follow_up_days;
        let mut days: Vec<f64> = if self.days.is_empty() {
            let first = protocol.sessions.first().map_or(0.0, |s| s.day);
            [first + 1.0, first + 7.0, first + 28.0, end]
                .into_iter()
                .filter(|&d| d <= end)
                .collect()
        } else {
            self.days.to_vec()
        };
        days.sort_by(f64::total_cmp);
        days.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        days
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Session;

    fn protocol() -> Protocol {
        Protocol { sessions: vec![Session { day: 2.0, device: None }], follow_up_days: 20.0 }
    }

    fn asked(days: &[f64]) -> SnapshotRequest<'_> {
        SnapshotRequest { path: "outputs.snapshot_days", days }
    }

    #[test]
    fn default_days_follow_the_first_session_and_stay_inside_follow_up() {
        assert_eq!(SnapshotRequest::default().resolve(&protocol()), vec![3.0, 9.0, 20.0]);
        assert_eq!(asked(&[5.0, 1.0, 5.0]).resolve(&protocol()), vec![1.0, 5.0]);
    }

    #[test]
    fn days_outside_follow_up_name_their_index() {
        let e = asked(&[1.0, 21.0]).validate(&protocol()).unwrap_err();
        assert_eq!(e.path, "outputs.snapshot_days.1");
        let many: Vec<f64> = (0..21).map(f64::from).collect();
        let e =
            asked(&many).validate(&Protocol { follow_up_days: 100.0, ..protocol() }).unwrap_err();
        assert_eq!(e.path, "outputs.snapshot_days");
    }
}
