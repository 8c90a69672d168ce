//! prompt (stub).
