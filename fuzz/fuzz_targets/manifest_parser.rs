//! Fuzz target: the sweep manifest parser, schema validation and grid expansion (zip, exclude,
//! cell names, the run limit) on arbitrary text.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use segsweep::sweep::grid::expand;
use segsweep::sweep::manifest::{parse_manifest, validate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(manifest) = parse_manifest(text, Path::new("/nonexistent/fuzz/manifest.yaml")) else { return };
    let _ = validate(&manifest);
    let _ = expand(&manifest);
});
