//! Statistics a reviewer would accept: per-round evaluation (points, distance, accuracy bands,
//! country and city hits), aggregates with confidence intervals, win rates against people and
//! paired comparisons of two players on the same rounds.
//!
//! Everything here is a pure function of its inputs; the only randomness is the bootstrap, which
//! is seeded ([`BOOTSTRAP_SEED`]) so the same rounds always print the same intervals. Reverse
//! geocoding happens once, in [`RoundEval::geocoded`]; the rest takes its answers as data.
//!
//! Definitions (also printed by `geoagent stats --help`):
//! - Accuracy bands: share of rounds with distance ≤ 1, 25, 200, 750, 2500 km (the
//!   Im2GPS / YFCC4k / Img2Loc street/city/region/country/continent standard).
//! - Country hit: the country polygon containing the guess is the one containing the truth.
//!   Rounds whose truth is in no country (at sea) are left out of that accuracy's n.
//! - City hit: the guess is within [`CITY_RADIUS_KM`] of the truth, or the nearest GeoNames
//!   populated place to the guess is the nearest one to the truth. The radius clause keeps a
//!   near-perfect guess from missing because it sits across the line between two towns' Voronoi
//!   cells; the place clause credits naming the right town when its centre is farther away.
//! - Win rate: per pair of scores, more points is a win, equal points half a win. The interval is
//!   Wilson's score interval on the win share (ties contribute ½ to the successes).
//! - Paired comparison: mean difference with a percentile bootstrap interval, and an exact
//!   two-sided sign test on the rounds that differ (ties dropped, as the sign test requires).

pub mod compare;
pub mod matching;

use crate::geo::reverse::{self, City, Continent};
use crate::geo::LatLon;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// Distance thresholds (km) of the standard geolocation accuracy bands.
pub(crate) const ACCURACY_BANDS_KM: [f64; 5] = [1.0, 25.0, 200.0, 750.0, 2500.0];
/// Names of [`ACCURACY_BANDS_KM`], in the same order.
pub(crate) const ACCURACY_BAND_NAMES: [&str; 5] =
    ["street", "city", "region", "country", "continent"];
/// A guess this close to the truth is a city hit whatever the nearest places are: the city band
/// of [`ACCURACY_BANDS_KM`], so "city hit" never disagrees with "within 25 km".
pub(crate) const CITY_RADIUS_KM: f64 = 25.0;
/// Bootstrap resamples. With 10,000 the Monte-Carlo error of a 2.5% percentile is about
/// ±0.3 percentile points, well below the sampling error of any realistic number of rounds,
/// and it takes milliseconds for thousands of rounds.
pub(crate) const BOOTSTRAP_RESAMPLES: usize = 10_000;
/// Seed of every bootstrap, so reruns on the same rounds print the same intervals.
pub(crate) const BOOTSTRAP_SEED: u64 = 0x6765_6f61_6765_6e74;
/// Two-sided 95% normal quantile, for Wilson intervals.
pub(crate) const Z_95: f64 = 1.959_963_984_540_054;

#[derive(Debug, Clone, Error, PartialEq)]
pub enum StatsError {
    #[error("no {what}: {hint}")]
    Empty {
        what: &'static str,
        hint: &'static str,
    },
    #[error("{what} must be finite numbers, got {value} at position {index}")]
    NotFinite {
        what: &'static str,
        index: usize,
        value: f64,
    },
    #[error("paired comparison needs the same number of rounds on both sides, got {a} and {b}")]
    Unpaired { a: usize, b: usize },
}

/// An estimate with its 95% interval and the number of observations behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    pub n: usize,
}

fn check_finite(what: &'static str, xs: &[f64]) -> Result<(), StatsError> {
    match xs.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(StatsError::NotFinite {
            what,
            index,
            value: xs[index],
        }),
        None => Ok(()),
    }
}

fn non_empty(what: &'static str, xs: &[f64]) -> Result<(), StatsError> {
    if xs.is_empty() {
        return Err(StatsError::Empty {
            what,
            hint: "there is nothing to compute this on",
        });
    }
    check_finite(what, xs)
}

