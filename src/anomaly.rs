//! Anomalies: everything odd about the input that is not fatal.
//!
//! Bad input is data, not an error: each oddity becomes a named anomaly with a
//! stable snake_case `kind`, counted globally and reported in the JSON
//! `warnings` list (first detail kept as an example).

use std::collections::BTreeMap;

/// One observed oddity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    /// Stable snake_case name, e.g. `capture_truncated`, `http_head_too_large`.
    pub kind: &'static str,
    /// Human-readable specifics: where (frame, offset, connection) and what.
    pub detail: String,
}

impl Anomaly {
    pub fn new(kind: &'static str, detail: impl Into<String>) -> Anomaly {
        Anomaly {
            kind,
            detail: detail.into(),
        }
    }
}

/// Per-kind counts with the first detail seen of each kind.
#[derive(Clone, Debug, Default)]
pub struct AnomalyCounts {
    by_kind: BTreeMap<&'static str, (u64, String)>,
}

impl AnomalyCounts {
    pub fn add(&mut self, a: Anomaly) {
        self.add_n(a.kind, 1, a.detail);
    }

    pub fn add_n(&mut self, kind: &'static str, n: u64, detail: impl Into<String>) {
        if n == 0 {
            return;
        }
        let entry = self
            .by_kind
            .entry(kind)
            .or_insert_with(|| (0, detail.into()));
        entry.0 = entry.0.saturating_add(n);
    }

    pub fn merge(&mut self, other: &AnomalyCounts) {
        for (kind, (n, detail)) in &other.by_kind {
            self.add_n(kind, *n, detail.clone());
        }
    }

    pub fn count(&self, kind: &str) -> u64 {
        self.by_kind.get(kind).map_or(0, |e| e.0)
    }

    /// (kind, count, first detail), sorted by kind.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64, &str)> + '_ {
        self.by_kind.iter().map(|(k, (n, d))| (*k, *n, d.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.by_kind.is_empty()
    }
}
