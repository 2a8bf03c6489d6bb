//! Physics and numerics invariants of the simulator (issue 2 checks).

use dermasim::kinetics::species::{self, COUNT};
use dermasim::ode::Tolerance;
use dermasim::{Fidelity, Options, ParameterSet, Scenario, Simulation, Summary};

fn base() -> ParameterSet {
    ParameterSet::default_set()
}

/// The default scenario at a fidelity; 3d on a small patch so tests stay fast.
fn scenario(fidelity: Fidelity) -> Scenario {
    let mut s = Scenario::default_scenario();
    s.simulation.fidelity = fidelity;
    if fidelity == Fidelity::Three {
        s.simulation.patch_um = [400.0, 400.0];
        s.simulation.dx_um = 40.0;
    }
    s
}

fn run(s: &Scenario) -> Summary {
    dermasim::run(s, &base()).unwrap()
}

#[test]
fn fields_stay_non_negative_at_every_step() {
    for f in [Fidelity::Zero, Fidelity::One, Fidelity::Three] {
        let mut s = scenario(f);
        s.protocol.follow_up_days = 40.0;
        s.protocol.sessions.truncate(2);
        let mut sim = Simulation::new(&s, &base()).unwrap();
        let mut worst = f64::INFINITY;
        sim.run(&mut |sim| {
            for sp in 0..COUNT {
                worst = worst.min(sim.field(sp).iter().copied().fold(f64::INFINITY, f64::min));
            }
            worst = worst.min(sim.epidermis().iter().copied().fold(f64::INFINITY, f64::min));
        })
        .unwrap();
        assert!(worst >= 0.0, "{f:?}: a field went negative ({worst})");
    }
}

#[test]
fn single_central_puncture_gives_a_radially_symmetric_3d_field() {
    let mut s = scenario(Fidelity::Three);
    let (n, dx) = (25.0, 10.0);
    s.simulation.dx_um = dx;
    s.simulation.dz_um = 40.0;
    s.simulation.patch_um = [n * dx, n * dx];
    s.protocol.follow_up_days = 5.0;
    s.protocol.sessions.truncate(1);
    // Small steps: LOD splitting error is anisotropic and grows with the step.
    s.simulation.dt_max_days = 0.05;
    s.simulation.dt_growth = 0.0;
    let centre = n * dx / 2.0;
    let opts = Options { positions: Some(vec![[centre, centre]]), ..Options::default() };
    let mut sim = Simulation::with_options(&s, &base(), opts).unwrap();
    sim.run(&mut |_| {}).unwrap();
    let g = sim.grid().clone();
    let c = 12isize;
    for sp in [species::PT, species::M, species::T, species::F, species::C3] {
        let f = sim.field(sp);
        let scale = f.iter().copied().fold(0.0, f64::max);
        assert!(scale > 0.0, "species {sp} never moved");
        for k in 0..g.nz {
            let at = |dj: isize, di: isize| f[g.idx(k, (c + dj) as usize, (c + di) as usize)];
            for a in 0..=12isize {
                for b in 0..=a {
                    // The eight images of (a, b) under the square's symmetries.
                    let v = at(a, b);
                    for w in [
                        at(b, a),
                        at(-a, b),
                        at(a, -b),
                        at(-a, -b),
                        at(-b, a),
                        at(b, -a),
                        at(-b, -a),
                    ] {
                        assert!(
                            (v - w).abs() <= 1e-6 * scale,
                            "species {sp} k {k} ({a},{b}): {v} vs {w}"
                        );
                    }
                }
            }
            // Points at the same distance (10 voxels: on the axis and at (8, 6)) agree to within
            // the grid's resolution where the field is not negligible, and values fall off with
            // distance from the puncture along an axis.
            let (p, q) = (at(10, 0), at(8, 6));
            if p.max(q) > 1e-2 * scale {
                eprintln!("species {sp} k {k}: r=10 axis {p:.4e} vs (8,6) {q:.4e}");
                assert!(
                    (p - q).abs() <= 0.15 * p.max(q),
                    "species {sp} k {k}: r=10 on axis {p} vs (8,6) {q}"
                );
            }
            // Signals are localised: weaker far from the puncture than next to it (collagen
            // III starts from a baseline and is lost at the channel, so it is not checked here).
            if sp == species::C3 {
                continue;
            }
            let near = (0..=4).map(|r| at(r, 0)).fold(0.0, f64::max);
            assert!(
                at(12, 0) <= near + 1e-12 * scale,
                "species {sp} k {k}: stronger at the patch edge than at the puncture"
            );
        }
    }
}

