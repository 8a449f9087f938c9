//! The intervals behind the verdicts.

use super::method::{BOOTSTRAP_RESAMPLES, CONFIDENCE};
use hdrhistogram::Histogram;

/// A seeded generator with the few distributions the bootstrap needs.
pub struct Sampler(fastrand::Rng);

impl Sampler {
    pub fn new(seed: u64) -> Self {
        Sampler(fastrand::Rng::with_seed(seed))
    }

    /// Uniform in (0, 1): never 0, so its logarithm is finite.
    pub fn uniform(&mut self) -> f64 {
        loop {
            let u = self.0.f64();
            if u > 0.0 {
                return u;
            }
        }
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.0.f64());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Gamma(shape, 1) for shape ≥ 1 (Marsaglia & Tsang, 2000).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        debug_assert!(shape >= 1.0);
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = self.uniform();
            if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
                return d * v;
            }
        }
    }

    /// Beta(a, b) for a, b ≥ 1.
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        x / (x + y)
    }
}

/// A histogram's distribution as sorted values (each bucket's highest equivalent value, as
/// `value_at_quantile` reports it) and cumulative counts.
pub struct Empirical {
    values: Vec<u64>,
    cumulative: Vec<u64>,
}

impl Empirical {
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        let mut values = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0;
        for v in h.iter_recorded() {
            total += v.count_at_value();
            values.push(v.value_iterated_to());
            cumulative.push(total);
        }
        Empirical { values, cumulative }
    }

    pub fn len(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The rank of quantile `q`, as hdrhistogram counts it: ⌈q·n⌉, at least 1.
    pub fn rank(&self, q: f64) -> u64 {
        ((q * self.len() as f64).ceil() as u64).clamp(1, self.len())
    }

    /// The `r`-th smallest sample (1-based).
    pub fn at_rank(&self, r: u64) -> u64 {
        let i = self.cumulative.partition_point(|&c| c < r);
        self.values[i.min(self.values.len() - 1)]
    }

    /// The k-th order statistic of a resample of the run's size. Resampling draws
    /// F⁻¹(U) for uniform U, and F⁻¹ is monotone, so the k-th smallest of a resample is
    /// F⁻¹(U₍ₖ₎) with U₍ₖ₎ ~ Beta(k, n+1−k): one draw instead of n.
    pub fn resampled_quantile(&self, k: u64, rng: &mut Sampler) -> u64 {
        let n = self.len();
        let u = rng.beta(k as f64, (n + 1 - k) as f64);
        self.at_rank(((u * n as f64).ceil() as u64).clamp(1, n))
    }
}

/// Percentile-bootstrap interval of the change (new/base − 1, in %) of quantile `q`.
pub fn bootstrap_quantile_change(base: &Empirical, new: &Empirical, q: f64, seed: u64) -> [f64; 2] {
    let mut rng = Sampler::new(seed);
    let (kb, kn) = (base.rank(q), new.rank(q));
    let mut changes: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .filter_map(|_| {
            let b = base.resampled_quantile(kb, &mut rng) as f64;
            let n = new.resampled_quantile(kn, &mut rng) as f64;
            (b > 0.0).then(|| (n / b - 1.0) * 100.0)
        })
        .collect();
    changes.sort_by(f64::total_cmp);
    let alpha = 1.0 - CONFIDENCE;
    let at = |p: f64| {
        let i = (p * changes.len() as f64).floor() as usize;
        changes[i.min(changes.len() - 1)]
    };
    if changes.is_empty() {
        return [f64::NEG_INFINITY, f64::INFINITY];
    }
    [at(alpha / 2.0), at(1.0 - alpha / 2.0)]
}

/// A change (new/base − 1, in %) with its [`CONFIDENCE`] interval; the estimate always lies
/// inside the interval (both come from the same ordered differences).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub change_pct: f64,
    pub ci_pct: [f64; 2],
}

fn pct(log_ratio: f64) -> f64 {
    (log_ratio.exp() - 1.0) * 100.0
}

/// The median of sorted values (the mean of the two middle ones for an even count).
fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Two independent sets of trials (each a fresh pair of processes): the Hodges–Lehmann
/// estimate of the ratio new/base (median of the pairwise log-ratios) and the distribution-free
/// interval around it that inverts the Mann–Whitney test (Moses). `None` when the trials are
/// too few for the confidence, or a value is not positive.
pub fn rank_ratio_change(base: &[f64], new: &[f64]) -> Option<Estimate> {
    let (m, n) = (base.len(), new.len());
    if m == 0 || n == 0 || !base.iter().chain(new).all(|v| *v > 0.0 && v.is_finite()) {
        return None;
    }
    let c = mann_whitney_critical(m, n, (1.0 - CONFIDENCE) / 2.0)?;
    let mut d: Vec<f64> =
        new.iter().flat_map(|y| base.iter().map(move |x| y.ln() - x.ln())).collect();
    d.sort_by(f64::total_cmp);
    // c ≤ ⌈mn/2⌉, so the median of d lies between the c-th smallest and the c-th largest.
    Some(Estimate {
        change_pct: pct(median_sorted(&d)),
        ci_pct: [pct(d[c - 1]), pct(d[m * n - c])],
    })
}

