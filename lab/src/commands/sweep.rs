//! `lab sweep`: each variant's phase at rising offered rates, and its knee.

use acorn_reports::Results;

use super::{interrupt_flag, load_plan_for};
use crate::error::{Exit, LabError};
use crate::output::OutputDir;
use crate::progress::Bars;
use crate::runner::{self, RunOptions};

/// `lab sweep`: per variant, the workload's phase at each offered rate, and the knee;
/// prints the steps, writes results.json (its `sweep`) and the report with the chart.
pub fn sweep(args: &crate::cli::SweepArgs) -> Result<Exit, LabError> {
    use runner::sweep::{self as sw, SweepOptions};
    let rates =
        sw::parse_rates(&args.rates).map_err(|e| LabError::BadInput(format!("--rates: {e}")))?;
    let plan = load_plan_for(&args.file, args.variants.as_deref())?;
    if plan.run.in_flight > 1 {
        return Err(LabError::BadInput(format!(
            "{}: sets in_flight > 1 (closed loop); a sweep offers rates (open loop): set \
             in_flight = 1",
            plan.file.display()
        )));
    }
    let out = OutputDir::at(args.out.clone().unwrap_or_else(|| {
        OutputDir::for_workload(None, &plan.name, false)
            .path()
            .join("sweep")
    }));
    let _lock = out.prepare()?;
    let opts = SweepOptions {
        rates,
        slo: args.slo,
        step: args.step,
    };
    let stop = interrupt_flag();
    let bars = Bars::new(args.quiet);
    let started_at = crate::machine::now_rfc3339();
    let sweep = runner::sweep::run(
        &plan,
        &RunOptions::default(),
        &opts,
        &crate::runner::clock::RealClock::default(),
        &stop,
        &bars,
    )
    .map_err(|source| LabError::Store {
        file: args.file.clone(),
        source,
    })?;
    bars.finish();
    let Some(sweep) = sweep else {
        return Ok(Exit::Interrupted);
    };
    print!("{}", acorn_reports::sweep::render(&sweep));
    let results = Results {
        schema_version: acorn_reports::SCHEMA_VERSION,
        workload: plan.name.clone(),
        description: plan.description.clone(),
        plan: plan.record(),
        mode: "sequential".into(),
        generators: 1,
        started_at,
        finished_at: crate::machine::now_rfc3339(),
        machine: crate::machine::fingerprint(),
        sweep: Some(sweep),
        ..Results::default()
    };
    println!("results: {}", out.write_results(&results)?.display());
    println!(
        "report: {}",
        out.write_report_beside(&results, None, None)?.display()
    );
    Ok(Exit::Success)
}
