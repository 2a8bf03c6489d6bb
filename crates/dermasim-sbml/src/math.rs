//! MathML expressions: the tree read from the file, symbolic differentiation, and the
//! stack bytecode the tree compiles to once.

use crate::error::{Error, Result};

/// One-argument operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Un {
    Neg,
    Not,
    Abs,
    Exp,
    Ln,
    Floor,
    Ceil,
    Factorial,
    Sqrt,
    Sin,
    Cos,
    Tan,
    Sec,
    Csc,
    Cot,
    Sinh,
    Cosh,
    Tanh,
    Sech,
    Csch,
    Coth,
    Asin,
    Acos,
    Atan,
    Asec,
    Acsc,
    Acot,
    Asinh,
    Acosh,
    Atanh,
    Asech,
    Acsch,
    Acoth,
}

/// Two-argument operators (n-ary MathML operators are folded into these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Eq,
    Neq,
    Gt,
    Lt,
    Geq,
    Leq,
    And,
    Or,
    Xor,
    Max,
    Min,
    Rem,
    Quotient,
    Implies,
}

/// An expression tree. `Sym` and `Call` exist only before names are resolved to slots.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number (booleans are 1 and 0).
    Num(f64),
    /// An unresolved identifier (`ci`).
    Sym(String),
    /// A resolved value slot.
    Var(usize),
    /// Simulation time (`csymbol time`).
    Time,
    /// One-argument operator.
    Un(Un, Box<Expr>),
    /// Two-argument operator.
    Bin(Bin, Box<Expr>, Box<Expr>),
    /// `piecewise`: (value, condition) pieces, then the otherwise value (NaN when absent).
    Piecewise(Vec<(Expr, Expr)>, Box<Expr>),
    /// A call of a function definition, before inlining.
    Call(String, Vec<Expr>),
}

/// `a + b` with zeros folded away.
pub fn add(a: Expr, b: Expr) -> Expr {
    match (&a, &b) {
        (Expr::Num(x), _) if *x == 0.0 => b,
        (_, Expr::Num(y)) if *y == 0.0 => a,
        (Expr::Num(x), Expr::Num(y)) => Expr::Num(x + y),
        _ => Expr::Bin(Bin::Add, Box::new(a), Box::new(b)),
    }
}

/// `a - b` with zeros folded away.
pub fn sub(a: Expr, b: Expr) -> Expr {
    match (&a, &b) {
        (_, Expr::Num(y)) if *y == 0.0 => a,
        (Expr::Num(x), _) if *x == 0.0 => neg(b),
        (Expr::Num(x), Expr::Num(y)) => Expr::Num(x - y),
        _ => Expr::Bin(Bin::Sub, Box::new(a), Box::new(b)),
    }
}

/// `a * b` with zeros and ones folded away. (`0 * x` is taken as 0 even where `x` is
/// infinite: this is only used to build derivatives.)
pub fn mul(a: Expr, b: Expr) -> Expr {
    match (&a, &b) {
        (Expr::Num(x), _) | (_, Expr::Num(x)) if *x == 0.0 => Expr::Num(0.0),
        (Expr::Num(x), _) if *x == 1.0 => b,
        (_, Expr::Num(y)) if *y == 1.0 => a,
        (Expr::Num(x), Expr::Num(y)) => Expr::Num(x * y),
        _ => Expr::Bin(Bin::Mul, Box::new(a), Box::new(b)),
    }
}

/// `a / b`, folding a zero numerator and a unit denominator.
pub fn div(a: Expr, b: Expr) -> Expr {
    match (&a, &b) {
        (Expr::Num(x), _) if *x == 0.0 => Expr::Num(0.0),
        (_, Expr::Num(y)) if *y == 1.0 => a,
        _ => Expr::Bin(Bin::Div, Box::new(a), Box::new(b)),
    }
}

/// `-a`.
pub fn neg(a: Expr) -> Expr {
    match a {
        Expr::Num(x) => Expr::Num(-x),
        Expr::Un(Un::Neg, inner) => *inner,
        _ => Expr::Un(Un::Neg, Box::new(a)),
    }
}

fn un(op: Un, a: Expr) -> Expr {
    Expr::Un(op, Box::new(a))
}

fn bin(op: Bin, a: Expr, b: Expr) -> Expr {
    Expr::Bin(op, Box::new(a), Box::new(b))
}

fn pow(a: Expr, b: Expr) -> Expr {
    bin(Bin::Pow, a, b)
}

/// The internal function name `csymbol rateOf` parses to.
pub const RATE_OF: &str = "\u{0}rateOf";

/// The internal function name `csymbol delay` parses to.
pub const DELAY: &str = "\u{0}delay";

const MATHML_NS: &str = "http://www.w3.org/1998/Math/MathML";

fn elements<'a, 'i>(n: roxmltree::Node<'a, 'i>) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    n.children().filter(|c| c.is_element())
}