#[test]
fn fidelity_3d_and_1d_agree_on_collagen_within_the_stated_band() {
    // Stated band (docs/numerics.md): over the default pen's three sessions the 1d collagen
    // gain is within 4 % of the resolved 3d gain (measured: at most 3.3 %, 1d below; 6 % and
    // at most 5.5 % with 1d above before TGF-beta moved with its decay). The 3d
    // reference is an 800 um patch at 20 um (about 17 punctures a session): the 400 um, 40 um
    // patch of the other tests holds four punctures and reads 0.02-0.03 lower, from the
    // sample of channel positions and the coarse step. The band was 0.02 absolute while the
    // gain was about +0.3 (7 % of it); with the injury dose of latent TGF-beta the gain is
    // about +0.9, and the band is stated relative to it, tighter than before.
    let s1 = run(&scenario(Fidelity::One));
    let mut s = scenario(Fidelity::Three);
    s.simulation.patch_um = [800.0, 800.0];
    s.simulation.dx_um = 20.0;
    s.simulation.dz_um = 20.0;
    let s3 = run(&s);
    for day in [14.0, 56.0, 90.0, 180.0] {
        let c = |s: &Summary| s.at(day).unwrap().collagen_total_rel;
        let (b, d) = (c(&s1), c(&s3));
        let rel = (b - d).abs() / (d - 1.0);
        eprintln!("day {day}: 1d {b:.4} 3d {d:.4} ({:.1} % of the 3d gain)", 100.0 * rel);
        assert!(d > 1.05 && rel <= 0.04, "day {day}: 3d {d} vs 1d {b}");
    }
}

#[test]
fn fidelity_0d_and_1d_agree_on_collagen_within_the_stated_band() {
    // Stated band (docs/numerics.md): 0d within 0.02 of 1d on collagen_total_rel (0.06 until
    // the 0d grid was split where channels end; tightened, never loosened). It failed
    // after issue 15 (0d - 1d = 0.063 at day 180) while 0d held one cell per layer: the
    // channel's injury, mixed over the whole reticular layer, made all of it respond, session
    // after session. The 0d grid now splits a layer where the channels end (measured: 0.0085).
    let s0 = run(&scenario(Fidelity::Zero));
    let s1 = run(&scenario(Fidelity::One));
    for day in [14.0, 56.0, 90.0, 180.0] {
        let c = |s: &Summary| s.at(day).unwrap().collagen_total_rel;
        let (a, b) = (c(&s0), c(&s1));
        eprintln!("day {day}: 0d {a:.4} 1d {b:.4}");
        assert!((a - b).abs() <= 0.02, "day {day}: 0d {a} vs 1d {b}");
    }
}

#[test]
fn halving_grid_spacing_and_steps_changes_outputs_little() {
    // Reported in docs/numerics.md; the bound here is 0.5 % of each main output.
    let coarse = scenario(Fidelity::One);
    let mut fine = coarse.clone();
    fine.simulation.dz_um /= 2.0;
    fine.simulation.dt_min_days /= 2.0;
    fine.simulation.dt_max_days /= 2.0;
    fine.simulation.dt_growth /= 2.0;
    let (a, b) = (run(&coarse), run(&fine));
    for (name, x, y) in [
        (
            "collagen_total_rel",
            a.endpoints.collagen_total_rel_end,
            b.endpoints.collagen_total_rel_end,
        ),
        ("collagen_i_rel", a.endpoints.collagen_i_rel_end, b.endpoints.collagen_i_rel_end),
        ("elastin_rel", a.endpoints.elastin_rel_end, b.endpoints.elastin_rel_end),
        (
            "epidermis_thickness_rel",
            a.endpoints.epidermis_thickness_rel_end,
            b.endpoints.epidermis_thickness_rel_end,
        ),
        (
            "fibroblasts_rel day 14",
            a.at(14.0).unwrap().fibroblasts_rel,
            b.at(14.0).unwrap().fibroblasts_rel,
        ),
    ] {
        let rel = ((x - y) / y).abs();
        eprintln!("{name}: {x:.6} -> {y:.6} (relative change {rel:.2e})");
        assert!(rel < 5e-3, "{name} changed by {rel:e} under refinement");
    }
}

#[test]
fn same_seed_gives_identical_summaries_on_one_and_two_threads() {
    let mut s = scenario(Fidelity::Three);
    s.protocol.follow_up_days = 30.0;
    s.protocol.sessions.truncate(2);
    let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
    let one = pool(1).install(|| serde_json::to_string(&run(&s)).unwrap());
    let two = pool(2).install(|| serde_json::to_string(&run(&s)).unwrap());
    assert_eq!(one, two);
    let again = pool(2).install(|| serde_json::to_string(&run(&s)).unwrap());
    assert_eq!(two, again);
}

