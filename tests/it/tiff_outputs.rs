//! Every kind of TIFF a run writes, read back with the `tiff` crate's decoder (not segsweep's
//! reader): the ImageJ description (images, channels, slices, hyperstack, display range,
//! spacing/unit), the X/Y resolution tags copied from the input, the bit depth and sample format,
//! and the mask values `0..N-1`. A 2D binary run (patches with a median filter, then whole
//! images) and a 3D three-class run.

use std::fs::File;
use std::path::{Path, PathBuf};

use segsweep::data::tiff_io::{TiffMeta, WriteOptions, read_tiff, write_tiff};
use tiff::decoder::{Decoder, ifd::Value};
use tiff::tags::Tag;

use crate::util::{TestDir, repo_root, segsweep};

/// What the first page of a TIFF says, and how many pages it has.
#[derive(Debug)]
struct Written {
    description: String,
    x_resolution: Option<(u32, u32)>,
    y_resolution: Option<(u32, u32)>,
    resolution_unit: Option<u16>,
    bits: u16,
    float: bool,
    pages: usize,
}

fn inspect(path: &Path) -> Written {
    let mut decoder = Decoder::new(File::open(path).unwrap()).unwrap();
    let rational = |value: Option<Value>| match value {
        Some(Value::Rational(n, d)) => Some((n, d)),
        None => None,
        other => panic!("{}: resolution is {other:?}", path.display()),
    };
    let short = |value: Option<Value>| value.map(|v| v.into_u16().unwrap());
    let description = decoder.find_tag(Tag::ImageDescription).unwrap().unwrap().into_string().unwrap();
    let x_resolution = rational(decoder.find_tag(Tag::XResolution).unwrap());
    let y_resolution = rational(decoder.find_tag(Tag::YResolution).unwrap());
    let resolution_unit = short(decoder.find_tag(Tag::ResolutionUnit).unwrap());
    let bits = short(decoder.find_tag(Tag::BitsPerSample).unwrap()).unwrap();
    let float = short(decoder.find_tag(Tag::SampleFormat).unwrap()) == Some(3);
    let mut pages = 1;
    while decoder.more_images() {
        decoder.next_image().unwrap();
        pages += 1;
    }
    Written { description, x_resolution, y_resolution, resolution_unit, bits, float, pages }
}

/// Rewrites every image in `folder` with `meta` (the pixel size a microscope would record).
fn give_pixel_size(folder: &Path, meta: &TiffMeta) {
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        let image = read_tiff(&path).unwrap();
        write_tiff(&path, &image.volume, &WriteOptions { meta: meta.clone(), ..WriteOptions::default() }).unwrap();
    }
}

fn assert_pixel_size(path: &Path, written: &Written, meta: &TiffMeta) {
    assert_eq!(written.x_resolution, meta.x_resolution, "{}", path.display());
    assert_eq!(written.y_resolution, meta.y_resolution, "{}", path.display());
    assert_eq!(written.resolution_unit, meta.resolution_unit, "{}", path.display());
    if let Some(spacing) = meta.spacing {
        assert!(written.description.contains(&format!("\nspacing={spacing}\n")), "{}", written.description);
    }
    assert!(written.description.contains("\nunit=\\u00B5m\n"), "{}: {}", path.display(), written.description);
}

/// A probability file: float32, display range 0–1, one page per (z, class).
fn assert_probabilities(path: &Path, meta: &TiffMeta, z: usize, classes: usize) {
    let written = inspect(path);
    assert!(written.float && written.bits == 32, "{}: {written:?}", path.display());
    assert!(written.description.contains("\nmin=0\nmax=1\n"), "{}: {}", path.display(), written.description);
    assert_eq!(written.pages, z * classes, "{}", path.display());
    assert_layout(&written, z, classes);
    assert_pixel_size(path, &written, meta);
}

/// A mask file: 8-bit labels `0..classes-1`, display range 0..classes-1, one page per slice.
fn assert_mask(path: &Path, meta: &TiffMeta, z: usize, classes: usize) {
    let written = inspect(path);
    assert!(!written.float && written.bits == 8, "{}: {written:?}", path.display());
    let range = format!("\nmin=0\nmax={}\n", classes - 1);
    assert!(written.description.contains(&range), "{}: {}", path.display(), written.description);
    assert_eq!(written.pages, z, "{}", path.display());
    assert_layout(&written, z, 1);
    assert_pixel_size(path, &written, meta);
    let labels = read_tiff(path).unwrap().volume.to_labels().unwrap();
    let max = labels.as_slice().iter().copied().max().unwrap();
    assert!((max as usize) < classes, "{}: label {max} with {classes} classes", path.display());
}

