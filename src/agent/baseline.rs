//! The baseline guess: the single point that maximises expected GeoGuessr points over a map's own
//! location distribution. It needs no model, so it is both the no-LVLM reasoner and the fallback
//! when a model fails.
//!
//! The same search, with weights, chooses among several candidate answers (the point that scores
//! best in expectation, not their average, which can land in the sea between two clusters).

use super::{Guess, GuessSource, Reasoner};
use crate::environment::Observation;
use crate::game::{points_unrounded, Map};
use crate::geo::LatLon;
use crate::lvlm::Usage;

/// Coarse search grid step in degrees: 2° is ~220 km, fine enough that refinement finds the peak.
const COARSE_STEP_DEG: f64 = 2.0;
/// The baseline reasoner's name in replays and tables; it uses no strategy.
pub(crate) const BASELINE_NAME: &str = "baseline";
/// Refinement: a window of ±`REFINE_SPAN_DEG` around the coarse best at `REFINE_STEP_DEG`.
const REFINE_SPAN_DEG: f64 = 2.0;
const REFINE_STEP_DEG: f64 = 0.05;

/// Expected points of guessing `at` when the truth is one of `targets` (weights need not sum to 1).
pub(crate) fn expected_points(at: &LatLon, targets: &[(LatLon, f64)], size_km: f64) -> f64 {
    let total_w: f64 = targets.iter().map(|(_, w)| w).sum();
    if total_w <= 0.0 {
        return 0.0;
    }
    targets
        .iter()
        .map(|(t, w)| w * points_unrounded(at.distance_km(t), size_km))
        .sum::<f64>()
        / total_w
}

/// The point maximising [`expected_points`]: every target is a candidate, then a global grid,
/// then a fine grid around the best. `None` for no targets.
pub(crate) fn best_expected_point(targets: &[(LatLon, f64)], size_km: f64) -> Option<LatLon> {
    let mut best = (*targets.first().map(|(p, _)| p)?, f64::MIN);
    let consider = |best: &mut (LatLon, f64), p: LatLon| {
        let e = expected_points(&p, targets, size_km);
        if e > best.1 {
            *best = (p, e);
        }
    };
    for (p, _) in targets {
        consider(&mut best, *p);
    }
    for p in grid(-90.0, 90.0, -180.0, 180.0, COARSE_STEP_DEG) {
        consider(&mut best, p);
    }
    let centre = best.0;
    for p in grid(
        centre.lat - REFINE_SPAN_DEG,
        centre.lat + REFINE_SPAN_DEG,
        centre.lon - REFINE_SPAN_DEG,
        centre.lon + REFINE_SPAN_DEG,
        REFINE_STEP_DEG,
    ) {
        consider(&mut best, p);
    }
    Some(best.0)
}

/// Grid points from south-west to north-east. Longitudes wrap, so a window around a point near
/// the antimeridian covers both sides of it; latitudes past a pole are left out (the pole row
/// itself is in the global grid).
fn grid(s: f64, n: f64, w: f64, e: f64, step: f64) -> impl Iterator<Item = LatLon> {
    let rows = ((n - s) / step).round() as i64;
    let cols = ((e - w) / step).round() as i64;
    (0..=rows).flat_map(move |i| {
        (0..=cols).filter_map(move |j| {
            LatLon::new(
                s + i as f64 * step,
                crate::geo::wrap_lon(w + j as f64 * step),
            )
            .ok()
        })
    })
}

/// Always guesses the map's expected-points optimum.
#[derive(Debug, Clone)]
pub struct BaselineReasoner {
    point: LatLon,
}

impl BaselineReasoner {
    pub fn for_map(map: &Map) -> BaselineReasoner {
        BaselineReasoner {
            point: baseline_point(map),
        }
    }

    pub fn point(&self) -> LatLon {
        self.point
    }
}

/// The baseline point of a map (the centre of the view for an empty map).
pub fn baseline_point(map: &Map) -> LatLon {
    let targets: Vec<(LatLon, f64)> = map.locations.iter().map(|l| (l.pos, 1.0)).collect();
    best_expected_point(&targets, map.size_km).unwrap_or(LatLon {
        lat: (map.view.south + map.view.north) / 2.0,
        lon: (map.view.west + map.view.east) / 2.0,
    })
}

#[async_trait::async_trait]
impl Reasoner for BaselineReasoner {
    fn name(&self) -> String {
        BASELINE_NAME.into()
    }

    async fn guess(&self, _obs: &Observation) -> Guess {
        Guess {
            pos: self.point,
            country: None,
            confidence: None,
            rationale: Some(
                "baseline: the point with the highest expected score over this map's locations"
                    .into(),
            ),
            source: GuessSource::Baseline,
            notes: vec![],
            exchanges: vec![],
            usage: Usage::default(),
            candidates: Vec::new(),
            revisions: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ll(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).unwrap()
    }

    #[test]
    fn single_target_is_its_own_optimum() {
        let p = best_expected_point(&[(ll(48.85, 2.35), 1.0)], 14916.862).unwrap();
        assert!(p.distance_km(&ll(48.85, 2.35)) < 0.01);
    }

    #[test]
    fn two_equal_clusters_pick_a_cluster_not_the_midpoint_in_the_sea() {
        // Two tight clusters 4000 km apart (Lisbon area and Newfoundland): on a small map the
        // average (mid-Atlantic) scores worse than either cluster.
        let mut t = vec![];
        for d in [0.0, 0.1, 0.2] {
            t.push((ll(38.7 + d, -9.1), 1.0));
            t.push((ll(47.5 + d, -52.7), 1.0));
        }
        let size = 5000.0;
        let best = best_expected_point(&t, size).unwrap();
        let mid = ll(43.1, -30.9);
        assert!(expected_points(&best, &t, size) > expected_points(&mid, &t, size));
        let near_a = best.distance_km(&ll(38.8, -9.1)) < 50.0;
        let near_b = best.distance_km(&ll(47.6, -52.7)) < 50.0;
        assert!(near_a || near_b, "{best:?}");
    }

    #[test]
    fn heavier_weight_wins() {
        let t = [(ll(0.0, 0.0), 1.0), (ll(0.0, 60.0), 3.0)];
        let best = best_expected_point(&t, 5000.0).unwrap();
        assert!(best.distance_km(&ll(0.0, 60.0)) < 50.0, "{best:?}");
    }

    #[test]
    fn expected_points_by_hand() {
        // Guessing one of two points 1000 km apart on the world map: (5000 + 2557.56) / 2.
        let a = ll(0.0, 0.0);
        let b = ll(0.0, 1000.0 / (crate::geo::EARTH_RADIUS_KM.to_radians()));
        let e = expected_points(&a, &[(a, 1.0), (b, 1.0)], crate::game::WORLD_SIZE_KM);
        assert!((e - 3778.7).abs() < 0.5, "{e}");
        assert_eq!(expected_points(&a, &[], 1.0), 0.0);
        assert!(best_expected_point(&[], 1.0).is_none());
    }
}
