#!/usr/bin/env python3
"""Writes data/parameters.toml: every model parameter with value, range, unit, source, grade.

Kept as a script so the table stays uniform; edit here, then run it. Grades: P peer-reviewed,
L low grade, E estimate from graded numbers (working in note), A labelled assumption.
"""
import json, pathlib

COOPER = "Cooper RL, Segal RA, Diegelmann RF, Reynolds AM. Modeling the effects of systemic mediators on the inflammatory phase of wound healing. J Theor Biol 2015;367:86-99; curated as BioModels BIOMD0000000855"
WAUGH = "Waugh HV, Sherratt JA. Macrophage dynamics in diabetic wound healing. Bull Math Biol 2006;68(1):197-207; curated as BioModels BIOMD0000000680"
JIN = "Jin Y-F et al. A systems approach to delineate functions of paracrine and autocrine factors. BMC Syst Biol 2011;5:60, Table 4"
GERON = "Gerontology 1990;36:28 (skin thickness and age), as summarised in the dermasim science brief section 2"
LHS = "The authors treat the set as one member of a Latin-hypercube family; range +/-25 % is a stated assumption for uncertainty work."

P = {}
def add(name, value, lo, hi, unit, source, grade, note=None):
    assert lo <= value <= hi, name
    P[name] = dict(value=value, range=[lo, hi], unit=unit, source=source, grade=grade, **({"note": note} if note else {}))

cooper = dict(kpn=35.03, kpm=34.8, ninf=0.11, kptn=2.03, kptm=3.16, mupt=0.37, knp=17.58, knpt=2.97, snr=0.38,
              munr=3.3, mun=1.02, knm=6.42, kmp=18.52, kmm=0.06, kmn=10.58, kmpt=41.5, smr=0.17, mumr=0.54, mum=0.5,
              eninf=6.8, ken=5.37, eminf=5.0, kem=4.97, cn=175.72, cm1=72.84, cm2=13.06, kpg=14.4, pinf=20.0,
              kbp=0.2, sb=0.12, mub=0.048, kpb=14.4)
for k, v in cooper.items():
    add(k, v, round(v * 0.75, 6), round(v * 1.25, 6), "model units, days", COOPER, "P", LHS)
add("estrogen", 0.0, 0.0, 6.8, "model units", COOPER, "P", "Systemic estrogen E; 0 in the curated model. Upper end = ENinf.")
add("cortisol", 0.0, 0.0, 72.84, "model units", COOPER, "P", "Systemic cortisol C; 0 in the curated model. Upper end = Cm1.")

ws = dict(ws_tau1=-2.47, ws_tau2=21.94, ws_tau3=6.41, ws_tau4=1.75, ws_alpha=0.8, ws_k1=0.05, ws_k2=0.693,
          ws_k3=0.002, ws_k4=0.07, ws_d1=0.2, ws_d2=9.1)
for k, v in ws.items():
    lo, hi = sorted([v * 0.75, v * 1.25])
    add(k, v, round(lo, 6), round(hi, 6), "model units, days", WAUGH, "P", "Standalone reference model (dermasim model run waugh_sherratt2006). Range +/-25 % is an assumption.")