/// The hyperstack keys Fiji needs: z as slices, classes as channels.
fn assert_layout(written: &Written, z: usize, channels: usize) {
    let text = &written.description;
    assert!(text.starts_with("ImageJ="), "{text}");
    assert!(text.contains(&format!("\nimages={}\n", z * channels)), "{text}");
    assert_eq!(text.contains(&format!("\nslices={z}\n")), z > 1, "{text}");
    assert_eq!(text.contains(&format!("\nchannels={channels}\n")), channels > 1, "{text}");
    assert_eq!(text.contains("\nhyperstack=true\n"), z > 1 || channels > 1, "{text}");
}

fn run(args: &[&str]) {
    let out = segsweep(args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn every_2d_output_keeps_the_pixel_size_and_fiji_layout() {
    let dir = TestDir::new();
    let data = crate::util::tiny_synthetic_set(&dir, 2, 1, 1);
    let meta = TiffMeta {
        x_resolution: Some((25_000, 7)),
        y_resolution: Some((20_000, 7)),
        resolution_unit: Some(3),
        spacing: None,
        unit: Some("µm".into()),
    };
    give_pixel_size(&data.join("test/x"), &meta);
    let config = repo_root().join("tests/fixtures/biapy/tiny_unet.yaml").display().to_string();
    let checkpoint = repo_root().join("tests/fixtures/biapy/tiny_unet.safetensors");
    let results = dir.join("r");
    let sets = [
        "TRAIN.ENABLE=False".to_string(),
        "TEST.ENABLE=True".to_string(),
        "MODEL.LOAD_CHECKPOINT=True".to_string(),
        format!("PATHS.CHECKPOINT_FILE={}", checkpoint.display()),
        format!("DATA.TEST.PATH={}/test/x", data.display()),
        format!("DATA.TEST.GT_PATH={}/test/y", data.display()),
        "TEST.POST_PROCESSING.MEDIAN_FILTER=True".to_string(),
        "TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS=[xy]".to_string(),
        "TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE=[3]".to_string(),
    ];
    let job = |name: &str, extra: &[&str]| {
        let mut args = vec!["run", "--config", &config, "--result_dir", results.to_str().unwrap(), "--name", name];
        for set in &sets {
            args.extend(["--set", set]);
        }
        for set in extra {
            args.extend(["--set", set]);
        }
        run(&args);
        results.join(name).join(format!("results/{name}_1"))
    };
    let patches = job("patches", &[]);
    assert_probabilities(&patches.join("per_image/0000.tif"), &meta, 1, 1);
    assert_probabilities(&patches.join("per_image_post_processing/0000.tif"), &meta, 1, 1);
    assert_mask(&patches.join("per_image_binarized/0000.tif"), &meta, 1, 2);
    let whole = job("whole", &["TEST.FULL_IMG=True"]);
    assert_probabilities(&whole.join("full_image/0000.tif"), &meta, 1, 1);
    assert_mask(&whole.join("full_image_binarized/0000.tif"), &meta, 1, 2);
}

#[test]
fn every_3d_multiclass_output_has_slices_channels_and_the_spacing() {
    let dir = TestDir::new();
    let data: PathBuf = dir.join("data");
    let out = data.to_str().unwrap();
    run(&[
        "synth",
        "--out",
        out,
        "--ndim",
        "3",
        "--classes",
        "3",
        "--n-train",
        "2",
        "--n-test",
        "1",
        "--size",
        "16",
        "32",
        "32",
    ]);
    let meta = TiffMeta {
        x_resolution: Some((3, 1)),
        y_resolution: Some((3, 1)),
        resolution_unit: Some(1),
        spacing: Some(0.75),
        unit: Some("µm".into()),
    };
    give_pixel_size(&data.join("test/x"), &meta);
    let config = dir.write(
        "run3d.yaml",
        &format!(
            "PROBLEM: {{NDIM: 3D}}
DATA:
  N_CLASSES: 3
  PATCH_SIZE: '(16, 32, 32, 1)'
  TRAIN: {{PATH: {out}/train/x, GT_PATH: {out}/train/y}}
  VAL: {{SPLIT_TRAIN: 0.5}}
  TEST: {{PATH: {out}/test/x, GT_PATH: {out}/test/y, LOAD_GT: True}}
MODEL: {{FEATURE_MAPS: [4, 8, 16], Z_DOWN: [1, 1]}}
TRAIN: {{ENABLE: True, OPTIMIZER: ADAMW, LR: 1.E-2, BATCH_SIZE: 1, EPOCHS: 1}}
TEST: {{ENABLE: True}}
"
        ),
    );
    let results = dir.join("r");
    run(&["run", "--config", config.to_str().unwrap(), "--result_dir", results.to_str().unwrap(), "--name", "c3"]);
    let job = results.join("c3/results/c3_1");
    assert_probabilities(&job.join("per_image/0000.tif"), &meta, 16, 3);
    assert_mask(&job.join("per_image_binarized/0000.tif"), &meta, 16, 3);
}
