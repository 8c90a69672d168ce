//! The built-in world map (stub).
use super::{Imagery, Location, Map, WORLD_SIZE_KM};
use crate::geo::{Bounds, LatLon};

pub const BUILTIN_MAP_ID: &str = "world";

pub fn world() -> Map {
    let locs = [("nairobi", -1.2864, 36.8172, "KE", "Nairobi, Kenya")];
    Map {
        id: BUILTIN_MAP_ID.into(),
        name: "Synthetic World".into(),
        synthetic: true,
        size_km: WORLD_SIZE_KM,
        view: Bounds::WORLD,
        attribution: None,
        locations: locs
            .iter()
            .map(|(id, lat, lon, c, p)| Location {
                id: id.to_string(),
                pos: LatLon::new(*lat, *lon).unwrap(),
                country: Some(c.to_string()),
                place: Some(p.to_string()),
                imagery: Imagery::Generated,
            })
            .collect(),
    }
}
