//! Dataset discovery and the bad inputs of the foundation issue, each with the message that
//! must name the culprit.

use super::*;
use crate::data::tiff_io::{AnyVolume, WriteOptions, write_tiff};

fn write(path: &Path, volume: AnyVolume) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_tiff(path, &volume, &WriteOptions::default()).unwrap();
}

fn u8_volume(shape: [usize; 4], value: u8) -> AnyVolume {
    AnyVolume::U8(Volume::filled(shape, value))
}

fn spec(root: &Path, ndim: Ndim) -> SplitSpec {
    SplitSpec {
        force_rgb: false,
        role: SplitRole::Train,
        image_dir: root.join("x"),
        mask_dir: Some(root.join("y")),
        ndim,
        n_channels: 1,
        n_classes: 2,
        ignore_label: None,
        preprocess: None,
        arrays: SplitArrays::from_config(&Config::default(), SplitRole::Train),
        resolution_json: None,
    }
}

fn two_pairs(root: &Path) {
    for name in ["a.tif", "b.tif"] {
        write(&root.join("x").join(name), u8_volume([1, 8, 8, 1], 100));
        write(&root.join("y").join(name), u8_volume([1, 8, 8, 1], 1));
    }
}

#[test]
fn natural_order() {
    let mut names = vec!["img10.tif", "img2.tif", "IMG1.tif", "img02b.tif"];
    names.sort_by(|a, b| natural_cmp(&a.to_lowercase(), &b.to_lowercase()));
    assert_eq!(names, vec!["IMG1.tif", "img2.tif", "img02b.tif", "img10.tif"]);
}

#[test]
fn loads_pairs_and_hashes_them() {
    let dir = tempfile::tempdir().unwrap();
    two_pairs(dir.path());
    std::fs::write(dir.path().join("x").join("notes.txt"), "ignored").unwrap();
    let samples = load_split(&spec(dir.path(), Ndim::D2)).unwrap();
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0].mask.as_ref().unwrap().shape(), [1, 8, 8, 1]);
    let before = split_hash(&spec(dir.path(), Ndim::D2)).unwrap();
    write(&dir.path().join("y").join("b.tif"), u8_volume([1, 8, 8, 1], 0));
    assert_ne!(before, split_hash(&spec(dir.path(), Ndim::D2)).unwrap());
}

#[test]
fn the_resolution_file_joins_the_hash_when_resolution_norm_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    two_pairs(dir.path());
    let json = dir.path().join("resolution.json");
    let with_norm = SplitSpec { resolution_json: Some(json.clone()), ..spec(dir.path(), Ndim::D2) };
    let plain = split_hash(&spec(dir.path(), Ndim::D2)).unwrap();
    assert_eq!(split_hash(&with_norm).unwrap(), plain, "no file yet: nothing to hash");
    std::fs::write(&json, r#"{"a.tif": [1, 0.5, 0.5]}"#).unwrap();
    let first = split_hash(&with_norm).unwrap();
    assert_ne!(first, plain);
    std::fs::write(&json, r#"{"a.tif": [1, 0.5, 0.25]}"#).unwrap();
    assert_ne!(split_hash(&with_norm).unwrap(), first, "an edited resolution retrains");
    assert_eq!(split_hash(&spec(dir.path(), Ndim::D2)).unwrap(), plain, "read only with RESOLUTION_NORM");
}

#[test]
fn zero_255_binary_masks_read_as_0_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.tif");
    let mut mask = Volume::filled([1, 4, 4, 1], 0u8);
    mask.set(0, 1, 1, 0, 255);
    write(&path, AnyVolume::U8(mask));
    let array = &spec(dir.path(), Ndim::D2).arrays.mask;
    let labels = read_mask(&path, array, Ndim::D2, 2, None).unwrap();
    assert_eq!(
        read_mask(&path, array, Ndim::D2, 2, Some(255)).unwrap().get(0, 1, 1, 0),
        255,
        "the ignore label is kept as is"
    );
    assert_eq!(labels.get(0, 1, 1, 0), 1);
}

fn error_of(root: &Path, ndim: Ndim) -> String {
    load_split(&spec(root, ndim)).unwrap_err().to_string()
}

#[test]
fn missing_and_empty_folders() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert_eq!(
        error_of(root, Ndim::D2),
        format!("`DATA.TRAIN.PATH`: folder `{}` does not exist", root.join("x").display())
    );
    std::fs::create_dir_all(root.join("x")).unwrap();
    assert_eq!(
        error_of(root, Ndim::D2),
        format!(
            "`DATA.TRAIN.PATH`: no .tif/.tiff files, .zarr folders or .h5/.hdf5 files in `{}`",
            root.join("x").display()
        )
    );
}

