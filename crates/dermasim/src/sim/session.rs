//! A session's injury: punctures rasterised into the injured fraction, the 0d/1d wound-zone
//! closure, debris and matrix loss, and the session's outcome.

use super::*;

impl Simulation {
    pub(super) fn apply_session(&mut self, i: usize) -> Result<(), Error> {
        // No timeline curve bridges the session's jump.
        self.step_start = None;
        let ch = self.prepared.channels[i].clone();
        let frac = match self.prepared.scenario.simulation.fidelity {
            Fidelity::Three => {
                let patch =
                    [self.grid.nx as f64 * self.grid.dx, self.grid.ny as f64 * self.grid.dx];
                let mut points: Box<dyn Iterator<Item = [f64; 2]> + '_> =
                    match &self.options.positions {
                        Some(p) => Box::new(p.iter().copied()),
                        None => self.prepared.scenario.punctures(i, patch),
                    };
                injured_fraction(&self.grid, &ch, Some(&mut points))
            }
            _ => injured_fraction(&self.grid, &ch, None),
        };
        let len = self.grid.len();
        let plane = self.grid.plane();
        let inj = self.injury;
        // 0d/1d closure: the new channels' wound zones join the existing zone; the union's state
        // is the volume-weighted mix of the old zone and newly reached resting tissue, and the
        // injury is concentrated in the zone (its injured share is phi / zone).
        let concentration: Vec<f64> =
            if self.prepared.scenario.simulation.fidelity == Fidelity::Three {
                vec![1.0; plane]
            } else {
                let added = ch.wound_zone_fraction();
                (0..plane)
                    .map(|c| {
                        let old = self.zone[c];
                        let new = 1.0 - (1.0 - old) * (1.0 - added);
                        if new <= 0.0 {
                            return 0.0;
                        }
                        let keep = old / new;
                        if keep < 1.0 {
                            for k in 0..self.grid.nz {
                                let v = k * plane + c;
                                let rest = self.base[k].state();
                                for (sp, r) in rest.iter().enumerate() {
                                    let x = &mut self.fields[sp * len + v];
                                    *x = r + keep * (*x - r);
                                }
                                self.tgf_excess[v] *= keep;
                                for (m, r) in self.base[k].matrix().iter().enumerate() {
                                    let x = &mut self.refill[m * len + v];
                                    *x = r + keep * (*x - r);
                                }
                            }
                            self.epidermis[c] = 1.0 + keep * (self.epidermis[c] - 1.0);
                        }
                        self.zone[c] = new;
                        1.0 / new
                    })
                    .collect()
            };
        let (mut injured_volume, mut dermis_volume) = (0.0, 0.0);
        for (v, &phi) in frac.iter().enumerate() {
            let k = v / plane;
            let layer = self.grid.layer[k];
            if layer.is_dermis() {
                injured_volume += phi * self.grid.hz[k];
                dermis_volume += self.grid.hz[k];
            }
            if phi <= 0.0 || !layer.is_viable() {
                continue;
            }
            let phi = (phi * concentration[v % plane]).min(1.0);
            let f = &mut self.fields;
            f[PT * len + v] += inj.debris_per_injury * phi;
            f[N * len + v] += inj.neutrophils_per_injury * phi;
            f[P * len + v] += inj.pathogen_per_injury * phi;
            f[LT * len + v] += inj.latent_tgf_per_injury * phi;
            // Wound filling later restores what the voxel held before this injury (at least
            // its rest, and what an earlier injury left still to be filled).
            for (m, (s, r)) in [C3, C1, EF].into_iter().zip(self.base[k].matrix()).enumerate() {
                let t = &mut self.refill[m * len + v];
                *t = f[s * len + v].max(r).max(*t);
            }
            let keep = 1.0 - inj.matrix_loss_per_injury * phi;
            for s in [C1, C3, EF, ED, EN] {
                f[s * len + v] *= keep;
            }
        }
        let device = self.prepared.scenario.session_device(i);
        self.session_outcomes.push(SessionOutcome {
            day: self.prepared.scenario.protocol.sessions[i].day,
            device: device.kind().to_string(),
            punctures_per_cm2: ch.punctures_per_cm2,
            nominal_depth_um: ch.nominal_depth_um,
            penetration_efficiency: ch.penetration_efficiency,
            effective_depth_um: ch.effective_depth_um,
            channel_radius_um: ch.channel_radius_um,
            channel_angle_deg: ch.angle_deg,
            bleeding: ch.bleeding,
            dermis_injured_fraction: if dermis_volume > 0.0 {
                injured_volume / dermis_volume
            } else {
                0.0
            },
        });
        self.sessions_done += 1;
        Ok(())
    }
}
