//! Refusals: malformed input never panics, unsupported constructs are named with their id.

use dermasim_sbml::{load, Error};

const COOPER: &str = include_str!("data/BIOMD0000000855.xml");

fn l3(body: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2"><model id="m">{body}</model></sbml>"#
    )
}

const MATH: &str = r#"xmlns="http://www.w3.org/1998/Math/MathML""#;

fn err(text: &str) -> String {
    load(text, &[]).expect_err("must be refused").to_string()
}

#[test]
fn malformed_xml_is_an_error_not_a_panic() {
    assert!(matches!(load("<sbml><model", &[]), Err(Error::Malformed(_))));
    assert!(matches!(load("", &[]), Err(Error::Malformed(_))));
    assert!(err("<html/>").contains("not <sbml>"));
    assert!(err(r#"<sbml level="1" version="2"><model/></sbml>"#).contains("level 1"));
    // Every truncation of a real model is refused or accepted, never a panic.
    let step = COOPER.len() / 300;
    for mut cut in (0..COOPER.len()).step_by(step.max(1)) {
        while !COOPER.is_char_boundary(cut) {
            cut -= 1;
        }
        let _ = load(&COOPER[..cut], &[]);
    }
}

#[test]
fn unsupported_constructs_name_the_element_and_id() {
    let alg = l3(&format!(
        r#"<listOfParameters><parameter id="x" value="1" constant="true"/></listOfParameters>
        <listOfRules><algebraicRule><math {MATH}><ci>x</ci></math></algebraicRule></listOfRules>"#
    ));
    let e = err(&alg);
    assert!(e.contains("algebraicRule#0") && e.contains("no free variable"), "{e}");
    let rate_of = l3(&format!(
        r#"<listOfParameters><parameter id="x" value="0" constant="false"/><parameter id="y" value="0" constant="false"/></listOfParameters>
        <listOfRules><rateRule variable="x"><math {MATH}><cn>1</cn></math></rateRule>
        <assignmentRule variable="y"><math {MATH}><apply><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/rateOf">rateOf</csymbol><apply><plus/><ci>x</ci><cn>1</cn></apply></apply></math></assignmentRule></listOfRules>"#
    ));
    let e = err(&rate_of);
    assert!(e.contains("`y`") && e.contains("rateOf"), "{e}");
    let fast = l3(
        r#"<listOfReactions><reaction id="quick" reversible="false" fast="true"/></listOfReactions>"#,
    );
    let e = err(&fast);
    assert!(e.contains("quick") && e.contains("fast"), "{e}");
    let csym = l3(&format!(
        r#"<listOfParameters><parameter id="x" value="0" constant="false"/></listOfParameters>
        <listOfFunctionDefinitions><functionDefinition id="lag"><math {MATH}><lambda><bvar><ci>a</ci></bvar><apply><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/delay">delay</csymbol><ci>a</ci><cn>1</cn></apply></lambda></math></functionDefinition></listOfFunctionDefinitions>
        <listOfRules><assignmentRule variable="x"><math {MATH}><apply><ci>lag</ci><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol></apply></math></assignmentRule></listOfRules>"#
    ));
    let e = err(&csym);
    assert!(e.contains("lag") && e.contains("delay inside a function"), "{e}");
    let pkg = r#"<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1" level="3" version="1" comp:required="true"><model id="m"/></sbml>"#;
    assert!(err(pkg).contains("comp"), "{}", err(pkg));
}

#[test]
fn inconsistent_models_are_refused_with_the_id() {
    let unknown = l3(&format!(
        r#"<listOfParameters><parameter id="x" value="0" constant="false"/></listOfParameters>
        <listOfRules><rateRule variable="x"><math {MATH}><ci>ghost</ci></math></rateRule></listOfRules>"#
    ));
    let e = err(&unknown);
    assert!(e.contains("ghost") && e.contains("`x`"), "{e}");
    let cycle = l3(&format!(
        r#"<listOfParameters><parameter id="a" constant="false"/><parameter id="b" constant="false"/></listOfParameters>
        <listOfRules><assignmentRule variable="a"><math {MATH}><ci>b</ci></math></assignmentRule>
        <assignmentRule variable="b"><math {MATH}><apply><plus/><ci>a</ci><cn>1</cn></apply></math></assignmentRule></listOfRules>"#
    ));
    match load(&cycle, &[]) {
        Err(Error::AlgebraicLoop(ids)) => {
            assert!(ids.contains(&"a".into()) && ids.contains(&"b".into()))
        }
        other => panic!("{other:?}"),
    }
    let no_law = l3(
        r#"<listOfCompartments><compartment id="c" size="1" constant="true"/></listOfCompartments>
        <listOfSpecies><species id="s" compartment="c" initialAmount="1" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/></listOfSpecies>
        <listOfReactions><reaction id="r1" reversible="false"><listOfReactants><speciesReference species="s" stoichiometry="1" constant="true"/></listOfReactants></reaction></listOfReactions>"#,
    );
    let e = err(&no_law);
    assert!(e.contains("r1") && e.contains("kinetic law"), "{e}");
    let bad_num = l3(
        r#"<listOfParameters><parameter id="k" value="fast" constant="true"/></listOfParameters>"#,
    );
    assert!(err(&bad_num).contains("`k`"));
    let dup = l3(
        r#"<listOfParameters><parameter id="k" value="1" constant="true"/><parameter id="k" value="2" constant="true"/></listOfParameters>"#,
    );
    assert!(err(&dup).contains("duplicate"));
}

#[test]
fn an_event_fires_inside_the_step_not_at_its_end() {
    // x' = 1 from 0; when x >= 0.3, y := x. One output at t = 1 lets the integrator take
    // one big step; y must still be 0.3 (to the event tolerance).
    let m = l3(&format!(
        r#"<listOfParameters><parameter id="x" value="0" constant="false"/><parameter id="y" value="0" constant="false"/></listOfParameters>
        <listOfRules><rateRule variable="x"><math {MATH}><cn>1</cn></math></rateRule></listOfRules>
        <listOfEvents><event id="e" useValuesFromTriggerTime="true"><trigger initialValue="false" persistent="true"><math {MATH}><apply><geq/><ci>x</ci><cn>0.3</cn></apply></math></trigger>
        <listOfEventAssignments><eventAssignment variable="y"><math {MATH}><ci>x</ci></math></eventAssignment></listOfEventAssignments></event></listOfEvents>"#
    ));
    let model = load(&m, &[]).unwrap();
    let c = [dermasim_sbml::Column::Value("y".into())];
    let tc = dermasim_sbml::run(&model, 0.0, &[1.0], &c, Default::default()).unwrap();
    assert!((tc.rows[0][1] - 0.3).abs() < 1e-12, "{}", tc.rows[0][1]);
}

#[test]
fn a_delayed_event_executes_after_its_delay_with_trigger_time_values() {
    // x' = 1; when x >= 0.3, after 0.2: y := x (value at trigger time, 0.3), z := x at
    // execution (0.5) in a second event without trigger-time values.
    let ev = |id: &str, var: &str, trig: bool| {
        format!(
            r#"<event id="{id}" useValuesFromTriggerTime="{trig}"><trigger initialValue="false" persistent="true"><math {MATH}><apply><geq/><ci>x</ci><cn>0.3</cn></apply></math></trigger>
            <delay><math {MATH}><cn>0.2</cn></math></delay>
            <listOfEventAssignments><eventAssignment variable="{var}"><math {MATH}><ci>x</ci></math></eventAssignment></listOfEventAssignments></event>"#
        )
    };
    let m = l3(&format!(
        r#"<listOfParameters><parameter id="x" value="0" constant="false"/><parameter id="y" value="0" constant="false"/><parameter id="z" value="0" constant="false"/></listOfParameters>
        <listOfRules><rateRule variable="x"><math {MATH}><cn>1</cn></math></rateRule></listOfRules>
        <listOfEvents>{}{}</listOfEvents>"#,
        ev("at_trigger", "y", true),
        ev("at_execution", "z", false)
    ));
    let model = load(&m, &[]).unwrap();
    let c = [dermasim_sbml::Column::Value("y".into()), dermasim_sbml::Column::Value("z".into())];
    let tc = dermasim_sbml::run(&model, 0.0, &[0.45, 1.0], &c, Default::default()).unwrap();
    assert_eq!(tc.rows[0][1..], [0.0, 0.0], "nothing before the delay has passed");
    assert!((tc.rows[1][1] - 0.3).abs() < 1e-12, "{:?}", tc.rows[1]);
    assert!((tc.rows[1][2] - 0.5).abs() < 1e-12, "{:?}", tc.rows[1]);
}

#[test]
fn level2_stoichiometry_math_scales_the_reaction() {
    // S1 -> n S2 with n = piecewise(2 if time < 10), rate k S1; S2 gains 2x what S1 loses.
    let m = format!(
        r#"<sbml xmlns="http://www.sbml.org/sbml/level2/version4" level="2" version="4"><model id="m">
        <listOfCompartments><compartment id="c" size="1"/></listOfCompartments>
        <listOfSpecies><species id="S1" compartment="c" initialAmount="1"/><species id="S2" compartment="c" initialAmount="0"/></listOfSpecies>
        <listOfParameters><parameter id="k" value="0.5"/></listOfParameters>
        <listOfReactions><reaction id="r" reversible="false">
          <listOfReactants><speciesReference species="S1"/></listOfReactants>
          <listOfProducts><speciesReference species="S2"><stoichiometryMath><math {MATH}><piecewise><piece><cn>2</cn><apply><lt/><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol><cn>10</cn></apply></piece><otherwise><cn>1</cn></otherwise></piecewise></math></stoichiometryMath></speciesReference></listOfProducts>
          <kineticLaw><math {MATH}><apply><times/><ci>k</ci><ci>S1</ci></apply></math></kineticLaw></reaction></listOfReactions>
        </model></sbml>"#
    );
    let model = load(&m, &[]).unwrap();
    let c = [dermasim_sbml::Column::Value("S1".into()), dermasim_sbml::Column::Value("S2".into())];
    let tc = dermasim_sbml::run(&model, 0.0, &[2.0], &c, Default::default()).unwrap();
    let (s1, s2) = (tc.rows[0][1], tc.rows[0][2]);
    assert!((s1 - (-1.0f64).exp()).abs() < 1e-7, "{s1}");
    assert!((s2 - 2.0 * (1.0 - s1)).abs() < 1e-7, "{s2}");
}

#[test]
fn absurdly_deep_math_is_refused_not_a_stack_overflow() {
    let n = 20_000;
    let m = format!("{}<cn>1</cn>{}", "<apply><minus/>".repeat(n), "</apply>".repeat(n));
    let text = l3(&format!(
        r#"<listOfParameters><parameter id="x" constant="false"/></listOfParameters>
        <listOfRules><assignmentRule variable="x"><math {MATH}>{m}</math></assignmentRule></listOfRules>"#
    ));
    let e = err(&text);
    assert!(e.contains("nested deeper") && e.contains("`x`"), "{e}");
    // A long flat sum is fine (and shallow).
    let terms = "<cn>1</cn>".repeat(5000);
    let text = l3(&format!(
        r#"<listOfParameters><parameter id="x" constant="false"/></listOfParameters>
        <listOfRules><assignmentRule variable="x"><math {MATH}><apply><plus/>{terms}</apply></math></assignmentRule></listOfRules>"#
    ));
    let model = load(&text, &[]).unwrap();
    let c = [dermasim_sbml::Column::Value("x".into())];
    let tc = dermasim_sbml::run(&model, 0.0, &[1.0], &c, Default::default()).unwrap();
    assert_eq!(tc.rows[0][1], 5000.0);
}
