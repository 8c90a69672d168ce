//! The game itself: maps, locations, rounds, GeoGuessr scoring and seeded challenges.
//!
//! Submodules hold the parts with I/O: `pack` (map packs on disk), `builtin` (the built-in world),
//! `panorama` (the synthetic panorama painter) and `integrity` (metadata-free, size-checked image
//! loading and duplicate detection). Building packs from outside imagery is the `import` module's job.

pub mod builtin;
pub mod integrity;
pub mod key;
pub mod pack;
pub mod panorama;

use crate::geo::{Bounds, LatLon};
pub use key::{ChallengeKey, KeyError};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// GeoGuessr's size of the world map in km: `5000·exp(-10·d/s)` with this `s` is the familiar
/// `5000·exp(-d/1491.7)` decay.
pub const WORLD_SIZE_KM: f64 = 14_916.862;
/// Most points a round can give.
pub(crate) const MAX_POINTS: u32 = 5000;
/// A guess this close (km) scores full points, as in GeoGuessr.
pub(crate) const FULL_POINTS_RADIUS_KM: f64 = 0.025;
/// Rounds in a standard game.
pub(crate) const DEFAULT_ROUNDS: usize = 5;
/// Most rounds one game may have: a long session is fine, but a typo like `rounds=5000` should
/// fail loudly instead of pre-selecting thousands of locations. The one limit the game server,
/// config validation and the command line all check.
pub const MAX_ROUNDS: usize = 50;
/// Largest random seed picked for a challenge: 2^53 − 1, so the page's JavaScript numbers hold
/// it exactly when it builds a challenge link. (Explicit seeds may use the whole u64 range.)
pub(crate) const MAX_RANDOM_SEED: u64 = (1 << 53) - 1;
/// Widest panorama shown (by the game server and direct mode); wider map-pack images are scaled
/// down. 4096 px is the texture size every WebGL implementation (including SwiftShader in
/// headless Chromium) supports.
pub(crate) const MAX_PANORAMA_WIDTH: u32 = 4096;
/// Tallest panorama shown (equirectangular images are 2:1).
pub(crate) const MAX_PANORAMA_HEIGHT: u32 = MAX_PANORAMA_WIDTH / 2;

/// GeoGuessr points for a guess `distance_km` from the truth on a map of size `map_size_km`.
pub fn score(distance_km: f64, map_size_km: f64) -> u32 {
    if !distance_km.is_finite() || !map_size_km.is_finite() || map_size_km <= 0.0 {
        return 0;
    }
    if distance_km <= FULL_POINTS_RADIUS_KM {
        return MAX_POINTS;
    }
    points_unrounded(distance_km, map_size_km).round() as u32
}

/// The score formula itself, `5000·exp(−10·d/s)`, unrounded and without the full-points radius:
/// the smooth surface the baseline searches. [`score`] is this, rounded, with its edge cases.
pub fn points_unrounded(distance_km: f64, map_size_km: f64) -> f64 {
    f64::from(MAX_POINTS) * (-10.0 * distance_km / map_size_km).exp()
}

/// Where a location's imagery comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Imagery {
    /// Painted by the program from the location's facts (see `panorama`); synthetic, and labelled so.
    Generated,
    /// An equirectangular JPEG/PNG file on disk (from a map pack).
    File { path: PathBuf },
    /// A single ordinary photo (one view, not a panorama) on disk, from a map pack; the page
    /// shows it flat, straight ahead.
    Photo { path: PathBuf },
}

impl Imagery {
    /// The image file behind this imagery, if any (load it with `integrity::load_clean`).
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Imagery::Generated => None,
            Imagery::File { path } | Imagery::Photo { path } => Some(path),
        }
    }
}

/// One place a round can be played at. Everything here is the answer: none of it may reach the
/// browser or the model before the guess.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Stable id within its map (used by replays and human results).
    pub id: String,
    pub pos: LatLon,
    /// ISO 3166-1 alpha-2 code, upper case, when known.
    pub country: Option<String>,
    /// Human-readable place name ("Nairobi, Kenya"), when known.
    pub place: Option<String>,
    pub imagery: Imagery,
}

/// A set of locations played together, with the size that scoring needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Map {
    pub id: String,
    pub name: String,
    /// True when imagery is generated rather than photographed; shown to players.
    pub synthetic: bool,
    pub size_km: f64,
    /// The area the guess map shows (not the locations' box: that would give them away).
    pub view: Bounds,
    pub attribution: Option<String>,
    pub locations: Vec<Location>,
}

impl Map {
    pub fn location(&self, id: &str) -> Option<&Location> {
        self.locations.iter().find(|l| l.id == id)
    }

    /// Map size from the locations' bounding-box diagonal, GeoGuessr's rule for custom maps.
    pub(crate) fn size_from_locations(locations: &[Location]) -> f64 {
        Bounds::around(locations.iter().map(|l| &l.pos))
            .map(|b| b.diagonal_km())
            .filter(|d| *d > 0.0)
            .unwrap_or(WORLD_SIZE_KM)
    }
}

/// A seeded selection of rounds: the same map, seed, round count and [`ChallengeKey`] always give
/// the same locations in the same order, so a person and the agent can play the same challenge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Challenge {
    pub map_id: String,
    pub seed: u64,
    pub location_ids: Vec<String>,
}

