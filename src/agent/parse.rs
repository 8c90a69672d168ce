//! parse (stub).
