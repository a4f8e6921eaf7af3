//! [`TiffStack`]: a TIFF stack read lazily, a z range of pages at a time (D15, `TEST.BY_CHUNKS`).
//!
//! Opening walks the directory chain once (page layout, ImageJ hyperstack description, resolution
//! tags) without decoding any pixel; [`TiffStack::read_slab`] then decodes only the pages of the
//! z range asked for, seeking past the others by their directory offsets. ImageJ `channels=`
//! pages (channel fastest) are regrouped into `c` as [`super::read_tiff`] does, so a slab equals
//! the same z range of the whole-file read. Each call is checked against the decoded-size limit
//! on its own, so a stack far larger than memory can be read slab by slab.
//!
//! The reader counts the z planes it decoded and the most planes one call held
//! ([`TiffStack::max_planes_at_once`]): the test of bounded memory relies on that number. It must
//! not normalise, pair images with masks or cache slabs.

use std::path::{Path, PathBuf};

use super::imagej::{self, PageLayout};
use super::read::{Opened, Reader, check_limit, decode_page_range, open_pages, pages_to_channels};
use super::{AnyVolume, DEFAULT_MAX_BYTES, TiffError, TiffMeta, map_volume};

/// A TIFF stack open for reading z ranges.
pub struct TiffStack {
    path: PathBuf,
    decoder: Reader,
    first: super::read::PageInfo,
    sample_bytes: u64,
    layout: PageLayout,
    max_bytes: u64,
    meta: TiffMeta,
    z_from_metadata: bool,
    planes_decoded: usize,
    max_planes_at_once: usize,
}

impl std::fmt::Debug for TiffStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiffStack").field("path", &self.path).field("shape", &self.shape()).finish_non_exhaustive()
    }
}

impl TiffStack {
    /// Opens `path`; every slab read later may decode to at most [`DEFAULT_MAX_BYTES`].
    pub fn open(path: &Path) -> Result<Self, TiffError> {
        Self::open_with_limit(path, DEFAULT_MAX_BYTES)
    }

    /// Opens `path`; every slab read later may decode to at most `max_bytes`.
    pub fn open_with_limit(path: &Path, max_bytes: u64) -> Result<Self, TiffError> {
        let Opened { decoder, first, sample_bytes, description, mut meta, n_pages } = open_pages(path, max_bytes)?;
        let bad = |detail: String| TiffError::ImageJ { path: path.to_path_buf(), detail };
        let description = description.filter(|d| imagej::is_imagej(d));
        let (layout, z_from_metadata) = match &description {
            Some(text) => {
                let info = imagej::parse(text).map_err(bad)?;
                let layout = imagej::layout(&info, n_pages, first.samples() as usize).map_err(bad)?;
                meta.spacing = info.spacing;
                meta.unit = info.unit;
                (layout, info.slices.is_some())
            }
            None => (PageLayout { z: n_pages, page_channels: 1 }, false),
        };
        Ok(Self {
            path: path.to_path_buf(),
            decoder,
            first,
            sample_bytes,
            layout,
            max_bytes,
            meta,
            z_from_metadata,
            planes_decoded: 0,
            max_planes_at_once: 0,
        })
    }

    /// `(z, y, x, c)` of the whole stack.
    pub fn shape(&self) -> [usize; 4] {
        let c = self.layout.page_channels * self.first.samples() as usize;
        [self.layout.z, self.first.height as usize, self.first.width as usize, c]
    }

    /// Resolution tags and ImageJ spacing/unit, as [`super::read_tiff`] reports them.
    pub fn meta(&self) -> &TiffMeta {
        &self.meta
    }

