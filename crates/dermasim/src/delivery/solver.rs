//! The depth-resolved transport model of one application: a well-mixed vehicle on the surface,
//! two parallel entry paths (intact stratum corneum and open channels) into one laterally
//! averaged column of viable epidermis and dermis, diffusion in depth, clearance in the dermis.
//!
//! Backward Euler in time, finite volumes in depth (no-flux top and bottom, harmonic face
//! coefficients). The vehicle couples to every cell a channel spans, so each step solves the
//! tissue twice with one tridiagonal factorisation (`c = x + C_v y`) and closes the vehicle's
//! scalar balance exactly: every unit of mass the vehicle loses appears in the tissue, so the
//! pools balance to round-off.
//!
//! Units: centimetres and hours (permeability cm/h, concentration ug/cm3 = ug/mL); depths are
//! reported in micrometres.

use std::f64::consts::PI;

use crate::numerics::Thomas;

/// Cell sizes and step sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Numerics {
    /// Target cell size in the viable epidermis, um (adjusted so cells end on the layer).
    pub dz_epidermis_um: f64,
    /// Target cell size in the dermis, um (adjusted so cells end on the layer).
    pub dz_dermis_um: f64,
    /// First step after the product goes on or comes off, h.
    pub dt_min_h: f64,
    /// Largest step, h.
    pub dt_max_h: f64,
    /// Step growth factor between those events.
    pub dt_growth: f64,
}

impl Default for Numerics {
    fn default() -> Self {
        Numerics {
            dz_epidermis_um: 5.0,
            dz_dermis_um: 10.0,
            dt_min_h: 1e-3,
            dt_max_h: 0.05,
            dt_growth: 1.2,
        }
    }
}

/// The viable skin below the stratum corneum, cut into cells.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthGrid {
    /// Cell tops, um below the skin surface (the first is the stratum corneum thickness).
    pub top_um: Vec<f64>,
    /// Cell widths, um.
    pub h_um: Vec<f64>,
    /// Whether each cell is dermis (otherwise viable epidermis).
    pub dermis: Vec<bool>,
}

impl DepthGrid {
    /// Cells aligned with the layer boundaries: `[stratum corneum, epidermis, dermis]` thickness.
    pub fn new(sc_um: f64, epidermis_um: f64, dermis_um: f64, n: &Numerics) -> DepthGrid {
        let mut g = DepthGrid { top_um: Vec::new(), h_um: Vec::new(), dermis: Vec::new() };
        let mut top = sc_um;
        for (thickness, dz, is_dermis) in
            [(epidermis_um, n.dz_epidermis_um, false), (dermis_um, n.dz_dermis_um, true)]
        {
            let cells = (thickness / dz).round().max(1.0) as usize;
            let h = thickness / cells as f64;
            for _ in 0..cells {
                g.top_um.push(top);
                g.h_um.push(h);
                g.dermis.push(is_dermis);
                top += h;
            }
        }
        g
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.h_um.len()
    }

    /// Whether the grid has no cells.
    pub fn is_empty(&self) -> bool {
        self.h_um.is_empty()
    }

    /// Centre of cell `k`, um below the skin surface.
    pub fn centre_um(&self, k: usize) -> f64 {
        self.top_um[k] + 0.5 * self.h_um[k]
    }

    /// Length of `[0, depth]` inside cell `k`, um.
    fn overlap_um(&self, k: usize, depth_um: f64) -> f64 {
        (depth_um.min(self.top_um[k] + self.h_um[k]) - self.top_um[k]).max(0.0)
    }
}

/// First-order channel closure whose rate changes at given times: `f(t) = exp(-integral of rate)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Closure {
    /// `(from_h, rate_per_h)`, sorted by time, the first from 0.
    pub segments: Vec<(f64, f64)>,
}

impl Closure {
    /// Channels that never close (excised skin).
    pub fn never() -> Closure {
        Closure { segments: vec![(0.0, 0.0)] }
    }

