//! Time integration: the project's Rodas4 coefficients (`dermasim::ode::Rodas4`) driven on a
//! run-time-sized system, with events located inside the step by bisection on the time of
//! one exact step from the step's start (step-and-refine), fired there, then a restart.

use dermasim::ode::{Method, Rodas4};

use crate::error::{Error, Result};
use crate::math::Code;
use crate::model::{Model, SlotKind};

/// A compiled model with its value store: the right-hand side and Jacobian at any state.
///
/// Slots that are neither states nor assigned (parameters, compartments, event-set values)
/// keep what was last written to them, so one `System` is one run.
#[derive(Debug, Clone)]
pub struct System<'m> {
    model: &'m Model,
    vals: Vec<f64>,
    stack: Vec<f64>,
    /// Per `delay` call: (time, value of its expression), increasing in time.
    history: Vec<Vec<(f64, f64)>>,
    /// Start time (delayed values from before it come from the initial values).
    t0: f64,
}

impl<'m> System<'m> {
    /// A system with every slot at its initial value at time `t0` (initial assignments,
    /// assignment rules and attribute values, in dependency order).
    pub fn new(model: &'m Model, t0: f64) -> System<'m> {
        let mut s = System {
            model,
            vals: vec![f64::NAN; model.n_slots()],
            stack: Vec::with_capacity(model.depth + 1),
            history: vec![Vec::new(); model.delays.len()],
            t0,
        };
        // Delayed values at the start, then the initial values that may read them.
        let mut pre = Vec::with_capacity(model.delays.len());
        for (_, x, tau) in &model.delays {
            let at_start = s.initial_values(t0);
            let d = tau.eval(&at_start, t0, &mut s.stack);
            pre.push(s.before_start(x, t0 - d));
        }
        for ((slot, _, _), v) in model.delays.iter().zip(pre) {
            s.vals[*slot] = v;
        }
        for (slot, code) in &model.init {
            s.vals[*slot] = code.eval(&s.vals, t0, &mut s.stack);
        }
        s.record(t0);
        s
    }

    /// Every slot's initial value as if the run started at `t` (delayed values unknown).
    /// Before the start nothing changes, so every `rateOf` there is 0.
    fn initial_values(&mut self, t: f64) -> Vec<f64> {
        let mut v = vec![f64::NAN; self.vals.len()];
        for (slot, code) in &self.model.init {
            v[*slot] = if self.model.rate_of_slots.contains(slot) {
                0.0
            } else {
                code.eval(&v, t, &mut self.stack)
            };
        }
        v
    }

    /// A delayed expression at a time before the start: the initial values (initial
    /// assignments, rules, and so their dependence on time) evaluated at that time.
    fn before_start(&mut self, x: &Code, t: f64) -> f64 {
        let v = self.initial_values(t);
        x.eval(&v, t, &mut self.stack)
    }

    /// Append the current value of every delayed expression to its history.
    pub(crate) fn record(&mut self, t: f64) {
        for (k, (_, x, _)) in self.model.delays.iter().enumerate() {
            let v = x.eval(&self.vals, t, &mut self.stack);
            let h = &mut self.history[k];
            if h.last().is_none_or(|p| p.0 <= t) {
                h.push((t, v));
            }
        }
    }

    /// The smallest positive delay (for the step-size cap), at the current values.
    pub(crate) fn min_delay(&mut self, t: f64) -> Option<f64> {
        let mut m: Option<f64> = None;
        for (_, _, tau) in &self.model.delays {
            let d = tau.eval(&self.vals, t, &mut self.stack);
            if d > 0.0 && d.is_finite() {
                m = Some(m.map_or(d, |x: f64| x.min(d)));
            }
        }
        m
    }

    /// The model.
    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// Number of states.
    pub fn n(&self) -> usize {
        self.model.states.len()
    }

    /// The current state vector (read from the value store).
    pub fn state(&self) -> Vec<f64> {
        self.model.states.iter().map(|&s| self.vals[s]).collect()
    }

    /// Write `y` into the store and evaluate every assignment at time `t`.
    pub fn load(&mut self, t: f64, y: &[f64]) {
        for (i, &s) in self.model.states.iter().enumerate() {
            self.vals[s] = y[i];
        }
        for (k, (slot, x, tau)) in self.model.delays.iter().enumerate() {
            let d = tau.eval(&self.vals, t, &mut self.stack);
            let tq = t - d;
            self.vals[*slot] =
                if tq < self.t0 { self.before_start(x, tq) } else { lookup(&self.history[k], tq) };
        }
        for (slot, code) in &self.model.assigned {
            self.vals[*slot] = code.eval(&self.vals, t, &mut self.stack);
        }
    }

    /// `dydt = f(t, y)`.
    pub fn rhs(&mut self, t: f64, y: &[f64], dydt: &mut [f64]) {
        self.load(t, y);
        for (i, code) in self.model.derivs.iter().enumerate() {
            dydt[i] = code.eval(&self.vals, t, &mut self.stack);
        }
    }

    /// Analytic Jacobian: `jac[i * n + j] = d f_i / d y_j` (row-major, `n x n`) and
    /// `dfdt[i] = d f_i / d t`. Derived by symbolic differentiation of the same trees.
    pub fn jacobian(&mut self, t: f64, y: &[f64], jac: &mut [f64], dfdt: &mut [f64]) {
        let n = self.n();
        self.load(t, y);
        for (slot, code) in &self.model.dassigned {
            self.vals[*slot] = code.eval(&self.vals, t, &mut self.stack);
        }
        jac[..n * n].iter_mut().for_each(|x| *x = 0.0);
        dfdt[..n].iter_mut().for_each(|x| *x = 0.0);
        for (i, j, code) in &self.model.jac {
            let v = code.eval(&self.vals, t, &mut self.stack);
            if *j == n {
                dfdt[*i] = v;
            } else {
                jac[i * n + j] = v;
            }
        }
    }

    /// Forward-difference Jacobian (the reference the analytic one is tested against).
    pub fn jacobian_fd(&mut self, t: f64, y: &[f64], jac: &mut [f64], dfdt: &mut [f64]) {
        let n = self.n();
        let mut f0 = vec![0.0; n];
        let mut f1 = vec![0.0; n];
        self.rhs(t, y, &mut f0);
        let mut yp = y.to_vec();
        for j in 0..n {
            let d = f64::EPSILON.sqrt() * y[j].abs().max(1e-5);
            yp[j] = y[j] + d;
            self.rhs(t, &yp, &mut f1);
            for i in 0..n {
                jac[i * n + j] = (f1[i] - f0[i]) / d;
            }
            yp[j] = y[j];
        }
        let d = f64::EPSILON.sqrt() * t.abs().max(1e-5);
        self.rhs(t + d, y, &mut f1);
        for i in 0..n {
            dfdt[i] = (f1[i] - f0[i]) / d;
        }
        self.load(t, y);
    }

    /// Value of an SBML id (species: its symbol, a concentration unless
    /// `hasOnlySubstanceUnits`), as of the last [`System::load`].
    pub fn value(&self, id: &str) -> Option<f64> {
        self.model.slot(id).map(|s| self.vals[s])
    }

    /// Amount of a species.
    pub fn amount(&self, id: &str) -> Option<f64> {
        let sp = self.model.species.iter().find(|s| s.id == id)?;
        let v = self.vals[sp.symbol];
        Some(if sp.symbol_is_amount { v } else { v * self.vals[sp.compartment] })
    }

    /// Concentration of a species.
    pub fn concentration(&self, id: &str) -> Option<f64> {
        let sp = self.model.species.iter().find(|s| s.id == id)?;
        let v = self.vals[sp.symbol];
        Some(if sp.symbol_is_amount { v / self.vals[sp.compartment] } else { v })
    }

    /// Overwrite a value by id (a parameter, compartment or species symbol), keeping the
    /// state consistent: a concentration species integrated as an amount gets the amount.
    pub fn set_value(&mut self, id: &str, v: f64) -> Result<()> {
        let slot = self.model.slot(id).ok_or_else(|| Error::Mapping {
            id: id.into(),
            what: "no such id in the model".into(),
        })?;
        if self.model.assigned.iter().any(|(s, _)| *s == slot)
            && self.model.kinds[slot] != SlotKind::Species
        {
            return Err(Error::Mapping { id: id.into(), what: "set by an assignment".into() });
        }
        self.write(slot, v, None);
        Ok(())
    }

    pub(crate) fn write_slot(&mut self, slot: usize, v: f64) {
        self.vals[slot] = v;
    }

    pub(crate) fn slot_value(&self, slot: usize) -> f64 {
        self.vals[slot]
    }

    fn write(&mut self, slot: usize, v: f64, to_amount: Option<(usize, usize)>) {
        match to_amount.or_else(|| self.amount_slot(slot)) {
            Some((a, c)) => {
                self.vals[a] = v * self.vals[c];
                self.vals[slot] = v;
            }
            None => self.vals[slot] = v,
        }
    }

    fn amount_slot(&self, slot: usize) -> Option<(usize, usize)> {
        if self.model.kinds[slot] != SlotKind::Species {
            return None;
        }
        let name = format!("amount({})", self.model.names[slot]);
        let sp = self.model.species.iter().find(|s| s.symbol == slot)?;
        self.model.names.iter().position(|n| *n == name).map(|a| (a, sp.compartment))
    }

    fn eval_trigger(&mut self, e: usize, t: f64) -> bool {
        let v = self.model.events[e].trigger.eval(&self.vals, t, &mut self.stack);
        v != 0.0 && !v.is_nan()
    }
}

/// An event write: slot, value, and (amount slot, amount) for a concentration species.
type Write = (usize, f64, Option<(usize, f64)>);

/// Linear interpolation in a history; before its start the first value, after its end the
/// last.
fn lookup(h: &[(f64, f64)], t: f64) -> f64 {
    let Some(first) = h.first() else { return f64::NAN };
    if t.is_nan() {
        return f64::NAN;
    }
    if t <= first.0 {
        return first.1;
    }
    let last = h[h.len() - 1];
    if t >= last.0 {
        return last.1;
    }
    let i = h.partition_point(|p| p.0 <= t).clamp(1, h.len() - 1);
    let (a, b) = (h[i - 1], h[i]);
    if b.0 == a.0 {
        return b.1;
    }
    a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0)
}

