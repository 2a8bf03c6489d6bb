//! The clinical profile as form fields. Each field is named by its path in the profile
//! (`age_years`, `concerns.0.sites`, `medications.1.stop`), the same path the CLI's messages
//! use, so a refusal names the field as `dermasim screen` would. The fields become the
//! profile's JSON, which `dermasim_clinic::parse_profile` checks; the record keeps it as TOML,
//! the format `dermasim screen` reads.

use serde_json::{Map, Value};

use crate::pages::esc;

/// A list of the profile: its name, its heading, its sub-fields and their kinds.
type List = (&'static str, &'static str, &'static [(&'static str, Kind)]);

/// Sub-fields of each list, with how the form shows them.
const LISTS: [List; 4] = [
    (
        "concerns",
        "Concerns (what to treat, where)",
        &[
            ("kind", Kind::Choice(CONCERNS)),
            ("scar_type", Kind::Choice(&["", "rolling", "boxcar", "ice_pick", "mixed"])),
            ("sites", Kind::Sites),
            ("requested_depth_mm", Kind::Number),
        ],
    ),
    (
        "conditions",
        "Medical history and allergies (conditions)",
        &[
            ("name", Kind::Named(Names::Conditions)),
            ("status", Kind::Choice(&["", "active", "controlled", "past"])),
            ("sites", Kind::Sites),
            ("note", Kind::Text),
        ],
    ),
    (
        "medications",
        "Medications",
        &[
            ("name", Kind::Named(Names::Medications)),
            ("start", Kind::Date),
            ("stop", Kind::Date),
            ("note", Kind::Text),
        ],
    ),
    (
        "procedures",
        "Prior procedures",
        &[
            ("name", Kind::Named(Names::Procedures)),
            ("date", Kind::Date),
            ("sites", Kind::Sites),
            ("note", Kind::Text),
        ],
    ),
];

const CONCERNS: &[&str] = &[
    "",
    "acne_scars",
    "fine_lines",
    "wrinkles",
    "laxity",
    "enlarged_pores",
    "stretch_marks",
    "hyperpigmentation",
    "melasma",
    "texture",
    "product_absorption",
];

/// Top-level fields.
const SCALARS: [(&str, &str, Kind); 10] = [
    ("age_years", "Age (years)", Kind::Number),
    ("sex", "Sex", Kind::Choice(&["female", "male", "unspecified"])),
    ("fitzpatrick", "Fitzpatrick type", Kind::Choice(&["1", "2", "3", "4", "5", "6"])),
    ("skin", "Skin at the sites", Kind::Choice(&["thin", "thick"])),
    ("setting", "Setting", Kind::Choice(&["professional", "home"])),
    ("device", "Device wanted (blank: by setting)", Kind::Choice(&["", "pen", "roller"])),
    ("pregnant", "Pregnant", Kind::Flag),
    ("breastfeeding", "Breastfeeding", Kind::Flag),
    ("id", "Profile label (no names needed)", Kind::Text),
    ("assessment_date", "Assessment date (blank: the screening's date)", Kind::Date),
];

/// Empty rows offered beyond the recorded ones.
const SPARE_ROWS: usize = 2;

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Number,
    Date,
    Flag,
    /// A comma-separated list of site ids.
    Sites,
    Choice(&'static [&'static str]),
    /// A name the screening rules know, suggested from their vocabulary (typed freely, so a
    /// refused name comes back as typed, with the CLI's message listing the known ones).
    Named(Names),
}

/// The screening rules' name lists (`[vocabulary]` of `data/contraindications.toml`).
#[derive(Clone, Copy)]
enum Names {
    Conditions,
    Medications,
    Procedures,
}

const NAME_LISTS: [Names; 3] = [Names::Conditions, Names::Medications, Names::Procedures];