A = "labelled assumption (no published value found)"
# Coupling, fibroblasts, matrix.
add("macrophage_switch_per_day", 0.5, 0.1, 2.0, "1/day", A, "A", "Inflammatory to repair phenotype switching; Waugh & Sherratt 2006 model phenotype through alpha instead.")
add("tgf_per_repair_macrophage", 3.0, 1.0, 10.0, "TGF units per macrophage unit per day", A, "A", "TGF-beta made by macrophages. At 15 (T ~ M at steady state with decay 15/day) the macrophage signal, the same in every voxel a channel touches (Cooper 2015 recruitment saturates at debris ~0.01), outweighed the injury's own latent TGF-beta and made the response count voxels touched instead of tissue injured (issue 15: 0.5 -> 1.5 mm moved the gain 2.1x); at 3 the latent dose, which follows injured volume, carries the signal and macrophages add to it. Range an assumption.")
add("tgf_inflammatory_weight", 0.3, 0.0, 1.0, "fraction", A, "A", "TGF-beta output of inflammatory relative to repair macrophages.")
add("latent_tgf_activation_per_day", 0.2, 0.1, 0.35, "1/day", A, "A", "Activation of the latent TGF-beta an injury sets free (platelet releasate, matrix-bound latent complexes opened by proteases, thrombospondin and integrins; mechanisms reviewed by Werner S, Grose R. Physiol Rev 2003;83:835-870): a time scale of days (half-life 2-7 days over the range), so the injury dose of TGF-beta lasts into the second week, when Aust 2010 still saw TGF-beta expressed (checked, not fitted).")
add("tgf_decay_per_day", 15.0, 9.1, 15.0, "1/day", JIN, "P", "Jin 2011: 15/day; Waugh & Sherratt 2006 use d2 = 9.1/day (lower end).")
add("tgf_half_activation", 1.0, 0.3, 3.0, "TGF units", A, "A", "TGF-beta level giving half-maximal fibroblast proliferation. Set well above the TGF-beta levels a wound makes (peak ~0.1-0.3 model units) so that fibroblast activation follows the local wound signal instead of saturating at any needling (issue 15: fitted to 0.067 it made the response flat in depth and density); not fitted.")
add("fibroblast_growth_per_day", 0.924, 0.5, 1.2, "1/day", JIN, "P")
add("fibroblast_apoptosis_per_day", 0.12, 0.06, 0.24, "1/day", JIN, "P")
add("fibroblast_capacity_rel", 4.0, 2.0, 8.0, "x resting density", A, "A", "Jin 2011 give a maximum of 1250 cells/mm3 but no resting dermal density to compare with.")
add("collagen_synthesis_per_day", 0.1, 0.003, 0.3, "baseline collagen per activated fibroblast unit per day", A, "A", "Free parameter fitted by dermasim calibrate to BRIEF section 5 targets; Jin 2011 collagen values are unit-inconsistent and not used.")
add("collagen_iii_share_new", 0.6, 0.3, 0.9, "fraction", A, "A", "Share of new collagen laid down as type III (collagen III first, BRIEF section 1).")
add("collagen_maturation_per_day", 0.02, 0.005, 0.07, "1/day", A, "A", "Replacement of excess collagen III by collagen I over weeks to months (BRIEF section 1).")
add("collagen_maturation_yield", 0.9, 0.6, 1.0, "fraction", A, "A", "Collagen I gained per unit of collagen III replaced.")
add("collagen_mmp_per_macrophage", 0.005, 0.0, 0.05, "1/day per macrophage unit", A, "A", "MMP degradation of existing collagen during inflammation.")
add("collagen_turnover_per_day", 1.27e-4, 6.0e-5, 2.5e-4, "1/day",
    "Verzijl N et al. Effect of collagen turnover on the accumulation of advanced glycation end products. J Biol Chem 2000;275(50):39027-39031", "P",
    "Skin collagen half-life ~15 years: ln 2 / (15 x 365 d) = 1.27e-4 per day.")
add("elastin_synthesis_per_day", 0.02, 0.001, 0.1, "baseline elastin per activated fibroblast unit per day", A, "A", "Fitted with the Aust 2008 direction (elastin increase).")
add("elastin_mmp_per_macrophage", 0.005, 0.0, 0.05, "1/day per macrophage unit", A, "A")
add("damaged_elastin_clearance_per_macrophage", 0.2, 0.0, 2.0, "1/day per macrophage unit", A, "A", "Elastases clearing damaged (elastotic) elastin.")
add("elastin_turnover_per_day", 2.6e-5, 1.0e-5, 1.0e-4, "1/day",
    "Shapiro SD et al. Marked longevity of human lung parenchymal elastic fibers deduced from prevalence of D-aspartate and nuclear weapons-related radiocarbon. J Clin Invest 1991;87:1828-1834", "P",
    "Lung elastin half-life ~74 years: ln 2 / (74 x 365 d) = 2.6e-5 per day; skin elastin assumed similar.")