/// Arithmetic mean.
pub fn mean(xs: &[f64]) -> Result<f64, StatsError> {
    non_empty("values", xs)?;
    Ok(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Median (mean of the two middle values for an even count).
pub fn median(xs: &[f64]) -> Result<f64, StatsError> {
    non_empty("values", xs)?;
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    Ok(quantile_sorted(&s, 0.5))
}

/// Linear-interpolation quantile of sorted, non-empty data (Hyndman–Fan type 7, R's default).
fn quantile_sorted(s: &[f64], q: f64) -> f64 {
    let h = (s.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    s[lo] + (h - lo as f64) * (s[hi] - s[lo])
}

fn mean_unchecked(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn median_unchecked(xs: &[f64]) -> f64 {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    quantile_sorted(&s, 0.5)
}

/// The statistic a bootstrap interval is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    Mean,
    Median,
}

impl Statistic {
    fn of(self, xs: &[f64]) -> f64 {
        match self {
            Statistic::Mean => mean_unchecked(xs),
            Statistic::Median => median_unchecked(xs),
        }
    }
}

/// Percentile bootstrap 95% interval of `stat` over `xs`: `resamples` resamples of size n with
/// replacement from a ChaCha8 stream seeded with `seed`; the interval is the 2.5% and 97.5%
/// quantiles (type 7) of the resampled statistics. The estimate is the statistic of `xs` itself.
pub(crate) fn bootstrap(
    xs: &[f64],
    stat: Statistic,
    resamples: usize,
    seed: u64,
) -> Result<Interval, StatsError> {
    non_empty("values", xs)?;
    let estimate = stat.of(xs);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = xs.len();
    let mut buf = vec![0.0; n];
    let mut stats: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            for b in buf.iter_mut() {
                *b = xs[rng.random_range(0..n)];
            }
            stat.of(&buf)
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    Ok(Interval {
        estimate,
        low: quantile_sorted(&stats, 0.025),
        high: quantile_sorted(&stats, 0.975),
        n,
    })
}

/// [`bootstrap`] with the crate's resample count and seed.
pub(crate) fn bootstrap_default(xs: &[f64], stat: Statistic) -> Result<Interval, StatsError> {
    bootstrap(xs, stat, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED)
}

/// Wilson score 95% interval for `successes` out of `n` (successes may be fractional: a tie
/// counts ½). Better than the normal interval near 0 and 1 and for small n.
pub(crate) fn wilson(successes: f64, n: usize) -> Result<Interval, StatsError> {
    if n == 0 {
        return Err(StatsError::Empty {
            what: "trials",
            hint: "a rate needs at least one comparison",
        });
    }
    check_finite("successes", &[successes])?;
    let nf = n as f64;
    let p = (successes / nf).clamp(0.0, 1.0);
    let z2 = Z_95 * Z_95;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = Z_95 * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    // The interval always contains p; the min/max only absorb rounding at p = 0 or 1.
    Ok(Interval {
        estimate: p,
        low: (centre - half).clamp(0.0, p),
        high: (centre + half).clamp(p, 1.0),
        n,
    })
}

/// Exact two-sided sign test: the probability, under "either side is equally likely to be
/// better", of a split at least as uneven as `pos` against `neg`. Ties must be dropped before
/// calling (they carry no sign). `1.0` when there are no untied pairs.
pub(crate) fn sign_test_p(pos: usize, neg: usize) -> f64 {
    let n = pos + neg;
    if n == 0 {
        return 1.0;
    }
    let k = pos.min(neg);
    // Binomial(n, ½) tail P(X ≤ k) in log space: 0.5^n underflows past n ≈ 1074.
    let mut log_pmf = n as f64 * 0.5f64.ln();
    let mut logs = Vec::with_capacity(k + 1);
    for i in 0..=k {
        logs.push(log_pmf);
        log_pmf += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    let max = logs.iter().cloned().fold(f64::MIN, f64::max);
    let tail = max.exp() * logs.iter().map(|l| (l - max).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}

/// What one round gives the statistics: who, where, how well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundEval {
    /// Which session (replay folder) played it; rounds of one session form a game.
    pub session: String,
    pub challenge_id: String,
    /// 1-based.
    pub round: usize,
    pub location_id: Option<String>,
    pub truth: LatLon,
    pub guess: LatLon,
    pub distance_km: f64,
    pub points: u32,
    pub truth_country: Option<String>,
    pub guess_country: Option<String>,
    pub truth_city: Option<City>,
    pub guess_city: Option<City>,
}

impl RoundEval {
    /// Fills the countries and nearest places by offline reverse geocoding.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn geocoded(
        session: &str,
        challenge_id: &str,
        round: usize,
        location_id: Option<String>,
        truth: LatLon,
        guess: LatLon,
        distance_km: f64,
        points: u32,
    ) -> RoundEval {
        RoundEval {
            session: session.to_owned(),
            challenge_id: challenge_id.to_owned(),
            round,
            location_id,
            truth,
            guess,
            distance_km,
            points,
            truth_country: reverse::country(truth),
            guess_country: reverse::country(guess),
            truth_city: reverse::nearest_city(truth),
            guess_city: reverse::nearest_city(guess),
        }
    }

    /// Whether the distance is within each of [`ACCURACY_BANDS_KM`].
    pub(crate) fn bands(&self) -> [bool; 5] {
        ACCURACY_BANDS_KM.map(|km| self.distance_km <= km)
    }

    /// `None` when the truth is in no country (at sea): such rounds cannot be judged.
    pub(crate) fn country_hit(&self) -> Option<bool> {
        let truth = self.truth_country.as_ref()?;
        Some(self.guess_country.as_ref() == Some(truth))
    }

    /// See the module doc for the definition.
    pub(crate) fn city_hit(&self) -> bool {
        if self.distance_km <= CITY_RADIUS_KM {
            return true;
        }
        match (&self.truth_city, &self.guess_city) {
            (Some(t), Some(g)) => t.same_place(g),
            _ => false,
        }
    }

    pub fn continent(&self) -> Option<Continent> {
        self.truth_country.as_deref().and_then(reverse::continent)
    }
}

/// A share of rounds with a property, with the counts behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub label: String,
    pub hits: usize,
    pub n: usize,
    pub rate: f64,
}

impl Share {
    fn new(label: impl Into<String>, hits: usize, n: usize) -> Share {
        Share {
            label: label.into(),
            hits,
            n,
            rate: if n == 0 { 0.0 } else { hits as f64 / n as f64 },
        }
    }
}

/// Results on a subset of rounds (one country or continent of the truth).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub key: String,
    pub rounds: usize,
    pub mean_points: f64,
    pub median_distance_km: f64,
    pub country_hits: usize,
}

/// Aggregates over a set of rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub rounds: usize,
    pub points_mean: Interval,
    pub points_median: Interval,
    pub distance_median_km: f64,
    pub bands: Vec<Share>,
    /// Over rounds whose truth has a country; `n` says how many.
    pub country: Share,
    pub city: Share,
    pub by_country: Vec<Group>,
    pub by_continent: Vec<Group>,
}

