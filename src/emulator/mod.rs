//! The embedded emulator (being built).
