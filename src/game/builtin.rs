//! The built-in world map and the real-world facts the panorama painter draws from.
//!
//! This module owns the data table of built-in locations ([`SITES`]), the per-country tables the
//! painter needs (which side traffic drives on, [`LEFT_DRIVING`]; typical rural road markings,
//! [`COUNTRY_MARKINGS`]) and [`scene_facts`], which turns any [`Location`] into the facts a
//! synthetic panorama may show. Every fact is something a person standing on that road could
//! see: vegetation, soil, road surface, line colours, driving side, the sun's place in the sky.
//! None of it is a name or a coordinate.

use super::{Imagery, Location, Map, WORLD_SIZE_KM};
use crate::geo::{Bounds, LatLon};

/// Id of the built-in map.
pub(crate) const BUILTIN_MAP_ID: &str = "world";
/// Display name of the built-in map; "Synthetic" because its panoramas are painted, not photos.
pub(crate) const BUILTIN_MAP_NAME: &str = "Synthetic World";

/// The continent a location lies on (for coverage statistics and tests, never shown): the one
/// continent type of the crate, GeoNames' seven.
pub use crate::geo::reverse::Continent;

/// The climate and vegetation band, which picks the painter's ground and tree palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Climate {
    /// Bare sand or rock, sparse scrub.
    Desert,
    /// Dry grass and low bushes (steppe, prairie, Karoo, outback).
    AridSteppe,
    /// Golden grass, olive-green shrubs, cypresses and pines.
    Mediterranean,
    /// Green fields, deciduous trees and hedges.
    Temperate,
    /// Conifer forest, moss and birch.
    Boreal,
    /// Dense deep-green forest and palms.
    Tropical,
    /// Tall golden grass with scattered flat-topped trees.
    Savanna,
    /// Tussock, rock and snow-capped mountains.
    Alpine,
}

/// What the road at the location is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    /// Asphalt with painted lines.
    Paved,
    /// Gravel or dirt, no lines.
    Unpaved,
}

/// Which side of the road traffic keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DrivingSide {
    Left,
    Right,
}

/// Paint colour of a road line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineColour {
    White,
    Yellow,
}

/// How a road line is drawn along the road.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinePattern {
    /// No line at all.
    None,
    /// Short dashes with longer gaps.
    Dashed,
    /// One continuous line.
    Solid,
    /// Two continuous lines side by side (North American no-passing centre line).
    DoubleSolid,
}

/// One road line: colour and pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Line {
    pub colour: LineColour,
    pub pattern: LinePattern,
}

/// The typical markings of a rural two-lane road in a country.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Markings {
    pub centre: Line,
    pub edge: Line,
}

/// One country's road-marking habit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountryMarkings {
    /// ISO 3166-1 alpha-2, upper case.
    pub country: &'static str,
    pub markings: Markings,
}

/// One built-in location: the answer (id, place, coordinates, country) and the facts the painter
/// shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    /// Stable slug, used by replays and human results; never change an existing one.
    pub id: &'static str,
    pub place: &'static str,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: &'static str,
    pub continent: Continent,
    pub lat: f64,
    pub lon: f64,
    pub climate: Climate,
    pub surface: Surface,
    /// Red laterite or desert-red soil (Australian outback, Namibia, East Africa, Brazil).
    pub red_soil: bool,
}

const fn line(colour: LineColour, pattern: LinePattern) -> Line {
    Line { colour, pattern }
}

/// White dashed centre, white solid edges: most of Europe, Asia and Oceania.
const WHITE_WHITE: Markings = Markings {
    centre: line(LineColour::White, LinePattern::Dashed),
    edge: line(LineColour::White, LinePattern::Solid),
};
/// White dashed centre, white dashed edges (France's broken "ligne de rive", Sweden's long dashes).
const WHITE_DASHED_EDGES: Markings = Markings {
    centre: line(LineColour::White, LinePattern::Dashed),
    edge: line(LineColour::White, LinePattern::Dashed),
};
/// White dashed centre, yellow solid edges: southern and eastern Africa, Ireland.
const WHITE_YELLOW_EDGES: Markings = Markings {
    centre: line(LineColour::White, LinePattern::Dashed),
    edge: line(LineColour::Yellow, LinePattern::Solid),
};
/// Yellow dashed centre, white solid edges: Latin America, Norway, Finland, Thailand.
const YELLOW_WHITE: Markings = Markings {
    centre: line(LineColour::Yellow, LinePattern::Dashed),
    edge: line(LineColour::White, LinePattern::Solid),
};
/// Double solid yellow centre, white solid edges: USA, Canada, South Korea.
const DOUBLE_YELLOW: Markings = Markings {
    centre: line(LineColour::Yellow, LinePattern::DoubleSolid),
    edge: line(LineColour::White, LinePattern::Solid),
};

