//! Offline reverse geocoding: which country a point is in, which populated place is nearest, and
//! which continent a country belongs to. No network, ever: the data ships inside the binary.
//!
//! - Country: point-in-polygon against the OpenStreetMap-derived boundaries bundled with the
//!   `country-boundaries` crate (ODbL, © OpenStreetMap contributors). Polygons, not "country of
//!   the nearest city", because near a border the nearest city is often across it. The data
//!   ignores sea borders, so a point at sea has no country (`None`).
//! - Nearest place: the GeoNames populated places (about 144,000, population ≥ 1000) bundled with
//!   the `reverse_geocoder` crate (CC BY 4.0, GeoNames), searched with a k-d tree on the unit
//!   sphere (chord length is monotone in great-circle distance, so the nearest is exact).
//! - Continent: a table in this file, GeoNames' seven continent convention (Russia is Europe,
//!   Turkey Asia, the Caribbean North America).
//!
//! Each data set is parsed once, on first use, and shared (`OnceLock`).

use super::LatLon;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use thiserror::Error;
use tracing::error;

/// The bundled data could not be read: a build problem, not a user mistake.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum ReverseError {
    #[error("the bundled country boundaries (country-boundaries crate) could not be read: {0}; rebuild geoagent")]
    Boundaries(String),
}

/// A populated place from GeoNames, with how far it is from the point asked about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct City {
    pub name: String,
    /// First-level administrative division (state, oblast, region) as GeoNames names it.
    pub admin1: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    pub lat: f64,
    pub lon: f64,
    /// Great-circle distance from the query point.
    pub distance_km: f64,
}

impl City {
    /// Two lookups found the same place (GeoNames has distinct places sharing a name).
    pub(crate) fn same_place(&self, other: &City) -> bool {
        self.name == other.name
            && self.country == other.country
            && self.lat == other.lat
            && self.lon == other.lon
    }
}

fn boundaries() -> &'static Result<country_boundaries::CountryBoundaries, ReverseError> {
    static DATA: OnceLock<Result<country_boundaries::CountryBoundaries, ReverseError>> =
        OnceLock::new();
    DATA.get_or_init(|| {
        // The 360x180 raster: 1° cells, the fastest queries for ~1 MB of data.
        country_boundaries::CountryBoundaries::from_reader(
            country_boundaries::BOUNDARIES_ODBL_360X180,
        )
        .map_err(|e| ReverseError::Boundaries(e.to_string()))
    })
}

fn places() -> &'static reverse_geocoder::ReverseGeocoder {
    static DATA: OnceLock<reverse_geocoder::ReverseGeocoder> = OnceLock::new();
    DATA.get_or_init(reverse_geocoder::ReverseGeocoder::new)
}

/// Loads the country data now, so a command can fail early with a clear message instead of
/// reporting every country as unknown.
pub fn check() -> Result<(), ReverseError> {
    boundaries().as_ref().map(|_| ()).map_err(Clone::clone)
}

/// The ISO 3166-1 alpha-2 code (upper case) of the country containing `p`; `None` at sea, in
/// Antarctica's unclaimed parts, or if the bundled data is unreadable (logged).
///
/// Where a dependent territory lies inside its sovereign's polygon (Puerto Rico in the US), the
/// territory's own code wins: it is the smallest area with a plain two-letter id, which is what a
/// GeoGuessr player would call the country.
pub fn country(p: LatLon) -> Option<String> {
    let data = match boundaries() {
        Ok(d) => d,
        Err(e) => {
            error!("{e}");
            return None;
        }
    };
    let q = country_boundaries::LatLon::new(p.lat, p.lon).ok()?;
    // ids() is sorted from the smallest area to the largest; subdivisions carry a '-'.
    data.ids(q)
        .into_iter()
        .find(|id| id.len() == 2 && id.bytes().all(|b| b.is_ascii_uppercase()))
        .map(str::to_owned)
}

/// The nearest GeoNames populated place to `p`. Always `Some` for a valid point (the list is
/// never empty); the `Option` leaves room for data sets that are.
pub(crate) fn nearest_city(p: LatLon) -> Option<City> {
    let found = places().search((p.lat, p.lon));
    let r = found.record;
    let pos = LatLon::new(r.lat, r.lon).ok()?;
    Some(City {
        name: r.name.clone(),
        admin1: r.admin1.clone(),
        country: r.cc.to_ascii_uppercase(),
        lat: r.lat,
        lon: r.lon,
        distance_km: p.distance_km(&pos),
    })
}

/// The seven continents, as GeoNames assigns countries to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Continent {
    Africa,
    Antarctica,
    Asia,
    Europe,
    NorthAmerica,
    Oceania,
    SouthAmerica,
}

impl Continent {
    pub fn name(self) -> &'static str {
        match self {
            Continent::Africa => "Africa",
            Continent::Antarctica => "Antarctica",
            Continent::Asia => "Asia",
            Continent::Europe => "Europe",
            Continent::NorthAmerica => "North America",
            Continent::Oceania => "Oceania",
            Continent::SouthAmerica => "South America",
        }
    }
}

impl std::fmt::Display for Continent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const AFRICA: &str = "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM \
    LR LS LY MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW";
const ANTARCTICA: &str = "AQ BV GS HM TF";
const ASIA: &str = "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW \
    KZ LA LB LK MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE";
