//! Datasets in BiaPy's folder layout: discover the images of an image folder and its mask folder
//! (TIFF files, Zarr folders, HDF5 files), pair them by position in natural sort order (spec
//! §3.1), read them as `(z, y, x, c)` volumes and check each pair: same count, same spatial shape, image channels equal to the last
//! entry of `DATA.PATCH_SIZE`, 2D vs 3D as `PROBLEM.NDIM` says, masks single-channel integer
//! labels below `DATA.N_CLASSES`. Also the content hash of a split, for the stage cache.
//!
//! It must not normalise, crop or augment: later stages do that on the volumes returned here.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::array_io::{ArrayError, ArrayFormat, ArraySpec, ArrayStack};
use super::hash::{HashError, hash_files};
use super::preprocess::{Preprocess, PreprocessError, SampleType, sample_type};
use super::stack::Stack;
use super::tiff_io::{AnyVolume, TiffError, TiffImage, TiffMeta, read_tiff};
use super::volume::Volume;
use crate::config::{Config, Ndim};

/// What went wrong with the data; every variant names the file or folder and the key involved.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("`{key}`: folder `{}` does not exist", path.display())]
    MissingFolder { key: String, path: PathBuf },
    #[error("`{key}`: `{}` is not a folder", path.display())]
    NotAFolder { key: String, path: PathBuf },
    #[error("`{key}`: no {expected} in `{}`", path.display())]
    EmptyFolder { key: String, path: PathBuf, expected: &'static str },
    #[error("cannot list `{}`: {message}", path.display())]
    List { path: PathBuf, message: String },
    #[error("{n_images} images in `{}` but {n_masks} masks in `{}`: each image needs exactly one mask (files are paired in natural order; `{}` is the first without a partner)", images.display(), masks.display(), unpaired.display())]
    CountMismatch { images: PathBuf, n_images: usize, masks: PathBuf, n_masks: usize, unpaired: PathBuf },
    #[error("image `{}` is {image_shape} but its mask `{}` is {mask_shape}: the spatial shapes must match", image.display(), mask.display())]
    ShapeMismatch { image: PathBuf, image_shape: String, mask: PathBuf, mask_shape: String },
    #[error("mask `{}` holds the value {value}, but `DATA.N_CLASSES` is {n_classes}: labels must be 0..{} (the background counts as a class)", path.display(), n_classes - 1)]
    MaskValue { path: PathBuf, value: u64, n_classes: usize },
    #[error("mask `{}` has {dtype} samples: expected an integer label image (uint8, uint16 or uint32)", path.display())]
    FloatMask { path: PathBuf, dtype: &'static str },
    #[error("mask `{}` has negative values: expected labels 0..{}", path.display(), n_classes - 1)]
    NegativeMask { path: PathBuf, n_classes: usize },
    #[error("mask `{}` has {n_channels} channels: expected a single-channel label image", path.display())]
    MaskChannels { path: PathBuf, n_channels: usize },
    #[error("image `{}` has {found} channel(s), but `DATA.PATCH_SIZE` ends in {expected}", path.display())]
    Channels { path: PathBuf, found: usize, expected: usize },
    #[error("`{}` {detail}", path.display())]
    Ndim { path: PathBuf, detail: String },
    #[error(transparent)]
    Tiff(#[from] TiffError),
    #[error(transparent)]
    Array(#[from] ArrayError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("`{}`: {source}", path.display())]
    Preprocess { path: PathBuf, source: PreprocessError },
    #[error(transparent)]
    Resolution(#[from] super::resolution::ResolutionError),
}

/// Which of a config's data splits a folder pair is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SplitRole {
    Train,
    Val,
    Test,
}

impl SplitRole {
    /// The config key of the split's image folder (`DATA.TRAIN.PATH`), for messages.
    pub fn image_key(self) -> &'static str {
        match self {
            Self::Train => "DATA.TRAIN.PATH",
            Self::Val => "DATA.VAL.PATH",
            Self::Test => "DATA.TEST.PATH",
        }
    }

    /// The config key of the split's mask folder (`DATA.TRAIN.GT_PATH`).
    pub fn mask_key(self) -> &'static str {
        match self {
            Self::Train => "DATA.TRAIN.GT_PATH",
            Self::Val => "DATA.VAL.GT_PATH",
            Self::Test => "DATA.TEST.GT_PATH",
        }
    }

    /// Whether the split is read by training (train and validation) rather than by the test phase.
    pub fn is_training(self) -> bool {
        self != Self::Test
    }
}

/// How to read and check one split.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitSpec {
    pub role: SplitRole,
    pub image_dir: PathBuf,
    /// Folder of the masks, when masks are read.
    pub mask_dir: Option<PathBuf>,
    pub ndim: Ndim,
    pub n_channels: usize,
    /// `DATA.FORCE_RGB`: a single-channel image is repeated into the 3 channels `n_channels` asks.
    pub force_rgb: bool,
    pub n_classes: usize,
    /// `LOSS.IGNORE_INDEX` when set: a mask value that is allowed and excluded from losses and
    /// metrics.
    pub ignore_label: Option<u16>,
    /// `DATA.PREPROCESS` of this split, applied to each pair as it is read.
    pub preprocess: Option<Arc<Preprocess>>,
    /// How the split's Zarr/HDF5 images and masks are read (D17).
    pub arrays: SplitArrays,
    /// `DATA.RESOLUTION_NORM` on a training or validation split: the `resolution.json` it reads
    /// (which may not exist).
    pub resolution_json: Option<PathBuf>,
}