/// Countries and territories that drive on the left (ISO 3166-1 alpha-2). Everything else drives
/// on the right.
pub(crate) const LEFT_DRIVING: &[&str] = &[
    "AG", "AI", "AU", "BB", "BD", "BM", "BN", "BS", "BT", "BW", "CC", "CK", "CX", "CY", "DM", "FJ",
    "FK", "GB", "GD", "GG", "GY", "HK", "ID", "IE", "IM", "IN", "JE", "JM", "JP", "KE", "KI", "KN",
    "KY", "LC", "LK", "LS", "MO", "MS", "MT", "MU", "MV", "MW", "MY", "MZ", "NA", "NF", "NP", "NR",
    "NU", "NZ", "PG", "PK", "PN", "SB", "SC", "SG", "SH", "SR", "SZ", "TC", "TH", "TK", "TL", "TO",
    "TT", "TV", "TZ", "UG", "VC", "VG", "VI", "WS", "ZA", "ZM", "ZW",
];

/// Countries whose rural utility poles are mostly timber (elsewhere: concrete).
pub(crate) const WOODEN_POLES: &[&str] = &[
    "AU", "BW", "CA", "FI", "FR", "GB", "IE", "KE", "NA", "NO", "NZ", "SE", "TZ", "UG", "US", "ZA",
];

/// Countries whose rural roads are lined with white delineator posts.
pub(crate) const BOLLARDS: &[&str] = &[
    "AT", "BE", "CH", "CZ", "DE", "DK", "ES", "FI", "FR", "GB", "GR", "HR", "HU", "IE", "IT", "NL",
    "NO", "PL", "PT", "RO", "RU", "SE", "SI", "SK",
];

/// Typical rural two-lane markings per country (every country in [`SITES`] is here).
pub(crate) const COUNTRY_MARKINGS: &[CountryMarkings] = &[
    // Africa
    cm("BW", WHITE_YELLOW_EDGES),
    cm("EG", WHITE_WHITE),
    cm("GH", WHITE_WHITE),
    cm("KE", WHITE_YELLOW_EDGES),
    cm("MA", WHITE_WHITE),
    cm("NA", WHITE_YELLOW_EDGES),
    cm("RW", WHITE_WHITE),
    cm("SN", WHITE_WHITE),
    cm("TN", WHITE_WHITE),
    cm("TZ", WHITE_YELLOW_EDGES),
    cm("UG", WHITE_YELLOW_EDGES),
    cm("ZA", WHITE_YELLOW_EDGES),
    // Asia
    cm("AE", WHITE_WHITE),
    cm("ID", WHITE_WHITE),
    cm("IN", WHITE_WHITE),
    cm("JP", WHITE_WHITE),
    cm("KR", DOUBLE_YELLOW),
    cm("KZ", WHITE_WHITE),
    cm("LK", WHITE_WHITE),
    cm("MN", WHITE_WHITE),
    cm("MY", WHITE_WHITE),
    cm("NP", WHITE_WHITE),
    cm("PH", WHITE_WHITE),
    cm("TH", YELLOW_WHITE),
    cm("TR", WHITE_WHITE),
    cm("VN", WHITE_WHITE),
    // Europe
    cm("CH", WHITE_WHITE),
    cm("DE", WHITE_WHITE),
    cm("ES", WHITE_WHITE),
    cm("FI", YELLOW_WHITE),
    cm("FR", WHITE_DASHED_EDGES),
    cm("GB", WHITE_WHITE),
    cm("GR", WHITE_WHITE),
    cm("IE", WHITE_YELLOW_EDGES),
    cm("IT", WHITE_WHITE),
    cm("NO", YELLOW_WHITE),
    cm("PL", WHITE_WHITE),
    cm("PT", WHITE_WHITE),
    cm("RO", WHITE_WHITE),
    cm("RU", WHITE_WHITE),
    cm("SE", WHITE_DASHED_EDGES),
    // North America
    cm("CA", DOUBLE_YELLOW),
    cm("CR", YELLOW_WHITE),
    cm("GT", YELLOW_WHITE),
    cm("MX", YELLOW_WHITE),
    cm("US", DOUBLE_YELLOW),
    // South America
    cm("AR", YELLOW_WHITE),
    cm("BO", YELLOW_WHITE),
    cm("BR", YELLOW_WHITE),
    cm("CL", WHITE_WHITE),
    cm("CO", YELLOW_WHITE),
    cm("EC", YELLOW_WHITE),
    cm("PE", YELLOW_WHITE),
    cm("UY", YELLOW_WHITE),
    // Oceania
    cm("AU", WHITE_WHITE),
    cm("FJ", WHITE_WHITE),
    cm("NZ", WHITE_WHITE),
];

