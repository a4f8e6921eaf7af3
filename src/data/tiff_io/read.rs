//! Reading TIFF files into [`AnyVolume`]s.
//!
//! Two passes over the directory chain: the first checks every page against page 0, that the
//! page data lies inside the file and that the decoded size fits the caller's limit; the second
//! decodes the pages into one preallocated buffer. The first pass ([`open_pages`]) and the
//! decoding of a page range ([`decode_page_range`]) are shared with the page-range reader in
//! `stack.rs`.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use tiff::decoder::{ChunkType, Decoder, DecodingResult, DecodingSampleType, Limits};
use tiff::tags::{Tag, Type, ValueBuffer};
use tiff::{ColorType, TiffFormatError};

use super::imagej::{self, PageLayout};
use super::{AnyVolume, TiffError, TiffImage, TiffMeta, map_volume};
use crate::data::volume::{ShapeError, Volume};

/// Decoded-size limit used by [`read_tiff`]: 4 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 4 << 30;

/// Smallest buffer limit handed to the `tiff` decoder (tag values, small pages).
const MIN_DECODER_BUFFER: u64 = 64 << 20;

pub(super) type Reader = Decoder<BufReader<File>>;

/// Size and sample layout of one page.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct PageInfo {
    pub width: u32,
    pub height: u32,
    color: ColorType,
    sample: Option<DecodingSampleType>,
    planes: usize,
}

impl PageInfo {
    pub(super) fn samples(&self) -> u64 {
        u64::from(self.color.num_samples())
    }

    /// Samples in one decoded page.
    pub(super) fn len(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height) * self.samples()
    }

    fn describe(&self) -> String {
        let sample = self.sample.map_or("unknown".to_string(), |s| format!("{s:?}"));
        format!("{}x{} {:?} {sample}", self.width, self.height, self.color)
    }
}

/// Reads a TIFF file with the default decoded-size limit ([`DEFAULT_MAX_BYTES`]).
pub fn read_tiff(path: &Path) -> Result<TiffImage, TiffError> {
    read_tiff_with_limit(path, DEFAULT_MAX_BYTES)
}

/// Reads a TIFF file, refusing before any pixel allocation when the decoded volume would take
/// more than `max_bytes` bytes.
pub fn read_tiff_with_limit(path: &Path, max_bytes: u64) -> Result<TiffImage, TiffError> {
    let mut opened = open_pages(path, max_bytes)?;
    check_limit(path, opened.first.len(), opened.sample_bytes, opened.n_pages, max_bytes)?;
    let pages = decode_page_range(&mut opened.decoder, path, &opened.first, 0, opened.n_pages)?;
    assemble(path, pages, opened.description, opened.meta)
}

/// A TIFF file whose directories were all walked and checked, no pixel decoded yet.
pub(super) struct Opened {
    pub decoder: Reader,
    pub first: PageInfo,
    /// Bytes per decoded sample.
    pub sample_bytes: u64,
    /// The first page's `ImageDescription`.
    pub description: Option<String>,
    /// Resolution tags of the first page (ImageJ spacing/unit are added by the caller).
    pub meta: TiffMeta,
    pub n_pages: usize,
}

/// Opens `path`, checks its first page fits `max_page_bytes` decoded, and walks every directory
/// (same layout as page 0, data inside the file) without decoding any pixel.
pub(super) fn open_pages(path: &Path, max_page_bytes: u64) -> Result<Opened, TiffError> {
    let (file, file_len) = open_checked(path)?;
    let mut decoder = Decoder::new(BufReader::new(file)).map_err(|e| decode_error(path, e))?;
    let first = page_info(&mut decoder).map_err(|e| decode_error(path, e))?;
    let sample_bytes = check_supported(path, &first)?;
    check_limit(path, first.len(), sample_bytes, 1, max_page_bytes)?;
    decoder = decoder.with_limits(limits_for(&first, file_len));
    let description = read_description(&mut decoder).map_err(|e| decode_error(path, e))?;
    let meta = resolution_meta(&mut decoder);
    let n_pages = scan_pages(&mut decoder, path, &first, file_len)?;
    Ok(Opened { decoder, first, sample_bytes, description, meta, n_pages })
}

