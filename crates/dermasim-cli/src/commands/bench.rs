//! `dermasim bench`: memory bandwidth, transport, kinetics and whole runs measured in one
//! process (cases that report peak memory run in child processes of this binary).

use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;
use dermasim::{Fidelity, ParameterSet};
use dermasim_app::bench::{self, Integrator, KineticsWorkload, LodCase};
use serde_json::{json, Value};

#[derive(Args)]
pub struct BenchArgs {
    /// Print the results as one JSON object.
    #[arg(long)]
    json: bool,
    /// Smaller cases and fewer repeats (under about a minute).
    #[arg(long)]
    quick: bool,
    /// Run one case in this process and print its JSON (used by the parent run).
    #[arg(long, hide = true)]
    case: Option<String>,
}

pub fn run(args: BenchArgs) -> Result<()> {
    if let Some(case) = &args.case {
        outln!("{}", run_case(case)?);
        return Ok(());
    }
    let report = measure(args.quick, !args.json)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// Peak resident memory of this process, MB (Linux).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// FNV-1a of a string: equal summaries give equal hashes.
fn fnv(s: &str) -> String {
    let h = s
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    format!("{h:016x}")
}

/// `e2e:<fidelity>:<patch_um>:<dx_um>[:scalar][:rest=<tolerance>]` or
/// `biofvm:<species>:<steps>`. `scalar` integrates the kinetics one voxel at a time instead of
/// in SIMD lanes; `rest` sets `simulation.rest_tolerance`.
fn run_case(case: &str) -> Result<Value> {
    let parts: Vec<&str> = case.split(':').collect();
    let base = ParameterSet::default_set();
    let mut out = match parts.as_slice() {
        ["e2e", fidelity, patch, dx, extra @ ..] => {
            let fidelity: Fidelity = fidelity.parse().map_err(anyhow::Error::msg)?;
            let mut scenario = bench::default_case(fidelity, patch.parse()?, dx.parse()?);
            let mut options = dermasim::Options::default();
            for e in extra {
                match e.split_once('=') {
                    None if *e == "scalar" => options.scalar_kinetics = true,
                    Some(("rest", v)) => scenario.simulation.rest_tolerance = v.parse()?,
                    _ => bail!("unknown bench case option `{e}`"),
                }
            }
            let clock = std::time::Instant::now();
            let mut sim = dermasim::Simulation::with_options(&scenario, &base, options)?;
            let summary = sim.run(&mut |_| {})?;
            let wall = clock.elapsed().as_secs_f64();
            let (p, stats) = (sim.profile(), sim.solver_stats());
            json!({
                "fidelity": fidelity.as_str(),
                "voxels": sim.grid().len(),
                "wall_s": wall,
                "steps": p.steps,
                "kinetics_s": p.kinetics_s,
                "transport_s": p.transport_s,
                "voxel_steps": p.voxel_steps,
                "voxels_resting": p.voxels_resting,
                "kinetics_steps_accepted": stats.accepted,
                "kinetics_steps_rejected": stats.rejected,
                "summary_hash": fnv(&serde_json::to_string(&summary)?),
            })
        }
        ["biofvm", species, steps] => {
            let r = bench::lod::<f64>(LodCase::biofvm(species.parse()?, steps.parse()?));
            json!({
                "species": r.species,
                "ms_per_step": r.ms_per_step,
                "updates_per_s": r.updates_per_s,
                "bytes_per_update": r.bytes_per_update(),
                "bytes_per_voxel_species": r.bytes_per_voxel_species,
            })
        }
        _ => bail!("unknown bench case `{case}`"),
    };
    out["threads"] = json!(rayon::current_num_threads());
    out["peak_rss_mb"] = json!(peak_rss_mb());
    Ok(out)
}

/// Run `case` in a child process of this binary with `threads` workers.
fn child(case: &str, threads: usize) -> Result<Value> {
    let exe = std::env::current_exe().context("locating the dermasim binary")?;
    let out = Command::new(exe)
        .args(["--threads", &threads.to_string(), "bench", "--case", case])
        .output()
        .with_context(|| format!("running bench case {case}"))?;
    if !out.status.success() {
        bail!("bench case {case} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn note(progress: bool, what: &str) {
    if progress {
        eprintln!("bench: {what}");
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The near-rest tolerance the area case is also run at (its effect on the outputs is in
/// docs/performance.md).
const AREA_REST_TOLERANCE: f64 = 1e-3;

fn measure(quick: bool, progress: bool) -> Result<Value> {
    let threads = rayon::current_num_threads();
    let base = ParameterSet::default_set();
    let triad_len = if quick { 1 << 23 } else { 1 << 24 };
    let repeats = if quick { 5 } else { 10 };

    note(progress, "memory bandwidth (STREAM triad)");
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let bw_one = one.install(|| bench::triad(triad_len, repeats));
    let bw_before = bench::triad(triad_len, repeats);

    note(progress, "LOD transport on 100^3 voxels");
    let steps = if quick { 5 } else { 20 };
    let mut lod = Vec::new();
    for species in [1, 4, 10] {
        for single in [false, true] {
            let case = LodCase::tissue(100, species, steps);
            let r = if single { bench::lod::<f32>(case) } else { bench::lod::<f64>(case) };
            lod.push(r);
        }
    }
    let bw_after = bench::triad(triad_len, repeats);
    let bandwidth = (bw_before.median_gbs + bw_after.median_gbs) / 2.0;
    let lod: Vec<Value> = lod
        .iter()
        .map(|r| {
            json!({
                "species": r.species,
                "precision": if r.value_bytes == 8 { "f64" } else { "f32" },
                "voxels": r.voxels,
                "ms_per_step": r.ms_per_step,
                "updates_per_s": r.updates_per_s,
                "bytes_per_update": r.bytes_per_update(),
                "fraction_of_bound": r.fraction_of_bound(bandwidth),
                "bytes_per_voxel_species": r.bytes_per_voxel_species,
            })
        })
        .collect();

    note(progress, "BioFVM-shaped case (child processes)");
    let biofvm_steps = if quick { 20 } else { 200 };
    let mut biofvm = Vec::new();
    // Only what this run measures: other codes' timings belong in docs/performance.md with
    // their machine and date, never in a live ratio.
    for species in [1, 4] {
        let mut r = child(&format!("biofvm:{species}:{biofvm_steps}"), threads)?;
        let rate = r["updates_per_s"].as_f64().unwrap_or(f64::NAN);
        let bytes = r["bytes_per_update"].as_f64().unwrap_or(f64::NAN);
        r["steps"] = json!(biofvm_steps);
        r["fraction_of_bound"] = json!(rate * bytes / (bandwidth * 1e9));
        biofvm.push(r);
    }

    note(progress, "peak multiply-add rate");
    let peak = bench::peak_flops(repeats);

    note(progress, "kinetics (replay of the default 1d run)");
    let work = KineticsWorkload::record(&bench::default_case(Fidelity::One, 1000.0, 25.0), &base)?;
    let fast = bench::kinetics(&work, Integrator::Scalar)?;
    let reference = bench::kinetics(&work, Integrator::Reference)?;
    let lanes = bench::kinetics(&work, Integrator::Lanes)?;
    let kinetics = json!({
        "voxel_steps": fast.voxel_steps,
        "voxel_steps_per_s": fast.voxel_steps_per_s,
        "substeps_per_voxel_step": fast.substeps_per_voxel_step,
        "reference_voxel_steps_per_s": reference.voxel_steps_per_s,
        "reference_substeps_per_voxel_step": reference.substeps_per_voxel_step,
        "speedup": fast.voxel_steps_per_s / reference.voxel_steps_per_s,
        "threads": 1,
        "ns_per_voxel_step": 1e9 / fast.voxel_steps_per_s,
        // What one voxel-step's time would buy at the measured peak: the roofline of the
        // compute-bound part, without claiming an operation count.
        "peak_flops_per_voxel_step": peak.one_thread_gflops * 1e9 / fast.voxel_steps_per_s,
        // The same calls four voxels at a time in SIMD lanes (what the simulator runs).
        "lanes_ns_per_voxel_step": 1e9 / lanes.voxel_steps_per_s,
        "lanes_speedup": lanes.voxel_steps_per_s / fast.voxel_steps_per_s,
        "lanes_peak_flops_per_voxel_step": peak.one_thread_gflops * 1e9 / lanes.voxel_steps_per_s,
    });

    // The 3d case: the 2 mm x 2 mm patch at 20 um; a 0.5 mm patch when quick.
    let (patch, dx) = if quick { (500.0, 20.0) } else { (2000.0, 20.0) };
    note(
        progress,
        &format!("end to end: default scenario at 0d, 1d, 3d ({patch} um patch at {dx} um)"),
    );
    let mut end_to_end = Vec::new();
    for (f, p) in [("0d", 1000.0), ("1d", 1000.0), ("3d", patch)] {
        end_to_end.push(child(&format!("e2e:{f}:{p}:{dx}"), threads)?);
    }
    let e3 = end_to_end[2].clone();
    // Kinetics time per integrated voxel-step, summed over threads (core-microseconds).
    let core_us = |r: &Value| f(&r["kinetics_s"]) * threads as f64 / f(&r["voxel_steps"]) * 1e6;
    let skipped =
        |r: &Value| f(&r["voxels_resting"]) / (f(&r["voxel_steps"]) + f(&r["voxels_resting"]));
    note(progress, "area case: scalar kinetics, and skipping near rest (child processes)");
    let scalar = child(&format!("e2e:3d:{patch}:{dx}:scalar"), threads)?;
    let near_rest = child(&format!("e2e:3d:{patch}:{dx}:rest={AREA_REST_TOLERANCE}"), threads)?;
    let area = json!({
        "patch_um": patch,
        "dx_um": dx,
        "voxels": e3["voxels"],
        "wall_s": e3["wall_s"],
        "kinetics_core_us_per_voxel_step": core_us(&e3),
        "skipped_share": skipped(&e3),
        "scalar_wall_s": scalar["wall_s"],
        "scalar_kinetics_core_us_per_voxel_step": core_us(&scalar),
        "lanes_kinetics_speedup": core_us(&scalar) / core_us(&e3),
        "lanes_identical_to_scalar": scalar["summary_hash"] == e3["summary_hash"],
        "rest_tolerance": AREA_REST_TOLERANCE,
        "rest_wall_s": near_rest["wall_s"],
        "rest_skipped_share": skipped(&near_rest),
    });

    note(progress, "scaling with voxels and threads");
    let sizes: [f64; 2] = if quick { [200.0, 300.0] } else { [500.0, 1000.0] };
    let mut by_voxels = Vec::new();
    for p in sizes {
        by_voxels.push(child(&format!("e2e:3d:{p}:{dx}"), threads)?);
    }
    by_voxels.push(e3.clone());
    let by_voxels: Vec<Value> = by_voxels
        .iter()
        .map(|r| {
            let (w, vs) =
                (r["wall_s"].as_f64().unwrap_or(0.0), r["voxel_steps"].as_f64().unwrap_or(0.0));
            json!({ "voxels": r["voxels"], "wall_s": w, "us_per_voxel_step": w / vs * 1e6 })
        })
        .collect();
    let single = child(&format!("e2e:3d:{patch}:{dx}"), 1)?;
    let (w1, w2) =
        (single["wall_s"].as_f64().unwrap_or(f64::NAN), e3["wall_s"].as_f64().unwrap_or(f64::NAN));
    let by_threads = json!([
        { "threads": 1, "wall_s": w1, "speedup": 1.0 },
        { "threads": threads, "wall_s": w2, "speedup": w1 / w2 },
    ]);
    let identical = single["summary_hash"] == e3["summary_hash"];

    Ok(json!({
        "date": &dermasim_io::utc_now()[..10],
        "cpu": cpu_model(),
        "threads": threads,
        "quick": quick,
        "bandwidth_gbs": bandwidth,
        "peak_gflops": { "one_thread": peak.one_thread_gflops, "all_threads": peak.all_threads_gflops },
        "bandwidth": {
            "triad_array_mb": bw_before.array_bytes as f64 / 1e6,
            "before_gbs": bw_before.median_gbs,
            "after_gbs": bw_after.median_gbs,
            "best_gbs": bw_before.best_gbs.max(bw_after.best_gbs),
            "one_thread_gbs": bw_one.median_gbs,
        },
        "lod": lod,
        "biofvm": biofvm,
        "kinetics": kinetics,
        "end_to_end": end_to_end,
        "area": area,
        "scaling": {
            "voxels": by_voxels,
            "threads": by_threads,
            "identical_across_threads": identical,
        },
    }))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn print_table(r: &Value) {
    outln!(
        "dermasim bench, {} ({}, {} threads){}",
        r["date"].as_str().unwrap_or(""),
        r["cpu"].as_str().unwrap_or(""),
        r["threads"],
        if r["quick"] == true { ", quick" } else { "" }
    );
    let bw = &r["bandwidth"];
    outln!(
        "memory bandwidth (triad, median): {:.1} GB/s ({:.1} before, {:.1} after the transport cases; {:.1} on one thread)",
        f(&r["bandwidth_gbs"]),
        f(&bw["before_gbs"]),
        f(&bw["after_gbs"]),
        f(&bw["one_thread_gbs"])
    );
    outln!(
        "peak multiply-add rate (f64, no FMA): {:.1} GFLOP/s on one thread, {:.1} on all",
        f(&r["peak_gflops"]["one_thread"]),
        f(&r["peak_gflops"]["all_threads"])
    );
    outln!("\nLOD transport, 100^3 voxels (median step)");
    outln!(
        "{:>8} {:>6} {:>10} {:>14} {:>10} {:>12}",
        "species",
        "type",
        "ms/step",
        "updates/s",
        "of bound",
        "B/voxel-sp"
    );
    for l in r["lod"].as_array().into_iter().flatten() {
        outln!(
            "{:>8} {:>6} {:>10.2} {:>14.3e} {:>9.0}% {:>12.2}",
            l["species"].as_u64().unwrap_or(0),
            l["precision"].as_str().unwrap_or(""),
            f(&l["ms_per_step"]),
            f(&l["updates_per_s"]),
            100.0 * f(&l["fraction_of_bound"]),
            f(&l["bytes_per_voxel_species"])
        );
    }
    outln!("\nBioFVM-shaped case (D 1e5 um^2/min, decay 0.1/min, dt 0.01 min, 100^3)");
    for b in r["biofvm"].as_array().into_iter().flatten() {
        outln!(
            "  {} species: {:.2} ms/step ({:.3e} updates/s, {:.0} % of the bandwidth bound); peak RSS {:.0} MB",
            b["species"],
            f(&b["ms_per_step"]),
            f(&b["updates_per_s"]),
            100.0 * f(&b["fraction_of_bound"]),
            f(&b["peak_rss_mb"])
        );
    }
    let k = &r["kinetics"];
    outln!(
        "\nkinetics (1 thread): {:.3e} voxel-steps/s, {:.2} internal steps each; reference {:.3e}/s: {:.1}x",
        f(&k["voxel_steps_per_s"]),
        f(&k["substeps_per_voxel_step"]),
        f(&k["reference_voxel_steps_per_s"]),
        f(&k["speedup"])
    );
    outln!(
        "  {:.0} ns per voxel-step: {:.0} operations' worth at the measured one-thread peak",
        f(&k["ns_per_voxel_step"]),
        f(&k["peak_flops_per_voxel_step"])
    );
    outln!(
        "  in SIMD lanes: {:.0} ns per voxel-step ({:.0} operations' worth), {:.2}x the scalar rate",
        f(&k["lanes_ns_per_voxel_step"]),
        f(&k["lanes_peak_flops_per_voxel_step"]),
        f(&k["lanes_speedup"])
    );
    outln!("\nend to end, default scenario");
    for e in r["end_to_end"].as_array().into_iter().flatten() {
        outln!(
            "  {}: {} voxels, {:.3} s, peak RSS {:.0} MB",
            e["fidelity"].as_str().unwrap_or(""),
            e["voxels"],
            f(&e["wall_s"]),
            f(&e["peak_rss_mb"])
        );
    }
    let a = &r["area"];
    outln!(
        "\narea case ({:.0} um patch at {:.0} um, {} voxels): {:.2} s; kinetics {:.3} core-us per integrated voxel-step; {:.1} % of voxel-steps skipped at rest",
        f(&a["patch_um"]),
        f(&a["dx_um"]),
        a["voxels"],
        f(&a["wall_s"]),
        f(&a["kinetics_core_us_per_voxel_step"]),
        100.0 * f(&a["skipped_share"])
    );
    outln!(
        "  scalar kinetics: {:.2} s, {:.3} core-us per voxel-step: lanes {:.2}x, results identical: {}",
        f(&a["scalar_wall_s"]),
        f(&a["scalar_kinetics_core_us_per_voxel_step"]),
        f(&a["lanes_kinetics_speedup"]),
        a["lanes_identical_to_scalar"]
    );
    outln!(
        "  rest_tolerance {:e}: {:.2} s, {:.1} % of voxel-steps skipped",
        f(&a["rest_tolerance"]),
        f(&a["rest_wall_s"]),
        100.0 * f(&a["rest_skipped_share"])
    );
    outln!("\nscaling (3d)");
    for v in r["scaling"]["voxels"].as_array().into_iter().flatten() {
        outln!(
            "  {:>9} voxels: {:.2} s ({:.3} us per voxel-step)",
            v["voxels"].as_u64().unwrap_or(0),
            f(&v["wall_s"]),
            f(&v["us_per_voxel_step"])
        );
    }
    for t in r["scaling"]["threads"].as_array().into_iter().flatten() {
        outln!(
            "  {} thread(s): {:.2} s, speedup {:.2}",
            t["threads"],
            f(&t["wall_s"]),
            f(&t["speedup"])
        );
    }
    outln!(
        "  results identical across thread counts: {}",
        r["scaling"]["identical_across_threads"]
    );
}