impl Names {
    /// The `<datalist>` id.
    fn list_id(self) -> &'static str {
        match self {
            Names::Conditions => "known-conditions",
            Names::Medications => "known-medications",
            Names::Procedures => "known-procedures",
        }
    }

    /// The names screening understands, from the rules `dermasim screen` uses.
    pub(crate) fn known(self) -> &'static [String] {
        static RULES: std::sync::OnceLock<dermasim_clinic::RuleSet> = std::sync::OnceLock::new();
        let v = &RULES.get_or_init(dermasim_clinic::RuleSet::embedded).vocabulary;
        match self {
            Names::Conditions => &v.conditions,
            Names::Medications => &v.medications,
            Names::Procedures => &v.procedures,
        }
    }
}

/// The pick-lists of known names, once per form.
fn datalists() -> String {
    NAME_LISTS
        .iter()
        .map(|n| {
            let opts: String =
                n.known().iter().map(|k| format!("<option value=\"{}\">", esc(k))).collect();
            format!("<datalist id=\"{}\">{opts}</datalist>", n.list_id())
        })
        .collect()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or("")
}

/// A form value as JSON: numbers as numbers when they read as one (else the text, which the
/// parser refuses with its own message), site lists as arrays, flags as booleans.
fn to_json(kind: Kind, raw: &str) -> Option<Value> {
    match kind {
        Kind::Flag => Some(Value::Bool(raw == "true")),
        _ if raw.is_empty() => None,
        Kind::Number => Some(raw.parse::<f64>().map(Value::from).unwrap_or(Value::from(raw))),
        Kind::Sites => Some(Value::Array(
            raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(Value::from).collect(),
        )),
        Kind::Choice(_) if raw.chars().all(|c| c.is_ascii_digit()) => {
            Some(raw.parse::<u64>().map(Value::from).unwrap_or(Value::from(raw)))
        }
        _ => Some(Value::from(raw)),
    }
}

/// Whether the form carries the structured profile fields at all.
pub(crate) fn present(pairs: &[(String, String)]) -> bool {
    !field(pairs, "age_years").is_empty()
}

/// The fields as the profile's JSON tree (empty rows left out), not yet checked.
fn json_from_pairs(pairs: &[(String, String)]) -> Value {
    let mut top = Map::new();
    for (name, _, kind) in SCALARS {
        if let Some(v) = to_json(kind, field(pairs, name)) {
            top.insert(name.into(), v);
        }
    }
    for (list, _, subs) in LISTS {
        let mut rows = Vec::new();
        for i in 0.. {
            let prefix = format!("{list}.{i}.");
            if !pairs.iter().any(|(k, _)| k.starts_with(&prefix)) {
                break;
            }
            let mut row = Map::new();
            for (sub, kind) in subs.iter() {
                if let Some(v) = to_json(*kind, field(pairs, &format!("{prefix}{sub}"))) {
                    row.insert((*sub).into(), v);
                }
            }
            if !row.is_empty() {
                rows.push(Value::Object(row));
            }
        }
        if !rows.is_empty() {
            top.insert(list.into(), Value::Array(rows));
        }
    }
    Value::Object(top)
}

/// The profile from the fields, as TOML; the CLI parser's message (naming the field's path)
/// when it is refused.
pub(crate) fn profile_toml(pairs: &[(String, String)]) -> Result<String, String> {
    let json = json_from_pairs(pairs).to_string();
    let profile =
        dermasim_clinic::parse_profile(&json, true, "profile").map_err(|e| e.to_string())?;
    toml::to_string(&profile).map_err(|e| format!("profile: {e}"))
}

/// A profile value shown in a field: text, a number, a site list joined by commas.
fn shown(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "),
        _ => String::new(),
    }
}