/// Read the single expression inside a `<math>` element. `owner` names the enclosing SBML
/// element for errors.
pub fn parse_math(math: roxmltree::Node, owner: &(&str, &str)) -> Result<Expr> {
    let mut it = elements(math);
    let first = it.next().ok_or_else(|| Error::invalid(owner.0, owner.1, "empty <math>"))?;
    if it.next().is_some() {
        return Err(Error::invalid(owner.0, owner.1, "<math> holds more than one expression"));
    }
    parse_node(first, owner)
}

/// Read a lambda: (bound variable names, body).
pub fn parse_lambda(math: roxmltree::Node, owner: &(&str, &str)) -> Result<(Vec<String>, Expr)> {
    let mut node = elements(math)
        .next()
        .ok_or_else(|| Error::invalid(owner.0, owner.1, "empty function definition"))?;
    if node.tag_name().name() == "semantics" {
        node = elements(node)
            .next()
            .ok_or_else(|| Error::invalid(owner.0, owner.1, "empty <semantics>"))?;
    }
    if node.tag_name().name() != "lambda" {
        return Err(Error::invalid(owner.0, owner.1, "function definition without <lambda>"));
    }
    let mut args = Vec::new();
    let mut body = None;
    for c in elements(node) {
        if c.tag_name().name() == "bvar" {
            let ci = elements(c)
                .find(|x| x.tag_name().name() == "ci")
                .ok_or_else(|| Error::invalid(owner.0, owner.1, "<bvar> without <ci>"))?;
            args.push(text(ci));
        } else if body.is_none() {
            body = Some(parse_node(c, owner)?);
        } else {
            return Err(Error::invalid(owner.0, owner.1, "lambda with more than one body"));
        }
    }
    // A lambda without a body is legal only in theory; it evaluates to NaN.
    Ok((args, body.unwrap_or(Expr::Num(f64::NAN))))
}

fn text(n: roxmltree::Node) -> String {
    n.text().unwrap_or("").trim().to_string()
}