/// Which array of a Zarr/HDF5 image and of its mask is read, in which axes order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SplitArrays {
    pub image: ArraySpec,
    pub mask: ArraySpec,
}

impl SplitArrays {
    /// The split's keys: `DATA.<SPLIT>.INPUT_IMG_AXES_ORDER` and `INPUT_MASK_AXES_ORDER`; with
    /// `INPUT_ZARR_MULTIPLE_DATA`, the image and the mask are the arrays `RAW_PATH` and `GT_PATH`
    /// of one container.
    pub fn from_config(config: &Config, role: SplitRole) -> Self {
        let data = &config.data;
        let (t, v, e) = (&data.train, &data.val, &data.test);
        let train = (
            "DATA.TRAIN",
            [&t.input_img_axes_order, &t.input_mask_axes_order],
            t.input_zarr_multiple_data,
            [&t.input_zarr_multiple_data_raw_path, &t.input_zarr_multiple_data_gt_path],
        );
        let (split, [img_order, mask_order], multiple, [raw_path, gt_path]) = match role {
            SplitRole::Train => train,
            SplitRole::Test if e.use_val_as_test => train,
            SplitRole::Val => (
                "DATA.VAL",
                [&v.input_img_axes_order, &v.input_mask_axes_order],
                v.input_zarr_multiple_data,
                [&v.input_zarr_multiple_data_raw_path, &v.input_zarr_multiple_data_gt_path],
            ),
            SplitRole::Test => (
                "DATA.TEST",
                [&e.input_img_axes_order, &e.input_mask_axes_order],
                e.input_zarr_multiple_data,
                [&e.input_zarr_multiple_data_raw_path, &e.input_zarr_multiple_data_gt_path],
            ),
        };
        let array = |order: &str, order_key: &str, path: &str, path_key: &str| ArraySpec {
            axes: order.into(),
            axes_key: format!("{split}.{order_key}"),
            dataset: multiple.then(|| path.to_string()),
            dataset_key: format!("{split}.{path_key}"),
        };
        Self {
            image: array(img_order, "INPUT_IMG_AXES_ORDER", raw_path, "INPUT_ZARR_MULTIPLE_DATA_RAW_PATH"),
            mask: array(mask_order, "INPUT_MASK_AXES_ORDER", gt_path, "INPUT_ZARR_MULTIPLE_DATA_GT_PATH"),
        }
    }
}

/// One image (as float) and its mask, read and checked.
#[derive(Clone, Debug)]
pub struct Sample {
    pub image_path: PathBuf,
    pub image: Volume<f32>,
    /// Physical metadata of the image file, carried to outputs.
    pub meta: TiffMeta,
    pub mask_path: Option<PathBuf>,
    pub mask: Option<Volume<u16>>,
    /// The image's `(z, y, x)` shape in its file, before `DATA.PREPROCESS.RESIZE`.
    pub file_shape: [usize; 3],
}

/// The TIFF files directly inside `dir`, in natural order (`2.tif` before `10.tif`).
pub fn list_tiffs(key: &str, dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    list(key, dir, ".tif/.tiff files", |path, file_type| file_type.is_file() && is_tiff(path))
}

