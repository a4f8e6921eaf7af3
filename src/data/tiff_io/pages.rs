//! [`TiffPageWriter`]: an ImageJ-compatible TIFF written slab by slab (D13, D15), so a volume
//! larger than memory can be saved while it is being predicted. The file's shape and sample type
//! are fixed at creation (the ImageJ description on the first page needs them); each
//! [`TiffPageWriter::write_slab`] appends the next z planes as one grey page per `(z, c)`,
//! channel fastest, deflate-compressed. The file is written under a temporary sibling name and
//! renamed into place by [`TiffPageWriter::finish`] only when every plane was written; dropped
//! unfinished, the temporary file is removed. [`super::write_tiff`] is this writer with one slab.
//!
//! It must not hold more than the slab it is given: it counts the most planes one call carried
//! ([`TiffPageWriter::max_planes_at_once`]) so tests can check the bound.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tiff::encoder::colortype::{ColorType, Gray8, Gray16, Gray32Float};
use tiff::encoder::{
    Compression, DeflateLevel, DirectoryEncoder, Rational, TiffEncoder, TiffKind, TiffKindBig, TiffKindStandard,
    TiffValue,
};
use tiff::tags::Tag;

use super::write::WriteOptions;
use super::{AnyVolume, TiffError, TiffMeta, imagej};
use crate::data::slab_progress::SlabProgress;
use crate::data::volume::Volume;

/// Raw sizes above this are written as BigTIFF (classic TIFF offsets stop at 4 GiB).
const BIGTIFF_THRESHOLD: u64 = 3 << 30;

/// The sample types a TIFF is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageType {
    U8,
    U16,
    F32,
}

impl PageType {
    /// The page type of `volume`, `None` for the types that are not written.
    pub fn of(volume: &AnyVolume) -> Option<Self> {
        match volume {
            AnyVolume::U8(_) => Some(PageType::U8),
            AnyVolume::U16(_) => Some(PageType::U16),
            AnyVolume::F32(_) => Some(PageType::F32),
            _ => None,
        }
    }

    fn bytes(self) -> u64 {
        match self {
            PageType::U8 => 1,
            PageType::U16 => 2,
            PageType::F32 => 4,
        }
    }
}

/// The buffered file, shared between the encoder (which owns its writer) and
/// [`TiffPageWriter::finish`] (which must flush and sync it and see the errors).
#[derive(Clone)]
struct Sink(Arc<Mutex<BufWriter<File>>>);

impl Sink {
    fn with<R>(&self, f: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<R>) -> std::io::Result<R> {
        let mut guard = self.0.lock().map_err(|_| std::io::Error::other("the TIFF writer's lock is poisoned"))?;
        f(&mut guard)
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.with(|w| w.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.with(|w| w.flush())
    }
}

impl Seek for Sink {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.with(|w| w.seek(pos))
    }
}

enum Encoder {
    Classic(TiffEncoder<Sink, TiffKindStandard>),
    Big(TiffEncoder<Sink, TiffKindBig>),
}

/// A TIFF file being written slab by slab.
pub struct TiffPageWriter {
    path: PathBuf,
    tmp: PathBuf,
    page_type: PageType,
    description: String,
    meta: TiffMeta,
    sink: Sink,
    encoder: Encoder,
    progress: SlabProgress,
    finished: bool,
}

impl TiffPageWriter {
    /// Starts `path` (under a temporary name) for a `(z, y, x, c)` volume of `page_type`.
    pub fn create(
        path: &Path,
        page_type: PageType,
        shape: [usize; 4],
        options: &WriteOptions,
    ) -> Result<Self, TiffError> {
        let invalid = |detail: String| TiffError::InvalidInput { path: path.to_path_buf(), detail };
        let [z, y, x, c] = shape;
        if z == 0 || c == 0 || u32::try_from(y).is_err() || u32::try_from(x).is_err() || y * x == 0 {
            return Err(invalid(format!("cannot store a volume of shape {shape:?}")));
        }
        let description = imagej::describe(z, c, &options.meta, options.display_range).map_err(invalid)?;
        if path.file_name().is_none() {
            return Err(invalid("the path has no file name".into()));
        }
        let tmp = crate::atomic::temporary_sibling(path);
        let io = |source| TiffError::Io { path: tmp.clone(), source };
        let sink = Sink(Arc::new(Mutex::new(BufWriter::new(File::create(&tmp).map_err(io)?))));
        let compression = if options.compression_deflate {
            Compression::Deflate(DeflateLevel::Balanced)
        } else {
            Compression::Uncompressed
        };
        let n_bytes = shape.iter().map(|&n| n as u64).product::<u64>().saturating_mul(page_type.bytes());
        let encoder = if n_bytes > BIGTIFF_THRESHOLD {
            TiffEncoder::new_big(sink.clone()).map(|e| Encoder::Big(e.with_compression(compression)))
        } else {
            TiffEncoder::new(sink.clone()).map(|e| Encoder::Classic(e.with_compression(compression)))
        };
        let encoder = encoder.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            encode_error(&tmp, e)
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            page_type,
            description,
            meta: options.meta.clone(),
            sink,
            encoder,
            progress: SlabProgress::new(shape),
            finished: false,
        })
    }

    /// Appends the next `n` z planes: `slab` is `(n, y, x, c)` of the file's sample type.
    pub fn write_slab(&mut self, slab: &AnyVolume) -> Result<(), TiffError> {
        let invalid = |detail: String| TiffError::InvalidInput { path: self.path.clone(), detail };
        if PageType::of(slab) != Some(self.page_type) {
            return Err(invalid(format!("a {} slab in a {:?} file", slab.dtype(), self.page_type)));
        }
        let planes = self.progress.next(slab.shape()).map_err(invalid)?;
        let page = Page { description: &self.description, meta: &self.meta, first: self.progress.at_start() };
        let written = match (&mut self.encoder, slab) {
            (Encoder::Classic(e), AnyVolume::U8(v)) => encode::<Gray8, _>(e, v, page),
            (Encoder::Classic(e), AnyVolume::U16(v)) => encode::<Gray16, _>(e, v, page),
            (Encoder::Classic(e), AnyVolume::F32(v)) => encode::<Gray32Float, _>(e, v, page),
            (Encoder::Big(e), AnyVolume::U8(v)) => encode::<Gray8, _>(e, v, page),
            (Encoder::Big(e), AnyVolume::U16(v)) => encode::<Gray16, _>(e, v, page),
            (Encoder::Big(e), AnyVolume::F32(v)) => encode::<Gray32Float, _>(e, v, page),
            _ => unreachable!("the page type was checked above"),
        };
        written.map_err(|e| encode_error(&self.tmp, e))?;
        self.progress.advance(planes);
        Ok(())
    }

    /// Checks every plane was written, flushes and syncs the file and renames it into place.
    pub fn finish(mut self) -> Result<(), TiffError> {
        if let Err(detail) = self.progress.complete() {
            return Err(TiffError::InvalidInput { path: self.path.clone(), detail });
        }
        let io = |source| TiffError::Io { path: self.tmp.clone(), source };
        self.sink
            .with(|w| {
                w.flush()?;
                w.get_ref().sync_all()
            })
            .map_err(io)?;
        self.finished = true;
        crate::atomic::commit(&self.tmp, &self.path).map_err(|source| TiffError::Io { path: self.path.clone(), source })
    }

    /// The most z planes one [`TiffPageWriter::write_slab`] call carried.
    pub fn max_planes_at_once(&self) -> usize {
        self.progress.max_planes_at_once()
    }
}