    /// True when the file said which axis is z (ImageJ `slices=`).
    pub fn z_from_metadata(&self) -> bool {
        self.z_from_metadata
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Planes `z0..z1` as a `(z1 − z0, y, x, c)` volume, decoding only their pages.
    pub fn read_slab(&mut self, z0: usize, z1: usize) -> Result<AnyVolume, TiffError> {
        let path = self.path.clone();
        if z0 >= z1 || z1 > self.layout.z {
            let detail = format!("cannot read planes {z0}..{z1} of a stack of {} planes", self.layout.z);
            return Err(TiffError::InvalidInput { path, detail });
        }
        let pc = self.layout.page_channels;
        let n_pages = (z1 - z0) * pc;
        check_limit(&path, self.first.len(), self.sample_bytes, n_pages, self.max_bytes)?;
        let pages = decode_page_range(&mut self.decoder, &path, &self.first, z0 * pc, n_pages)?;
        self.planes_decoded += z1 - z0;
        self.max_planes_at_once = self.max_planes_at_once.max(z1 - z0);
        if pc == 1 {
            return Ok(pages);
        }
        let layout = PageLayout { z: z1 - z0, page_channels: pc };
        let shape_error = |source| TiffError::Shape { path: path.clone(), source };
        Ok(map_volume!(pages, v => pages_to_channels(v, layout).map_err(shape_error)?))
    }

    /// Z planes decoded since opening.
    pub fn planes_decoded(&self) -> usize {
        self.planes_decoded
    }

    /// The most z planes one [`TiffStack::read_slab`] call decoded: what the reader held at once.
    pub fn max_planes_at_once(&self) -> usize {
        self.max_planes_at_once
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tiff_io::{WriteOptions, read_tiff, write_tiff};
    use crate::data::volume::Volume;

    fn planes<T: Copy>(v: &Volume<T>, z0: usize, z1: usize) -> Vec<T> {
        let [_, y, x, c] = v.shape();
        v.as_slice()[z0 * y * x * c..z1 * y * x * c].to_vec()
    }

    #[test]
    fn a_z_range_equals_the_same_planes_of_the_whole_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.tif");
        // 5 planes of 3×4 with 2 ImageJ channels: 10 pages, channel fastest.
        let volume = Volume::from_vec([5, 3, 4, 2], (0..120u16).map(|v| v * 3).collect()).unwrap();
        let meta = TiffMeta { spacing: Some(0.5), unit: Some("µm".into()), ..TiffMeta::default() };
        write_tiff(&path, &AnyVolume::U16(volume.clone()), &WriteOptions { meta, ..WriteOptions::default() }).unwrap();
        let whole = read_tiff(&path).unwrap();
        let mut stack = TiffStack::open(&path).unwrap();
        assert_eq!(stack.shape(), [5, 3, 4, 2]);
        assert_eq!(stack.meta(), &whole.meta);
        assert!(stack.z_from_metadata());
        let AnyVolume::U16(slab) = stack.read_slab(1, 3).unwrap() else { panic!("uint16 expected") };
        assert_eq!(slab.shape(), [2, 3, 4, 2]);
        assert_eq!(slab.as_slice(), planes(&volume, 1, 3).as_slice());
        // Only planes 1 and 2 (4 pages) were decoded; plane 0 was skipped by its offsets.
        assert_eq!((stack.planes_decoded(), stack.max_planes_at_once()), (2, 2));
        let AnyVolume::U16(last) = stack.read_slab(4, 5).unwrap() else { panic!("uint16 expected") };
        assert_eq!(last.as_slice(), planes(&volume, 4, 5).as_slice());
        assert_eq!((stack.planes_decoded(), stack.max_planes_at_once()), (3, 2));
        let AnyVolume::U16(first) = stack.read_slab(0, 1).unwrap() else { panic!("uint16 expected") };
        assert_eq!(first.as_slice(), planes(&volume, 0, 1).as_slice());
        let err = stack.read_slab(4, 6).unwrap_err().to_string();
        assert!(err.contains("cannot read planes 4..6 of a stack of 5 planes"), "{err}");
    }

    #[test]
    fn a_plain_multipage_file_is_a_stack_of_its_pages_and_each_slab_has_a_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.tif");
        let mut encoder = tiff::encoder::TiffEncoder::new(std::fs::File::create(&path).unwrap()).unwrap();
        for page in 0..4u8 {
            let data: Vec<u8> = (0..6).map(|i| page * 10 + i).collect();
            encoder.write_image::<tiff::encoder::colortype::Gray8>(3, 2, &data).unwrap();
        }
        drop(encoder);
        // 6 bytes a page: 12 bytes allow two pages per slab, not three.
        let mut stack = TiffStack::open_with_limit(&path, 12).unwrap();
        assert_eq!(stack.shape(), [4, 2, 3, 1]);
        assert!(!stack.z_from_metadata());
        let AnyVolume::U8(slab) = stack.read_slab(2, 4).unwrap() else { panic!("uint8 expected") };
        assert_eq!(slab.as_slice(), &[20, 21, 22, 23, 24, 25, 30, 31, 32, 33, 34, 35]);
        assert!(matches!(stack.read_slab(0, 3), Err(TiffError::TooLarge { .. })));
    }
}
