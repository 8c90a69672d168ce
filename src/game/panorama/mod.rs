//! The synthetic panorama painter: turns a location's real facts into a deterministic
//! equirectangular street-level picture a person (or a model) can reason from.
//!
//! The facts come from [`builtin::scene_facts`]: climate band (ground, trees, haze, hills), soil
//! colour, road surface, road markings, driving side and latitude (the sun's place in the sky).
//! The one piece of text is a roadside direction sign ([`sign`]) naming real *nearby* places and
//! their distances, in the local script where signs use one, as a real road sign would; the
//! location's own name and coordinates never reach the picture.
//!
//! Image convention (the web viewer relies on it): column `u = frac(0.5 + heading/360)`, so the
//! centre column looks north and heading 90 (east) is at `u = 0.75`; row `v = 0.5 − pitch/180`,
//! so the top row looks straight up. The camera stands in its lane of a north–south road.
//!
//! Rendering is analytic: each ground pixel's view ray is intersected with the ground plane and
//! the road, lines and terrain are evaluated there, with box-filtered coverage so distant lines
//! fade instead of flickering. Trees, poles, houses and cars are camera-facing billboards placed
//! in metres and drawn far to near. All randomness comes from a ChaCha stream seeded from the
//! location id, so the same location always gives the same pixels.

use super::builtin::{
    self, Climate, DrivingSide, Line, LineColour, LinePattern, Markings, SceneFacts, Surface,
};
use super::Location;
use image::RgbImage;

pub mod sign;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f32::consts::{FRAC_PI_2, PI, TAU};

/// Width of generated equirectangular panoramas (2:1).
pub const PANORAMA_WIDTH: u32 = 2048;
/// Height of generated panoramas: half the width, as equirectangular images are.
pub const PANORAMA_HEIGHT: u32 = PANORAMA_WIDTH / 2;

/// Camera height above the road (m): roughly where a Street View car carries its camera.
const CAMERA_HEIGHT_M: f32 = 2.5;
/// One traffic lane (m): a typical rural lane.
const LANE_WIDTH_M: f32 = 3.5;
/// Half the width of an unpaved road (m); such roads are driven in the middle.
const UNPAVED_HALF_WIDTH_M: f32 = 3.0;
/// Gravel or dust strip beside the asphalt (m).
const SHOULDER_M: f32 = 0.9;
/// Width of a centre line stroke (m).
const CENTRE_LINE_WIDTH_M: f32 = 0.12;
/// Width of an edge line (m).
const EDGE_LINE_WIDTH_M: f32 = 0.15;
/// How far edge lines sit inside the asphalt edge (m).
const EDGE_LINE_INSET_M: f32 = 0.25;
/// Distance between the two strokes of a double centre line (m, centre to centre).
const DOUBLE_LINE_SPACING_M: f32 = 0.25;
/// Painted length of one centre dash and the dash period (m): 3 m on, 9 m off is the common
/// rural pattern in both Europe and North America.
const DASH_M: f32 = 3.0;
const DASH_PERIOD_M: f32 = 12.0;
/// Dashed edge lines are longer with short gaps (France, Sweden).
const EDGE_DASH_M: f32 = 10.0;
const EDGE_DASH_PERIOD_M: f32 = 13.0;
/// Ground beyond this (m) is all haze; capping keeps noise coordinates small near the horizon.
const MAX_GROUND_DISTANCE_M: f32 = 30_000.0;
/// Half the length of road (m) along which trees, poles and houses are placed.
const PROP_REACH_M: f32 = 260.0;
/// Props closer than this (m) would fill the view; they are skipped.
const NEAREST_PROP_M: f32 = 4.0;
/// Distance (m) of the continuous horizon tree line, beyond the last placed prop.
const TREELINE_DISTANCE_M: f32 = 320.0;
/// Gap (m, each side of the road) kept free in the horizon tree line so the road reaches the
/// horizon.
const TREELINE_ROAD_GAP_M: f32 = 9.0;
/// Roadside walls farther than this along the view ray (m) give way to the horizon tree line.
const MAX_WALL_DISTANCE_M: f32 = 3_000.0;
/// Most threads one painting uses: rows are independent, and more than a few threads only
/// compete with the rest of the program on small machines.
const MAX_PAINT_THREADS: usize = 4;
/// Spacing of utility poles along the road (m).
const POLE_SPACING_M: f32 = 45.0;
/// Spacing of edge posts (m); European roads set them about every 50 m.
const BOLLARD_SPACING_M: f32 = 50.0;
/// Salt of the direction sign's random stream.
const SIGN_STREAM: u64 = 0x5167_4e00;
/// Range (m) of how far ahead the sign stands: near enough that a 0.4 m text line spans about
/// 16 panorama pixels, far enough that the whole sign fits a forward view.
const SIGN_AHEAD_M: (f32, f32) = (7.0, 8.5);
/// Height (m) of the sign face's lower edge above the ground.
const SIGN_CLEARANCE_M: f32 = 1.3;
/// Half the width of a sign post (m).
const SIGN_POST_HALF_M: f32 = 0.05;
/// Sun disc radius (rad): a little larger than the real 0.27° so it stays visible at 2048 px.
const SUN_DISC_RAD: f32 = 0.012;
/// Film-grain amplitude (8-bit levels) on ground and props: photos are never flat, and the
/// high-frequency detail gives JPEG sizes and encode times like real panoramas.
const GRAIN_GROUND: f32 = 9.0;
/// Grain in the sky: real skies are smooth, but not perfectly.
const GRAIN_SKY: f32 = 1.5;

type Rgb = [f32; 3];

/// Paints an equirectangular panorama for `loc`; the same location always gives the same pixels.
pub fn paint(loc: &Location, width: u32, height: u32) -> RgbImage {
    let facts = builtin::scene_facts(loc);
    let mut scene = Scene::new(&loc.id, &facts);
    if let Some(content) = sign::SignContent::for_location(loc) {
        scene.add_sign(&content, facts.side);
    }
    scene.render(width, height)
}

// ---------------------------------------------------------------------------------------------
// Noise

/// FNV-1a of the location id: a hash that never changes between Rust versions (unlike std's).
fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[inline(always)]
fn hash2(x: i32, y: i32, seed: u32) -> u32 {
    let mut h = seed
        ^ (x as u32).wrapping_mul(0x27d4_eb2d)
        ^ (y as u32).wrapping_mul(0x1656_67b1).rotate_left(13);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297a_2d39);
    h ^= h >> 15;
    h
}

/// `floor` for noise coordinates (well inside i32): `f32::floor` is a libm call on baseline
/// x86-64, and it showed up in profiles.
#[inline(always)]
fn fast_floor(x: f32) -> i32 {
    let i = x as i32;
    if x < i as f32 {
        i - 1
    } else {
        i
    }
}