/// The entries directly inside `dir` that `keep` accepts, in natural order.
fn list(
    key: &str,
    dir: &Path,
    expected: &'static str,
    keep: impl Fn(&Path, std::fs::FileType) -> bool,
) -> Result<Vec<PathBuf>, DataError> {
    if !dir.exists() {
        return Err(DataError::MissingFolder { key: key.into(), path: dir.into() });
    }
    if !dir.is_dir() {
        return Err(DataError::NotAFolder { key: key.into(), path: dir.into() });
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1).max_depth(1).follow_links(true) {
        let entry = entry.map_err(|e| DataError::List { path: dir.into(), message: e.to_string() })?;
        if keep(entry.path(), entry.file_type()) {
            files.push(entry.into_path());
        }
    }
    if files.is_empty() {
        return Err(DataError::EmptyFolder { key: key.into(), path: dir.into(), expected });
    }
    files.sort_by(|a, b| natural_cmp(&file_name(a), &file_name(b)));
    Ok(files)
}

/// The images directly inside `dir`, in natural order: TIFF files, `.zarr` folders and HDF5
/// files (D17).
pub fn list_images(key: &str, dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    list(key, dir, ".tif/.tiff files, .zarr folders or .h5/.hdf5 files", |path, file_type| {
        match ArrayFormat::of(path) {
            Some(ArrayFormat::Zarr) => file_type.is_dir(),
            Some(ArrayFormat::Hdf5) => file_type.is_file(),
            None => file_type.is_file() && is_tiff(path),
        }
    })
}

fn is_tiff(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tif") || e.eq_ignore_ascii_case("tiff"))
}

/// Images paired with masks by position; counts must match.
pub fn discover(spec: &SplitSpec) -> Result<Vec<(PathBuf, Option<PathBuf>)>, DataError> {
    let images = list_images(spec.role.image_key(), &spec.image_dir)?;
    let Some(mask_dir) = &spec.mask_dir else {
        return Ok(images.into_iter().map(|i| (i, None)).collect());
    };
    let masks = list_images(spec.role.mask_key(), mask_dir)?;
    if images.len() != masks.len() {
        let n = images.len().min(masks.len());
        let unpaired = images.get(n).or_else(|| masks.get(n)).cloned().unwrap_or_default();
        return Err(DataError::CountMismatch {
            images: spec.image_dir.clone(),
            n_images: images.len(),
            masks: mask_dir.clone(),
            n_masks: masks.len(),
            unpaired,
        });
    }
    Ok(images.into_iter().zip(masks.into_iter().map(Some)).collect())
}

/// Reads and checks every pair of a split.
pub fn load_split(spec: &SplitSpec) -> Result<Vec<Sample>, DataError> {
    discover(spec)?.into_iter().map(|(image_path, mask_path)| load_pair(spec, image_path, mask_path)).collect()
}

/// Reads and checks one pair, pre-processed as the split's `DATA.PREPROCESS` says.
pub fn load_pair(spec: &SplitSpec, image_path: PathBuf, mask_path: Option<PathBuf>) -> Result<Sample, DataError> {
    let rgb = spec.force_rgb && spec.n_channels == 3;
    let accepted: &[usize] = if rgb { &[1, 3] } else { &[spec.n_channels] };
    let (image, meta, sample) = read_image_with(&image_path, &spec.arrays.image, spec.ndim, spec.n_channels, accepted)?;
    let file_shape = image.spatial_shape();
    let image = match &spec.preprocess {
        Some(p) => {
            p.image(&image, sample).map_err(|source| DataError::Preprocess { path: image_path.clone(), source })?
        }
        None => image,
    };
    let image = if rgb { repeat_to_rgb(image) } else { image };
    let mask = match &mask_path {
        Some(path) => {
            let mask = read_mask(path, &spec.arrays.mask, spec.ndim, spec.n_classes, spec.ignore_label)?;
            if mask.spatial_shape() != file_shape {
                return Err(DataError::ShapeMismatch {
                    image: image_path,
                    image_shape: shape_text(file_shape, spec.ndim),
                    mask: path.clone(),
                    mask_shape: shape_text(mask.spatial_shape(), spec.ndim),
                });
            }
            Some(match &spec.preprocess {
                Some(p) => p.mask(mask),
                None => mask,
            })
        }
        None => None,
    };
    Ok(Sample { image_path, image, meta, mask_path, mask, file_shape })
}

/// Reads a whole image or mask file: TIFF, or the array `array` says of a Zarr/HDF5 container
/// (3D only, as in BiaPy; its axes order says which dimension is z).
fn read_file(path: &Path, array: &ArraySpec, ndim: Ndim) -> Result<TiffImage, DataError> {
    if ArrayFormat::of(path).is_none() {
        return Ok(read_tiff(path)?);
    }
    if ndim == Ndim::D2 {
        return Err(ArrayError::Not3d { path: path.into() }.into());
    }
    let volume = ArrayStack::open(path, array)?.read_all()?;
    Ok(TiffImage { volume, z_from_metadata: true, meta: TiffMeta::default(), imagej_description: None })
}

