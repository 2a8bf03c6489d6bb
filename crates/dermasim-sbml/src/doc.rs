//! The SBML document as read from XML (Level 2 and Level 3 core), before compilation.

use crate::error::{Error, Result};
use crate::math::{parse_lambda, parse_math, Expr};

/// A compartment.
#[derive(Debug, Clone, PartialEq)]
pub struct Compartment {
    /// Id.
    pub id: String,
    /// Size attribute, if given.
    pub size: Option<f64>,
    /// Spatial dimensions (3 when absent).
    pub dims: f64,
    /// Whether the size is constant.
    pub constant: bool,
}

/// A species.
#[derive(Debug, Clone, PartialEq)]
pub struct Species {
    /// Id.
    pub id: String,
    /// Compartment id.
    pub compartment: String,
    /// `initialAmount`.
    pub initial_amount: Option<f64>,
    /// `initialConcentration`.
    pub initial_concentration: Option<f64>,
    /// `hasOnlySubstanceUnits`: the symbol means an amount.
    pub only_substance: bool,
    /// `boundaryCondition`: reactions do not change it.
    pub boundary: bool,
    /// `constant`.
    pub constant: bool,
    /// `conversionFactor` (a parameter id).
    pub conversion_factor: Option<String>,
}

/// A global parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// Id.
    pub id: String,
    /// Value attribute, if given.
    pub value: Option<f64>,
    /// Whether it is constant.
    pub constant: bool,
}

/// A reactant or product.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeciesRef {
    /// Species id.
    pub species: String,
    /// Stoichiometry attribute (1 when absent).
    pub stoichiometry: f64,
    /// Optional id (L3), so math and rules can name the stoichiometry.
    pub id: Option<String>,
    /// `constant` (L3).
    pub constant: bool,
    /// `stoichiometryMath` (L2), overriding the attribute.
    pub math: Option<Expr>,
}

/// A reaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    /// Id.
    pub id: String,
    /// Reactants.
    pub reactants: Vec<SpeciesRef>,
    /// Products.
    pub products: Vec<SpeciesRef>,
    /// Modifier species ids.
    pub modifiers: Vec<String>,
    /// Kinetic law (absent: rate 0 is NOT assumed, it is refused at compile time).
    pub law: Option<Expr>,
    /// Local parameters of the kinetic law.
    pub locals: Vec<(String, f64)>,
}

/// Rule kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// `variable = math` at all times.
    Assignment,
    /// `d variable / dt = math`.
    Rate,
    /// `0 = math`; the variable it determines is chosen at compile time.
    Algebraic,
}

/// A rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Kind.
    pub kind: RuleKind,
    /// Target id.
    pub variable: String,
    /// Right-hand side.
    pub math: Expr,
}

/// An event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Id (or `event#k` when the file gives none).
    pub id: String,
    /// Trigger condition.
    pub trigger: Expr,
    /// Trigger value before the start (true: a trigger true at t0 does not fire).
    pub initial_value: bool,
    /// Persistent trigger.
    pub persistent: bool,
    /// Assignments evaluated at trigger time (always equal to execution time without delay,
    /// but it matters when simultaneous events change each other's inputs).
    pub use_values_from_trigger_time: bool,
    /// Priority expression.
    pub priority: Option<Expr>,
    /// Delay from trigger to execution (absent: immediate).
    pub delay: Option<Expr>,
    /// Assignments (target id, value).
    pub assignments: Vec<(String, Expr)>,
}

/// A function definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// Id.
    pub id: String,
    /// Argument names.
    pub args: Vec<String>,
    /// Body.
    pub body: Expr,
}

