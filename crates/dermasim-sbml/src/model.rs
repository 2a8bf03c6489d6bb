//! Compilation of a [`Document`] into a [`Model`]: value slots, dependency-ordered
//! assignments, the ODE right-hand side and its symbolic Jacobian, all as bytecode.

use std::collections::HashMap;

use crate::doc::{Document, RuleKind};
use crate::error::{Error, Result};
use crate::math::{add, div, mul, sub, Code, Expr, DELAY, RATE_OF};

/// What a value slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// A compartment size.
    Compartment,
    /// A species symbol (concentration, or amount with `hasOnlySubstanceUnits`).
    Species,
    /// The amount of a species whose symbol is a concentration (internal).
    Amount,
    /// A global parameter.
    Parameter,
    /// A species reference's stoichiometry.
    Stoichiometry,
    /// A reaction rate (the kinetic law's value).
    Reaction,
    /// A partial derivative used by the Jacobian (internal).
    Derivative,
}

/// How an event assignment writes its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Assign {
    pub slot: usize,
    /// For a concentration species stored as an amount: (amount slot, compartment slot).
    pub to_amount: Option<(usize, usize)>,
    pub code: Code,
}

/// A compiled event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CEvent {
    pub id: String,
    pub trigger: Code,
    pub priority: Option<Code>,
    pub delay: Option<Code>,
    pub initial_value: bool,
    pub persistent: bool,
    pub use_trigger_values: bool,
    pub assigns: Vec<Assign>,
}

/// Per species: where its symbol and amount live.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeciesSlots {
    /// SBML id.
    pub id: String,
    /// The symbol's slot.
    pub symbol: usize,
    /// The compartment's slot.
    pub compartment: usize,
    /// Whether the symbol is an amount (`hasOnlySubstanceUnits` or a 0-d compartment).
    pub symbol_is_amount: bool,
}

/// A compiled SBML model: immutable, shareable; simulate it with [`crate::Simulation`] or
/// call [`crate::System`] directly.
#[derive(Debug, Clone)]
pub struct Model {
    pub(crate) doc: Document,
    pub(crate) names: Vec<String>,
    pub(crate) kinds: Vec<SlotKind>,
    pub(crate) index: HashMap<String, usize>,
    /// Initial values in dependency order.
    pub(crate) init: Vec<(usize, Code)>,
    /// Assignments evaluated before every right-hand side, in dependency order.
    pub(crate) assigned: Vec<(usize, Code)>,
    /// Which slot each state component is.
    pub(crate) states: Vec<usize>,
    pub(crate) derivs: Vec<Code>,
    /// 1 for differential states, 0 for algebraic ones (rows of `0 = g(y)`).
    pub(crate) mass: Vec<f64>,
    /// Derivative slots of assigned values (slot, code), in order.
    pub(crate) dassigned: Vec<(usize, Code)>,
    /// Jacobian entries (row, column, code); column `n` is the time derivative.
    pub(crate) jac: Vec<(usize, usize, Code)>,
    pub(crate) events: Vec<CEvent>,
    /// Slots holding `rateOf` values.
    pub(crate) rate_of_slots: Vec<usize>,
    /// `delay(x, tau)` calls: (slot, x, tau).
    pub(crate) delays: Vec<(usize, Code, Code)>,
    /// `lhs - rhs` of every comparison in a trigger: a sign change inside a step is a place
    /// where a trigger may switch (even when it is false at both ends of the step).
    pub(crate) roots: Vec<Code>,
    pub(crate) species: Vec<SpeciesSlots>,
    pub(crate) depth: usize,
    pub(crate) warnings: Vec<String>,
}

struct Builder<'d> {
    doc: &'d Document,
    names: Vec<String>,
    kinds: Vec<SlotKind>,
    index: HashMap<String, usize>,
}

