//! The runner (being built).