/// The samples of an image or mask file as stored (TIFF, or the array `array` says of a
/// Zarr/HDF5 container), before any orientation or check.
pub fn read_volume(path: &Path, array: &ArraySpec, ndim: Ndim) -> Result<AnyVolume, DataError> {
    Ok(read_file(path, array, ndim)?.volume)
}

/// Reads an image as float `(z, y, x, c)` accepting any channel count of `accepted`
/// (`n_channels` guides the 2D layout), with the file's sample type.
fn read_image_with(
    path: &Path,
    array: &ArraySpec,
    ndim: Ndim,
    n_channels: usize,
    accepted: &[usize],
) -> Result<(Volume<f32>, TiffMeta, SampleType), DataError> {
    let tiff = read_file(path, array, ndim)?;
    let image = orient(path, &tiff, tiff.volume.to_f32(), ndim, n_channels)?;
    if !accepted.contains(&image.n_channels()) {
        return Err(DataError::Channels { path: path.into(), found: image.n_channels(), expected: n_channels });
    }
    Ok((image, tiff.meta, sample_type(&tiff.volume)))
}

/// `DATA.FORCE_RGB`: a single-channel image as three equal channels (BiaPy's `np.repeat`); an
/// image with three channels is returned as it is.
pub fn repeat_to_rgb(image: Volume<f32>) -> Volume<f32> {
    let [z, y, x, c] = image.shape();
    if c != 1 {
        return image;
    }
    let data = image.into_vec().into_iter().flat_map(|v| [v, v, v]).collect();
    Volume::from_vec([z, y, x, 3], data).expect("three values per voxel")
}

/// Reads a mask as labels `(z, y, x, 1)`: integer samples below `n_classes` (or equal to the
/// ignore label). A binary mask saved as 0/255 is read as 0/1 (BiaPy accepts it, spec §3.6).
pub fn read_mask(
    path: &Path,
    array: &ArraySpec,
    ndim: Ndim,
    n_classes: usize,
    ignore: Option<u16>,
) -> Result<Volume<u16>, DataError> {
    let tiff = read_file(path, array, ndim)?;
    if !tiff.volume.is_integer() {
        return Err(DataError::FloatMask { path: path.into(), dtype: tiff.volume.dtype() });
    }
    let labels = tiff.volume.to_labels().ok_or_else(|| DataError::NegativeMask { path: path.into(), n_classes })?;
    let labels = orient(path, &tiff, labels, ndim, 1)?;
    if labels.n_channels() != 1 {
        return Err(DataError::MaskChannels { path: path.into(), n_channels: labels.n_channels() });
    }
    let max = labels.as_slice().iter().copied().filter(|&v| Some(v) != ignore.map(u32::from)).max().unwrap_or(0);
    let all_0_255 = labels.as_slice().iter().all(|&v| v == 0 || v == 255);
    if mask_is_0_255(path, max, all_0_255, n_classes, ignore)? {
        return Ok(labels.map(|&v| u16::from(v == 255)));
    }
    Ok(labels.map(|&v| v as u16))
}

/// Whether a mask whose largest value (the ignore label aside) is `max` holds 0/255 binary
/// labels to read as 0/1; an error when `max` is not a label below `n_classes`. Shared by the
/// whole-file read and the slab-by-slab one (`TEST.BY_CHUNKS`), which gathers `max` and
/// `all_0_255` in a first pass.
pub fn mask_is_0_255(
    path: &Path,
    max: u32,
    all_0_255: bool,
    n_classes: usize,
    ignore: Option<u16>,
) -> Result<bool, DataError> {
    if n_classes == 2 && ignore.is_none() && max == 255 && all_0_255 {
        return Ok(true);
    }
    if max as usize >= n_classes {
        return Err(DataError::MaskValue { path: path.into(), value: u64::from(max), n_classes });
    }
    Ok(false)
}