/// Integrator settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Largest step (0: unlimited).
    pub hmax: f64,
    /// Steps allowed per [`Simulation::advance_to`].
    pub max_steps: u64,
    /// Use finite differences instead of the analytic Jacobian.
    pub fd_jacobian: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { rtol: 1e-8, atol: 1e-12, hmax: 0.0, max_steps: 2_000_000, fd_jacobian: false }
    }
}

/// Counters of one run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Accepted steps.
    pub accepted: u64,
    /// Rejected steps.
    pub rejected: u64,
    /// Events executed.
    pub events: u64,
}

/// One run of a model: state, time, event memory.
#[derive(Debug, Clone)]
pub struct Simulation<'m> {
    sys: System<'m>,
    t: f64,
    y: Vec<f64>,
    prev: Vec<bool>,
    queue: Vec<Pending>,
    seq: u64,
    /// Root-function values at the current time.
    signs: Vec<f64>,
    /// Steps no longer than the shortest delay, so delayed values come from the history.
    delay_cap: Option<f64>,
    h: f64,
    opts: Options,
    stats: Stats,
}

/// A scheduled event execution.
#[derive(Debug, Clone)]
struct Pending {
    event: usize,
    due: f64,
    values: Option<Vec<f64>>,
    seq: u64,
}