fn parse_cn(n: roxmltree::Node, owner: &(&str, &str)) -> Result<Expr> {
    let kind = n.attribute("type").unwrap_or("real");
    let parts: Vec<String> = n
        .children()
        .filter(|c| c.is_text())
        .map(|c| c.text().unwrap_or("").trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let num = |s: &str| -> Result<f64> {
        let s = s.trim();
        match s {
            "INF" | "inf" | "Infinity" => Ok(f64::INFINITY),
            "-INF" | "-inf" | "-Infinity" => Ok(f64::NEG_INFINITY),
            "NaN" => Ok(f64::NAN),
            _ => s.parse::<f64>().map_err(|_| {
                Error::invalid(owner.0, owner.1, format!("<cn> `{s}` is not a number"))
            }),
        }
    };
    let bad = || Error::invalid(owner.0, owner.1, format!("<cn type=\"{kind}\"> needs two parts"));
    match kind {
        "real" | "integer" | "double" => {
            let s = parts.first().ok_or_else(|| Error::invalid(owner.0, owner.1, "empty <cn>"))?;
            Ok(Expr::Num(num(s)?))
        }
        "e-notation" => {
            if parts.len() != 2 {
                return Err(bad());
            }
            Ok(Expr::Num(num(&format!("{}e{}", parts[0], parts[1]))?))
        }
        "rational" => {
            if parts.len() != 2 {
                return Err(bad());
            }
            Ok(Expr::Num(num(&parts[0])? / num(&parts[1])?))
        }
        other => Err(Error::unsupported(owner.0, owner.1, format!("<cn type=\"{other}\">"))),
    }
}

/// Deepest MathML nesting accepted (deeper input is refused, not a stack overflow).
const MAX_NESTING: usize = 300;

fn parse_node(n: roxmltree::Node, owner: &(&str, &str)) -> Result<Expr> {
    if n.ancestors().count() > MAX_NESTING {
        return Err(Error::unsupported(
            owner.0,
            owner.1,
            format!("MathML nested deeper than {MAX_NESTING} levels"),
        ));
    }
    if n.tag_name().namespace() != Some(MATHML_NS) {
        return Err(Error::invalid(
            owner.0,
            owner.1,
            format!("<{}> is not MathML", n.tag_name().name()),
        ));
    }
    let name = n.tag_name().name();
    Ok(match name {
        "cn" => parse_cn(n, owner)?,
        "ci" => Expr::Sym(text(n)),
        "csymbol" => {
            let url = n.attribute("definitionURL").unwrap_or("").trim();
            match url.rsplit('/').next().unwrap_or("") {
                "time" => Expr::Time,
                // The SBML Level 3 value (the suite tests it to all nine digits).
                "avogadro" => Expr::Num(6.022_141_79e23),
                other => {
                    return Err(Error::unsupported(
                        owner.0,
                        owner.1,
                        format!("csymbol `{other}` ({url})"),
                    ))
                }
            }
        }
        "true" => Expr::Num(1.0),
        "false" => Expr::Num(0.0),
        "pi" => Expr::Num(std::f64::consts::PI),
        "exponentiale" => Expr::Num(std::f64::consts::E),
        "infinity" => Expr::Num(f64::INFINITY),
        "notanumber" => Expr::Num(f64::NAN),
        "semantics" => {
            let first = elements(n)
                .next()
                .ok_or_else(|| Error::invalid(owner.0, owner.1, "empty <semantics>"))?;
            parse_node(first, owner)?
        }
        "piecewise" => {
            let mut pieces = Vec::new();
            let mut otherwise = None;
            for c in elements(n) {
                match c.tag_name().name() {
                    "piece" => {
                        let kids: Vec<_> = elements(c).collect();
                        if kids.len() != 2 {
                            return Err(Error::invalid(owner.0, owner.1, "<piece> needs 2 parts"));
                        }
                        pieces.push((parse_node(kids[0], owner)?, parse_node(kids[1], owner)?));
                    }
                    "otherwise" => {
                        let kid = elements(c)
                            .next()
                            .ok_or_else(|| Error::invalid(owner.0, owner.1, "empty <otherwise>"))?;
                        otherwise = Some(parse_node(kid, owner)?);
                    }
                    other => {
                        return Err(Error::invalid(
                            owner.0,
                            owner.1,
                            format!("<{other}> inside <piecewise>"),
                        ))
                    }
                }
            }
            Expr::Piecewise(pieces, Box::new(otherwise.unwrap_or(Expr::Num(f64::NAN))))
        }
        "apply" => parse_apply(n, owner)?,
        "lambda" => {
            return Err(Error::unsupported(
                owner.0,
                owner.1,
                "<lambda> outside a function definition",
            ))
        }
        other => return Err(Error::unsupported(owner.0, owner.1, format!("MathML <{other}>"))),
    })
}

fn parse_apply(n: roxmltree::Node, owner: &(&str, &str)) -> Result<Expr> {
    let kids: Vec<_> = elements(n).collect();
    let Some(head) = kids.first() else {
        return Err(Error::invalid(owner.0, owner.1, "empty <apply>"));
    };
    let op = head.tag_name().name();
    // Qualifiers: <logbase> and <degree>.
    let mut qualifier = None;
    let mut args: Vec<Expr> = Vec::new();
    for k in &kids[1..] {
        match k.tag_name().name() {
            "logbase" | "degree" => {
                let inner = elements(*k)
                    .next()
                    .ok_or_else(|| Error::invalid(owner.0, owner.1, "empty qualifier"))?;
                qualifier = Some(parse_node(inner, owner)?);
            }
            _ => args.push(parse_node(*k, owner)?),
        }
    }
    let arity = |have: usize, want: usize| -> Result<()> {
        if have == want {
            Ok(())
        } else {
            Err(Error::invalid(
                owner.0,
                owner.1,
                format!("<{op}> takes {want} argument(s), has {have}"),
            ))
        }
    };
    let unary = |u: Un, args: &mut Vec<Expr>| -> Result<Expr> {
        arity(args.len(), 1)?;
        Ok(un(u, args.pop().unwrap()))
    };
    // Left to right as written; long argument lists pairwise, so trees stay shallow.
    fn fold(b: Bin, args: Vec<Expr>, empty: f64) -> Expr {
        if args.len() > 16 {
            let mut v = args;
            while v.len() > 1 {
                let mut next = Vec::with_capacity(v.len() / 2 + 1);
                let mut it = v.into_iter();
                while let Some(a) = it.next() {
                    next.push(match it.next() {
                        Some(c) => bin(b, a, c),
                        None => a,
                    });
                }
                v = next;
            }
            return v.pop().unwrap_or(Expr::Num(empty));
        }
        let mut it = args.into_iter();
        match it.next() {
            None => Expr::Num(empty),
            Some(first) => it.fold(first, |acc, x| bin(b, acc, x)),
        }
    }
    let chain = |b: Bin, args: Vec<Expr>| -> Result<Expr> {
        if args.len() < 2 {
            return Err(Error::invalid(owner.0, owner.1, format!("<{op}> needs 2 arguments")));
        }
        let mut out: Option<Expr> = None;
        for w in args.windows(2) {
            let c = bin(b, w[0].clone(), w[1].clone());
            out = Some(match out {
                None => c,
                Some(o) => bin(Bin::And, o, c),
            });
        }
        Ok(out.unwrap())
    };
    Ok(match op {
        "ci" => Expr::Call(text(*head), args),
        "csymbol" if head.attribute("definitionURL").unwrap_or("").trim().ends_with("/delay") => {
            arity(args.len(), 2)?;
            Expr::Call(DELAY.into(), args)
        }
        "csymbol" if head.attribute("definitionURL").unwrap_or("").trim().ends_with("/rateOf") => {
            match args.as_slice() {
                [Expr::Sym(_)] => Expr::Call(RATE_OF.into(), args),
                _ => {
                    return Err(Error::unsupported(
                        owner.0,
                        owner.1,
                        "rateOf of anything but an identifier",
                    ))
                }
            }
        }
        "csymbol" => {
            let url = head.attribute("definitionURL").unwrap_or("").trim();
            return Err(Error::unsupported(
                owner.0,
                owner.1,
                format!("csymbol function `{}` ({url})", url.rsplit('/').next().unwrap_or("")),
            ));
        }
        "plus" => fold(Bin::Add, args, 0.0),
        "times" => fold(Bin::Mul, args, 1.0),
        "and" => fold(Bin::And, args, 1.0),
        "or" => fold(Bin::Or, args, 0.0),
        "xor" => fold(Bin::Xor, args, 0.0),
        "max" => {
            if args.is_empty() {
                return Err(Error::invalid(owner.0, owner.1, "<max> without arguments"));
            }
            fold(Bin::Max, args, 0.0)
        }
        "min" => {
            if args.is_empty() {
                return Err(Error::invalid(owner.0, owner.1, "<min> without arguments"));
            }
            fold(Bin::Min, args, 0.0)
        }
        "minus" => match args.len() {
            1 => un(Un::Neg, args.pop().unwrap()),
            2 => {
                let b = args.pop().unwrap();
                bin(Bin::Sub, args.pop().unwrap(), b)
            }
            k => return Err(Error::invalid(owner.0, owner.1, format!("<minus> with {k} args"))),
        },
        "divide" | "power" | "rem" | "quotient" | "implies" => {
            arity(args.len(), 2)?;
            let b = args.pop().unwrap();
            let a = args.pop().unwrap();
            let o = match op {
                "divide" => Bin::Div,
                "power" => Bin::Pow,
                "rem" => Bin::Rem,
                "quotient" => Bin::Quotient,
                _ => Bin::Implies,
            };
            bin(o, a, b)
        }
        "eq" => chain(Bin::Eq, args)?,
        "gt" => chain(Bin::Gt, args)?,
        "lt" => chain(Bin::Lt, args)?,
        "geq" => chain(Bin::Geq, args)?,
        "leq" => chain(Bin::Leq, args)?,
        "neq" => {
            arity(args.len(), 2)?;
            let b = args.pop().unwrap();
            bin(Bin::Neq, args.pop().unwrap(), b)
        }
        "root" => {
            arity(args.len(), 1)?;
            let x = args.pop().unwrap();
            match qualifier {
                None => un(Un::Sqrt, x),
                Some(Expr::Num(2.0)) => un(Un::Sqrt, x),
                Some(d) => pow(x, div(Expr::Num(1.0), d)),
            }
        }
        "log" => {
            arity(args.len(), 1)?;
            let x = args.pop().unwrap();
            let base = qualifier.unwrap_or(Expr::Num(10.0));
            div(un(Un::Ln, x), un(Un::Ln, base))
        }
        "not" => unary(Un::Not, &mut args)?,
        "abs" => unary(Un::Abs, &mut args)?,
        "exp" => unary(Un::Exp, &mut args)?,
        "ln" => unary(Un::Ln, &mut args)?,
        "floor" => unary(Un::Floor, &mut args)?,
        "ceiling" => unary(Un::Ceil, &mut args)?,
        "factorial" => unary(Un::Factorial, &mut args)?,
        "sin" => unary(Un::Sin, &mut args)?,
        "cos" => unary(Un::Cos, &mut args)?,
        "tan" => unary(Un::Tan, &mut args)?,
        "sec" => unary(Un::Sec, &mut args)?,
        "csc" => unary(Un::Csc, &mut args)?,
        "cot" => unary(Un::Cot, &mut args)?,
        "sinh" => unary(Un::Sinh, &mut args)?,
        "cosh" => unary(Un::Cosh, &mut args)?,
        "tanh" => unary(Un::Tanh, &mut args)?,
        "sech" => unary(Un::Sech, &mut args)?,
        "csch" => unary(Un::Csch, &mut args)?,
        "coth" => unary(Un::Coth, &mut args)?,
        "arcsin" => unary(Un::Asin, &mut args)?,
        "arccos" => unary(Un::Acos, &mut args)?,
        "arctan" => unary(Un::Atan, &mut args)?,
        "arcsec" => unary(Un::Asec, &mut args)?,
        "arccsc" => unary(Un::Acsc, &mut args)?,
        "arccot" => unary(Un::Acot, &mut args)?,
        "arcsinh" => unary(Un::Asinh, &mut args)?,
        "arccosh" => unary(Un::Acosh, &mut args)?,
        "arctanh" => unary(Un::Atanh, &mut args)?,
        "arcsech" => unary(Un::Asech, &mut args)?,
        "arccsch" => unary(Un::Acsch, &mut args)?,
        "arccoth" => unary(Un::Acoth, &mut args)?,
        other => return Err(Error::unsupported(owner.0, owner.1, format!("MathML <{other}>"))),
    })
}

impl Expr {
    /// Visit every identifier (`Sym`) and function name (`Call`) in the tree.
    pub fn symbols(&self, out: &mut Vec<String>) {
        match self {
            Expr::Sym(s) => out.push(s.clone()),
            Expr::Call(_, a) => a.iter().for_each(|x| x.symbols(out)),
            Expr::Un(_, a) => a.symbols(out),
            Expr::Bin(_, a, b) => {
                a.symbols(out);
                b.symbols(out);
            }
            Expr::Piecewise(p, o) => {
                for (v, c) in p {
                    v.symbols(out);
                    c.symbols(out);
                }
                o.symbols(out);
            }
            _ => {}
        }
    }

    /// Slots read by a resolved tree.
    pub fn vars(&self, out: &mut Vec<usize>) {
        match self {
            Expr::Var(s) => out.push(*s),
            Expr::Call(_, a) => a.iter().for_each(|x| x.vars(out)),
            Expr::Un(_, a) => a.vars(out),
            Expr::Bin(_, a, b) => {
                a.vars(out);
                b.vars(out);
            }
            Expr::Piecewise(p, o) => {
                for (v, c) in p {
                    v.vars(out);
                    c.vars(out);
                }
                o.vars(out);
            }
            _ => {}
        }
    }

    /// Whether the tree reads time.
    pub fn uses_time(&self) -> bool {
        match self {
            Expr::Time => true,
            Expr::Call(_, a) => a.iter().any(Expr::uses_time),
            Expr::Un(_, a) => a.uses_time(),
            Expr::Bin(_, a, b) => a.uses_time() || b.uses_time(),
            Expr::Piecewise(p, o) => {
                p.iter().any(|(v, c)| v.uses_time() || c.uses_time()) || o.uses_time()
            }
            _ => false,
        }
    }

    /// Rewrite every leaf with `f` (used to resolve names and inline function arguments).
    pub fn map_leaves(&self, f: &mut dyn FnMut(&Expr) -> Result<Option<Expr>>) -> Result<Expr> {
        if let Some(e) = f(self)? {
            return Ok(e);
        }
        Ok(match self {
            Expr::Un(o, a) => Expr::Un(*o, Box::new(a.map_leaves(f)?)),
            Expr::Bin(o, a, b) => {
                Expr::Bin(*o, Box::new(a.map_leaves(f)?), Box::new(b.map_leaves(f)?))
            }
            Expr::Piecewise(p, o) => {
                let mut q = Vec::with_capacity(p.len());
                for (v, c) in p {
                    q.push((v.map_leaves(f)?, c.map_leaves(f)?));
                }
                Expr::Piecewise(q, Box::new(o.map_leaves(f)?))
            }
            Expr::Call(n, a) => {
                let mut b = Vec::with_capacity(a.len());
                for x in a {
                    b.push(x.map_leaves(f)?);
                }
                Expr::Call(n.clone(), b)
            }
            other => other.clone(),
        })
    }

    /// Symbolic derivative. `dvar(slot)` gives the derivative of a slot (a number or another
    /// slot holding it); `dtime` that of time.
    pub fn diff(&self, dvar: &dyn Fn(usize) -> Expr, dtime: f64) -> Expr {
        let d = |e: &Expr| e.diff(dvar, dtime);
        match self {
            Expr::Num(_) | Expr::Sym(_) | Expr::Call(..) => Expr::Num(0.0),
            Expr::Var(s) => dvar(*s),
            Expr::Time => Expr::Num(dtime),
            Expr::Un(op, a) => {
                let da = d(a);
                if da == Expr::Num(0.0) {
                    return Expr::Num(0.0);
                }
                let x = (**a).clone();
                let one = || Expr::Num(1.0);
                let sq = |e: Expr| mul(e.clone(), e);
                let inner = match op {
                    Un::Neg => return neg(da),
                    Un::Not | Un::Floor | Un::Ceil | Un::Factorial => return Expr::Num(0.0),
                    Un::Abs => Expr::Piecewise(
                        vec![(Expr::Num(-1.0), bin(Bin::Lt, x.clone(), Expr::Num(0.0)))],
                        Box::new(Expr::Num(1.0)),
                    ),
                    Un::Exp => self.clone(),
                    Un::Ln => div(one(), x),
                    Un::Sqrt => div(Expr::Num(0.5), self.clone()),
                    Un::Sin => un(Un::Cos, x),
                    Un::Cos => neg(un(Un::Sin, x)),
                    Un::Tan => sq(un(Un::Sec, x)),
                    Un::Sec => mul(self.clone(), un(Un::Tan, x)),
                    Un::Csc => neg(mul(self.clone(), un(Un::Cot, x))),
                    Un::Cot => neg(sq(un(Un::Csc, x))),
                    Un::Sinh => un(Un::Cosh, x),
                    Un::Cosh => un(Un::Sinh, x),
                    Un::Tanh => sq(un(Un::Sech, x)),
                    Un::Sech => neg(mul(self.clone(), un(Un::Tanh, x))),
                    Un::Csch => neg(mul(self.clone(), un(Un::Coth, x))),
                    Un::Coth => neg(sq(un(Un::Csch, x))),
                    Un::Asin => div(one(), un(Un::Sqrt, sub(one(), sq(x)))),
                    Un::Acos => neg(div(one(), un(Un::Sqrt, sub(one(), sq(x))))),
                    Un::Atan => div(one(), add(one(), sq(x))),
                    Un::Acot => neg(div(one(), add(one(), sq(x)))),
                    Un::Asec => {
                        div(one(), mul(un(Un::Abs, x.clone()), un(Un::Sqrt, sub(sq(x), one()))))
                    }
                    Un::Acsc => neg(div(
                        one(),
                        mul(un(Un::Abs, x.clone()), un(Un::Sqrt, sub(sq(x), one()))),
                    )),
                    Un::Asinh => div(one(), un(Un::Sqrt, add(sq(x), one()))),
                    Un::Acosh => div(one(), un(Un::Sqrt, sub(sq(x), one()))),
                    Un::Atanh | Un::Acoth => div(one(), sub(one(), sq(x))),
                    Un::Asech => neg(div(one(), mul(x.clone(), un(Un::Sqrt, sub(one(), sq(x)))))),
                    Un::Acsch => neg(div(
                        one(),
                        mul(un(Un::Abs, x.clone()), un(Un::Sqrt, add(one(), sq(x)))),
                    )),
                };
                mul(inner, da)
            }
            Expr::Bin(op, a, b) => {
                let (da, db) = (d(a), d(b));
                let zero = Expr::Num(0.0);
                if da == zero && db == zero {
                    return zero;
                }
                let (x, y) = ((**a).clone(), (**b).clone());
                match op {
                    Bin::Add => add(da, db),
                    Bin::Sub => sub(da, db),
                    Bin::Mul => add(mul(da, y), mul(x, db)),
                    Bin::Div => {
                        if db == zero {
                            div(da, y)
                        } else {
                            div(sub(mul(da, y.clone()), mul(x, db)), mul(y.clone(), y))
                        }
                    }
                    Bin::Pow => {
                        let t1 = if da == zero {
                            zero.clone()
                        } else {
                            mul(mul(y.clone(), pow(x.clone(), sub(y.clone(), Expr::Num(1.0)))), da)
                        };
                        let t2 = if db == zero {
                            zero
                        } else {
                            mul(mul(self.clone(), un(Un::Ln, x)), db)
                        };
                        add(t1, t2)
                    }
                    Bin::Max => Expr::Piecewise(vec![(da, bin(Bin::Geq, x, y))], Box::new(db)),
                    Bin::Min => Expr::Piecewise(vec![(da, bin(Bin::Leq, x, y))], Box::new(db)),
                    Bin::Rem => {
                        // x - y*trunc(x/y): derivative da - trunc(x/y) db almost everywhere.
                        let q = bin(Bin::Quotient, x, y);
                        sub(da, mul(q, db))
                    }
                    _ => zero,
                }
            }
            Expr::Piecewise(p, o) => {
                let q: Vec<(Expr, Expr)> = p.iter().map(|(v, c)| (d(v), c.clone())).collect();
                let od = d(o);
                if q.iter().all(|(v, _)| *v == Expr::Num(0.0)) && od == Expr::Num(0.0) {
                    Expr::Num(0.0)
                } else {
                    Expr::Piecewise(q, Box::new(od))
                }
            }
        }
    }
}

/// Stack bytecode.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Num(f64),
    Load(u32),
    Time,
    Un(Un),
    Bin(Bin),
    /// Top `op` a slot's value (a load fused into the operator).
    LoadBin(Bin, u32),
    /// Top `op` a number.
    NumBin(Bin, f64),
    /// Push `v[a] op v[b]`.
    LoadLoadBin(Bin, u32, u32),
    /// Pop; jump when zero.
    JumpIfZero(u32),
    Jump(u32),
}

