//! `lab __count` (hidden): one variant's counted run, the child `lab run --measure
//! instructions` starts inside callgrind.

use super::load_plan;
use crate::cli::CountArgs;
use crate::error::{Exit, LabError};
use crate::runner::{self, RunOptions};

/// `lab __count`: one variant's counted run, inside callgrind; prints its report as JSON.
pub fn count(args: &CountArgs) -> Result<Exit, LabError> {
    let plan = load_plan(&args.file)?;
    let opts = RunOptions {
        quick: args.quick,
        ops: Some(args.ops),
        ..RunOptions::default()
    };
    let store = |source| LabError::Store {
        file: args.file.clone(),
        source,
    };
    let plan = runner::adjust(&plan, &opts).map_err(store)?;
    let report =
        runner::counted::run(&plan, &args.variant, args.ops, args.warmup_ops).map_err(store)?;
    let json = serde_json::to_string(&report)
        .map_err(|e| LabError::BadInput(format!("cannot encode the report: {e}")))?;
    println!("{json}");
    Ok(Exit::Success)
}
