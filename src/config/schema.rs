//! The typed configuration tree and its defaults: every key a semantic-segmentation run reads,
//! with BiaPy 3.7.1's default values (spec §1.4, §4, §6–§9), plus segsweep's own keys (D3–D7).
//!
//! This file is a flat table on purpose: one struct per BiaPy section, one field per key, the
//! default next to it in the `Default` impl. It is also the schema: the set of known keys and
//! their types is read off `Config::default()` (see `keys.rs`), so a key added here is known
//! everywhere. It must not validate (see `check.rs`) or read files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The resolved configuration of one run, in BiaPy's key layout.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Config {
    pub system: System,
    pub problem: Problem,
    pub data: Data,
    pub augmentor: Augmentor,
    pub model: Model,
    pub loss: Loss,
    pub train: Train,
    pub test: Test,
    pub paths: Paths,
    pub log: Log,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct System {
    pub num_cpus: i64,
    pub num_workers: i64,
    pub device: String,
    pub seed: u64,
    pub pin_mem: bool,
}

impl Default for System {
    fn default() -> Self {
        Self { num_cpus: -1, num_workers: -1, device: "cpu".into(), seed: 0, pin_mem: true }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProblemType {
    #[serde(rename = "SEMANTIC_SEG")]
    SemanticSeg,
    #[serde(rename = "INSTANCE_SEG")]
    InstanceSeg,
    #[serde(rename = "DETECTION")]
    Detection,
    #[serde(rename = "DENOISING")]
    Denoising,
    #[serde(rename = "SUPER_RESOLUTION")]
    SuperResolution,
    #[serde(rename = "SELF_SUPERVISED")]
    SelfSupervised,
    #[serde(rename = "CLASSIFICATION")]
    Classification,
    #[serde(rename = "IMAGE_TO_IMAGE")]
    ImageToImage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ndim {
    #[serde(rename = "2D")]
    D2,
    #[serde(rename = "3D")]
    D3,
}

impl Ndim {
    /// Number of spatial axes.
    pub fn n_axes(self) -> usize {
        match self {
            Ndim::D2 => 2,
            Ndim::D3 => 3,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Problem {
    pub r#type: ProblemType,
    pub ndim: Ndim,
    pub print_old_key_changes: bool,
    pub semantic_seg: SemanticSegProblem,
}

impl Default for Problem {
    fn default() -> Self {
        Self {
            r#type: ProblemType::SemanticSeg,
            ndim: Ndim::D2,
            print_old_key_changes: true,
            semantic_seg: SemanticSegProblem::default(),
        }
    }
}

/// `PROBLEM.SEMANTIC_SEG`: its only key is dead in BiaPy 3.7.1 (spec §1.5).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct SemanticSegProblem {
    pub ignore_class_id: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Data {
    pub patch_size: Vec<usize>,
    pub n_classes: usize,
    pub reflect_to_complete_shape: bool,
    pub force_rgb: bool,
    pub check_generators: bool,
    pub filter_by_image: bool,
    pub save_filtered_images: bool,
    pub save_filtered_images_num: i64,
    pub resolution_norm: ResolutionNorm,
    pub normalization: Normalization,
    pub preprocess: Preprocess,
    pub train: DataTrain,
    pub val: DataVal,
    pub test: DataTest,
}

impl Default for Data {
    fn default() -> Self {
        Self {
            patch_size: vec![256, 256, 1],
            n_classes: 2,
            reflect_to_complete_shape: true,
            force_rgb: false,
            check_generators: false,
            filter_by_image: false,
            save_filtered_images: false,
            save_filtered_images_num: 3,
            resolution_norm: ResolutionNorm::default(),
            normalization: Normalization::default(),
            preprocess: Preprocess::default(),
            train: DataTrain::default(),
            val: DataVal::default(),
            test: DataTest::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct ResolutionNorm {
    pub enable: bool,
    pub target_resolution: Vec<f64>,
}

impl Default for ResolutionNorm {
    fn default() -> Self {
        Self { enable: false, target_resolution: vec![-1.0, -1.0, -1.0] }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormalizationType {
    Div,
    ScaleRange,
    ZeroMeanUnitVariance,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Normalization {
    pub r#type: NormalizationType,
    pub perc_clip: PercClip,
    pub zero_mean_unit_var: ZeroMeanUnitVar,
}

impl Default for Normalization {
    fn default() -> Self {
        Self {
            r#type: NormalizationType::ZeroMeanUnitVariance,
            perc_clip: PercClip::default(),
            zero_mean_unit_var: ZeroMeanUnitVar::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct PercClip {
    pub enable: bool,
    pub lower_perc: f64,
    pub upper_perc: f64,
    pub lower_value: Vec<f64>,
    pub upper_value: Vec<f64>,
}

impl Default for PercClip {
    fn default() -> Self {
        Self { enable: false, lower_perc: -1.0, upper_perc: -1.0, lower_value: vec![-1.0], upper_value: vec![-1.0] }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct ZeroMeanUnitVar {
    pub mean_val: Vec<f64>,
    pub std_val: Vec<f64>,
}

impl Default for ZeroMeanUnitVar {
    fn default() -> Self {
        Self { mean_val: vec![-1.0], std_val: vec![-1.0] }
    }
}

/// `DATA.PREPROCESS` (BiaPy's `preprocess_data`): which splits are pre-processed, and how.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Preprocess {
    pub train: bool,
    pub val: bool,
    pub test: bool,
    pub resize: PreprocessResize,
    pub zoom: PreprocessZoom,
    pub gaussian_blur: PreprocessGaussianBlur,
    pub median_blur: PreprocessMedianBlur,
    pub match_histogram: PreprocessMatchHistogram,
    pub clahe: PreprocessClahe,
    pub canny: PreprocessCanny,
}

/// `DATA.PREPROCESS.RESIZE`: `skimage.transform.resize`'s arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct PreprocessResize {
    pub enable: bool,
    pub output_shape: Vec<usize>,
    pub order: i64,
    pub mode: String,
    pub cval: f64,
    pub clip: bool,
    pub preserve_range: bool,
    pub anti_aliasing: bool,
}

impl Default for PreprocessResize {
    fn default() -> Self {
        Self {
            enable: false,
            output_shape: vec![512, 512],
            order: 1,
            mode: "reflect".into(),
            cval: 0.0,
            clip: true,
            preserve_range: true,
            anti_aliasing: false,
        }
    }
}

impl PreprocessResize {
    /// `OUTPUT_SHAPE`, with BiaPy's 3D default: `(512, 512)` becomes `(512, 512, 512)`.
    pub fn output_shape(&self, is_3d: bool) -> Vec<usize> {
        if is_3d && self.output_shape == [512, 512] { vec![512, 512, 512] } else { self.output_shape.clone() }
    }
}

/// `DATA.PREPROCESS.ZOOM` (BiaPy reads it in its detection workflow only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct PreprocessZoom {
    pub enable: bool,
    pub zoom_factor: Vec<f64>,
}

impl Default for PreprocessZoom {
    fn default() -> Self {
        Self { enable: false, zoom_factor: vec![1.0; 5] }
    }
}

/// `DATA.PREPROCESS.GAUSSIAN_BLUR`: `skimage.filters.gaussian`'s arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct PreprocessGaussianBlur {
    pub enable: bool,
    pub sigma: f64,
    pub mode: String,
    pub channel_axis: Option<i64>,
}

impl Default for PreprocessGaussianBlur {
    fn default() -> Self {
        Self { enable: false, sigma: 1.0, mode: "nearest".into(), channel_axis: None }
    }
}

/// `DATA.PREPROCESS.MEDIAN_BLUR`: the footprint, channels last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct PreprocessMedianBlur {
    pub enable: bool,
    pub kernel_size: Vec<usize>,
}

impl Default for PreprocessMedianBlur {
    fn default() -> Self {
        Self { enable: false, kernel_size: vec![3, 3, 1] }
    }
}

/// `DATA.PREPROCESS.MATCH_HISTOGRAM`: the folder of reference images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct PreprocessMatchHistogram {
    pub enable: bool,
    pub reference_path: String,
}

impl Default for PreprocessMatchHistogram {
    fn default() -> Self {
        Self { enable: false, reference_path: "user_data/test/x".into() }
    }
}

/// `DATA.PREPROCESS.CLAHE`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct PreprocessClahe {
    pub enable: bool,
    pub kernel_size: Option<serde_json::Value>,
    pub clip_limit: f64,
}

impl Default for PreprocessClahe {
    fn default() -> Self {
        Self { enable: false, kernel_size: None, clip_limit: 0.01 }
    }
}

/// `DATA.PREPROCESS.CANNY`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct PreprocessCanny {
    pub enable: bool,
    pub low_threshold: Option<f64>,
    pub high_threshold: Option<f64>,
}

/// `DATA.{TRAIN,VAL,TEST}.FILTER_SAMPLES`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct FilterSamples {
    pub enable: bool,
    pub props: Vec<Vec<String>>,
    pub values: Vec<Vec<f64>>,
    pub signs: Vec<Vec<String>>,
    pub norm_before: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct DataTrain {
    pub check_data: bool,
    pub in_memory: bool,
    pub path: String,
    pub gt_path: String,
    pub extract_random_patch: bool,
    pub probability_map: bool,
    pub w_foreground: f64,
    pub w_background: f64,
    pub replicate: i64,
    pub overlap: Vec<f64>,
    pub padding: Vec<usize>,
    pub resolution: Vec<f64>,
    pub input_img_axes_order: String,
    pub input_mask_axes_order: String,
    pub input_zarr_multiple_data: bool,
    pub input_zarr_multiple_data_raw_path: String,
    pub input_zarr_multiple_data_gt_path: String,
    pub filter_samples: FilterSamples,
}

impl Default for DataTrain {
    fn default() -> Self {
        Self {
            check_data: true,
            in_memory: true,
            path: "user_data/train/x".into(),
            gt_path: "user_data/train/y".into(),
            extract_random_patch: false,
            probability_map: false,
            w_foreground: 0.94,
            w_background: 0.06,
            replicate: 0,
            overlap: vec![0.0, 0.0],
            padding: vec![0, 0],
            resolution: vec![-1.0],
            input_img_axes_order: "TZCYX".into(),
            input_mask_axes_order: "TZCYX".into(),
            input_zarr_multiple_data: false,
            input_zarr_multiple_data_raw_path: String::new(),
            input_zarr_multiple_data_gt_path: String::new(),
            filter_samples: FilterSamples::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct DataVal {
    pub from_train: bool,
    pub split_train: f64,
    pub random: bool,
    pub cross_val: bool,
    pub cross_val_nfold: i64,
    pub cross_val_fold: i64,
    pub in_memory: bool,
    pub path: String,
    pub gt_path: String,
    pub overlap: Vec<f64>,
    pub padding: Vec<usize>,
    pub resolution: Vec<f64>,
    pub dist_eval: bool,
    pub input_img_axes_order: String,
    pub input_mask_axes_order: String,
    pub input_zarr_multiple_data: bool,
    pub input_zarr_multiple_data_raw_path: String,
    pub input_zarr_multiple_data_gt_path: String,
    pub filter_samples: FilterSamples,
}

impl Default for DataVal {
    fn default() -> Self {
        Self {
            from_train: true,
            split_train: 0.1,
            random: true,
            cross_val: false,
            cross_val_nfold: 5,
            cross_val_fold: 1,
            in_memory: true,
            path: "user_data/val/x".into(),
            gt_path: "user_data/val/y".into(),
            overlap: vec![0.0, 0.0],
            padding: vec![0, 0],
            resolution: vec![-1.0],
            dist_eval: true,
            input_img_axes_order: "TZCYX".into(),
            input_mask_axes_order: "TZCYX".into(),
            input_zarr_multiple_data: false,
            input_zarr_multiple_data_raw_path: String::new(),
            input_zarr_multiple_data_gt_path: String::new(),
            filter_samples: FilterSamples::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
#[derive(Default)]
pub struct RoiMask {
    pub enable: bool,
    pub path: String,
    pub axes_order: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct DataTest {
    pub check_data: bool,
    /// Dead in BiaPy 3.7.1 (spec §1.5).
    pub in_memory: bool,
    pub load_gt: bool,
    pub use_val_as_test: bool,
    pub path: String,
    pub gt_path: String,
    pub overlap: Vec<f64>,
    pub padding: Vec<usize>,
    pub median_padding: bool,
    /// Dead for semantic segmentation (spec §1.5).
    pub resolution: Vec<f64>,
    pub roi_mask: RoiMask,
    pub filter_samples: FilterSamples,
    pub input_img_axes_order: String,
    pub input_mask_axes_order: String,
    pub input_zarr_multiple_data: bool,
    pub input_zarr_multiple_data_raw_path: String,
    pub input_zarr_multiple_data_gt_path: String,
    /// D3: kept from the documented BiaPy behaviour.
    pub argmax_to_output: bool,
}

impl DataTest {
    /// Whether the test images have masks: `LOAD_GT`, or `USE_VAL_AS_TEST` (the validation
    /// fold's images come with theirs), as BiaPy's `LOAD_GT or USE_VAL_AS_TEST`.
    pub fn with_gt(&self) -> bool {
        self.load_gt || self.use_val_as_test
    }
}

impl Default for DataTest {
    fn default() -> Self {
        Self {
            check_data: true,
            in_memory: false,
            load_gt: false,
            use_val_as_test: false,
            path: "user_data/test/x".into(),
            gt_path: "user_data/test/y".into(),
            overlap: vec![0.0, 0.0],
            padding: vec![0, 0],
            median_padding: false,
            resolution: vec![-1.0],
            roi_mask: RoiMask::default(),
            filter_samples: FilterSamples::default(),
            input_img_axes_order: "TZCYX".into(),
            input_mask_axes_order: "TZCYX".into(),
            input_zarr_multiple_data: false,
            input_zarr_multiple_data_raw_path: String::new(),
            input_zarr_multiple_data_gt_path: String::new(),
            argmax_to_output: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillMode {
    Constant,
    Nearest,
    Reflect,
    Wrap,
    Symmetric,
}

/// `AUGMENTOR`: every switch, its probability and its parameters (spec §9.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Augmentor {
    pub enable: bool,
    pub aug_samples: bool,
    pub draw_grid: bool,
    pub aug_num_samples: usize,
    pub shuffle_train_data_each_epoch: bool,
    pub shuffle_val_data_each_epoch: bool,
    pub affine_mode: FillMode,
    pub rot90: bool,
    pub rot90_prob: f64,
    pub random_rot: bool,
    pub random_rot_range: [f64; 2],
    pub random_rot_prob: f64,
    pub zoom: bool,
    pub zoom_range: [f64; 2],
    pub zoom_in_z: bool,
    pub zoom_prob: f64,
    pub shear: bool,
    pub shear_range: [i64; 2],
    pub shear_prob: f64,
    pub shift: bool,
    pub shift_range: [f64; 2],
    pub shift_prob: f64,
    pub vflip: bool,
    pub vflip_prob: f64,
    pub hflip: bool,
    pub hflip_prob: f64,
    pub zflip: bool,
    pub zflip_prob: f64,
    pub elastic: bool,
    pub e_alpha: [f64; 2],
    pub e_sigma: f64,
    pub e_mode: FillMode,
    pub elastic_prob: f64,
    pub g_blur: bool,
    pub g_sigma: [f64; 2],
    pub g_blur_prob: f64,
    pub median_blur: bool,
    pub mb_kernel: [i64; 2],
    pub median_blur_prob: f64,
    pub motion_blur: bool,
    pub motb_k_range: [i64; 2],
    pub motion_blur_prob: f64,
    pub gamma_contrast: bool,
    pub gc_gamma: [f64; 2],
    pub gamma_contrast_prob: f64,
    pub brightness: bool,
    pub brightness_factor: [f64; 2],
    pub brightness_prob: f64,
    pub contrast: bool,
    pub contrast_factor: [f64; 2],
    pub contrast_prob: f64,
    pub dropout: bool,
    pub drop_range: [f64; 2],
    pub dropout_prob: f64,
    pub cutout: bool,
    pub cout_nb_iterations: [i64; 2],
    pub cout_size: [f64; 2],
    pub cout_cval: f64,
    pub cout_apply_to_mask: bool,
    pub cutout_prob: f64,
    pub cutblur: bool,
    pub cblur_size: [f64; 2],
    pub cblur_down_range: [f64; 2],
    pub cblur_inside: bool,
    pub cutblur_prob: f64,
    pub cutmix: bool,
    pub cmix_size: [f64; 2],
    pub cutmix_prob: f64,
    pub cutnoise: bool,
    pub cnoise_scale: [f64; 2],
    pub cnoise_nb_iterations: [i64; 2],
    pub cnoise_size: [f64; 2],
    pub cutnoise_prob: f64,
    pub misalignment: bool,
    pub ms_displacement: i64,
    pub ms_rotate_ratio: f64,
    pub misalignment_prob: f64,
    pub missing_sections: bool,
    pub missp_channel_pb: f64,
    pub missp_iterations: [i64; 2],
    pub missing_sections_prob: f64,
    pub grayscale: bool,
    pub grayscale_prob: f64,
    pub channel_shuffle: bool,
    pub channel_shuffle_prob: f64,
    pub gridmask: bool,
    pub grid_ratio: f64,
    pub grid_d_range: [f64; 2],
    pub grid_rotate: f64,
    pub grid_invert: bool,
    pub gridmask_prob: f64,
    pub gaussian_noise: bool,
    pub gaussian_noise_mean: f64,
    pub gaussian_noise_var: f64,
    pub gaussian_noise_use_input_img_mean_and_var: bool,
    pub gaussian_noise_prob: f64,
    pub poisson_noise: bool,
    pub poisson_noise_prob: f64,
    pub salt: bool,
    pub salt_amount: f64,
    pub salt_prob: f64,
    pub pepper: bool,
    pub pepper_amount: f64,
    pub pepper_prob: f64,
    pub salt_and_pepper: bool,
    pub salt_and_pepper_amount: f64,
    pub salt_and_pepper_prop: f64,
    pub salt_and_pepper_prob: f64,
}

impl Default for Augmentor {
    fn default() -> Self {
        let p = 0.5;
        Self {
            enable: false,
            aug_samples: true,
            draw_grid: true,
            aug_num_samples: 10,
            shuffle_train_data_each_epoch: true,
            shuffle_val_data_each_epoch: false,
            affine_mode: FillMode::Reflect,
            rot90: false,
            rot90_prob: p,
            random_rot: false,
            random_rot_range: [-180.0, 180.0],
            random_rot_prob: p,
            zoom: false,
            zoom_range: [0.5, 1.5],
            zoom_in_z: false,
            zoom_prob: p,
            shear: false,
            shear_range: [-20, 20],
            shear_prob: p,
            shift: false,
            shift_range: [0.1, 0.2],
            shift_prob: p,
            vflip: false,
            vflip_prob: p,
            hflip: false,
            hflip_prob: p,
            zflip: false,
            zflip_prob: p,
            elastic: false,
            e_alpha: [12.0, 16.0],
            e_sigma: 4.0,
            e_mode: FillMode::Constant,
            elastic_prob: p,
            g_blur: false,
            g_sigma: [1.0, 2.0],
            g_blur_prob: p,
            median_blur: false,
            mb_kernel: [3, 7],
            median_blur_prob: p,
            motion_blur: false,
            motb_k_range: [8, 12],
            motion_blur_prob: p,
            gamma_contrast: false,
            gc_gamma: [1.25, 1.75],
            gamma_contrast_prob: p,
            brightness: false,
            brightness_factor: [-0.1, 0.1],
            brightness_prob: p,
            contrast: false,
            contrast_factor: [-0.1, 0.1],
            contrast_prob: p,
            dropout: false,
            drop_range: [0.0, 0.2],
            dropout_prob: p,
            cutout: false,
            cout_nb_iterations: [1, 3],
            cout_size: [0.05, 0.3],
            cout_cval: 0.0,
            cout_apply_to_mask: false,
            cutout_prob: p,
            cutblur: false,
            cblur_size: [0.2, 0.4],
            cblur_down_range: [2.0, 8.0],
            cblur_inside: true,
            cutblur_prob: p,
            cutmix: false,
            cmix_size: [0.2, 0.4],
            cutmix_prob: p,
            cutnoise: false,
            cnoise_scale: [0.05, 0.1],
            cnoise_nb_iterations: [1, 3],
            cnoise_size: [0.2, 0.4],
            cutnoise_prob: p,
            misalignment: false,
            ms_displacement: 16,
            ms_rotate_ratio: 0.5,
            misalignment_prob: p,
            missing_sections: false,
            missp_channel_pb: 0.5,
            missp_iterations: [10, 30],
            missing_sections_prob: p,
            grayscale: false,
            grayscale_prob: p,
            channel_shuffle: false,
            channel_shuffle_prob: p,
            gridmask: false,
            grid_ratio: 0.6,
            grid_d_range: [0.4, 1.0],
            grid_rotate: 1.0,
            grid_invert: false,
            gridmask_prob: p,
            gaussian_noise: false,
            gaussian_noise_mean: 0.0,
            gaussian_noise_var: 0.05,
            gaussian_noise_use_input_img_mean_and_var: false,
            gaussian_noise_prob: p,
            poisson_noise: false,
            poisson_noise_prob: p,
            salt: false,
            salt_amount: 0.05,
            salt_prob: p,
            pepper: false,
            pepper_amount: 0.05,
            pepper_prob: p,
            salt_and_pepper: false,
            salt_and_pepper_amount: 0.05,
            salt_and_pepper_prop: 0.5,
            salt_and_pepper_prob: p,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormLayer {
    In,
    Bn,
    SyncBn,
    Gn,
    Ln,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpsampleLayer {
    Convtranspose,
    Upsampling,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    Tanh,
    LeakyRelu,
    Elu,
    Gelu,
    Silu,
    Sigmoid,
    Softmax,
    Linear,
    Softplus,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvBlockOrder {
    ConvNormAct,
    NormActConv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointFormat {
    Pth,
    Safetensors,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointEpoch {
    BestOnVal,
    LastOnTrain,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Model {
    pub source: String,
    pub architecture: String,
    pub feature_maps: Vec<usize>,
    pub dropout_values: Vec<f64>,
    pub normalization: NormLayer,
    pub kernel_size: usize,
    pub upsample_layer: UpsampleLayer,
    pub activation: Activation,
    pub z_down: Vec<usize>,
    pub yx_down: Vec<usize>,
    pub isotropy: Vec<bool>,
    pub larger_io: bool,
    pub conv_layers: Vec<usize>,
    pub conv_block_order: ConvBlockOrder,
    pub load_checkpoint: bool,
    pub items_to_load_from_checkpoint: Vec<String>,
    pub load_checkpoint_epoch: CheckpointEpoch,
    pub out_checkpoint_format: CheckpointFormat,
    pub skip_unmatched_layers: bool,
    pub save_ckpt_freq: i64,
    pub freeze_layers_matching: Vec<String>,
    pub torchvision_model_name: String,
    pub bmz: Bmz,
    /// `MODEL.CONVNEXT_SD_PROB`: the deepest ConvNeXt block's stochastic-depth probability
    /// (`unext_v1`, `unext_v2`).
    pub convnext_sd_prob: f64,
    /// `MODEL.CONVNEXT_LAYER_SCALE`: the initial layer scale of `unext_v1`'s blocks (none when ≤ 0).
    pub convnext_layer_scale: f64,
    /// `MODEL.CONVNEXT_STEM_K_SIZE`: kernel and stride of the `unext_*` stem.
    pub convnext_stem_k_size: usize,
    pub stunet: Stunet,
    /// `MODEL.UNETR_VIT_MODEL`: `custom` (the `VIT_*` keys), `vit_base_patch16`,
    /// `vit_large_patch16` (BiaPy's presets); `vit_huge_patch14` and `sam3_vit` are refused.
    pub unetr_vit_model: String,
    /// `MODEL.UNETR_VIT_HIDD_MULT`: a skip every this many transformer blocks (≤ 0: BiaPy's
    /// automatic spacing).
    pub unetr_vit_hidd_mult: i64,
    /// `MODEL.UNETR_VIT_NUM_FILTERS`: the decoder's first width.
    pub unetr_vit_num_filters: usize,
    pub vit_token_size: usize,
    pub vit_embed_dim: usize,
    pub vit_num_layers: usize,
    pub vit_num_heads: usize,
    pub vit_mlp_ratio: f64,
    pub hrnet: Hrnet,
}

/// `MODEL.HRNET` (BiaPy's keys and defaults; a YAML file naming `hrnet` without a `VARIANT`
/// gets `W18`, as BiaPy's converter writes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Hrnet {
    /// `W18`, `W32`, `W48`, `W64` or `custom`.
    pub variant: String,
    pub z_down: Vec<usize>,
    pub yx_down: Vec<usize>,
    pub block_type: String,
    /// `FCN`, `ASPP`, `PSP` or `OCR`.
    pub head_type: String,
    pub num_stages: usize,
    pub num_modules: Vec<usize>,
    pub num_branches: Vec<usize>,
    pub num_blocks: Vec<Vec<usize>>,
    pub num_channels: Vec<Vec<usize>>,
}

impl Default for Hrnet {
    fn default() -> Self {
        Self {
            variant: "W48".into(),
            z_down: vec![0; 3],
            yx_down: vec![0; 3],
            block_type: "BASIC".into(),
            head_type: "FCN".into(),
            num_stages: 3,
            num_modules: vec![1, 4, 3],
            num_branches: vec![2, 3, 4],
            num_blocks: vec![vec![4, 4], vec![4, 4, 4], vec![4, 4, 4, 4]],
            num_channels: vec![vec![18, 36], vec![18, 36, 72], vec![18, 36, 72, 144]],
        }
    }
}

impl Model {
    /// `FREEZE_LAYERS_MATCHING` compiled; an error names the entry (BiaPy check #9). Rust's
    /// `regex` syntax, which is Python's `re` without look-around and back-references.
    pub fn freeze_patterns(&self) -> Result<Vec<regex::Regex>, String> {
        self.freeze_layers_matching
            .iter()
            .enumerate()
            .map(|(i, p)| {
                regex::Regex::new(p).map_err(|e| {
                    format!(
                        "entry {i} (`{p}`) is not a regular expression segsweep can use (Rust `regex` syntax: no \
                         look-around or back-references): {e}"
                    )
                })
            })
            .collect()
    }
}

impl Default for Model {
    fn default() -> Self {
        Self {
            source: "biapy".into(),
            architecture: "unet".into(),
            feature_maps: vec![16, 32, 64, 128, 256],
            dropout_values: vec![0.0; 5],
            normalization: NormLayer::In,
            kernel_size: 3,
            upsample_layer: UpsampleLayer::Convtranspose,
            activation: Activation::Elu,
            z_down: vec![0; 4],
            yx_down: vec![0; 4],
            isotropy: vec![true; 5],
            larger_io: false,
            conv_layers: vec![2; 5],
            conv_block_order: ConvBlockOrder::ConvNormAct,
            load_checkpoint: false,
            items_to_load_from_checkpoint: vec!["weights".into(), "norm".into(), "model_arch".into()],
            load_checkpoint_epoch: CheckpointEpoch::BestOnVal,
            // D9: segsweep writes safetensors with BiaPy's state-dict names by default.
            out_checkpoint_format: CheckpointFormat::Safetensors,
            skip_unmatched_layers: false,
            save_ckpt_freq: -1,
            freeze_layers_matching: Vec::new(),
            torchvision_model_name: String::new(),
            bmz: Bmz::default(),
            convnext_sd_prob: 0.1,
            convnext_layer_scale: 1e-6,
            convnext_stem_k_size: 2,
            stunet: Stunet::default(),
            unetr_vit_model: "custom".into(),
            unetr_vit_hidd_mult: -1,
            unetr_vit_num_filters: 16,
            vit_token_size: 16,
            vit_embed_dim: 768,
            vit_num_layers: 12,
            vit_num_heads: 12,
            vit_mlp_ratio: 4.0,
            hrnet: Hrnet::default(),
        }
    }
}

/// `MODEL.STUNET`: which STU-Net to build. `DEPTH`, `DIMS`, `POOL_OP_KERNEL_SIZES` and
/// `CONV_KERNEL_SIZES` are read only with `VARIANT: custom` (BiaPy's defaults, `(z, y, x)`
/// entries; 2D takes two values per entry).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Stunet {
    pub variant: StunetVariant,
    /// BiaPy downloads OrgMIM encoder weights from Hugging Face; segsweep downloads nothing.
    pub pretrained: bool,
    pub depth: Vec<usize>,
    pub dims: Vec<usize>,
    pub pool_op_kernel_sizes: Vec<Vec<usize>>,
    pub conv_kernel_sizes: Vec<Vec<usize>>,
}

impl Default for Stunet {
    fn default() -> Self {
        Self {
            variant: StunetVariant::Base,
            pretrained: false,
            depth: vec![1; 6],
            dims: vec![32, 64, 128, 256, 512, 512],
            pool_op_kernel_sizes: [vec![vec![2; 3]; 4], vec![vec![1; 3]]].concat(),
            conv_kernel_sizes: vec![vec![3; 3]; 6],
        }
    }
}

/// `MODEL.STUNET.VARIANT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StunetVariant {
    Small,
    Base,
    Large,
    Custom,
}

/// `MODEL.BMZ`: a BioImage Model Zoo package to run (`MODEL.SOURCE: bmz`) and the metadata of
/// the package a run or `segsweep export --bmz` writes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Bmz {
    /// BiaPy: a model's DOI or nickname on bioimage.io; segsweep: the path of a package (`.zip`
    /// or folder with `rdf.yaml`) — nothing is downloaded.
    pub source_model_id: String,
    pub export: BmzExport,
}

/// `MODEL.BMZ.EXPORT` (BiaPy's keys and defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct BmzExport {
    pub enable: bool,
    pub model_name: String,
    pub description: String,
    pub authors: Vec<BmzAuthor>,
    pub license: String,
    /// A Markdown file; empty: segsweep writes one from the config and the results.
    pub documentation: String,
    pub tags: Vec<String>,
    pub cite: Vec<BmzCite>,
    /// One dict with `name`, `doi`, `image_modality` (and optionally `dataset_id`).
    pub dataset_info: Vec<BTreeMap<String, String>>,
    pub model_version: String,
    pub reuse_bmz_config: bool,
}

impl Default for BmzExport {
    fn default() -> Self {
        Self {
            enable: false,
            model_name: String::new(),
            description: String::new(),
            authors: Vec::new(),
            license: "CC-BY-4.0".into(),
            documentation: String::new(),
            tags: Vec::new(),
            cite: Vec::new(),
            dataset_info: vec![BTreeMap::new()],
            model_version: "0.1.0".into(),
            reuse_bmz_config: false,
        }
    }
}

/// An author of an exported model (BiaPy requires `name` and `github_user`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BmzAuthor {
    pub name: String,
    pub github_user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orcid: Option<String>,
}

/// A citation: `text` and a `doi` or `url`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BmzCite {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassRebalance {
    None,
    Manual,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct LossContrast {
    pub enable: bool,
    pub memory_size: i64,
    pub proj_dim: i64,
    pub pixel_upd_freq: i64,
}

impl Default for LossContrast {
    fn default() -> Self {
        Self { enable: false, memory_size: 5000, proj_dim: 256, pixel_upd_freq: 10 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Loss {
    /// Upper-cased names; empty resolves to `["CE"]`.
    pub r#type: Vec<String>,
    pub weights: Vec<f64>,
    pub class_rebalance: ClassRebalance,
    pub class_weights: Vec<f64>,
    pub ignore_index: i64,
    pub contrast: LossContrast,
}

impl Default for Loss {
    fn default() -> Self {
        Self {
            r#type: Vec::new(),
            weights: Vec::new(),
            class_rebalance: ClassRebalance::None,
            class_weights: Vec::new(),
            ignore_index: -1,
            contrast: LossContrast::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Optimizer {
    #[serde(rename = "SGD")]
    Sgd,
    #[serde(rename = "ADAM")]
    Adam,
    #[serde(rename = "ADAMW")]
    AdamW,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerName {
    #[serde(rename = "")]
    None,
    Reduceonplateau,
    Warmupcosine,
    Onecycle,
    Warmupreduceonplateau,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct LrScheduler {
    pub name: SchedulerName,
    pub min_lr: Vec<f64>,
    pub reduceonplateau_factor: f64,
    pub reduceonplateau_patience: i64,
    pub warmup_cosine_decay_epochs: i64,
    pub cosine_decay_fraction: f64,
}

impl Default for LrScheduler {
    fn default() -> Self {
        Self {
            name: SchedulerName::None,
            min_lr: vec![-1.0],
            reduceonplateau_factor: 0.5,
            reduceonplateau_patience: -1,
            warmup_cosine_decay_epochs: -1,
            cosine_decay_fraction: -1.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Train {
    pub enable: bool,
    pub optimizer: Vec<Optimizer>,
    pub lr: Vec<f64>,
    pub w_decay: f64,
    pub opt_betas: Vec<Vec<f64>>,
    pub batch_size: usize,
    pub epochs: usize,
    pub patience: i64,
    pub gradient_clip_norm: f64,
    pub verbose: bool,
    pub metrics: Vec<String>,
    /// Dead in BiaPy 3.7.1: the best model is always the lowest validation loss (spec §1.5).
    pub checkpoint_monitor: String,
    pub save_train_preds_freq: i64,
    pub save_train_preds_num_samples: i64,
    pub save_train_preds_show: bool,
    pub lr_scheduler: LrScheduler,
}

impl Default for Train {
    fn default() -> Self {
        Self {
            enable: false,
            optimizer: vec![Optimizer::Sgd],
            lr: vec![1.0e-4],
            w_decay: 0.02,
            opt_betas: vec![vec![0.9, 0.999]],
            batch_size: 2,
            epochs: 360,
            patience: -1,
            gradient_clip_norm: 0.0,
            verbose: false,
            metrics: Vec::new(),
            checkpoint_monitor: "val_loss".into(),
            save_train_preds_freq: -1,
            save_train_preds_num_samples: 1,
            save_train_preds_show: false,
            lr_scheduler: LrScheduler::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TtaMode {
    Mean,
    Min,
    Max,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TtaGroup {
    Auto,
    Full,
    Flips,
    None,
}

/// D7: how overlapping patch predictions are blended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Blend {
    Spline,
    Mean,
    Gaussian,
}

/// D5: IoU of an empty truth against an empty prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmptyIou {
    Zero,
    Skip,
    One,
}

/// D4: `TEST.BINARIZATION`, a threshold in (0, 1) or `otsu`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Binarization {
    Threshold(f64),
    Otsu,
}

impl Serialize for Binarization {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Binarization::Threshold(t) => s.serialize_f64(*t),
            Binarization::Otsu => s.serialize_str("otsu"),
        }
    }
}

impl<'de> Deserialize<'de> for Binarization {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Number(f64),
            Text(String),
        }
        match Repr::deserialize(d) {
            Ok(Repr::Number(t)) => Ok(Binarization::Threshold(t)),
            Ok(Repr::Text(s)) if s.eq_ignore_ascii_case("otsu") => Ok(Binarization::Otsu),
            _ => Err(serde::de::Error::custom("expected a number in (0, 1) or `otsu`")),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct WorkflowProcess {
    pub enable: bool,
    pub r#type: String,
    pub patches_per_tile: Vec<usize>,
}

impl Default for WorkflowProcess {
    fn default() -> Self {
        Self { enable: true, r#type: "chunk_by_chunk".into(), patches_per_tile: vec![1, 1, 1] }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct ByChunks {
    pub enable: bool,
    /// segsweep's: the outputs' format, `tif` (default) or `zarr` (BiaPy's; `SAVE_OUT_TIF` adds
    /// a TIFF copy).
    pub format: String,
    pub save_out_tif: bool,
    pub flush_each: i64,
    pub z_start: i64,
    pub z_end: i64,
    pub write_raw_predictions: bool,
    pub phases: Vec<String>,
    pub workflow_process: WorkflowProcess,
}

impl Default for ByChunks {
    fn default() -> Self {
        Self {
            enable: false,
            format: "tif".into(),
            save_out_tif: false,
            flush_each: 100,
            z_start: -1,
            z_end: -1,
            write_raw_predictions: false,
            phases: vec!["prediction".into(), "instance_creation".into(), "instance_merging".into()],
            workflow_process: WorkflowProcess::default(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct PostProcessing {
    pub median_filter: bool,
    pub median_filter_axis: Vec<String>,
    pub median_filter_size: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Test {
    pub enable: bool,
    pub reduce_memory: bool,
    pub metrics_in_cpu: bool,
    pub save_model_raw_output: bool,
    pub verbose: bool,
    pub reuse_predictions: bool,
    pub eval_border_crop: Vec<i64>,
    pub augmentation: bool,
    pub augmentation_mode: TtaMode,
    pub augmentation_group: TtaGroup,
    pub full_img: bool,
    pub analize_2d_imgs_as_3d_stack: bool,
    pub metrics: Vec<String>,
    pub by_chunks: ByChunks,
    pub post_processing: PostProcessing,
    /// D4.
    pub binarization: Binarization,
    /// D5.
    pub empty_iou: EmptyIou,
    /// D7.
    pub blend: Blend,
}

impl Default for Test {
    fn default() -> Self {
        Self {
            enable: false,
            reduce_memory: false,
            metrics_in_cpu: false,
            save_model_raw_output: true,
            verbose: true,
            reuse_predictions: false,
            eval_border_crop: Vec::new(),
            augmentation: false,
            augmentation_mode: TtaMode::Mean,
            augmentation_group: TtaGroup::Auto,
            full_img: false,
            analize_2d_imgs_as_3d_stack: false,
            metrics: Vec::new(),
            by_chunks: ByChunks::default(),
            post_processing: PostProcessing::default(),
            binarization: Binarization::Threshold(0.5),
            empty_iou: EmptyIou::Zero,
            blend: Blend::Spline,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Paths {
    /// Checkpoint to load with `MODEL.LOAD_CHECKPOINT`; empty = the run's best checkpoint.
    pub checkpoint_file: String,
    /// Where the probability maps of random-patch sampling go; empty = `results/<job>/prob_map`
    /// (inside the results tree, never next to the user's masks).
    pub prob_map_dir: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Log {
    pub chart_creation_freq: i64,
}

impl Default for Log {
    fn default() -> Self {
        Self { chart_creation_freq: 5 }
    }
}