# Tissue.
add("papillary_fraction_of_dermis", 0.2, 0.1, 0.3, "fraction", "Textbook summary: papillary dermis is roughly the upper fifth of the dermis (dermasim science brief section 2)", "L")
add("site_reference_age_years", 45.0, 30.0, 60.0, "years", A, "A", "Mean age of the cohorts behind data/sites.toml; age effects scale thickness from here.")
add("dermis_thinning_per_decade", 0.06, 0.03, 0.09, "fraction per decade", GERON, "P")
add("epidermis_thinning_per_decade_male", 0.072, 0.04, 0.1, "fraction per decade", GERON, "P")
add("epidermis_thinning_per_decade_female", 0.057, 0.03, 0.08, "fraction per decade", GERON, "P")
add("male_thickness_factor", 1.2, 1.1, 1.35, "x female (dermis)", "Meng 2022 BMC Med Imaging 22:113, Table 2 (HFUS dermis by site, 49 men / 69 women); 50 MHz ultrasound study of 200 adults (science brief section 2)", "E",
    "Dermis men / women by site in Meng 2022: 1.36, 1.27, 1.33, 1.16, 1.11, 1.31, 1.12, 0.99, mean 1.21; 50 MHz full thickness 1.32 (20-29 y), 1.18 (30-39), 1.13 (40-49). Applied to the dermis only.")
add("male_epidermis_factor", 1.07, 0.95, 1.12, "x female (epidermis)", "Meng 2022 BMC Med Imaging 22:113, Table 2", "E",
    "Epidermis men / women by site in Meng 2022: 0.95 to 1.12, about 1.07; the dermis factor does not apply to the epidermis.")
add("collagen_loss_per_year", 0.0061, 0.003, 0.009, "fraction per year after 30",
    "Sibilla et al., summarised in Reilly & Lozano 2021 Plast Aesthet Res 8:2", "E",
    "Percent collagen score 73.28 (25-34 y) vs 55.3 (65-74 y): (73.28 - 55.3) / 73.28 / 40 y = 0.61 % per year.")
add("fibroblast_response_loss_per_year", 0.01, 0.003, 0.015, "fraction per year after 25", A, "A", "Older skin has a weaker fibroblast response (BRIEF 3.3); size unknown.")
add("elastin_damage_per_year", 0.008, 0.002, 0.015, "fraction per year after 20", A, "A", "Share of elastin that is damaged (elastotic) grows with age.")
add("papillary_collagen_rel", 0.8, 0.5, 1.0, "x reticular collagen density", A, "A", "Papillary collagen is finer and looser than reticular.")
add("papillary_collagen_iii_share", 0.3, 0.15, 0.4, "fraction", A, "A")
add("reticular_collagen_iii_share", 0.15, 0.1, 0.25, "fraction", "Textbook summary: adult dermal collagen is ~80-85 % type I and ~10-15 % type III", "L")
add("reticular_fibroblasts_rel", 0.5, 0.2, 0.8, "x papillary density", A, "A", "Reticular dermis holds fewer fibroblasts than papillary.")
add("capillary_loop_depth_below_dej_um", 20.0, 0.0, 100.0, "um",
    "dermasim science brief section 2 [E]: pinpoint bleeding once a channel really enters the papillary dermis (capillary loops)", "A")
add("upper_plexus_below_papillary_um", 0.0, -100.0, 150.0, "um below the papillary-reticular junction",
    "Yen A, Braverman IM. Ultrastructure of the human dermal microcirculation: the horizontal plexus of the papillary dermis. J Invest Dermatol 1976;66:131-142; Braverman IM. Microcirculation 1997;4(3):329-340", "P",
    "The upper horizontal plexus lies at the papillary-reticular junction (Yen & Braverman 1976), so its depth follows the site's papillary dermis; Braverman 1997's '1-1.5 mm below the surface' is thick body skin. Confluent bleeding once a channel reaches it; the offset range is an assumption.")

# Devices and channels.
add("penetration_efficiency_roller", 0.21, 0.1, 0.5, "channel depth / (needle length - insertion offset)",
    "Kalluri H, Kolli CS, Banga AK. Characterization of microchannels created by metal microneedles. AAPS J 2011;13(3):473-481", "E",
    "Dermaroller 770 um needles made channels 152.5 um deep in hairless rat: 152.5 / (770 - 50 um offset) = 0.21; human facial skin unknown, so the range is wide.")
