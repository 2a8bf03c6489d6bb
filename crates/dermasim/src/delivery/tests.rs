//! The checks on the delivery model: relations and invariants, not particular outputs.

use super::*;
use crate::device::Device;
use crate::params::ParameterSet;
use crate::scenario::Scenario;
use crate::tissue::{Sex, SiteTable};

const VITAMIN_C_PEN: &str = include_str!("../../../../examples/delivery_vitamin_c_pen.toml");
const HA_ROLLER: &str = include_str!("../../../../examples/delivery_hyaluronic_home_roller.toml");
const EGF_OCCLUDED: &str =
    include_str!("../../../../examples/delivery_growth_factor_occluded.toml");
const MOHAMMED: &str = include_str!("../../../../validation/delivery_mohammed2014.toml");

fn scenario(text: &str) -> Scenario {
    toml::from_str(text).expect("scenario parses")
}

fn base() -> ParameterSet {
    ParameterSet::default_set()
}

/// Delivery of `s`, prepared against the default parameters.
fn deliver_scenario(s: &Scenario) -> Result<DeliveryReport, Error> {
    deliver(&s.prepare(SiteTable::shared(), &base())?)
}

/// The first session of `s`, with the compound and topical settings changed by `edit`.
fn first_session(mut s: Scenario, edit: impl FnOnce(&mut Topical)) -> SessionDelivery {
    s.protocol.sessions.truncate(1);
    edit(s.topical.as_mut().unwrap());
    deliver_scenario(&s).expect("delivery runs").sessions.remove(0)
}

fn column(s: &Scenario) -> Column {
    let p = &s.patient;
    Column::build(SiteTable::embedded().get(&p.site).unwrap(), p.age_years, p.sex, &base()).unwrap()
}

fn with_pen(s: &Scenario, depth_mm: f64, passes: u32) -> Scenario {
    let mut s = s.clone();
    match &mut s.device {
        Device::Pen(p) => {
            p.depth_mm = depth_mm;
            p.passes = passes;
        }
        _ => panic!("a pen scenario"),
    }
    s
}

#[test]
fn without_punctures_the_dose_is_the_potts_guy_intact_dose() {
    let s = scenario(VITAMIN_C_PEN);
    let table = CompoundTable::embedded();
    let t = s.topical.clone().unwrap();
    let compound = table.get(&t.compound).unwrap();
    let app = Application { compound, constants: &table.model, topical: &t };
    let col = column(&s);
    let none = simulate(&col, None, &app, &Numerics::default());
    // The intact-skin run of a treated session is the same calculation.
    let treated = first_session(s.clone(), |_| {});
    assert_eq!(none.dermis_dose_ug_per_cm2, treated.intact_skin_dose_ug_per_cm2);
    assert_eq!(none.enhancement_factor, Some(1.0));
    // A device with no punctures is skin without punctures.
    let mut zero = s.device.channels(&col, &base()).unwrap();
    zero.punctures_per_cm2 = 0.0;
    assert_eq!(
        simulate(&col, Some(&zero), &app, &Numerics::default()).dermis_dose_ug_per_cm2,
        none.dermis_dose_ug_per_cm2
    );

    // Potts & Guy: ascorbic acid has kp = 10^(-2.72 + 0.71 x -1.85 - 0.0061 x 176.12) cm/h.
    let kp = 10f64.powf(-2.72 + 0.71 * -1.85 - 0.0061 * 176.12);
    assert!((table.model.potts_guy_kp_cm_per_h(compound) / kp - 1.0).abs() < 1e-12);
    // With kp this small the viable skin is a sink, so the vehicle empties at rate kp / h_v:
    // uptake by the end of the application = applied x (1 - exp(-kp t / h_v)).
    let at_end = none.dose_timeline.iter().find(|p| (p.t_h - t.end_h()).abs() < 1e-9).unwrap();
    let uptake = t.applied_ug_per_cm2() - at_end.on_surface_ug_per_cm2;
    let expected =
        t.applied_ug_per_cm2() * (1.0 - (-kp * t.duration_h / (t.amount_ul_per_cm2 * 1e-3)).exp());
    assert!((uptake / expected - 1.0).abs() < 1e-3, "uptake {uptake} vs Potts & Guy {expected}");
    // What reaches the dermis is what crossed the barrier, less what is still in the epidermis.
    assert!(none.dermis_dose_ug_per_cm2 <= uptake * (1.0 + 1e-9));
    assert!(none.dermis_dose_ug_per_cm2 > 0.9 * uptake);
}

