//! What the report tests share: the fixed results file and the report's sections.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

use acorn_reports::Results;

/// Every section `index.html` always has (ids).
pub const SECTIONS: [&str; 8] = [
    "verdict",
    "legend",
    "summary",
    "winners",
    "targets",
    "charts",
    "operations",
    "backends",
];

/// The committed results file the report tests render.
pub fn fixture() -> Results {
    Results::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results.json"))
        .unwrap()
}