impl Builder<'_> {
    fn slot(&mut self, id: &str, kind: SlotKind, elem: &str) -> Result<usize> {
        if self.index.contains_key(id) {
            return Err(Error::invalid(elem, id, "duplicate id"));
        }
        let s = self.names.len();
        self.names.push(id.to_string());
        self.kinds.push(kind);
        self.index.insert(id.to_string(), s);
        Ok(s)
    }

    fn hidden(&mut self, name: String, kind: SlotKind) -> usize {
        self.names.push(name);
        self.kinds.push(kind);
        self.names.len() - 1
    }

    /// Resolve names to slots, inline function definitions and local parameters.
    fn resolve(&self, e: &Expr, locals: &[(String, f64)], owner: (&str, &str)) -> Result<Expr> {
        self.resolve_depth(e, locals, owner, 0)
    }

    fn resolve_depth(
        &self,
        e: &Expr,
        locals: &[(String, f64)],
        owner: (&str, &str),
        depth: usize,
    ) -> Result<Expr> {
        if depth > 64 {
            return Err(Error::invalid(owner.0, owner.1, "function definitions nest too deep"));
        }
        e.map_leaves(&mut |x| match x {
            Expr::Sym(s) => {
                if let Some((_, v)) = locals.iter().find(|(n, _)| n == s) {
                    return Ok(Some(Expr::Num(*v)));
                }
                match self.index.get(s) {
                    Some(&slot) => Ok(Some(Expr::Var(slot))),
                    None => {
                        Err(Error::invalid(owner.0, owner.1, format!("unknown id `{s}` in math")))
                    }
                }
            }
            Expr::Call(f, args) if f == DELAY => {
                if depth > 0 {
                    return Err(Error::unsupported(
                        owner.0,
                        owner.1,
                        "delay inside a function definition",
                    ));
                }
                let key =
                    delay_key(&args[0], &args[1], if locals.is_empty() { "" } else { owner.1 });
                match self.index.get(&key) {
                    Some(&s) => Ok(Some(Expr::Var(s))),
                    None => Err(Error::invalid(owner.0, owner.1, "delay not found in the scan")),
                }
            }
            Expr::Call(f, args) if f == RATE_OF => {
                let Some(Expr::Sym(id)) = args.first() else {
                    return Err(Error::unsupported(owner.0, owner.1, "rateOf of an expression"));
                };
                // A local parameter is constant.
                if locals.iter().any(|(n, _)| n == id) {
                    return Ok(Some(Expr::Num(0.0)));
                }
                if depth > 0 {
                    return Err(Error::unsupported(
                        owner.0,
                        owner.1,
                        "rateOf inside a function definition",
                    ));
                }
                match self.index.get(&format!("{RATE_OF}:{id}")) {
                    Some(&s) => Ok(Some(Expr::Var(s))),
                    None => {
                        Err(Error::invalid(owner.0, owner.1, format!("rateOf unknown id `{id}`")))
                    }
                }
            }
            Expr::Call(f, args) => {
                let fd = self.doc.functions.iter().find(|d| &d.id == f).ok_or_else(|| {
                    Error::invalid(owner.0, owner.1, format!("call of unknown function `{f}`"))
                })?;
                if fd.args.len() != args.len() {
                    return Err(Error::invalid(
                        owner.0,
                        owner.1,
                        format!(
                            "`{f}` takes {} arguments, called with {}",
                            fd.args.len(),
                            args.len()
                        ),
                    ));
                }
                let mut rargs = Vec::with_capacity(args.len());
                for a in args {
                    rargs.push(self.resolve_depth(a, locals, owner, depth + 1)?);
                }
                // Substitute bound variables (by name) in the body, then resolve what is left:
                // nested calls only (a body sees no model ids).
                let body = fd.body.map_leaves(&mut |y| {
                    if let Expr::Sym(n) = y {
                        if let Some(k) = fd.args.iter().position(|a| a == n) {
                            return Ok(Some(rargs[k].clone()));
                        }
                        return Err(Error::invalid(
                            "functionDefinition",
                            &fd.id,
                            format!("`{n}` is not an argument"),
                        ));
                    }
                    Ok(None)
                })?;
                Ok(Some(self.resolve_depth(
                    &body,
                    &[],
                    ("functionDefinition", &fd.id),
                    depth + 1,
                )?))
            }
            _ => Ok(None),
        })
    }
}

/// Order `items` (slot, expr) so each comes after the items it reads; a cycle is an error.
fn topo(items: Vec<(usize, Expr)>, names: &[String]) -> Result<Vec<(usize, Expr)>> {
    let pos: HashMap<usize, usize> = items.iter().enumerate().map(|(i, (s, _))| (*s, i)).collect();
    let deps: Vec<Vec<usize>> = items
        .iter()
        .map(|(_, e)| {
            let mut v = Vec::new();
            e.vars(&mut v);
            let mut d: Vec<usize> = v.iter().filter_map(|s| pos.get(s).copied()).collect();
            d.sort_unstable();
            d.dedup();
            d
        })
        .collect();
    // Depth-first with colours, in document order, so the result is deterministic.
    let n = items.len();
    let mut state = vec![0u8; n];
    let mut order = Vec::with_capacity(n);
    let mut stack_path: Vec<usize> = Vec::new();
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        state: &mut [u8],
        order: &mut Vec<usize>,
        path: &mut Vec<usize>,
    ) -> std::result::Result<(), Vec<usize>> {
        if state[i] == 2 {
            return Ok(());
        }
        if state[i] == 1 {
            let start = path.iter().position(|&p| p == i).unwrap_or(0);
            let mut cyc = path[start..].to_vec();
            cyc.push(i);
            return Err(cyc);
        }
        state[i] = 1;
        path.push(i);
        for &d in &deps[i] {
            visit(d, deps, state, order, path)?;
        }
        path.pop();
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    for i in 0..n {
        if let Err(cyc) = visit(i, &deps, &mut state, &mut order, &mut stack_path) {
            return Err(Error::AlgebraicLoop(
                cyc.into_iter().map(|k| names[items[k].0].clone()).collect(),
            ));
        }
    }
    let mut items: Vec<Option<(usize, Expr)>> = items.into_iter().map(Some).collect();
    Ok(order.into_iter().map(|k| items[k].take().unwrap()).collect())
}

