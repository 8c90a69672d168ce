//! Tests of `local_game`.

use super::capture::*;
use super::guess_map::*;
use super::page::*;
use super::*;

#[test]
fn shortest_turn_wraps() {
    assert_eq!(shortest_turn(0.0, 90.0), 90.0);
    assert_eq!(shortest_turn(350.0, 10.0), 20.0);
    assert_eq!(shortest_turn(10.0, 350.0), -20.0);
    assert_eq!(shortest_turn(0.0, 180.0), 180.0);
    assert_eq!(shortest_turn(270.0, 0.0), 90.0);
}

#[test]
fn drags_are_split_evenly_within_the_limit() {
    assert_eq!(drag_chunks(-800.0, 640.0), vec![-400.0, -400.0]);
    assert_eq!(drag_chunks(100.0, 640.0), vec![100.0]);
    assert_eq!(drag_chunks(0.0, 640.0), vec![0.0]);
}

#[test]
fn pixel_mapping_is_linear_and_clamped() {
    let rect = Rect {
        x: 0.0,
        y: 0.0,
        w: 360.0,
        h: 180.0,
    };
    let (x, y) = pixel_for(&Bounds::WORLD, &rect, LatLon::new(0.0, 0.0).unwrap());
    assert_eq!((x, y), (180.0, 90.0));
    let (x, y) = pixel_for(&Bounds::WORLD, &rect, LatLon::new(45.0, -90.0).unwrap());
    assert_eq!((x, y), (90.0, 45.0));
    let (x, y) = pixel_for(&Bounds::WORLD, &rect, LatLon::new(-90.0, 180.0).unwrap());
    assert_eq!((x, y), (359.5, 179.5));
}

#[test]
fn zoom_steps_reach_the_precision() {
    assert_eq!(zoom_steps_needed(0.4), 0);
    assert_eq!(zoom_steps_needed(1.0), 1);
    // Whole world in 450 px: 0.8°/px ≈ 89 km/px → 2^8 = 256 > 178.
    let steps = zoom_steps_needed(360.0 / 450.0 * KM_PER_DEG);
    assert_eq!(steps, 8);
}

#[test]
fn wheel_zoom_keeps_the_target_inside_the_map() {
    let rect = Rect {
        x: 821.0,
        y: 51.0,
        w: 448.0,
        h: 224.0,
    };
    for (px, py) in [(2.0, 3.0), (446.0, 221.0), (224.0, 112.0), (131.17, 57.93)] {
        let (x, y, delta) = wheel_zoom(&rect, px, py, 178.9);
        let f = 2f64.powf(delta as f64 / MAP_WHEEL_PX_PER_DOUBLING as f64);
        assert!(f >= 178.9, "zooms {f}");
        // (A target outside the view sits on its edge: no zoom brings it in; not tested.)
        // The page zooms around the pointer: the target moves to c + (p − c)·f.
        let (cx, cy) = (x as f64 - rect.x, y as f64 - rect.y);
        let (nx, ny) = (cx + (px - cx) * f, cy + (py - cy) * f);
        assert!(
            nx > 0.0 && nx < rect.w && ny > 0.0 && ny < rect.h,
            "{nx},{ny}"
        );
    }
}

#[test]
fn the_predicted_zoom_keeps_the_pointer_point_and_the_world() {
    let rect = Rect {
        x: 821.0,
        y: 51.0,
        w: 448.0,
        h: 224.0,
    };
    let home = Bounds::WORLD;
    // In the middle of the world: the point under the pointer stays under it, 2x per 200 px.
    let (x, y) = (1000, 140);
    let v = zoomed_view(&home, &rect, x, y, 400);
    assert!(((v.east - v.west) - 90.0).abs() < 1e-9, "{v:?}");
    assert!(((v.north - v.south) - 45.0).abs() < 1e-9, "{v:?}");
    let under = |b: &Bounds| {
        let fx = (x as f64 - rect.x) / rect.w;
        let fy = (y as f64 - rect.y) / rect.h;
        (
            b.west + fx * (b.east - b.west),
            b.north - fy * (b.north - b.south),
        )
    };
    let (a, b) = (under(&home), under(&v));
    assert!(
        (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9,
        "{a:?} {b:?}"
    );
    // Zooming out near the world's corner would leave it: the view is shifted back inside, as
    // the page does.
    let corner = Bounds {
        west: -180.0,
        south: 45.0,
        east: -90.0,
        north: 90.0,
    };
    let (x, y) = (
        (rect.x + 0.9 * rect.w) as i64,
        (rect.y + 0.1 * rect.h) as i64,
    );
    let v = zoomed_view(&corner, &rect, x, y, -200);
    assert!(
        (v.west + 180.0).abs() < 1e-9 && (v.north - 90.0).abs() < 1e-9,
        "{v:?}"
    );
    assert!(((v.east - v.west) - 180.0).abs() < 1e-9, "{v:?}");
    // Never narrower than the page's smallest view.
    let v = zoomed_view(&home, &rect, 1000, 140, 200 * 30);
    assert!(
        ((v.east - v.west) - MAP_MIN_WIDTH_DEG).abs() < 1e-12,
        "{v:?}"
    );
}

#[test]
fn parses_view_strings() {
    assert_eq!(parse_view("-180,-90,180,90"), Some(Bounds::WORLD));
    assert_eq!(parse_view("1,2,3"), None);
    assert_eq!(parse_view("10,0,5,1"), None);
    assert_eq!(parse_view("a,b,c,d"), None);
}

#[test]
fn png_fallback_makes_rgb_jpeg() {
    let img = image::RgbaImage::from_pixel(8, 4, image::Rgba([10, 20, 30, 255]));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let jpeg = png_to_jpeg(&png, 80).unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let back = image::load_from_memory(&jpeg).unwrap();
    assert_eq!((back.width(), back.height()), (8, 4));
}
