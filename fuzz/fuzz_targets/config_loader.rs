//! Fuzz target: the configuration loader — YAML layer, `--set` overrides, legacy-key translation
//! (D1), defaults, type checks and BiaPy's consistency rules. The input is text: everything
//! before a line `--set` is the YAML file, every later line one `KEY=VALUE` override. A loaded
//! config is written back to YAML and loaded again, which must succeed (the resolved config is
//! what every run records).

#![no_main]

use libfuzzer_sys::fuzz_target;
use segsweep::config::{load_str, to_yaml};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (yaml, overrides) = match text.split_once("\n--set\n") {
        Some((yaml, rest)) => (yaml, rest.lines().map(str::to_string).collect::<Vec<_>>()),
        None => (text, Vec::new()),
    };
    if let Ok(loaded) = load_str(yaml, &overrides) {
        let written = to_yaml(&loaded.config).expect("a resolved config is written as YAML");
        if let Err(error) = load_str(&written, &[]) {
            panic!("a resolved config does not load back: {error}\n{written}");
        }
    }
});