const fn cm(country: &'static str, markings: Markings) -> CountryMarkings {
    CountryMarkings { country, markings }
}

#[allow(clippy::too_many_arguments)]
const fn site(
    id: &'static str,
    place: &'static str,
    country: &'static str,
    continent: Continent,
    lat: f64,
    lon: f64,
    climate: Climate,
    red_soil: bool,
) -> Site {
    Site {
        id,
        place,
        country,
        continent,
        lat,
        lon,
        climate,
        surface: Surface::Paved,
        red_soil,
    }
}

const fn unpaved(s: Site) -> Site {
    Site {
        surface: Surface::Unpaved,
        ..s
    }
}

use Climate::{Alpine, AridSteppe, Boreal, Desert, Mediterranean, Savanna, Temperate, Tropical};
use Continent::{Africa, Asia, Europe, NorthAmerica, Oceania, SouthAmerica};

/// The built-in locations: roads in and near towns and villages on six continents.
#[rustfmt::skip]
pub(crate) const SITES: &[Site] = &[
    // Africa
    site("ke-naivasha", "Naivasha, Kenya", "KE", Africa, -0.7172, 36.4310, Savanna, false),
    site("ke-nanyuki", "Nanyuki, Kenya", "KE", Africa, 0.0166, 37.0742, Savanna, true),
    site("tz-karatu", "Karatu, Tanzania", "TZ", Africa, -3.3420, 35.6710, Savanna, true),
    site("ug-mbarara", "Mbarara, Uganda", "UG", Africa, -0.6072, 30.6545, Tropical, true),
    site("rw-musanze", "Musanze, Rwanda", "RW", Africa, -1.4996, 29.6344, Tropical, true),
    site("za-graaff-reinet", "Graaff-Reinet, South Africa", "ZA", Africa, -32.2522, 24.5308, AridSteppe, false),
    site("za-stellenbosch", "Stellenbosch, South Africa", "ZA", Africa, -33.9346, 18.8668, Mediterranean, false),
    site("za-hazyview", "Hazyview, South Africa", "ZA", Africa, -25.0450, 31.1290, Savanna, true),
    unpaved(site("na-sesriem", "Sesriem, Namibia", "NA", Africa, -24.4876, 15.8000, Desert, true)),
    site("bw-maun", "Maun, Botswana", "BW", Africa, -19.9890, 23.4250, Savanna, false),
    site("gh-kumasi", "Kumasi, Ghana", "GH", Africa, 6.6885, -1.6244, Tropical, true),
    site("sn-thies", "Thiès, Senegal", "SN", Africa, 14.7910, -16.9256, Savanna, true),
    site("ma-ouarzazate", "Ouarzazate, Morocco", "MA", Africa, 30.9335, -6.9370, Desert, false),
    site("ma-chefchaouen", "Chefchaouen, Morocco", "MA", Africa, 35.1688, -5.2636, Mediterranean, false),
    site("tn-tozeur", "Tozeur, Tunisia", "TN", Africa, 33.9197, 8.1335, Desert, false),
    site("eg-luxor", "Luxor, Egypt", "EG", Africa, 25.6872, 32.6396, Desert, false),
    // Asia
    site("jp-furano", "Furano, Hokkaido, Japan", "JP", Asia, 43.3420, 142.3832, Temperate, false),
    site("jp-takayama", "Takayama, Gifu, Japan", "JP", Asia, 36.1461, 137.2522, Temperate, false),
    site("kr-gangneung", "Gangneung, South Korea", "KR", Asia, 37.7519, 128.8761, Temperate, false),
    site("th-chiang-rai", "Chiang Rai, Thailand", "TH", Asia, 19.9105, 99.8406, Tropical, false),
    site("vn-sa-pa", "Sa Pa, Vietnam", "VN", Asia, 22.3364, 103.8438, Tropical, false),
    site("ph-banaue", "Banaue, Philippines", "PH", Asia, 16.9167, 121.0583, Tropical, false),
    site("id-ubud", "Ubud, Bali, Indonesia", "ID", Asia, -8.5069, 115.2625, Tropical, false),
    site("my-tanah-rata", "Tanah Rata, Malaysia", "MY", Asia, 4.4721, 101.3801, Tropical, false),
    site("lk-ella", "Ella, Sri Lanka", "LK", Asia, 6.8667, 81.0466, Tropical, false),
    site("in-munnar", "Munnar, India", "IN", Asia, 10.0889, 77.0595, Tropical, false),
    site("in-hampi", "Hampi, Karnataka, India", "IN", Asia, 15.3350, 76.4600, AridSteppe, true),
    site("in-jaisalmer", "Jaisalmer, India", "IN", Asia, 26.9157, 70.9083, Desert, false),
    site("np-pokhara", "Pokhara, Nepal", "NP", Asia, 28.2096, 83.9856, Temperate, false),
    site("mn-kharkhorin", "Kharkhorin, Mongolia", "MN", Asia, 47.1975, 102.8238, AridSteppe, false),
    site("kz-taraz", "Taraz, Kazakhstan", "KZ", Asia, 42.9000, 71.3667, AridSteppe, false),
    site("tr-goreme", "Göreme, Turkey", "TR", Asia, 38.6431, 34.8289, AridSteppe, false),
    site("ru-listvyanka", "Listvyanka, Irkutsk Oblast, Russia", "RU", Asia, 51.8556, 104.8664, Boreal, false),
    site("ae-al-ain", "Al Ain, United Arab Emirates", "AE", Asia, 24.2075, 55.7447, Desert, true),
    // Europe
    site("gb-hawes", "Hawes, North Yorkshire, United Kingdom", "GB", Europe, 54.3040, -2.1960, Temperate, false),
    site("gb-portree", "Portree, Isle of Skye, United Kingdom", "GB", Europe, 57.4125, -6.1967, Temperate, false),
    site("ie-dingle", "Dingle, County Kerry, Ireland", "IE", Europe, 52.1408, -10.2689, Temperate, false),
    site("fr-gordes", "Gordes, Provence, France", "FR", Europe, 43.9116, 5.2006, Mediterranean, false),
    site("fr-bayeux", "Bayeux, Normandy, France", "FR", Europe, 49.2764, -0.7024, Temperate, false),
    site("es-ronda", "Ronda, Andalusia, Spain", "ES", Europe, 36.7423, -5.1671, Mediterranean, false),
    site("es-tabernas", "Tabernas, Almería, Spain", "ES", Europe, 37.0490, -2.3900, AridSteppe, false),
    site("pt-evora", "Évora, Portugal", "PT", Europe, 38.5714, -7.9135, Mediterranean, false),
    site("it-pienza", "Pienza, Tuscany, Italy", "IT", Europe, 43.0767, 11.6786, Mediterranean, false),
    site("gr-kalambaka", "Kalambaka, Thessaly, Greece", "GR", Europe, 39.7060, 21.6260, Mediterranean, false),
    site("de-titisee", "Titisee-Neustadt, Black Forest, Germany", "DE", Europe, 47.9030, 8.1500, Temperate, false),
    site("ch-grindelwald", "Grindelwald, Switzerland", "CH", Europe, 46.6240, 8.0413, Alpine, false),
    site("pl-zakopane", "Zakopane, Poland", "PL", Europe, 49.2992, 19.9496, Temperate, false),
    site("ro-sibiu", "Sibiu, Romania", "RO", Europe, 45.7983, 24.1256, Temperate, false),
    site("no-lom", "Lom, Innlandet, Norway", "NO", Europe, 61.8383, 8.5683, Boreal, false),
    site("se-arvidsjaur", "Arvidsjaur, Sweden", "SE", Europe, 65.5920, 19.1800, Boreal, false),
    site("fi-kuusamo", "Kuusamo, Finland", "FI", Europe, 65.9650, 29.1890, Boreal, false),
    site("ru-suzdal", "Suzdal, Vladimir Oblast, Russia", "RU", Europe, 56.4280, 40.4440, Temperate, false),
    // North America
    site("us-moab", "Moab, Utah, USA", "US", NorthAmerica, 38.5733, -109.5498, Desert, true),
    site("us-marfa", "Marfa, Texas, USA", "US", NorthAmerica, 30.3094, -104.0206, AridSteppe, false),
    site("us-stowe", "Stowe, Vermont, USA", "US", NorthAmerica, 44.4654, -72.6874, Temperate, false),
    site("us-breaux-bridge", "Breaux Bridge, Louisiana, USA", "US", NorthAmerica, 30.2735, -91.8993, Temperate, false),
    site("us-bozeman", "Bozeman, Montana, USA", "US", NorthAmerica, 45.6770, -111.0429, AridSteppe, false),
    site("us-dodge-city", "Dodge City, Kansas, USA", "US", NorthAmerica, 37.7528, -100.0171, AridSteppe, false),
    site("us-talkeetna", "Talkeetna, Alaska, USA", "US", NorthAmerica, 62.3209, -150.1066, Boreal, false),
    site("ca-jasper", "Jasper, Alberta, Canada", "CA", NorthAmerica, 52.8737, -118.0814, Boreal, false),
    site("ca-baie-saint-paul", "Baie-Saint-Paul, Quebec, Canada", "CA", NorthAmerica, 47.4410, -70.4983, Boreal, false),
    site("ca-swift-current", "Swift Current, Saskatchewan, Canada", "CA", NorthAmerica, 50.2881, -107.7939, AridSteppe, false),
    site("mx-tlacolula", "Tlacolula de Matamoros, Oaxaca, Mexico", "MX", NorthAmerica, 16.9550, -96.4750, AridSteppe, false),
    site("mx-valladolid", "Valladolid, Yucatán, Mexico", "MX", NorthAmerica, 20.6896, -88.2011, Tropical, false),
    site("mx-san-ignacio", "San Ignacio, Baja California Sur, Mexico", "MX", NorthAmerica, 27.2833, -112.9000, Desert, false),
    site("gt-antigua", "Antigua Guatemala, Guatemala", "GT", NorthAmerica, 14.5586, -90.7295, Tropical, false),
    site("cr-la-fortuna", "La Fortuna, Alajuela, Costa Rica", "CR", NorthAmerica, 10.4678, -84.6427, Tropical, false),
    // South America
    site("br-paraty", "Paraty, Rio de Janeiro, Brazil", "BR", SouthAmerica, -23.2178, -44.7131, Tropical, true),
    site("br-alto-paraiso", "Alto Paraíso de Goiás, Brazil", "BR", SouthAmerica, -14.1305, -47.5100, Savanna, true),
    site("br-gramado", "Gramado, Rio Grande do Sul, Brazil", "BR", SouthAmerica, -29.3789, -50.8742, Temperate, true),
    site("ar-cafayate", "Cafayate, Salta, Argentina", "AR", SouthAmerica, -26.0730, -65.9757, Desert, false),
    site("ar-el-calafate", "El Calafate, Santa Cruz, Argentina", "AR", SouthAmerica, -50.3379, -72.2648, AridSteppe, false),
    site("ar-san-antonio-de-areco", "San Antonio de Areco, Buenos Aires, Argentina", "AR", SouthAmerica, -34.2457, -59.4716, Temperate, false),
    site("cl-san-pedro-de-atacama", "San Pedro de Atacama, Chile", "CL", SouthAmerica, -22.9087, -68.1997, Desert, false),
    site("cl-puerto-varas", "Puerto Varas, Los Lagos, Chile", "CL", SouthAmerica, -41.3195, -72.9854, Temperate, false),
    site("pe-urubamba", "Urubamba, Cusco, Peru", "PE", SouthAmerica, -13.3047, -72.1157, Alpine, false),
    site("co-salento", "Salento, Quindío, Colombia", "CO", SouthAmerica, 4.6372, -75.5711, Tropical, false),
    site("ec-otavalo", "Otavalo, Imbabura, Ecuador", "EC", SouthAmerica, 0.2341, -78.2619, Temperate, false),
    unpaved(site("bo-uyuni", "Uyuni, Potosí, Bolivia", "BO", SouthAmerica, -20.4597, -66.8250, Desert, false)),
    site("uy-colonia", "Colonia del Sacramento, Uruguay", "UY", SouthAmerica, -34.4626, -57.8400, Temperate, false),
    // Oceania
    site("au-alice-springs", "Alice Springs, Northern Territory, Australia", "AU", Oceania, -23.6980, 133.8807, Desert, true),
    site("au-broken-hill", "Broken Hill, New South Wales, Australia", "AU", Oceania, -31.9530, 141.4530, AridSteppe, true),
    site("au-margaret-river", "Margaret River, Western Australia, Australia", "AU", Oceania, -33.9550, 115.0750, Mediterranean, false),
    site("au-kuranda", "Kuranda, Queensland, Australia", "AU", Oceania, -16.8198, 145.6382, Tropical, true),
    site("au-deloraine", "Deloraine, Tasmania, Australia", "AU", Oceania, -41.5240, 146.6560, Temperate, false),
    site("au-bright", "Bright, Victoria, Australia", "AU", Oceania, -36.7300, 146.9600, Temperate, false),
    site("nz-tekapo", "Lake Tekapo, Canterbury, New Zealand", "NZ", Oceania, -44.0046, 170.4770, Alpine, false),
    site("nz-rotorua", "Rotorua, Bay of Plenty, New Zealand", "NZ", Oceania, -38.1368, 176.2497, Temperate, false),
    site("nz-hokitika", "Hokitika, West Coast, New Zealand", "NZ", Oceania, -42.7167, 170.9667, Temperate, false),
    site("fj-sigatoka", "Sigatoka, Viti Levu, Fiji", "FJ", Oceania, -18.1416, 177.5081, Tropical, false),
];