/// Applies `PROBLEM.NDIM` to the axes a file declared. In 2D, pages without ImageJ `slices=` are
/// read as channels when their number is the expected channel count (BiaPy moves the smallest
/// axis to channels); otherwise a multi-page file is a 3D stack and an error.
fn orient<T: Copy>(
    path: &Path,
    tiff: &TiffImage,
    volume: Volume<T>,
    ndim: Ndim,
    n_channels: usize,
) -> Result<Volume<T>, DataError> {
    let [z, y, x, c] = volume.shape();
    match ndim {
        Ndim::D2 if z == 1 => Ok(volume),
        Ndim::D2 if !tiff.z_from_metadata && c == 1 && z == n_channels => {
            let mut out = Volume::filled([1, y, x, z], volume.get(0, 0, 0, 0));
            for page in 0..z {
                for row in 0..y {
                    for col in 0..x {
                        out.set(0, row, col, page, volume.get(page, row, col, 0));
                    }
                }
            }
            Ok(out)
        }
        Ndim::D2 => Err(DataError::Ndim {
            path: path.into(),
            detail: format!("is a 3D stack of {z} slices of {y}×{x}, but `PROBLEM.NDIM` is 2D"),
        }),
        Ndim::D3 if z == 1 && !tiff.z_from_metadata => Err(not_a_stack(path, y, x)),
        Ndim::D3 => Ok(volume),
    }
}

/// Opens a 3D image and its mask as [`Stack`]s (TIFF stacks or Zarr/HDF5 arrays as `arrays`
/// says), decoding no pixel, and checks what their headers tell: stacks, the image's channel
/// count, a single-channel mask of the same spatial shape. `TEST.BY_CHUNKS` reads them slab by
/// slab afterwards (the mask values are checked then).
pub fn open_stack_pair(
    image_path: &Path,
    mask_path: Option<&Path>,
    arrays: &SplitArrays,
    n_channels: usize,
) -> Result<(Stack, Option<Stack>), DataError> {
    let open = |path: &Path, array: &ArraySpec| -> Result<Stack, DataError> {
        let stack = Stack::open(path, array)?;
        let [z, y, x, _] = stack.shape();
        if z == 1 && !stack.z_from_metadata() {
            return Err(not_a_stack(path, y, x));
        }
        Ok(stack)
    };
    let image = open(image_path, &arrays.image)?;
    let [z, y, x, found] = image.shape();
    if found != n_channels {
        return Err(DataError::Channels { path: image_path.into(), found, expected: n_channels });
    }
    let Some(mask_path) = mask_path else { return Ok((image, None)) };
    let mask = open(mask_path, &arrays.mask)?;
    let [mz, my, mx, mc] = mask.shape();
    if mc != 1 {
        return Err(DataError::MaskChannels { path: mask_path.into(), n_channels: mc });
    }
    if [mz, my, mx] != [z, y, x] {
        return Err(DataError::ShapeMismatch {
            image: image_path.into(),
            image_shape: shape_text([z, y, x], Ndim::D3),
            mask: mask_path.into(),
            mask_shape: shape_text([mz, my, mx], Ndim::D3),
        });
    }
    Ok((image, Some(mask)))
}

/// A single `y`×`x` image where `PROBLEM.NDIM` 3D expects a stack.
pub fn not_a_stack(path: &Path, y: usize, x: usize) -> DataError {
    DataError::Ndim {
        path: path.into(),
        detail: format!("is a single {y}×{x} image, but `PROBLEM.NDIM` is 3D (expected a multi-page stack)"),
    }
}

/// Content hash of a split: the image files, then the mask files, by name and content.
pub fn split_hash(spec: &SplitSpec) -> Result<String, DataError> {
    let pairs = discover(spec)?;
    let images: Vec<PathBuf> = pairs.iter().map(|(i, _)| i.clone()).collect();
    let masks: Vec<PathBuf> = pairs.iter().filter_map(|(_, m)| m.clone()).collect();
    let image_hash = hash_files(&spec.image_dir, &images)?;
    let mask_hash = match &spec.mask_dir {
        Some(dir) => hash_files(dir, &masks)?,
        None => String::new(),
    };
    // `DATA.PREPROCESS.MATCH_HISTOGRAM`'s reference images change what is trained on.
    let mut text = format!("{image_hash}\n{mask_hash}");
    if let Some(dir) = spec.preprocess.as_ref().and_then(|p| p.reference_dir()) {
        let key = "DATA.PREPROCESS.MATCH_HISTOGRAM.REFERENCE_PATH";
        text.push_str(&format!("\nreference {}", hash_files(dir, &list_tiffs(key, dir)?)?));
    }
    // `DATA.RESOLUTION_NORM`'s per-file resolutions rescale what is trained on.
    if let Some(json) = spec.resolution_json.as_ref().filter(|p| p.is_file()) {
        text.push_str(&format!("\nresolutions {}", super::hash::hash_file(json)?));
    }
    Ok(super::hash::sha256_hex(text.as_bytes()))
}