impl Model {
    /// Compile a document.
    pub fn compile(doc: &Document) -> Result<Model> {
        let mut b = Builder { doc, names: Vec::new(), kinds: Vec::new(), index: HashMap::new() };
        for f in &doc.functions {
            if doc.functions.iter().filter(|g| g.id == f.id).count() > 1 {
                return Err(Error::invalid("functionDefinition", &f.id, "duplicate id"));
            }
        }
        for c in &doc.compartments {
            b.slot(&c.id, SlotKind::Compartment, "compartment")?;
        }
        for s in &doc.species {
            b.slot(&s.id, SlotKind::Species, "species")?;
        }
        for p in &doc.parameters {
            b.slot(&p.id, SlotKind::Parameter, "parameter")?;
        }
        for r in &doc.reactions {
            for sr in r.reactants.iter().chain(&r.products) {
                if let Some(id) = &sr.id {
                    b.slot(id, SlotKind::Stoichiometry, "speciesReference")?;
                }
            }
        }
        for r in &doc.reactions {
            b.slot(&r.id, SlotKind::Reaction, "reaction")?;
        }
        // rateOf targets: one slot each, filled once the derivatives are known.
        let mut rate_targets: Vec<(usize, usize)> = Vec::new();
        {
            let mut found = Vec::new();
            let mut scan = |e: &Expr| collect_rate_of(e, &mut found);
            doc.rules.iter().for_each(|r| scan(&r.math));
            doc.initial_assignments.iter().for_each(|(_, m)| scan(m));
            doc.reactions.iter().filter_map(|r| r.law.as_ref()).for_each(&mut scan);
            for e in &doc.events {
                scan(&e.trigger);
                e.priority.iter().chain(&e.delay).for_each(&mut scan);
                e.assignments.iter().for_each(|(_, m)| scan(m));
            }
            for id in found {
                let key = format!("{RATE_OF}:{id}");
                if b.index.contains_key(&key) {
                    continue;
                }
                // Unknown here may be a local parameter; resolution reports the rest.
                let Some(&target) = b.index.get(&id) else { continue };
                let s = b.hidden(format!("rateOf({id})"), SlotKind::Derivative);
                b.index.insert(key, s);
                rate_targets.push((target, s));
            }
        }
        // delay(x, tau): one slot per distinct call, its value read from the history of x.
        let mut delay_specs: Vec<(usize, DelayCall)> = Vec::new();
        {
            let mut found: Vec<DelayCall> = Vec::new();
            let none: Vec<(String, f64)> = Vec::new();
            let mut scan = |e: &Expr, locals: &Vec<(String, f64)>, owner: &str| {
                let mut v = Vec::new();
                collect_delay(e, &mut v);
                for (x, tau) in v {
                    found.push((x, tau, locals.clone(), owner.to_string()));
                }
            };
            doc.rules.iter().for_each(|r| scan(&r.math, &none, ""));
            doc.initial_assignments.iter().for_each(|(_, m)| scan(m, &none, ""));
            for r in &doc.reactions {
                if let Some(l) = &r.law {
                    scan(l, &r.locals, if r.locals.is_empty() { "" } else { &r.id });
                }
            }
            for e in &doc.events {
                scan(&e.trigger, &none, "");
                e.priority.iter().chain(&e.delay).for_each(|m| scan(m, &none, ""));
                e.assignments.iter().for_each(|(_, m)| scan(m, &none, ""));
            }
            for (x, tau, locals, owner) in found {
                let key = delay_key(&x, &tau, &owner);
                if b.index.contains_key(&key) {
                    continue;
                }
                let s = b.hidden(format!("delay#{}", delay_specs.len()), SlotKind::Derivative);
                b.index.insert(key, s);
                delay_specs.push((s, (x, tau, locals, owner)));
            }
        }
        let mut delays = Vec::new();
        for (s, (x, tau, locals, owner)) in &delay_specs {
            let o = ("delay", if owner.is_empty() { "csymbol" } else { owner.as_str() });
            let xr = b.resolve(x, locals, o)?;
            let tr = b.resolve(tau, locals, o)?;
            delays.push((*s, Code::compile(&xr), Code::compile(&tr)));
        }
        let mut warnings = Vec::new();
        if doc.constraints > 0 {
            warnings.push(format!("{} constraint(s) present and not checked", doc.constraints));
        }

        // Rules by target.
        let mut assign_rule: HashMap<usize, Expr> = HashMap::new();
        let mut rate_rule: HashMap<usize, Expr> = HashMap::new();
        let mut algebraic: Vec<Expr> = Vec::new();
        for (k, r) in doc.rules.iter().enumerate() {
            if r.kind == RuleKind::Algebraic {
                let id = format!("algebraicRule#{k}");
                algebraic.push(b.resolve(&r.math, &[], ("rule", &id))?);
                continue;
            }
            let slot = *b
                .index
                .get(&r.variable)
                .ok_or_else(|| Error::invalid("rule", &r.variable, "rule for an unknown id"))?;
            if matches!(b.kinds[slot], SlotKind::Reaction) {
                return Err(Error::invalid("rule", &r.variable, "a rule cannot set a reaction"));
            }
            if is_constant(doc, &r.variable) {
                return Err(Error::invalid("rule", &r.variable, "rule for a constant"));
            }
            let e = b.resolve(&r.math, &[], ("rule", &r.variable))?;
            if assign_rule.contains_key(&slot) || rate_rule.contains_key(&slot) {
                return Err(Error::invalid("rule", &r.variable, "more than one rule"));
            }
            match r.kind {
                RuleKind::Assignment => assign_rule.insert(slot, e),
                RuleKind::Rate => rate_rule.insert(slot, e),
                RuleKind::Algebraic => None,
            };
        }
        let mut ia: HashMap<usize, Expr> = HashMap::new();
        for (sym, m) in &doc.initial_assignments {
            let slot = *b.index.get(sym).ok_or_else(|| {
                Error::invalid("initialAssignment", sym, "initial assignment for an unknown id")
            })?;
            if assign_rule.contains_key(&slot) {
                return Err(Error::invalid(
                    "initialAssignment",
                    sym,
                    "target also has an assignment rule",
                ));
            }
            if ia.insert(slot, b.resolve(m, &[], ("initialAssignment", sym))?).is_some() {
                return Err(Error::invalid("initialAssignment", sym, "more than one"));
            }
        }

        // Which species reactions change.
        let mut changed: HashMap<&str, bool> = HashMap::new();
        for r in &doc.reactions {
            for sr in r.reactants.iter().chain(&r.products) {
                let sp = doc.species.iter().find(|s| s.id == sr.species).ok_or_else(|| {
                    Error::invalid("reaction", &r.id, format!("unknown species `{}`", sr.species))
                })?;
                if !sp.boundary {
                    if sp.constant {
                        return Err(Error::invalid(
                            "species",
                            &sp.id,
                            "constant, non-boundary species changed by reaction",
                        ));
                    }
                    changed.insert(&sp.id, true);
                }
            }
            for m in &r.modifiers {
                if !b.index.contains_key(m) {
                    return Err(Error::invalid(
                        "reaction",
                        &r.id,
                        format!("unknown modifier `{m}`"),
                    ));
                }
            }
        }

        // Algebraic rules: match each to a variable nothing else determines.
        let alg_vars = match_algebraic(&algebraic, |s| {
            let kind = b.kinds[s];
            let id = &b.names[s];
            matches!(
                kind,
                SlotKind::Compartment
                    | SlotKind::Parameter
                    | SlotKind::Species
                    | SlotKind::Stoichiometry
            ) && !is_constant(doc, id)
                && !assign_rule.contains_key(&s)
                && !rate_rule.contains_key(&s)
                && !changed.contains_key(id.as_str())
        })?;

        let mut states: Vec<usize> = Vec::new();
        let mut derivs: Vec<Expr> = Vec::new();
        let mut assigned: Vec<(usize, Expr)> = Vec::new();
        let mut init: HashMap<usize, Expr> = HashMap::new();
        let mut species_slots = Vec::new();
        // Amount slot per species id, where reactions act on it.
        let mut amount_of: HashMap<String, usize> = HashMap::new();
        // (amount slot, compartment slot) for concentration species stored as amounts.
        let mut as_amount: HashMap<usize, (usize, usize)> = HashMap::new();

        for c in &doc.compartments {
            let s = b.index[&c.id];
            let v = match c.size {
                Some(v) => Expr::Num(v),
                None => Expr::Num(f64::NAN),
            };
            if c.size.is_none()
                && !ia.contains_key(&s)
                && !assign_rule.contains_key(&s)
                && !alg_vars.contains(&s)
            {
                if doc.level == 2 || c.dims == 0.0 {
                    // L2: a compartment without a size has size 1 (and 0-d has none).
                    init.insert(s, Expr::Num(1.0));
                } else {
                    return Err(Error::invalid("compartment", &c.id, "no size and no assignment"));
                }
            } else {
                init.insert(s, v);
            }
        }
        for p in &doc.parameters {
            let s = b.index[&p.id];
            init.insert(s, Expr::Num(p.value.unwrap_or(f64::NAN)));
        }
        for r in &doc.reactions {
            for sr in r.reactants.iter().chain(&r.products) {
                if let Some(id) = &sr.id {
                    init.insert(b.index[id], Expr::Num(sr.stoichiometry));
                }
            }
        }
        for sp in &doc.species {
            let s = b.index[&sp.id];
            let comp = *b.index.get(&sp.compartment).ok_or_else(|| {
                Error::invalid(
                    "species",
                    &sp.id,
                    format!("unknown compartment `{}`", sp.compartment),
                )
            })?;
            if b.kinds[comp] != SlotKind::Compartment {
                return Err(Error::invalid("species", &sp.id, "compartment is not a compartment"));
            }
            let dims = doc.compartments.iter().find(|c| c.id == sp.compartment).unwrap().dims;
            let symbol_is_amount = sp.only_substance || dims == 0.0;
            let v = Expr::Var(comp);
            // The symbol's initial value from the attributes.
            let attr = match (sp.initial_amount, sp.initial_concentration, symbol_is_amount) {
                (Some(a), _, true) => Expr::Num(a),
                (Some(a), _, false) => div(Expr::Num(a), v.clone()),
                (None, Some(c), false) => Expr::Num(c),
                (None, Some(c), true) => mul(Expr::Num(c), v.clone()),
                (None, None, _) => Expr::Num(f64::NAN),
            };
            init.insert(s, attr);
            species_slots.push(SpeciesSlots {
                id: sp.id.clone(),
                symbol: s,
                compartment: comp,
                symbol_is_amount,
            });
            let ruled =
                assign_rule.contains_key(&s) || rate_rule.contains_key(&s) || alg_vars.contains(&s);
            let reacts = changed.contains_key(sp.id.as_str());
            if ruled && reacts {
                return Err(Error::invalid(
                    "species",
                    &sp.id,
                    "set by a rule and also changed by a reaction",
                ));
            }
            if ruled {
                continue;
            }
            if symbol_is_amount {
                if reacts {
                    amount_of.insert(sp.id.clone(), s);
                }
            } else {
                let a = b.hidden(format!("amount({})", sp.id), SlotKind::Amount);
                let ai = match sp.initial_amount {
                    Some(a) if !ia.contains_key(&s) => Expr::Num(a),
                    _ => mul(Expr::Var(s), v.clone()),
                };
                init.insert(a, ai);
                assigned.push((s, div(Expr::Var(a), v)));
                as_amount.insert(s, (a, comp));
                if reacts {
                    amount_of.insert(sp.id.clone(), a);
                }
            }
        }
        for r in &doc.reactions {
            let s = b.index[&r.id];
            let law = r.law.as_ref().ok_or_else(|| {
                Error::unsupported("reaction", &r.id, "reaction without a kinetic law")
            })?;
            for (lid, _) in &r.locals {
                if r.locals.iter().filter(|(x, _)| x == lid).count() > 1 {
                    return Err(Error::invalid("localParameter", lid, "duplicate id"));
                }
            }
            let e = b.resolve(law, &r.locals, ("reaction", &r.id))?;
            init.insert(s, e.clone());
            assigned.push((s, e));
        }
        for (&s, e) in &assign_rule {
            init.insert(s, e.clone());
            assigned.push((s, e.clone()));
        }
        // Document order for determinism (HashMap iteration is not ordered).
        assigned.sort_by_key(|(s, _)| *s);
        for (&s, e) in &ia {
            init.insert(s, e.clone());
        }
        // States: rate rules first (document order), then reacting species amounts.
        for r in &doc.rules {
            if r.kind == RuleKind::Rate {
                let s = b.index[&r.variable];
                if !init.contains_key(&s) {
                    return Err(Error::invalid("rateRule", &r.variable, "no initial value"));
                }
                states.push(s);
                derivs.push(rate_rule[&s].clone());
            }
        }
        for sp in &doc.species {
            let Some(&a) = amount_of.get(&sp.id) else { continue };
            let mut d = Expr::Num(0.0);
            for r in &doc.reactions {
                let rate = Expr::Var(b.index[&r.id]);
                for (sign, refs) in [(-1.0, &r.reactants), (1.0, &r.products)] {
                    for sr in refs.iter().filter(|x| x.species == sp.id) {
                        let st = match (&sr.math, &sr.id) {
                            (Some(m), _) => b.resolve(m, &[], ("reaction", &r.id))?,
                            (None, Some(id)) => Expr::Var(b.index[id]),
                            (None, None) => Expr::Num(sr.stoichiometry),
                        };
                        let term = mul(st, rate.clone());
                        d = if sign < 0.0 { sub(d, term) } else { add(d, term) };
                    }
                }
            }
            if let Some(cf) = sp.conversion_factor.as_ref().or(doc.conversion_factor.as_ref()) {
                let c = *b.index.get(cf).ok_or_else(|| {
                    Error::invalid("species", &sp.id, format!("unknown conversion factor `{cf}`"))
                })?;
                d = mul(d, Expr::Var(c));
            }
            states.push(a);
            derivs.push(d);
        }

        // Algebraic states last: their "derivative" is the residual, with mass 0.
        let n_diff = states.len();
        for (k, &s) in alg_vars.iter().enumerate() {
            states.push(s);
            derivs.push(algebraic[k].clone());
        }
        let mass: Vec<f64> =
            (0..states.len()).map(|i| if i < n_diff { 1.0 } else { 0.0 }).collect();

        // rateOf: a state's derivative; an assigned value's time derivative by the chain rule
        // (through further rateOf slots); anything else is constant between events (0).
        let mut k = 0;
        while k < rate_targets.len() {
            let (target, slot) = rate_targets[k];
            k += 1;
            let e = if let Some(j) = states.iter().position(|&s| s == target) {
                derivs[j].clone()
            } else if let Some((_, ae)) = assigned.iter().find(|(s, _)| *s == target) {
                let mut vars = Vec::new();
                ae.vars(&mut vars);
                for v in vars {
                    let known = rate_targets.iter().any(|(t, _)| *t == v);
                    let varies = states.contains(&v) || assigned.iter().any(|(s, _)| *s == v);
                    if !known && varies {
                        let s = b.hidden(format!("rateOf({})", b.names[v]), SlotKind::Derivative);
                        rate_targets.push((v, s));
                    }
                }
                let map: HashMap<usize, usize> = rate_targets.iter().copied().collect();
                ae.diff(&|v| map.get(&v).map(|&s| Expr::Var(s)).unwrap_or(Expr::Num(0.0)), 1.0)
            } else {
                Expr::Num(0.0)
            };
            init.insert(slot, e.clone());
            assigned.push((slot, e));
        }

        // A delayed value has no initial expression: the simulation takes it from the initial
        // values evaluated at the earlier time (see `System`).

        // Initial values: every slot, in dependency order.
        let mut init_items: Vec<(usize, Expr)> = init.into_iter().collect();
        init_items.sort_by_key(|(s, _)| *s);
        let init_order = topo(init_items, &b.names)?;
        let assigned = topo(assigned, &b.names)?;

        // Events, and the differences of their triggers' comparisons (root functions).
        let mut events = Vec::new();
        let mut roots: Vec<Expr> = Vec::new();
        for ev in &doc.events {
            let owner = ("event", ev.id.as_str());
            let resolved = b.resolve(&ev.trigger, &[], owner)?;
            collect_roots(&resolved, &mut roots);
            let trigger = Code::compile(&resolved);
            let priority = match &ev.priority {
                Some(p) => Some(Code::compile(&b.resolve(p, &[], owner)?)),
                None => None,
            };
            let delay = match &ev.delay {
                Some(d) => Some(Code::compile(&b.resolve(d, &[], owner)?)),
                None => None,
            };
            let mut assigns = Vec::new();
            for (var, m) in &ev.assignments {
                let slot = *b.index.get(var).ok_or_else(|| {
                    Error::invalid("eventAssignment", var, format!("unknown target in `{}`", ev.id))
                })?;
                if assign_rule.contains_key(&slot) {
                    return Err(Error::invalid(
                        "eventAssignment",
                        var,
                        "target has an assignment rule",
                    ));
                }
                if b.kinds[slot] == SlotKind::Reaction || is_constant(doc, var) {
                    return Err(Error::invalid("eventAssignment", var, "target is constant"));
                }
                let code = Code::compile(&b.resolve(m, &[], ("eventAssignment", var))?);
                assigns.push(Assign { slot, to_amount: as_amount.get(&slot).copied(), code });
            }
            events.push(CEvent {
                id: ev.id.clone(),
                trigger,
                priority,
                delay,
                initial_value: ev.initial_value,
                persistent: ev.persistent,
                use_trigger_values: ev.use_values_from_trigger_time,
                assigns,
            });
        }

        // Symbolic Jacobian: columns are the states, then time.
        let n = states.len();
        let col_of: HashMap<usize, usize> =
            states.iter().enumerate().map(|(j, &s)| (s, j)).collect();
        let mut dslot: HashMap<(usize, usize), usize> = HashMap::new();
        let mut dassigned = Vec::new();
        for (s, e) in &assigned {
            for j in 0..=n {
                let d = e.diff(&|v| dvar(v, j, &col_of, &dslot), if j == n { 1.0 } else { 0.0 });
                if d != Expr::Num(0.0) {
                    let ds = b.hidden(format!("d({})/d({j})", b.names[*s]), SlotKind::Derivative);
                    dslot.insert((*s, j), ds);
                    dassigned.push((ds, d));
                }
            }
        }
        let mut jac = Vec::new();
        for (i, e) in derivs.iter().enumerate() {
            for j in 0..=n {
                let d = e.diff(&|v| dvar(v, j, &col_of, &dslot), if j == n { 1.0 } else { 0.0 });
                if d != Expr::Num(0.0) {
                    jac.push((i, j, Code::compile(&d)));
                }
            }
        }
        let compile_all = |v: Vec<(usize, Expr)>| -> Vec<(usize, Code)> {
            v.into_iter().map(|(s, e)| (s, Code::compile(&e))).collect()
        };
        let init = compile_all(init_order);
        let assigned = compile_all(assigned);
        let dassigned = compile_all(dassigned);
        let derivs: Vec<Code> = derivs.iter().map(Code::compile).collect();
        let depth = init
            .iter()
            .chain(&assigned)
            .chain(&dassigned)
            .map(|(_, c)| c.depth())
            .chain(derivs.iter().map(Code::depth))
            .chain(jac.iter().map(|(_, _, c)| c.depth()))
            .chain(events.iter().flat_map(|e| {
                std::iter::once(e.trigger.depth()).chain(e.assigns.iter().map(|a| a.code.depth()))
            }))
            .max()
            .unwrap_or(1);
        Ok(Model {
            doc: doc.clone(),
            names: b.names,
            kinds: b.kinds,
            index: b.index,
            init,
            assigned,
            states,
            derivs,
            mass,
            dassigned,
            jac,
            events,
            rate_of_slots: rate_targets.iter().map(|r| r.1).collect(),
            delays,
            roots: roots.iter().map(Code::compile).collect(),
            species: species_slots,
            depth,
            warnings,
        })
    }