#[test]
fn count_mismatch_names_both_folders() {
    let dir = tempfile::tempdir().unwrap();
    two_pairs(dir.path());
    std::fs::remove_file(dir.path().join("y").join("b.tif")).unwrap();
    let err = error_of(dir.path(), Ndim::D2);
    assert!(err.starts_with("2 images in `") && err.contains("but 1 masks in `"), "{err}");
    assert!(err.ends_with("b.tif` is the first without a partner)"), "the unpaired image is named: {err}");
}

#[test]
fn shape_mismatch_names_both_files_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    two_pairs(dir.path());
    write(&dir.path().join("y").join("b.tif"), u8_volume([1, 8, 6, 1], 0));
    let err = error_of(dir.path(), Ndim::D2);
    assert!(
        err.contains("b.tif` is 8×8 but its mask `") && err.ends_with("b.tif` is 8×6: the spatial shapes must match"),
        "{err}"
    );
}

#[test]
fn mask_value_at_or_above_n_classes() {
    let dir = tempfile::tempdir().unwrap();
    two_pairs(dir.path());
    write(&dir.path().join("y").join("a.tif"), u8_volume([1, 8, 8, 1], 2));
    let err = error_of(dir.path(), Ndim::D2);
    assert!(err.contains("a.tif` holds the value 2, but `DATA.N_CLASSES` is 2: labels must be 0..1"), "{err}");
}

#[test]
fn float_mask() {
    let dir = tempfile::tempdir().unwrap();
    two_pairs(dir.path());
    write(&dir.path().join("y").join("a.tif"), AnyVolume::F32(Volume::filled([1, 8, 8, 1], 1.0)));
    let err = error_of(dir.path(), Ndim::D2);
    assert!(err.contains("a.tif` has float32 samples: expected an integer label image"), "{err}");
}

#[test]
fn not_a_tiff_and_truncated() {
    let dir = tempfile::tempdir().unwrap();
    two_pairs(dir.path());
    let bad = dir.path().join("x").join("a.tif");
    std::fs::write(&bad, b"this is not a tiff").unwrap();
    assert!(error_of(dir.path(), Ndim::D2).contains(&bad.display().to_string()));
    write(&bad, u8_volume([1, 64, 64, 1], 7));
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    assert!(error_of(dir.path(), Ndim::D2).contains(&bad.display().to_string()));
}

#[test]
fn three_d_file_when_ndim_is_2d_and_back() {
    let dir = tempfile::tempdir().unwrap();
    two_pairs(dir.path());
    let stack = dir.path().join("x").join("a.tif");
    write(&stack, u8_volume([5, 8, 8, 1], 9));
    let err = error_of(dir.path(), Ndim::D2);
    assert!(err.ends_with("a.tif` is a 3D stack of 5 slices of 8×8, but `PROBLEM.NDIM` is 2D"), "{err}");
    let flat = tempfile::tempdir().unwrap();
    two_pairs(flat.path());
    let err = error_of(flat.path(), Ndim::D3);
    assert!(
        err.ends_with("a.tif` is a single 8×8 image, but `PROBLEM.NDIM` is 3D (expected a multi-page stack)"),
        "{err}"
    );
}

#[test]
fn wrong_channel_count_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    two_pairs(dir.path());
    write(&dir.path().join("x").join("a.tif"), u8_volume([1, 8, 8, 3], 9));
    let err = error_of(dir.path(), Ndim::D2);
    assert!(err.ends_with("a.tif` has 3 channel(s), but `DATA.PATCH_SIZE` ends in 1"), "{err}");
}

#[test]
fn force_rgb_repeats_grayscale_into_three_channels() {
    let dir = tempfile::tempdir().unwrap();
    two_pairs(dir.path());
    write(&dir.path().join("x").join("b.tif"), u8_volume([1, 8, 8, 3], 9));
    let rgb = SplitSpec { n_channels: 3, force_rgb: true, ..spec(dir.path(), Ndim::D2) };
    let samples = load_split(&rgb).unwrap();
    assert_eq!(samples[0].image.shape(), [1, 8, 8, 3]);
    let first = samples[0].image.as_slice();
    assert!(first.chunks(3).all(|v| v[0] == v[1] && v[1] == v[2]));
    assert_eq!(samples[1].image.as_slice()[..3], [9.0, 9.0, 9.0]);
    // Without it, the grayscale image is refused.
    let err = load_split(&SplitSpec { force_rgb: false, ..rgb.clone() }).unwrap_err().to_string();
    assert!(err.ends_with("a.tif` has 1 channel(s), but `DATA.PATCH_SIZE` ends in 3"), "{err}");
    // Two channels are not grayscale.
    write(&dir.path().join("x").join("a.tif"), u8_volume([1, 8, 8, 2], 9));
    assert!(load_split(&rgb).is_err());
}