const EUROPE: &str = "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE \
    IM IS IT JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK";
const NORTH_AMERICA: &str = "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN \
    KY LC MF MQ MS MX NI PA PM PR SV SX TC TT US VC VG VI";
const OCEANIA: &str =
    "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS";
const SOUTH_AMERICA: &str = "AR BO BR CL CO EC FK GF GY PE PY SR UY VE";

/// The continent of an ISO 3166-1 alpha-2 code (either case); `None` for codes not in the table.
pub fn continent(iso2: &str) -> Option<Continent> {
    let code = iso2.trim().to_ascii_uppercase();
    if code.len() != 2 {
        return None;
    }
    [
        (AFRICA, Continent::Africa),
        (ANTARCTICA, Continent::Antarctica),
        (ASIA, Continent::Asia),
        (EUROPE, Continent::Europe),
        (NORTH_AMERICA, Continent::NorthAmerica),
        (OCEANIA, Continent::Oceania),
        (SOUTH_AMERICA, Continent::SouthAmerica),
    ]
    .into_iter()
    .find(|(codes, _)| codes.split_whitespace().any(|c| c == code))
    .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ll(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).unwrap()
    }

    #[test]
    fn countries_by_polygon() {
        assert_eq!(country(ll(48.8566, 2.3522)).as_deref(), Some("FR"));
        assert_eq!(country(ll(-33.8688, 151.2093)).as_deref(), Some("AU"));
        assert_eq!(country(ll(35.6762, 139.6503)).as_deref(), Some("JP"));
        assert_eq!(country(ll(55.7558, 37.6173)).as_deref(), Some("RU"));
        // US state subdivisions are in the data; the answer is still the country.
        assert_eq!(country(ll(32.7767, -96.797)).as_deref(), Some("US"));
    }

    #[test]
    fn lake_geneva_is_split_along_the_border() {
        // On the water, off Lausanne (north shore, Swiss) and off Évian (south shore, French):
        // the nearest-city answer for the first would also be Swiss, but the polygon decides.
        assert_eq!(country(ll(46.45, 6.60)).as_deref(), Some("CH"));
        assert_eq!(country(ll(46.42, 6.60)).as_deref(), Some("FR"));
    }

    #[test]
    fn near_a_border_the_polygon_beats_the_nearest_city() {
        // Kehl (DE) sits across the Rhine from Strasbourg (FR), whose centre is ~3 km away.
        let kehl_east = ll(48.5700, 7.8300);
        assert_eq!(country(kehl_east).as_deref(), Some("DE"));
        // German exclave of Büsingen inside Switzerland.
        assert_eq!(country(ll(47.6973, 8.6910)).as_deref(), Some("DE"));
    }

    #[test]
    fn open_ocean_has_no_country() {
        // Mid North Atlantic and mid South Pacific. (Not 0°, 30°W: Brazil's waters around
        // the St Peter and St Paul Rocks reach there.)
        assert_eq!(country(ll(30.0, -45.0)), None);
        assert_eq!(country(ll(-45.0, -130.0)), None);
    }

    #[test]
    fn nearest_city_is_a_real_place_with_its_distance() {
        let c = nearest_city(ll(48.8566, 2.3522)).unwrap();
        assert_eq!(c.country, "FR");
        assert!(c.distance_km < 5.0, "{c:?}");
        let s = nearest_city(ll(-33.8688, 151.2093)).unwrap();
        assert_eq!(s.country, "AU");
        assert!(s.distance_km < 10.0, "{s:?}");
        // The distance is recomputed on the sphere, not the k-d tree's squared chord.
        let back = ll(s.lat, s.lon).distance_km(&ll(-33.8688, 151.2093));
        assert!((back - s.distance_km).abs() < 1e-9);
        // Mid-ocean still has a nearest place, far away.
        let far = nearest_city(ll(-45.0, -130.0)).unwrap();
        assert!(far.distance_km > 1000.0, "{far:?}");
        assert!(c.same_place(&c.clone()));
        assert!(!c.same_place(&s));
    }

    #[test]
    fn continents() {
        assert_eq!(continent("FR"), Some(Continent::Europe));
        assert_eq!(continent("ru"), Some(Continent::Europe));
        assert_eq!(continent("AU"), Some(Continent::Oceania));
        assert_eq!(continent("BR"), Some(Continent::SouthAmerica));
        assert_eq!(continent("PR"), Some(Continent::NorthAmerica));
        assert_eq!(continent("KE"), Some(Continent::Africa));
        assert_eq!(continent("JP"), Some(Continent::Asia));
        assert_eq!(continent("AQ"), Some(Continent::Antarctica));
        assert_eq!(continent("ZZ"), None);
        assert_eq!(continent("FRA"), None);
        assert_eq!(Continent::NorthAmerica.to_string(), "North America");
    }

    #[test]
    fn continent_table_has_no_duplicates() {
        let all: Vec<&str> = [
            AFRICA,
            ANTARCTICA,
            ASIA,
            EUROPE,
            NORTH_AMERICA,
            OCEANIA,
            SOUTH_AMERICA,
        ]
        .iter()
        .flat_map(|s| s.split_whitespace())
        .collect();
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
        assert!(all.iter().all(|c| c.len() == 2));
    }
}