    /// The document this model was compiled from.
    pub fn document(&self) -> &Document {
        &self.doc
    }

    /// Number of state variables (integrated quantities).
    pub fn n_states(&self) -> usize {
        self.states.len()
    }

    /// Names of the state variables: the SBML id, or `amount(S)` for a concentration
    /// species integrated as an amount.
    pub fn state_names(&self) -> Vec<&str> {
        self.states.iter().map(|&s| self.names[s].as_str()).collect()
    }

    /// The value slot of an SBML id.
    pub fn slot(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The kind of an SBML id.
    pub fn kind(&self, id: &str) -> Option<SlotKind> {
        self.slot(id).map(|s| self.kinds[s])
    }

    /// Species slots.
    pub fn species(&self) -> &[SpeciesSlots] {
        &self.species
    }

    /// Number of events.
    pub fn n_events(&self) -> usize {
        self.events.len()
    }

    /// Number of non-zero Jacobian entries (including the time column).
    pub fn jacobian_nonzeros(&self) -> usize {
        self.jac.len()
    }

    /// Things present in the file that do not change the simulation (and are not checked).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Number of value slots (ids plus internal amounts and derivatives).
    pub fn n_slots(&self) -> usize {
        self.names.len()
    }
}

fn dvar(
    v: usize,
    j: usize,
    col_of: &HashMap<usize, usize>,
    dslot: &HashMap<(usize, usize), usize>,
) -> Expr {
    if let Some(&c) = col_of.get(&v) {
        return Expr::Num(if c == j { 1.0 } else { 0.0 });
    }
    match dslot.get(&(v, j)) {
        Some(&d) => Expr::Var(d),
        None => Expr::Num(0.0),
    }
}

fn is_constant(doc: &Document, id: &str) -> bool {
    if let Some(c) = doc.compartments.iter().find(|c| c.id == id) {
        return c.constant;
    }
    if let Some(s) = doc.species.iter().find(|s| s.id == id) {
        return s.constant;
    }
    if let Some(p) = doc.parameters.iter().find(|p| p.id == id) {
        return p.constant;
    }
    for r in &doc.reactions {
        for sr in r.reactants.iter().chain(&r.products) {
            if sr.id.as_deref() == Some(id) {
                return sr.constant;
            }
        }
    }
    false
}

/// Identifiers named in `rateOf` calls.
fn collect_rate_of(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Call(f, a) => {
            if f == RATE_OF {
                if let Some(Expr::Sym(id)) = a.first() {
                    out.push(id.clone());
                }
            }
            a.iter().for_each(|x| collect_rate_of(x, out));
        }
        Expr::Un(_, a) => collect_rate_of(a, out),
        Expr::Bin(_, a, b) => {
            collect_rate_of(a, out);
            collect_rate_of(b, out);
        }
        Expr::Piecewise(p, o) => {
            for (v, c) in p {
                collect_rate_of(v, out);
                collect_rate_of(c, out);
            }
            collect_rate_of(o, out);
        }
        _ => {}
    }
}