#[test]
fn enhancement_grows_with_depth_and_density_and_depth_matters_more() {
    let s = scenario(VITAMIN_C_PEN);
    for compound in ["niacinamide", "hyaluronic_acid_5kda", "egf"] {
        // A dose of the compound itself where intact skin delivers nothing measurable.
        let dose = |depth: f64, passes: u32| {
            let r = first_session(with_pen(&s, depth, passes), |t| {
                t.compound = compound.into();
                t.amount_ul_per_cm2 = 20.0;
            });
            r.enhancement_factor.unwrap_or(r.dermis_dose_ug_per_cm2)
        };
        let depths = [0.25, 0.5, 0.75, 1.0, 1.5];
        let by_depth: Vec<f64> = depths.iter().map(|&d| dose(d, 3)).collect();
        assert!(by_depth.windows(2).all(|w| w[1] > w[0]), "{compound}: {by_depth:?}");
        let by_density: Vec<f64> = [1, 2, 3, 6, 9].iter().map(|&n| dose(0.5, n)).collect();
        assert!(by_density.windows(2).all(|w| w[1] > w[0]), "{compound}: {by_density:?}");
        // Davidson et al. 2008: depth matters more than density. Doubling the depth beats
        // doubling the density from every base in common use.
        for (depth, passes) in [(0.25, 2), (0.25, 3), (0.5, 2), (0.5, 3), (0.75, 3)] {
            let deeper = dose(2.0 * depth, passes);
            let denser = dose(depth, 2 * passes);
            assert!(
                deeper > denser,
                "{compound} at {depth} mm x {passes}: deeper {deeper} vs denser {denser}"
            );
        }
    }
}

#[test]
fn high_molecular_weight_hyaluronan_enters_only_through_open_channels() {
    let s = scenario(VITAMIN_C_PEN);
    let ha = |start_h: f64| {
        first_session(s.clone(), |t| {
            t.compound = "hyaluronic_acid_1mda".into();
            t.concentration_mg_per_ml = 10.0;
            t.start_h = start_h;
            t.report_h = Some(start_h + 24.0);
            t.profile_hours = None;
        })
    };
    let fresh = ha(0.0);
    assert_eq!(fresh.intact_skin_dose_ug_per_cm2, 0.0, "intact skin is closed to 1 MDa");
    assert_eq!(fresh.enhancement_factor, None);
    assert!(fresh.dermis_dose_ug_per_cm2 > 0.0);
    // Applied once 90 % of the channels have closed, and again two days later.
    let t90 = fresh.channel_t90_h.unwrap();
    let late = ha(t90.ceil());
    let closed = ha(48.0);
    assert!(
        late.dermis_dose_ug_per_cm2 < 0.2 * fresh.dermis_dose_ug_per_cm2,
        "{} vs {}",
        late.dermis_dose_ug_per_cm2,
        fresh.dermis_dose_ug_per_cm2
    );
    assert!(
        closed.dermis_dose_ug_per_cm2 < 1e-6 * fresh.dermis_dose_ug_per_cm2,
        "{}",
        closed.dermis_dose_ug_per_cm2
    );
}

#[test]
fn occlusion_slows_closure_and_raises_the_dose() {
    for text in [VITAMIN_C_PEN, HA_ROLLER, EGF_OCCLUDED] {
        for compound in ["ascorbic_acid", "hyaluronic_acid_50kda", "egf"] {
            let run = |occlusion: bool| {
                first_session(scenario(text), |t| {
                    t.compound = compound.into();
                    t.occlusion = occlusion;
                })
            };
            let (open, occluded) = (run(false), run(true));
            assert!(occluded.channel_t50_h.unwrap() > open.channel_t50_h.unwrap());
            assert!(occluded.channel_t90_h.unwrap() > open.channel_t90_h.unwrap());
            assert!(occluded.dermis_dose_ug_per_cm2 > open.dermis_dose_ug_per_cm2, "{compound}");
            // Occlusion acts on the channels only: intact skin gets the same dose.
            assert_eq!(occluded.intact_skin_dose_ug_per_cm2, open.intact_skin_dose_ug_per_cm2);
        }
    }
}

