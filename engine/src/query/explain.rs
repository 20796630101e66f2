//! What [`Query::explain`] reports: whether the query scans the keys or reads an index,
//! with which bounds, what it filters and orders, and whether the cache would answer it.

use std::fmt::Write as _;
use std::ops::Bound;

use super::{Asked, Order, Query, Through};
use crate::secondary;

/// Whether a query's answer comes from the query cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheUse {
    /// Its results are cached: it would be answered without scanning.
    Hit,
    /// It can be cached, and will be once it runs.
    Miss,
    /// It holds unnamed closures, which cannot be keyed.
    Uncacheable,
    /// The tree's cache is off (`TreeBuilder::query_cache(0)`).
    Off,
}

/// How a query would run: [`Query::explain`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explain {
    /// The secondary index it reads, or `None` for a scan of the keys.
    pub index: Option<String>,
    /// Whether the query cache would answer it.
    pub cache: CacheUse,
    /// One line, e.g. `index "by_age" range 0x..=0x desc, 1 named filter (adults), take 10;
    /// cache: hit`.
    pub text: String,
}

impl std::fmt::Display for Explain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

fn show(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => format!("{s:?}"),
        _ => key.iter().fold(String::from("0x"), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        }),
    }
}

fn show_bound(b: Bound<&[u8]>, open: bool) -> String {
    match (b, open) {
        (Bound::Unbounded, _) => String::new(),
        (Bound::Included(k), true) => format!("{}..", show(k)),
        (Bound::Excluded(k), true) => format!("(after {})..", show(k)),
        (Bound::Included(k), false) => format!("={}", show(k)),
        (Bound::Excluded(k), false) => show(k),
    }
}

impl Query<'_> {
    /// Says how the query would run: a scan of the keys or a read of an index, and
    /// whether the answer would come from the cache.
    pub fn explain(&self) -> Explain {
        let mut text = match &self.through {
            Some(t) => read_of(t),
            None => match (&self.span.prefix, &self.span.start, &self.span.end) {
                (Some(p), _, _) => format!("scan of keys with prefix {}", show(p)),
                (None, Bound::Unbounded, Bound::Unbounded) => "full scan of keys".into(),
                (None, s, e) => format!(
                    "scan of keys {}{}",
                    show_bound(s.as_ref().map(|b| &**b), true),
                    show_bound(e.as_ref().map(|b| &**b), false)
                ),
            },
        };
        self.describe_steps(&mut text);
        let cache = &self.tree.inner.cache;
        let use_ = if !cache.enabled() {
            CacheUse::Off
        } else {
            match self.cache_key() {
                None => CacheUse::Uncacheable,
                Some(key) if cache.contains(&key.bytes, self.tree.now()) => CacheUse::Hit,
                Some(_) => CacheUse::Miss,
            }
        };
        let _ = write!(
            text,
            "; cache: {}",
            match use_ {
                CacheUse::Hit => "hit",
                CacheUse::Miss => "miss (cached once run)",
                CacheUse::Uncacheable => "not cacheable (unnamed closure)",
                CacheUse::Off => "off",
            }
        );
        Explain {
            index: self.through.as_ref().map(|t| t.name.clone()),
            cache: use_,
            text,
        }
    }

    /// Appends what runs after the read: filters, time window, order, skip, take.
    fn describe_steps(&self, text: &mut String) {
        let unnamed = self.closures;
        if unnamed > 0 {
            let _ = write!(text, ", {unnamed} closure(s)");
        }
        if !self.named.is_empty() {
            let _ = write!(text, ", named filter(s) {}", self.named.join(", "));
        }
        if self.window.is_some() {
            text.push_str(", time window");
        }
        match &self.order {
            Some(Order::By(_)) => text.push_str(", sorted by a closure"),
            Some(Order::Newest) => text.push_str(", sorted newest first"),
            Some(Order::Oldest) => text.push_str(", sorted oldest first"),
            None => {}
        }
        if self.skip > 0 {
            let _ = write!(text, ", skip {}", self.skip);
        }
        if let Some(t) = self.take {
            let _ = write!(text, ", take {t}");
        }
    }
}

/// The read of an index, as asked: `index "name" = key`, `range a..b`, `all`, `desc`.
fn read_of(t: &Through) -> String {
    let asked = match t.asked {
        Asked::Eq => match &t.start {
            Bound::Included(k) => format!("= {}", show(&secondary::index_key_of(k))),
            _ => "=".into(),
        },
        Asked::All => "all".to_string(),
        Asked::Range => {
            // Shown as asked: composite bounds map back to index keys.
            let ikey = |b: &Bound<Box<[u8]>>| match b {
                Bound::Unbounded => None,
                Bound::Included(k) | Bound::Excluded(k) => {
                    Some((secondary::index_key_of(k), k.last() == Some(&1)))
                }
            };
            let from = match ikey(&t.start) {
                None => String::new(),
                Some((k, false)) => format!("{}..", show(&k)),
                Some((k, true)) => format!("(after {})..", show(&k)),
            };
            let to = match ikey(&t.end) {
                None => String::new(),
                Some((k, true)) => format!("={}", show(&k)),
                Some((k, false)) => show(&k),
            };
            format!("range {from}{to}")
        }
    };
    let desc = if t.desc { " desc" } else { "" };
    format!("index {:?} {asked}{desc}", t.name)
}