/// A compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    ops: Vec<Op>,
    depth: usize,
}

impl Code {
    /// Compile a resolved tree (no `Sym` or `Call` left).
    pub fn compile(e: &Expr) -> Code {
        let mut ops = Vec::new();
        let mut depth = 0;
        emit(e, &mut ops, 0, &mut depth);
        Code { ops, depth: depth.max(1) }
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there are no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Stack depth needed.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Evaluate with slot values `v`, time `t` and a scratch stack (resized as needed).
    #[inline]
    pub fn eval(&self, v: &[f64], t: f64, stack: &mut Vec<f64>) -> f64 {
        if stack.len() < self.depth + 1 {
            stack.resize(self.depth + 1, 0.0);
        }
        let st = stack.as_mut_slice();
        let ops = &self.ops;
        let mut sp = 0usize;
        let mut pc = 0;
        while pc < ops.len() {
            match ops[pc] {
                Op::Num(x) => {
                    st[sp] = x;
                    sp += 1;
                }
                Op::Load(s) => {
                    st[sp] = v[s as usize];
                    sp += 1;
                }
                Op::Time => {
                    st[sp] = t;
                    sp += 1;
                }
                Op::Un(u) => st[sp - 1] = apply_un(u, st[sp - 1]),
                Op::Bin(b) => {
                    sp -= 1;
                    st[sp - 1] = apply_bin(b, st[sp - 1], st[sp]);
                }
                Op::LoadBin(b, s) => st[sp - 1] = apply_bin(b, st[sp - 1], v[s as usize]),
                Op::NumBin(b, x) => st[sp - 1] = apply_bin(b, st[sp - 1], x),
                Op::LoadLoadBin(b, x, y) => {
                    st[sp] = apply_bin(b, v[x as usize], v[y as usize]);
                    sp += 1;
                }
                Op::JumpIfZero(to) => {
                    sp -= 1;
                    let c = st[sp];
                    if c == 0.0 || c.is_nan() {
                        pc = to as usize;
                        continue;
                    }
                }
                Op::Jump(to) => {
                    pc = to as usize;
                    continue;
                }
            }
            pc += 1;
        }
        if sp == 0 {
            f64::NAN
        } else {
            st[sp - 1]
        }
    }
}

fn emit(e: &Expr, ops: &mut Vec<Op>, level: usize, depth: &mut usize) {
    *depth = (*depth).max(level + 1);
    match e {
        Expr::Num(x) => ops.push(Op::Num(*x)),
        Expr::Var(s) => ops.push(Op::Load(*s as u32)),
        Expr::Time => ops.push(Op::Time),
        Expr::Sym(_) | Expr::Call(..) => ops.push(Op::Num(f64::NAN)),
        Expr::Un(u, a) => match &**a {
            Expr::Num(x) => ops.push(Op::Num(apply_un(*u, *x))),
            _ => {
                emit(a, ops, level, depth);
                ops.push(Op::Un(*u));
            }
        },
        Expr::Bin(b, x, y) => match (&**x, &**y) {
            (Expr::Num(p), Expr::Num(q)) => ops.push(Op::Num(apply_bin(*b, *p, *q))),
            (Expr::Var(p), Expr::Var(q)) => ops.push(Op::LoadLoadBin(*b, *p as u32, *q as u32)),
            (_, Expr::Var(s)) => {
                emit(x, ops, level, depth);
                ops.push(Op::LoadBin(*b, *s as u32));
            }
            (_, Expr::Num(q)) => {
                emit(x, ops, level, depth);
                ops.push(Op::NumBin(*b, *q));
            }
            _ => {
                emit(x, ops, level, depth);
                emit(y, ops, level + 1, depth);
                ops.push(Op::Bin(*b));
            }
        },
        Expr::Piecewise(p, o) => {
            let mut ends = Vec::new();
            for (v, c) in p {
                emit(c, ops, level, depth);
                let jz = ops.len();
                ops.push(Op::JumpIfZero(0));
                emit(v, ops, level, depth);
                ends.push(ops.len());
                ops.push(Op::Jump(0));
                let next = ops.len() as u32;
                ops[jz] = Op::JumpIfZero(next);
            }
            emit(o, ops, level, depth);
            let end = ops.len() as u32;
            for j in ends {
                ops[j] = Op::Jump(end);
            }
        }
    }
}

fn truth(x: f64) -> bool {
    x != 0.0 && !x.is_nan()
}

fn b2f(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

fn factorial(x: f64) -> f64 {
    if x < 0.0 || x.fract() != 0.0 {
        return f64::NAN;
    }
    let mut r = 1.0;
    let mut k = 2.0;
    while k <= x {
        r *= k;
        k += 1.0;
        if r.is_infinite() {
            break;
        }
    }
    r
}

#[inline(always)]
fn apply_un(u: Un, a: f64) -> f64 {
    match u {
        Un::Neg => -a,
        Un::Not => b2f(!truth(a)),
        Un::Abs => a.abs(),
        Un::Exp => a.exp(),
        Un::Ln => a.ln(),
        Un::Floor => a.floor(),
        Un::Ceil => a.ceil(),
        Un::Factorial => factorial(a),
        Un::Sqrt => a.sqrt(),
        Un::Sin => a.sin(),
        Un::Cos => a.cos(),
        Un::Tan => a.tan(),
        Un::Sec => 1.0 / a.cos(),
        Un::Csc => 1.0 / a.sin(),
        Un::Cot => 1.0 / a.tan(),
        Un::Sinh => a.sinh(),
        Un::Cosh => a.cosh(),
        Un::Tanh => a.tanh(),
        Un::Sech => 1.0 / a.cosh(),
        Un::Csch => 1.0 / a.sinh(),
        Un::Coth => 1.0 / a.tanh(),
        Un::Asin => a.asin(),
        Un::Acos => a.acos(),
        Un::Atan => a.atan(),
        Un::Asec => (1.0 / a).acos(),
        Un::Acsc => (1.0 / a).asin(),
        Un::Acot => (1.0 / a).atan(),
        Un::Asinh => a.asinh(),
        Un::Acosh => a.acosh(),
        Un::Atanh => a.atanh(),
        Un::Asech => (1.0 / a).acosh(),
        Un::Acsch => (1.0 / a).asinh(),
        Un::Acoth => 0.5 * ((a + 1.0) / (a - 1.0)).ln(),
    }
}

#[inline(always)]
fn apply_bin(b: Bin, x: f64, y: f64) -> f64 {
    match b {
        Bin::Add => x + y,
        Bin::Sub => x - y,
        Bin::Mul => x * y,
        Bin::Div => x / y,
        Bin::Pow => {
            if y == 2.0 {
                x * x
            } else if y.fract() == 0.0 && y.abs() < 64.0 {
                x.powi(y as i32)
            } else {
                x.powf(y)
            }
        }
        Bin::Eq => b2f(x == y),
        Bin::Neq => b2f(x != y),
        Bin::Gt => b2f(x > y),
        Bin::Lt => b2f(x < y),
        Bin::Geq => b2f(x >= y),
        Bin::Leq => b2f(x <= y),
        Bin::And => b2f(truth(x) && truth(y)),
        Bin::Or => b2f(truth(x) || truth(y)),
        Bin::Xor => b2f(truth(x) != truth(y)),
        Bin::Implies => b2f(!truth(x) || truth(y)),
        Bin::Max => {
            if x.is_nan() || y.is_nan() {
                f64::NAN
            } else {
                x.max(y)
            }
        }
        Bin::Min => {
            if x.is_nan() || y.is_nan() {
                f64::NAN
            } else {
                x.min(y)
            }
        }
        Bin::Rem => x % y,
        Bin::Quotient => (x / y).trunc(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Expr {
        let doc = roxmltree::Document::parse(xml).unwrap();
        parse_math(doc.root_element(), &("test", "t")).unwrap()
    }

    #[test]
    fn piecewise_and_relational_compile_and_evaluate() {
        let e = parse(
            r#"<math xmlns="http://www.w3.org/1998/Math/MathML"><piecewise>
            <piece><cn>1</cn><apply><lt/><csymbol definitionURL="http://www.sbml.org/sbml/symbols/time"/><cn>2</cn></apply></piece>
            <otherwise><apply><power/><cn type="e-notation">2<sep/>0</cn><cn>3</cn></apply></otherwise>
            </piecewise></math>"#,
        );
        let c = Code::compile(&e);
        let mut st = Vec::new();
        assert_eq!(c.eval(&[], 1.0, &mut st), 1.0);
        assert_eq!(c.eval(&[], 3.0, &mut st), 8.0);
    }

    #[test]
    fn derivative_matches_finite_difference() {
        // f = x^2.5 * sin(x) / (1 + exp(-x)) + log10(x)
        let x = || Expr::Var(0);
        let f = add(
            div(
                mul(pow(x(), Expr::Num(2.5)), un(Un::Sin, x())),
                add(Expr::Num(1.0), un(Un::Exp, neg(x()))),
            ),
            div(un(Un::Ln, x()), un(Un::Ln, Expr::Num(10.0))),
        );
        let df = f.diff(&|s| Expr::Num(if s == 0 { 1.0 } else { 0.0 }), 0.0);
        let (cf, cd) = (Code::compile(&f), Code::compile(&df));
        let mut st = Vec::new();
        for &v in &[0.3, 1.0, 2.7] {
            let h = 1e-6;
            let fd =
                (cf.eval(&[v + h], 0.0, &mut st) - cf.eval(&[v - h], 0.0, &mut st)) / (2.0 * h);
            let an = cd.eval(&[v], 0.0, &mut st);
            assert!((fd - an).abs() < 1e-7 * an.abs().max(1.0), "{v}: {fd} vs {an}");
        }
    }

    #[test]
    fn unknown_mathml_is_refused_with_the_owner_id() {
        let doc = roxmltree::Document::parse(
            r#"<math xmlns="http://www.w3.org/1998/Math/MathML"><apply><diff/><ci>x</ci></apply></math>"#,
        )
        .unwrap();
        let err = parse_math(doc.root_element(), &("reaction", "R1")).unwrap_err();
        assert!(err.to_string().contains("R1") && err.to_string().contains("diff"), "{err}");
    }
}