#[test]
fn closure_times_are_first_order_and_deeper_channels_close_later() {
    let s = scenario(VITAMIN_C_PEN);
    let r = first_session(s.clone(), |_| {});
    // f = exp(-t / tau): t90 / t50 = ln 10 / ln 2.
    let ratio = r.channel_t90_h.unwrap() / r.channel_t50_h.unwrap();
    assert!((ratio - 10f64.ln() / 2f64.ln()).abs() < 1e-9);
    let deep = first_session(with_pen(&s, 1.5, 3), |_| {});
    assert!(deep.channel_t50_h.unwrap() > r.channel_t50_h.unwrap());
    // Excised skin never closes.
    let excised = first_session(s, |t| t.skin = SkinState::Excised);
    assert_eq!((excised.channel_t50_h, excised.channel_t90_h), (None, None));
}

#[test]
fn peptides_under_mohammed_2014_conditions_land_in_the_reported_range() {
    // Excised human skin, 24 h, channels never close (validation/delivery_mohammed2014.toml).
    let s = scenario(MOHAMMED);
    let table = CompoundTable::embedded();
    let peptides: Vec<&Compound> = table
        .compound
        .iter()
        .filter(|c| {
            c.kind == compounds::Kind::Peptide && c.residues.is_some_and(|n| (3..=5).contains(&n))
        })
        .collect();
    assert!(peptides.len() >= 2);
    for c in peptides {
        // Mohammed imaged the skin after 1 h and after 24 h.
        for hours in [1.0, 24.0] {
            let r = first_session(s.clone(), |t| {
                t.compound = c.id.clone();
                t.duration_h = hours;
                t.report_h = Some(hours);
                t.profile_hours = Some(vec![hours]);
            });
            let ef = r.enhancement_factor.unwrap();
            assert!(
                (2.0..=22.0).contains(&ef),
                "{} at {hours} h: enhancement {ef} outside Mohammed's 2-22",
                c.id
            );
            assert_eq!(r.channel_t50_h, None);
            assert_eq!(r.mass_balance.cleared_ug_per_cm2, 0.0);
        }
    }
}

#[test]
fn mass_balances_within_1e_minus_6_everywhere() {
    for text in [VITAMIN_C_PEN, HA_ROLLER, EGF_OCCLUDED, MOHAMMED] {
        for compound in CompoundTable::embedded().ids() {
            for occlusion in [false, true] {
                let r = first_session(scenario(text), |t| {
                    t.compound = compound.into();
                    t.occlusion = occlusion;
                });
                let m = &r.mass_balance;
                let sum = m.on_surface_ug_per_cm2 + m.in_skin_ug_per_cm2 + m.cleared_ug_per_cm2;
                assert!(
                    (sum - m.applied_ug_per_cm2).abs() <= 1e-6 * m.applied_ug_per_cm2,
                    "{compound}: {m:?}"
                );
                assert!(m.max_relative_error <= 1e-6, "{compound}: {m:?}");
                for p in &r.dose_timeline {
                    let pools = p.on_surface_ug_per_cm2
                        + p.in_epidermis_ug_per_cm2
                        + p.in_dermis_ug_per_cm2
                        + p.cleared_ug_per_cm2;
                    assert!((pools - m.applied_ug_per_cm2).abs() <= 1e-6 * m.applied_ug_per_cm2);
                }
            }
        }
    }
}

#[test]
fn examples_deliver_with_sane_invariants() {
    for text in [VITAMIN_C_PEN, HA_ROLLER, EGF_OCCLUDED] {
        let s = scenario(text);
        let r = deliver_scenario(&s).unwrap();
        assert_eq!(r.sessions.len(), s.protocol.sessions.len());
        assert_eq!(r.applied_ug_per_cm2, s.topical.as_ref().unwrap().applied_ug_per_cm2());
        for x in &r.sessions {
            assert!(
                x.dermis_dose_ug_per_cm2 >= 0.0 && x.dermis_dose_ug_per_cm2 <= r.applied_ug_per_cm2
            );
            assert!(x.dermis_dose_ug_per_cm2 >= x.intact_skin_dose_ug_per_cm2);
            assert!(x.enhancement_factor.is_none_or(|e| e >= 1.0));
            assert!(x.channel_t50_h.unwrap() < x.channel_t90_h.unwrap());
            let last = x.dose_timeline.last().unwrap();
            assert_eq!(last.t_h, r.report_h);
            assert!((last.dermis_dose_ug_per_cm2 - x.dermis_dose_ug_per_cm2).abs() < 1e-12);
            // Open fraction falls over time.
            assert!(x
                .dose_timeline
                .windows(2)
                .all(|w| w[1].channels_open_fraction <= w[0].channels_open_fraction));
            for p in &x.profile {
                assert_eq!(p.depth_um.len(), p.concentration_ug_per_ml.len());
                assert!(p.depth_um.windows(2).all(|w| w[1] > w[0]));
                assert!(p
                    .concentration_ug_per_ml
                    .iter()
                    .all(|&c| c >= 0.0 && c <= 1000.0 * r.concentration_mg_per_ml));
            }
        }
    }
}

