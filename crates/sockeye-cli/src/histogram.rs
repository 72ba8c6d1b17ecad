//! A log-bucketed latency histogram in the manner of HdrHistogram: every power of two is split
//! into 128 equal sub-buckets, so any recorded value is known to within 1/128 (0.8 %) of itself,
//! from 1 ns to `u64::MAX` ns, in a fixed 58 KiB of counters. Recording is an index computation
//! and an increment; histograms of many connections merge by adding their counters.
//!
//! Written here rather than taken from the `hdrhistogram` crate because `sockeye bench` needs
//! only record, merge, quantile and max, and this is 100 lines without dependencies. The
//! race benchmark's binaries include this file too (`benches/race`).

/// Sub-buckets per power of two: 2^7 = 128, a relative precision of 1/128.
const SUB_BITS: u32 = 7;
const SUB_BUCKETS: usize = 1 << SUB_BITS;
/// Values below 2^SUB_BITS are exact; each of the 64 - SUB_BITS octaves above gets 128 buckets.
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB_BUCKETS;

/// Counts of values (nanoseconds, say), bucketed to 1/128 relative precision.
#[derive(Clone)]
pub(crate) struct Histogram {
    counts: Box<[u64]>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub(crate) fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    fn index(value: u64) -> usize {
        if value < SUB_BUCKETS as u64 {
            return value as usize;
        }
        let msb = 63 - value.leading_zeros();
        let shift = msb - SUB_BITS;
        let mantissa = (value >> shift) as usize; // in [128, 256)
        (shift as usize + 1) * SUB_BUCKETS + (mantissa - SUB_BUCKETS)
    }

    /// The largest value that falls in bucket `index` (HdrHistogram's "highest equivalent value").
    fn highest_in(index: usize) -> u64 {
        if index < SUB_BUCKETS {
            return index as u64;
        }
        let shift = (index / SUB_BUCKETS - 1) as u32;
        let mantissa = (index % SUB_BUCKETS + SUB_BUCKETS) as u128;
        let high = ((mantissa + 1) << shift) - 1;
        u64::try_from(high).unwrap_or(u64::MAX)
    }

    /// Records one value.
    pub(crate) fn record(&mut self, value: u64) {
        self.counts[Self::index(value)] += 1;
        self.count += 1;
        self.sum += u128::from(value);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    /// Adds every value recorded in `other`.
    pub(crate) fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// How many values were recorded.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The exact largest value (0 when empty).
    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// The exact smallest value (0 when empty).
    pub(crate) fn min(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min
        }
    }

    /// The exact mean (0 when empty).
    pub(crate) fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The value below which a fraction `quantile` (0.0 to 1.0) of the values fall, to within
    /// the bucket precision, never above the exact max (0 when empty).
    pub(crate) fn value_at_quantile(&self, quantile: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::highest_in(index).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn buckets_are_contiguous_and_precise_to_one_part_in_128() {
        let mut previous = 0;
        for value in (0..100_000u64).chain([u64::MAX / 3, u64::MAX - 1, u64::MAX]) {
            let index = Histogram::index(value);
            assert!(index >= previous, "{value}");
            previous = index;
            let high = Histogram::highest_in(index);
            assert!(high >= value, "{value} > {high}");
            assert!(
                (high - value) as f64 <= value as f64 / 128.0 + 1.0,
                "{value} {high}"
            );
        }
        assert_eq!(Histogram::index(u64::MAX), super::BUCKETS - 1);
    }

    #[test]
    fn quantiles_of_a_uniform_range() {
        let mut histogram = Histogram::new();
        for value in 1..=10_000u64 {
            histogram.record(value * 1000);
        }
        let within = |got: u64, want: u64| (got as f64 - want as f64).abs() <= want as f64 / 100.0;
        assert!(within(histogram.value_at_quantile(0.5), 5_000_000));
        assert!(within(histogram.value_at_quantile(0.99), 9_900_000));
        assert_eq!(histogram.value_at_quantile(1.0), 10_000_000);
        assert_eq!(histogram.max(), 10_000_000);
        assert_eq!(histogram.min(), 1000);
        let mut merged = Histogram::new();
        merged.merge(&histogram);
        merged.merge(&histogram);
        assert_eq!(merged.count(), 20_000);
        assert!(within(merged.value_at_quantile(0.5), 5_000_000));
        assert!((merged.mean() - 5_000_500.0).abs() < 1.0);
    }

    #[test]
    fn empty_histogram_reports_zeros() {
        let histogram = Histogram::new();
        assert_eq!(histogram.value_at_quantile(0.99), 0);
        assert_eq!(histogram.max(), 0);
        assert_eq!(histogram.min(), 0);
        assert_eq!(histogram.mean(), 0.0);
    }
}