/// Opens `path` and checks it is non-empty and starts with a TIFF or BigTIFF signature.
fn open_checked(path: &Path) -> Result<(File, u64), TiffError> {
    let io = |source| TiffError::Io { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut magic = Vec::with_capacity(4);
    (&mut file).take(4).read_to_end(&mut magic).map_err(io)?;
    if magic.is_empty() {
        return Err(TiffError::Empty { path: path.to_path_buf() });
    }
    const SIGNATURES: [&[u8]; 4] = [b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"];
    if !SIGNATURES.contains(&magic.as_slice()) {
        return Err(TiffError::NotTiff { path: path.to_path_buf() });
    }
    if len < 8 {
        let detail = format!("the file has {len} bytes, fewer than a TIFF header");
        return Err(TiffError::Truncated { path: path.to_path_buf(), detail });
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    Ok((file, len))
}

/// Converts a `tiff` crate error into ours, telling truncation and wrong signatures apart.
fn decode_error(path: &Path, error: tiff::TiffError) -> TiffError {
    let path = path.to_path_buf();
    match error {
        tiff::TiffError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            TiffError::Truncated { path, detail: e.to_string() }
        }
        tiff::TiffError::IoError(source) => TiffError::Io { path, source },
        tiff::TiffError::FormatError(
            TiffFormatError::TiffSignatureNotFound | TiffFormatError::TiffSignatureInvalid,
        ) => TiffError::NotTiff { path },
        tiff::TiffError::UnsupportedError(e) => TiffError::Unsupported { path, detail: e.to_string() },
        other => TiffError::Decode { path, message: other.to_string() },
    }
}

fn page_info(decoder: &mut Reader) -> tiff::TiffResult<PageInfo> {
    let (width, height) = decoder.dimensions()?;
    let color = decoder.colortype()?;
    let layout = decoder.image_buffer_layout()?;
    Ok(PageInfo { width, height, color, sample: layout.sample_type, planes: layout.planes })
}

/// Checks the page holds whole samples of a type [`AnyVolume`] has; returns the bytes per
/// sample once decoded (16-bit floats widen to 4).
fn check_supported(path: &Path, info: &PageInfo) -> Result<u64, TiffError> {
    use DecodingSampleType as S;
    let unsupported = |detail: String| TiffError::UnsupportedSampleFormat { path: path.to_path_buf(), detail };
    let (stored, decoded): (u32, u64) = match info.sample {
        Some(S::U8 | S::I8) => (1, 1),
        Some(S::U16 | S::I16) => (2, 2),
        Some(S::F16) => (2, 4),
        Some(S::U32 | S::I32 | S::F32) => (4, 4),
        Some(S::F64) => (8, 8),
        Some(S::U64 | S::I64) => return Err(unsupported("64-bit integer samples".into())),
        None => {
            return Err(unsupported(format!("{:?} with an unknown sample format", info.color)));
        }
    };
    let bits = info.color.bit_depth();
    if u32::from(bits) != 8 * stored {
        return Err(unsupported(format!("{bits}-bit samples ({:?})", info.color)));
    }
    match info.color {
        ColorType::Gray(_)
        | ColorType::GrayA(_)
        | ColorType::RGB(_)
        | ColorType::RGBA(_)
        | ColorType::CMYK(_)
        | ColorType::CMYKA(_)
        | ColorType::Multiband { .. } => Ok(decoded),
        other => Err(TiffError::Unsupported { path: path.to_path_buf(), detail: format!("colour type {other:?}") }),
    }
}

pub(super) fn check_limit(
    path: &Path,
    page_len: u64,
    sample_bytes: u64,
    n_pages: usize,
    limit: u64,
) -> Result<(), TiffError> {
    let n_bytes = u64::try_from(n_pages)
        .ok()
        .and_then(|n| n.checked_mul(page_len))
        .and_then(|n| n.checked_mul(sample_bytes))
        .unwrap_or(u64::MAX);
    if n_bytes > limit || usize::try_from(n_bytes).is_err() {
        return Err(TiffError::TooLarge { path: path.to_path_buf(), n_bytes, limit });
    }
    Ok(())
}

/// Decoder limits that let a page already checked against the caller's limit through, while
/// still bounding allocations driven by tag counts.
fn limits_for(info: &PageInfo, file_len: u64) -> Limits {
    let to_usize = |n: u64| usize::try_from(n.max(MIN_DECODER_BUFFER)).unwrap_or(usize::MAX);
    let mut limits = Limits::default();
    limits.decoding_buffer_size = to_usize(info.len().saturating_mul(8));
    limits.intermediate_buffer_size = to_usize(file_len);
    limits.ifd_value_size = to_usize(MIN_DECODER_BUFFER);
    limits
}

/// The first page's `ImageDescription`, UTF-8 or else Latin-1, up to the first NUL.
fn read_description(decoder: &mut Reader) -> tiff::TiffResult<Option<String>> {
    let mut buf = ValueBuffer::empty(Type::ASCII);
    if decoder.image_ifd().find_tag_buf(Tag::ImageDescription, &mut buf)?.is_none() {
        return Ok(None);
    }
    let bytes = buf.as_bytes();
    let bytes = bytes.split(|&b| b == 0).next().unwrap_or_default();
    Ok(Some(match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }))
}

/// Resolution tags of the current page; malformed tags are treated as absent.
fn resolution_meta(decoder: &mut Reader) -> TiffMeta {
    let mut rational = |tag| match decoder.find_tag(tag) {
        Ok(Some(tiff::decoder::ifd::Value::Rational(n, d))) => Some((n, d)),
        _ => None,
    };
    let x_resolution = rational(Tag::XResolution);
    let y_resolution = rational(Tag::YResolution);
    let resolution_unit = decoder.find_tag_unsigned::<u16>(Tag::ResolutionUnit).ok().flatten();
    TiffMeta { x_resolution, y_resolution, resolution_unit, ..TiffMeta::default() }
}

/// Walks every page: same layout as page 0 and data inside the file. Returns the page count.
fn scan_pages(decoder: &mut Reader, path: &Path, first: &PageInfo, file_len: u64) -> Result<usize, TiffError> {
    check_chunks(decoder, path, 0, file_len)?;
    let mut n_pages = 1;
    while decoder.more_images() {
        decoder.next_image().map_err(|e| decode_error(path, e))?;
        let info = page_info(decoder).map_err(|e| decode_error(path, e))?;
        if info != *first {
            return Err(TiffError::InconsistentPages {
                path: path.to_path_buf(),
                page: n_pages,
                detail: format!("page 0 is {}, page {n_pages} is {}", first.describe(), info.describe()),
            });
        }
        check_chunks(decoder, path, n_pages, file_len)?;
        n_pages += 1;
    }
    Ok(n_pages)
}

/// Fails with [`TiffError::Truncated`] when a strip or tile of the current page ends past EOF.
fn check_chunks(decoder: &mut Reader, path: &Path, page: usize, file_len: u64) -> Result<(), TiffError> {
    let (offsets, counts) = match decoder.get_chunk_type() {
        ChunkType::Strip => (Tag::StripOffsets, Tag::StripByteCounts),
        ChunkType::Tile => (Tag::TileOffsets, Tag::TileByteCounts),
    };
    let mut read = |tag| decoder.find_tag_unsigned_vec::<u64>(tag).map(Option::unwrap_or_default);
    let offsets = read(offsets).map_err(|e| decode_error(path, e))?;
    let counts = read(counts).map_err(|e| decode_error(path, e))?;
    let end = offsets.iter().zip(&counts).map(|(&o, &n)| o.saturating_add(n)).max();
    match end {
        Some(end) if end > file_len => Err(TiffError::Truncated {
            path: path.to_path_buf(),
            detail: format!("page {page} has data up to byte {end} but the file has {file_len}"),
        }),
        _ => Ok(()),
    }
}

/// Decodes the `n_pages` pages from page `start` on into a `(page, y, x, sample)` volume; the
/// pages before `start` are skipped by their directory offsets, not decoded.
pub(super) fn decode_page_range(
    decoder: &mut Reader,
    path: &Path,
    first: &PageInfo,
    start: usize,
    n_pages: usize,
) -> Result<AnyVolume, TiffError> {
    let error = |message: String| TiffError::Decode { path: path.to_path_buf(), message };
    // Both conversions succeed: `check_limit` bounded the total by `usize`.
    let page_len = usize::try_from(first.len()).unwrap_or(usize::MAX);
    let mut samples = Samples::with_capacity(first.sample, page_len.saturating_mul(n_pages))
        .ok_or_else(|| error("unsupported sample type".into()))?;
    decoder.seek_to_image(start).map_err(|e| decode_error(path, e))?;
    let mut buffer = DecodingResult::U8(Vec::new());
    for page in start..start + n_pages {
        if page > start {
            decoder.next_image().map_err(|e| decode_error(path, e))?;
        }
        let layout = decoder.read_image_to_buffer(&mut buffer).map_err(|e| decode_error(path, e))?;
        samples.push(&buffer, page_len, layout.planes).map_err(|problem| match problem {
            PushError::Layout(detail) => error(format!("page {page}: {detail}")),
            PushError::NonFinite { index, value } => {
                let (width, n_samples) = (first.width as usize, first.samples() as usize);
                // Where sample `index` of the decoded page lies: interleaved, or one plane per sample.
                let (pixel, sample) = if layout.planes > 1 {
                    (index % (page_len / layout.planes), index / (page_len / layout.planes))
                } else {
                    (index / n_samples, index % n_samples)
                };
                TiffError::NonFinite {
                    path: path.to_path_buf(),
                    value,
                    page,
                    y: pixel / width,
                    x: pixel % width,
                    sample,
                }
            }
        })?;
    }
    let shape = [n_pages, first.height as usize, first.width as usize, first.samples() as usize];
    samples.into_volume(shape).map_err(|source| TiffError::Shape { path: path.to_path_buf(), source })
}

/// Applies the ImageJ description, if any, to the `(page, y, x, sample)` volume.
fn assemble(
    path: &Path,
    pages: AnyVolume,
    description: Option<String>,
    mut meta: TiffMeta,
) -> Result<TiffImage, TiffError> {
    let imagej_description = description.filter(|d| imagej::is_imagej(d));
    let Some(text) = &imagej_description else {
        return Ok(TiffImage { volume: pages, z_from_metadata: false, meta, imagej_description });
    };
    let bad = |detail: String| TiffError::ImageJ { path: path.to_path_buf(), detail };
    let info = imagej::parse(text).map_err(bad)?;
    let [n_pages, _, _, samples] = pages.shape();
    let layout = imagej::layout(&info, n_pages, samples).map_err(bad)?;
    let volume = if layout.page_channels > 1 {
        let shape_error = |source| TiffError::Shape { path: path.to_path_buf(), source };
        map_volume!(pages, v => pages_to_channels(v, layout).map_err(shape_error)?)
    } else {
        pages
    };
    meta.spacing = info.spacing;
    meta.unit = info.unit;
    let z_from_metadata = info.slices.is_some();
    Ok(TiffImage { volume, z_from_metadata, meta, imagej_description })
}

/// Turns `z * c` single-sample pages (channel fastest) into a `(z, y, x, c)` volume.
pub(super) fn pages_to_channels<T: Copy>(pages: Volume<T>, layout: PageLayout) -> Result<Volume<T>, ShapeError> {
    let [_, height, width, _] = pages.shape();
    let (plane, c) = (height * width, layout.page_channels);
    let shape = [layout.z, height, width, c];
    if plane * c == 0 {
        return Volume::from_vec(shape, Vec::new());
    }
    let mut out = Vec::with_capacity(pages.as_slice().len());
    for stack in pages.as_slice().chunks_exact(plane * c) {
        for p in 0..plane {
            out.extend((0..c).map(|ci| stack[ci * plane + p]));
        }
    }
    Volume::from_vec(shape, out)
}

/// Why a decoded page could not be appended.
enum PushError {
    /// The page does not have the first page's layout.
    Layout(String),
    /// Sample `index` of the page (in decoded order) is NaN or infinite.
    NonFinite { index: usize, value: String },
}

impl From<String> for PushError {
    fn from(detail: String) -> Self {
        PushError::Layout(detail)
    }
}

/// The first NaN or infinite sample of a decoded float page, checked as the page is appended
/// (the page was just decoded and is still in cache: the volume is never walked a second time).
fn check_finite<T: Copy + Into<f64>>(page: &[T], n: usize) -> Result<(), PushError> {
    let page = &page[..n.min(page.len())];
    match page.iter().position(|&v| !v.into().is_finite()) {
        None => Ok(()),
        Some(index) => Err(PushError::NonFinite { index, value: format!("{}", page[index].into()) }),
    }
}

/// Decoded samples of all pages, in the type the volume will have.
enum Samples {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Samples {
    fn with_capacity(sample: Option<DecodingSampleType>, n: usize) -> Option<Self> {
        use DecodingSampleType as S;
        Some(match sample? {
            S::U8 => Samples::U8(Vec::with_capacity(n)),
            S::U16 => Samples::U16(Vec::with_capacity(n)),
            S::U32 => Samples::U32(Vec::with_capacity(n)),
            S::I8 => Samples::I8(Vec::with_capacity(n)),
            S::I16 => Samples::I16(Vec::with_capacity(n)),
            S::I32 => Samples::I32(Vec::with_capacity(n)),
            S::F16 | S::F32 => Samples::F32(Vec::with_capacity(n)),
            S::F64 => Samples::F64(Vec::with_capacity(n)),
            S::U64 | S::I64 => return None,
        })
    }

    /// Appends one decoded page of `n` samples stored in `planes` planes; a float page must be
    /// finite.
    fn push(&mut self, page: &DecodingResult, n: usize, planes: usize) -> Result<(), PushError> {
        match (self, page) {
            (Samples::U8(dst), DecodingResult::U8(src)) => push_page(dst, src, n, planes)?,
            (Samples::U16(dst), DecodingResult::U16(src)) => push_page(dst, src, n, planes)?,
            (Samples::U32(dst), DecodingResult::U32(src)) => push_page(dst, src, n, planes)?,
            (Samples::I8(dst), DecodingResult::I8(src)) => push_page(dst, src, n, planes)?,
            (Samples::I16(dst), DecodingResult::I16(src)) => push_page(dst, src, n, planes)?,
            (Samples::I32(dst), DecodingResult::I32(src)) => push_page(dst, src, n, planes)?,
            (Samples::F32(dst), DecodingResult::F32(src)) => {
                check_finite(src, n)?;
                push_page(dst, src, n, planes)?;
            }
            (Samples::F64(dst), DecodingResult::F64(src)) => {
                check_finite(src, n)?;
                push_page(dst, src, n, planes)?;
            }
            (Samples::F32(dst), DecodingResult::F16(src)) => {
                let widened: Vec<f32> = src.iter().take(n).map(|&h| f32::from(h)).collect();
                check_finite(&widened, n)?;
                push_page(dst, &widened, n, planes)?;
            }
            _ => return Err(PushError::Layout("sample type differs from the first page".into())),
        }
        Ok(())
    }

    fn into_volume(self, shape: [usize; 4]) -> Result<AnyVolume, ShapeError> {
        Ok(match self {
            Samples::U8(v) => AnyVolume::U8(Volume::from_vec(shape, v)?),
            Samples::U16(v) => AnyVolume::U16(Volume::from_vec(shape, v)?),
            Samples::U32(v) => AnyVolume::U32(Volume::from_vec(shape, v)?),
            Samples::I8(v) => AnyVolume::I8(Volume::from_vec(shape, v)?),
            Samples::I16(v) => AnyVolume::I16(Volume::from_vec(shape, v)?),
            Samples::I32(v) => AnyVolume::I32(Volume::from_vec(shape, v)?),
            Samples::F32(v) => AnyVolume::F32(Volume::from_vec(shape, v)?),
            Samples::F64(v) => AnyVolume::F64(Volume::from_vec(shape, v)?),
        })
    }
}

/// Appends the first `n` samples of `src`, interleaving them when stored as separate planes.
fn push_page<T: Copy>(dst: &mut Vec<T>, src: &[T], n: usize, planes: usize) -> Result<(), String> {
    let Some(src) = src.get(..n) else {
        return Err(format!("decoded {} samples, expected {n}", src.len()));
    };
    if planes <= 1 {
        dst.extend_from_slice(src);
        return Ok(());
    }
    let plane = n / planes;
    if plane * planes != n {
        return Err(format!("{n} samples do not split into {planes} planes"));
    }
    for p in 0..plane {
        dst.extend((0..planes).map(|s| src[s * plane + p]));
    }
    Ok(())
}
