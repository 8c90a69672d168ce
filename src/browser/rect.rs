//! An element's box on screen, as both page adapters (the local game's and geoguessr.com's) read
//! it from `getBoundingClientRect()`, and the script that reads it.

use serde::Deserialize;

/// An element's box on screen (CSS px).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub(crate) struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub(crate) fn centre(&self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }
}

/// `(rect of every element matching arguments[0])`.
pub(crate) const RECTS_JS: &str = r#"
return Array.from(document.querySelectorAll(arguments[0])).map(e => {
  const r = e.getBoundingClientRect();
  return {x: r.left, y: r.top, w: r.width, h: r.height};
});"#;