add("penetration_efficiency_pen", 0.5, 0.2, 0.9, "channel depth / (depth setting - insertion offset)", A, "A", "Vertical automated stamping; no human measurement found (BRIEF section 1).")
add("penetration_efficiency_stamp", 0.5, 0.2, 0.9, "channel depth / (needle length - insertion offset)", A, "A")
add("insertion_offset_um", 50.0, 0.0, 300.0, "um", A, "A",
    "Skin deflects before a needle pierces it, so channel depth = efficiency x (needle length - offset). Insertion studies show the threshold (OCT: 600 um Gantrez needles reached ~460 um in human skin, PMC3016610; hand-pushed hydrogel arrays ~300 um, PMC4119956) but give no offset for metal microneedling needles: the value is an assumption. First set at 100 um; the Mohammed 2014 peptide check (validation/delivery_mohammed2014.toml, 2- to 22-fold) then failed (1.92-fold for a 0.5 mm roller), so 50 um is used; that check constrains the offset to about 60 um or less for that roller.")
add("needle_tip_length_um", 150.0, 50.0, 400.0, "um", A, "A",
    "Length of the tapered tip below the cylindrical shaft (channel = cylinder plus cone); microneedling needles are 0.25 mm shafts with a short taper (Schwarz & Laaff 2011 for the MF8 shaft), taper length not measured.")
add("channel_width_ratio", 0.5, 0.44, 0.58, "channel diameter / needle base width",
    "Kalluri H, Kolli CS, Banga AK. Characterization of microchannels created by metal microneedles. AAPS J 2011;13(3):473-481", "E",
    "Kalluri: 70.7 +/- 9.9 um surface channel from Dermaroller needles of 140 um base width: 70.7 / 140 = 0.505; the range is the SD (60.8 / 140 to 80.6 / 140). Hairless rat.")
add("injury_halo_um", 25.0, 5.0, 75.0, "um", A, "A", "Crushed tissue around the open channel.")
add("closure_reach_um", 200.0, 100.0, 300.0, "um", A, "A",
    "0d/1d closure: lateral reach of one channel's wound signals beyond its injured radius (neutrophil and macrophage motility over their lifetimes, sqrt(D/mu) ~ 60-70 um with the transport values here). Chosen to match the resolved 3d response (docs/numerics.md, fidelity table); not a measured quantity.")

# Injury release.
add("debris_per_injury", 2.0, 0.2, 4.0, "Cooper debris units per injured fraction", COOPER, "E",
    "Cooper 2015's curated wound starts at Pt = 2; BRIEF 3.1: Pt(0) scales with the injured tissue fraction, so a fully injured voxel gets 2.")
add("latent_tgf_per_injury", 80.0, 40.0, 160.0, "TGF units per injured fraction", A, "A", "Latent TGF-beta set free in a fully injured voxel (platelet releasate, damaged matrix; Werner & Grose 2003), activated at latent_tgf_activation_per_day. It scales with the injured tissue, so the dermal response follows injured volume: 1.5 mm gives several times the gain of 0.5 mm and a channel ending in the epidermis gives almost none (docs/numerics.md, depth response). At 80 TGF-beta peaks at 0.25 model units after one default pen session (the macrophage signal alone gave 0.11), well below tgf_half_activation (1.0), so activation follows the dose; range a factor of two each way, an assumption; not fitted.")
add("neutrophils_per_injury", 0.1, 0.0, 0.2, "Cooper neutrophil units per injured fraction", COOPER, "E",
    "Curated initial N = 0.1 for a whole wound, scaled by the injured fraction like the debris.")
add("pathogen_per_injury", 0.0, 0.0, 0.1, "Cooper pathogen units per injured fraction", A, "A", "Sterile needling: 0 by default; an infection scenario raises it.")
add("matrix_loss_per_injury", 0.2, 0.05, 0.5, "fraction of matrix destroyed per injured fraction", A, "A")
add("matrix_refill_per_day", 1.0, 0.2, 5.0, "1/day per activated fibroblast unit", A, "A",
    "Wound filling: activated fibroblasts replace matrix lost in the channels (each collagen type and elastin back towards the level the tissue held before the injury), as granulation tissue fills a wound within weeks; the rate is an assumption.")