struct Work {
    m: usize,
    f0: Vec<f64>,
    jac: Vec<f64>,
    dfdt: Vec<f64>,
    g: Vec<f64>,
    piv: Vec<usize>,
    k: Vec<Vec<f64>>,
    ys: Vec<f64>,
    fs: Vec<f64>,
    ynew: Vec<f64>,
}

impl Work {
    fn new(n: usize) -> Work {
        let m = n + 1;
        Work {
            m,
            f0: vec![0.0; n],
            jac: vec![0.0; n * n],
            dfdt: vec![0.0; n],
            g: vec![0.0; m * m],
            piv: vec![0; m],
            k: vec![vec![0.0; m]; 6],
            ys: vec![0.0; n],
            fs: vec![0.0; n],
            ynew: vec![0.0; n],
        }
    }
}

#[allow(clippy::needless_range_loop)] // index loops read as the algebra does
fn lu(a: &mut [f64], piv: &mut [usize], n: usize) -> bool {
    for k in 0..n {
        let mut p = k;
        let mut best = a[k * n + k].abs();
        for i in k + 1..n {
            if a[i * n + k].abs() > best {
                best = a[i * n + k].abs();
                p = i;
            }
        }
        if best == 0.0 || !best.is_finite() {
            return false;
        }
        piv[k] = p;
        if p != k {
            for j in 0..n {
                a.swap(p * n + j, k * n + j);
            }
        }
        let inv = 1.0 / a[k * n + k];
        for i in k + 1..n {
            let l = a[i * n + k] * inv;
            a[i * n + k] = l;
            if l != 0.0 {
                for j in k + 1..n {
                    a[i * n + j] -= l * a[k * n + j];
                }
            }
        }
    }
    true
}

