//! Decoding received requests into parameters (being built).
