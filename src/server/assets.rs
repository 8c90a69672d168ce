//! The game page and its files, embedded in the binary from `web/` (nothing is fetched from
//! anywhere else), and the JSON 404 for unknown routes.

use super::api::ApiError;
use axum::{
    extract::{Path, Request},
    http::header,
    response::{IntoResponse, Response},
};

const INDEX_HTML: &str = include_str!("../../web/index.html");

/// One embedded file under `/assets/`.
pub(super) struct Asset {
    pub(super) path: &'static str,
    pub(super) content_type: &'static str,
    body: &'static [u8],
}

pub(super) const ASSETS: &[Asset] = &[
    Asset {
        path: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../web/app.js"),
    },
    Asset {
        path: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../web/style.css"),
    },
    Asset {
        path: "vendor/topojson-client.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../web/vendor/topojson-client.min.js"),
    },
    Asset {
        path: "vendor/countries-110m.json",
        content_type: "application/json",
        body: include_bytes!("../../web/vendor/countries-110m.json"),
    },
    Asset {
        path: "vendor/LICENSE-topojson-client",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("../../web/vendor/LICENSE-topojson-client"),
    },
    Asset {
        path: "vendor/LICENSE-world-atlas",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("../../web/vendor/LICENSE-world-atlas"),
    },
    Asset {
        path: "vendor/README.md",
        content_type: "text/markdown; charset=utf-8",
        body: include_bytes!("../../web/vendor/README.md"),
    },
];

pub(super) async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX_HTML,
    )
        .into_response()
}

pub(super) async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.path == path) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            a.body,
        )
            .into_response(),
        None => ApiError::NotFound(format!("no asset `{path}`")).into_response(),
    }
}

pub(super) async fn not_found(req: Request) -> Response {
    ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
    .into_response()
}