fn input(name: &str, kind: Kind, value: &str) -> String {
    let (name, value) = (esc(name), esc(value));
    match kind {
        Kind::Text => format!("<input name=\"{name}\" value=\"{value}\" maxlength=\"500\">"),
        Kind::Sites => format!(
            "<input name=\"{name}\" value=\"{value}\" placeholder=\"cheek, forehead\" maxlength=\"500\">"
        ),
        Kind::Number => {
            format!("<input name=\"{name}\" value=\"{value}\" inputmode=\"decimal\" size=\"6\">")
        }
        Kind::Date => format!("<input type=\"date\" name=\"{name}\" value=\"{value}\">"),
        Kind::Named(names) => format!(
            "<input name=\"{name}\" value=\"{value}\" list=\"{}\" maxlength=\"500\" autocomplete=\"off\">",
            names.list_id()
        ),
        Kind::Flag => format!(
            "<input type=\"checkbox\" name=\"{name}\" value=\"true\"{}>",
            if value == "true" { " checked" } else { "" }
        ),
        Kind::Choice(options) => {
            let opts: String = options
                .iter()
                .map(|o| {
                    let sel = if *o == value { " selected" } else { "" };
                    format!("<option value=\"{o}\"{sel}>{}</option>", if o.is_empty() { "-" } else { o })
                })
                .collect();
            format!("<select name=\"{name}\">{opts}</select>")
        }
    }
}

/// The fields filled from a recorded profile (TOML); a new record's defaults (female, type 3,
/// thin skin, professional) when there is none.
pub(crate) fn fields_from_toml(profile_toml: &str) -> String {
    let v = dermasim_clinic::parse_profile(profile_toml, false, "profile")
        .ok()
        .and_then(|p| serde_json::to_value(p).ok())
        .unwrap_or_else(|| {
            serde_json::json!({"sex": "female", "fitzpatrick": 3, "skin": "thin", "setting": "professional"})
        });
    fields_html(&v)
}

/// The fields filled from a refused form, as the user left them.
pub(crate) fn fields_from_pairs(pairs: &[(String, String)]) -> String {
    fields_html(&json_from_pairs(pairs))
}