/// Uniform in [0, 1).
#[inline(always)]
fn unit(h: u32) -> f32 {
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Uniform in [-1, 1).
#[inline(always)]
fn signed(h: u32) -> f32 {
    unit(h) * 2.0 - 1.0
}

/// Smooth value noise in [0, 1).
#[inline(always)]
fn value_noise(x: f32, y: f32, seed: u32) -> f32 {
    let (xi, yi) = (fast_floor(x), fast_floor(y));
    let (xf, yf) = (xi as f32, yi as f32);
    let (fx, fy) = (x - xf, y - yf);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let a = unit(hash2(xi, yi, seed));
    let b = unit(hash2(xi + 1, yi, seed));
    let c = unit(hash2(xi, yi + 1, seed));
    let d = unit(hash2(xi + 1, yi + 1, seed));
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

/// Fractal value noise in about [0, 1); octaves finer than `footprint` (in input units per
/// pixel) fade out instead of aliasing.
#[inline]
fn fbm(x: f32, y: f32, seed: u32, octaves: u32, footprint: f32) -> f32 {
    let (mut sum, mut norm, mut amp, mut freq) = (0.0, 0.0, 1.0, 1.0);
    for o in 0..octaves {
        let weight = (1.5 - freq * footprint * 2.0).clamp(0.0, 1.0);
        norm += amp;
        if weight > 0.0 {
            sum += amp * weight * value_noise(x * freq, y * freq, seed.wrapping_add(o * 7919))
                + amp * (1.0 - weight) * 0.5;
        } else {
            sum += amp * 0.5;
        }
        amp *= 0.5;
        freq *= 2.03;
    }
    sum / norm
}

/// Five-octave [`fbm`] for clouds that stops early (returning 0) once the remaining octaves
/// cannot lift the sum above `floor`: most of a clear sky costs two octaves instead of five.
fn cloud_noise(x: f32, y: f32, seed: u32, footprint: f32, floor: f32) -> f32 {
    const OCTAVES: u32 = 5;
    const NORM: f32 = 1.0 + 0.5 + 0.25 + 0.125 + 0.0625;
    let (mut sum, mut amp, mut freq) = (0.0, 1.0, 1.0);
    for o in 0..OCTAVES {
        let weight = (1.5 - freq * footprint * 2.0).clamp(0.0, 1.0);
        let n = if weight > 0.0 {
            value_noise(x * freq, y * freq, seed.wrapping_add(o * 7919))
        } else {
            0.5
        };
        sum += amp * (weight * n + (1.0 - weight) * 0.5);
        amp *= 0.5;
        freq *= 2.03;
        // Everything still to come adds at most twice the next amplitude.
        if o >= 1 && (sum + 2.0 * amp) / NORM < floor {
            return 0.0;
        }
    }
    sum / NORM
}

/// Value noise over a circle: `u` in [0, 1) wraps, so horizon layers join at heading 180.
fn periodic_noise(u: f32, cells: u32, seed: u32) -> f32 {
    let x = u.rem_euclid(1.0) * cells as f32;
    let i = x.floor();
    let f = x - i;
    let i = i as u32 % cells;
    let a = unit(hash2(i as i32, 0, seed));
    let b = unit(hash2(((i + 1) % cells) as i32, 0, seed));
    let s = f * f * (3.0 - 2.0 * f);
    a + (b - a) * s
}

#[inline(always)]
fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

#[inline(always)]
fn scale(a: Rgb, k: f32) -> Rgb {
    [a[0] * k, a[1] * k, a[2] * k]
}

#[inline(always)]
fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Share of the pixel footprint `[pos − fp/2, pos + fp/2]` inside `[centre − half, centre + half]`.
#[inline(always)]
fn band(pos: f32, fp: f32, centre: f32, half: f32) -> f32 {
    let lo = (pos - fp * 0.5).max(centre - half);
    let hi = (pos + fp * 0.5).min(centre + half);
    ((hi - lo) / fp).clamp(0.0, 1.0)
}

/// Share of the footprint covered by dashes `on` long every `period` (box-filtered square wave).
#[inline(always)]
fn dashes(pos: f32, fp: f32, on: f32, period: f32) -> f32 {
    let integral = |x: f32| {
        let k = fast_floor(x / period) as f32;
        k * on + (x - k * period).min(on)
    };
    let (a, b) = (pos - fp * 0.5, pos + fp * 0.5);
    ((integral(b) - integral(a)) / fp).clamp(0.0, 1.0)
}

fn rgb(r: u8, g: u8, b: u8) -> Rgb {
    [f32::from(r), f32::from(g), f32::from(b)]
}

// ---------------------------------------------------------------------------------------------
// Scene description

/// Colours and atmosphere of a climate band.
#[derive(Debug, Clone, Copy)]
struct Palette {
    /// Base ground, alternate patches, accent spots (scrub, darker grass).
    ground: [Rgb; 3],
    /// Share of the ground in accent spots.
    accent_share: f32,
    /// Bare soil: shoulders, unpaved roads, ground showing through.
    soil: Rgb,
    foliage: Rgb,
    foliage_dark: Rgb,
    zenith: Rgb,
    horizon: Rgb,
    cloud_cover: f32,
    /// Distance (m) at which haze takes about two thirds of a colour.
    visibility_m: f32,
    /// Typical height of the distant hills (degrees above the horizon).
    hill_deg: f32,
    hill: Rgb,
    snow: bool,
}

fn palette(climate: Climate, red_soil: bool) -> Palette {
    let mut p = match climate {
        Climate::Desert => Palette {
            ground: [rgb(200, 172, 126), rgb(182, 150, 108), rgb(112, 106, 72)],
            accent_share: 0.07,
            soil: rgb(176, 146, 106),
            foliage: rgb(104, 104, 68),
            foliage_dark: rgb(72, 72, 46),
            zenith: rgb(72, 128, 205),
            horizon: rgb(220, 222, 216),
            cloud_cover: 0.08,
            visibility_m: 26_000.0,
            hill_deg: 3.5,
            hill: rgb(172, 140, 112),
            snow: false,
        },
        Climate::AridSteppe => Palette {
            ground: [rgb(170, 152, 100), rgb(146, 130, 86), rgb(104, 110, 70)],
            accent_share: 0.22,
            soil: rgb(152, 126, 92),
            foliage: rgb(96, 106, 66),
            foliage_dark: rgb(60, 70, 42),
            zenith: rgb(62, 116, 200),
            horizon: rgb(206, 216, 226),
            cloud_cover: 0.25,
            visibility_m: 18_000.0,
            hill_deg: 2.5,
            hill: rgb(140, 130, 112),
            snow: false,
        },
        Climate::Mediterranean => Palette {
            ground: [rgb(180, 160, 102), rgb(124, 122, 72), rgb(84, 100, 54)],
            accent_share: 0.3,
            soil: rgb(162, 126, 90),
            foliage: rgb(74, 92, 52),
            foliage_dark: rgb(40, 58, 34),
            zenith: rgb(46, 106, 196),
            horizon: rgb(200, 215, 230),
            cloud_cover: 0.18,
            visibility_m: 14_000.0,
            hill_deg: 4.0,
            hill: rgb(118, 124, 110),
            snow: false,
        },
        Climate::Temperate => Palette {
            ground: [rgb(86, 128, 54), rgb(112, 140, 66), rgb(58, 96, 40)],
            accent_share: 0.3,
            soil: rgb(116, 96, 72),
            foliage: rgb(56, 90, 40),
            foliage_dark: rgb(30, 54, 28),
            zenith: rgb(62, 110, 190),
            horizon: rgb(196, 210, 228),
            cloud_cover: 0.5,
            visibility_m: 9_000.0,
            hill_deg: 2.5,
            hill: rgb(92, 112, 94),
            snow: false,
        },
        Climate::Boreal => Palette {
            ground: [rgb(82, 100, 58), rgb(112, 106, 70), rgb(54, 74, 44)],
            accent_share: 0.25,
            soil: rgb(112, 96, 76),
            foliage: rgb(36, 62, 40),
            foliage_dark: rgb(20, 38, 26),
            zenith: rgb(66, 116, 192),
            horizon: rgb(200, 214, 230),
            cloud_cover: 0.45,
            visibility_m: 12_000.0,
            hill_deg: 2.0,
            hill: rgb(68, 88, 80),
            snow: false,
        },
        Climate::Tropical => Palette {
            ground: [rgb(62, 124, 40), rgb(86, 140, 46), rgb(40, 94, 30)],
            accent_share: 0.35,
            soil: rgb(142, 98, 62),
            foliage: rgb(42, 96, 36),
            foliage_dark: rgb(18, 56, 22),
            zenith: rgb(56, 116, 200),
            horizon: rgb(206, 220, 230),
            cloud_cover: 0.55,
            visibility_m: 6_000.0,
            hill_deg: 4.5,
            hill: rgb(72, 104, 84),
            snow: false,
        },
        Climate::Savanna => Palette {
            ground: [rgb(192, 166, 98), rgb(162, 142, 82), rgb(108, 114, 58)],
            accent_share: 0.2,
            soil: rgb(168, 122, 82),
            foliage: rgb(86, 102, 46),
            foliage_dark: rgb(54, 68, 30),
            zenith: rgb(62, 120, 204),
            horizon: rgb(210, 215, 220),
            cloud_cover: 0.3,
            visibility_m: 15_000.0,
            hill_deg: 1.5,
            hill: rgb(130, 126, 102),
            snow: false,
        },
        Climate::Alpine => Palette {
            ground: [rgb(142, 136, 92), rgb(108, 120, 74), rgb(128, 125, 120)],
            accent_share: 0.35,
            soil: rgb(126, 116, 100),
            foliage: rgb(40, 66, 46),
            foliage_dark: rgb(24, 44, 30),
            zenith: rgb(40, 96, 192),
            horizon: rgb(190, 210, 232),
            cloud_cover: 0.4,
            visibility_m: 30_000.0,
            hill_deg: 14.0,
            hill: rgb(104, 110, 120),
            snow: true,
        },
    };
    if red_soil {
        p.soil = rgb(168, 88, 56);
        if climate == Climate::Desert || climate == Climate::AridSteppe {
            p.ground[0] = mix(p.ground[0], rgb(190, 104, 60), 0.75);
            p.ground[1] = mix(p.ground[1], rgb(168, 90, 54), 0.75);
            p.hill = mix(p.hill, rgb(160, 96, 70), 0.6);
        } else {
            p.ground[1] = mix(p.ground[1], p.soil, 0.35);
        }
    }
    p
}

/// What a billboard prop is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PropKind {
    Conifer,
    Broadleaf,
    Palm,
    /// Flat-topped crown: acacia, umbrella pine.
    Flattop,
    Cypress,
    Shrub,
    Rock,
    Pole {
        wooden: bool,
    },
    Bollard,
    House {
        flat_roof: bool,
    },
    Car {
        facing_camera: bool,
    },
    /// The direction sign: its face is the scene's [`Scene::sign`] texture.
    Sign,
}

/// A camera-facing billboard standing on the ground at (`east`, `north`) metres from the camera.
#[derive(Debug, Clone, Copy)]
struct Prop {
    east: f32,
    north: f32,
    width: f32,
    height: f32,
    kind: PropKind,
    colour: Rgb,
    colour2: Rgb,
    seed: u32,
}

impl Prop {
    fn distance(&self) -> f32 {
        self.east.hypot(self.north)
    }
}

/// Where the sun stands: heading (rad, clockwise from north) and elevation (rad).
#[derive(Debug, Clone, Copy)]
struct Sun {
    azimuth: f32,
    elevation: f32,
}

impl Sun {
    /// The sun for latitude `lat_deg`, declination `decl_deg` and hour angle `hour_deg` (negative
    /// before solar noon), by the standard spherical-astronomy formulas.
    fn at(lat_deg: f64, decl_deg: f64, hour_deg: f64) -> Sun {
        let (lat, decl, ha) = (
            lat_deg.to_radians(),
            decl_deg.to_radians(),
            hour_deg.to_radians(),
        );
        let sin_el = lat.sin() * decl.sin() + lat.cos() * decl.cos() * ha.cos();
        let elevation = sin_el.clamp(-1.0, 1.0).asin();
        // Azimuth measured from south, positive westward; +π turns it to "from north".
        let from_south = ha
            .sin()
            .atan2(ha.cos() * lat.sin() - decl.tan() * lat.cos());
        let azimuth = (from_south + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU);
        Sun {
            azimuth: azimuth as f32,
            elevation: elevation as f32,
        }
    }

    fn direction(&self) -> [f32; 3] {
        let c = self.elevation.cos();
        [
            self.azimuth.sin() * c,
            self.azimuth.cos() * c,
            self.elevation.sin(),
        ]
    }
}

/// Everything needed to paint one location, decided once from its facts and seed.
#[derive(Debug, Clone)]
struct Scene {
    seed: u32,
    climate: Climate,
    palette: Palette,
    surface: Surface,
    markings: Markings,
    /// East offset (m) of the road's centre line from the camera: negative when traffic keeps
    /// right (the camera is in the right-hand lane facing north).
    road_centre: f32,
    road_half: f32,
    asphalt: Rgb,
    sun: Sun,
    cloud_cover: f32,
    /// Horizon hill profile: a seeded mix of smooth and rough.
    hill_scale: f32,
    hill_rough: f32,
    /// Whether the horizon tree line is conifers (spiky) or broadleaf (rounded).
    treeline_spiky: bool,
    /// Share of the horizon covered by the tree line.
    treeline_share: f32,
    treeline_deg: f32,
    /// Heading (rad) and half-width (rad) of a distant town silhouette, if any.
    town: Option<(f32, f32)>,
    /// Relative height of the near hill layer.
    near_hills: f32,
    /// Forest edge or hedge along the west (0) and east (1) side of the road.
    walls: [Option<Wall>; 2],
    /// The road surface's base colour: asphalt or compacted gravel.
    road_base: Rgb,
    props: Vec<Prop>,
    /// The direction sign's face, drawn by the [`PropKind::Sign`] prop.
    sign: Option<sign::SignFace>,
}

/// Latest hour angle (degrees from solar noon) the scene's sun may have: 10:00 to 14:00 solar time,
/// when most street-level imagery is taken and the sun stands clearly toward the equator.
const MAX_HOUR_ANGLE_DEG: f64 = 30.0;
/// Earth's axial tilt (degrees): the range of the sun's declination.
const AXIAL_TILT_DEG: f64 = 23.44;

impl Scene {
    fn new(id: &str, facts: &SceneFacts) -> Scene {
        let seed64 = stable_hash(id);
        let mut rng = ChaCha8Rng::seed_from_u64(seed64);
        let seed = (seed64 ^ (seed64 >> 32)) as u32;
        let palette = palette(facts.climate, facts.red_soil);

        // Imagery is mostly shot in the local summer half of the year.
        let decl = rng.random_range(0.0..AXIAL_TILT_DEG);
        let decl = if facts.southern() { -decl } else { decl };
        let hour = rng.random_range(-MAX_HOUR_ANGLE_DEG..MAX_HOUR_ANGLE_DEG);
        let sun = Sun::at(facts.lat, decl, hour);

        let (road_centre, road_half) = match facts.surface {
            Surface::Unpaved => (0.0, UNPAVED_HALF_WIDTH_M),
            Surface::Paved => match facts.side {
                DrivingSide::Right => (-LANE_WIDTH_M / 2.0, LANE_WIDTH_M),
                DrivingSide::Left => (LANE_WIDTH_M / 2.0, LANE_WIDTH_M),
            },
        };
        let grey = rng.random_range(62.0..96.0f32);
        let asphalt = [grey, grey, grey + rng.random_range(0.0..6.0f32)];
        let cloud_cover = (palette.cloud_cover + rng.random_range(-0.15..0.15f32)).clamp(0.02, 0.8);
        let (treeline_spiky, treeline_share, treeline_deg) = match facts.climate {
            Climate::Desert => (false, 0.0, 0.0),
            Climate::AridSteppe => (false, 0.15, 0.8),
            Climate::Savanna => (false, 0.25, 1.0),
            Climate::Mediterranean => (false, 0.45, 1.6),
            Climate::Temperate => (false, 0.6, 2.2),
            Climate::Boreal => (true, 0.95, 2.8),
            Climate::Tropical => (false, 0.9, 3.2),
            Climate::Alpine => (true, 0.35, 2.0),
        };
        let town = rng
            .random_bool(0.6)
            .then(|| (rng.random_range(-PI..PI), rng.random_range(0.05..0.25f32)));
        let mut scene = Scene {
            seed,
            climate: facts.climate,
            palette,
            surface: facts.surface,
            markings: facts.markings,
            road_centre,
            road_half,
            asphalt,
            sun,
            cloud_cover,
            hill_scale: if facts.climate == Climate::Alpine {
                rng.random_range(0.9..1.4)
            } else {
                rng.random_range(0.5..1.3)
            },
            hill_rough: rng.random_range(0.2..0.6),
            treeline_spiky,
            treeline_share,
            treeline_deg,
            town,
            near_hills: rng.random_range(0.0..1.0f32).powi(2),
            walls: [None, None],
            road_base: if facts.surface == Surface::Paved {
                asphalt
            } else {
                mix(palette.soil, rgb(135, 130, 122), 0.6)
            },
            props: Vec::new(),
            sign: None,
        };
        scene.walls = scene.place_walls(&mut rng);
        scene.props = scene.place_props(&mut rng, facts);
        scene
    }

    /// Puts a direction sign on the verge a few metres ahead, on the side traffic keeps to (the
    /// side drivers read signs on). Its own random stream leaves the rest of the scene as it was.
    fn add_sign(&mut self, content: &sign::SignContent, side: DrivingSide) {
        let Some(face) = sign::render(content) else {
            return;
        };
        let mut rng = ChaCha8Rng::seed_from_u64(u64::from(self.seed) ^ SIGN_STREAM);
        let (west_edge, east_edge) = self.road_edges();
        // On the shoulder, in front of any hedge or forest edge (those start beyond it).
        let east = match side {
            DrivingSide::Right => east_edge + SHOULDER_M * 0.5 + face.width_m * 0.5,
            DrivingSide::Left => west_edge - SHOULDER_M * 0.5 - face.width_m * 0.5,
        };
        let north = rng.random_range(SIGN_AHEAD_M.0..SIGN_AHEAD_M.1);
        self.props.push(Prop {
            east,
            north,
            width: face.width_m,
            height: SIGN_CLEARANCE_M + face.height_m,
            kind: PropKind::Sign,
            colour: rgb(150, 152, 156),
            colour2: rgb(110, 112, 116),
            seed: rng.random(),
        });
        // Nothing nearer may stand in front of the sign and hide its text.
        let sign = self.props[self.props.len() - 1];
        let (sign_heading, sign_half) = (
            sign.east.atan2(sign.north),
            (sign.width * 0.5 / sign.distance()).atan(),
        );
        self.props.retain(|p| {
            let half = (p.width * 0.5 / p.distance()).atan() * 1.15;
            let apart = (p.east.atan2(p.north) - sign_heading + PI).rem_euclid(TAU) - PI;
            p.kind == PropKind::Sign
                || p.distance() >= sign.distance()
                || apart.abs() > sign_half + half
        });
        self.sign = Some(face);
        self.props
            .sort_by(|a, b| b.distance().total_cmp(&a.distance()));
    }

    /// Forest edges (boreal and tropical roads run through forest) and hedges (temperate lanes).
    fn place_walls(&self, rng: &mut ChaCha8Rng) -> [Option<Wall>; 2] {
        let p = &self.palette;
        let (west_edge, east_edge) = self.road_edges();
        let mut walls = [None, None];
        for (i, wall) in walls.iter_mut().enumerate() {
            let edge = if i == 0 { -west_edge } else { east_edge } + SHOULDER_M;
            let forest = |rng: &mut ChaCha8Rng, spiky: bool, height: f32| Wall {
                offset: edge + rng.random_range(3.0..14.0),
                height,
                spiky,
                openness: rng.random_range(0.0..0.45),
                colour: if spiky {
                    p.foliage
                } else {
                    scale(p.foliage, 1.1)
                },
                dark: scale(p.foliage_dark, 0.7),
            };
            let roll: f32 = rng.random_range(0.0..1.0);
            *wall = match self.climate {
                Climate::Boreal if roll < 0.85 => {
                    let h = rng.random_range(14.0..24.0);
                    Some(forest(rng, true, h))
                }
                Climate::Tropical if roll < 0.75 => {
                    let h = rng.random_range(12.0..25.0);
                    Some(forest(rng, false, h))
                }
                Climate::Alpine if roll < 0.3 => {
                    let h = rng.random_range(12.0..22.0);
                    Some(forest(rng, true, h))
                }
                Climate::Temperate if roll < 0.25 => {
                    let spiky = rng.random_bool(0.4);
                    let h = rng.random_range(12.0..22.0);
                    Some(forest(rng, spiky, h))
                }
                Climate::Temperate if roll < 0.6 => Some(Wall {
                    offset: edge + rng.random_range(0.5..2.5),
                    height: rng.random_range(1.6..3.0),
                    spiky: false,
                    openness: rng.random_range(0.0..0.25),
                    colour: scale(p.foliage, 1.15),
                    dark: scale(p.foliage_dark, 0.8),
                }),
                Climate::Mediterranean if roll < 0.15 => {
                    let h = rng.random_range(8.0..14.0);
                    Some(forest(rng, false, h))
                }
                _ => None,
            };
        }
        walls
    }

    /// East offsets (m) of the asphalt's two edges.
    fn road_edges(&self) -> (f32, f32) {
        (
            self.road_centre - self.road_half,
            self.road_centre + self.road_half,
        )
    }

    /// Seeded trees, poles, posts, houses and cars along the road, sorted far to near.
    fn place_props(&self, rng: &mut ChaCha8Rng, facts: &SceneFacts) -> Vec<Prop> {
        let p = &self.palette;
        let mut props = Vec::new();
        let (west_edge, east_edge) = self.road_edges();
        let verge = SHOULDER_M + 1.5;
        // (kind, weight) mixes and how many, how deep a belt beside the road.
        let (mix_kinds, count, depth): (&[(PropKind, f32)], usize, f32) = match facts.climate {
            Climate::Desert => (&[(PropKind::Shrub, 0.8), (PropKind::Rock, 0.2)], 30, 120.0),
            Climate::AridSteppe => (
                &[
                    (PropKind::Shrub, 0.75),
                    (PropKind::Broadleaf, 0.2),
                    (PropKind::Rock, 0.05),
                ],
                45,
                100.0,
            ),
            Climate::Mediterranean => (
                &[
                    (PropKind::Broadleaf, 0.4),
                    (PropKind::Cypress, 0.3),
                    (PropKind::Flattop, 0.2),
                    (PropKind::Shrub, 0.1),
                ],
                60,
                80.0,
            ),
            Climate::Temperate => (
                &[
                    (PropKind::Broadleaf, 0.75),
                    (PropKind::Conifer, 0.15),
                    (PropKind::Shrub, 0.1),
                ],
                70,
                70.0,
            ),
            Climate::Boreal => (
                &[(PropKind::Conifer, 0.85), (PropKind::Broadleaf, 0.15)],
                230,
                60.0,
            ),
            Climate::Tropical => (
                &[
                    (PropKind::Broadleaf, 0.5),
                    (PropKind::Palm, 0.35),
                    (PropKind::Shrub, 0.15),
                ],
                170,
                60.0,
            ),
            Climate::Savanna => (
                &[(PropKind::Flattop, 0.35), (PropKind::Shrub, 0.65)],
                55,
                150.0,
            ),
            Climate::Alpine => (
                &[
                    (PropKind::Conifer, 0.4),
                    (PropKind::Rock, 0.35),
                    (PropKind::Shrub, 0.25),
                ],
                30,
                120.0,
            ),
        };
        let total: f32 = mix_kinds.iter().map(|(_, w)| w).sum();
        for _ in 0..count {
            let mut pick = rng.random_range(0.0..total);
            let mut kind = mix_kinds[0].0;
            for (k, w) in mix_kinds {
                if pick < *w {
                    kind = *k;
                    break;
                }
                pick -= w;
            }
            let off = verge + 1.0 + rng.random_range(0.0..1.0f32).powf(1.6) * depth;
            let east = if rng.random_bool(0.5) {
                east_edge + off
            } else {
                west_edge - off
            };
            let north = rng.random_range(-PROP_REACH_M..PROP_REACH_M);
            let tone = rng.random_range(0.75..1.2f32);
            let (width, height, colour, colour2) = match kind {
                PropKind::Conifer => {
                    let h = rng.random_range(8.0..22.0f32);
                    (
                        h * rng.random_range(0.28..0.4),
                        h,
                        scale(p.foliage_dark, tone),
                        rgb(70, 52, 38),
                    )
                }
                PropKind::Broadleaf => {
                    let h = rng.random_range(5.0..16.0f32);
                    // Boreal broadleaf trees are birches: narrow with pale trunks.
                    let (w, trunk) = if facts.climate == Climate::Boreal {
                        (h * 0.4, rgb(210, 208, 200))
                    } else {
                        (h * rng.random_range(0.6..0.95), rgb(78, 62, 48))
                    };
                    (w, h, scale(p.foliage, tone), trunk)
                }
                PropKind::Palm => {
                    let h = rng.random_range(7.0..16.0f32);
                    (
                        h * 0.55,
                        h,
                        scale(mix(p.foliage, rgb(90, 120, 50), 0.3), tone),
                        rgb(120, 104, 84),
                    )
                }
                PropKind::Flattop => {
                    let h = rng.random_range(4.0..10.0f32);
                    (
                        h * rng.random_range(1.1..1.6),
                        h,
                        scale(p.foliage, tone * 0.9),
                        rgb(70, 58, 46),
                    )
                }
                PropKind::Cypress => {
                    let h = rng.random_range(8.0..16.0f32);
                    (h * 0.18, h, scale(p.foliage_dark, tone), rgb(60, 50, 40))
                }
                PropKind::Shrub => {
                    let h = rng.random_range(0.6..2.2f32);
                    (
                        h * rng.random_range(1.2..2.4),
                        h,
                        scale(mix(p.foliage, p.ground[2], 0.5), tone),
                        p.soil,
                    )
                }
                PropKind::Rock => {
                    let h = rng.random_range(0.4..2.5f32);
                    (
                        h * rng.random_range(1.3..2.2),
                        h,
                        scale(mix(rgb(128, 124, 118), p.soil, 0.4), tone),
                        p.soil,
                    )
                }
                _ => continue,
            };
            props.push(Prop {
                east,
                north,
                width,
                height,
                kind,
                colour,
                colour2,
                seed: rng.random(),
            });
        }

        if rng.random_bool(0.75) {
            let wooden = facts.wooden_poles;
            let east = if rng.random_bool(0.5) {
                east_edge + SHOULDER_M + 1.5
            } else {
                west_edge - SHOULDER_M - 1.5
            };
            let start = rng.random_range(0.0..POLE_SPACING_M);
            let colour = if wooden {
                rgb(92, 74, 56)
            } else {
                rgb(168, 166, 160)
            };
            let mut north = -PROP_REACH_M + start;
            while north < PROP_REACH_M {
                props.push(Prop {
                    east,
                    north,
                    width: 0.3,
                    height: 9.0,
                    kind: PropKind::Pole { wooden },
                    colour,
                    colour2: rgb(50, 50, 50),
                    seed: rng.random(),
                });
                north += POLE_SPACING_M;
            }
        }

        if facts.bollards && self.surface == Surface::Paved {
            for (side, edge) in [(1.0, east_edge), (-1.0, west_edge)] {
                let mut north = -PROP_REACH_M + rng.random_range(0.0..BOLLARD_SPACING_M);
                while north < PROP_REACH_M {
                    props.push(Prop {
                        east: edge + side * (SHOULDER_M * 0.5),
                        north,
                        width: 0.12,
                        height: 1.0,
                        kind: PropKind::Bollard,
                        colour: rgb(236, 236, 230),
                        colour2: rgb(24, 24, 24),
                        seed: rng.random(),
                    });
                    north += BOLLARD_SPACING_M;
                }
            }
        }

        let houses = rng.random_range(0..6u32);
        let (walls, roofs): (&[Rgb], &[Rgb]) = match facts.climate {
            Climate::Desert => (
                &[rgb(214, 196, 160), rgb(226, 218, 200), rgb(196, 150, 110)],
                &[],
            ),
            Climate::Mediterranean => (
                &[rgb(232, 222, 198), rgb(214, 190, 150), rgb(240, 236, 226)],
                &[rgb(170, 86, 58), rgb(184, 100, 66)],
            ),
            Climate::Boreal => (
                &[rgb(140, 40, 34), rgb(214, 190, 110), rgb(226, 226, 220)],
                &[rgb(48, 48, 52), rgb(70, 66, 64)],
            ),
            Climate::Tropical | Climate::Savanna => (
                &[rgb(226, 214, 180), rgb(180, 200, 190), rgb(210, 160, 120)],
                &[rgb(140, 144, 150), rgb(150, 70, 50), rgb(70, 96, 120)],
            ),
            _ => (
                &[rgb(220, 214, 200), rgb(170, 110, 84), rgb(196, 186, 166)],
                &[rgb(60, 60, 66), rgb(150, 76, 56), rgb(96, 90, 86)],
            ),
        };
        for _ in 0..houses {
            let flat_roof = roofs.is_empty();
            let off = verge + rng.random_range(8.0..45.0f32);
            let east = if rng.random_bool(0.5) {
                east_edge + off
            } else {
                west_edge - off
            };
            let height = rng.random_range(4.5..8.5f32);
            let colour = walls[rng.random_range(0..walls.len())];
            let colour2 = if flat_roof {
                scale(colour, 0.8)
            } else {
                roofs[rng.random_range(0..roofs.len())]
            };
            props.push(Prop {
                east,
                north: rng.random_range(-200.0..200.0),
                width: rng.random_range(6.0..14.0),
                height,
                kind: PropKind::House { flat_roof },
                colour,
                colour2,
                seed: rng.random(),
            });
        }

        if self.surface == Surface::Paved {
            const CAR_COLOURS: [[f32; 3]; 6] = [
                [225.0, 225.0, 225.0],
                [30.0, 30.0, 34.0],
                [150.0, 152.0, 158.0],
                [150.0, 30.0, 30.0],
                [40.0, 60.0, 120.0],
                [205.0, 205.0, 200.0],
            ];
            // Oncoming traffic keeps to the other lane, which shows the driving side too.
            if rng.random_bool(0.5) {
                props.push(Prop {
                    east: 2.0 * self.road_centre,
                    north: rng.random_range(25.0..140.0),
                    width: 1.8,
                    height: 1.5,
                    kind: PropKind::Car {
                        facing_camera: true,
                    },
                    colour: CAR_COLOURS[rng.random_range(0..CAR_COLOURS.len())],
                    colour2: rgb(20, 22, 26),
                    seed: rng.random(),
                });
            }
            if rng.random_bool(0.35) {
                props.push(Prop {
                    east: rng.random_range(-0.3..0.3),
                    north: rng.random_range(40.0..160.0),
                    width: 1.8,
                    height: 1.5,
                    kind: PropKind::Car {
                        facing_camera: false,
                    },
                    colour: CAR_COLOURS[rng.random_range(0..CAR_COLOURS.len())],
                    colour2: rgb(20, 22, 26),
                    seed: rng.random(),
                });
            }
        }

        // Anything behind a roadside wall is hidden by it; leave it out.
        let walls = self.walls;
        props.retain(|p| {
            let side = usize::from(p.east >= 0.0);
            let hidden = walls[side].is_some_and(|w| w.height > 8.0 && p.east.abs() > w.offset);
            p.distance() >= NEAREST_PROP_M && !hidden
        });
        props.sort_by(|a, b| b.distance().total_cmp(&a.distance()));
        props
    }

    // -----------------------------------------------------------------------------------------
    // Rendering

    fn render(&self, width: u32, height: u32) -> RgbImage {
        let mut img = RgbImage::new(width, height);
        if width == 0 || height == 0 {
            return img;
        }
        let (w, h) = (width as usize, height as usize);
        let cols: Vec<Column> = (0..w).map(|x| self.column(x, w)).collect();
        let buf: &mut [u8] = &mut img;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_PAINT_THREADS);
        let rows_per_chunk = h.div_ceil(threads);
        std::thread::scope(|scope| {
            for (i, chunk) in buf.chunks_mut(rows_per_chunk * w * 3).enumerate() {
                let cols = &cols;
                scope.spawn(move || self.render_rows(chunk, i * rows_per_chunk, w, h, cols));
            }
        });
        for prop in &self.props {
            self.draw_prop(buf, w, h, prop, &cols);
        }
        img
    }

    /// Paints whole rows starting at row `first` into `chunk`; pixels depend only on their own
    /// position, so the split between threads never changes the result.
    fn render_rows(&self, chunk: &mut [u8], first: usize, w: usize, h: usize, cols: &[Column]) {
        let d_heading = TAU / w as f32;
        let d_pitch = PI / h as f32;
        let sun_dir = self.sun.direction();
        for (i, row_px) in chunk.chunks_exact_mut(w * 3).enumerate() {
            let y = first + i;
            let pitch = (0.5 - (y as f32 + 0.5) / h as f32) * PI;
            let (sin_p, cos_p) = pitch.sin_cos();
            let up = (pitch / FRAC_PI_2).max(0.0);
            let row = Row {
                y,
                pitch,
                sin_p,
                cos_p,
                sky: mix(self.palette.horizon, self.palette.zenith, up.powf(0.45)),
            };
            for (x, px) in row_px.chunks_exact_mut(3).enumerate() {
                let col = &cols[x];
                let c = if col.wall_r > 0.0 && pitch < col.wall_top && pitch > col.wall_bottom {
                    self.wall(col, &row, x)
                } else if pitch >= 0.0 {
                    self.above_horizon(col, &row, x, sun_dir, d_heading)
                } else {
                    self.ground(col, &row, x, d_heading, d_pitch)
                };
                px[0] = c[0].clamp(0.0, 255.0) as u8;
                px[1] = c[1].clamp(0.0, 255.0) as u8;
                px[2] = c[2].clamp(0.0, 255.0) as u8;
            }
        }
    }

    /// Per-column values: heading, the roadside wall and the horizon silhouettes' tops.
    fn column(&self, x: usize, w: usize) -> Column {
        let u = (x as f32 + 0.5) / w as f32;
        let heading = (u - 0.5) * TAU;
        let (sin_h, cos_h) = heading.sin_cos();
        let s = self.seed;

        // Two hill layers: far (high, hazy, snow-capped in the Alps) and near (lower, greener).
        let profile = |seed: u32, base_cells: u32| {
            let (mut sum, mut norm, mut amp, mut cells) = (0.0, 0.0, 1.0, base_cells);
            for o in 0..7 {
                let a = if o < 2 {
                    amp
                } else {
                    amp * self.hill_rough * 2.0
                };
                sum += a * periodic_noise(u, cells, seed.wrapping_add(o));
                norm += a;
                amp *= 0.5;
                cells *= 2;
            }
            // Stretch: averaging octaves flattens the profile toward 0.5.
            let v = (0.5 + (sum / norm - 0.5) * 2.2).clamp(0.0, 1.0);
            ((v - 0.3) / 0.7).max(0.0).powf(1.4)
        };
        let far = profile(s.wrapping_add(100), 6);
        let mut far_deg = far * self.palette.hill_deg * self.hill_scale * 1.4;
        if self.climate == Climate::Desert && self.hill_rough > 0.4 {
            // Mesas: flat tops.
            far_deg = far_deg.min(self.palette.hill_deg * 0.8);
        }
        let near = profile(s.wrapping_add(150), 4);
        let near_deg = near * self.palette.hill_deg.min(6.0) * self.hill_scale * self.near_hills;

        // Tree line: patches of forest with per-tree bumps, kept off the road's line.
        let gap = (TREELINE_ROAD_GAP_M / TREELINE_DISTANCE_M).atan();
        let near_road = heading.abs() < gap || (PI - heading.abs()) < gap;
        let patch = periodic_noise(u, 24, s.wrapping_add(200)) * 0.7
            + periodic_noise(u, 90, s.wrapping_add(201)) * 0.3;
        let mut tree_top = 0.0;
        if !near_road && patch < self.treeline_share {
            let trees = if self.treeline_spiky { 1400 } else { 700 };
            let t = u * trees as f32;
            let f = t.fract();
            let i = t.floor() as i32;
            let size = 0.6 + 0.7 * unit(hash2(i, 7, s));
            let shape = if self.treeline_spiky {
                1.0 - (f - 0.5).abs() * 2.0
            } else {
                (1.0 - ((f - 0.5) * 2.0).powi(2)).max(0.0).sqrt()
            };
            let edge = smoothstep(0.0, 0.08, self.treeline_share - patch);
            tree_top = (self.treeline_deg * size * (0.35 + 0.65 * shape) * edge).to_radians();
        }
        let mut building = false;
        if let Some((town_heading, half)) = self.town {
            let dh = (heading - town_heading + PI).rem_euclid(TAU) - PI;
            if dh.abs() < half && !near_road {
                let b = (u * 500.0).floor() as i32;
                if unit(hash2(b, 9, s)) < 0.7 {
                    let height = (0.4 + 1.4 * unit(hash2(b, 10, s))).to_radians();
                    if height > tree_top {
                        tree_top = height;
                        building = true;
                    }
                }
            }
        }

        // The roadside wall (forest edge or hedge) on this column's side of the road.
        let (mut wall_top, mut wall_bottom, mut wall_r, mut wall_n) = (0.0, 0.0, 0.0, 0.0);
        let (mut wall_tree, mut wall_rel) = (0u32, 0.0f32);
        let side = usize::from(sin_h >= 0.0);
        let mut wall_kind = self.walls[side];
        if let Some(wall) = &wall_kind {
            let across = sin_h.abs();
            let r = wall.offset / across.max(1e-6);
            let n = r * cos_h;
            let clearing = value_noise(n / 45.0, side as f32 * 17.0, s ^ 0xc1ea);
            if r < MAX_WALL_DISTANCE_M && clearing > wall.openness {
                // Crowns: the tallest of the neighbouring trees' cones (conifers) or domes
                // (broadleaf) at this point along the road.
                let spacing = if wall.spiky { 2.8 } else { 5.0 };
                let cell = fast_floor(n / spacing);
                let (mut best, mut rel_best, mut tree_best) = (f32::MIN, 0.0, 0u32);
                for i in cell - 1..=cell + 1 {
                    let key = |salt: u32| unit(hash2(i, side as i32, s ^ salt));
                    let centre = (i as f32 + 0.5 + 0.6 * (key(0x3a12) - 0.5)) * spacing;
                    let height = wall.height * (0.75 + 0.5 * key(0x3a11));
                    let half = spacing * (0.7 + 0.4 * key(0x3a13));
                    let rel = (n - centre) / half;
                    let top = if wall.spiky {
                        height * (1.0 - 0.55 * rel.abs())
                    } else {
                        height * (1.0 - 0.3 * rel * rel)
                    };
                    if top > best {
                        (best, rel_best, tree_best) =
                            (top, rel.clamp(-1.5, 1.5), hash2(i, side as i32, s));
                    }
                }
                // Where a column spans many trees, show their average height instead of aliasing.
                let fp_n = wall.offset / (across * across).max(1e-6) * TAU / w as f32;
                let detail = (1.0 - fp_n / spacing).clamp(0.0, 1.0);
                let top_m = best * detail + wall.height * 0.85 * (1.0 - detail);
                let edge = smoothstep(0.0, 0.08, clearing - wall.openness);
                let top_m = top_m * (0.3 + 0.7 * edge);
                wall_tree = tree_best;
                wall_rel = rel_best * detail;
                wall_top = ((top_m - CAMERA_HEIGHT_M) / r).atan();
                wall_bottom = (-CAMERA_HEIGHT_M / r).atan();
                wall_r = r;
                wall_n = n;
            }
        }
        if wall_r == 0.0 {
            wall_kind = None;
        }
        Column {
            heading,
            sin_h,
            cos_h,
            far_top: far_deg.to_radians() + 0.002,
            far_peak: far,
            near_top: near_deg.to_radians(),
            tree_top,
            building,
            wall_top,
            wall_bottom,
            wall_r,
            wall_n,
            wall_tree,
            wall_rel,
            wall: wall_kind,
        }
    }

    /// A pixel on the roadside wall: leaves or needles, darker low down where light is blocked.
    fn wall(&self, col: &Column, row: &Row, x: usize) -> Rgb {
        let Some(wall) = &col.wall else {
            return row.sky;
        };
        let s = self.seed;
        let y_m = col.wall_r * row.pitch.tan() + CAMERA_HEIGHT_M;
        let n = col.wall_n;
        let leaf = value_noise(n * 1.6, y_m * 1.6, s ^ 0x1eaf) * 0.6
            + value_noise(n * 5.0, y_m * 5.0, s ^ 0x1eb0) * 0.4;
        let trunks = if wall.spiky {
            // Dark gaps between conifer trunks in the lower part.
            let t = (n / 3.5).fract();
            (1.0 - smoothstep(0.0, wall.height * 0.3, y_m)) * smoothstep(0.35, 0.5, (t - 0.5).abs())
        } else {
            0.0
        };
        let low = smoothstep(0.0, wall.height * 0.6, y_m);
        let base = mix(wall.dark, wall.colour, leaf * (0.4 + 0.6 * low));
        let lit = if (self.sun.azimuth.sin() > 0.0) == (col.sin_h < 0.0) {
            1.12
        } else {
            0.92
        };
        // Each crown is rounded: darker at its sides, brighter on the side toward the sun.
        let screen_rel = if col.sin_h >= 0.0 {
            -col.wall_rel
        } else {
            col.wall_rel
        };
        let sun_right = (self.sun.azimuth - col.heading).sin();
        let crown = 1.0 - 0.28 * col.wall_rel * col.wall_rel + 0.15 * screen_rel * sun_right;
        let tone = 0.82 + 0.32 * unit(col.wall_tree);
        let c = scale(base, lit * crown * tone * (1.0 - 0.5 * trunks));
        let haze = 1.0 - (-col.wall_r / self.palette.visibility_m).exp();
        let c = mix(c, self.palette.horizon, haze);
        let g = signed(hash2(x as i32, row.y as i32, s ^ 0x3e3e)) * GRAIN_GROUND;
        [c[0] + g, c[1] + g, c[2] + g]
    }

    fn above_horizon(
        &self,
        col: &Column,
        row: &Row,
        x: usize,
        sun: [f32; 3],
        d_heading: f32,
    ) -> Rgb {
        let p = &self.palette;
        let s = self.seed;
        let grain = signed(hash2(x as i32, row.y as i32, s ^ 0x5151));
        if row.pitch < col.tree_top {
            let (ang_x, ang_y) = (col.heading * 180.0, row.pitch * 900.0);
            let base = if col.building {
                let lit = value_noise(ang_x * 0.3, 0.0, s ^ 77);
                mix(rgb(150, 146, 140), rgb(200, 196, 188), lit)
            } else {
                let leaf = value_noise(ang_x * 1.3, ang_y * 1.3, s ^ 78);
                mix(p.foliage_dark, p.foliage, leaf * 0.9)
            };
            let haze = 1.0 - (-TREELINE_DISTANCE_M / p.visibility_m).exp() + 0.12;
            let c = mix(base, p.horizon, haze);
            return [
                c[0] + grain * GRAIN_GROUND * 0.6,
                c[1] + grain * GRAIN_GROUND * 0.6,
                c[2] + grain * GRAIN_GROUND * 0.6,
            ];
        }
        if row.pitch < col.near_top {
            let tex = fbm(
                col.heading * 60.0,
                row.pitch * 200.0,
                s ^ 91,
                5,
                d_heading * 60.0,
            );
            let base = mix(p.foliage_dark, p.ground[1], 0.35 + 0.4 * tex);
            let c = mix(base, p.horizon, 0.38);
            return [
                c[0] + grain * GRAIN_SKY * 3.0,
                c[1] + grain * GRAIN_SKY * 3.0,
                c[2] + grain * GRAIN_SKY * 3.0,
            ];
        }
        if row.pitch < col.far_top {
            let rel = row.pitch / col.far_top.max(1e-4);
            let tex = fbm(
                col.heading * 40.0,
                row.pitch * 120.0,
                s ^ 90,
                5,
                d_heading * 40.0,
            );
            let mut base = scale(p.hill, 0.8 + 0.4 * tex);
            if p.snow && col.far_peak > 0.3 {
                let snow_line = 0.5 + 0.3 * tex;
                base = mix(
                    base,
                    rgb(236, 240, 246),
                    smoothstep(snow_line, snow_line + 0.05, rel),
                );
            }
            // Lower slopes are farther away through more air.
            let haze = if p.snow { 0.22 } else { 0.42 } + 0.2 * (1.0 - rel);
            let c = mix(base, p.horizon, haze);
            return [
                c[0] + grain * GRAIN_SKY * 2.0,
                c[1] + grain * GRAIN_SKY * 2.0,
                c[2] + grain * GRAIN_SKY * 2.0,
            ];
        }
        self.sky(col, row, sun, grain)
    }

    fn sky(&self, col: &Column, row: &Row, sun: [f32; 3], grain: f32) -> Rgb {
        let mut c = row.sky;

        // Ray direction and its angle to the sun.
        let dir = [col.sin_h * row.cos_p, col.cos_h * row.cos_p, row.sin_p];
        let cos_sun = dir[0] * sun[0] + dir[1] * sun[1] + dir[2] * sun[2];

        let threshold = 1.0 - self.cloud_cover;
        // Clouds on a flat layer overhead: perspective squeezes them toward the horizon.
        let lift = row.sin_p.max(0.02);
        let cx = dir[0] / lift * 0.9;
        let cy = dir[1] / lift * 0.9;
        let footprint = (1.0 / lift) * 0.004;
        let n = cloud_noise(cx, cy, self.seed ^ 0xc10d, footprint, threshold - 0.05);
        let density =
            smoothstep(threshold - 0.05, threshold + 0.18, n) * smoothstep(0.0, 0.12, row.sin_p);
        if density > 0.0 {
            let shade = fbm(
                cx * 2.0 + 5.0,
                cy * 2.0,
                self.seed ^ 0x5ade,
                3,
                footprint * 2.0,
            );
            let toward_sun = (cos_sun * 0.5 + 0.5).powi(2);
            let cloud = mix(
                rgb(160, 166, 178),
                rgb(250, 250, 250),
                (0.35 + 0.5 * shade + 0.3 * toward_sun).min(1.0),
            );
            c = mix(c, cloud, density);
        }

        // Sun: glare and halo on top of everything in the sky.
        let x = cos_sun - 1.0; // ≈ −γ²/2 for a small angle γ to the sun
        let glow = 0.75 * (x / 0.0015).exp() + 0.35 * (x / 0.03).exp() + 0.18 * (x / 0.25).exp();
        c = mix(c, rgb(255, 252, 240), glow.min(1.0));
        if cos_sun > SUN_DISC_RAD.cos() {
            c = rgb(255, 255, 250);
        }
        [
            c[0] + grain * GRAIN_SKY,
            c[1] + grain * GRAIN_SKY,
            c[2] + grain * GRAIN_SKY,
        ]
    }

    fn ground(&self, col: &Column, row: &Row, x: usize, d_heading: f32, d_pitch: f32) -> Rgb {
        let p = &self.palette;
        let s = self.seed;
        let alpha = -row.pitch;
        let (sin_a, cos_a) = alpha.sin_cos();
        let dist = (CAMERA_HEIGHT_M * cos_a / sin_a).min(MAX_GROUND_DISTANCE_M);
        let east = dist * col.sin_h;
        let north = dist * col.cos_h;
        // Ground footprint of this pixel (m) across and along the road.
        let slope = CAMERA_HEIGHT_M / (sin_a * sin_a) * d_pitch;
        let fp_e = (col.cos_h.abs() * dist * d_heading + col.sin_h.abs() * slope).max(1e-3);
        let fp_n = (col.sin_h.abs() * dist * d_heading + col.cos_h.abs() * slope).max(1e-3);
        let fp = fp_e.max(fp_n);

        let (west_edge, east_edge) = self.road_edges();
        let road = band(east, fp_e, self.road_centre, self.road_half);
        // The shoulder's outer edge wanders, as worn gravel does.
        let ragged =
            SHOULDER_M * (0.4 + 1.1 * value_noise(north * 0.25, east.signum(), s ^ 0x5402));
        let with_shoulder = band(east, fp_e, self.road_centre, self.road_half + ragged);
        let shoulder = (with_shoulder - road).max(0.0);
        let terrain = 1.0 - with_shoulder;

        let mut c = [0.0; 3];
        if road > 0.0 {
            c = scale(self.road_colour(east, north, fp, fp_e, fp_n), road);
        }
        if shoulder > 0.0 || terrain > 0.0 {
            let t = self.terrain_colour(east, north, fp, west_edge, east_edge);
            if shoulder > 0.0 {
                let grit = fbm(east * 3.0, north * 3.0, s ^ 0x5401, 3, fp * 3.0);
                let gravel = mix(p.soil, self.road_base, 0.35);
                let sh = mix(scale(gravel, 0.8 + 0.3 * grit), t, 0.15 + 0.45 * grit);
                c = [
                    c[0] + sh[0] * shoulder,
                    c[1] + sh[1] * shoulder,
                    c[2] + sh[2] * shoulder,
                ];
            }
            if terrain > 0.0 {
                c = [
                    c[0] + t[0] * terrain,
                    c[1] + t[1] * terrain,
                    c[2] + t[2] * terrain,
                ];
            }
        }
        // Clumps and blades at pixel scale: the detail a photo has at every distance.
        let clump = value_noise(x as f32 * 0.5, row.y as f32 * 0.9, s ^ 0xc1c1) - 0.5;
        c = scale(c, 1.0 + clump * 0.22 * (1.0 - road));

        // Haze with distance, grain everywhere (stronger near the camera where detail is real).
        let haze = 1.0 - (-dist / p.visibility_m).exp();
        c = mix(c, p.horizon, haze);
        let g = signed(hash2(x as i32, row.y as i32, s ^ 0x9e37)) * GRAIN_GROUND * (1.0 - haze);
        [c[0] + g, c[1] + g, c[2] + g * 0.9]
    }

    fn road_colour(&self, east: f32, north: f32, fp: f32, fp_e: f32, fp_n: f32) -> Rgb {
        let s = self.seed;
        let rel = east - self.road_centre;
        if self.surface == Surface::Unpaved {
            let soil = self.road_base;
            let ruts = (band(rel.abs(), fp_e, 1.0, 0.35) * 0.18).min(0.18);
            let grit = fbm(east * 4.0, north * 4.0, s ^ 0x6a7e, 4, fp * 4.0);
            let stones = value_noise(east * 12.0, north * 12.0, s ^ 0x570e);
            let stone_w = (1.0 - fp * 12.0).clamp(0.0, 1.0);
            let base = scale(soil, 0.88 + 0.22 * grit - ruts);
            return mix(
                base,
                scale(soil, 1.15),
                smoothstep(0.75, 0.85, stones) * stone_w * 0.6,
            );
        }
        // Asphalt: patches, tyre polish in each lane's wheel paths, fine aggregate.
        let patch = fbm(east * 0.4, north * 0.15, s ^ 0xa5f, 3, fp * 0.4);
        let fine = fbm(east * 8.0, north * 8.0, s ^ 0xa60, 3, fp * 8.0);
        let lane_pos = (rel.abs() - LANE_WIDTH_M * 0.5).abs();
        let polish = band(lane_pos, fp_e, 0.9, 0.35) * 0.08;
        let mut c = scale(self.asphalt, 0.85 + 0.25 * patch + 0.15 * fine - polish);

        let wear = 0.72 + 0.28 * value_noise(east * 2.0, north * 0.5, s ^ 0xbea);
        let m = self.markings;
        let centre_cov = line_coverage(m.centre, rel, 0.0, north, fp_e, fp_n, CENTRE_LINE_WIDTH_M);
        if centre_cov > 0.0 {
            c = mix(c, paint_colour(m.centre.colour), centre_cov * wear);
        }
        let edge_off = self.road_half - EDGE_LINE_INSET_M;
        let edge_cov =
            line_coverage(m.edge, rel, edge_off, north, fp_e, fp_n, EDGE_LINE_WIDTH_M).max(
                line_coverage(m.edge, rel, -edge_off, north, fp_e, fp_n, EDGE_LINE_WIDTH_M),
            );
        if edge_cov > 0.0 {
            c = mix(c, paint_colour(m.edge.colour), edge_cov * wear);
        }
        c
    }

    fn terrain_colour(
        &self,
        east: f32,
        north: f32,
        fp: f32,
        west_edge: f32,
        east_edge: f32,
    ) -> Rgb {
        let p = &self.palette;
        let s = self.seed;
        let fields = fbm(east * 0.012, north * 0.012, s ^ 0x7e1, 2, fp * 0.012);
        let mid = fbm(east * 0.15, north * 0.15, s ^ 0x7e2, 3, fp * 0.15);
        let fine = fbm(east * 3.0, north * 3.0, s ^ 0x7e3, 3, fp * 3.0);
        let mut c = mix(p.ground[0], p.ground[1], smoothstep(0.35, 0.65, fields));
        let accent = smoothstep(
            1.0 - p.accent_share,
            1.0 - p.accent_share + 0.06,
            mid * 0.7 + fine * 0.3,
        );
        c = mix(c, p.ground[2], accent);
        // Worn, dusty verge right beside the shoulder.
        let from_road = (west_edge - SHOULDER_M - east).max(east - east_edge - SHOULDER_M);
        let verge = (1.0 - from_road / 2.5).clamp(0.0, 1.0) * 0.35;
        c = mix(c, p.soil, verge);
        scale(c, 0.78 + 0.34 * fine + 0.1 * (mid - 0.5))
    }

    fn draw_prop(&self, buf: &mut [u8], w: usize, h: usize, prop: &Prop, cols: &[Column]) {
        let r = prop.distance();
        let heading = prop.east.atan2(prop.north);
        let half_w = (prop.width * 0.5 / r).atan() * 1.15 + 1e-3;
        let top = ((prop.height - CAMERA_HEIGHT_M) / r).atan();
        let bottom = (-CAMERA_HEIGHT_M / r).atan();
        let d_heading = TAU / w as f32;
        let d_pitch = PI / h as f32;
        let px_m = r * d_heading;
        let x0 = ((heading - half_w) / d_heading + w as f32 * 0.5 - 0.5).floor() as i64;
        let x1 = ((heading + half_w) / d_heading + w as f32 * 0.5 - 0.5).ceil() as i64;
        let y0 = ((0.5 - top / PI) * h as f32 - 1.0).floor().max(0.0) as usize;
        let y1 = (((0.5 - bottom / PI) * h as f32 + 1.0).ceil() as usize).min(h);
        if x1 - x0 > w as i64 {
            return;
        }
        let p = &self.palette;
        let haze = 1.0 - (-r / p.visibility_m).exp();
        // Which side of the prop faces the sun, as seen from the camera.
        let lit_side = (self.sun.azimuth - heading).sin();
        for y in y0..y1 {
            let pitch = (0.5 - (y as f32 + 0.5) / h as f32) * PI;
            let y_m = r * pitch.tan() + CAMERA_HEIGHT_M;
            let px_y = r * d_pitch / pitch.cos().powi(2);
            for xi in x0..=x1 {
                let x = xi.rem_euclid(w as i64) as usize;
                let col = &cols[x];
                if col.wall_r > 0.0
                    && col.wall_r < r
                    && pitch < col.wall_top
                    && pitch > col.wall_bottom
                {
                    continue; // behind the roadside wall
                }
                let col_heading = (xi as f32 + 0.5) / w as f32 * TAU - PI;
                let x_m = r * (col_heading - heading).tan();
                let px = px_m.max(px_y * 0.5);
                let shaded = if prop.kind == PropKind::Sign {
                    self.shade_sign(prop, x_m, y_m, px)
                } else {
                    shade_prop(prop, x_m, y_m, px, lit_side)
                };
                let Some((colour, cov)) = shaded else {
                    continue;
                };
                if cov <= 0.0 {
                    continue;
                }
                let grain = signed(hash2(x as i32, y as i32, self.seed ^ 0x1234)) * GRAIN_GROUND;
                let c = mix(colour, p.horizon, haze);
                let i = (y * w + x) * 3;
                for (k, ch) in c.iter().enumerate() {
                    let old = f32::from(buf[i + k]);
                    let new = old + (ch + grain - old) * cov;
                    buf[i + k] = new.clamp(0.0, 255.0) as u8;
                }
            }
        }
    }
}