/// The built-in "Synthetic World" map: every [`SITES`] entry with generated imagery.
pub fn world() -> Map {
    Map {
        id: BUILTIN_MAP_ID.into(),
        name: BUILTIN_MAP_NAME.into(),
        synthetic: true,
        size_km: WORLD_SIZE_KM,
        view: Bounds::WORLD,
        attribution: None,
        locations: SITES.iter().map(Site::location).collect(),
    }
}

impl Site {
    /// The game location for this site. The table's coordinates are checked by the unit tests,
    /// so a bad row is caught there; at runtime it is clamped rather than panicking.
    pub fn location(&self) -> Location {
        let pos = LatLon::new(self.lat, self.lon).unwrap_or(LatLon {
            lat: self.lat.clamp(-90.0, 90.0),
            lon: self.lon.clamp(-180.0, 180.0),
        });
        Location {
            id: self.id.to_string(),
            pos,
            country: Some(self.country.to_string()),
            place: Some(self.place.to_string()),
            imagery: Imagery::Generated,
        }
    }
}

/// The built-in site with this id.
pub(crate) fn site_by_id(id: &str) -> Option<&'static Site> {
    SITES.iter().find(|s| s.id == id)
}

/// Which side a country (ISO alpha-2, any case) drives on; right unless listed in
/// [`LEFT_DRIVING`].
pub(crate) fn driving_side(country: &str) -> DrivingSide {
    if LEFT_DRIVING.iter().any(|c| c.eq_ignore_ascii_case(country)) {
        DrivingSide::Left
    } else {
        DrivingSide::Right
    }
}

