//! The published kinetic models as standalone ODE runs (`dermasim model run`).
//!
//! They call the very right-hand sides the spatial simulator uses.

use crate::error::{Error, FieldError};
use crate::kinetics::cooper::{self, Cooper2015, CooperParams};
use crate::kinetics::waugh::{self, WaughParams, WaughSherratt2006};
use crate::ode::{integrate, OdeSystem, Tolerance};
use crate::params::ParameterSet;

/// One published model that [`run`] can integrate.
pub struct ModelInfo {
    /// Identifier, as in `dermasim model run NAME`.
    pub name: &'static str,
    /// What the model describes, in one line.
    pub title: &'static str,
    /// The paper and its BioModels entry.
    pub source: &'static str,
    /// Species names in state order.
    pub species: &'static [&'static str],
    /// Curated initial values, in state order.
    pub initial: &'static [f64],
}

/// The models [`run`] knows: Cooper et al. 2015 and Waugh & Sherratt 2006.
pub const MODELS: [ModelInfo; 2] = [
    ModelInfo {
        name: "cooper2015",
        title: "Inflammatory phase of wound healing (pathogen, debris, neutrophils, macrophages)",
        source: "Cooper et al. 2015 J Theor Biol 367:86; BioModels BIOMD0000000855",
        species: &cooper::NAMES,
        initial: &cooper::INITIAL,
    },
    ModelInfo {
        name: "waugh_sherratt2006",
        title: "Macrophage phenotypes and TGF-beta (inflammatory, repair macrophages, TGF-beta)",
        source: "Waugh & Sherratt 2006 Bull Math Biol 68:197; BioModels BIOMD0000000680",
        species: &waugh::NAMES,
        initial: &waugh::INITIAL,
    },
];

/// A time course: `t_day` then one column per species.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeCourse {
    /// Column names: `t_day`, then the species names.
    pub columns: Vec<String>,
    /// One row per output time (day 0 included), values in the order of `columns`.
    pub rows: Vec<Vec<f64>>,
}

/// The model called `name`; the error lists the known names.
pub fn find(name: &str) -> Result<&'static ModelInfo, FieldError> {
    MODELS.iter().find(|m| m.name == name).ok_or_else(|| {
        let names: Vec<&str> = MODELS.iter().map(|m| m.name).collect();
        FieldError::new("model", format!("unknown model `{name}`; known: {}", names.join(", ")))
    })
}

fn course<const N: usize, S: OdeSystem<N>>(
    sys: &S,
    mut y: [f64; N],
    names: &[&str],
    days: f64,
    every: f64,
    tol: Tolerance,
) -> Result<TimeCourse, Error> {
    let mut columns = vec!["t_day".to_string()];
    columns.extend(names.iter().map(|s| s.to_string()));
    let steps = (days / every).round() as usize;
    let mut rows = Vec::with_capacity(steps + 1);
    let mut h = every.min(1e-3);
    let mut t = 0.0;
    rows.push(std::iter::once(0.0).chain(y).collect());
    for i in 1..=steps {
        let t1 = (i as f64 * every).min(days);
        integrate(sys, t, t1, &mut y, &mut h, tol).map_err(Error::Solver)?;
        t = t1;
        rows.push(std::iter::once(t).chain(y).collect());
    }
    Ok(TimeCourse { columns, rows })
}