impl Scene {
    /// The sign prop at (`x`, `y`) metres in its plane: the face on two posts.
    fn shade_sign(&self, prop: &Prop, x: f32, y: f32, px: f32) -> Option<(Rgb, f32)> {
        let face = self.sign.as_ref()?;
        let half = face.width_m * 0.5;
        let bottom = SIGN_CLEARANCE_M;
        let top = bottom + face.height_m;
        let panel = soft(x.abs() - half, px)
            .min(soft(y - top, px))
            .min(soft(bottom - y, px));
        if panel > 0.0 {
            let c = face.sample(x + half, top - y, px);
            return Some((c, panel));
        }
        let post_x = half * 0.55;
        let post = soft((x.abs() - post_x).abs() - SIGN_POST_HALF_M, px).min(soft(y - bottom, px));
        (post > 0.0).then_some((prop.colour, post))
    }
}

#[derive(Debug, Clone, Copy)]
struct Column {
    heading: f32,
    sin_h: f32,
    cos_h: f32,
    /// Top (rad) of the far hills and their height relative to the tallest possible (0–1).
    far_top: f32,
    far_peak: f32,
    near_top: f32,
    tree_top: f32,
    building: bool,
    /// The roadside wall seen in this column: top and bottom pitch (rad), distance along the
    /// ray (m, 0 when none) and position along the road (m).
    wall_top: f32,
    wall_bottom: f32,
    wall_r: f32,
    wall_n: f32,
    /// Hash of the wall tree in front here, and where across its crown (−1..1) this column is.
    wall_tree: u32,
    wall_rel: f32,
    wall: Option<Wall>,
}