/// Key of rounds whose truth is in no country or no listed continent.
pub(crate) const UNKNOWN_KEY: &str = "(none)";

fn group(key: String, rounds: &[&RoundEval]) -> Group {
    let pts: Vec<f64> = rounds.iter().map(|r| f64::from(r.points)).collect();
    let d: Vec<f64> = rounds.iter().map(|r| r.distance_km).collect();
    Group {
        key,
        rounds: rounds.len(),
        mean_points: mean_unchecked(&pts),
        median_distance_km: median_unchecked(&d),
        country_hits: rounds
            .iter()
            .filter(|r| r.country_hit() == Some(true))
            .count(),
    }
}

fn groups_by(rounds: &[RoundEval], key: impl Fn(&RoundEval) -> String) -> Vec<Group> {
    let mut by: BTreeMap<String, Vec<&RoundEval>> = BTreeMap::new();
    for r in rounds {
        by.entry(key(r)).or_default().push(r);
    }
    let mut out: Vec<Group> = by.into_iter().map(|(k, v)| group(k, &v)).collect();
    out.sort_by(|a, b| b.rounds.cmp(&a.rounds).then(a.key.cmp(&b.key)));
    out
}

/// Everything the `stats` table shows about one player's rounds.
pub(crate) fn summarize(rounds: &[RoundEval]) -> Result<Summary, StatsError> {
    if rounds.is_empty() {
        return Err(StatsError::Empty {
            what: "rounds",
            hint: "the replays hold no finished round",
        });
    }
    let pts: Vec<f64> = rounds.iter().map(|r| f64::from(r.points)).collect();
    let dist: Vec<f64> = rounds.iter().map(|r| r.distance_km).collect();
    check_finite("distances", &dist)?;
    let n = rounds.len();
    let bands = ACCURACY_BANDS_KM
        .iter()
        .zip(ACCURACY_BAND_NAMES)
        .enumerate()
        .map(|(i, (km, name))| {
            let hits = rounds.iter().filter(|r| r.bands()[i]).count();
            Share::new(format!("≤{km} km ({name})"), hits, n)
        })
        .collect();
    let judged: Vec<bool> = rounds.iter().filter_map(RoundEval::country_hit).collect();
    Ok(Summary {
        rounds: n,
        points_mean: bootstrap_default(&pts, Statistic::Mean)?,
        points_median: bootstrap_default(&pts, Statistic::Median)?,
        distance_median_km: median(&dist)?,
        bands,
        country: Share::new(
            "country",
            judged.iter().filter(|h| **h).count(),
            judged.len(),
        ),
        city: Share::new("city", rounds.iter().filter(|r| r.city_hit()).count(), n),
        by_country: groups_by(rounds, |r| {
            r.truth_country
                .clone()
                .unwrap_or_else(|| UNKNOWN_KEY.into())
        }),
        by_continent: groups_by(rounds, |r| {
            r.continent()
                .map(|c| c.name().to_owned())
                .unwrap_or_else(|| UNKNOWN_KEY.into())
        }),
    })
}

