//! Building a simulation from a scenario: column, grid, baselines, diffusion, channels.

use super::*;

impl Simulation {
    /// Build a run of a prepared scenario: grid, baselines, diffusion and fields. Ensemble
    /// members come here with a scenario prepared unchecked against their own draws.
    pub fn from_prepared(prepared: &Prepared, options: Options) -> Result<Simulation, Error> {
        let scenario = &prepared.scenario;
        if scenario.inflammation.is_some() && options.inflammation.is_none() {
            return Err(crate::FieldError::new(
                "inflammation.sbml",
                "no module was loaded for it: the core reads no files; dermasim-app loads SBML \
                 for single runs (ensembles, validation and cohorts use the built-in module)",
            )
            .into());
        }
        let (set, column) = (&prepared.set, &prepared.column);
        let sim = &scenario.simulation;
        let grid = match sim.fidelity {
            Fidelity::Zero => {
                // One cell per layer, split where each session's channels end (Grid::split_layers).
                let ends: Vec<f64> =
                    prepared.channels.iter().map(|ch| ch.effective_depth_um).collect();
                Grid::split_layers(&column.thickness_um, &ends)
            }
            Fidelity::One => Grid::layered(&column.thickness_um, Some(sim.dz_um), 1, 1, 1.0),
            Fidelity::Three => {
                let nx = (sim.patch_um[0] / sim.dx_um).round() as usize;
                let ny = (sim.patch_um[1] / sim.dx_um).round() as usize;
                Grid::layered(&column.thickness_um, Some(sim.dz_um), nx, ny, sim.dx_um)
            }
        };
        let layer_index = |l: Layer| Layer::ALL.iter().position(|&x| x == l).unwrap();
        let base: Vec<Baseline> =
            grid.layer.iter().map(|&l| column.baseline[layer_index(l)]).collect();
        let tp = TransportParams::from_set(set)?;
        let mut diffusion = vec![vec![0.0; grid.nz]; COUNT];
        for (s, d) in [
            (P, tp.d_pathogen),
            (PT, tp.d_debris),
            (N, tp.d_neutrophils),
            (M, tp.d_macrophages),
            (MR, tp.d_macrophages),
            (T, tp.d_tgf_beta),
            (F, tp.d_fibroblasts),
        ] {
            for (k, l) in grid.layer.iter().enumerate() {
                let factor = match l {
                    Layer::StratumCorneum => tp.stratum_corneum_diffusion_factor,
                    Layer::Epidermis => tp.epidermis_diffusion_factor,
                    _ => 1.0,
                };
                // Fibroblasts live in the dermis only.
                diffusion[s][k] = if s == F && !l.is_dermis() { 0.0 } else { d * factor };
            }
        }
        // TGF-beta decays within hours, as fast as it spreads: transport moves it together with
        // its decay (`Simulation::transport_tgf`), so the common diffusion leaves it out.
        let tgf_diffusion = std::mem::replace(&mut diffusion[T], vec![0.0; grid.nz]);
        let len = grid.len();
        let mut fields = vec![0.0; COUNT * len];
        for (k, b) in base.iter().enumerate() {
            let y = b.state();
            for s in 0..COUNT {
                fields[s * len + k * grid.plane()..s * len + (k + 1) * grid.plane()].fill(y[s]);
            }
        }
        let mut refill = vec![0.0; 3 * len];
        for (k, b) in base.iter().enumerate() {
            for (m, level) in b.matrix().iter().enumerate() {
                refill[m * len + k * grid.plane()..m * len + (k + 1) * grid.plane()].fill(*level);
            }
        }
        let (remodel, injury) = (RemodelParams::from_set(set)?, InjuryParams::from_set(set)?);
        // It decays where the kinetics runs (viable tissue), not in the stratum corneum.
        let tgf_decay = grid
            .layer
            .iter()
            .map(|l| if l.is_viable() { remodel.tgf_decay_per_day } else { 0.0 })
            .collect();
        let doses = [
            injury.pathogen_per_injury,
            injury.debris_per_injury,
            injury.neutrophils_per_injury,
            injury.latent_tgf_per_injury,
        ];
        let rest_scale = base.iter().map(|b| RestScale::new(b, doses, &remodel)).collect();
        let mut me = Simulation {
            refill,
            rest_scale,
            cooper: CooperParams::from_set(set)?,
            remodel,
            injury,
            epi: EpidermisParams::from_set(set)?,
            prepared: prepared.clone(),
            epidermis: vec![1.0; grid.plane()],
            zone: vec![if sim.fidelity == Fidelity::Three { 1.0 } else { 0.0 }; grid.plane()],
            step: vec![0.0; len],
            grid,
            options,
            base,
            diffusion,
            tgf_diffusion,
            tgf_decay,
            tgf_excess: vec![0.0; len],
            fields,
            t: 0.0,
            reference: Sums::default(),
            sessions_done: 0,
            session_outcomes: Vec::new(),
            timeline: Vec::new(),
            step_start: None,
            stats: Stats::default(),
            profile: Profile::default(),
        };
        me.reference = me.sums();
        Ok(me)
    }
}