#[test]
fn deeper_channels_put_the_compound_deeper() {
    let s = scenario(VITAMIN_C_PEN);
    let mean_depth = |r: &SessionDelivery| {
        let p = r.profile.iter().find(|p| p.t_h == 1.0).unwrap();
        let mass: f64 = p.concentration_ug_per_ml.iter().sum();
        p.depth_um.iter().zip(&p.concentration_ug_per_ml).map(|(z, c)| z * c).sum::<f64>() / mass
    };
    let edit = |t: &mut Topical| t.compound = "egf".into();
    let shallow = first_session(with_pen(&s, 0.5, 3), edit);
    let deep = first_session(with_pen(&s, 1.5, 3), edit);
    assert!(mean_depth(&deep) > mean_depth(&shallow));
}

#[test]
fn finer_steps_and_cells_agree() {
    let s = scenario(VITAMIN_C_PEN);
    let table = CompoundTable::embedded();
    let col = column(&s);
    let ch = s.device.channels(&col, &base()).unwrap();
    for id in ["ascorbic_acid", "egf"] {
        let mut t = s.topical.clone().unwrap();
        t.compound = id.into();
        let app =
            Application { compound: table.get(id).unwrap(), constants: &table.model, topical: &t };
        let coarse = simulate(&col, Some(&ch), &app, &Numerics::default()).dermis_dose_ug_per_cm2;
        let n = Numerics {
            dz_epidermis_um: 2.5,
            dz_dermis_um: 5.0,
            dt_min_h: 2.5e-4,
            dt_max_h: 0.0125,
            dt_growth: 1.2,
        };
        let fine = simulate(&col, Some(&ch), &app, &n).dermis_dose_ug_per_cm2;
        assert!((coarse / fine - 1.0).abs() < 0.02, "{id}: {coarse} vs {fine}");
    }
}

#[test]
fn bad_topical_input_names_the_field() {
    let sites = SiteTable::embedded();
    let err = |edit: &dyn Fn(&mut Topical)| {
        let mut s = scenario(VITAMIN_C_PEN);
        edit(s.topical.as_mut().unwrap());
        s.validate(&sites, &base()).unwrap_err()
    };
    let e = err(&|t| t.compound = "snake_oil".into());
    assert_eq!(e.path, "topical.compound");
    assert!(e.message.contains("ascorbic_acid"), "{e}");
    let e = err(&|t| t.amount_ul_per_cm2 = -2.0);
    assert_eq!(e.path, "topical.amount_ul_per_cm2");
    let e = err(&|t| t.concentration_mg_per_ml = -1.0);
    assert_eq!(e.path, "topical.concentration_mg_per_ml");
    let e = err(&|t| t.start_h = -1.0);
    assert_eq!(e.path, "topical.start_h");
    assert!(e.message.contains("before the session"), "{e}");
    let e = err(&|t| t.duration_h = 0.0);
    assert_eq!(e.path, "topical.duration_h");
    let e = err(&|t| t.report_h = Some(1.0));
    assert_eq!(e.path, "topical.report_h");
    let e = err(&|t| t.profile_hours = Some(vec![1.0, 500.0]));
    assert_eq!(e.path, "topical.profile_hours.1");
    let e = err(&|t| t.channel_patency = Some(2.0));
    assert_eq!(e.path, "topical.channel_patency");
    // Sessions four weeks apart: a product left on for five weeks would overlap the next one.
    let e = err(&|t| {
        t.duration_h = 700.0;
        t.report_h = Some(710.0);
    });
    assert_eq!(e.path, "topical.duration_h");
    assert!(e.message.contains("protocol.sessions.1.day"), "{e}");
    // And a scenario without a topical section cannot be delivered.
    let mut s = scenario(VITAMIN_C_PEN);
    s.topical = None;
    assert!(deliver_scenario(&s).unwrap_err().to_string().contains("topical"));
}

#[test]
fn older_thinner_skin_still_balances() {
    // A different column (age, sex) changes the grid; the invariants hold.
    let mut s = scenario(EGF_OCCLUDED);
    s.patient.age_years = 80.0;
    s.patient.sex = Sex::Male;
    let r = deliver_scenario(&s).unwrap();
    assert!(r.sessions.iter().all(|x| x.mass_balance.max_relative_error < 1e-6));
}