/// Run a reference model for `days`, one row every `every` days, with the rates of `set`.
/// `initial` overrides initial values by species name.
pub fn run(
    name: &str,
    set: &ParameterSet,
    initial: &[(String, f64)],
    days: f64,
    every: f64,
    tol: Tolerance,
) -> Result<TimeCourse, Error> {
    let info = find(name)?;
    if !(days.is_finite() && days > 0.0 && days <= 3650.0) {
        return Err(FieldError::new(
            "--days",
            format!("{days} is outside 0 (exclusive) to 3650 days"),
        )
        .into());
    }
    if !(every.is_finite() && every > 0.0 && every <= days && days / every <= 1e6) {
        return Err(FieldError::new(
            "--every",
            format!("{every} must be above 0, at most --days, and give at most 1e6 rows"),
        )
        .into());
    }
    let mut y0 = info.initial.to_vec();
    for (n, v) in initial {
        let i = info.species.iter().position(|s| s == n).ok_or_else(|| {
            FieldError::new(
                format!("--set {n}"),
                format!(
                    "not a parameter or species of {name}; species: {}",
                    info.species.join(", ")
                ),
            )
        })?;
        y0[i] = *v;
    }
    match name {
        "cooper2015" => course(
            &Cooper2015(CooperParams::from_set(set)?),
            y0.try_into().unwrap(),
            info.species,
            days,
            every,
            tol,
        ),
        _ => course(
            &WaughSherratt2006(WaughParams::from_set(set)?),
            y0.try_into().unwrap(),
            info.species,
            days,
            every,
            tol,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Classic RK4 with a tiny fixed step: an independent solution of the same equations.
    fn rk4<const N: usize, S: OdeSystem<N>>(
        sys: &S,
        mut y: [f64; N],
        t_end: f64,
        h: f64,
    ) -> [f64; N] {
        let n = (t_end / h).round() as usize;
        let add = |a: &[f64; N], b: &[f64; N], s: f64| {
            let mut o = *a;
            for i in 0..N {
                o[i] += s * b[i];
            }
            o
        };
        let (mut k1, mut k2, mut k3, mut k4) = ([0.0; N], [0.0; N], [0.0; N], [0.0; N]);
        for _ in 0..n {
            sys.rhs(&y, &mut k1);
            sys.rhs(&add(&y, &k1, h / 2.0), &mut k2);
            sys.rhs(&add(&y, &k2, h / 2.0), &mut k3);
            sys.rhs(&add(&y, &k3, h), &mut k4);
            for i in 0..N {
                y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
            }
        }
        y
    }

    fn check<const N: usize, S: OdeSystem<N>>(name: &str, sys: &S, y0: [f64; N], days: f64) {
        let set = ParameterSet::literature();
        let ours = run(name, &set, &[], days, 1.0, Tolerance::REFERENCE).unwrap();
        for row in &ours.rows {
            let t = row[0];
            if t == 0.0 {
                continue;
            }
            let reference = rk4(sys, y0, t, 2e-5);
            for i in 0..N {
                let (a, b) = (row[i + 1], reference[i]);
                let ok = (a - b).abs() <= 1e-6 * b.abs() || (a - b).abs() <= 1e-10;
                assert!(ok, "{name} species {i} at t={t}: {a:e} vs reference {b:e}");
            }
        }
    }

    #[test]
    fn cooper2015_matches_independent_rk4_to_1e6() {
        let p = CooperParams::from_set(&ParameterSet::literature()).unwrap();
        check("cooper2015", &Cooper2015(p), cooper::INITIAL, 20.0);
    }

    #[test]
    fn waugh_sherratt_matches_independent_rk4_to_1e6() {
        let p = WaughParams::from_set(&ParameterSet::literature()).unwrap();
        check("waugh_sherratt2006", &WaughSherratt2006(p), waugh::INITIAL, 40.0);
    }

    #[test]
    fn cooper_peaks_fall_where_the_paper_says() {
        // BRIEF 3.1: neutrophils peak ~day 1, macrophages ~day 4 with the curated set.
        let tc =
            run("cooper2015", &ParameterSet::literature(), &[], 20.0, 0.05, Tolerance::REFERENCE)
                .unwrap();
        let peak = |c: usize| tc.rows.iter().max_by(|a, b| a[c].total_cmp(&b[c])).unwrap()[0];
        let (n, m) = (peak(3), peak(4));
        assert!((0.3..=2.0).contains(&n), "neutrophil peak day {n}");
        assert!((2.5..=6.0).contains(&m), "macrophage peak day {m}");
    }
}