impl Model {
    /// Total bytecode operations of one right-hand side (assignments plus derivatives).
    pub fn rhs_ops(&self) -> usize {
        self.assigned.iter().map(|(_, c)| c.len()).sum::<usize>()
            + self.derivs.iter().map(Code::len).sum::<usize>()
    }
}

/// For each algebraic rule (in order) a distinct variable it reads that `free` allows:
/// bipartite matching by augmenting paths, deterministic (rules and slots in order).
fn match_algebraic(rules: &[Expr], free: impl Fn(usize) -> bool) -> Result<Vec<usize>> {
    let cands: Vec<Vec<usize>> = rules
        .iter()
        .map(|e| {
            let mut v = Vec::new();
            e.vars(&mut v);
            v.sort_unstable();
            v.dedup();
            v.into_iter().filter(|&s| free(s)).collect()
        })
        .collect();
    let mut owner: HashMap<usize, usize> = HashMap::new();
    fn augment(
        r: usize,
        cands: &[Vec<usize>],
        owner: &mut HashMap<usize, usize>,
        seen: &mut Vec<usize>,
    ) -> bool {
        for &s in &cands[r] {
            if seen.contains(&s) {
                continue;
            }
            seen.push(s);
            let prev = owner.get(&s).copied();
            if prev.is_none() || augment(prev.unwrap(), cands, owner, seen) {
                owner.insert(s, r);
                return true;
            }
        }
        false
    }
    for r in 0..rules.len() {
        if !augment(r, &cands, &mut owner, &mut Vec::new()) {
            return Err(Error::unsupported(
                "algebraicRule",
                &format!("algebraicRule#{r}"),
                "no free variable left for this rule to determine (over-determined model)",
            ));
        }
    }
    let mut out = vec![0; rules.len()];
    for (s, r) in owner {
        out[r] = s;
    }
    Ok(out)
}