    fn integral(&self, t: f64) -> f64 {
        let mut sum = 0.0;
        for (i, &(from, rate)) in self.segments.iter().enumerate() {
            let to = self.segments.get(i + 1).map_or(f64::INFINITY, |s| s.0);
            if t > from {
                sum += rate * (t.min(to) - from);
            }
        }
        sum
    }

    /// Fraction of the channels still open at `t` hours after needling.
    pub fn open_fraction(&self, t: f64) -> f64 {
        (-self.integral(t.max(0.0))).exp()
    }

    /// Hours until only `open` of the channels remain open; `None` if that never happens.
    pub fn time_until_open(&self, open: f64) -> Option<f64> {
        let target = -open.ln();
        let mut sum = 0.0;
        for (i, &(from, rate)) in self.segments.iter().enumerate() {
            let to = self.segments.get(i + 1).map_or(f64::INFINITY, |s| s.0);
            if rate > 0.0 && sum + rate * (to - from) >= target {
                return Some(from + (target - sum) / rate);
            }
            sum += rate * (to - from);
        }
        None
    }
}

/// The open channels of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelPath {
    /// Punctures that form open, product-filled channels (after patency).
    pub punctures_per_cm2: f64,
    /// Open channel radius, um.
    pub radius_um: f64,
    /// Channel depth, um below the skin surface.
    pub depth_um: f64,
    /// How the channels close over time.
    pub closure: Closure,
}

impl ChannelPath {
    /// Skin surface taken by open channels when all are open (randomly placed, overlaps counted
    /// once).
    pub fn open_area_fraction(&self) -> f64 {
        1.0 - (-self.punctures_per_cm2 * PI * (self.radius_um * 1e-4).powi(2)).exp()
    }

    /// Radius of the tissue cylinder each channel serves, cm (at least 1.5 channel radii, so
    /// the exchange stays finite when channels crowd each other).
    fn cell_radius_cm(&self) -> f64 {
        (1.0 / (PI * self.punctures_per_cm2)).sqrt().max(1.5 * self.radius_um * 1e-4)
    }
}

/// Everything one application needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The viable skin's cells.
    pub grid: DepthGrid,
    /// Diffusivity per cell, cm2/h.
    pub diffusivity_cm2_h: Vec<f64>,
    /// Clearance per cell, 1/h (zero outside the dermis).
    pub clearance_per_h: Vec<f64>,
    /// Intact stratum corneum permeability, cm/h.
    pub kp_cm_h: f64,
    /// Vehicle film thickness, cm (uL/cm2 x 1e-3).
    pub vehicle_cm: f64,
    /// Vehicle concentration at application, ug/cm3.
    pub concentration_ug_cm3: f64,
    /// Hours after needling when the product goes on.
    pub start_h: f64,
    /// Hours after needling when the product comes off (what is left is washed off).
    pub end_h: f64,
    /// End of the report window, h.
    pub report_h: f64,
    /// `None`: intact skin.
    pub channels: Option<ChannelPath>,
    /// Times of the dose timeline, h after needling.
    pub timeline_h: Vec<f64>,
    /// Times of the depth profiles, h after needling.
    pub profile_h: Vec<f64>,
    /// Cell and step sizes.
    pub numerics: Numerics,
}

/// The pools at one time, ug/cm2.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pools {
    /// On the surface, or washed off with the vehicle.
    pub on_surface: f64,
    /// In the viable epidermis.
    pub in_epidermis: f64,
    /// In the dermis.
    pub in_dermis: f64,
    /// Cleared by the dermis so far.
    pub cleared: f64,
}

impl Pools {
    /// Sum of the pools: the applied amount, up to round-off.
    pub fn total(&self) -> f64 {
        self.on_surface + self.in_epidermis + self.in_dermis + self.cleared
    }

    /// Everything that has entered the dermis so far: what is there plus what it cleared.
    pub fn dermis_dose(&self) -> f64 {
        self.in_dermis + self.cleared
    }
}