/// A continuous strip of forest or hedge parallel to the road on one side.
#[derive(Debug, Clone, Copy)]
struct Wall {
    /// Distance (m) from the camera's line of travel.
    offset: f32,
    height: f32,
    /// Conifer tops (pointed) rather than broadleaf (rounded).
    spiky: bool,
    /// Share of its length broken by clearings (0: none).
    openness: f32,
    colour: Rgb,
    dark: Rgb,
}

#[derive(Debug, Clone, Copy)]
struct Row {
    y: usize,
    pitch: f32,
    sin_p: f32,
    cos_p: f32,
    /// Clear-sky colour at this pitch.
    sky: Rgb,
}

fn paint_colour(c: LineColour) -> Rgb {
    match c {
        LineColour::White => rgb(232, 232, 226),
        LineColour::Yellow => rgb(226, 178, 36),
    }
}

/// Coverage of one road line centred `offset` metres from the road centre.
fn line_coverage(
    line: Line,
    rel: f32,
    offset: f32,
    north: f32,
    fp_e: f32,
    fp_n: f32,
    width: f32,
) -> f32 {
    let half = width * 0.5;
    match line.pattern {
        LinePattern::None => 0.0,
        LinePattern::Solid => band(rel, fp_e, offset, half),
        LinePattern::DoubleSolid => {
            band(rel, fp_e, offset - DOUBLE_LINE_SPACING_M * 0.5, half)
                + band(rel, fp_e, offset + DOUBLE_LINE_SPACING_M * 0.5, half)
        }
        LinePattern::Dashed => {
            let across = band(rel, fp_e, offset, half);
            if across <= 0.0 {
                return 0.0;
            }
            let (on, period) = if offset == 0.0 {
                (DASH_M, DASH_PERIOD_M)
            } else {
                (EDGE_DASH_M, EDGE_DASH_PERIOD_M)
            };
            across * dashes(north, fp_n, on, period)
        }
    }
}

