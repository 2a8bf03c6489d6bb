//! Punctures along the device's paths at 3d (`simulation.placement = "paths"`): the run
//! responds to how the device is moved, and untreated gaps between tracks count.

use dermasim::device::Device;
use dermasim::placement::Placement;
use dermasim::{Fidelity, ParameterSet, Scenario};

/// One pen session with a narrow (2 mm) cartridge footprint, on a 4 x 4 mm patch at 50 um,
/// followed for 30 days: small enough for a test, wide enough to hold whole tracks.
fn pen_on_paths(track_spacing_mm: Option<f64>) -> Scenario {
    let mut s = Scenario::default_scenario();
    s.protocol.sessions.truncate(1);
    s.protocol.follow_up_days = 30.0;
    s.simulation.fidelity = Fidelity::Three;
    s.simulation.patch_um = [4000.0, 4000.0];
    s.simulation.dx_um = 50.0;
    s.simulation.dz_um = 50.0;
    s.simulation.output_every_days = 5.0;
    s.simulation.placement = Placement::Paths;
    s.simulation.path_jitter_um = 50.0;
    let Device::Pen(p) = &mut s.device else { panic!("the default device is a pen") };
    p.footprint_mm = 2.0;
    p.needles = 3;
    p.track_spacing_mm = track_spacing_mm;
    s
}

fn gain(s: &Scenario) -> f64 {
    let r = dermasim::run(s, &ParameterSet::default_set()).unwrap();
    r.last().collagen_total_rel - 1.0
}

#[test]
fn tracks_respond_and_untreated_gaps_between_them_respond_less() {
    let edge_to_edge = gain(&pen_on_paths(None));
    let gapped = gain(&pen_on_paths(Some(4.0)));
    assert!(edge_to_edge > 0.0, "pen tracks gave no collagen: {edge_to_edge}");
    // Twice the spacing: half the punctures, and strips that nothing reached.
    assert!(gapped > 0.0 && gapped < edge_to_edge, "{gapped} vs {edge_to_edge}");
}

#[test]
fn paths_are_the_same_on_one_and_two_threads() {
    let s = pen_on_paths(None);
    let on = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            serde_json::to_string(&dermasim::run(&s, &ParameterSet::default_set()).unwrap())
                .unwrap()
        })
    };
    assert_eq!(on(1), on(2));
}