/// The result of [`solve`].
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Amount applied, ug/cm2.
    pub applied_ug_cm2: f64,
    /// `(t_h, pools, open fraction)` at each timeline time.
    pub timeline: Vec<(f64, Pools, f64)>,
    /// `(t_h, concentration per cell in ug/cm3)`.
    pub profiles: Vec<(f64, Vec<f64>)>,
    /// Pools at the end of the report window.
    pub end: Pools,
    /// Largest `|applied - sum of pools| / applied` over all steps.
    pub max_mass_error: f64,
}

/// Solve one application.
pub fn solve(p: &Problem) -> Solution {
    let n = p.grid.len();
    let h: Vec<f64> = p.grid.h_um.iter().map(|h| h * 1e-4).collect();
    let applied = p.concentration_ug_cm3 * p.vehicle_cm;
    let mut c = vec![0.0; n];
    let mut vehicle = applied; // ug/cm2 on the surface while the product is on
    let mut removed = 0.0; // washed off at the end of the application
    let mut cleared = 0.0;
    let mut max_err: f64 = 0.0;

    // Face conductances between cells k and k+1 (cm/h), harmonic mean.
    let face: Vec<f64> = (0..n.saturating_sub(1))
        .map(|k| {
            1.0 / (0.5 * h[k] / p.diffusivity_cm2_h[k]
                + 0.5 * h[k + 1] / p.diffusivity_cm2_h[k + 1])
        })
        .collect();
    let channel_overlap: Vec<f64> = match &p.channels {
        Some(ch) => (0..n).map(|k| p.grid.overlap_um(k, ch.depth_um) * 1e-4).collect(),
        None => vec![0.0; n],
    };

    let pools = |c: &[f64], vehicle: f64, removed: f64, cleared: f64| {
        let (mut epi, mut der) = (0.0, 0.0);
        for k in 0..n {
            if p.grid.dermis[k] {
                der += c[k] * h[k];
            } else {
                epi += c[k] * h[k];
            }
        }
        Pools { on_surface: vehicle + removed, in_epidermis: epi, in_dermis: der, cleared }
    };
    let open = |t: f64| p.channels.as_ref().map_or(0.0, |ch| ch.closure.open_fraction(t));

    // Stops: the application's start and end restart the step size; output times clip steps.
    let mut stops: Vec<f64> = p
        .timeline_h
        .iter()
        .chain(&p.profile_h)
        .copied()
        .chain([p.start_h, p.end_h, p.report_h])
        .filter(|&t| t >= 0.0 && t <= p.report_h)
        .collect();
    stops.sort_by(f64::total_cmp);
    stops.dedup_by(|a, b| (*a - *b).abs() < 1e-9);

    let mut timeline = Vec::new();
    let mut profiles = Vec::new();
    let mut record = |t: f64, c: &[f64], pools: Pools| {
        if p.timeline_h.iter().any(|&x| (x - t).abs() < 1e-9) {
            timeline.push((t, pools, open(t)));
        }
        if p.profile_h.iter().any(|&x| (x - t).abs() < 1e-9) {
            profiles.push((t, c.to_vec()));
        }
    };

    let mut t = 0.0;
    let mut dt = p.numerics.dt_min_h;
    let (mut lower, mut diag, mut upper) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let (mut x, mut y, mut s) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for &stop in &stops {
        while t < stop - 1e-12 {
            // Nothing moves before the product goes on.
            if t < p.start_h - 1e-12 {
                t = stop.min(p.start_h);
                continue;
            }
            let on = t < p.end_h - 1e-12;
            let step = dt.min(stop - t);
            let mid = t + 0.5 * step;
            // Exchange coefficients with the vehicle, cm/h.
            s.fill(0.0);
            if on {
                let f = open(mid);
                let phi = p.channels.as_ref().map_or(0.0, |ch| ch.open_area_fraction() * f);
                s[0] += p.kp_cm_h * (1.0 - phi);
                if let Some(ch) = &p.channels {
                    let r = ch.radius_um * 1e-4;
                    let big_r = ch.cell_radius_cm();
                    let since = (mid - p.start_h).max(0.0);
                    for k in 0..n {
                        if channel_overlap[k] > 0.0 {
                            // Radial uptake from a channel wall: a shell that thickens as
                            // sqrt(pi D t) until it fills the tissue cylinder of each channel.
                            let d = p.diffusivity_cm2_h[k];
                            let reach = (PI * d * since).sqrt().min(big_r - r);
                            let per_length = 2.0 * PI * d / (1.0 + reach / r).ln();
                            s[k] += f * ch.punctures_per_cm2 * per_length * channel_overlap[k];
                        }
                    }
                }
            }
            // Tissue matrix: h/dt + diffusion + clearance + exchange.
            for k in 0..n {
                let west = if k > 0 { face[k - 1] } else { 0.0 };
                let east = if k + 1 < n { face[k] } else { 0.0 };
                lower[k] = -west;
                upper[k] = -east;
                diag[k] = h[k] / step + west + east + p.clearance_per_h[k] * h[k] + s[k];
                x[k] = h[k] * c[k] / step;
                y[k] = s[k];
            }
            // One factorisation, two right-hand sides.
            let matrix = Thomas::<f64>::new(&lower, &diag, &upper);
            matrix.solve_rows(&mut x, 1);
            matrix.solve_rows(&mut y, 1);
            let cv_new = if on {
                // h_v (C_v' - C_v)/dt = -sum s_k (C_v' - c_k'), with c' = x + C_v' y.
                let hv = p.vehicle_cm;
                let cv = vehicle / hv;
                let sum_s: f64 = s.iter().sum();
                let sum_sx: f64 = s.iter().zip(&x).map(|(a, b)| a * b).sum();
                let sum_sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
                (hv * cv / step + sum_sx) / (hv / step + sum_s - sum_sy)
            } else {
                0.0
            };
            for k in 0..n {
                c[k] = (x[k] + cv_new * y[k]).max(0.0);
            }
            let taken: f64 = (0..n).map(|k| s[k] * (cv_new - c[k])).sum::<f64>() * step;
            if on {
                vehicle -= taken;
            }
            cleared += step * (0..n).map(|k| p.clearance_per_h[k] * h[k] * c[k]).sum::<f64>();
            t += step;
            dt = (dt * p.numerics.dt_growth).min(p.numerics.dt_max_h);
            if on && t >= p.end_h - 1e-12 {
                // Washed off: what is left on the surface leaves the system.
                removed += vehicle;
                vehicle = 0.0;
                dt = p.numerics.dt_min_h;
            }
            let now = pools(&c, vehicle, removed, cleared);
            if applied > 0.0 {
                max_err = max_err.max((applied - now.total()).abs() / applied);
            }
        }
        if (t - p.start_h).abs() < 1e-12 {
            dt = p.numerics.dt_min_h;
        }
        record(stop, &c, pools(&c, vehicle, removed, cleared));
    }
    Solution {
        applied_ug_cm2: applied,
        timeline,
        profiles,
        end: pools(&c, vehicle, removed, cleared),
        max_mass_error: max_err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(channels: Option<ChannelPath>, kp: f64, clearance: f64) -> Problem {
        let numerics = Numerics::default();
        let grid = DepthGrid::new(15.0, 60.0, 1200.0, &numerics);
        let d = 3.6e-6 * 3600.0;
        let n = grid.len();
        Problem {
            diffusivity_cm2_h: (0..n).map(|k| if grid.dermis[k] { d } else { 0.3 * d }).collect(),
            clearance_per_h: (0..n).map(|k| if grid.dermis[k] { clearance } else { 0.0 }).collect(),
            grid,
            kp_cm_h: kp,
            vehicle_cm: 2e-3,
            concentration_ug_cm3: 1e4,
            start_h: 0.0,
            end_h: 8.0,
            report_h: 24.0,
            channels,
            timeline_h: vec![1.0, 4.0, 8.0, 24.0],
            profile_h: vec![4.0],
            numerics,
        }
    }

    fn channels(closure: Closure) -> ChannelPath {
        ChannelPath { punctures_per_cm2: 200.0, radius_um: 37.5, depth_um: 300.0, closure }
    }

    #[test]
    fn closure_times_follow_the_piecewise_rates() {
        let c = Closure { segments: vec![(0.0, 0.5), (2.0, 0.1)] };
        assert!((c.open_fraction(2.0) - (-1.0f64).exp()).abs() < 1e-12);
        assert!((c.open_fraction(4.0) - (-1.2f64).exp()).abs() < 1e-12);
        // 50 %: ln 2 = 0.693 < 1 is reached in the first segment.
        assert!((c.time_until_open(0.5).unwrap() - 2.0f64.ln() / 0.5).abs() < 1e-12);
        // 10 %: ln 10 = 2.303 = 1 + 0.1 (t - 2).
        assert!((c.time_until_open(0.1).unwrap() - (2.0 + (10f64.ln() - 1.0) / 0.1)).abs() < 1e-9);
        assert_eq!(Closure::never().time_until_open(0.5), None);
        assert_eq!(Closure::never().open_fraction(100.0), 1.0);
    }

    #[test]
    fn mass_balances_to_round_off_with_and_without_channels() {
        for p in [
            problem(None, 1e-3, 1.0),
            problem(Some(channels(Closure { segments: vec![(0.0, 0.5)] })), 1e-3, 1.0),
            problem(Some(channels(Closure::never())), 1e-3, 0.0),
            problem(Some(channels(Closure::never())), 0.5, 3.0),
        ] {
            let s = solve(&p);
            assert!(s.max_mass_error < 1e-9, "{}", s.max_mass_error);
            assert!(s.profiles[0].1.iter().all(|&c| c >= 0.0));
            let total = s.end.total();
            assert!((total - s.applied_ug_cm2).abs() <= 1e-9 * s.applied_ug_cm2);
        }
    }

    #[test]
    fn intact_uptake_matches_kp_times_concentration_under_sink_conditions() {
        // A small kp keeps the top cell near zero, so the flux into the skin is kp C_v and the
        // vehicle empties exponentially: uptake = A0 (1 - exp(-kp t / h_v)).
        let p = problem(None, 1e-5, 5.0);
        let s = solve(&p);
        let into_skin =
            s.applied_ug_cm2 - s.timeline.iter().find(|x| x.0 == 8.0).unwrap().1.on_surface;
        let expected = s.applied_ug_cm2 * (1.0 - (-1e-5 * 8.0 / p.vehicle_cm).exp());
        assert!((into_skin / expected - 1.0).abs() < 1e-3, "{into_skin} vs {expected}");
    }

    #[test]
    fn open_channels_deliver_more_and_the_profile_is_deeper() {
        let intact = solve(&problem(None, 1e-5, 1.0));
        let open = solve(&problem(Some(channels(Closure::never())), 1e-5, 1.0));
        assert!(open.end.dermis_dose() > 10.0 * intact.end.dermis_dose());
        let deep = |s: &Solution| s.profiles[0].1[40];
        assert!(deep(&open) > deep(&intact));
    }

    #[test]
    fn smaller_steps_change_the_dose_little() {
        let ch = Some(channels(Closure { segments: vec![(0.0, 0.5)] }));
        let coarse = solve(&problem(ch.clone(), 1e-4, 1.0)).end.dermis_dose();
        let mut fine = problem(ch, 1e-4, 1.0);
        fine.numerics.dt_max_h /= 4.0;
        fine.numerics.dt_min_h /= 4.0;
        let fine = solve(&fine).end.dermis_dose();
        assert!((coarse / fine - 1.0).abs() < 0.01, "{coarse} vs {fine}");
    }
}
