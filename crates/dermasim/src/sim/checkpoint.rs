//! Checkpoints: a run's state as bytes with a checksum, validated before it is restored.

use super::*;

/// Everything a run needs to continue where it stopped, except what the scenario rebuilds.
#[derive(serde::Serialize, serde::Deserialize)]
struct CheckpointHeader {
    format: String,
    scenario: String,
    /// The snapshot days the stepper lands on: part of the run, though not of the scenario.
    #[serde(default)]
    snapshot_days: Vec<f64>,
    parameters: String,
    t: f64,
    sessions_done: usize,
    session_outcomes: Vec<SessionOutcome>,
    timeline: Vec<TimelinePoint>,
    accepted: u64,
    rejected: u64,
    lengths: [usize; 3],
    #[serde(default)]
    zone: Vec<f64>,
    /// Length of the wound-filling targets appended after the epidermis.
    #[serde(default)]
    refill_len: usize,
    /// The sums at the start of the last step, which the next step's timeline points are
    /// interpolated with.
    step_start: Option<record::Recordable>,
}

const CHECKPOINT_FORMAT: &str = "dermasim-checkpoint-5";

/// FNV-1a over the checkpoint bytes: catches damage and hand edits (not an attacker).
fn checksum(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3))
}

fn push_f64s(out: &mut Vec<u8>, v: &[f64]) {
    out.reserve(v.len() * 8);
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn read_f64s(bytes: &[u8], n: usize, at: &mut usize) -> Option<Vec<f64>> {
    let end = at.checked_add(n.checked_mul(8)?)?;
    let chunk = bytes.get(*at..end)?;
    *at = end;
    Some(
        chunk.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect(),
    )
}

impl Simulation {
    /// The run's state as bytes: a JSON header, then the fields as little-endian f64.
    pub fn checkpoint(&self) -> Vec<u8> {
        let header = CheckpointHeader {
            format: CHECKPOINT_FORMAT.into(),
            scenario: self.prepared.scenario.canonical_json(),
            snapshot_days: self.prepared.snapshot_days.clone(),
            parameters: serde_json::to_string(&self.prepared.set).expect("parameters serialise"),
            t: self.t,
            sessions_done: self.sessions_done,
            session_outcomes: self.session_outcomes.clone(),
            timeline: self.timeline.clone(),
            accepted: self.stats.accepted,
            rejected: self.stats.rejected,
            lengths: [self.fields.len(), self.step.len(), self.epidermis.len()],
            zone: self.zone.clone(),
            refill_len: self.refill.len(),
            step_start: self.step_start,
        };
        let json = serde_json::to_vec(&header).expect("header serialises");
        let mut out = Vec::with_capacity(
            16 + json.len() + 8 * (self.fields.len() + self.step.len() + self.epidermis.len()),
        );
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        push_f64s(&mut out, &self.fields);
        push_f64s(&mut out, &self.step);
        push_f64s(&mut out, &self.epidermis);
        push_f64s(&mut out, &self.refill);
        push_f64s(&mut out, &self.tgf_excess);
        let sum = checksum(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Continue from a checkpoint of the same scenario and parameters; the finished run is
    /// bit-identical to one that was never interrupted.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let bad = |m: &str| Error::Checkpoint(m.to_string());
        let (bytes, sum) = match bytes.len().checked_sub(8) {
            Some(k) => (&bytes[..k], &bytes[k..]),
            None => return Err(bad("file is truncated")),
        };
        if checksum(bytes).to_le_bytes() != sum {
            return Err(bad("checksum mismatch: the file is damaged or was edited"));
        }
        let n = u64::from_le_bytes(
            bytes.get(..8).ok_or_else(|| bad("file is truncated"))?.try_into().expect("8 bytes"),
        ) as usize;
        let json =
            bytes.get(8..8usize.saturating_add(n)).ok_or_else(|| bad("file is truncated"))?;
        let h: CheckpointHeader =
            serde_json::from_slice(json).map_err(|e| bad(&format!("unreadable header: {e}")))?;
        if h.format != CHECKPOINT_FORMAT {
            return Err(bad(&format!(
                "format `{}` is not {CHECKPOINT_FORMAT}: another version of dermasim wrote it; \
                 run again without resuming",
                h.format
            )));
        }
        if h.scenario != self.prepared.scenario.canonical_json()
            || h.snapshot_days != self.prepared.snapshot_days
            || h.parameters
                != serde_json::to_string(&self.prepared.set).expect("parameters serialise")
        {
            return Err(bad("it belongs to a different scenario or parameter set"));
        }
        if h.lengths != [self.fields.len(), self.step.len(), self.epidermis.len()] {
            return Err(bad("its grid does not match the scenario's"));
        }
        let mut at = 8 + n;
        let fields =
            read_f64s(bytes, h.lengths[0], &mut at).ok_or_else(|| bad("file is truncated"))?;
        let step =
            read_f64s(bytes, h.lengths[1], &mut at).ok_or_else(|| bad("file is truncated"))?;
        let epidermis =
            read_f64s(bytes, h.lengths[2], &mut at).ok_or_else(|| bad("file is truncated"))?;
        let refill = if h.refill_len == self.refill.len() {
            read_f64s(bytes, h.refill_len, &mut at).ok_or_else(|| bad("file is truncated"))?
        } else {
            return Err(bad("its wound-filling state does not match the scenario's grid"));
        };
        let tgf_excess = read_f64s(bytes, self.tgf_excess.len(), &mut at)
            .ok_or_else(|| bad("file is truncated"))?;
        if at != bytes.len() {
            return Err(bad("trailing bytes after the fields"));
        }
        let sessions = &self.prepared.scenario.protocol.sessions;
        let end = self.prepared.scenario.protocol.follow_up_days;
        if !(h.t.is_finite() && (0.0..=end).contains(&h.t)) {
            return Err(bad(&format!("time {} lies outside the run (0 to {end} days)", h.t)));
        }
        let due = sessions.iter().filter(|s| s.day < h.t - 1e-9).count();
        let on = sessions.iter().filter(|s| (s.day - h.t).abs() <= 1e-9).count();
        if h.sessions_done < due || h.sessions_done > due + on {
            return Err(bad(&format!(
                "{} sessions done does not fit day {} of the protocol",
                h.sessions_done, h.t
            )));
        }
        if h.session_outcomes.len() != h.sessions_done {
            return Err(bad("session outcomes do not match the sessions done"));
        }
        if fields
            .iter()
            .chain(&step)
            .chain(&epidermis)
            .chain(&refill)
            .chain(&tgf_excess)
            .any(|v| !v.is_finite())
        {
            return Err(bad("a field holds a value that is not a finite number"));
        }
        if h.step_start.is_some_and(|r| !r.precedes(h.t)) {
            return Err(bad("the last step's start is not a finite record before its time"));
        }
        self.fields = fields;
        self.step = step;
        self.epidermis = epidermis;
        self.refill = refill;
        self.tgf_excess = tgf_excess;
        if h.zone.len() == self.zone.len() {
            self.zone = h.zone;
        }
        self.t = h.t;
        self.sessions_done = h.sessions_done;
        self.session_outcomes = h.session_outcomes;
        self.timeline = h.timeline;
        self.step_start = h.step_start;
        self.stats = Stats { accepted: h.accepted, rejected: h.rejected };
        Ok(())
    }
}

#[cfg(test)]
mod checkpoint_tests {
    use super::*;

    #[test]
    pub(super) fn resumed_run_is_identical_to_an_uninterrupted_one() {
        let s = Scenario::default_scenario();
        let base = ParameterSet::default_set();
        let whole = Simulation::new(&s, &base).unwrap().run(&mut |_| {}).unwrap();

        // Stop after day 40 by saving a checkpoint, then resume in a fresh simulation.
        let mut saved = None;
        let mut first = Simulation::new(&s, &base).unwrap();
        first
            .run(&mut |sim| {
                if saved.is_none() && sim.time() >= 40.0 {
                    saved = Some(sim.checkpoint());
                }
            })
            .unwrap();
        let mut second = Simulation::new(&s, &base).unwrap();
        second.restore(saved.as_ref().unwrap()).unwrap();
        assert!(second.time() >= 40.0);
        let resumed = second.run(&mut |_| {}).unwrap();
        assert_eq!(whole.timeline.len(), resumed.timeline.len());
        for (a, b) in whole.timeline.iter().zip(&resumed.timeline) {
            assert!(
                a == b,
                "first difference at day {}: {} vs {}",
                a.t_day,
                a.collagen_total_rel,
                b.collagen_total_rel
            );
        }
        assert!(whole == resumed, "summaries differ outside the timeline");

        // A checkpoint of another scenario, or a damaged one, is refused.
        let mut other = s.clone();
        other.patient.age_years = 60.0;
        let mut sim = Simulation::new(&other, &base).unwrap();
        assert!(sim.restore(saved.as_ref().unwrap()).is_err());
        // So is one of the same scenario with other snapshot days: they move the steps.
        let asked =
            crate::scenario::SnapshotRequest { path: "outputs.snapshot_days", days: &[50.0] };
        let prepared =
            s.prepare_with_snapshots(crate::tissue::SiteTable::shared(), &base, asked).unwrap();
        let mut sim = Simulation::from_prepared(&prepared, crate::Options::default()).unwrap();
        assert!(sim.restore(saved.as_ref().unwrap()).is_err());
        let mut sim = Simulation::new(&s, &base).unwrap();
        assert!(sim.restore(&saved.unwrap()[..100]).is_err());
    }

    #[test]
    fn a_checkpoint_of_an_earlier_format_is_refused_with_the_reason() {
        let s = Scenario::default_scenario();
        let base = ParameterSet::default_set();
        let mut sim = Simulation::new(&s, &base).unwrap();
        let mut bytes = sim.checkpoint();
        // The same header under the previous format's name (as long), checksum made good.
        let body = bytes.len() - 8;
        let at = bytes
            .windows(CHECKPOINT_FORMAT.len())
            .position(|w| w == CHECKPOINT_FORMAT.as_bytes())
            .unwrap();
        bytes[at..at + CHECKPOINT_FORMAT.len()].copy_from_slice(b"dermasim-checkpoint-4");
        let sum = checksum(&bytes[..body]);
        bytes[body..].copy_from_slice(&sum.to_le_bytes());
        let message = sim.restore(&bytes).unwrap_err().to_string();
        assert!(
            message.contains("dermasim-checkpoint-4") && message.contains("another version"),
            "{message}"
        );
    }
}
