//! Exploration (being built).
