//! Ensemble members in long form: one row per member and output day, the columns of
//! `timeseries.csv`. The run folder's `ensemble_members.csv` and Python's
//! `RunResult.members` both come from here, so the two front ends agree to the last digit.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use dermasim::Summary;

/// The quantity columns of the members (the first solved member's timeline columns; members
/// carry no bands of their own).
fn member_columns(members: &[Option<Summary>]) -> Vec<String> {
    members.iter().flatten().next().map(dermasim_io::timeline_columns).unwrap_or_default()
}

/// Rows of the long table: (draw index, member run), failed members left out.
fn solved(members: &[Option<Summary>]) -> impl Iterator<Item = (usize, &Summary)> {
    members.iter().enumerate().filter_map(|(i, m)| m.as_ref().map(|s| (i, s)))
}

/// The values of the timeline columns `names` over the points of `summaries`, one vector per
/// column, rows in summary then day order. Why not `TimelinePoint::get`: it builds the point's
/// column list for every lookup, which made writing a 0d cohort's timeline cost a fifth as
/// much as simulating it; here each point's columns are listed once and picked by position.
pub(crate) fn column_values<'a>(
    summaries: impl Iterator<Item = &'a Summary>,
    names: &[String],
) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = names.iter().map(|_| Vec::new()).collect();
    let mut slots: Option<Vec<Option<usize>>> = None;
    for s in summaries {
        for p in &s.timeline {
            let cols = p.columns();
            // Positions in `columns()` (the same for every point); `None`: a band.
            let slots = slots.get_or_insert_with(|| {
                names.iter().map(|n| cols.iter().position(|(c, _)| c == n)).collect()
            });
            for ((v, slot), name) in out.iter_mut().zip(slots.iter()).zip(names) {
                v.push(match slot {
                    Some(i) => cols[*i].1,
                    None => p.bands.get(name).copied().unwrap_or(f64::NAN),
                });
            }
        }
    }
    out
}

/// The members as an Arrow record batch: `member` (the draw index, `UInt32`), then the
/// `timeseries.csv` columns (`t_day` first), all `f64`, rows in member then day order.
pub fn members_record_batch(members: &[Option<Summary>]) -> RecordBatch {
    let names = member_columns(members);
    let member = UInt32Array::from_iter_values(
        solved(members).flat_map(|(i, s)| std::iter::repeat_n(i as u32, s.timeline.len())),
    );
    let mut fields = vec![Field::new("member", DataType::UInt32, false)];
    let mut cols: Vec<ArrayRef> = vec![Arc::new(member)];
    let values = column_values(solved(members).map(|(_, s)| s), &names);
    for (name, v) in names.iter().zip(values) {
        fields.push(Field::new(name, DataType::Float64, false));
        cols.push(Arc::new(Float64Array::from(v)));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("columns of equal length")
}

/// The members as CSV (`ensemble_members.csv`): `member`, then the `timeseries.csv` columns,
/// numbers written as `timeseries.csv` writes them (shortest round-trip form).
pub fn members_csv(members: &[Option<Summary>]) -> String {
    let names = member_columns(members);
    let mut out = String::from("member");
    for n in &names {
        out.push(',');
        out.push_str(n);
    }
    out.push('\n');
    for (i, s) in solved(members) {
        for p in &s.timeline {
            out.push_str(&i.to_string());
            for n in &names {
                out.push(',');
                out.push_str(&format!("{}", p.get(n).unwrap_or(f64::NAN)));
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{run, RunRequest};

    #[test]
    fn members_are_long_and_their_median_is_the_band() {
        let mut s = dermasim::Scenario::default_scenario();
        s.simulation.fidelity = dermasim::Fidelity::Zero;
        s.protocol.follow_up_days = 30.0;
        s.protocol.sessions.truncate(1);
        let r = run(&RunRequest { ensemble: Some(5), ..RunRequest::new(s) }, &crate::NoObserver)
            .unwrap();
        assert_eq!(r.members.len(), 5);
        let days = r.summary.timeline.len();
        let batch = members_record_batch(&r.members);
        let solved = r.members.iter().flatten().count();
        assert_eq!(batch.num_rows(), solved * days);
        assert_eq!(batch.schema().field(1).name(), "t_day");
        // The p50 band of the last day is the median of the members' last-day values.
        let mut last: Vec<f64> =
            r.members.iter().flatten().map(|m| m.last().collagen_total_rel).collect();
        last.sort_by(f64::total_cmp);
        let p50 = r.summary.last().bands["collagen_total_rel_p50"];
        assert_eq!(p50, last[last.len() / 2], "odd count: the median is a member");
        let csv = members_csv(&r.members);
        assert_eq!(csv.lines().count(), 1 + solved * days);
        assert!(csv.starts_with("member,t_day,"));
    }
}