#[allow(clippy::needless_range_loop)]
fn lu_solve(a: &[f64], piv: &[usize], n: usize, b: &mut [f64]) {
    for k in 0..n {
        b.swap(k, piv[k]);
    }
    for i in 0..n {
        let mut s = b[i];
        for j in 0..i {
            s -= a[i * n + j] * b[j];
        }
        b[i] = s;
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for j in i + 1..n {
            s -= a[i * n + j] * b[j];
        }
        b[i] = s / a[i * n + i];
    }
}

impl<'m> Simulation<'m> {
    /// Start at `t0`: initial values, then any event whose trigger is true at `t0` and whose
    /// `initialValue` is false fires.
    pub fn new(model: &'m Model, t0: f64, opts: Options) -> Result<Simulation<'m>> {
        let sys = System::new(model, t0);
        let y = sys.state();
        let prev = model.events.iter().map(|e| e.initial_value).collect();
        let mut s = Simulation {
            sys,
            t: t0,
            y,
            prev,
            queue: Vec::new(),
            seq: 0,
            signs: Vec::new(),
            delay_cap: None,
            h: 0.0,
            opts,
            stats: Stats::default(),
        };
        s.sys.load(t0, &s.y);
        s.consistent(t0)?;
        s.fire(t0)?;
        s.signs = s.root_values(t0);
        s.sys.record(t0);
        s.delay_cap = s.sys.min_delay(t0);
        Ok(s)
    }

    /// Time reached.
    pub fn t(&self) -> f64 {
        self.t
    }

    /// The system at the current time (values, amounts, concentrations).
    pub fn system(&self) -> &System<'m> {
        &self.sys
    }