/// Wins, ties and losses of "us" against "them", with the win share's Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WinRate {
    pub wins: usize,
    pub ties: usize,
    pub losses: usize,
    /// `rate.n` is the number of comparisons; `rate.estimate` is (wins + ties/2) / n.
    pub rate: Interval,
}

/// Win rate over `(ours, theirs)` score pairs.
pub(crate) fn win_rate(pairs: &[(f64, f64)]) -> Result<WinRate, StatsError> {
    if pairs.is_empty() {
        return Err(StatsError::Empty {
            what: "comparisons",
            hint: "no round was played by both sides",
        });
    }
    let flat: Vec<f64> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
    check_finite("scores", &flat)?;
    let (mut wins, mut ties, mut losses) = (0, 0, 0);
    for (a, b) in pairs {
        match a.total_cmp(b) {
            std::cmp::Ordering::Greater => wins += 1,
            std::cmp::Ordering::Equal => ties += 1,
            std::cmp::Ordering::Less => losses += 1,
        }
    }
    Ok(WinRate {
        wins,
        ties,
        losses,
        rate: wilson(wins as f64 + 0.5 * ties as f64, pairs.len())?,
    })
}

/// Two players on the same rounds: `a − b`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// Mean of `a − b` with its percentile bootstrap interval.
    pub mean_difference: Interval,
    pub a_better: usize,
    pub b_better: usize,
    /// Dropped from the sign test.
    pub ties: usize,
    /// Exact two-sided sign test p-value over the untied rounds.
    pub sign_test_p: f64,
}