/// The country's typical rural markings, when the table knows the country.
pub(crate) fn country_markings(country: &str) -> Option<Markings> {
    COUNTRY_MARKINGS
        .iter()
        .find(|c| c.country.eq_ignore_ascii_case(country))
        .map(|c| c.markings)
}

/// Everything the panorama painter may show about a location.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SceneFacts {
    pub lat: f64,
    pub climate: Climate,
    pub surface: Surface,
    pub side: DrivingSide,
    pub markings: Markings,
    pub red_soil: bool,
    /// Utility poles are timber rather than concrete.
    pub wooden_poles: bool,
    /// White roadside delineator posts line rural roads.
    pub bollards: bool,
}

impl SceneFacts {
    /// True south of the equator (where the midday sun stands to the north).
    pub(crate) fn southern(&self) -> bool {
        self.lat < 0.0
    }
}

/// A location matched to a built-in site only when it is really that site: same id and within
/// this distance (km), so a pack that reuses an id elsewhere gets derived facts instead.
const SITE_MATCH_KM: f64 = 5.0;

/// The facts to paint for `loc`: from its built-in site when it is one, otherwise derived from
/// its country and latitude (map packs with generated imagery).
pub(crate) fn scene_facts(loc: &Location) -> SceneFacts {
    if let Some(s) = site_by_id(&loc.id).filter(|s| {
        LatLon {
            lat: s.lat,
            lon: s.lon,
        }
        .distance_km(&loc.pos)
            <= SITE_MATCH_KM
    }) {
        return SceneFacts {
            lat: s.lat,
            climate: s.climate,
            surface: s.surface,
            side: driving_side(s.country),
            markings: country_markings(s.country).unwrap_or(WHITE_WHITE),
            red_soil: s.red_soil,
            wooden_poles: listed(WOODEN_POLES, s.country),
            bollards: listed(BOLLARDS, s.country),
        };
    }
    let country = loc.country.as_deref().unwrap_or("");
    let markings = country_markings(country).unwrap_or(if loc.pos.lon < -30.0 {
        // The Americas paint centre lines yellow almost everywhere.
        YELLOW_WHITE
    } else {
        WHITE_WHITE
    });
    SceneFacts {
        lat: loc.pos.lat,
        climate: climate_from_latitude(loc.pos.lat),
        surface: Surface::Paved,
        side: driving_side(country),
        markings,
        red_soil: false,
        wooden_poles: listed(WOODEN_POLES, country),
        bollards: listed(BOLLARDS, country),
    }
}

