//! Depth tables: laterally averaged profiles (`profiles.csv`) and the mid-patch cross-section
//! of a 3d run (`sections.csv`), one row per cell and day. The report is rebuilt from these
//! files, so writing and reading are kept together here.

use std::fmt::Write;

use dermasim::kinetics::species::{COUNT, NAMES};
use dermasim::tissue::Layer;

/// Quantities relative to the resting state of the same cell, named as in the timeline.
pub const RELATIVE: [&str; 5] =
    ["collagen_i_rel", "collagen_iii_rel", "collagen_total_rel", "elastin_rel", "fibroblasts_rel"];

/// One cell at one day.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthRow {
    pub t_day: f64,
    /// Lateral position of the cell centre (sections only).
    pub x_um: Option<f64>,
    /// Cell centre, micrometres below the surface.
    pub depth_um: f64,
    pub thickness_um: f64,
    pub layer: Layer,
    /// `RELATIVE` in order; NaN where the resting value is zero (no collagen above the dermis).
    pub relative: [f64; RELATIVE.len()],
    /// Every species in `NAMES` order, model units.
    pub species: [f64; COUNT],
}

impl DepthRow {
    /// A column by name: `t_day`, `x_um`, `depth_um`, `thickness_um`, a `RELATIVE` name or a
    /// species name.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "t_day" => Some(self.t_day),
            "x_um" => self.x_um,
            "depth_um" => Some(self.depth_um),
            "thickness_um" => Some(self.thickness_um),
            _ => RELATIVE
                .iter()
                .position(|&n| n == name)
                .map(|i| self.relative[i])
                .or_else(|| NAMES.iter().position(|&n| n == name).map(|i| self.species[i])),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DepthTable {
    pub rows: Vec<DepthRow>,
}

impl DepthTable {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The days present, in order.
    pub fn days(&self) -> Vec<f64> {
        let mut d: Vec<f64> = Vec::new();
        for r in &self.rows {
            if d.last().is_none_or(|&l| (l - r.t_day).abs() > 1e-9) {
                d.push(r.t_day);
            }
        }
        d
    }

    pub fn at(&self, t_day: f64) -> impl Iterator<Item = &DepthRow> {
        self.rows.iter().filter(move |r| (r.t_day - t_day).abs() < 1e-9)
    }

    fn has_x(&self) -> bool {
        self.rows.first().is_some_and(|r| r.x_um.is_some())
    }

    fn header(has_x: bool) -> Vec<&'static str> {
        let mut h = vec!["t_day"];
        if has_x {
            h.push("x_um");
        }
        h.extend(["depth_um", "thickness_um", "layer"]);
        h.extend(RELATIVE);
        h.extend(NAMES);
        h
    }

    pub fn to_csv(&self) -> String {
        let has_x = self.has_x();
        let mut out = Self::header(has_x).join(",");
        out.push('\n');
        for r in &self.rows {
            let _ = write!(out, "{}", r.t_day);
            if let Some(x) = r.x_um.filter(|_| has_x) {
                let _ = write!(out, ",{x}");
            }
            let _ = write!(out, ",{},{},{}", r.depth_um, r.thickness_um, r.layer.name());
            for v in r.relative.iter().chain(&r.species) {
                let _ = write!(out, ",{v}");
            }
            out.push('\n');
        }
        out
    }

    /// Read a table written by [`DepthTable::to_csv`] (with the `csv` crate: quoting, line
    /// endings and ragged rows handled by a well-kept reader).
    pub fn from_csv(text: &str) -> Result<DepthTable, String> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
        let head: Vec<String> =
            reader.headers().map_err(|e| e.to_string())?.iter().map(str::to_string).collect();
        if head.is_empty() || head.iter().all(|h| h.is_empty()) {
            return Err("empty file".into());
        }
        let has_x = head.get(1).map(String::as_str) == Some("x_um");
        if head != Self::header(has_x) {
            return Err(format!("unexpected columns `{}`", head.join(",")));
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| e.to_string())?;
            let line = record.position().map_or(0, |p| p.line());
            let bad = |what: &str| format!("line {line}: {what}");
            if record.len() != head.len() {
                return Err(bad(&format!("{} cells; expected {}", record.len(), head.len())));
            }
            let num = |k: usize| -> Result<f64, String> {
                let s = &record[k];
                s.parse::<f64>().map_err(|_| bad(&format!("`{s}` is not a number")))
            };
            let off = usize::from(has_x);
            let layer_name = &record[3 + off];
            let layer = Layer::ALL
                .into_iter()
                .find(|l| l.name() == layer_name)
                .ok_or_else(|| bad(&format!("unknown layer `{layer_name}`")))?;
            let values: Vec<f64> = (4 + off..record.len()).map(num).collect::<Result<_, _>>()?;
            rows.push(DepthRow {
                t_day: num(0)?,
                x_um: if has_x { Some(num(1)?) } else { None },
                depth_um: num(1 + off)?,
                thickness_um: num(2 + off)?,
                layer,
                relative: std::array::from_fn(|i| values[i]),
                species: std::array::from_fn(|i| values[RELATIVE.len() + i]),
            });
        }
        Ok(DepthTable { rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: f64, x: Option<f64>) -> DepthRow {
        DepthRow {
            t_day: t,
            x_um: x,
            depth_um: 12.5,
            thickness_um: 25.0,
            layer: Layer::PapillaryDermis,
            relative: [1.0, f64::NAN, 0.25, 2.0, 1e-7],
            species: std::array::from_fn(|i| i as f64 * 0.1),
        }
    }

    fn same(a: &DepthTable, b: &DepthTable) -> bool {
        // NaN-aware comparison through the text form.
        a.to_csv() == b.to_csv() && a.rows.len() == b.rows.len()
    }

    #[test]
    fn csv_round_trips_with_and_without_x() {
        for x in [None, Some(50.0)] {
            let t = DepthTable { rows: vec![row(1.0, x), row(1.0, x), row(7.5, x)] };
            let back = DepthTable::from_csv(&t.to_csv()).unwrap();
            assert!(same(&t, &back));
            assert_eq!(back.days(), vec![1.0, 7.5]);
            assert_eq!(back.at(1.0).count(), 2);
            assert!(back.rows[0].get("collagen_iii_rel").unwrap().is_nan());
            assert_eq!(back.rows[0].get("neutrophils"), Some(0.2));
            assert_eq!(back.rows[0].x_um, x);
        }
    }

    #[test]
    fn malformed_tables_are_errors() {
        assert!(DepthTable::from_csv("a,b\n1,2\n").is_err());
        let t = DepthTable { rows: vec![row(1.0, None)] }.to_csv();
        let broken = t.replace("papillary_dermis", "bone");
        assert!(DepthTable::from_csv(&broken).unwrap_err().contains("bone"));
        let short = t.trim_end().rsplit_once(',').unwrap().0.to_string();
        assert!(DepthTable::from_csv(&short).is_err());
    }
}