add("matrix_refill_resting_share", 0.1, 0.01, 0.5, "x resting fibroblast density", A, "A",
    "Resting fibroblasts also fill a matrix defect, more slowly (this share of the resting density counts as active for wound filling), so lightly injured tissue that hardly activates still heals instead of keeping its loss for decades.")

# Transport (um^2/day).
add("d_pathogen", 1.0e3, 1.0e2, 1.0e4, "um^2/day", A, "A")
add("d_debris", 200.0, 10.0, 2000.0, "um^2/day", A, "A", "Debris is cell fragments and damaged matrix: it hardly moves; signals spread through the cells it recruits.")
add("d_neutrophils", 5.0e3, 1.0e3, 3.0e4, "um^2/day", A, "A", "Random motility ~1e-9 cm^2/s = 8,640 um^2/day.")
add("d_macrophages", 2.0e3, 5.0e2, 1.0e4, "um^2/day", A, "A")
add("d_tgf_beta", 2.0e4, 5.0e3, 2.0e5, "um^2/day", A, "A", "Hindered protein diffusion in matrix; free 25 kDa protein ~8e6 um^2/day.")
add("d_fibroblasts", 500.0, 100.0, 5.0e3, "um^2/day", A, "A")
add("epidermis_diffusion_factor", 0.0, 0.0, 0.05, "x dermis", A, "A", "Inflammatory cells, debris and TGF-beta do not cross the basement membrane in the model (0): an epidermal wound is resolved in the epidermis, where it drives epidermal thickening only (issue 15: channels that end in the epidermis give essentially no dermal collagen). The upper range end allows some exchange.")
add("stratum_corneum_diffusion_factor", 1.0e-3, 1.0e-5, 1.0e-2, "x dermis", A, "A")

# Epidermis.
add("epidermis_growth_per_day", 0.005, 0.0005, 0.05, "1/day per activated fibroblast unit", A, "A", "Fitted by calibration to Lotfi 2013 (+50 %) and Aust 2008 (+40 % at 1 year).")
add("epidermis_max_rel", 2.5, 1.5, 7.6, "x baseline", "Zeitter S et al. Microneedling: matching the results of medical needling and repetitive treatments to maximize potential for skin regeneration. Burns 2014;40(5):966-973", "E",
    "Upper end: Zeitter's rats reached +658 % (7.6 x); human studies report +40-50 %.")
add("epidermis_relax_per_day", 0.022, 0.0167, 0.0357, "1/day", "Textbook and review summaries of epidermal turnover: keratinocytes take roughly 28-60 days from basal layer to shedding (longer in older skin)", "L",
    "Hyperplasia returns with epidermal turnover: rate = 1 / turnover, 1 / 45 d = 0.022 per day; range 1 / 60 d to 1 / 28 d. Lasting thickening comes only from the dermal coupling (epidermis_dermal_coupling).")
add("epidermis_dermal_coupling", 0.5, 0.0, 3.0, "drive per unit of papillary collagen gain", A, "A",
    "Lasting epidermal thickening tied to lasting papillary dermal change (papillary collagen above rest sustains keratinocyte growth signals); size fitted to the epidermal targets.")
add("epidermis_injury_signal_weight", 1.0, 0.0, 10.0, "per debris unit", A, "A")

out = ["# Model parameters of dermasim. Generated by tools/gen_parameters.py: edit there.",
       "# Grades: P peer-reviewed, L low grade, E estimate (working in note), A labelled assumption, C calibrated.",
       'name = "literature-2026.11"', "", "[param]"]
def val(x):
    return json.dumps(x, ensure_ascii=False)
for k, p in P.items():
    fields = ", ".join(f"{f} = {val(v)}" for f, v in p.items())
    out.append(f"{k} = {{ {fields} }}")
pathlib.Path(__file__).resolve().parent.parent.joinpath("data/parameters.toml").write_text("\n".join(out) + "\n")
print(len(P), "parameters")