fn listed(table: &[&str], country: &str) -> bool {
    table.iter().any(|c| c.eq_ignore_ascii_case(country))
}

/// A rough climate band from latitude alone, for locations with no table entry.
fn climate_from_latitude(lat: f64) -> Climate {
    match lat.abs() {
        a if a < 15.0 => Climate::Tropical,
        a if a < 23.0 => Climate::Savanna,
        a if a < 33.0 => Climate::AridSteppe,
        a if a < 42.0 => Climate::Mediterranean,
        a if a < 56.0 => Climate::Temperate,
        a if a < 68.0 => Climate::Boreal,
        _ => Climate::Alpine,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn world_has_enough_locations_on_six_continents() {
        let w = world();
        assert_eq!(w.id, BUILTIN_MAP_ID);
        assert!(w.synthetic);
        assert_eq!(w.size_km, WORLD_SIZE_KM);
        assert_eq!(w.view, Bounds::WORLD);
        assert!(w.locations.len() >= 60, "{}", w.locations.len());
        let continents: HashSet<Continent> = SITES.iter().map(|s| s.continent).collect();
        assert_eq!(continents.len(), 6);
        for c in &continents {
            let n = SITES.iter().filter(|s| s.continent == *c).count();
            assert!(n >= 8, "{c:?} has only {n} locations");
        }
        let countries: HashSet<&str> = SITES.iter().map(|s| s.country).collect();
        assert!(countries.len() >= 40, "{}", countries.len());
    }

    #[test]
    fn ids_are_unique_slugs() {
        let mut seen = HashSet::new();
        for s in SITES {
            assert!(seen.insert(s.id), "duplicate id {}", s.id);
            assert!(
                s.id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "id {} is not a slug",
                s.id
            );
            assert!(
                s.id.starts_with(&s.country.to_ascii_lowercase()),
                "{}",
                s.id
            );
        }
    }

    #[test]
    fn coordinates_are_valid_and_on_the_right_side_of_the_world() {
        for s in SITES {
            assert!(LatLon::new(s.lat, s.lon).is_ok(), "{}", s.id);
            assert!(s.lat != 0.0 || s.lon != 0.0, "{} is at null island", s.id);
            // A coarse box per continent catches swapped or sign-flipped coordinates.
            let ok = match s.continent {
                Continent::Africa => {
                    (-35.0..38.0).contains(&s.lat) && (-18.0..52.0).contains(&s.lon)
                }
                Continent::Asia => (-11.0..78.0).contains(&s.lat) && (25.0..180.0).contains(&s.lon),
                Continent::Europe => {
                    (35.0..72.0).contains(&s.lat) && (-25.0..60.0).contains(&s.lon)
                }
                Continent::NorthAmerica => {
                    (7.0..72.0).contains(&s.lat) && (-170.0..-50.0).contains(&s.lon)
                }
                Continent::SouthAmerica => {
                    (-56.0..13.0).contains(&s.lat) && (-82.0..-34.0).contains(&s.lon)
                }
                Continent::Oceania => {
                    (-48.0..0.0).contains(&s.lat) && (110.0..180.0).contains(&s.lon)
                }
                Continent::Antarctica => s.lat < -60.0,
            };
            assert!(
                ok,
                "{} ({}, {}) is not in {:?}",
                s.id, s.lat, s.lon, s.continent
            );
            assert!(!s.place.is_empty());
        }
        let loc = world().locations;
        assert_eq!(loc[0].pos.lat, SITES[0].lat);
    }

    #[test]
    fn every_country_resolves_in_the_tables() {
        for s in SITES {
            assert!(
                country_markings(s.country).is_some(),
                "{} has no markings entry for {}",
                s.id,
                s.country
            );
            assert_eq!(s.country.len(), 2);
            assert!(s.country.chars().all(|c| c.is_ascii_uppercase()));
        }
        for c in LEFT_DRIVING
            .iter()
            .chain(COUNTRY_MARKINGS.iter().map(|m| &m.country))
        {
            assert!(
                c.len() == 2 && c.chars().all(|c| c.is_ascii_uppercase()),
                "{c}"
            );
        }
        let mut codes: Vec<&str> = COUNTRY_MARKINGS.iter().map(|m| m.country).collect();
        codes.sort_unstable();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n, "duplicate country in COUNTRY_MARKINGS");
    }

    #[test]
    fn driving_sides_match_known_countries() {
        for c in [
            "GB", "IE", "JP", "AU", "NZ", "ZA", "KE", "IN", "TH", "ID", "MY", "gb",
        ] {
            assert_eq!(driving_side(c), DrivingSide::Left, "{c}");
        }
        for c in ["US", "FR", "DE", "BR", "CN", "RU", "SE", "KR", "AR"] {
            assert_eq!(driving_side(c), DrivingSide::Right, "{c}");
        }
        let left = SITES
            .iter()
            .filter(|s| driving_side(s.country) == DrivingSide::Left)
            .count();
        assert!(left >= 15 && left < SITES.len() - 15, "{left}");
    }

    #[test]
    fn markings_match_well_known_habits() {
        let us = country_markings("US").unwrap();
        assert_eq!(us.centre.colour, LineColour::Yellow);
        assert_eq!(us.edge.colour, LineColour::White);
        assert_eq!(
            country_markings("ZA").unwrap().edge.colour,
            LineColour::Yellow
        );
        assert_eq!(
            country_markings("NO").unwrap().centre.colour,
            LineColour::Yellow
        );
        assert_eq!(
            country_markings("DE").unwrap().centre.colour,
            LineColour::White
        );
        assert_eq!(
            country_markings("CL").unwrap().centre.colour,
            LineColour::White
        );
    }

    #[test]
    fn scene_facts_use_the_site_only_when_it_matches() {
        let w = world();
        let loc = w.location("za-graaff-reinet").unwrap();
        let f = scene_facts(loc);
        assert_eq!(f.climate, Climate::AridSteppe);
        assert_eq!(f.side, DrivingSide::Left);
        assert!(f.southern());
        assert_eq!(f.markings.edge.colour, LineColour::Yellow);

        // Same id somewhere else: facts come from the country and latitude.
        let mut moved = loc.clone();
        moved.pos = LatLon::new(64.0, 20.0).unwrap();
        moved.country = Some("SE".into());
        let g = scene_facts(&moved);
        assert_eq!(g.climate, Climate::Boreal);
        assert_eq!(g.side, DrivingSide::Right);
        assert!(!g.southern());

        // Unknown country in the Americas: yellow centre line.
        let mut unknown = moved.clone();
        unknown.country = None;
        unknown.pos = LatLon::new(-5.0, -60.0).unwrap();
        let u = scene_facts(&unknown);
        assert_eq!(u.markings.centre.colour, LineColour::Yellow);
        assert_eq!(u.climate, Climate::Tropical);
    }
}