/// A soft edge: coverage from a signed distance (m, negative inside) and the pixel size (m).
#[inline(always)]
fn soft(sd: f32, px: f32) -> f32 {
    (0.5 - sd / px).clamp(0.0, 1.0)
}

/// Colour and coverage of `prop` at (`x`, `y`) metres in its own plane (x across, y up from
/// the ground), `px` metres per pixel, with the sun on the `lit_side` (> 0: right).
fn shade_prop(prop: &Prop, x: f32, y: f32, px: f32, lit_side: f32) -> Option<(Rgb, f32)> {
    let (w, h) = (prop.width, prop.height);
    let half = w * 0.5;
    if y < -px || y > h + px || x.abs() > half * 1.2 + px {
        return None;
    }
    let s = prop.seed;
    let light = 1.0 + 0.25 * lit_side * (x / half).clamp(-1.0, 1.0);
    let leaf = value_noise(x * 2.5, y * 2.5, s) * 0.5 + value_noise(x * 7.0, y * 7.0, s ^ 1) * 0.5;
    let foliage = |c: Rgb| scale(c, (0.7 + 0.6 * leaf) * light);
    let trunk = |hw: f32, top: f32| -> f32 { soft(x.abs() - hw, px).min(soft(y - top, px)) };
    match prop.kind {
        PropKind::Conifer => {
            let y0 = 0.12 * h;
            let f = ((y - y0) / (h - y0)).clamp(0.0, 1.0);
            let tiers = ((1.0 - f) * 6.0).fract();
            let hw =
                half * (1.0 - f) * (0.7 + 0.3 * tiers) * (0.9 + 0.2 * value_noise(y * 3.0, 0.0, s));
            let canopy = soft(x.abs() - hw, px)
                .min(soft(y0 - y, px))
                .min(soft(y - h, px));
            let stem = trunk((0.06 * w).max(0.12), y0 + 0.5);
            pick(
                canopy,
                foliage(prop.colour),
                stem,
                scale(prop.colour2, light),
            )
        }
        PropKind::Broadleaf => {
            let (cy, ry) = (0.62 * h, 0.38 * h);
            let q = ((x / half).powi(2) + ((y - cy) / ry).powi(2)).sqrt();
            let lumpy = q - 0.22 * (value_noise(x * 1.2, y * 1.2, s ^ 2) - 0.5);
            let canopy = soft((lumpy - 1.0) * half.min(ry), px);
            let stem = trunk((0.05 * w).max(0.12), cy);
            pick(
                canopy,
                foliage(prop.colour),
                stem,
                scale(prop.colour2, light),
            )
        }
        PropKind::Palm => {
            let bend = (unit(s) - 0.5) * 0.5 * w;
            let t = y / h;
            let xc = bend * t * t;
            let stem = trunk(0.16, 0.86 * h).min(soft((x - xc).abs() - 0.16, px));
            let (dx, dy) = (x - bend, y - 0.88 * h);
            let ang = dy.atan2(dx);
            let reach = half * (0.25 + 0.75 * (4.0 * ang + unit(s ^ 3) * 6.0).cos().abs().powi(3));
            let droop = if dy < 0.0 { 0.6 } else { 0.45 };
            let frond = soft(dx.hypot(dy / droop) - reach, px);
            pick(
                frond,
                foliage(prop.colour),
                stem,
                scale(prop.colour2, light),
            )
        }
        PropKind::Flattop => {
            let (cy, ry) = (0.82 * h, 0.14 * h);
            let q = ((x / half).powi(2) + ((y - cy) / ry).powi(2)).sqrt()
                - 0.2 * (value_noise(x * 1.5, y * 3.0, s ^ 2) - 0.5);
            let canopy = soft((q - 1.0) * ry, px);
            let lean = (y / cy) * 0.15 * w * (unit(s ^ 4) - 0.5);
            let stem = soft((x - lean).abs() - 0.12, px).min(soft(y - cy, px));
            pick(
                canopy,
                foliage(prop.colour),
                stem,
                scale(prop.colour2, light),
            )
        }
        PropKind::Cypress => {
            let t = (y / h).clamp(0.0, 1.0);
            let hw = half * (1.0 - (2.0 * t - 0.8).powi(2)).max(0.0).sqrt();
            let canopy = soft(x.abs() - hw, px).min(soft(y - h, px));
            pick(canopy, foliage(prop.colour), 0.0, prop.colour2)
        }
        PropKind::Shrub | PropKind::Rock => {
            let q = ((x / half).powi(2) + (y / h).powi(2)).sqrt()
                - 0.25 * (value_noise(x * 2.0, y * 2.0, s ^ 5) - 0.5);
            let cov = soft((q - 1.0) * half.min(h), px);
            let c = if prop.kind == PropKind::Rock {
                scale(
                    prop.colour,
                    (0.8 + 0.3 * leaf) * light * (0.8 + 0.3 * (y / h)),
                )
            } else {
                foliage(prop.colour)
            };
            Some((c, cov))
        }
        PropKind::Pole { wooden } => {
            let hw = if wooden { 0.13 } else { 0.15 };
            let pole = soft(x.abs() - hw, px).min(soft(y - h, px));
            let arm = soft((y - 0.9 * h).abs() - 0.07, px).min(soft(x.abs() - 0.9, px));
            let grain = if wooden {
                0.85 + 0.2 * value_noise(0.0, y * 4.0, s)
            } else {
                1.0
            };
            pick(pole, scale(prop.colour, grain * light), arm, prop.colour2)
        }
        PropKind::Bollard => {
            let post = soft(x.abs() - half, px).min(soft(y - h, px));
            let band = y > 0.72 * h && y < 0.9 * h;
            Some((if band { prop.colour2 } else { prop.colour }, post))
        }
        PropKind::House { flat_roof } => {
            let wall_h = if flat_roof { h } else { 0.62 * h };
            let wall = soft(x.abs() - half, px).min(soft(y - wall_h, px));
            let roof = if flat_roof {
                soft(x.abs() - half - 0.1, px).min(soft((y - h).abs() - 0.25, px))
            } else {
                let over = half + 0.4;
                let f = ((y - wall_h + 0.2) / (h - wall_h + 0.2)).clamp(0.0, 1.0);
                soft(x.abs() - over * (1.0 - f), px).min(soft(wall_h - 0.2 - y, px))
            };
            let cell = ((x + half) / 2.6).fract();
            let storey = (y / 2.8).fract();
            let window =
                (0.3..0.7).contains(&cell) && (0.35..0.8).contains(&storey) && y < wall_h - 0.5;
            let door = x.abs() < 0.5 && y < 2.1;
            let wall_c = if door {
                rgb(70, 54, 42)
            } else if window {
                rgb(40, 46, 56)
            } else {
                scale(prop.colour, (0.9 + 0.15 * leaf) * light)
            };
            pick(roof, scale(prop.colour2, 0.9 + 0.2 * leaf), wall, wall_c)
        }
        PropKind::Car { facing_camera } => {
            let body = soft(x.abs() - half, px).min(soft((y - 0.6).abs() - 0.32, px));
            let cabin_hw = half * 0.85 - (y - 0.92).max(0.0) * 0.35;
            let cabin = soft(x.abs() - cabin_hw, px).min(soft((y - 1.18).abs() - 0.28, px));
            let glass = x.abs() < cabin_hw - 0.1 && y > 1.0 && y < 1.38;
            let wheel =
                soft((y - 0.17).abs() - 0.17, px).min(soft((x.abs() - 0.68).abs() - 0.17, px));
            let lamp = (0.58..0.82).contains(&x.abs()) && (0.62..0.74).contains(&y);
            let c = if lamp {
                if facing_camera {
                    rgb(240, 236, 210)
                } else {
                    rgb(190, 30, 30)
                }
            } else if glass {
                rgb(34, 40, 50)
            } else {
                scale(prop.colour, light)
            };
            let shape = body.max(cabin);
            if wheel > shape {
                return Some((prop.colour2, wheel));
            }
            Some((c, shape))
        }
        // Drawn by `Scene::shade_sign`, which has the face texture.
        PropKind::Sign => None,
    }
}

