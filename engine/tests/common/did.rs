//! What a change of the feed says, comparable with a model's (tests/feed*.rs).

use acorn::Change;

/// What a change says, comparable with the model's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Did {
    Stashed(Vec<u8>),
    Tossed,
    Expired,
}

pub fn did(change: &Change) -> (String, Did) {
    let what = match change {
        Change::Stashed(nut) => Did::Stashed(nut.value.to_vec()),
        Change::Tossed { .. } => Did::Tossed,
        Change::Expired { .. } => Did::Expired,
        other => panic!("a change this test does not know: {other:?}"),
    };
    (change.key().to_string(), what)
}
