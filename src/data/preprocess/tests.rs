//! Unit tests of `DATA.PREPROCESS`: which splits, the casts back to the sample type, hand-computed
//! resizes of images, masks and predictions, Gaussian blur across channels or not, bad references.

use super::*;
use crate::config::load_str;

fn config(yaml: &str) -> Config {
    load_str(&format!("TRAIN: {{ENABLE: True}}\n{yaml}"), &[]).unwrap().config
}

#[test]
fn splits_follow_their_switch_and_validation_from_training_follows_train() {
    let on = "DATA: {PREPROCESS: {TRAIN: True, MEDIAN_BLUR: {ENABLE: True}}, VAL: {FROM_TRAIN: True}}";
    let c = config(on);
    assert!(Preprocess::from_config(&c, SplitRole::Train).is_some());
    assert!(Preprocess::from_config(&c, SplitRole::Val).is_some(), "FROM_TRAIN follows TRAIN");
    assert!(Preprocess::from_config(&c, SplitRole::Test).is_none());
    let nothing = config("DATA: {PREPROCESS: {TRAIN: True}}");
    assert!(Preprocess::from_config(&nothing, SplitRole::Train).is_none(), "no step enabled");
}

#[test]
fn integer_images_are_truncated_after_each_step_and_masks_only_resized() {
    let c = config(
        "MODEL: {FEATURE_MAPS: [4, 8, 16], YX_DOWN: [1, 1]}\nDATA: {PATCH_SIZE: [4, 4, 1], PREPROCESS: {TRAIN: True, RESIZE: {ENABLE: True, OUTPUT_SHAPE: [4, 8]}}}",
    );
    let p = Preprocess::from_config(&c, SplitRole::Train).unwrap();
    let image = Volume::from_vec([1, 2, 2, 1], vec![0.0, 5.0, 10.0, 15.0]).unwrap();
    let out = p.image(&image, SampleType::Integer { max: 255.0 }).unwrap();
    assert_eq!(out.shape(), [1, 4, 8, 1]);
    // y: coordinates −0.25, 0.25, 0.75, 1.25 (`reflect` mirrors −0.25 to 0.25) give the rows
    // [2.5, 7.5] twice, then [7.5, 12.5] twice; x: coordinates −0.375 … 1.375 put weights
    // 0.375, 0.125, 0.125, 0.375, 0.625, 0.875, 0.875, 0.625 on the right-hand value. Truncated.
    let top = [4.0, 3.0, 3.0, 4.0, 5.0, 6.0, 6.0, 5.0];
    let bottom = [9.0, 8.0, 8.0, 9.0, 10.0, 11.0, 11.0, 10.0];
    assert_eq!(out.as_slice(), [top, top, bottom, bottom].concat());
    let float = p.image(&image, SampleType::Float).unwrap();
    assert_eq!(float.as_slice()[0], 4.375);
    let mask = Volume::from_vec([1, 2, 2, 1], vec![0u16, 1, 1, 0]).unwrap();
    let resized = p.mask(mask);
    let (first, second) = ([0u16, 0, 0, 0, 1, 1, 1, 1], [1u16, 1, 1, 1, 0, 0, 0, 0]);
    assert_eq!(resized.as_slice(), [first, first, second, second].concat());
    // Back to the image's shape with RESIZE's settings (coordinates 0.5, 2.5 and 1.5, 5.5).
    let probs = resized.map(|&v| f32::from(v));
    let restored = p.restore(probs, [1, 2, 2]);
    assert_eq!(restored.shape(), [1, 2, 2, 1]);
    assert_eq!(restored.as_slice(), &[0.0, 1.0, 1.0, 0.0]);
}

#[test]
fn gaussian_of_integers_runs_on_the_0_1_scale_and_skips_channels_when_told() {
    let blur = |axis: &str| {
        let c = config(&format!(
            "MODEL: {{FEATURE_MAPS: [4, 8, 16], YX_DOWN: [2, 2]}}\nDATA: {{PATCH_SIZE: [8, 8, 2], PREPROCESS: {{TRAIN: True, GAUSSIAN_BLUR: {{ENABLE: True, CHANNEL_AXIS: {axis}}}}}}}"
        ));
        Preprocess::from_config(&c, SplitRole::Train).unwrap()
    };
    // Two channels, constant planes 100 and 200.
    let image =
        Volume::from_vec([1, 3, 3, 2], (0..18).map(|i| if i % 2 == 0 { 100.0 } else { 200.0 }).collect()).unwrap();
    let kept = blur("-1").image(&image, SampleType::Integer { max: 255.0 }).unwrap();
    // v/255 blurred (a constant plane stays constant up to rounding) ×255, truncated: 100 or 99.
    assert!(kept.channel(0).as_slice().iter().all(|&v| v == 100.0 || v == 99.0));
    assert!(kept.channel(1).as_slice().iter().all(|&v| v == 200.0 || v == 199.0));
    // skimage's default (CHANNEL_AXIS None) blurs across the two channels as well: both move
    // towards each other with `nearest` borders (weights of a σ 1 kernel over [a, a, a, a, a | b …]).
    let mixed = blur("null").image(&image, SampleType::Float).unwrap();
    let (a, b) = (mixed.get(0, 1, 1, 0), mixed.get(0, 1, 1, 1));
    assert!(a > 100.0 && b < 200.0 && (a - 100.0 - (200.0 - b)).abs() < 1e-3, "{a} {b}");
}

#[test]
fn mode_names_map_numpys_and_scipys_differently() {
    assert_eq!(numpy_mode("reflect"), Some(FillMode::Reflect));
    assert_eq!(scipy_mode("reflect"), Some(FillMode::Symmetric));
    assert_eq!(numpy_mode("edge"), Some(FillMode::Nearest));
    assert_eq!(scipy_mode("mirror"), Some(FillMode::Reflect));
    assert_eq!(numpy_mode("mirror"), None);
    let resize = crate::config::PreprocessResize::default();
    assert_eq!(resize.output_shape(true), vec![512, 512, 512]);
    assert_eq!(resize.output_shape(false), vec![512, 512]);
}

#[test]
fn a_float_reference_folder_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ref.tif");
    let image = Volume::from_vec([1, 2, 2, 1], vec![0.5f32; 4]).unwrap();
    crate::data::tiff_io::write_tiff(&path, &crate::data::tiff_io::AnyVolume::F32(image.clone()), &Default::default())
        .unwrap();
    let yaml = format!(
        "DATA: {{PREPROCESS: {{TRAIN: True, MATCH_HISTOGRAM: {{ENABLE: True, REFERENCE_PATH: '{}'}}}}}}",
        dir.path().display()
    );
    let p = Preprocess::from_config(&config(&yaml), SplitRole::Train).unwrap();
    let err = p.image(&image, SampleType::Float).unwrap_err().to_string();
    assert!(err.contains("REFERENCE_PATH") && err.contains("ref.tif") && err.contains("float32"), "{err}");
}