    /// Mutable access, to change a value between [`Simulation::advance_to`] calls.
    pub fn system_mut(&mut self) -> &mut System<'m> {
        &mut self.sys
    }

    /// Re-read the state from the system after [`Simulation::system_mut`] changes.
    pub fn resync(&mut self) {
        self.y = self.sys.state();
        self.sys.load(self.t, &self.y);
        self.signs = self.root_values(self.t);
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Process triggers at time `t` (the store must be loaded at `t`): every false-to-true
    /// transition schedules its event (now, or after its delay); a non-persistent event whose
    /// trigger turns false is withdrawn; the events due now run by priority (then document
    /// order, then scheduling order), each execution re-evaluating every trigger.
    fn fire(&mut self, t: f64) -> Result<()> {
        let model = self.sys.model;
        let ne = model.events.len();
        if ne == 0 {
            return Ok(());
        }
        let mut rounds = 0u64;
        loop {
            for e in 0..ne {
                let now = self.sys.eval_trigger(e, t);
                if now && !self.prev[e] {
                    let ev = &model.events[e];
                    let delay = match &ev.delay {
                        Some(c) => c.eval(&self.sys.vals, t, &mut self.sys.stack),
                        None => 0.0,
                    };
                    if delay.is_nan() || delay < 0.0 {
                        return Err(Error::Solver {
                            t,
                            what: format!("event `{}`: delay {delay} is not >= 0", ev.id),
                        });
                    }
                    let values = if ev.use_trigger_values {
                        Some(self.assignment_values(e, t))
                    } else {
                        None
                    };
                    self.seq += 1;
                    self.queue.push(Pending { event: e, due: t + delay, values, seq: self.seq });
                } else if !now && self.prev[e] && !model.events[e].persistent {
                    self.queue.retain(|p| p.event != e);
                }
                self.prev[e] = now;
            }
            // Due now: highest priority first; no priority counts as lowest.
            let mut best: Option<(usize, f64)> = None;
            for k in 0..self.queue.len() {
                if self.queue[k].due > t {
                    continue;
                }
                let e = self.queue[k].event;
                let p = match &model.events[e].priority {
                    Some(c) => c.eval(&self.sys.vals, t, &mut self.sys.stack),
                    None => f64::NEG_INFINITY,
                };
                let p = if p.is_nan() { f64::NEG_INFINITY } else { p };
                let better = match best {
                    None => true,
                    Some((j, bp)) => {
                        let q = &self.queue[j];
                        p > bp || (p == bp && (e, self.queue[k].seq) < (q.event, q.seq))
                    }
                };
                if better {
                    best = Some((k, p));
                }
            }
            let Some((k, _)) = best else { break };
            rounds += 1;
            if rounds > 100_000 {
                return Err(Error::Solver { t, what: "event cascade does not end".into() });
            }
            let Pending { event: e, values, .. } = self.queue.remove(k);
            let vals = values.unwrap_or_else(|| self.assignment_values(e, t));
            // Concentrations become amounts with the compartment sizes from before the event
            // (its own compartment assignments included), then everything is written at once.
            let writes: Vec<Write> = model.events[e]
                .assigns
                .iter()
                .zip(vals)
                .map(|(a, v)| (a.slot, v, a.to_amount.map(|(am, c)| (am, v * self.sys.vals[c]))))
                .collect();
            // A concentration integrated directly (rate rule) keeps its amount when an event
            // resizes its compartment.
            let mut rescale = Vec::new();
            for sp in &model.species {
                if sp.symbol_is_amount || !model.states.contains(&sp.symbol) {
                    continue;
                }
                // (An assigned concentration is converted with the size before the event.)
                if let Some(w) = writes.iter().find(|w| w.0 == sp.compartment) {
                    let own = writes.iter().find(|w| w.0 == sp.symbol).map(|w| w.1);
                    let c = own.unwrap_or(self.sys.vals[sp.symbol]);
                    rescale.push((sp.symbol, c * self.sys.vals[sp.compartment] / w.1));
                }
            }
            for (slot, v, amount) in writes {
                self.sys.vals[slot] = v;
                if let Some((am, x)) = amount {
                    self.sys.vals[am] = x;
                }
            }
            for (slot, v) in rescale {
                self.sys.vals[slot] = v;
            }
            self.stats.events += 1;
            self.y = self.sys.state();
            self.sys.load(t, &self.y);
            self.consistent(t)?;
        }
        Ok(())
    }

    /// Solve the algebraic rules for their variables at time `t` (Newton on the algebraic
    /// block of the analytic Jacobian), keeping the differential states.
    fn consistent(&mut self, t: f64) -> Result<()> {
        let model = self.sys.model;
        let n = self.y.len();
        let alg: Vec<usize> = (0..n).filter(|&i| model.mass[i] == 0.0).collect();
        if alg.is_empty() {
            return Ok(());
        }
        let na = alg.len();
        let mut f = vec![0.0; n];
        let mut jac = vec![0.0; n * n];
        let mut dt = vec![0.0; n];
        let mut a = vec![0.0; na * na];
        let mut piv = vec![0; na];
        // A variable with no value yet starts the iteration at 1.
        for &i in &alg {
            if !self.y[i].is_finite() {
                self.y[i] = 1.0;
            }
        }
        for _ in 0..100 {
            self.sys.rhs(t, &self.y, &mut f);
            let res = alg
                .iter()
                .map(|&i| if f[i].is_nan() { f64::INFINITY } else { f[i].abs() })
                .fold(0.0, f64::max);
            let scale = alg.iter().map(|&i| self.y[i].abs()).fold(1e-300, f64::max);
            if res <= 1e-14 * scale.max(1.0) || res == 0.0 {
                self.sys.load(t, &self.y);
                return Ok(());
            }
            self.sys.jacobian(t, &self.y, &mut jac, &mut dt);
            for (r, &i) in alg.iter().enumerate() {
                for (c, &j) in alg.iter().enumerate() {
                    a[r * na + c] = jac[i * n + j];
                }
            }
            if !lu(&mut a, &mut piv, na) {
                return Err(Error::Solver {
                    t,
                    what: "algebraic rules are singular in their variables".into(),
                });
            }
            let mut dx: Vec<f64> = alg.iter().map(|&i| -f[i]).collect();
            lu_solve(&a, &piv, na, &mut dx);
            for (r, &i) in alg.iter().enumerate() {
                self.y[i] += dx[r];
            }
        }
        Err(Error::Solver { t, what: "algebraic rules: Newton did not converge".into() })
    }

    fn assignment_values(&mut self, e: usize, t: f64) -> Vec<f64> {
        let ev = &self.sys.model.events[e];
        ev.assigns.iter().map(|a| a.code.eval(&self.sys.vals, t, &mut self.sys.stack)).collect()
    }

    /// Whether some trigger changes in a way that matters at the loaded store: false to
    /// true, or true to false for a non-persistent event still waiting in the queue.
    fn any_flip(&mut self, t: f64) -> bool {
        (0..self.sys.model.events.len()).any(|e| {
            let now = self.sys.eval_trigger(e, t);
            if self.prev[e] {
                !now && !self.sys.model.events[e].persistent
                    && self.queue.iter().any(|p| p.event == e)
            } else {
                now
            }
        })
    }

    /// Root-function values at the loaded store.
    fn root_values(&mut self, t: f64) -> Vec<f64> {
        let sys = &mut self.sys;
        sys.model.roots.iter().map(|c| c.eval(&sys.vals, t, &mut sys.stack)).collect()
    }

    /// Whether some root function has strictly changed sign since `self.signs`.
    fn any_crossing(&mut self, t: f64) -> bool {
        let now = self.root_values(t);
        now.iter().zip(&self.signs).any(|(a, b)| a * b < 0.0)
    }

    /// Remember each trigger's value at the loaded store (after a step with no flip).
    fn note_triggers(&mut self, t: f64) {
        for e in 0..self.sys.model.events.len() {
            self.prev[e] = self.sys.eval_trigger(e, t);
        }
    }

    /// Integrate to `t_out`, executing events on the way at the times they occur, and the
    /// delayed ones at their due times.
    pub fn advance_to(&mut self, t_out: f64) -> Result<()> {
        let scale = t_out.abs().max(self.t.abs()).max(1.0);
        let tiny = 1e-13 * scale;
        let mut guard = 0u64;
        while t_out - self.t > tiny {
            guard += 1;
            if guard > self.opts.max_steps {
                return Err(Error::Solver { t: self.t, what: "too many event stops".into() });
            }
            let next_due = self
                .queue
                .iter()
                .map(|p| p.due)
                .filter(|&d| d > self.t)
                .fold(f64::INFINITY, f64::min);
            let stop = next_due.min(t_out);
            if self.segment(stop)? {
                continue; // an event fired inside the segment: the queue may have changed
            }
            if stop == next_due {
                self.sys.load(self.t, &self.y);
                self.fire(self.t)?;
                self.y = self.sys.state();
                self.signs = self.root_values(self.t);
                self.sys.record(self.t);
            }
        }
        self.t = t_out;
        self.sys.load(self.t, &self.y);
        Ok(())
    }

    /// One Rosenbrock step of size `h` from `(t, y)` into `w.ynew`; returns the error norm.
    #[allow(clippy::needless_range_loop)]
    fn step(&mut self, w: &mut Work, t: f64, h: f64, fresh: bool) -> f64 {
        let n = self.y.len();
        let m = w.m;
        if fresh {
            self.sys.rhs(t, &self.y, &mut w.f0);
            if self.opts.fd_jacobian {
                self.sys.jacobian_fd(t, &self.y, &mut w.jac, &mut w.dfdt);
            } else {
                self.sys.jacobian(t, &self.y, &mut w.jac, &mut w.dfdt);
            }
        }
        let ghinv = 1.0 / (h * Rodas4::GAMMA);
        let mass = &self.sys.model.mass;
        // Augmented system (y, t): J = [[J_y, df/dt], [0, 0]].
        for i in 0..m {
            for j in 0..m {
                let jv = if i < n && j < n {
                    w.jac[i * n + j]
                } else if i < n && j == n {
                    w.dfdt[i]
                } else {
                    0.0
                };
                let mi = if i < n { mass[i] } else { 1.0 };
                w.g[i * m + j] = -jv + if i == j { ghinv * mi } else { 0.0 };
            }
        }
        if !lu(&mut w.g, &mut w.piv, m) {
            return f64::INFINITY;
        }
        let inv_h = 1.0 / h;
        for s in 0..Rodas4::STAGES {
            let mut ks = std::mem::take(&mut w.k[s]);
            if s == 0 {
                ks[..n].copy_from_slice(&w.f0);
            } else {
                w.ys.copy_from_slice(&self.y);
                let mut ts = t;
                for j in 0..s {
                    let a = Rodas4::A[s][j];
                    if a != 0.0 {
                        for i in 0..n {
                            w.ys[i] += a * w.k[j][i];
                        }
                        ts += a * w.k[j][n];
                    }
                }
                self.sys.rhs(ts, &w.ys, &mut w.fs);
                ks[..n].copy_from_slice(&w.fs);
            }
            ks[n] = 1.0;
            for j in 0..s {
                let c = Rodas4::C[s][j] * inv_h;
                if c != 0.0 {
                    // M (c / h) K_j: algebraic rows have mass 0.
                    for i in 0..n {
                        ks[i] += c * mass[i] * w.k[j][i];
                    }
                    ks[n] += c * w.k[j][n];
                }
            }
            lu_solve(&w.g, &w.piv, m, &mut ks);
            w.k[s] = ks;
        }
        w.ynew.copy_from_slice(&self.y);
        for s in 0..Rodas4::STAGES {
            let ms = Rodas4::M[s];
            if ms != 0.0 {
                for i in 0..n {
                    w.ynew[i] += ms * w.k[s][i];
                }
            }
        }
        let mut err = 0.0;
        let mut count = 0;
        for i in 0..n {
            if !self.y[i].is_finite() {
                continue;
            }
            let sc = self.opts.atol + self.opts.rtol * self.y[i].abs().max(w.ynew[i].abs());
            let e = w.k[Rodas4::STAGES - 1][i] / sc;
            err += e * e;
            count += 1;
        }
        if count == 0 {
            0.0
        } else {
            (err / count as f64).sqrt()
        }
    }

    /// Integrate to `t_out` or to the first triggered event (then true, after firing it).
    fn segment(&mut self, t_out: f64) -> Result<bool> {
        let n = self.y.len();
        let mut w = Work::new(n);
        let span = t_out - self.t;
        if span <= 0.0 {
            return Ok(false);
        }
        let scale = t_out.abs().max(self.t.abs()).max(1.0);
        let tiny = 1e-13 * scale;
        if self.h <= 0.0 {
            self.h = (span * 1e-3).max(tiny * 10.0);
        }
        let mut fresh = true;
        let mut steps = 0u64;
        let mut reject_streak = 0;
        while t_out - self.t > tiny {
            steps += 1;
            if steps > self.opts.max_steps {
                return Err(Error::Solver { t: self.t, what: "too many steps".into() });
            }
            let mut h = self.h.min(t_out - self.t);
            if self.opts.hmax > 0.0 {
                h = h.min(self.opts.hmax);
            }
            if let Some(c) = self.delay_cap {
                h = h.min(c);
            }
            let last = self.t + h >= t_out - tiny;
            if last {
                h = t_out - self.t;
            }
            let err = self.step(&mut w, self.t, h, fresh);
            fresh = false;
            if !err.is_finite() || err > 1.0 {
                self.stats.rejected += 1;
                reject_streak += 1;
                let fac =
                    if err.is_finite() { (0.9 * err.powf(-0.25)).clamp(0.2, 1.0) } else { 0.25 };
                self.h = h * fac;
                if self.h < tiny * 1e-3 {
                    return Err(Error::Solver {
                        t: self.t,
                        what: format!("step size underflow (h = {:e})", self.h),
                    });
                }
                continue;
            }
            let t0 = self.t;
            let t1 = if last { t_out } else { t0 + h };
            let y0 = self.y.clone();
            let y1 = w.ynew.clone();
            // Events: does any trigger become true within (t0, t1]?
            self.sys.load(t1, &y1);
            let has_events = !self.sys.model.events.is_empty();
            let flip = has_events && (self.any_flip(t1) || self.any_crossing(t1));
            self.stats.accepted += 1;
            let fac = (0.9 * err.max(1e-10).powf(-0.25)).clamp(0.2, 6.0);
            let grow = if reject_streak > 0 { fac.min(1.0) } else { fac };
            reject_streak = 0;
            if !flip {
                if has_events {
                    self.note_triggers(t1);
                    self.signs = self.root_values(t1);
                }
                self.sys.record(t1);
                self.t = t1;
                self.y = y1;
                if !last || grow < 1.0 {
                    self.h = h * grow;
                }
                fresh = true;
                continue;
            }
            // Step-and-refine: bisect on the time of a single exact step from (t0, y0), whose
            // end state is the integrator's own solution there (a step to t1 reproduces y1).
            let (mut lo, mut hi) = (t0, t1);
            for _ in 0..200 {
                if hi - lo <= 4.0 * f64::EPSILON * scale {
                    break;
                }
                let mid = 0.5 * (lo + hi);
                self.y.copy_from_slice(&y0);
                self.integrate_plain(&mut w, t0, mid)?;
                self.sys.load(mid, &self.y);
                if self.any_flip(mid) || self.any_crossing(mid) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            if std::env::var_os("SBML_DEBUG").is_some() {
                eprintln!("flip in [{t0}, {t1}] located [{lo}, {hi}]");
            }
            let te = hi;
            self.y.copy_from_slice(&y0);
            if te == t1 {
                self.y.copy_from_slice(&y1);
            } else {
                self.integrate_plain(&mut w, t0, te)?;
            }
            self.sys.load(te, &self.y);
            self.t = te;
            if self.any_flip(te) {
                self.fire(te)?;
                self.y = self.sys.state();
            } else {
                // A comparison crossed without switching a trigger: go on from there.
                self.note_triggers(te);
            }
            self.signs = self.root_values(te);
            self.sys.record(te);
            self.h = (h * 0.5).max(tiny * 10.0);
            return Ok(true);
        }
        self.t = t_out;
        Ok(false)
    }

    /// Integrate from `t0` (state in `self.y`) to `t1` with error control and no events.
    fn integrate_plain(&mut self, w: &mut Work, t0: f64, t1: f64) -> Result<()> {
        let mut t = t0;
        let mut h = t1 - t0;
        let mut fresh = true;
        let tiny = 1e-15 * t1.abs().max(1.0);
        let mut guard = 0;
        while t1 - t > tiny {
            guard += 1;
            if guard > 100_000 {
                return Err(Error::Solver { t, what: "event refinement does not converge".into() });
            }
            h = h.min(t1 - t);
            let err = self.step(w, t, h, fresh);
            fresh = false;
            if !err.is_finite() || err > 1.0 {
                h *= if err.is_finite() { (0.9 * err.powf(-0.25)).clamp(0.2, 0.9) } else { 0.25 };
                if h < tiny {
                    return Err(Error::Solver { t, what: "step size underflow".into() });
                }
                continue;
            }
            t = if h >= t1 - t { t1 } else { t + h };
            self.y.copy_from_slice(&w.ynew);
            fresh = true;
        }
        Ok(())
    }
}

/// A time course: `time` then one column per variable.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeCourse {
    /// Column names (`time` first).
    pub columns: Vec<String>,
    /// Rows of values.
    pub rows: Vec<Vec<f64>>,
}