#[test]
fn dose_response_directions_hold() {
    let gain = |s: &Scenario| run(s).endpoints.collagen_total_rel_end - 1.0;
    let default = scenario(Fidelity::One);

    let mut shallow = default.clone();
    if let dermasim::device::Device::Pen(p) = &mut shallow.device {
        p.depth_mm = 0.5;
    }
    let mut one_session = default.clone();
    one_session.protocol.sessions.truncate(1);
    let mut old = default.clone();
    old.patient.age_years = 70.0;
    let mut young = default.clone();
    young.patient.age_years = 22.0;

    let g = gain(&default);
    assert!(g > gain(&shallow), "deeper needles must give more new collagen");
    assert!(g > gain(&one_session), "more sessions must give more new collagen");
    assert!(gain(&young) > g && g > gain(&old), "younger skin must give more new collagen");

    let mut home = default.clone();
    home.device = dermasim::device::Device::Roller(
        toml::from_str("needle_length_mm = 0.25\npasses = 2\ndirections = 2").unwrap(),
    );
    home.protocol.sessions = (0..12)
        .map(|w| dermasim::scenario::Session { day: 7.0 * w as f64, device: None })
        .collect();
    let h = gain(&home);
    assert!(h < 0.2 * g, "a 0.25 mm home roller must give little dermal response ({h} vs {g})");
}

#[test]
fn optimised_kinetics_match_the_reference_integrator_on_a_whole_run() {
    // Rodas3 with the analytic Jacobian at the default tolerance against Rodas4 with
    // finite differences and dense LU at rtol 1e-6 (the first implementation): the main
    // outputs agree to 5e-4, ten times inside the refinement bound above; the inflammatory
    // means, transients that the kinetics tolerance (rtol 2e-3) governs directly, to 5e-3.
    let s = scenario(Fidelity::One);
    let fast = run(&s);
    let opts = Options { reference_kinetics: true, ..Options::default() };
    let reference = Simulation::with_options(&s, &base(), opts).unwrap().run(&mut |_| {}).unwrap();
    for day in [3.0, 14.0, 56.0, 90.0, 180.0] {
        let (a, b) = (fast.at(day).unwrap(), reference.at(day).unwrap());
        for (name, x, y, bound) in [
            ("collagen_total_rel", a.collagen_total_rel, b.collagen_total_rel, 5e-4),
            ("elastin_rel", a.elastin_rel, b.elastin_rel, 5e-4),
            ("epidermis_thickness_rel", a.epidermis_thickness_rel, b.epidermis_thickness_rel, 5e-4),
            ("fibroblasts_rel", a.fibroblasts_rel, b.fibroblasts_rel, 5e-4),
            ("macrophages", a.macrophages, b.macrophages, 5e-3),
            ("tgf_beta", a.tgf_beta, b.tgf_beta, 5e-3),
        ] {
            let rel = ((x - y) / y).abs();
            eprintln!("day {day} {name}: {x:.6} vs reference {y:.6} ({rel:.1e})");
            assert!(rel < bound, "day {day} {name}: {x} vs reference {y}");
        }
    }
}

#[test]
fn the_3d_step_error_is_small() {
    // docs/numerics.md, "Time steps at 3d": one pen session on a 300 um patch at 20 um, every
    // step setting halved twice, the kinetics at a tight tolerance so that what changes is the
    // step's error alone. With the decay of TGF-beta folded into the depth sweep only, its
    // screened spread grew with the step: the day-180 gain moved 0.64 % per halving (0.57 %
    // with the backward-Euler step extrapolated). With the step's factors scaled
    // (`transport::diffuse_screened`) and the epidermis driven by the mean of its drives it
    // moves 0.073 %, then 0.057 %: under 0.15 % per halving is the bound. What is left shrinks
    // slowly (0.077 % then 0.073 % from twice the default steps): still TGF-beta's, from the
    // split between its transport and the kinetics, not its solve (docs/numerics.md).
    let mut coarse = scenario(Fidelity::Three);
    coarse.simulation.patch_um = [300.0, 300.0];
    coarse.simulation.dx_um = 20.0;
    coarse.protocol.sessions.truncate(1);
    let tight = Tolerance { rtol: 1e-6, atol: 1e-10 };
    let scaled = |scale: f64| {
        let mut s = coarse.clone();
        s.simulation.dt_min_days *= scale;
        s.simulation.dt_max_days *= scale;
        s.simulation.dt_growth *= scale;
        let opts = Options { tolerance: Some(tight), ..Options::default() };
        let mut sim = Simulation::with_options(&s, &base(), opts).unwrap();
        sim.run(&mut |_| {}).unwrap().endpoints.collagen_total_rel_end - 1.0
    };
    let [a, b, c] = [1.0, 0.5, 0.25].map(scaled);
    let (first, second) = (((a - b) / c).abs(), ((b - c) / c).abs());
    eprintln!(
        "3d day-180 gain at step scales 1, 1/2, 1/4: {a:.5}, {b:.5}, {c:.5}; changes {:.3} % then {:.3} % of it",
        100.0 * first,
        100.0 * second
    );
    assert!(c > 0.1, "the session must leave a gain: {c}");
    assert!(first < 1.5e-3, "halving the steps moved the gain from {a} to {b}");
    assert!(second < 1.5e-3, "halving the steps again moved the gain from {b} to {c}");
}