#[test]
fn stack_pairs_are_checked_from_their_headers() {
    let dir = tempfile::tempdir().unwrap();
    let (image, mask, flat) = (dir.path().join("i.tif"), dir.path().join("m.tif"), dir.path().join("f.tif"));
    write(&image, u8_volume([4, 6, 5, 1], 3));
    write(&mask, u8_volume([4, 6, 4, 1], 1));
    write(&flat, u8_volume([1, 6, 5, 1], 1));
    let arrays = &spec(dir.path(), Ndim::D3).arrays;
    let (stack, none) = open_stack_pair(&image, None, arrays, 1).unwrap();
    assert_eq!((stack.shape(), none.is_none(), stack.max_planes_at_once()), ([4, 6, 5, 1], true, 0));
    let err = open_stack_pair(&image, Some(&mask), arrays, 1).unwrap_err().to_string();
    assert!(err.contains("is 4×6×5 but its mask") && err.contains("is 4×6×4"), "{err}");
    let err = open_stack_pair(&image, None, arrays, 2).unwrap_err().to_string();
    assert!(err.contains("has 1 channel(s), but `DATA.PATCH_SIZE` ends in 2"), "{err}");
    let err = open_stack_pair(&flat, None, arrays, 1).unwrap_err().to_string();
    assert!(err.contains("is a single 6×5 image, but `PROBLEM.NDIM` is 3D"), "{err}");
}

/// The 3D pairs of a split stored as Zarr: `x/<name>.zarr` in `TZCYX`, `y/<name>.zarr` in `ZYX`.
fn zarr_pairs(root: &Path, names: &[&str]) -> SplitSpec {
    use crate::config::axes::AxesOrder;
    use crate::data::array_io::write_array;
    for (i, name) in names.iter().enumerate() {
        std::fs::create_dir_all(root.join("x")).unwrap();
        std::fs::create_dir_all(root.join("y")).unwrap();
        let image =
            AnyVolume::U16(Volume::from_vec([3, 4, 5, 1], (0..60).map(|v| v * (i as u16 + 1)).collect()).unwrap());
        write_array(&root.join("x").join(name), &image, &AxesOrder::parse("TZCYX").unwrap()).unwrap();
        let mask =
            AnyVolume::U8(Volume::from_vec([3, 4, 5, 1], (0..60).map(|v| u8::from(v % 3 == 0)).collect()).unwrap());
        write_array(&root.join("y").join(name), &mask, &AxesOrder::parse("ZYX").unwrap()).unwrap();
    }
    let mut spec = spec(root, Ndim::D3);
    spec.arrays.mask.axes = "ZYX".into();
    spec
}

#[test]
fn zarr_pairs_load_like_tiff_stacks_and_hash_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let spec = zarr_pairs(dir.path(), &["b.zarr", "a.zarr"]);
    let samples = load_split(&spec).unwrap();
    assert_eq!(samples.len(), 2);
    assert!(samples[0].image_path.ends_with("x/a.zarr"));
    assert_eq!(samples[1].image.shape(), [3, 4, 5, 1]);
    assert_eq!((samples[0].image.get(2, 3, 4, 0), samples[1].image.get(2, 3, 4, 0)), (118.0, 59.0));
    assert_eq!(samples[0].mask.as_ref().unwrap().get(0, 0, 3, 0), 1);
    let before = split_hash(&spec).unwrap();
    let other = AnyVolume::U8(Volume::filled([3, 4, 5, 1], 0));
    let order = crate::config::axes::AxesOrder::parse("ZYX").unwrap();
    std::fs::remove_dir_all(dir.path().join("y/b.zarr")).unwrap();
    crate::data::array_io::write_array(&dir.path().join("y/b.zarr"), &other, &order).unwrap();
    assert_ne!(before, split_hash(&spec).unwrap());
}

#[test]
fn zarr_inputs_are_3d_only_and_need_their_axes_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = zarr_pairs(dir.path(), &["a.zarr"]);
    spec.arrays.mask.axes = "TZCYX".into();
    let err = load_split(&spec).unwrap_err().to_string();
    assert!(err.contains("y/a.zarr` is 3-dimensional [3, 4, 5], but the axes order `TZCYX` names 5"), "{err}");
    assert!(err.contains("(`DATA.TRAIN.INPUT_MASK_AXES_ORDER`)"), "{err}");
    spec.ndim = Ndim::D2;
    let err = load_split(&spec).unwrap_err().to_string();
    assert!(err.contains("x/a.zarr` is a Zarr/HDF5 input, but `PROBLEM.NDIM` is 2D"), "{err}");
}