/// A whole SBML model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// SBML level.
    pub level: u32,
    /// SBML version.
    pub version: u32,
    /// Model id.
    pub id: String,
    /// Model name.
    pub name: String,
    /// Model-wide `conversionFactor`.
    pub conversion_factor: Option<String>,
    /// Function definitions.
    pub functions: Vec<Function>,
    /// Compartments.
    pub compartments: Vec<Compartment>,
    /// Species.
    pub species: Vec<Species>,
    /// Parameters.
    pub parameters: Vec<Parameter>,
    /// Initial assignments (symbol, math).
    pub initial_assignments: Vec<(String, Expr)>,
    /// Assignment and rate rules.
    pub rules: Vec<Rule>,
    /// Reactions.
    pub reactions: Vec<Reaction>,
    /// Events.
    pub events: Vec<Event>,
    /// Constraints present (not evaluated; listed by `info`).
    pub constraints: usize,
}

fn elements<'a, 'i>(n: roxmltree::Node<'a, 'i>) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    n.children().filter(|c| c.is_element())
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    elements(n).find(|c| c.tag_name().name() == name)
}

fn list<'a, 'i>(
    n: roxmltree::Node<'a, 'i>,
    list: &str,
    item: &str,
) -> Vec<roxmltree::Node<'a, 'i>> {
    child(n, list)
        .map(|l| elements(l).filter(|c| c.tag_name().name() == item).collect())
        .unwrap_or_default()
}

fn num(n: roxmltree::Node, attr: &str, elem: &str, id: &str) -> Result<Option<f64>> {
    match n.attribute(attr) {
        None => Ok(None),
        Some(s) => {
            let s = s.trim();
            let v = match s {
                "INF" => f64::INFINITY,
                "-INF" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                _ => s.parse::<f64>().map_err(|_| {
                    Error::invalid(elem, id, format!("attribute {attr}=\"{s}\" is not a number"))
                })?,
            };
            Ok(Some(v))
        }
    }
}

fn boolean(n: roxmltree::Node, attr: &str, default: bool, elem: &str, id: &str) -> Result<bool> {
    match n.attribute(attr).map(str::trim) {
        None => Ok(default),
        Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(o) => {
            Err(Error::invalid(elem, id, format!("attribute {attr}=\"{o}\" is not boolean")))
        }
    }
}

fn id_of(n: roxmltree::Node, elem: &str) -> Result<String> {
    n.attribute("id")
        .map(|s| s.to_string())
        .ok_or_else(|| Error::invalid(elem, "?", "element without id"))
}

fn math_of(n: roxmltree::Node, elem: &str, id: &str) -> Result<Option<Expr>> {
    match child(n, "math") {
        None => Ok(None),
        Some(m) => parse_math(m, &(elem, id)).map(Some),
    }
}