/// Worst difference over the common days of two timelines: `*_rel` outputs absolute, the
/// inflammatory means relative to their peak in `b`.
fn timeline_gap(a: &Summary, b: &Summary) -> (f64, f64) {
    let point =
        |s: &Summary, t: f64| s.timeline.iter().find(|p| (p.t_day - t).abs() < 1e-9).cloned();
    let (mut rel, mut infl) = (0.0f64, 0.0f64);
    let inflammatory: [fn(&dermasim::outcome::TimelinePoint) -> f64; 4] =
        [|p| p.neutrophils, |p| p.macrophages, |p| p.debris, |p| p.tgf_beta];
    let peaks = inflammatory.map(|f| b.timeline.iter().map(f).fold(0.0, f64::max));
    for q in &b.timeline {
        let Some(p) = point(a, q.t_day) else { continue };
        for (x, y) in [
            (p.collagen_total_rel, q.collagen_total_rel),
            (p.collagen_i_rel, q.collagen_i_rel),
            (p.collagen_iii_rel, q.collagen_iii_rel),
            (p.elastin_rel, q.elastin_rel),
            (p.epidermis_thickness_rel, q.epidermis_thickness_rel),
            (p.fibroblasts_rel, q.fibroblasts_rel),
        ] {
            rel = rel.max((x - y).abs());
        }
        for (f, peak) in inflammatory.iter().zip(peaks) {
            infl = infl.max((f(&p) - f(q)).abs() / peak);
        }
    }
    (rel, infl)
}

#[test]
fn the_timeline_cadence_changes_no_number() {
    // Steps never stop at timeline points (docs/numerics.md, "Splitting and steps"): a point
    // inside a step is interpolated between its ends, so a run's days are the same values
    // whatever else it reports.
    for f in [Fidelity::One, Fidelity::Three] {
        let daily = scenario(f);
        let mut finer = daily.clone();
        finer.simulation.output_every_days = 0.25;
        let (a, b) = (run(&daily), run(&finer));
        assert_eq!(b.timeline.len(), 4 * (a.timeline.len() - 1) + 1, "{f:?}");
        for p in &a.timeline {
            let q = b.timeline.iter().find(|q| q.t_day == p.t_day).expect("every daily point");
            assert_eq!(format!("{p:?}"), format!("{q:?}"), "{f:?}: day {}", p.t_day);
        }
    }
}

#[test]
fn interpolated_timeline_points_stay_close_to_landed_ones() {
    // A run made to land on every day (`Options::stops`, as every run did before the steps
    // grew past a day) against the default run, which interpolates the days inside its steps
    // along a parabola: measured 1.7e-3 on `*_rel` and 9.0e-4 of the inflammatory peaks on
    // this 3d patch, 6.3e-4 and 8.7e-4 at 1d. A straight line between each step's ends
    // measured 1.4e-3 and 2.7e-3 at 3d, 1.6e-3 and 2.9e-3 at 1d (with the steps of
    // 2026-12-06), so the inflammatory bound, 2e-3, holds the parabola to its gain.
    for f in [Fidelity::One, Fidelity::Three] {
        let s = scenario(f);
        let days: Vec<f64> = (1..s.protocol.follow_up_days as usize).map(|d| d as f64).collect();
        let opts = Options { stops: days, ..Options::default() };
        let landed = Simulation::with_options(&s, &base(), opts).unwrap().run(&mut |_| {}).unwrap();
        let (rel, infl) = timeline_gap(&run(&s), &landed);
        eprintln!(
            "{f:?}: interpolated vs landed: *_rel {rel:.2e}, inflammatory {infl:.2e} of peak"
        );
        assert!(rel < 3e-3 && infl < 2e-3, "{f:?}: {rel} {infl}");
    }
}
