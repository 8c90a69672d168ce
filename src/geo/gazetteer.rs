//! An offline gazetteer of real places that road signs near the built-in locations point to.
//!
//! This module owns [`PLACES`]: for every built-in site, two or more real towns nearby, with the
//! name as local road signs spell it in Latin letters, the name in the local script where signs
//! show one (Arabic, Cyrillic, Greek, Thai, Devanagari, Kannada, Malayalam, Sinhala, Japanese
//! kanji, Korean Hangul, Irish), and coordinates. The coordinates are those of the GeoNames
//! "cities1000" record bundled with the `reverse_geocoder` crate (CC BY 4.0, GeoNames); the
//! unit tests check every row against that data set, so a mistyped coordinate fails the build's
//! tests. The local-script names are curated by hand, because GeoNames' alternate names are not
//! available offline; the tests check each one is in the script its country signs in.
//!
//! [`nearby`] picks the places a sign at a position shows, and [`sign_distance`] turns a
//! great-circle distance into the figure a sign prints (whole kilometres, or whole miles where
//! signs use miles). Distances are straight-line, not by road: road distances are not available
//! offline, and a straight-line figure never overstates how close a place is.

use super::LatLon;

/// One real place a road sign can name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    /// ISO 3166-1 alpha-2 of the country the place is in, upper case.
    pub country: &'static str,
    /// The name as local road signs write it in Latin letters.
    pub name: &'static str,
    /// The name in the local script, shown above the Latin name as bilingual signs do; `None`
    /// where signs are in Latin letters only.
    pub local: Option<&'static str>,
    /// The GeoNames name when it differs from `name` (empty when equal), for the data check.
    pub geonames: &'static str,
    pub lat: f64,
    pub lon: f64,
}

impl Place {
    pub fn pos(&self) -> LatLon {
        LatLon {
            lat: self.lat,
            lon: self.lon,
        }
    }

    /// The name this place has in the GeoNames data set.
    pub(crate) fn geonames_name(&self) -> &'static str {
        if self.geonames.is_empty() {
            self.name
        } else {
            self.geonames
        }
    }
}

/// How a country's road signs give distances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistanceUnit {
    Kilometres,
    Miles,
}

/// Countries whose road signs give distances in miles.
pub(crate) const MILES: &[&str] = &["GB", "US"];

/// Kilometres in a statute mile.
const KM_PER_MILE: f64 = 1.609_344;

/// Places closer than this (km) are the town the viewer is in, not a destination: a sign there
/// would name the answer.
pub(crate) const MIN_SIGN_KM: f64 = 5.0;
/// Farthest (km) a destination on a sign may be: long-distance signs in the outback name towns
/// over a thousand kilometres away, nowhere farther.
pub(crate) const MAX_SIGN_KM: f64 = 1_400.0;

/// The unit `country`'s signs use.
pub(crate) fn distance_unit(country: &str) -> DistanceUnit {
    if MILES.iter().any(|c| c.eq_ignore_ascii_case(country)) {
        DistanceUnit::Miles
    } else {
        DistanceUnit::Kilometres
    }
}

/// The distance as a sign prints it: whole units, at least 1.
pub(crate) fn sign_distance(km: f64, unit: DistanceUnit) -> u32 {
    let v = match unit {
        DistanceUnit::Kilometres => km,
        DistanceUnit::Miles => km / KM_PER_MILE,
    };
    v.round().max(1.0) as u32
}

/// Up to `n` places in `country` between [`MIN_SIGN_KM`] and `max_km` from `pos`, nearest
/// first, each with its great-circle distance (km).
pub(crate) fn nearby(
    pos: LatLon,
    country: &str,
    max_km: f64,
    n: usize,
) -> Vec<(&'static Place, f64)> {
    let mut found: Vec<(&'static Place, f64)> = PLACES
        .iter()
        .filter(|p| p.country.eq_ignore_ascii_case(country))
        .map(|p| (p, pos.distance_km(&p.pos())))
        .filter(|(_, d)| (MIN_SIGN_KM..=max_km).contains(d))
        .collect();
    found.sort_by(|a, b| a.1.total_cmp(&b.1));
    found.truncate(n);
    found
}

/// Initial great-circle bearing (degrees clockwise from north, 0..360) from `a` to `b`.
pub(crate) fn bearing_deg(a: LatLon, b: LatLon) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dl = (b.lon - a.lon).to_radians();
    let y = dl.sin() * p2.cos();
    let x = p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos();
    y.atan2(x).to_degrees().rem_euclid(360.0)
}

