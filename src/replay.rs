//! replay (stub).
