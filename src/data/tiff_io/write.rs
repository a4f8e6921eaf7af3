//! Writing `uint8`/`uint16`/`float32` volumes as ImageJ-compatible TIFF files, whole
//! ([`write_tiff`]); the page encoding itself lives in `pages.rs` and is shared with the
//! slab-by-slab [`super::TiffPageWriter`].

use std::path::Path;

use super::pages::{PageType, TiffPageWriter};
use super::{AnyVolume, TiffError, TiffMeta};

/// How [`write_tiff`] encodes a file.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteOptions {
    /// Deflate-compress the pages (default `true`); otherwise store them raw.
    pub compression_deflate: bool,
    /// ImageJ display range, written as `min=`/`max=`.
    pub display_range: Option<(f64, f64)>,
    /// Resolution tags and ImageJ spacing/unit to write.
    pub meta: TiffMeta,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self { compression_deflate: true, display_range: None, meta: TiffMeta::default() }
    }
}

/// Writes u8/u16/f32 volumes (other dtypes -> error naming the dtype). Writes to a temporary
/// sibling ([`crate::atomic::temporary_sibling`]) then renames into place, so a killed write never
/// leaves a half file under the final name.
///
/// Each `(z, c)` plane becomes one grey page, channel fastest, and the first page carries an
/// ImageJ hyperstack description, so ImageJ/Fiji and BiaPy (tifffile) see the same axes.
pub fn write_tiff(path: &Path, volume: &AnyVolume, options: &WriteOptions) -> Result<(), TiffError> {
    let Some(page_type) = PageType::of(volume) else {
        return Err(TiffError::UnsupportedDtype { path: path.to_path_buf(), dtype: volume.dtype() });
    };
    let mut writer = TiffPageWriter::create(path, page_type, volume.shape(), options)?;
    writer.write_slab(volume)?;
    writer.finish()
}