/// Read an SBML document from text.
pub fn parse(text: &str) -> Result<Document> {
    let xml = roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions { allow_dtd: false, ..Default::default() },
    )
    .map_err(|e| Error::Malformed(e.to_string()))?;
    let root = xml.root_element();
    if root.tag_name().name() != "sbml" {
        return Err(Error::Malformed(format!(
            "root element is <{}>, not <sbml>",
            root.tag_name().name()
        )));
    }
    let level: u32 = root.attribute("level").and_then(|s| s.parse().ok()).unwrap_or(0);
    let version: u32 = root.attribute("version").and_then(|s| s.parse().ok()).unwrap_or(0);
    if !(level == 2 || level == 3) {
        return Err(Error::unsupported("sbml", "", format!("SBML level {level} (only 2 and 3)")));
    }
    // Packages: any `required="true"` package changes the meaning of the model.
    for a in root.attributes() {
        if a.name() == "required" && a.value() == "true" {
            let ns = a.namespace().unwrap_or("?");
            return Err(Error::unsupported("package", ns, "a required SBML package"));
        }
    }
    let model =
        child(root, "model").ok_or_else(|| Error::Malformed("<sbml> without <model>".into()))?;
    let mut d = Document {
        level,
        version,
        id: model.attribute("id").unwrap_or("").to_string(),
        name: model.attribute("name").unwrap_or("").to_string(),
        conversion_factor: model.attribute("conversionFactor").map(str::to_string),
        ..Default::default()
    };
    for c in elements(model) {
        let name = c.tag_name().name();
        let known = [
            "notes",
            "annotation",
            "listOfFunctionDefinitions",
            "listOfUnitDefinitions",
            "listOfCompartmentTypes",
            "listOfSpeciesTypes",
            "listOfCompartments",
            "listOfSpecies",
            "listOfParameters",
            "listOfInitialAssignments",
            "listOfRules",
            "listOfConstraints",
            "listOfReactions",
            "listOfEvents",
        ];
        if !known.contains(&name) {
            return Err(Error::unsupported("model", &d.id, format!("element <{name}>")));
        }
    }
    let l3 = level == 3;
    for f in list(model, "listOfFunctionDefinitions", "functionDefinition") {
        let id = id_of(f, "functionDefinition")?;
        // L3V2 allows a function without math; calling it is refused at compile time.
        let (args, body) = match child(f, "math") {
            Some(m) => parse_lambda(m, &("functionDefinition", &id))?,
            None => (Vec::new(), Expr::Call(format!("{id} (no math)"), Vec::new())),
        };
        d.functions.push(Function { id, args, body });
    }
    for c in list(model, "listOfCompartments", "compartment") {
        let id = id_of(c, "compartment")?;
        let dims = num(c, "spatialDimensions", "compartment", &id)?.unwrap_or(3.0);
        let size = match num(c, "size", "compartment", &id)? {
            Some(s) => Some(s),
            None => num(c, "volume", "compartment", &id)?,
        };
        let constant = boolean(c, "constant", true, "compartment", &id)?;
        d.compartments.push(Compartment { id, size, dims, constant });
    }
    for s in list(model, "listOfSpecies", "species") {
        let id = id_of(s, "species")?;
        let compartment = s
            .attribute("compartment")
            .ok_or_else(|| Error::invalid("species", &id, "no compartment"))?
            .to_string();
        d.species.push(Species {
            initial_amount: num(s, "initialAmount", "species", &id)?,
            initial_concentration: num(s, "initialConcentration", "species", &id)?,
            only_substance: boolean(s, "hasOnlySubstanceUnits", false, "species", &id)?,
            boundary: boolean(s, "boundaryCondition", false, "species", &id)?,
            constant: boolean(s, "constant", false, "species", &id)?,
            conversion_factor: s.attribute("conversionFactor").map(str::to_string),
            compartment,
            id,
        });
    }
    for p in list(model, "listOfParameters", "parameter") {
        let id = id_of(p, "parameter")?;
        d.parameters.push(Parameter {
            value: num(p, "value", "parameter", &id)?,
            constant: boolean(p, "constant", true, "parameter", &id)?,
            id,
        });
    }
    for ia in list(model, "listOfInitialAssignments", "initialAssignment") {
        let sym = ia
            .attribute("symbol")
            .ok_or_else(|| Error::invalid("initialAssignment", "?", "no symbol"))?
            .to_string();
        let m = math_of(ia, "initialAssignment", &sym)?;
        // L3V2 allows an initial assignment without math: no effect.
        if let Some(m) = m {
            d.initial_assignments.push((sym, m));
        }
    }
    if let Some(rules) = child(model, "listOfRules") {
        for r in elements(rules) {
            let kind = r.tag_name().name();
            let var = r.attribute("variable").unwrap_or("").to_string();
            let kind = match kind {
                "assignmentRule" => RuleKind::Assignment,
                "rateRule" => RuleKind::Rate,
                "algebraicRule" => RuleKind::Algebraic,
                "notes" | "annotation" => continue,
                o => return Err(Error::unsupported("rule", &var, format!("<{o}>"))),
            };
            if var.is_empty() && kind != RuleKind::Algebraic {
                return Err(Error::invalid("rule", "?", "rule without variable"));
            }
            let owner = if var.is_empty() { "algebraicRule" } else { var.as_str() };
            if let Some(math) = math_of(r, "rule", owner)? {
                d.rules.push(Rule { kind, variable: var, math });
            }
        }
    }
    d.constraints = list(model, "listOfConstraints", "constraint").len();
    for (k, r) in list(model, "listOfReactions", "reaction").into_iter().enumerate() {
        let id = r.attribute("id").map(str::to_string).unwrap_or(format!("reaction#{k}"));
        if boolean(r, "fast", false, "reaction", &id)? {
            return Err(Error::unsupported("reaction", &id, "fast reactions"));
        }
        let refs = |name: &str| -> Result<Vec<SpeciesRef>> {
            let mut out = Vec::new();
            for s in list(r, name, "speciesReference") {
                let species = s
                    .attribute("species")
                    .ok_or_else(|| Error::invalid("speciesReference", &id, "no species"))?
                    .to_string();
                // L2: a stoichiometry given by math, evaluated with the rates.
                let math = match child(s, "stoichiometryMath") {
                    Some(sm) => math_of(sm, "reaction", &id)?,
                    None => None,
                };
                let sid = s.attribute("id").map(str::to_string);
                let st =
                    num(s, "stoichiometry", "speciesReference", sid.as_deref().unwrap_or(&id))?;
                out.push(SpeciesRef {
                    species,
                    stoichiometry: st.unwrap_or(if l3 && sid.is_some() { f64::NAN } else { 1.0 }),
                    constant: boolean(s, "constant", !l3, "speciesReference", &id)?,
                    id: sid,
                    math,
                });
            }
            Ok(out)
        };
        let reactants = refs("listOfReactants")?;
        let products = refs("listOfProducts")?;
        let modifiers = list(r, "listOfModifiers", "modifierSpeciesReference")
            .into_iter()
            .filter_map(|m| m.attribute("species").map(str::to_string))
            .collect();
        let (mut law, mut locals) = (None, Vec::new());
        if let Some(kl) = child(r, "kineticLaw") {
            law = math_of(kl, "reaction", &id)?;
            let tag = if l3 { "listOfLocalParameters" } else { "listOfParameters" };
            let item = if l3 { "localParameter" } else { "parameter" };
            for p in list(kl, tag, item) {
                let pid = id_of(p, item)?;
                let v = num(p, "value", item, &pid)?.unwrap_or(f64::NAN);
                locals.push((pid, v));
            }
        }
        d.reactions.push(Reaction { id, reactants, products, modifiers, law, locals });
    }
    for (k, e) in list(model, "listOfEvents", "event").into_iter().enumerate() {
        let id = e.attribute("id").map(str::to_string).unwrap_or(format!("event#{k}"));
        // An L3V2 delay without math, or a constant zero delay, is no delay.
        let delay = match child(e, "delay") {
            Some(d) => match math_of(d, "event", &id)? {
                None | Some(Expr::Num(0.0)) => None,
                m => m,
            },
            None => None,
        };
        // L3V2: an event without a trigger (or trigger math) never fires.
        let trig = child(e, "trigger");
        let trigger = match trig {
            Some(t) => math_of(t, "event", &id)?.unwrap_or(Expr::Num(0.0)),
            None => Expr::Num(0.0),
        };
        let priority = match child(e, "priority") {
            Some(p) => math_of(p, "event", &id)?,
            None => None,
        };
        let mut assignments = Vec::new();
        for a in list(e, "listOfEventAssignments", "eventAssignment") {
            let var = a
                .attribute("variable")
                .ok_or_else(|| Error::invalid("eventAssignment", &id, "no variable"))?
                .to_string();
            if let Some(m) = math_of(a, "eventAssignment", &var)? {
                assignments.push((var, m));
            }
        }
        d.events.push(Event {
            trigger,
            // L2 events fire only on a false-to-true transition after the start.
            initial_value: match trig {
                Some(t) => boolean(t, "initialValue", true, "event", &id)?,
                None => true,
            },
            persistent: match trig {
                Some(t) => boolean(t, "persistent", true, "event", &id)?,
                None => true,
            },
            use_values_from_trigger_time: boolean(
                e,
                "useValuesFromTriggerTime",
                true,
                "event",
                &id,
            )?,
            priority,
            delay,
            assignments,
            id,
        });
    }
    Ok(d)
}
