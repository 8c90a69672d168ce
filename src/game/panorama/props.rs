//! Billboard props: where the seeded trees, poles, edge posts, houses, cars and the direction
//! sign stand, and how each is shaded and drawn over the background.

use super::noise::{hash2, signed, soft, unit, value_noise};
use super::palette::{mix, rgb, scale, Rgb};
use super::raster::Column;
use super::sign;
use super::{Scene, CAMERA_HEIGHT_M, GRAIN_GROUND, SHOULDER_M};
use crate::game::builtin::{Climate, DrivingSide, SceneFacts, Surface};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f32::consts::{PI, TAU};
use std::ops::Range;

/// Half the length of road (m) along which trees, poles and houses are placed.
const PROP_REACH_M: f32 = 260.0;
/// Props closer than this (m) would fill the view; they are skipped.
const NEAREST_PROP_M: f32 = 4.0;
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

/// What a billboard prop is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum PropKind {
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
pub(super) struct Prop {
    pub(super) east: f32,
    pub(super) north: f32,
    pub(super) width: f32,
    pub(super) height: f32,
    pub(super) kind: PropKind,
    pub(super) colour: Rgb,
    pub(super) colour2: Rgb,
    pub(super) seed: u32,
}

impl Prop {
    pub(super) fn distance(&self) -> f32 {
        self.east.hypot(self.north)
    }
}

/// Distance (m) from the asphalt's edge to where roadside vegetation and houses may start.
const VERGE_M: f32 = SHOULDER_M + 1.5;
/// Body colours of cars: white, black, silver, red, blue, and a pale grey.
const CAR_COLOURS: [Rgb; 6] = [
    [225.0, 225.0, 225.0],
    [30.0, 30.0, 34.0],
    [150.0, 152.0, 158.0],
    [150.0, 30.0, 30.0],
    [40.0, 60.0, 120.0],
    [205.0, 205.0, 200.0],
];

/// What grows beside roads of a climate band: the kinds with their weights, how many, and how
/// deep (m) a belt beside the road they fill.
fn vegetation_mix(climate: Climate) -> (&'static [(PropKind, f32)], usize, f32) {
    match climate {
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
    }
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

impl Scene {
    /// Puts a direction sign on the verge a few metres ahead, on the side traffic keeps to (the
    /// side drivers read signs on). Its own random stream leaves the rest of the scene as it was.
    pub(super) fn add_sign(&mut self, content: &sign::SignContent, side: DrivingSide) {
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

    /// Seeded trees, poles, posts, houses and cars along the road, sorted far to near.
    ///
    /// Every step draws from the same stream, so their order is part of the picture: reordering
    /// them would repaint every location.
    pub(super) fn place_props(&self, rng: &mut ChaCha8Rng, facts: &SceneFacts) -> Vec<Prop> {
        let mut props = self.place_vegetation(rng, facts);
        self.place_poles(rng, facts, &mut props);
        self.place_bollards(rng, facts, &mut props);
        self.place_houses(rng, facts, &mut props);
        self.place_cars(rng, &mut props);
        self.far_to_near_visible(props)
    }

    /// Trees, shrubs and rocks in a belt beside the road, mixed as the climate grows them.
    fn place_vegetation(&self, rng: &mut ChaCha8Rng, facts: &SceneFacts) -> Vec<Prop> {
        let p = &self.palette;
        let mut props = Vec::new();
        let (west_edge, east_edge) = self.road_edges();
        let (mix_kinds, count, depth) = vegetation_mix(facts.climate);
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
            let off = VERGE_M + 1.0 + rng.random_range(0.0..1.0f32).powf(1.6) * depth;
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
        props
    }

    /// A line of utility poles along one side of the road, on three roads in four.
    fn place_poles(&self, rng: &mut ChaCha8Rng, facts: &SceneFacts, props: &mut Vec<Prop>) {
        if !rng.random_bool(0.75) {
            return;
        }
        let (west_edge, east_edge) = self.road_edges();
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

    /// Edge posts on both shoulders of paved roads in the countries that set them.
    fn place_bollards(&self, rng: &mut ChaCha8Rng, facts: &SceneFacts, props: &mut Vec<Prop>) {
        if !(facts.bollards && self.surface == Surface::Paved) {
            return;
        }
        let (west_edge, east_edge) = self.road_edges();
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

    /// Up to five houses set back from the road, in the climate's wall and roof colours.
    fn place_houses(&self, rng: &mut ChaCha8Rng, facts: &SceneFacts, props: &mut Vec<Prop>) {
        let (west_edge, east_edge) = self.road_edges();
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
            let off = VERGE_M + rng.random_range(8.0..45.0f32);
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
    }

    /// On paved roads, maybe an oncoming car (in the other lane, which shows the driving side
    /// too) and maybe one ahead in the camera's lane.
    fn place_cars(&self, rng: &mut ChaCha8Rng, props: &mut Vec<Prop>) {
        if self.surface != Surface::Paved {
            return;
        }
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

    /// Drops props too near the camera or hidden behind a tall roadside wall, and sorts the rest
    /// far to near (the order they are drawn in).
    fn far_to_near_visible(&self, mut props: Vec<Prop>) -> Vec<Prop> {
        let walls = self.walls;
        props.retain(|p| {
            let side = usize::from(p.east >= 0.0);
            let hidden = walls[side].is_some_and(|w| w.height > 8.0 && p.east.abs() > w.offset);
            p.distance() >= NEAREST_PROP_M && !hidden
        });
        props.sort_by(|a, b| b.distance().total_cmp(&a.distance()));
        props
    }

    pub(super) fn draw_prop(
        &self,
        buf: &mut [u8],
        w: usize,
        h: usize,
        rows: &Range<usize>,
        prop: &Prop,
        cols: &[Column],
    ) {
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
        let (y0, y1) = (y0.max(rows.start), y1.min(rows.end));
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
