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

mod ground;
mod noise;
mod palette;
mod props;
mod raster;
pub mod sign;
mod sky;
#[cfg(test)]
mod tests;

use super::builtin;
use super::Location;
use crate::game::builtin::{Climate, DrivingSide, Markings, SceneFacts, Surface};
use image::RgbImage;
use noise::stable_hash;
use palette::{mix, palette, rgb, Palette, Rgb};
use props::Prop;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sky::Sun;
use std::f32::consts::PI;
use std::ops::Range;

/// Width of generated equirectangular panoramas (2:1).
pub(crate) const PANORAMA_WIDTH: u32 = 2048;
/// Height of generated panoramas: half the width, as equirectangular images are.
pub(crate) const PANORAMA_HEIGHT: u32 = PANORAMA_WIDTH / 2;
/// Camera height above the road (m): roughly where a Street View car carries its camera.
const CAMERA_HEIGHT_M: f32 = 2.5;
/// One traffic lane (m): a typical rural lane.
const LANE_WIDTH_M: f32 = 3.5;
/// Half the width of an unpaved road (m); such roads are driven in the middle.
const UNPAVED_HALF_WIDTH_M: f32 = 3.0;
/// Gravel or dust strip beside the asphalt (m).
const SHOULDER_M: f32 = 0.9;
/// Distance (m) of the continuous horizon tree line, beyond the last placed prop.
const TREELINE_DISTANCE_M: f32 = 320.0;
/// Film-grain amplitude (8-bit levels) on ground and props: photos are never flat, and the
/// high-frequency detail gives JPEG sizes and encode times like real panoramas.
const GRAIN_GROUND: f32 = 9.0;

/// Paints an equirectangular panorama for `loc`; the same location always gives the same pixels.
pub fn paint(loc: &Location, width: u32, height: u32) -> RgbImage {
    paint_rows(loc, width, height, 0..height)
}

/// Paints only the rows `rows` of `loc`'s `width`×`height` panorama (the others stay black):
/// views that look near the horizon sample a band of rows, and painting costs per row. Every
/// painted pixel equals [`paint`]'s, since a pixel depends only on its own position.
pub(crate) fn paint_rows(loc: &Location, width: u32, height: u32, rows: Range<u32>) -> RgbImage {
    let facts = builtin::scene_facts(loc);
    let mut scene = Scene::new(&loc.id, &facts);
    if let Some(content) = sign::SignContent::for_location(loc) {
        scene.add_sign(&content, facts.side);
    }
    let rows = rows.start.min(height) as usize..rows.end.min(height) as usize;
    scene.render_band(width, height, rows)
}

/// A continuous strip of forest or hedge parallel to the road on one side.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wall {
    /// Distance (m) from the camera's line of travel.
    pub(super) offset: f32,
    pub(super) height: f32,
    /// Conifer tops (pointed) rather than broadleaf (rounded).
    pub(super) spiky: bool,
    /// Share of its length broken by clearings (0: none).
    pub(super) openness: f32,
    pub(super) colour: Rgb,
    pub(super) dark: Rgb,
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
    /// The direction sign's face, drawn by the [`props::PropKind::Sign`] prop.
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

    /// East offsets (m) of the asphalt's two edges.
    fn road_edges(&self) -> (f32, f32) {
        (
            self.road_centre - self.road_half,
            self.road_centre + self.road_half,
        )
    }
}