/// Paired trials (old and new run side by side, one ratio new/old per pair): the median of
/// the log-ratios and the sign-test interval around it (order statistics of the log-ratios,
/// exact binomial), as tango-bench judges paired runs, with `tail` on each side ((1 −
/// [`CONFIDENCE`]) / 2 for one look; a second look at pairs already judged once spends what
/// the first left, [`second_look_tail`]). A host that changes state moves both sides of a pair
/// together, so the ratio cancels it. `None` below 6 pairs at 95 % (the fewest for an
/// interval).
pub fn paired_ratio_change_at(ratios: &[f64], tail: f64) -> Option<Estimate> {
    if !ratios.iter().all(|r| *r > 0.0 && r.is_finite()) {
        return None;
    }
    let mut l: Vec<f64> = ratios.iter().map(|r| r.ln()).collect();
    l.sort_by(f64::total_cmp);
    let k = sign_test_critical(l.len(), tail)?;
    let n = l.len();
    Some(Estimate { change_pct: pct(median_sorted(&l)), ci_pct: [pct(l[k - 1]), pct(l[n - k])] })
}

/// P(B ≤ k − 1), B ~ Binomial(n, ½): the chance that the sign test's interval from the k-th
/// smallest to the k-th largest of n values lies wholly on one given side of the true median.
pub fn sign_test_tail(n: usize, k: usize) -> f64 {
    let mut p = 0.5f64.powi(n as i32);
    let mut below = 0.0;
    for j in 0..k.min(n + 1) {
        below += p;
        p *= (n - j) as f64 / (j + 1) as f64;
    }
    below
}

/// The tail each way left for a second look at a figure whose first look, at `first` pairs,
/// found it in doubt: the confidence's tail less what the first look's interval spent, so the
/// two looks together call a figure of one build changed no more often than one look would
/// (after 10 pairs, 2.5 % − 1.07 % leaves 1.43 %: at 30 pairs the 9th to the 22nd, 0.81 %).
/// `None` when the first look had no interval.
pub fn second_look_tail(first: usize) -> Option<f64> {
    let tail = (1.0 - CONFIDENCE) / 2.0;
    let k = sign_test_critical(first, tail)?;
    Some(tail - sign_test_tail(first, k))
}

/// The largest k ≥ 1 with P(B ≤ k − 1) ≤ `tail`, B ~ Binomial(n, ½): the interval of the
/// median is then the k-th smallest to the k-th largest value. `None` when even k = 1 fails.
pub fn sign_test_critical(n: usize, tail: f64) -> Option<usize> {
    (1..=n.div_ceil(2)).take_while(|&k| sign_test_tail(n, k) <= tail).last()
}

/// The largest c ≥ 1 with P(U ≤ c − 1) ≤ `tail` under the null, U the Mann–Whitney count of
/// an m-sample against an n-sample; the interval is then the c-th smallest to the c-th
/// largest pairwise difference. Exact up to m·n = 2500, normal approximation beyond.
pub fn mann_whitney_critical(m: usize, n: usize, tail: f64) -> Option<usize> {
    let mn = m * n;
    // below[c] = P(U ≤ c − 1)
    let below: Box<dyn Fn(usize) -> f64> = if mn <= 2500 {
        let mut cumulative = vec![0.0];
        for p in mann_whitney_distribution(m, n) {
            cumulative.push(cumulative.last().unwrap() + p);
        }
        Box::new(move |c| cumulative[c])
    } else {
        let mean = mn as f64 / 2.0;
        let sd = (mn as f64 * (m + n + 1) as f64 / 12.0).sqrt();
        Box::new(move |c| normal_cdf((c as f64 - 0.5 - mean) / sd))
    };
    let mut c = 0;
    while c < mn.div_ceil(2) && below(c + 1) <= tail {
        c += 1;
    }
    (c >= 1).then_some(c)
}

/// P(U = u), u = 0..=m·n, by the recurrence on the largest value of the pooled samples:
/// from the n-sample (probability n/(m+n)) it beats all m others, else it adds nothing.
/// The null distribution is the same for (m, n) and (n, m); the smaller is the inner loop.
pub fn mann_whitney_distribution(m: usize, n: usize) -> Vec<f64> {
    let (m, n) = (m.max(n), m.min(n));
    let size = m * n + 1;
    // prev[j] = distribution for (i − 1, j); cur[j] for (i, j).
    let mut prev: Vec<Vec<f64>> = (0..=n).map(|_| point_mass(size)).collect();
    for i in 1..=m {
        let mut cur: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
        cur.push(point_mass(size));
        for j in 1..=n {
            let (pi, pj) = (i as f64 / (i + j) as f64, j as f64 / (i + j) as f64);
            let mut d = vec![0.0; size];
            for (u, slot) in d.iter_mut().enumerate() {
                *slot = pi * prev[j][u] + if u >= i { pj * cur[j - 1][u - i] } else { 0.0 };
            }
            cur.push(d);
        }
        prev = cur;
    }
    prev.swap_remove(n)
}