/// What a column reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// The id's value (species: its symbol as declared).
    Value(String),
    /// A species amount.
    Amount(String),
    /// A species concentration.
    Concentration(String),
}

impl Column {
    fn id(&self) -> &str {
        match self {
            Column::Value(s) | Column::Amount(s) | Column::Concentration(s) => s,
        }
    }
}

/// Run from `t0` over `times` (increasing) recording `columns`.
pub fn run(
    model: &Model,
    t0: f64,
    times: &[f64],
    columns: &[Column],
    opts: Options,
) -> Result<TimeCourse> {
    // An amount or concentration column of a non-species is its value.
    let columns: Vec<Column> = columns
        .iter()
        .map(|c| {
            if model.species.iter().any(|s| s.id == c.id()) {
                c.clone()
            } else {
                Column::Value(c.id().to_string())
            }
        })
        .collect();
    let columns = &columns[..];
    for c in columns {
        if model.slot(c.id()).is_none() {
            return Err(Error::Mapping {
                id: c.id().into(),
                what: "not an id of the model".into(),
            });
        }
    }
    let mut sim = Simulation::new(model, t0, opts)?;
    let mut rows = Vec::with_capacity(times.len());
    for &t in times {
        sim.advance_to(t)?;
        let s = sim.system();
        let mut row = vec![t];
        for c in columns {
            row.push(
                match c {
                    Column::Value(id) => s.value(id),
                    Column::Amount(id) => s.amount(id),
                    Column::Concentration(id) => s.concentration(id),
                }
                .unwrap_or(f64::NAN),
            );
        }
        rows.push(row);
    }
    let mut names = vec!["time".to_string()];
    names.extend(columns.iter().map(|c| match c {
        Column::Value(id) => id.clone(),
        Column::Amount(id) => format!("amount({id})"),
        Column::Concentration(id) => format!("[{id}]"),
    }));
    Ok(TimeCourse { columns: names, rows })
}