/// The splits a resolved config reads: training (if `TRAIN.ENABLE`), validation from disk (if
/// not carved from training) and test (if `TEST.ENABLE`, masks if `DATA.TEST.LOAD_GT`).
pub fn config_splits(config: &Config) -> Vec<SplitSpec> {
    let data = &config.data;
    let split = |role: SplitRole, path: &str, gt: Option<&str>| {
        let arrays = SplitArrays::from_config(config, role);
        // `INPUT_ZARR_MULTIPLE_DATA`: each container of `PATH` holds the image and its mask.
        let gt = if arrays.image.dataset.is_some() { gt.map(|_| path) } else { gt };
        SplitSpec {
            role,
            image_dir: PathBuf::from(path),
            mask_dir: gt.map(PathBuf::from),
            ndim: config.problem.ndim,
            n_channels: data.patch_size.last().copied().unwrap_or(1),
            force_rgb: data.force_rgb,
            n_classes: data.n_classes,
            ignore_label: u16::try_from(config.loss.ignore_index).ok(),
            preprocess: Preprocess::from_config(config, role),
            arrays,
            resolution_json: (data.resolution_norm.enable && role.is_training())
                .then(|| super::resolution::json_path(Path::new(path))),
        }
    };
    let mut splits = Vec::new();
    if config.train.enable {
        splits.push(split(SplitRole::Train, &data.train.path, Some(&data.train.gt_path)));
        if !data.val.from_train {
            splits.push(split(SplitRole::Val, &data.val.path, Some(&data.val.gt_path)));
        }
    }
    if config.test.enable {
        if data.test.use_val_as_test {
            // The validation fold's images, chosen from these by the test phase.
            splits.push(split(SplitRole::Test, &data.train.path, Some(&data.train.gt_path)));
        } else {
            let gt = data.test.load_gt.then_some(data.test.gt_path.as_str());
            splits.push(split(SplitRole::Test, &data.test.path, gt));
        }
    }
    splits
}

/// Reads and checks every split a config names; one summary line per split. A test split
/// predicted by chunks (`TEST.BY_CHUNKS`) is checked by its headers only, never read whole.
pub fn check_config_data(config: &Config) -> Result<Vec<String>, DataError> {
    let by_chunks = config.test.by_chunks.enable && config.problem.ndim == Ndim::D3;
    config_splits(config)
        .iter()
        .map(|spec| {
            if by_chunks && spec.role == SplitRole::Test {
                let pairs = discover(spec)?;
                for (image, mask) in &pairs {
                    open_stack_pair(image, mask.as_deref(), &spec.arrays, spec.n_channels)?;
                }
                let n_masks = pairs.iter().filter(|(_, m)| m.is_some()).count();
                return Ok(format!(
                    "{}: {} images, {} masks in `{}` (headers only: `TEST.BY_CHUNKS` reads them slab by slab)",
                    spec.role.image_key(),
                    pairs.len(),
                    n_masks,
                    spec.image_dir.display()
                ));
            }
            let samples = load_split(spec)?;
            let n_masks = samples.iter().filter(|s| s.mask.is_some()).count();
            Ok(format!(
                "{}: {} images, {} masks in `{}`",
                spec.role.image_key(),
                samples.len(),
                n_masks,
                spec.image_dir.display()
            ))
        })
        .collect()
}

fn shape_text(spatial: [usize; 3], ndim: Ndim) -> String {
    match ndim {
        Ndim::D2 => format!("{}×{}", spatial[1], spatial[2]),
        Ndim::D3 => format!("{}×{}×{}", spatial[0], spatial[1], spatial[2]),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default()
}

/// Natural order: digit runs compare as numbers, the rest case-insensitively.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (na, ra) = split_digits(a);
                let (nb, rb) = split_digits(b);
                let trimmed = |d: &[u8]| d.iter().position(|&c| c != b'0').map_or(0, |p| d.len() - p);
                let order = trimmed(na).cmp(&trimmed(nb)).then_with(|| {
                    let skip = |d: &[u8]| d.len() - trimmed(d);
                    na[skip(na)..].cmp(&nb[skip(nb)..])
                });
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (ra, rb);
            }
            (Some(x), Some(y)) => {
                let order = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().position(|c| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(n)
}

#[cfg(test)]
mod tests;
