//! Below the horizon: the road (asphalt or gravel, lines and their wear), the shoulder and the
//! terrain beside it, and the roadside walls (forest edges and hedges) that line some roads.

use super::noise::{band, dashes, fbm, hash2, signed, smoothstep, unit, value_noise};
use super::palette::{mix, paint_colour, scale, Rgb};
use super::raster::{Column, Row};
use super::{Scene, Wall, CAMERA_HEIGHT_M, GRAIN_GROUND, LANE_WIDTH_M, SHOULDER_M};
use crate::game::builtin::{Climate, Line, LinePattern, Surface};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

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

impl Scene {
    /// Forest edges (boreal and tropical roads run through forest) and hedges (temperate lanes).
    pub(super) fn place_walls(&self, rng: &mut ChaCha8Rng) -> [Option<Wall>; 2] {
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

    /// A pixel on the roadside wall: leaves or needles, darker low down where light is blocked.
    pub(super) fn wall(&self, col: &Column, row: &Row, x: usize) -> Rgb {
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

    pub(super) fn ground(
        &self,
        col: &Column,
        row: &Row,
        x: usize,
        d_heading: f32,
        d_pitch: f32,
    ) -> Rgb {
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
}