fn fields_html(v: &Value) -> String {
    let mut b = String::from("<fieldset><legend>Clinical profile (the fields <code>dermasim screen</code> reads)</legend>");
    for (name, label, kind) in SCALARS {
        b += &format!("<label>{} {}</label>", esc(label), input(name, kind, &shown(v.get(name))));
    }
    for (list, label, subs) in LISTS {
        let recorded = v.get(list).and_then(|x| x.as_array()).map(|a| a.len()).unwrap_or(0);
        b += &format!("<table class=\"profile-list\"><caption>{}</caption><tr>", esc(label));
        for (sub, _) in subs.iter() {
            b += &format!("<th>{}</th>", esc(sub.replace('_', " ")));
        }
        b += "</tr>";
        for i in 0..recorded + SPARE_ROWS {
            b += "<tr>";
            for (sub, kind) in subs.iter() {
                let value = shown(v.get(list).and_then(|x| x.get(i)).and_then(|r| r.get(*sub)));
                b += &format!("<td>{}</td>", input(&format!("{list}.{i}.{sub}"), *kind, &value));
            }
            b += "</tr>";
        }
        b += "</table>";
    }
    b + &datalists() + "</fieldset>"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Screen a stored profile as the screening page does (the names checked there).
    fn screens(toml: &str) -> Result<(), String> {
        let profile =
            dermasim_clinic::parse_profile(toml, false, "profile").map_err(|e| e.to_string())?;
        let date = dermasim_clinic::Date::parse("2026-06-01").map_err(|e| e.to_string())?;
        dermasim_app::clinic::screen(&profile, Some(date)).map(drop).map_err(|e| e.to_string())
    }

    /// A minimal profile the parser accepts: the required fields and one concern.
    fn base_profile() -> Vec<(String, String)> {
        pairs(&[
            ("age_years", "40"),
            ("sex", "female"),
            ("fitzpatrick", "3"),
            ("skin", "thin"),
            ("setting", "professional"),
            ("concerns.0.kind", "fine_lines"),
            ("concerns.0.sites", "cheek"),
        ])
    }

    #[test]
    fn every_suggested_name_is_one_screening_accepts() {
        let html = fields_from_toml("");
        for names in NAME_LISTS {
            let known = names.known();
            assert!(known.len() >= 5, "{}", names.list_id());
            let list = format!("<datalist id=\"{}\">", names.list_id());
            let at = html.find(&list).expect("the datalist is in the form");
            let options = &html[at..at + html[at..].find("</datalist>").unwrap()];
            assert_eq!(options.matches("<option").count(), known.len(), "{}", names.list_id());
            let (list_name, row) = match names {
                Names::Conditions => ("conditions", vec![("status", "past")]),
                Names::Medications => {
                    ("medications", vec![("start", "2020-01-01"), ("stop", "2020-02-01")])
                }
                Names::Procedures => ("procedures", vec![("date", "2019-01-01")]),
            };
            assert!(html.contains(&format!(
                "name=\"{list_name}.0.name\" value=\"\" list=\"{}\"",
                names.list_id()
            )));
            for name in known {
                assert!(options.contains(&format!("<option value=\"{name}\">")), "{name}");
                let mut p = base_profile();
                p.push((format!("{list_name}.0.name"), name.clone()));
                p.push((format!("{list_name}.0.note"), "as described".into()));
                for (k, v) in &row {
                    p.push((format!("{list_name}.0.{k}"), v.to_string()));
                }
                let toml = profile_toml(&p).unwrap_or_else(|e| panic!("{list_name} `{name}`: {e}"));
                assert!(toml.contains(&format!("name = \"{name}\"")), "{toml}");
                screens(&toml).unwrap_or_else(|e| panic!("{list_name} `{name}`: {e}"));
            }
        }
        // A name off the list is still refused with the CLI's message, which lists the known ones.
        let mut p = base_profile();
        p.push(("medications.0.name".into(), "accutane".into()));
        let e = screens(&profile_toml(&p).unwrap()).unwrap_err();
        assert!(e.contains("medications.0.name") && e.contains("isotretinoin"), "{e}");
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(k, x)| (k.to_string(), x.to_string())).collect()
    }

    #[test]
    fn fields_become_the_profile_and_back() {
        let p = pairs(&[
            ("age_years", "28"),
            ("sex", "female"),
            ("fitzpatrick", "4"),
            ("skin", "thin"),
            ("setting", "professional"),
            ("concerns.0.kind", "acne_scars"),
            ("concerns.0.scar_type", "rolling"),
            ("concerns.0.sites", "cheek, chin"),
            ("concerns.1.kind", ""),
            ("medications.0.name", "isotretinoin"),
            ("medications.0.start", "2025-01-10"),
            ("medications.0.stop", "2025-06-01"),
        ]);
        let toml = profile_toml(&p).unwrap();
        let back = dermasim_clinic::parse_profile(&toml, false, "profile").unwrap();
        assert_eq!(back.age_years, 28.0);
        assert_eq!(back.fitzpatrick, 4);
        assert_eq!(back.concerns.len(), 1, "the empty row is skipped");
        assert_eq!(back.concerns[0].sites, ["cheek", "chin"]);
        assert_eq!(back.medications[0].stop.map(|d| d.to_string()).as_deref(), Some("2025-06-01"));
        let html = fields_from_toml(&toml);
        assert!(html.contains("name=\"concerns.0.sites\" value=\"cheek, chin\""));
        assert!(html.contains("name=\"medications.0.stop\" value=\"2025-06-01\""));
        assert!(html.contains("<option value=\"4\" selected>4</option>"));
    }

    #[test]
    fn refusals_name_the_field() {
        let p = pairs(&[
            ("age_years", "old"),
            ("sex", "female"),
            ("fitzpatrick", "3"),
            ("setting", "home"),
            ("concerns.0.kind", "fine_lines"),
            ("concerns.0.sites", "forehead"),
        ]);
        assert!(profile_toml(&p).unwrap_err().starts_with("age_years:"), "{:?}", profile_toml(&p));
        let p = pairs(&[
            ("age_years", "40"),
            ("sex", "female"),
            ("fitzpatrick", "3"),
            ("setting", "home"),
            ("concerns.0.kind", "acne_scar"),
            ("concerns.0.sites", "forehead"),
        ]);
        let e = profile_toml(&p).unwrap_err();
        assert!(e.starts_with("concerns.0.kind:"), "{e}");
    }
}
