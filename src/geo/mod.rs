//! Coordinates on the Earth and distances between them.
//!
//! Everything that turns two positions into kilometres lives here, so scoring, statistics and the
//! map projection all agree on the same sphere. [`reverse`] turns a position back into a
//! country and the nearest populated place, offline.

pub mod gazetteer;
pub mod reverse;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Mean Earth radius (IUGG), the radius GeoGuessr-style scoring and the geolocation literature use.
pub(crate) const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A bad coordinate, named by which half is wrong.
#[derive(Debug, Error, PartialEq)]
pub enum GeoError {
    #[error("latitude {0} is outside -90..=90 (or not a number)")]
    Latitude(f64),
    #[error("longitude {0} is outside -180..=180 (or not a number)")]
    Longitude(f64),
}

/// A point on the Earth in decimal degrees (WGS84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

impl LatLon {
    /// A checked coordinate: latitude within ±90, longitude within ±180, neither NaN.
    pub fn new(lat: f64, lon: f64) -> Result<Self, GeoError> {
        if !(-90.0..=90.0).contains(&lat) {
            return Err(GeoError::Latitude(lat));
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(GeoError::Longitude(lon));
        }
        Ok(Self { lat, lon })
    }

    /// Great-circle distance in kilometres (haversine; exact enough for scoring, stable near 0).
    pub fn distance_km(&self, other: &LatLon) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

impl std::fmt::Display for LatLon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.4}, {:.4}", self.lat, self.lon)
    }
}

/// Wraps any longitude into -180..=180.
pub(crate) fn wrap_lon(lon: f64) -> f64 {
    let w = (lon + 180.0).rem_euclid(360.0) - 180.0;
    if w == -180.0 && lon > 0.0 {
        180.0
    } else {
        w
    }
}

/// A latitude/longitude box; `west > east` is not supported (maps crossing the antimeridian
/// are given as the whole longitude range).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

impl Bounds {
    pub const WORLD: Bounds = Bounds {
        south: -90.0,
        west: -180.0,
        north: 90.0,
        east: 180.0,
    };

    /// The smallest box holding every point.
    pub fn around<'a>(points: impl IntoIterator<Item = &'a LatLon>) -> Option<Bounds> {
        let mut it = points.into_iter();
        let first = it.next()?;
        let mut b = Bounds {
            south: first.lat,
            west: first.lon,
            north: first.lat,
            east: first.lon,
        };
        for p in it {
            b.south = b.south.min(p.lat);
            b.north = b.north.max(p.lat);
            b.west = b.west.min(p.lon);
            b.east = b.east.max(p.lon);
        }
        Some(b)
    }

    /// The great-circle length of the box's diagonal: GeoGuessr's "map size" for scoring.
    pub(crate) fn diagonal_km(&self) -> f64 {
        LatLon {
            lat: self.south,
            lon: self.west,
        }
        .distance_km(&LatLon {
            lat: self.north,
            lon: self.east,
        })
    }
}

/// `samples + 1` points along the great circle from `a` to `b` (spherical linear interpolation),
/// as (lon, lat) degrees, the order map projections take.
pub(crate) fn great_circle_points(a: LatLon, b: LatLon, samples: usize) -> Vec<(f64, f64)> {
    let to_vec = |p: LatLon| {
        let (la, lo) = (p.lat.to_radians(), p.lon.to_radians());
        [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
    };
    let (u, v) = (to_vec(a), to_vec(b));
    let dot = (u[0] * v[0] + u[1] * v[1] + u[2] * v[2]).clamp(-1.0, 1.0);
    let omega = dot.acos();
    let n = samples.max(1);
    (0..=n)
        .map(|i| {
            let t = i as f64 / n as f64;
            let (wa, wb) = if omega.abs() < 1e-9 {
                (1.0 - t, t)
            } else {
                (
                    ((1.0 - t) * omega).sin() / omega.sin(),
                    (t * omega).sin() / omega.sin(),
                )
            };
            let p = [0, 1, 2].map(|k| wa * u[k] + wb * v[k]);
            let lat = p[2].atan2((p[0] * p[0] + p[1] * p[1]).sqrt()).to_degrees();
            let lon = p[1].atan2(p[0]).to_degrees();
            (lon, lat)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_paris_london() {
        let paris = LatLon::new(48.8566, 2.3522).unwrap();
        let london = LatLon::new(51.5074, -0.1278).unwrap();
        let d = paris.distance_km(&london);
        assert!((d - 343.5).abs() < 1.0, "{d}");
    }

    #[test]
    fn antipodes_are_half_the_circumference() {
        let a = LatLon::new(10.0, 20.0).unwrap();
        let b = LatLon::new(-10.0, -160.0).unwrap();
        let half = std::f64::consts::PI * EARTH_RADIUS_KM;
        assert!((a.distance_km(&b) - half).abs() < 1e-3);
    }

    #[test]
    fn distance_is_zero_to_itself_and_symmetric() {
        let a = LatLon::new(-33.9, 151.2).unwrap();
        let b = LatLon::new(35.7, 139.7).unwrap();
        assert_eq!(a.distance_km(&a), 0.0);
        assert!((a.distance_km(&b) - b.distance_km(&a)).abs() < 1e-9);
    }

    #[test]
    fn rejects_out_of_range_and_nan() {
        assert_eq!(LatLon::new(91.0, 0.0), Err(GeoError::Latitude(91.0)));
        assert_eq!(LatLon::new(0.0, -180.5), Err(GeoError::Longitude(-180.5)));
        assert!(LatLon::new(f64::NAN, 0.0).is_err());
        assert!(LatLon::new(0.0, f64::NAN).is_err());
    }

    #[test]
    fn wraps_longitudes() {
        assert_eq!(wrap_lon(190.0), -170.0);
        assert_eq!(wrap_lon(-190.0), 170.0);
        assert_eq!(wrap_lon(180.0), 180.0);
        assert_eq!(wrap_lon(-180.0), -180.0);
        assert_eq!(wrap_lon(540.0), 180.0);
    }

    #[test]
    fn world_diagonal_is_geoguessr_world_size() {
        // The world box's diagonal is a pole-to-pole great circle: half the circumference.
        assert!((Bounds::WORLD.diagonal_km() - 20015.1).abs() < 1.0);
    }
}
