//! Counts of durations in whole units (µs for the summary's per-cause
//! percentiles, ns for handshake RTT medians), in memory that does not grow
//! with the number of values.
//!
//! Values below 2,048 are counted exactly; larger ones in buckets of 11
//! significant bits (as HdrHistogram does), so a percentile is reported as
//! its bucket's midpoint, within 0.05 % of the true value. At most 1,024
//! buckets per power of two are ever used (about 40,000 for durations up to
//! days), and only the ones seen take memory.

use rustc_hash::FxHashMap;

/// Values below this are exact.
const EXACT_BELOW: u64 = 2048;
const SIGNIFICANT_BITS: u32 = 11;

#[derive(Clone, Debug, Default)]
pub struct Histogram {
    /// By bucket. A hash map: values are added per transaction and read
    /// back a few times at the end (a B-tree insert cost more per value).
    counts: FxHashMap<u32, u64>,
    total: u64,
}

impl Histogram {
    /// Counts one value.
    pub fn add(&mut self, us: u64) {
        *self.counts.entry(bucket(us)).or_insert(0) += 1;
        self.total += 1;
    }

    /// Values counted.
    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The value of 1-based `rank` in sorted order (its bucket's midpoint).
    pub fn at_rank(&self, rank: u64) -> Option<u64> {
        let mut buckets: Vec<(u32, u64)> = self.counts.iter().map(|(&b, &n)| (b, n)).collect();
        buckets.sort_unstable();
        let mut seen = 0u64;
        for (b, n) in buckets {
            seen += n;
            if seen >= rank {
                return Some(midpoint(b));
            }
        }
        None
    }
}

/// Bucket index: the value itself below [`EXACT_BELOW`], else 1,024 buckets
/// per power of two.
fn bucket(us: u64) -> u32 {
    if us < EXACT_BELOW {
        return us as u32;
    }
    let shift = 63 - us.leading_zeros() - (SIGNIFICANT_BITS - 1);
    let mantissa = (us >> shift) as u32 - (1 << (SIGNIFICANT_BITS - 1));
    EXACT_BELOW as u32 + (shift - 1) * (1 << (SIGNIFICANT_BITS - 1)) + mantissa
}

fn midpoint(b: u32) -> u64 {
    if u64::from(b) < EXACT_BELOW {
        return u64::from(b);
    }
    let half = 1u32 << (SIGNIFICANT_BITS - 1);
    let k = b - EXACT_BELOW as u32;
    let shift = k / half + 1;
    let low = u64::from(half + k % half) << shift;
    low + (1u64 << (shift - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact_and_large_ones_within_half_a_permille() {
        for v in [0u64, 1, 999, 2047] {
            assert_eq!(midpoint(bucket(v)), v);
        }
        for v in [
            2048u64,
            2049,
            4095,
            4096,
            123_456,
            86_400_000_000,
            u64::MAX >> 2,
        ] {
            let m = midpoint(bucket(v));
            let err = (m as f64 - v as f64).abs() / v as f64;
            assert!(err <= 0.0005, "{v} -> {m} ({err})");
        }
        // Buckets are ordered like their values.
        let mut prev = 0;
        for v in (0..200_000u64).step_by(7) {
            let b = bucket(v);
            assert!(b >= prev, "{v}");
            prev = b;
        }
    }

    #[test]
    fn ranks() {
        let mut h = Histogram::default();
        for v in [5u64, 1, 3, 3, 10_000] {
            h.add(v);
        }
        assert_eq!(h.len(), 5);
        let at: Vec<_> = (1..=6).map(|r| h.at_rank(r)).collect();
        assert_eq!(at, [Some(1), Some(3), Some(3), Some(5), Some(10_004), None]);
    }
}
