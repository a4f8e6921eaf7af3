//! Writing `uint8`/`uint16`/`float32` volumes as ImageJ-compatible TIFF files.

use std::fs::{self, File};
use std::io::{BufWriter, Seek, Write};
use std::path::Path;

use tiff::encoder::colortype::{ColorType, Gray8, Gray16, Gray32Float};
use tiff::encoder::{Compression, DeflateLevel, DirectoryEncoder, Rational, TiffEncoder, TiffKind, TiffValue};
use tiff::tags::Tag;

use super::{AnyVolume, TiffError, TiffMeta, imagej};
use crate::data::volume::Volume;

/// Raw sizes above this are written as BigTIFF (classic TIFF offsets stop at 4 GiB).
const BIGTIFF_THRESHOLD: u64 = 3 << 30;

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
    let volume = match volume {
        AnyVolume::U8(v) => Writable::U8(v),
        AnyVolume::U16(v) => Writable::U16(v),
        AnyVolume::F32(v) => Writable::F32(v),
        other => {
            let dtype = other.dtype();
            return Err(TiffError::UnsupportedDtype { path: path.to_path_buf(), dtype });
        }
    };
    let invalid = |detail: String| TiffError::InvalidInput { path: path.to_path_buf(), detail };
    let [z, y, x, c] = volume.shape();
    if z == 0 || c == 0 || u32::try_from(y).is_err() || u32::try_from(x).is_err() || y * x == 0 {
        return Err(invalid(format!("cannot store a volume of shape {:?}", [z, y, x, c])));
    }
    let description = imagej::describe(z, c, &options.meta, options.display_range).map_err(invalid)?;
    if path.file_name().is_none() {
        return Err(invalid("the path has no file name".into()));
    }
    let tmp = crate::atomic::temporary_sibling(path);
    if let Err(error) = write_file(&tmp, volume, &description, options) {
        let _ = fs::remove_file(&tmp);
        return Err(error);
    }
    crate::atomic::commit(&tmp, path).map_err(|source| TiffError::Io { path: path.to_path_buf(), source })
}

/// The volumes [`write_tiff`] can store.
#[derive(Clone, Copy)]
enum Writable<'a> {
    U8(&'a Volume<u8>),
    U16(&'a Volume<u16>),
    F32(&'a Volume<f32>),
}

impl Writable<'_> {
    fn shape(self) -> [usize; 4] {
        match self {
            Writable::U8(v) => v.shape(),
            Writable::U16(v) => v.shape(),
            Writable::F32(v) => v.shape(),
        }
    }

    fn n_bytes(self) -> u64 {
        let n = match self {
            Writable::U8(v) => std::mem::size_of_val(v.as_slice()),
            Writable::U16(v) => std::mem::size_of_val(v.as_slice()),
            Writable::F32(v) => std::mem::size_of_val(v.as_slice()),
        };
        n as u64
    }
}

fn write_file(tmp: &Path, volume: Writable<'_>, description: &str, options: &WriteOptions) -> Result<(), TiffError> {
    let io = |source| TiffError::Io { path: tmp.to_path_buf(), source };
    let mut writer = BufWriter::new(File::create(tmp).map_err(io)?);
    let page = Page { description, options };
    let encoded = if volume.n_bytes() > BIGTIFF_THRESHOLD {
        encode_any(TiffEncoder::new_big(&mut writer), volume, page)
    } else {
        encode_any(TiffEncoder::new(&mut writer), volume, page)
    };
    encoded.map_err(|e| encode_error(tmp, e))?;
    let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)
}

fn encode_error(path: &Path, error: tiff::TiffError) -> TiffError {
    match error {
        tiff::TiffError::IoError(source) => TiffError::Io { path: path.to_path_buf(), source },
        other => TiffError::Encode { path: path.to_path_buf(), message: other.to_string() },
    }
}

/// What every page needs besides its pixels.
#[derive(Clone, Copy)]
struct Page<'a> {
    description: &'a str,
    options: &'a WriteOptions,
}

fn encode_any<W: Write + Seek, K: TiffKind>(
    encoder: tiff::TiffResult<TiffEncoder<W, K>>,
    volume: Writable<'_>,
    page: Page<'_>,
) -> tiff::TiffResult<()> {
    let compression = if page.options.compression_deflate {
        Compression::Deflate(DeflateLevel::Balanced)
    } else {
        Compression::Uncompressed
    };
    let encoder = encoder?.with_compression(compression);
    match volume {
        Writable::U8(v) => encode::<Gray8, _, _>(encoder, v, page),
        Writable::U16(v) => encode::<Gray16, _, _>(encoder, v, page),
        Writable::F32(v) => encode::<Gray32Float, _, _>(encoder, v, page),
    }
}

/// Writes one grey page per `(z, c)`, channel fastest.
fn encode<C, W, K>(mut encoder: TiffEncoder<W, K>, volume: &Volume<C::Inner>, page: Page<'_>) -> tiff::TiffResult<()>
where
    C: ColorType,
    C::Inner: Copy,
    [C::Inner]: TiffValue,
    W: Write + Seek,
    K: TiffKind,
{
    let [z, height, width, c] = volume.shape();
    let (w, h) = (u32::try_from(width)?, u32::try_from(height)?);
    let plane_len = height * width;
    let mut plane = Vec::with_capacity(plane_len);
    for zi in 0..z {
        for ci in 0..c {
            plane.clear();
            let start = zi * plane_len * c + ci;
            plane.extend(volume.as_slice().iter().skip(start).step_by(c).take(plane_len));
            let mut image = encoder.new_image::<C>(w, h)?;
            if zi == 0 && ci == 0 {
                image.encoder().write_tag(Tag::ImageDescription, page.description)?;
            }
            write_resolution(image.encoder(), &page.options.meta)?;
            image.write_data(&plane)?;
        }
    }
    Ok(())
}

/// Overrides the encoder's default resolution tags (1/1, no unit) with those in `meta`.
fn write_resolution<W: Write + Seek, K: TiffKind>(
    dir: &mut DirectoryEncoder<'_, W, K>,
    meta: &TiffMeta,
) -> tiff::TiffResult<()> {
    if let Some((n, d)) = meta.x_resolution {
        dir.write_tag(Tag::XResolution, Rational { n, d })?;
    }
    if let Some((n, d)) = meta.y_resolution {
        dir.write_tag(Tag::YResolution, Rational { n, d })?;
    }
    if let Some(unit) = meta.resolution_unit {
        dir.write_tag(Tag::ResolutionUnit, unit)?;
    }
    Ok(())
}
