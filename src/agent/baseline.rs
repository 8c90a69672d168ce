//! baseline (stub).