impl Drop for TiffPageWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
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
    meta: &'a TiffMeta,
    /// True when the slab starts the file: its first page carries the description.
    first: bool,
}

/// Writes one grey page per `(z, c)` of `volume`, channel fastest.
fn encode<C, K>(encoder: &mut TiffEncoder<Sink, K>, volume: &Volume<C::Inner>, page: Page<'_>) -> tiff::TiffResult<()>
where
    C: ColorType,
    C::Inner: Copy,
    [C::Inner]: TiffValue,
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
            if page.first && zi == 0 && ci == 0 {
                image.encoder().write_tag(Tag::ImageDescription, page.description)?;
            }
            write_resolution(image.encoder(), page.meta)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tiff_io::{read_tiff, write_tiff};

    fn planes(v: &Volume<f32>, z0: usize, z1: usize) -> AnyVolume {
        let [_, y, x, c] = v.shape();
        let data = v.as_slice()[z0 * y * x * c..z1 * y * x * c].to_vec();
        AnyVolume::F32(Volume::from_vec([z1 - z0, y, x, c], data).unwrap())
    }

    #[test]
    fn slab_by_slab_is_byte_for_byte_the_whole_write() {
        let dir = tempfile::tempdir().unwrap();
        let volume = Volume::from_vec([5, 3, 4, 2], (0..120).map(|v| v as f32 / 7.0).collect()).unwrap();
        let options = WriteOptions {
            display_range: Some((0.0, 1.0)),
            meta: TiffMeta { x_resolution: Some((3, 1)), spacing: Some(2.0), ..TiffMeta::default() },
            ..WriteOptions::default()
        };
        let whole = dir.path().join("whole.tif");
        write_tiff(&whole, &AnyVolume::F32(volume.clone()), &options).unwrap();
        let sliced = dir.path().join("sliced.tif");
        let mut writer = TiffPageWriter::create(&sliced, PageType::F32, [5, 3, 4, 2], &options).unwrap();
        for (z0, z1) in [(0, 2), (2, 3), (3, 5)] {
            writer.write_slab(&planes(&volume, z0, z1)).unwrap();
        }
        assert_eq!(writer.max_planes_at_once(), 2);
        assert!(!sliced.exists(), "the final name appears only when finished");
        writer.finish().unwrap();
        assert_eq!(std::fs::read(&sliced).unwrap(), std::fs::read(&whole).unwrap());
        assert_eq!(read_tiff(&sliced).unwrap().volume, AnyVolume::F32(volume));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary file left");
    }

    #[test]
    fn wrong_slabs_and_unfinished_files_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.tif");
        let volume = Volume::from_vec([3, 2, 2, 1], (0..12).map(|v| v as f32).collect()).unwrap();
        let mut writer = TiffPageWriter::create(&path, PageType::F32, [3, 2, 2, 1], &WriteOptions::default()).unwrap();
        let u8_slab = AnyVolume::U8(Volume::filled([1, 2, 2, 1], 0));
        assert!(writer.write_slab(&u8_slab).unwrap_err().to_string().contains("a uint8 slab in a F32 file"));
        writer.write_slab(&planes(&volume, 0, 2)).unwrap();
        let err = writer.write_slab(&planes(&volume, 0, 2)).unwrap_err().to_string();
        assert!(err.contains("after 2 of 3 planes"), "{err}");
        let err = writer.finish().unwrap_err().to_string();
        assert!(err.contains("only 2 of 3 planes were written"), "{err}");
        let dropped = TiffPageWriter::create(&path, PageType::U8, [1, 2, 2, 1], &WriteOptions::default()).unwrap();
        drop(dropped);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