impl Challenge {
    /// Picks `rounds` distinct locations (repeating only when the map has fewer) with the public
    /// key: anyone can compute them from the seed (tests, published benchmarks).
    pub fn new(map: &Map, seed: u64, rounds: usize) -> Challenge {
        Challenge::with_key(map, seed, rounds, &ChallengeKey::PUBLIC)
    }

    /// Picks `rounds` distinct locations as [`Challenge::new`] does, with the places depending on
    /// `key` too, so only whoever holds the key can tell them from the challenge's name.
    pub fn with_key(map: &Map, seed: u64, rounds: usize, key: &ChallengeKey) -> Challenge {
        let mut rng = match key.rng_seed(&map.id, seed, rounds) {
            Some(s) => ChaCha8Rng::from_seed(s),
            None => ChaCha8Rng::seed_from_u64(seed),
        };
        let n = map.locations.len();
        let mut ids = Vec::with_capacity(rounds);
        while ids.len() < rounds && n > 0 {
            let take = (rounds - ids.len()).min(n);
            for i in sample(&mut rng, n, take) {
                ids.push(map.locations[i].id.clone());
            }
        }
        Challenge {
            map_id: map.id.clone(),
            seed,
            location_ids: ids,
        }
    }

    /// The challenge's stable public name, `mapid-seed-rounds`.
    pub fn id(&self) -> String {
        format!("{}-{}-{}", self.map_id, self.seed, self.location_ids.len())
    }
}

/// The outcome of one round as the game reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundResult {
    /// 1-based round number.
    pub round: usize,
    pub guess: LatLon,
    pub truth: LatLon,
    pub distance_km: f64,
    pub points: u32,
    pub place: Option<String>,
    pub country: Option<String>,
}

/// Shared, immutable maps by id.
pub type MapSet = Arc<Vec<Arc<Map>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_at_zero_and_inside_25m_is_full() {
        assert_eq!(score(0.0, WORLD_SIZE_KM), 5000);
        assert_eq!(score(0.025, WORLD_SIZE_KM), 5000);
        assert_eq!(score(0.0251, 100.0), 4987);
    }

    #[test]
    fn score_matches_formula_on_world() {
        // 5000·exp(-1000/1491.6862) = 2557.56
        assert_eq!(score(1000.0, WORLD_SIZE_KM), 2558);
        assert_eq!(score(100.0, WORLD_SIZE_KM), 4676);
        assert_eq!(score(5000.0, WORLD_SIZE_KM), 175);
        // antipodes: ~20015 km scores almost nothing.
        assert_eq!(score(20015.1, WORLD_SIZE_KM), 0);
    }

    #[test]
    fn smaller_maps_punish_distance_harder() {
        // A country-sized map (Russia-like, 8000 km) versus a city (30 km).
        assert_eq!(score(100.0, 8000.0), 4412);
        assert_eq!(score(3.0, 30.0), 1839);
        assert_eq!(score(f64::NAN, 100.0), 0);
        assert_eq!(score(10.0, 0.0), 0);
    }

    fn map_of(n: usize) -> Map {
        let locations = (0..n)
            .map(|i| Location {
                id: format!("l{i}"),
                pos: LatLon::new(i as f64, i as f64).unwrap(),
                country: None,
                place: None,
                imagery: Imagery::Generated,
            })
            .collect();
        Map {
            id: "m".into(),
            name: "m".into(),
            synthetic: true,
            size_km: WORLD_SIZE_KM,
            view: Bounds::WORLD,
            attribution: None,
            locations,
        }
    }

    #[test]
    fn challenge_is_deterministic_and_distinct() {
        let m = map_of(40);
        let a = Challenge::new(&m, 7, 5);
        let b = Challenge::new(&m, 7, 5);
        let c = Challenge::new(&m, 8, 5);
        assert_eq!(a, b);
        assert_ne!(a.location_ids, c.location_ids);
        let mut ids = a.location_ids.clone();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5);
        assert_eq!(a.id(), "m-7-5");
    }

    #[test]
    fn a_secret_key_changes_the_places_and_the_public_key_does_not() {
        let m = map_of(80);
        let public = Challenge::with_key(&m, 7, 5, &ChallengeKey::PUBLIC);
        assert_eq!(public, Challenge::new(&m, 7, 5));
        let k = ChallengeKey::generate();
        let a = Challenge::with_key(&m, 7, 5, &k);
        assert_eq!(a, Challenge::with_key(&m, 7, 5, &k));
        assert_eq!(a.id(), public.id());
        assert_ne!(a.location_ids, public.location_ids);
        assert_ne!(
            a.location_ids,
            Challenge::with_key(&m, 7, 5, &ChallengeKey::generate()).location_ids
        );
        // A shorter challenge of the same seed is not a prefix of the longer one (it was with
        // the public key, which let `world-7-3` spoil `world-7-5`).
        let short = Challenge::with_key(&m, 7, 3, &k);
        assert_ne!(short.location_ids[..], a.location_ids[..3]);
    }

    #[test]
    fn challenge_longer_than_map_repeats() {
        let m = map_of(3);
        assert_eq!(Challenge::new(&m, 1, 7).location_ids.len(), 7);
        assert!(Challenge::new(&map_of(0), 1, 5).location_ids.is_empty());
    }

    #[test]
    fn size_from_locations_is_the_diagonal() {
        let m = map_of(11); // (0,0)..(10,10)
        let d = Map::size_from_locations(&m.locations);
        assert!((d - 1568.5).abs() < 1.0, "{d}");
    }
}
