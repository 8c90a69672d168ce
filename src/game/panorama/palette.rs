//! Colours: the RGB arithmetic the painter uses, each climate band's palette (ground, soil,
//! foliage, sky, haze, hills) and road paint colours.

use crate::game::builtin::{Climate, LineColour};

pub(super) type Rgb = [f32; 3];

#[inline(always)]
pub(super) fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

#[inline(always)]
pub(super) fn scale(a: Rgb, k: f32) -> Rgb {
    [a[0] * k, a[1] * k, a[2] * k]
}

pub(super) fn rgb(r: u8, g: u8, b: u8) -> Rgb {
    [f32::from(r), f32::from(g), f32::from(b)]
}

/// Colours and atmosphere of a climate band.
#[derive(Debug, Clone, Copy)]
pub(super) struct Palette {
    /// Base ground, alternate patches, accent spots (scrub, darker grass).
    pub(super) ground: [Rgb; 3],
    /// Share of the ground in accent spots.
    pub(super) accent_share: f32,
    /// Bare soil: shoulders, unpaved roads, ground showing through.
    pub(super) soil: Rgb,
    pub(super) foliage: Rgb,
    pub(super) foliage_dark: Rgb,
    pub(super) zenith: Rgb,
    pub(super) horizon: Rgb,
    pub(super) cloud_cover: f32,
    /// Distance (m) at which haze takes about two thirds of a colour.
    pub(super) visibility_m: f32,
    /// Typical height of the distant hills (degrees above the horizon).
    pub(super) hill_deg: f32,
    pub(super) hill: Rgb,
    pub(super) snow: bool,
}

pub(super) fn palette(climate: Climate, red_soil: bool) -> Palette {
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

pub(super) fn paint_colour(c: LineColour) -> Rgb {
    match c {
        LineColour::White => rgb(232, 232, 226),
        LineColour::Yellow => rgb(226, 178, 36),
    }
}
