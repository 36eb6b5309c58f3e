//! Shared helpers for the end-to-end tests: where the built artifacts are,
//! temporary hosts (config + store), and the root check.