/// Compares `a[i]` with `b[i]` for every round i.
pub(crate) fn paired(a: &[f64], b: &[f64]) -> Result<Paired, StatsError> {
    if a.len() != b.len() {
        return Err(StatsError::Unpaired {
            a: a.len(),
            b: b.len(),
        });
    }
    if a.is_empty() {
        return Err(StatsError::Empty {
            what: "paired rounds",
            hint: "the two runs share no round",
        });
    }
    let diff: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean_difference = bootstrap_default(&diff, Statistic::Mean)?;
    let a_better = diff.iter().filter(|d| **d > 0.0).count();
    let b_better = diff.iter().filter(|d| **d < 0.0).count();
    Ok(Paired {
        mean_difference,
        a_better,
        b_better,
        ties: diff.len() - a_better - b_better,
        sign_test_p: sign_test_p(a_better, b_better),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    fn ll(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).unwrap()
    }

    fn city(name: &str, cc: &str, lat: f64, lon: f64) -> City {
        City {
            name: name.into(),
            admin1: String::new(),
            country: cc.into(),
            lat,
            lon,
            distance_km: 0.0,
        }
    }

    fn eval(
        points: u32,
        distance_km: f64,
        truth_cc: Option<&str>,
        guess_cc: Option<&str>,
    ) -> RoundEval {
        RoundEval {
            session: "s".into(),
            challenge_id: "c".into(),
            round: 1,
            location_id: None,
            truth: ll(0.0, 0.0),
            guess: ll(0.0, 0.0),
            distance_km,
            points,
            truth_country: truth_cc.map(Into::into),
            guess_country: guess_cc.map(Into::into),
            truth_city: None,
            guess_city: None,
        }
    }

    #[test]
    fn mean_and_median_by_hand() {
        assert_eq!(mean(&[1.0, 2.0, 6.0]).unwrap(), 3.0);
        assert_eq!(median(&[6.0, 1.0, 2.0]).unwrap(), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]).unwrap(), 2.5);
        assert_eq!(median(&[7.0]).unwrap(), 7.0);
    }

    #[test]
    fn empty_and_nan_inputs_are_typed_errors() {
        assert!(matches!(mean(&[]), Err(StatsError::Empty { .. })));
        assert!(matches!(median(&[]), Err(StatsError::Empty { .. })));
        assert!(matches!(
            bootstrap_default(&[], Statistic::Mean),
            Err(StatsError::Empty { .. })
        ));
        assert!(matches!(wilson(0.0, 0), Err(StatsError::Empty { .. })));
        assert!(matches!(win_rate(&[]), Err(StatsError::Empty { .. })));
        assert!(matches!(paired(&[], &[]), Err(StatsError::Empty { .. })));
        assert_eq!(
            paired(&[1.0], &[1.0, 2.0]),
            Err(StatsError::Unpaired { a: 1, b: 2 })
        );
        let e = summarize(&[]).unwrap_err();
        assert!(e.to_string().contains("no rounds"), "{e}");
        assert!(matches!(
            mean(&[1.0, f64::NAN]),
            Err(StatsError::NotFinite { index: 1, .. })
        ));
        assert!(matches!(
            win_rate(&[(1.0, f64::INFINITY)]),
            Err(StatsError::NotFinite { .. })
        ));
    }

    #[test]
    fn bootstrap_of_constant_or_single_value_is_that_value() {
        let i = bootstrap_default(&[4321.0], Statistic::Mean).unwrap();
        assert_eq!(
            (i.estimate, i.low, i.high, i.n),
            (4321.0, 4321.0, 4321.0, 1)
        );
        let j = bootstrap_default(&[5.0; 9], Statistic::Median).unwrap();
        assert_eq!((j.low, j.high), (5.0, 5.0));
    }

    #[test]
    fn bootstrap_of_two_points_spans_both() {
        // Resampling {0, 1} twice gives means 0 (¼), ½ (½), 1 (¼): the 2.5% and 97.5%
        // quantiles of 10,000 such means are 0 and 1.
        let i = bootstrap_default(&[0.0, 1.0], Statistic::Mean).unwrap();
        assert_eq!((i.estimate, i.low, i.high), (0.5, 0.0, 1.0));
    }

    #[test]
    fn bootstrap_is_seeded_and_near_the_normal_interval() {
        let xs: Vec<f64> = (0..200).map(|i| f64::from(i % 10)).collect();
        let a = bootstrap_default(&xs, Statistic::Mean).unwrap();
        let b = bootstrap_default(&xs, Statistic::Mean).unwrap();
        assert_eq!(a, b);
        // Mean 4.5, sd 2.872 (population), se 0.2031: normal 95% half-width 0.398.
        assert!(close(a.estimate, 4.5, 1e-12));
        assert!(close(a.high - a.estimate, 0.398, 0.03), "{a:?}");
        assert!(close(a.estimate - a.low, 0.398, 0.03), "{a:?}");
        let c = bootstrap(&xs, Statistic::Mean, 10_000, 1).unwrap();
        assert_ne!(a.low, c.low);
    }

    #[test]
    fn wilson_by_hand() {
        // 8 of 10: centre (0.8 + 1.9208/10) / 1.38415 = 0.71674, half-width
        // 1.95996·sqrt(0.016 + 0.0096040)/1.38415 = 0.22662 → [0.4902, 0.9433].
        let w = wilson(8.0, 10).unwrap();
        assert!(close(w.estimate, 0.8, 1e-12));
        assert!(close(w.low, 0.4902, 1e-4), "{w:?}");
        assert!(close(w.high, 0.9433, 1e-4), "{w:?}");
        // 0 of 5: low is exactly 0, high 3.8415/8.8415 = 0.4345.
        let z = wilson(0.0, 5).unwrap();
        assert_eq!(z.low, 0.0);
        assert!(close(z.high, 0.4345, 1e-4), "{z:?}");
        let one = wilson(1.0, 1).unwrap();
        assert!(close(one.low, 0.2065, 1e-4) && one.high == 1.0, "{one:?}");
    }

    #[test]
    fn sign_test_by_hand() {
        // 9 vs 1: 2·(1 + 10)/1024 = 0.021484375.
        assert!(close(sign_test_p(9, 1), 0.021484375, 1e-12));
        assert!(close(sign_test_p(1, 9), 0.021484375, 1e-12));
        // 5 vs 5 and 0 vs 0: no evidence.
        assert_eq!(sign_test_p(5, 5), 1.0);
        assert_eq!(sign_test_p(0, 0), 1.0);
        // 6 vs 0: 2/64.
        assert!(close(sign_test_p(6, 0), 0.03125, 1e-12));
        // Large n does not underflow to 0 or NaN.
        let p = sign_test_p(1100, 1000);
        assert!(p > 0.0 && p < 0.05, "{p}");
        assert!(sign_test_p(3000, 3000) > 0.9);
    }

    #[test]
    fn win_rate_with_ties_by_hand() {
        let w = win_rate(&[(5000.0, 10.0), (100.0, 100.0), (0.0, 1.0), (3.0, 2.0)]).unwrap();
        assert_eq!((w.wins, w.ties, w.losses, w.rate.n), (2, 1, 1, 4));
        assert!(close(w.rate.estimate, 0.625, 1e-12));
        let single = win_rate(&[(1.0, 1.0)]).unwrap();
        assert_eq!(single.rate.estimate, 0.5);
        assert!(single.rate.low < 0.5 && single.rate.high > 0.5);
    }

    #[test]
    fn win_rate_is_a_share_and_swapping_roles_gives_its_complement() {
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        for _ in 0..300 {
            let n = rng.random_range(1..40);
            // Coarse scores so ties happen often.
            let pairs: Vec<(f64, f64)> = (0..n)
                .map(|_| {
                    (
                        f64::from(rng.random_range(0..6u32) * 1000),
                        f64::from(rng.random_range(0..6u32) * 1000),
                    )
                })
                .collect();
            let swapped: Vec<(f64, f64)> = pairs.iter().map(|(a, b)| (*b, *a)).collect();
            let w = win_rate(&pairs).unwrap();
            let s = win_rate(&swapped).unwrap();
            for r in [&w.rate, &s.rate] {
                assert!((0.0..=1.0).contains(&r.estimate));
                assert!(
                    0.0 <= r.low && r.low <= r.estimate && r.estimate <= r.high && r.high <= 1.0
                );
            }
            assert!(close(w.rate.estimate + s.rate.estimate, 1.0, 1e-12));
            assert!(close(w.rate.low, 1.0 - s.rate.high, 1e-9));
            assert!(close(w.rate.high, 1.0 - s.rate.low, 1e-9));
            assert_eq!((w.wins, w.ties, w.losses), (s.losses, s.ties, s.wins));
        }
    }

    #[test]
    fn paired_by_hand() {
        let a = [10.0, 20.0, 30.0, 40.0];
        let b = [5.0, 20.0, 10.0, 50.0];
        let p = paired(&a, &b).unwrap();
        // Differences 5, 0, 20, −10: mean 3.75; 2 up, 1 down, 1 tie → p = 2·(1+3)/8 = 1.
        assert_eq!(p.mean_difference.estimate, 3.75);
        assert_eq!((p.a_better, p.b_better, p.ties), (2, 1, 1));
        assert_eq!(p.sign_test_p, 1.0);
        assert!(p.mean_difference.low <= 3.75 && p.mean_difference.high >= 3.75);
        let q = paired(&[1.0; 8], &[0.0; 8]).unwrap();
        assert!(close(q.sign_test_p, 2.0 / 256.0, 1e-12));
        assert_eq!(q.mean_difference.low, 1.0);
    }

    #[test]
    fn round_hits_by_hand() {
        let r = eval(4000, 30.0, Some("FR"), Some("FR"));
        assert_eq!(r.bands(), [false, false, true, true, true]);
        assert_eq!(r.country_hit(), Some(true));
        assert!(!r.city_hit());
        assert_eq!(eval(1, 1.0, Some("FR"), Some("DE")).bands(), [true; 5]);
        assert_eq!(eval(1, 1.0, Some("FR"), None).country_hit(), Some(false));
        assert_eq!(eval(1, 1.0, None, Some("FR")).country_hit(), None);
        assert!(eval(1, 25.0, None, None).city_hit());
        // Same nearest place from 40 km apart is a city hit; different places are not.
        let mut c = eval(1, 40.0, None, None);
        c.truth_city = Some(city("Yakutsk", "RU", 62.03, 129.73));
        c.guess_city = Some(city("Yakutsk", "RU", 62.03, 129.73));
        assert!(c.city_hit());
        c.guess_city = Some(city("Yakutsk", "RU", 62.0, 129.7));
        assert!(!c.city_hit());
    }

    #[test]
    fn geocoded_round_fills_countries_and_places() {
        let truth = ll(48.8566, 2.3522);
        let guess = ll(48.85, 2.36);
        let r = RoundEval::geocoded("s", "c", 1, None, truth, guess, 0.9, 4999);
        assert_eq!(r.truth_country.as_deref(), Some("FR"));
        assert_eq!(r.country_hit(), Some(true));
        assert!(r.city_hit());
        assert_eq!(r.continent(), Some(Continent::Europe));
    }

    #[test]
    fn summary_by_hand() {
        let rounds = vec![
            eval(5000, 0.5, Some("FR"), Some("FR")),
            eval(3000, 100.0, Some("FR"), Some("DE")),
            eval(1000, 1000.0, Some("JP"), Some("JP")),
            eval(0, 10000.0, None, Some("BR")),
        ];
        let s = summarize(&rounds).unwrap();
        assert_eq!(s.rounds, 4);
        assert_eq!(s.points_mean.estimate, 2250.0);
        assert_eq!(s.points_median.estimate, 2000.0);
        assert_eq!(s.distance_median_km, 550.0);
        let hits: Vec<usize> = s.bands.iter().map(|b| b.hits).collect();
        assert_eq!(hits, vec![1, 1, 2, 2, 3]);
        assert_eq!(s.bands[4].rate, 0.75);
        // The at-sea truth is not judged: 2 of 3.
        assert_eq!((s.country.hits, s.country.n), (2, 3));
        assert_eq!((s.city.hits, s.city.n), (1, 4));
        assert_eq!(s.by_country[0].key, "FR");
        assert_eq!(s.by_country[0].rounds, 2);
        assert_eq!(s.by_country[0].mean_points, 4000.0);
        assert_eq!(s.by_country[0].country_hits, 1);
        let keys: Vec<&str> = s.by_continent.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, vec!["Europe", "(none)", "Asia"]);
        // A single round is its own mean, median and interval.
        let one = summarize(&rounds[..1]).unwrap();
        assert_eq!(one.points_mean.low, 5000.0);
        assert_eq!(one.points_median.high, 5000.0);
    }
}
