//! reasoner (stub).
