//! Case generation from specs (being built).
