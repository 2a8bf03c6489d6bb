//! Model-fidelity invariants (issue 15): rest is a fixed point, only healing inflammation,
//! dose response follows the levers users pull.

use dermasim::device::Device;
use dermasim::{Fidelity, ParameterSet, Scenario, Summary};

fn base() -> ParameterSet {
    ParameterSet::default_set()
}

/// The default scenario at a fidelity; 3d on a small coarse patch so tests stay fast.
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

/// Largest departure from 1 of any `*_rel` quantity over the timeline.
fn worst_rel(s: &Summary) -> f64 {
    s.timeline
        .iter()
        .flat_map(|p| p.columns())
        .filter(|(n, _)| n.ends_with("_rel"))
        .map(|(_, v)| (v - 1.0).abs())
        .fold(0.0, f64::max)
}

#[test]
fn untreated_skin_stays_at_rest_for_two_years_at_every_fidelity() {
    for f in [Fidelity::Zero, Fidelity::One, Fidelity::Three] {
        let mut s = scenario(f);
        s.protocol.sessions.clear();
        s.protocol.follow_up_days = 730.0;
        s.simulation.output_every_days = 30.0;
        let r = run(&s);
        let w = worst_rel(&r);
        assert!(w <= 1e-9, "{f:?}: untreated skin drifted by {w:e}");
        assert!(r.timeline.last().unwrap().t_day >= 730.0 - 1e-9);
    }
}

#[test]
fn a_device_that_makes_no_punctures_changes_nothing() {
    for f in [Fidelity::Zero, Fidelity::One, Fidelity::Three] {
        let mut s = scenario(f);
        if let Device::Pen(p) = &mut s.device {
            p.passes = 0;
        }
        s.protocol.follow_up_days = 365.0;
        let r = run(&s);
        let w = worst_rel(&r);
        assert!(w <= 1e-9, "{f:?}: zero punctures moved the dermis by {w:e}");
    }
}

#[test]
fn transport_alone_keeps_the_layered_resting_profile() {
    // The resting fibroblast density steps from papillary to reticular dermis; with the wound
    // signals absent nothing may move (the old absolute-density diffusion did, issue 15).
    let mut s = scenario(Fidelity::One);
    s.parameters.insert("debris_per_injury".into(), 0.0);
    s.parameters.insert("neutrophils_per_injury".into(), 0.0);
    s.parameters.insert("matrix_loss_per_injury".into(), 0.0);
    s.parameters.insert("d_fibroblasts".into(), 5000.0);
    s.parameters.insert("reticular_fibroblasts_rel".into(), 0.2);
    s.protocol.follow_up_days = 730.0;
    let r = run(&s);
    let w = worst_rel(&r);
    assert!(w <= 1e-9, "injury-free sessions moved the dermis by {w:e}");
}