fn point_mass(size: usize) -> Vec<f64> {
    let mut v = vec![0.0; size];
    v[0] = 1.0;
    v
}

/// Φ(x), by the complementary error function (Numerical Recipes' erfc, |error| < 1.2e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = (x / std::f64::consts::SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::fixtures::{histogram, latencies};

    #[test]
    fn empirical_quantiles_match_hdr_quantiles() {
        let h = histogram(&latencies(9, 10_000, 1500.0, 0.4));
        let e = Empirical::from_histogram(&h);
        assert_eq!(e.len(), 10_000);
        for q in [0.0001, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(e.at_rank(e.rank(q)), h.value_at_quantile(q), "q={q}");
        }
    }

    #[test]
    fn beta_draws_have_the_right_moments() {
        let mut rng = Sampler::new(42);
        for (a, b) in [(1.0, 1.0), (2.0, 5.0), (50.0, 950.0), (9900.0, 101.0)] {
            let n = 20_000;
            let xs: Vec<f64> = (0..n).map(|_| rng.beta(a, b)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            let (m, v) = (a / (a + b), a * b / ((a + b).powi(2) * (a + b + 1.0)));
            assert!(
                (mean - m).abs() < 4.0 * (v / n as f64).sqrt(),
                "Beta({a},{b}) mean {mean} vs {m}"
            );
            assert!((var / v - 1.0).abs() < 0.05, "Beta({a},{b}) var {var} vs {v}");
        }
    }

    #[test]
    fn mann_whitney_matches_the_tables() {
        let d = mann_whitney_distribution(5, 5);
        assert!((d.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((d[0] - 1.0 / 252.0).abs() < 1e-12 && (d[2] - 2.0 / 252.0).abs() < 1e-12);
        assert_eq!(mann_whitney_distribution(3, 7), mann_whitney_distribution(7, 3));
        // Published two-sided 5 % critical values of U (reject when U ≤ value): c = value + 1.
        for (m, n, u) in [(5, 5, 2), (6, 6, 5), (8, 8, 13), (10, 10, 23), (5, 10, 8), (20, 20, 127)]
        {
            assert_eq!(mann_whitney_critical(m, n, 0.025), Some(u + 1), "m={m} n={n}");
        }
        // The normal approximation takes over for large samples and stays close.
        let c = mann_whitney_critical(60, 60, 0.025).unwrap();
        // 1800 − 1.96 · √(60·60·121/12) ≈ 1426.6, plus ½ for continuity.
        assert_eq!(c, 1427);
    }

    #[test]
    fn sign_test_matches_the_binomial_tables() {
        // Two-sided 5 %: n = 6 is the first with an interval (min to max, 2/64 = 3.1 %).
        assert_eq!(sign_test_critical(5, 0.025), None);
        assert_eq!(sign_test_critical(6, 0.025), Some(1));
        assert_eq!(sign_test_critical(9, 0.025), Some(2)); // P(B ≤ 1) = 10/512
        assert_eq!(sign_test_critical(10, 0.025), Some(2)); // P(B ≤ 2) = 56/1024 > 2.5 %
        assert_eq!(sign_test_critical(20, 0.025), Some(6)); // P(B ≤ 5) = 0.0207
        assert!((sign_test_tail(10, 2) - 11.0 / 1024.0).abs() < 1e-12);
        assert!((sign_test_tail(20, 6) - 21700.0 / 1048576.0).abs() < 1e-12);
        let second = second_look_tail(10).unwrap();
        assert!((second - (0.025 - 11.0 / 1024.0)).abs() < 1e-12, "{second}");
        assert_eq!(sign_test_critical(20, second), Some(5)); // P(B ≤ 4) = 0.0059
        assert!(sign_test_tail(10, 2) + sign_test_tail(20, 5) <= 0.025);
        assert_eq!(sign_test_critical(30, second), Some(9)); // P(B ≤ 8) = 0.0081
        assert_eq!(second_look_tail(5), None);
    }

    proptest::proptest! {
        /// Whatever the trials, an estimate lies inside its own interval.
        #[test]
        fn estimates_lie_inside_their_intervals(
            base in proptest::collection::vec(1.0f64..1e9, 1..25),
            new in proptest::collection::vec(1.0f64..1e9, 1..25),
        ) {
            if let Some(e) = rank_ratio_change(&base, &new) {
                let [lo, hi] = e.ci_pct;
                proptest::prop_assert!(lo <= e.change_pct && e.change_pct <= hi, "{e:?}");
            }
            let ratios: Vec<f64> = base.iter().zip(&new).map(|(b, n)| n / b).collect();
            if let Some(e) = paired_ratio_change_at(&ratios, (1.0 - CONFIDENCE) / 2.0) {
                let [lo, hi] = e.ci_pct;
                proptest::prop_assert!(lo <= e.change_pct && e.change_pct <= hi, "{e:?}");
            }
        }
    }
}
