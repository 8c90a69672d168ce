//! The painter's picture checked pixel by pixel: the image convention, determinism, the road,
//! the sun, the sign and the climate colours.

use super::noise::{band, dashes};
use super::palette::{scale, Rgb};
use super::*;
use crate::game::builtin::{world, Line, LineColour, LinePattern, SITES};
use std::f32::consts::TAU;

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

/// Issue 15: direct mode paints only the rows its views sample; those rows must be exactly the
/// full painting's (props included, which cross the band's edges).
#[test]
fn a_band_of_rows_is_painted_exactly_as_in_the_full_panorama() {
    for id in ["fr-bayeux", "us-moab"] {
        let (w, h) = (512, 256);
        let full = paint(&loc(id), w, h);
        let rows = 77..171;
        let band = paint_rows(&loc(id), w, h, rows.clone());
        assert_eq!(band.dimensions(), (w, h));
        let row_bytes = w as usize * 3;
        let range = rows.start as usize * row_bytes..rows.end as usize * row_bytes;
        assert_eq!(&band.as_raw()[range.clone()], &full.as_raw()[range], "{id}");
        assert!(
            band.as_raw()[..row_bytes].iter().all(|b| *b == 0),
            "rows outside stay unpainted"
        );
    }
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
fn share_near(img: &RgbImage, headings: (f32, f32), pitches: (f32, f32), colour: [u8; 3]) -> f32 {
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
        let small = image::imageops::resize(&img, 1024, 512, image::imageops::FilterType::Triangle);
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
