//! Fuzz target: the TIFF reader on arbitrary bytes. The input is written to a file (the reader
//! takes a path, as every caller does) and read with a 64 MiB decoded-size limit; a decoded
//! volume is also turned into labels and floats, as the dataset loader does. Any panic or an
//! allocation past libFuzzer's `-rss_limit_mb` is a finding.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use segsweep::data::tiff_io::read_tiff_with_limit;

/// One file per fuzzing process, in the system's temporary folder.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| std::env::temp_dir().join(format!("segsweep-fuzz-tiff-{}.tif", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    if std::fs::write(path, data).is_err() {
        return;
    }
    if let Ok(image) = read_tiff_with_limit(path, 64 << 20) {
        let _ = image.volume.to_labels();
        let _ = image.volume.to_f32();
    }
});