/// The nearer of two layered shapes: `a` drawn over `b`.
fn pick(a_cov: f32, a: Rgb, b_cov: f32, b: Rgb) -> Option<(Rgb, f32)> {
    if a_cov <= 0.0 && b_cov <= 0.0 {
        return None;
    }
    if a_cov >= b_cov {
        Some((a, a_cov))
    } else {
        Some((mix(b, a, a_cov), b_cov))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::builtin::{world, SITES};

    fn loc(id: &str) -> Location {
        world().location(id).cloned().expect("built-in id")
    }

    fn scene(id: &str) -> Scene {
        let l = loc(id);
        Scene::new(&l.id, &builtin::scene_facts(&l))
    }

    /// The same scene without trees, poles, houses or cars, to measure the road and the sky.
    fn bare(id: &str) -> Scene {
        let mut s = scene(id);
        s.props.clear();
        s
    }

    fn column_of(heading_deg: f32, w: u32) -> u32 {
        let u = (0.5 + heading_deg / 360.0).rem_euclid(1.0);
        ((u * w as f32) as u32).min(w - 1)
    }

    fn row_of(pitch_deg: f32, h: u32) -> u32 {
        (((0.5 - pitch_deg / 180.0) * h as f32) as u32).min(h - 1)
    }

    fn luma(p: &image::Rgb<u8>) -> f32 {
        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
    }

    /// Mean colour over a heading × pitch window (degrees; headings may wrap).
    fn patch(img: &RgbImage, headings: (f32, f32), pitches: (f32, f32)) -> Rgb {
        let (w, h) = img.dimensions();
        let mut sum = [0.0f32; 3];
        let mut n = 0.0;
        let mut hd = headings.0;
        while hd <= headings.1 {
            let mut pd = pitches.0;
            while pd <= pitches.1 {
                let p = img.get_pixel(column_of(hd, w), row_of(pd, h));
                for k in 0..3 {
                    sum[k] += f32::from(p[k]);
                }
                n += 1.0;
                pd += 0.25;
            }
            hd += 0.25;
        }
        scale(sum, 1.0 / n)
    }

    fn dist(a: Rgb, b: Rgb) -> f32 {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    }

    #[test]
    fn convention_maps_heading_and_pitch_to_pixels() {
        assert_eq!(column_of(0.0, 2048), 1024);
        assert_eq!(column_of(90.0, 2048), 1536);
        assert_eq!(column_of(-90.0, 2048), 512);
        assert_eq!(row_of(0.0, 1024), 512);
        assert_eq!(row_of(89.9, 1024), 0);
    }

    #[test]
    fn same_location_same_pixels_different_ids_differ() {
        let a = paint(&loc("fr-bayeux"), 256, 128);
        let b = paint(&loc("fr-bayeux"), 256, 128);
        assert_eq!(a.as_raw(), b.as_raw());
        let c = paint(&loc("fr-gordes"), 256, 128);
        assert_ne!(a.as_raw(), c.as_raw());
        // Same facts and place but another id: another seed, so other pixels.
        let mut renamed = loc("fr-bayeux");
        renamed.id = "fr-bayeux-2".into();
        assert_ne!(a.as_raw(), paint(&renamed, 256, 128).as_raw());
    }

    #[test]
    fn paints_the_requested_size() {
        for (w, h) in [(64, 32), (300, 150), (1, 1)] {
            let img = paint(&loc("us-moab"), w, h);
            assert_eq!(img.dimensions(), (w, h));
        }
        assert_eq!(paint(&loc("us-moab"), 0, 0).dimensions(), (0, 0));
        assert_eq!(PANORAMA_WIDTH, 2 * PANORAMA_HEIGHT);
    }

    #[test]
    fn sky_is_brighter_than_ground_everywhere() {
        for site in SITES {
            let img = paint(&site.location(), 128, 64);
            let (mut top, mut bottom) = (0.0, 0.0);
            for (_, y, p) in img.enumerate_pixels() {
                if y < 32 {
                    top += luma(p);
                } else {
                    bottom += luma(p);
                }
            }
            assert!(
                top > bottom * 1.1,
                "{}: sky {top} vs ground {bottom}",
                site.id
            );
        }
    }

    #[test]
    fn road_runs_north_south_through_the_camera() {
        for id in [
            "fr-bayeux",
            "th-chiang-rai",
            "us-moab",
            "ke-nanyuki",
            "fi-kuusamo",
            "bo-uyuni",
        ] {
            let s = bare(id);
            let img = s.render(1024, 512);
            let road = s.road_base;
            let north = patch(&img, (-1.0, 1.0), (-6.0, -3.0));
            let south = patch(&img, (178.5, 181.5), (-6.0, -3.0));
            let east = patch(&img, (89.0, 91.0), (-6.0, -3.0));
            let west = patch(&img, (-91.0, -89.0), (-6.0, -3.0));
            assert!(
                dist(north, road) < 30.0,
                "{id}: north {north:?} vs road {road:?}"
            );
            assert!(
                dist(south, road) < 30.0,
                "{id}: south {south:?} vs road {road:?}"
            );
            // Gravel is close to the ground it is made of; asphalt is not.
            let apart = if s.surface == Surface::Paved {
                35.0
            } else {
                dist(north, road) + 10.0
            };
            assert!(
                dist(east, road) > apart,
                "{id}: east {east:?} looks like road {road:?}"
            );
            assert!(
                dist(west, road) > apart,
                "{id}: west {west:?} looks like road {road:?}"
            );
        }
    }

    fn is_yellow(p: &image::Rgb<u8>) -> bool {
        let [r, g, b] = p.0.map(i32::from);
        r > 150 && g > 110 && b < 100 && r - b > 100
    }

    /// Mean heading (degrees) of yellow paint on the road ahead.
    fn yellow_heading(img: &RgbImage) -> Option<f32> {
        let (w, h) = img.dimensions();
        let (mut sum, mut n) = (0.0, 0.0);
        for x in column_of(-40.0, w)..column_of(40.0, w) {
            for y in row_of(-8.0, h)..row_of(-40.0, h) {
                if is_yellow(img.get_pixel(x, y)) {
                    sum += ((x as f32 + 0.5) / w as f32 - 0.5) * 360.0;
                    n += 1.0;
                }
            }
        }
        (n > 20.0).then(|| sum / n)
    }

    #[test]
    fn centre_line_is_on_the_driving_side() {
        // Real facts: the USA keeps right (yellow centre on the left looking north), Thailand
        // keeps left (yellow centre on the right).
        let us = yellow_heading(&bare("us-stowe").render(1024, 512)).expect("US centre line");
        assert!(us < -1.0, "US centre line at heading {us}");
        let th = yellow_heading(&bare("th-chiang-rai").render(1024, 512)).expect("TH centre line");
        assert!(th > 1.0, "Thai centre line at heading {th}");

        // Same scene, only the driving side flipped: the centre line changes side.
        let mut facts = builtin::scene_facts(&loc("fr-bayeux"));
        facts.markings = Markings {
            centre: Line {
                colour: LineColour::Yellow,
                pattern: LinePattern::Solid,
            },
            edge: Line {
                colour: LineColour::White,
                pattern: LinePattern::None,
            },
        };
        let mut headings = Vec::new();
        for side in [DrivingSide::Right, DrivingSide::Left] {
            facts.side = side;
            let mut s = Scene::new("side-test", &facts);
            s.props.clear();
            headings.push(yellow_heading(&s.render(1024, 512)).expect("centre line"));
        }
        assert!(headings[0] < -1.0 && headings[1] > 1.0, "{headings:?}");
        assert!(
            (headings[0] + headings[1]).abs() < 1.0,
            "not mirrored: {headings:?}"
        );
    }

    /// Heading (degrees) of the brightest sky column, smoothed over a few degrees.
    fn brightest_sky_heading(img: &RgbImage) -> f32 {
        let (w, h) = img.dimensions();
        let means: Vec<f32> = (0..w)
            .map(|x| {
                let rows = row_of(85.0, h)..row_of(4.0, h);
                let n = rows.len() as f32;
                rows.map(|y| luma(img.get_pixel(x, y))).sum::<f32>() / n
            })
            .collect();
        let k = (w / 72) as i64;
        let smooth = |x: i64| -> f32 {
            (-k..=k)
                .map(|d| means[(x + d).rem_euclid(i64::from(w)) as usize])
                .sum()
        };
        let best = (0..i64::from(w))
            .max_by(|a, b| smooth(*a).total_cmp(&smooth(*b)))
            .unwrap_or(0);
        ((best as f32 + 0.5) / w as f32 - 0.5) * 360.0
    }

    #[test]
    fn sun_stands_toward_the_equator() {
        for id in [
            "fr-bayeux",
            "us-stowe",
            "jp-furano",
            "de-titisee",
            "kz-taraz",
            "ca-jasper",
            "gb-portree",
        ] {
            let s = bare(id);
            let az = s.sun.azimuth.to_degrees();
            assert!((120.0..240.0).contains(&az), "{id}: sun azimuth {az}");
            let seen = brightest_sky_heading(&s.render(512, 256));
            assert!(seen.abs() > 120.0, "{id}: brightest sky at heading {seen}");
        }
        for id in [
            "au-bright",
            "nz-rotorua",
            "ar-el-calafate",
            "za-stellenbosch",
            "cl-puerto-varas",
        ] {
            let s = bare(id);
            let az = s.sun.azimuth.to_degrees();
            assert!(!(60.0..300.0).contains(&az), "{id}: sun azimuth {az}");
            let seen = brightest_sky_heading(&s.render(512, 256));
            assert!(seen.abs() < 60.0, "{id}: brightest sky at heading {seen}");
        }
        for site in SITES {
            let s = scene(site.id);
            let el = s.sun.elevation.to_degrees();
            let noon_max = 90.0 - (site.lat.abs() as f32 - 23.44).max(0.0);
            assert!(
                el > 15.0 && el <= noon_max + 0.01,
                "{}: elevation {el}",
                site.id
            );
            if site.lat.abs() < 20.0 {
                assert!(el > 55.0, "{}: tropical sun only {el} high", site.id);
            }
        }
    }

    #[test]
    fn sun_formula_matches_known_positions() {
        let noon = Sun::at(45.0, 0.0, 0.0);
        assert!((noon.azimuth.to_degrees() - 180.0).abs() < 0.01);
        assert!((noon.elevation.to_degrees() - 45.0).abs() < 0.01);
        let south = Sun::at(-30.0, -10.0, 0.0);
        assert!(south.azimuth.to_degrees() < 0.01 || south.azimuth.to_degrees() > 359.99);
        assert!((south.elevation.to_degrees() - 70.0).abs() < 0.01);
        let morning = Sun::at(45.0, 10.0, -30.0).azimuth.to_degrees();
        assert!((90.0..180.0).contains(&morning), "{morning}");
        let afternoon = Sun::at(45.0, 10.0, 30.0).azimuth.to_degrees();
        assert!((180.0..270.0).contains(&afternoon), "{afternoon}");
    }

    #[test]
    fn coverage_filters_box_average() {
        assert_eq!(band(0.0, 0.1, 0.0, 1.0), 1.0);
        assert!((band(1.0, 0.2, 0.0, 1.0) - 0.5).abs() < 1e-5);
        assert_eq!(band(5.0, 0.2, 0.0, 1.0), 0.0);
        // A wide footprint sees the dashes' average; a narrow one sees dash or gap.
        assert!((dashes(0.0, 1200.0, 3.0, 12.0) - 0.25).abs() < 1e-3);
        assert!(dashes(1.5, 0.1, 3.0, 12.0) > 0.999);
        assert!(dashes(7.5, 0.1, 3.0, 12.0) < 0.001);
        assert_eq!(stable_hash("world"), stable_hash("world"));
        assert_ne!(stable_hash("a"), stable_hash("b"));
    }

    /// Share of pixels in a heading × pitch window within 30 levels of `colour`.
    fn share_near(
        img: &RgbImage,
        headings: (f32, f32),
        pitches: (f32, f32),
        colour: [u8; 3],
    ) -> f32 {
        let (w, h) = img.dimensions();
        let (mut hit, mut n) = (0.0f32, 0.0f32);
        for x in column_of(headings.0, w)..column_of(headings.1, w) {
            for y in row_of(pitches.1, h)..row_of(pitches.0, h) {
                let p = img.get_pixel(x, y);
                let close = (0..3).all(|k| (i32::from(p[k]) - i32::from(colour[k])).abs() < 30);
                hit += f32::from(u8::from(close));
                n += 1.0;
            }
        }
        hit / n.max(1.0)
    }

    #[test]
    fn sign_stands_on_the_driving_side_in_the_country_colours() {
        // Germany keeps right (yellow sign right of the road ahead); Japan keeps left (blue,
        // left); Russia right (blue).
        for (id, colour, right) in [
            ("de-titisee", sign::YELLOW.background, true),
            ("jp-furano", sign::BLUE.background, false),
            ("ru-suzdal", sign::BLUE.background, true),
            ("us-moab", sign::GREEN.background, true),
            ("au-kuranda", sign::GREEN.background, false),
        ] {
            let img = paint(&loc(id), 2048, 1024);
            let rightwards = share_near(&img, (8.0, 45.0), (-8.0, 12.0), colour);
            let leftwards = share_near(&img, (-45.0, -8.0), (-8.0, 12.0), colour);
            let (near, far) = if right {
                (rightwards, leftwards)
            } else {
                (leftwards, rightwards)
            };
            assert!(
                near > 0.05,
                "{id}: sign colour covers only {near} on its side"
            );
            assert!(far < 0.01, "{id}: sign colour {far} on the wrong side");
        }
    }

    #[test]
    fn same_location_same_pixels_with_the_sign() {
        let a = paint(&loc("gr-kalambaka"), 1024, 512);
        assert_eq!(a.as_raw(), paint(&loc("gr-kalambaka"), 1024, 512).as_raw());
        // The sign is the only difference from the scene without it, and it is in front.
        let bare_scene = scene("gr-kalambaka").render(1024, 512);
        let changed: Vec<(u32, u32)> = a
            .enumerate_pixels()
            .zip(bare_scene.pixels())
            .filter(|((_, _, p), q)| p != q)
            .map(|((x, y, _), _)| (x, y))
            .collect();
        assert!(!changed.is_empty());
        for (x, y) in changed {
            let heading = ((x as f32 + 0.5) / 1024.0 - 0.5) * 360.0;
            let pitch = (0.5 - (y as f32 + 0.5) / 512.0) * 180.0;
            assert!(
                (0.0..60.0).contains(&heading) && pitch.abs() < 30.0,
                "({heading}, {pitch})"
            );
        }
    }

    /// Whether the road ahead carries yellow paint.
    fn yellow_share_ahead(img: &RgbImage) -> f32 {
        let (w, h) = img.dimensions();
        let (mut n, mut all) = (0.0, 0.0);
        for x in column_of(-40.0, w)..column_of(40.0, w) {
            for y in row_of(-8.0, h)..row_of(-40.0, h) {
                // Saturated paint only: golden savanna grass is yellowish too.
                let [r, g, b] = img.get_pixel(x, y).0.map(i32::from);
                n += f32::from(u8::from(r > 165 && g > 120 && b < 75 && r - b > 120));
                all += 1.0;
            }
        }
        n / all
    }

    #[test]
    fn line_colours_follow_the_country() {
        let mut seen = std::collections::HashSet::new();
        for site in SITES {
            if site.surface != Surface::Paved || !seen.insert(site.country) {
                continue;
            }
            let img = bare(site.id).render(512, 256);
            let m = builtin::country_markings(site.country).expect("markings");
            let yellow = [m.centre, m.edge]
                .iter()
                .any(|l| l.colour == LineColour::Yellow && l.pattern != LinePattern::None);
            let share = yellow_share_ahead(&img);
            if yellow {
                assert!(share > 0.001, "{}: no yellow paint ({share})", site.id);
            } else {
                assert!(
                    share < 0.0002,
                    "{}: yellow paint {share} on white-line road",
                    site.id
                );
            }
        }
        // Yellow edge lines (South Africa) sit at both road edges, away from the centre line.
        let img = bare("za-graaff-reinet").render(1024, 512);
        let s = bare("za-graaff-reinet");
        let (w, h) = img.dimensions();
        let (mut east, mut west) = (0, 0);
        for x in column_of(-60.0, w)..column_of(60.0, w) {
            for y in row_of(-10.0, h)..row_of(-50.0, h) {
                if is_yellow(img.get_pixel(x, y)) {
                    let heading = ((x as f32 + 0.5) / w as f32 - 0.5) * TAU;
                    let pitch = (0.5 - (y as f32 + 0.5) / h as f32) * PI;
                    let dist = CAMERA_HEIGHT_M / (-pitch).tan();
                    let e = dist * heading.sin() - s.road_centre;
                    if e > 1.0 {
                        east += 1
                    } else if e < -1.0 {
                        west += 1
                    }
                }
            }
        }
        assert!(east > 20 && west > 20, "edges east {east} west {west}");
    }

    #[test]
    fn ground_colour_follows_the_climate() {
        // Mean verge-and-field colour beside the road, far enough out to be terrain.
        let ground = |id: &str| {
            let img = bare(id).render(512, 256);
            let a = patch(&img, (60.0, 120.0), (-35.0, -12.0));
            let b = patch(&img, (-120.0, -60.0), (-35.0, -12.0));
            scale([a[0] + b[0], a[1] + b[1], a[2] + b[2]], 0.5)
        };
        let green = |c: Rgb| c[1] - c[0];
        // Deserts are sandy (red over green), tropics and temperate fields green.
        for id in [
            "eg-luxor",
            "na-sesriem",
            "cl-san-pedro-de-atacama",
            "us-moab",
        ] {
            let c = ground(id);
            assert!(green(c) < 0.0 && c[0] > 120.0, "{id}: desert ground {c:?}");
        }
        for id in ["th-chiang-rai", "co-salento", "fr-bayeux", "ie-dingle"] {
            let c = ground(id);
            assert!(green(c) > 15.0, "{id}: green ground {c:?}");
        }
        // Savanna: golden grass, brighter and yellower than temperate fields.
        let savanna = ground("bw-maun");
        let temperate = ground("fr-bayeux");
        assert!(
            savanna[0] > temperate[0] + 40.0,
            "{savanna:?} vs {temperate:?}"
        );
        assert!(green(savanna) < green(temperate));
    }

    #[test]
    fn tropical_sun_stands_high_in_the_painted_sky() {
        for id in ["gh-kumasi", "co-salento", "ec-otavalo", "my-tanah-rata"] {
            let img = bare(id).render(512, 256);
            let (w, h) = img.dimensions();
            let (mut best, mut at) = (0.0, 0);
            for y in 0..h / 2 {
                for x in 0..w {
                    let l = luma(img.get_pixel(x, y));
                    if l > best {
                        (best, at) = (l, y);
                    }
                }
            }
            let pitch = (0.5 - (at as f32 + 0.5) / h as f32) * 180.0;
            assert!(pitch > 55.0, "{id}: brightest sky at {pitch}° elevation");
        }
    }

    /// CPU time (ms, all threads) this process has used, from /proc (Linux): wall time alone is
    /// meaningless on a machine shared with compilers.
    fn process_cpu_ms() -> u64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat; after the ")" (which ends field 2)
        // they are the 12th and 13th, in clock ticks of 10 ms.
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        (ticks(11) + ticks(12)) * 10
    }

    /// Paints a few built-in locations to /tmp as JPEG and prints how long a full-size panorama
    /// takes. Run with `cargo test --lib game::panorama -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn write_samples_and_time_full_size() {
        let ids = std::env::var("PANO_IDS").unwrap_or_else(|_| {
            "fr-bayeux,us-moab,au-alice-springs,fi-kuusamo,th-chiang-rai,ch-grindelwald,ke-nanyuki,gb-hawes"
                .into()
        });
        for id in ids.split(',') {
            let l = loc(id);
            // The scene without its sign is exactly the painter before signs existed (the sign
            // has its own random stream), so this is the before/after comparison.
            let cpu0 = process_cpu_ms();
            let _ = scene(id).render(PANORAMA_WIDTH, PANORAMA_HEIGHT);
            let before = process_cpu_ms() - cpu0;
            let cpu0 = process_cpu_ms();
            let t = std::time::Instant::now();
            let img = paint(&l, PANORAMA_WIDTH, PANORAMA_HEIGHT);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            let cpu = process_cpu_ms() - cpu0;
            let path = format!("/tmp/pano-{id}.jpg");
            img.save(&path).expect("write sample");
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            // The file viewer shows PNG only: a downscaled whole and a full-size forward crop.
            let small =
                image::imageops::resize(&img, 1024, 512, image::imageops::FilterType::Triangle);
            small
                .save(format!("/tmp/pano-{id}.png"))
                .expect("write png");
            let crop = image::imageops::crop_imm(&img, 1024 - 400, 350, 800, 500).to_image();
            crop.save(format!("/tmp/pano-{id}-front.png"))
                .expect("write crop");
            println!(
                "{id}: painted {PANORAMA_WIDTH}x{PANORAMA_HEIGHT} in {ms:.0} ms wall, {cpu} ms CPU (without sign {before} ms CPU), {path} {} KiB",
                bytes / 1024
            );
        }
    }
}