const fn p(
    country: &'static str,
    name: &'static str,
    local: Option<&'static str>,
    geonames: &'static str,
    lat: f64,
    lon: f64,
) -> Place {
    Place {
        country,
        name,
        local,
        geonames,
        lat,
        lon,
    }
}

/// The places, grouped by the built-in site they are near (the comment gives the distance).
#[rustfmt::skip]
pub const PLACES: &[Place] = &[
    p("KE", "Nakuru", None, "", -0.2833, 36.0667), // 63 km
    p("KE", "Nairobi", None, "", -1.2833, 36.8167), // 76 km
    p("KE", "Nyeri", None, "", -0.4201, 36.9476), // 51 km
    p("KE", "Isiolo", None, "", 0.3546, 37.5822), // 68 km
    p("TZ", "Arusha", None, "", -3.3667, 36.6833), // 112 km
    p("TZ", "Mto wa Mbu", None, "", -3.3500, 35.8500), // 20 km
    p("UG", "Masaka", None, "", -0.3338, 31.7341), // 124 km
    p("UG", "Kabale", None, "", -1.2486, 29.9899), // 103 km
    p("RW", "Kigali", None, "", -1.9500, 30.0588), // 69 km
    p("RW", "Gisenyi", None, "", -1.7028, 29.2564), // 48 km
    p("ZA", "Jansenville", None, "", -32.9431, 24.6722), // 78 km
    p("ZA", "Cradock", None, "", -32.1642, 25.6192), // 103 km
    p("ZA", "Paarl", None, "", -33.7338, 18.9752), // 24 km
    p("ZA", "Cape Town", None, "", -33.9258, 18.4232), // 41 km
    p("ZA", "White River", None, "", -25.3318, 31.0117), // 34 km
    p("ZA", "Mbombela", None, "Nelspruit", -25.4745, 30.9703), // 50 km
    p("NA", "Maltahöhe", None, "Maltahohe", -24.8333, 16.9833), // 126 km
    p("NA", "Mariental", None, "", -24.6333, 17.9667), // 220 km
    p("BW", "Ghanzi", None, "", -21.5667, 21.7833), // 245 km
    p("BW", "Nata", None, "", -20.2167, 26.1833), // 289 km
    p("GH", "Obuasi", None, "", 6.2060, -1.6619), // 54 km
    p("GH", "Konongo", None, "", 6.6167, -1.2167), // 46 km
    p("SN", "Dakar", None, "", 14.6937, -17.4441), // 57 km
    p("SN", "Khombole", None, "", 14.7667, -16.7000), // 24 km
    p("MA", "Marrakech", Some("مراكش"), "Marrakesh", 31.6342, -7.9999), // 128 km
    p("MA", "Zagora", Some("زاكورة"), "", 30.3324, -5.8384), // 125 km
    p("MA", "Tétouan", Some("تطوان"), "Tetouan", 35.5784, -5.3684), // 47 km
    p("MA", "Ouazzane", Some("وزان"), "", 34.7971, -5.5822), // 51 km
    p("TN", "Nefta", Some("نفطة"), "", 33.8731, 7.8777), // 24 km
    p("TN", "Gafsa", Some("قفصة"), "", 34.4250, 8.7842), // 82 km
    p("EG", "Qena", Some("قنا"), "Qina", 26.1642, 32.7267), // 54 km
    p("EG", "Esna", Some("إسنا"), "Isna", 25.2934, 32.5540), // 45 km
    p("JP", "Asahikawa", Some("旭川"), "", 43.7706, 142.3649), // 48 km
    p("JP", "Ashibetsu", Some("芦別"), "", 43.5097, 142.1856), // 25 km
    p("JP", "Gujo", Some("郡上"), "", 35.7369, 136.9585), // 53 km
    p("JP", "Toyama", Some("富山"), "Toyama-shi", 36.6953, 137.2114), // 61 km
    p("KR", "Sokcho", Some("속초"), "", 38.2070, 128.5918), // 56 km
    p("KR", "Donghae", Some("동해"), "Tonghae", 37.5439, 129.1069), // 31 km
    p("TH", "Mae Sai", Some("แม่สาย"), "", 20.4335, 99.8762), // 58 km
    p("TH", "Phayao", Some("พะเยา"), "", 19.1920, 99.8788), // 80 km
    p("VN", "Lào Cai", None, "Lao Cai", 22.4856, 103.9707), // 21 km
    p("VN", "Lai Châu", None, "Lai Chau", 22.3964, 103.4582), // 40 km
    p("PH", "Lagawe", None, "", 16.8000, 121.1192), // 15 km
    p("PH", "Bontoc", None, "", 17.0873, 120.9768), // 21 km
    p("ID", "Denpasar", None, "", -8.6500, 115.2167), // 17 km
    p("ID", "Semarapura", None, "", -8.5346, 115.4022), // 16 km
    p("MY", "Ipoh", None, "", 4.5841, 101.0829), // 35 km
    p("MY", "Kampar", None, "", 4.3000, 101.1500), // 32 km
    p("LK", "Badulla", Some("බදුල්ල"), "", 6.9895, 81.0557), // 14 km
    p("LK", "Nuwara Eliya", Some("නුවරඑළිය"), "", 6.9708, 80.7829), // 31 km
    p("IN", "Kochi", Some("കൊച്ചി"), "Cochin", 9.9399, 76.2602), // 89 km
    p("IN", "Kothamangalam", Some("കോതമംഗലം"), "Kotamangalam", 10.0618, 76.6268), // 47 km
    p("IN", "Hosapete", Some("ಹೊಸಪೇಟೆ"), "Hospet", 15.2695, 76.3871), // 11 km
    p("IN", "Ballari", Some("ಬಳ್ಳಾರಿ"), "Bellary", 15.1457, 76.9175), // 53 km
    p("IN", "Barmer", Some("बाड़मेर"), "", 25.7457, 71.3921), // 139 km
    p("IN", "Pokaran", Some("पोकरण"), "", 26.9201, 71.9163), // 100 km
    p("NP", "Kathmandu", Some("काठमाडौं"), "", 27.7017, 85.3206), // 143 km
    p("NP", "Baglung", Some("बागलुङ"), "", 28.2719, 83.5897), // 39 km
    p("MN", "Ulaanbaatar", Some("Улаанбаатар"), "", 47.9077, 106.8832), // 315 km
    p("MN", "Arvaikheer", Some("Арвайхээр"), "Arvayheer", 46.2639, 102.7750), // 104 km
    p("KZ", "Shymkent", Some("Шымкент"), "", 42.3000, 69.6000), // 159 km
    p("KZ", "Karatau", Some("Қаратау"), "", 43.1667, 70.4667), // 79 km
    p("TR", "Nevşehir", None, "Nevsehir", 38.6250, 34.7122), // 10 km
    p("TR", "Ürgüp", None, "Urgub", 38.6296, 34.9120), // 7 km
    p("RU", "Irkutsk", Some("Иркутск"), "", 52.2978, 104.2964), // 63 km
    p("RU", "Shelekhov", Some("Шелехов"), "", 52.2139, 104.1000), // 66 km
    p("AE", "Abu Dhabi", Some("أبوظبي"), "", 24.4667, 54.3667), // 143 km
    p("AE", "Dubai", Some("دبي"), "", 25.0657, 55.1713), // 112 km
    p("GB", "Leyburn", None, "", 54.3100, -1.8304), // 24 km
    p("GB", "Sedbergh", None, "", 54.3212, -2.5251), // 21 km
    p("GB", "Fort William", None, "", 56.8165, -5.1121), // 93 km
    p("GB", "Inverness", None, "", 57.4791, -4.2240), // 118 km
    p("IE", "Tralee", Some("Trá Lí"), "", 52.2704, -9.7026), // 41 km
    p("IE", "Killarney", Some("Cill Airne"), "Cill Airne", 52.0500, -9.5167), // 52 km
    p("FR", "Cavaillon", None, "", 43.8312, 5.0359), // 16 km
    p("FR", "Apt", None, "", 43.8833, 5.4000), // 16 km
    p("FR", "Caen", None, "", 49.1859, -0.3591), // 27 km
    p("FR", "Saint-Lô", None, "Saint-Lo", 49.1162, -1.0903), // 33 km
    p("ES", "Marbella", None, "", 36.5154, -4.8858), // 36 km
    p("ES", "Sevilla", None, "", 37.3828, -5.9732), // 101 km
    p("ES", "Almería", None, "Almeria", 36.8381, -2.4597), // 24 km
    p("ES", "Sorbas", None, "", 37.0976, -2.1235), // 24 km
    p("PT", "Lisboa", None, "Lisbon", 38.7167, -9.1333), // 107 km
    p("PT", "Estremoz", None, "", 38.8443, -7.5858), // 42 km
    p("IT", "Montepulciano", None, "", 43.1000, 11.7870), // 9 km
    p("IT", "Siena", None, "", 43.3222, 11.3259), // 40 km
    p("GR", "Trikala", Some("Τρίκαλα"), "", 39.5549, 21.7684), // 21 km
    p("GR", "Ioannina", Some("Ιωάννινα"), "", 39.6649, 20.8519), // 66 km
    p("DE", "Freiburg", None, "", 47.9959, 7.8522), // 24 km
    p("DE", "Donaueschingen", None, "", 47.9551, 8.4971), // 27 km
    p("CH", "Interlaken", None, "", 46.6839, 7.8664), // 15 km
    p("CH", "Thun", None, "", 46.7512, 7.6217), // 35 km
    p("PL", "Nowy Targ", None, "", 49.4778, 20.0323), // 21 km
    p("PL", "Kraków", None, "Krakow", 50.0614, 19.9366), // 85 km
    p("RO", "Brașov", None, "Brasov", 45.6486, 25.6061), // 116 km
    p("RO", "Sebeș", None, "Sebes", 45.9565, 23.5710), // 46 km
    p("NO", "Otta", None, "", 61.7712, 9.5353), // 51 km
    p("NO", "Lillehammer", None, "", 61.1151, 10.4663), // 129 km
    p("SE", "Arjeplog", None, "", 66.0517, 17.8861), // 78 km
    p("SE", "Piteå", None, "Pitea", 65.3172, 21.4794), // 111 km
    p("FI", "Taivalkoski", None, "", 65.5667, 28.2500), // 62 km
    p("FI", "Oulu", None, "", 65.0124, 25.4682), // 202 km
    p("RU", "Vladimir", Some("Владимир"), "", 56.1365, 40.3966), // 33 km
    p("RU", "Ivanovo", Some("Иваново"), "", 56.9972, 40.9714), // 71 km
    p("US", "Monticello", None, "", 37.8714, -109.3429), // 80 km
    p("US", "Grand Junction", None, "", 39.0639, -108.5507), // 102 km
    p("US", "Alpine", None, "", 30.3586, -103.6621), // 35 km
    p("US", "Presidio", None, "", 29.5607, -104.3722), // 90 km
    p("US", "Morrisville", None, "", 44.5617, -72.5984), // 13 km
    p("US", "Burlington", None, "", 44.4759, -73.2121), // 42 km
    p("US", "Lafayette", None, "", 30.2241, -92.0198), // 13 km
    p("US", "Baton Rouge", None, "", 30.4507, -91.1546), // 74 km
    p("US", "Belgrade", None, "", 45.7760, -111.1769), // 15 km
    p("US", "Livingston", None, "", 45.6624, -110.5610), // 37 km
    p("US", "Garden City", None, "", 37.9717, -100.8727), // 79 km
    p("US", "Kinsley", None, "", 37.9231, -99.4098), // 57 km
    p("US", "Wasilla", None, "", 61.5814, -149.4394), // 89 km
    p("US", "Anchorage", None, "", 61.2181, -149.9003), // 123 km
    p("CA", "Hinton", None, "", 53.4001, -117.5857), // 67 km
    p("CA", "Edmonton", None, "", 53.5501, -113.4687), // 316 km
    p("CA", "Québec", None, "Quebec", 46.8123, -71.2145), // 88 km
    p("CA", "La Malbaie", None, "", 47.6540, -70.1527), // 35 km
    p("CA", "Medicine Hat", None, "", 50.0501, -110.6683), // 206 km
    p("CA", "Moose Jaw", None, "", 50.4001, -105.5345), // 161 km
    p("MX", "Oaxaca", None, "Oaxaca de Juarez", 17.0654, -96.7237), // 29 km
    p("MX", "Mitla", None, "San Pablo Villa de Mitla", 16.9228, -96.3599), // 13 km
    p("MX", "Mérida", None, "Merida", 20.9754, -89.6170), // 151 km
    p("MX", "Cancún", None, "Cancun", 21.1743, -86.8466), // 151 km
    p("MX", "Santa Rosalía", None, "Santa Rosalia", 27.3405, -112.2676), // 63 km
    p("MX", "Mulegé", None, "Mulege", 26.8914, -111.9826), // 101 km
    p("GT", "Ciudad de Guatemala", None, "Guatemala City", 14.6407, -90.5133), // 25 km
    p("GT", "Chimaltenango", None, "", 14.6611, -90.8194), // 15 km
    p("CR", "Ciudad Quesada", None, "Quesada", 10.3238, -84.4271), // 28 km
    p("CR", "San Ramón", None, "San Ramon", 10.0880, -84.4702), // 46 km
    p("BR", "Angra dos Reis", None, "", -23.0067, -44.3181), // 47 km
    p("BR", "Ubatuba", None, "", -23.4339, -45.0711), // 44 km
    p("BR", "Cavalcante", None, "", -13.7975, -47.4583), // 37 km
    p("BR", "Brasília", None, "Brasilia", -15.7797, -47.9297), // 189 km
    p("BR", "Canela", None, "", -29.3562, -50.8136), // 6 km
    p("BR", "Caxias do Sul", None, "", -29.1681, -51.1794), // 38 km
    p("AR", "Salta", None, "", -24.7859, -65.4117), // 154 km
    p("AR", "Santa María", None, "Santa Maria", -26.6955, -66.0473), // 70 km
    p("AR", "Río Gallegos", None, "Rio Gallegos", -51.6226, -69.2181), // 257 km
    p("AR", "Río Turbio", None, "Rio Turbio", -51.5359, -72.3367), // 133 km
    p("AR", "Luján", None, "Lujan", -34.5703, -59.1050), // 49 km
    p("AR", "Capitán Sarmiento", None, "Capitan Sarmiento", -34.1727, -59.7899), // 30 km
    p("CL", "Calama", None, "", -22.4559, -68.9301), // 90 km
    p("CL", "Antofagasta", None, "", -23.6524, -70.3954), // 239 km
    p("CL", "Puerto Montt", None, "", -41.4657, -72.9429), // 17 km
    p("CL", "Osorno", None, "", -40.5740, -73.1335), // 84 km
    p("PE", "Cusco", None, "", -13.5226, -71.9673), // 29 km
    p("PE", "Ollantaytambo", None, "", -13.2572, -72.2631), // 17 km
    p("CO", "Armenia", None, "", 4.5339, -75.6811), // 17 km
    p("CO", "Pereira", None, "", 4.8133, -75.6961), // 24 km
    p("EC", "Ibarra", None, "", 0.3517, -78.1223), // 20 km
    p("EC", "Quito", None, "", -0.2298, -78.5250), // 59 km
    p("BO", "Potosí", None, "Potosi", -19.5836, -65.7531), // 148 km
    p("BO", "Tupiza", None, "", -21.4434, -65.7188), // 159 km
    p("UY", "Montevideo", None, "", -34.9033, -56.1882), // 159 km
    p("UY", "Rosario", None, "", -34.3167, -57.3500), // 48 km
    p("AU", "Tennant Creek", None, "", -19.6497, 134.1915), // 451 km
    p("AU", "Darwin", None, "", -12.4611, 130.8418), // 1290 km
    p("AU", "Mildura", None, "", -34.1855, 142.1625), // 257 km
    p("AU", "Adelaide", None, "", -34.9287, 138.5986), // 424 km
    p("AU", "Busselton", None, "", -33.6525, 115.3455), // 42 km
    p("AU", "Augusta", None, "", -34.3157, 115.1592), // 41 km
    p("AU", "Cairns", None, "", -16.9230, 145.7663), // 18 km
    p("AU", "Mareeba", None, "", -16.9950, 145.4232), // 30 km
    p("AU", "Launceston", None, "", -41.4388, 147.1347), // 41 km
    p("AU", "Devonport", None, "", -41.1769, 146.3515), // 46 km
    p("AU", "Mount Beauty", None, "", -36.7363, 147.1753), // 19 km
    p("AU", "Wangaratta", None, "", -36.3585, 146.3206), // 70 km
    p("NZ", "Timaru", None, "", -44.4000, 171.2500), // 76 km
    p("NZ", "Christchurch", None, "", -43.5333, 172.6333), // 163 km
    p("NZ", "Taupō", None, "Taupo", -38.6833, 176.0833), // 62 km
    p("NZ", "Tauranga", None, "", -37.6861, 176.1667), // 51 km
    p("NZ", "Greymouth", None, "", -42.4667, 171.2000), // 34 km
    p("NZ", "Westport", None, "", -41.7526, 171.6037), // 119 km
    p("FJ", "Nadi", None, "", -17.8000, 177.4167), // 39 km
    p("FJ", "Suva", None, "", -18.1416, 178.4415), // 99 km
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::builtin::SITES;
    use crate::geo::reverse;
    use std::collections::HashSet;

    #[test]
    fn every_place_is_its_geonames_record() {
        for p in PLACES {
            assert!(LatLon::new(p.lat, p.lon).is_ok(), "{}", p.name);
            let c = reverse::nearest_city(p.pos()).expect("bundled GeoNames data");
            assert_eq!(
                c.name,
                p.geonames_name(),
                "{} ({}, {}): the nearest GeoNames place is {} at {:.2} km",
                p.name,
                p.lat,
                p.lon,
                c.name,
                c.distance_km
            );
            // Four decimals in the table: within about 10 m of the record.
            assert!(c.distance_km < 0.05, "{}: {} km off", p.name, c.distance_km);
            assert_eq!(c.country, p.country, "{}", p.name);
        }
    }

    #[test]
    fn every_site_has_two_real_destinations_nearby() {
        for s in SITES {
            let pos = LatLon::new(s.lat, s.lon).expect("valid site");
            let found = nearby(pos, s.country, MAX_SIGN_KM, 10);
            assert!(
                found.len() >= 2,
                "{} has {} destinations",
                s.id,
                found.len()
            );
            // The two a sign shows: real neighbours, not across the continent (the outback's
            // next towns are the exception: Alice Springs' are 450 km and more away).
            let limit = if s.id == "au-alice-springs" {
                MAX_SIGN_KM
            } else {
                450.0
            };
            for (p, km) in found.iter().take(2) {
                assert!(
                    (MIN_SIGN_KM..=limit).contains(km),
                    "{}: {} is {km:.0} km away",
                    s.id,
                    p.name
                );
            }
        }
    }

    #[test]
    fn table_rows_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for p in PLACES {
            assert!(seen.insert((p.country, p.name)), "duplicate {}", p.name);
            assert!(p.country.len() == 2 && p.country.chars().all(|c| c.is_ascii_uppercase()));
            assert!(!p.name.trim().is_empty());
            assert_ne!(
                p.geonames, p.name,
                "{}: leave geonames empty when equal",
                p.name
            );
            if let Some(l) = p.local {
                assert_ne!(l, p.name, "{}: local name equals the Latin one", p.name);
            }
        }
    }

    #[test]
    fn nearby_sorts_filters_and_limits() {
        // Bayeux: Caen (27 km) before Saint-Lô (33 km); nothing from another country.
        let bayeux = LatLon::new(49.2764, -0.7024).unwrap();
        let got = nearby(bayeux, "fr", MAX_SIGN_KM, 2);
        let names: Vec<&str> = got.iter().map(|(p, _)| p.name).collect();
        assert_eq!(names, ["Caen", "Saint-Lô"]);
        assert!((got[0].1 - 26.7).abs() < 1.0, "{}", got[0].1);
        assert!(nearby(bayeux, "DE", 100.0, 5).is_empty());
        // A point on a listed place does not name it (it is where the viewer is).
        let caen = LatLon::new(49.1859, -0.3591).unwrap();
        assert!(nearby(caen, "FR", 100.0, 5)
            .iter()
            .all(|(p, _)| p.name != "Caen"));
        assert_eq!(nearby(bayeux, "FR", 30.0, 5).len(), 1);
    }

    #[test]
    fn sign_distances_round_in_the_local_unit() {
        assert_eq!(distance_unit("US"), DistanceUnit::Miles);
        assert_eq!(distance_unit("gb"), DistanceUnit::Miles);
        assert_eq!(distance_unit("IE"), DistanceUnit::Kilometres);
        assert_eq!(sign_distance(26.7, DistanceUnit::Kilometres), 27);
        assert_eq!(sign_distance(80.47, DistanceUnit::Miles), 50);
        assert_eq!(sign_distance(0.2, DistanceUnit::Kilometres), 1);
    }

    #[test]
    fn bearings_point_the_right_way() {
        let o = LatLon::new(0.0, 0.0).unwrap();
        let b = |lat, lon| bearing_deg(o, LatLon::new(lat, lon).unwrap());
        assert!(b(1.0, 0.0) < 0.01 || b(1.0, 0.0) > 359.99);
        assert!((b(0.0, 1.0) - 90.0).abs() < 0.01);
        assert!((b(-1.0, 0.0) - 180.0).abs() < 0.01);
        assert!((b(0.0, -1.0) - 270.0).abs() < 0.01);
    }
}