/// `a - b` for every comparison `a op b` in a trigger.
fn collect_roots(e: &Expr, out: &mut Vec<Expr>) {
    use crate::math::Bin;
    match e {
        Expr::Bin(op, a, b) => {
            if matches!(op, Bin::Gt | Bin::Lt | Bin::Geq | Bin::Leq | Bin::Eq | Bin::Neq) {
                let d = sub((**a).clone(), (**b).clone());
                if !matches!(d, Expr::Num(_)) && !out.contains(&d) {
                    out.push(d);
                }
            }
            collect_roots(a, out);
            collect_roots(b, out);
        }
        Expr::Un(_, a) => collect_roots(a, out),
        Expr::Piecewise(p, o) => {
            for (v, c) in p {
                collect_roots(v, out);
                collect_roots(c, out);
            }
            collect_roots(o, out);
        }
        _ => {}
    }
}

/// A `delay(x, tau)` call: x, tau, the local parameters in scope and their reaction.
type DelayCall = (Expr, Expr, Vec<(String, f64)>, String);

fn delay_key(x: &Expr, tau: &Expr, owner: &str) -> String {
    format!("{DELAY}:{x:?}:{tau:?}:{owner}")
}

/// The (x, tau) of every `delay` call (inner ones too).
fn collect_delay(e: &Expr, out: &mut Vec<(Expr, Expr)>) {
    match e {
        Expr::Call(f, a) => {
            if f == DELAY && a.len() == 2 {
                out.push((a[0].clone(), a[1].clone()));
            }
            a.iter().for_each(|x| collect_delay(x, out));
        }
        Expr::Un(_, a) => collect_delay(a, out),
        Expr::Bin(_, a, b) => {
            collect_delay(a, out);
            collect_delay(b, out);
        }
        Expr::Piecewise(p, o) => {
            for (v, c) in p {
                collect_delay(v, out);
                collect_delay(c, out);
            }
            collect_delay(o, out);
        }
        _ => {}
    }
}
