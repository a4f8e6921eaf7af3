//! Consistency checks on a resolved [`Config`]: BiaPy's `check_configuration` rules that
//! concern semantic segmentation (spec §1.7, numbered as there), plus segsweep's own rule that a
//! feature switched on but not implemented is an error, never silently ignored (D14).
//!
//! Pure: takes the config, returns the problems; reads no files (data folders are checked when
//! data are loaded, so a template with placeholder paths still passes `config check`).

mod by_chunks;
mod preprocess;

use std::collections::BTreeMap;

use super::axes::AxesOrder;
use super::error::{Origin, Problem};
use super::filter::FilterRules;
use super::schema::{Binarization, Config, Ndim, NormLayer, NormalizationType, ProblemType, SchedulerName};

/// Architectures BiaPy accepts for `SEMANTIC_SEG` (spec §1.7 #34); segsweep builds all twelve.
const SEMANTIC_ARCHITECTURES: &[&str] = &[
    "unet",
    "resunet",
    "resunet++",
    "seunet",
    "attention_unet",
    "resunet_se",
    "unetr",
    "multiresunet",
    "unext_v1",
    "unext_v2",
    "hrnet",
    "stunet",
];

/// Collects problems, naming where each key was set.
struct Checker<'a> {
    origins: &'a BTreeMap<String, Origin>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn fail(&mut self, key: &str, message: impl Into<String>) {
        let origin = self.origins.get(key).cloned().unwrap_or(Origin::Default);
        self.problems.push(Problem::new(key, &origin, message));
    }

    fn require(&mut self, ok: bool, key: &str, message: impl Into<String>) {
        if !ok {
            self.fail(key, message);
        }
    }

    fn not_implemented(&mut self, key: &str, message: impl Into<String>) {
        let origin = self.origins.get(key).cloned().unwrap_or(Origin::Default);
        self.problems.push(Problem::unsupported(key, &origin, message));
    }
}

/// Every consistency problem of `config`.
pub fn check(config: &Config, origins: &BTreeMap<String, Origin>) -> Vec<Problem> {
    let mut c = Checker { origins, problems: Vec::new() };
    check_general(config, &mut c);
    check_loss(config, &mut c);
    check_data(config, &mut c);
    check_model(config, &mut c);
    check_train(config, &mut c);
    check_augmentation(config, &mut c);
    check_test(config, &mut c);
    c.problems
}

fn check_general(config: &Config, c: &mut Checker) {
    c.require(
        config.problem.r#type == ProblemType::SemanticSeg,
        "PROBLEM.TYPE",
        "segsweep runs the SEMANTIC_SEG workflow only",
    );
    c.require(
        config.train.enable || config.test.enable,
        "TRAIN.ENABLE",
        "neither `TRAIN.ENABLE` nor `TEST.ENABLE` is set: nothing to do",
    );
    match config.model.source.as_str() {
        "biapy" => {}
        "bmz" => {
            c.require(
                !config.model.bmz.source_model_id.is_empty(),
                "MODEL.BMZ.SOURCE_MODEL_ID",
                "`MODEL.SOURCE: bmz` needs the package: the path of a bioimage.io model `.zip` or of a folder with its `rdf.yaml`",
            );
            let id = &config.model.bmz.source_model_id;
            let nickname = id.split('-').count() == 2 && id.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-');
            if id.starts_with("10.") || id.starts_with("http") || nickname {
                c.not_implemented(
                    "MODEL.BMZ.SOURCE_MODEL_ID",
                    format!("`{id}` is a bioimage.io id, and segsweep downloads nothing: download the package and give its path"),
                );
            }
            if config.train.enable {
                c.not_implemented("MODEL.SOURCE", "training (fine-tuning) a BioImage Model Zoo model is not supported yet; test it with `TRAIN.ENABLE: False`");
            }
        }
        "torchvision" => c.not_implemented("MODEL.SOURCE", "`torchvision` models are not supported by segsweep yet"),
        other => c.fail("MODEL.SOURCE", format!("expected one of `biapy`, `bmz`, `torchvision`, found `{other}`")),
    }
    c.require(
        !config.model.bmz.export.reuse_bmz_config || config.model.source == "bmz",
        "MODEL.BMZ.EXPORT.REUSE_BMZ_CONFIG",
        "reuses the metadata of the package the model came from, so it needs `MODEL.SOURCE: bmz`",
    );
    // BiaPy rule #11 concerns its own models; a BMZ or torchvision model comes trained.
    let tests_untrained =
        config.model.source == "biapy" && !config.model.load_checkpoint && !config.train.enable && config.test.enable;
    c.require(
        !tests_untrained,
        "MODEL.LOAD_CHECKPOINT",
        "testing without training needs a checkpoint: set `MODEL.LOAD_CHECKPOINT: True` or `TRAIN.ENABLE: True`",
    );
    for item in &config.model.items_to_load_from_checkpoint {
        let ok = ["weights", "norm", "model_arch", "optimizer", "epoch"].contains(&item.as_str());
        c.require(
            ok,
            "MODEL.ITEMS_TO_LOAD_FROM_CHECKPOINT",
            format!("`{item}` is not one of `weights`, `norm`, `model_arch`, `optimizer`, `epoch`"),
        );
    }
    let items = &config.model.items_to_load_from_checkpoint;
    for item in ["optimizer", "epoch"] {
        c.require(
            !(config.model.load_checkpoint && config.train.enable && items.iter().any(|i| i == item)),
            "MODEL.ITEMS_TO_LOAD_FROM_CHECKPOINT",
            format!(
                "`{item}` is not loaded by segsweep: burn's optimiser state is not PyTorch's, and a fine-tuning \
                 starts at epoch 1 (a killed segsweep training resumes by itself); remove `{item}`"
            ),
        );
    }
    if let Err(message) = config.model.freeze_patterns() {
        c.fail("MODEL.FREEZE_LAYERS_MATCHING", message);
    }
}

fn check_loss(config: &Config, c: &mut Checker) {
    let loss = &config.loss;
    let n_classes = config.data.n_classes;
    for key in ["TRAIN.METRICS", "TEST.METRICS"] {
        let metrics = if key == "TRAIN.METRICS" { &config.train.metrics } else { &config.test.metrics };
        c.require(metrics.iter().all(|m| m == "iou"), key, "semantic segmentation has one metric: `iou`");
    }
    c.require(
        loss.r#type.len() == loss.weights.len(),
        "LOSS.WEIGHTS",
        format!("has {} entries but `LOSS.TYPE` has {}", loss.weights.len(), loss.r#type.len()),
    );
    let mut names: Vec<&str> = loss.r#type.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    c.require(
        matches!(names.as_slice(), ["CE"] | ["DICE"] | ["CE", "DICE"]),
        "LOSS.TYPE",
        "expected `CE`, `DICE` or both",
    );
    c.require(n_classes <= 2 || names.contains(&"CE"), "LOSS.TYPE", "more than 2 classes need `CE` in the loss");
    c.require(
        loss.ignore_index == -1 || (0..=255).contains(&loss.ignore_index),
        "LOSS.IGNORE_INDEX",
        "expected -1 (off) or a value in [0, 255]",
    );
    let weights_given = !loss.class_weights.is_empty();
    c.require(
        !weights_given || loss.class_weights.len() == n_classes,
        "LOSS.CLASS_WEIGHTS",
        format!("expected {n_classes} weights (one per class, `DATA.N_CLASSES`), found {}", loss.class_weights.len()),
    );
    let manual = loss.class_rebalance == super::schema::ClassRebalance::Manual;
    c.require(!manual || weights_given, "LOSS.CLASS_REBALANCE", "`manual` needs `LOSS.CLASS_WEIGHTS`");
    if loss.contrast.enable {
        let contrast = &loss.contrast;
        for (key, value) in [
            ("LOSS.CONTRAST.MEMORY_SIZE", contrast.memory_size),
            ("LOSS.CONTRAST.PROJ_DIM", contrast.proj_dim),
            ("LOSS.CONTRAST.PIXEL_UPD_FREQ", contrast.pixel_upd_freq),
        ] {
            c.require(value > 0, key, format!("{value}: expected a positive number (as BiaPy checks)"));
        }
        c.require(
            config.model.architecture != "stunet",
            "LOSS.CONTRAST.ENABLE",
            "BiaPy builds no contrastive heads for `stunet` (and refuses the pair)",
        );
    }
}

fn check_data(config: &Config, c: &mut Checker) {
    let data = &config.data;
    let n_axes = config.problem.ndim.n_axes();
    c.require(data.n_classes >= 2, "DATA.N_CLASSES", "expected at least 2 (the background counts as a class)");
    c.require(
        data.patch_size.len() == n_axes + 1,
        "DATA.PATCH_SIZE",
        format!(
            "expected {} entries for {} data ({}), found {:?}",
            n_axes + 1,
            ndim_name(config.problem.ndim),
            if n_axes == 2 { "y, x, channels" } else { "z, y, x, channels" },
            data.patch_size
        ),
    );
    c.require(data.patch_size.iter().all(|&s| s > 0), "DATA.PATCH_SIZE", "every entry must be positive");
    let val = &data.val;
    if val.from_train && !val.cross_val {
        c.require(
            val.split_train > 0.0 && val.split_train < 1.0,
            "DATA.VAL.SPLIT_TRAIN",
            format!("expected a fraction in (0, 1), found {}", val.split_train),
        );
    }
    if val.cross_val {
        c.require(
            val.from_train,
            "DATA.VAL.CROSS_VAL",
            "needs `DATA.VAL.FROM_TRAIN: True` (the folds are cut from the training data)",
        );
        c.require(
            val.cross_val_nfold >= 2,
            "DATA.VAL.CROSS_VAL_NFOLD",
            format!("expected at least 2 folds, found {}", val.cross_val_nfold),
        );
        c.require(
            (1..=val.cross_val_nfold).contains(&val.cross_val_fold),
            "DATA.VAL.CROSS_VAL_FOLD",
            format!(
                "expected a fold in 1..={} (`DATA.VAL.CROSS_VAL_NFOLD`), found {}",
                val.cross_val_nfold, val.cross_val_fold
            ),
        );
    }
    c.require(!data.test.use_val_as_test || val.cross_val, "DATA.TEST.USE_VAL_AS_TEST", "needs `DATA.VAL.CROSS_VAL`");
    if data.test.use_val_as_test {
        // The test phase picks the fold from the training folder as listed; a filter would change
        // which images the training's folds are cut from.
        c.require(
            !data.train.filter_samples.enable && !val.filter_samples.enable,
            "DATA.TEST.USE_VAL_AS_TEST",
            "cannot be combined with `DATA.TRAIN.FILTER_SAMPLES` or `DATA.VAL.FILTER_SAMPLES` (they change the folds' images)",
        );
    }
    for (split, overlap, padding, resolution) in [
        ("TRAIN", &data.train.overlap, &data.train.padding, &data.train.resolution),
        ("VAL", &val.overlap, &val.padding, &val.resolution),
        ("TEST", &data.test.overlap, &data.test.padding, &data.test.resolution),
    ] {
        let key = |k: &str| format!("DATA.{split}.{k}");
        c.require(overlap.len() == n_axes, &key("OVERLAP"), format!("expected {n_axes} values, found {overlap:?}"));
        c.require(
            overlap.iter().all(|&o| (0.0..1.0).contains(&o)),
            &key("OVERLAP"),
            format!("every value must be in [0, 1), found {overlap:?}"),
        );
        c.require(padding.len() == n_axes, &key("PADDING"), format!("expected {n_axes} values, found {padding:?}"));
        c.require(
            resolution.len() == n_axes || resolution.len() == 1,
            &key("RESOLUTION"),
            format!("expected {n_axes} values, found {resolution:?}"),
        );
        if data.patch_size.len() == n_axes + 1 && padding.len() == n_axes {
            let too_big = padding.iter().zip(&data.patch_size).any(|(&p, &s)| p >= s / 2 && p > 0);
            c.require(
                !too_big,
                &key("PADDING"),
                format!("{padding:?} must be smaller than half of `DATA.PATCH_SIZE` {:?}", &data.patch_size[..n_axes]),
            );
        }
    }
    if config.problem.ndim == Ndim::D2 {
        for (key, order) in [
            ("DATA.TRAIN.INPUT_IMG_AXES_ORDER", &data.train.input_img_axes_order),
            ("DATA.TRAIN.INPUT_MASK_AXES_ORDER", &data.train.input_mask_axes_order),
            ("DATA.VAL.INPUT_IMG_AXES_ORDER", &val.input_img_axes_order),
            ("DATA.VAL.INPUT_MASK_AXES_ORDER", &val.input_mask_axes_order),
        ] {
            c.require(order == "TZCYX", key, "must stay `TZCYX` for 2D data (Zarr/HDF5 inputs are 3D only)");
        }
    }
    check_normalization(config, c);
    let train = &data.train;
    c.require(
        !train.probability_map || train.extract_random_patch,
        "DATA.TRAIN.PROBABILITY_MAP",
        "only works with `DATA.TRAIN.EXTRACT_RANDOM_PATCH: True`",
    );
    c.require(
        train.w_foreground >= 0.0 && train.w_background >= 0.0,
        "DATA.TRAIN.W_FOREGROUND",
        "the foreground and background weights must not be negative",
    );
    check_filters(config, c);
    let roi = &data.test.roi_mask;
    if roi.enable {
        c.require(!roi.path.is_empty(), "DATA.TEST.ROI_MASK.PATH", "needs a mask file or folder when `ENABLE` is True");
        c.require(
            !config.test.by_chunks.enable,
            "DATA.TEST.ROI_MASK.ENABLE",
            "is not applied by `TEST.BY_CHUNKS` yet (BiaPy skips the chunks outside it); set one of them to False",
        );
    }
    c.require(
        !(data.force_rgb && config.test.by_chunks.enable),
        "DATA.FORCE_RGB",
        "is not applied to volumes predicted by chunks (`TEST.BY_CHUNKS`): store them with three channels",
    );
    preprocess::check(config, c);
    check_arrays(config, c);
    if data.resolution_norm.enable {
        // BiaPy's own assertion: a (z, y, x) target with positive y and x (only x is read).
        let target = &data.resolution_norm.target_resolution;
        c.require(
            target.len() == 3 && target[1..].iter().all(|&v| v > 0.0),
            "DATA.RESOLUTION_NORM.TARGET_RESOLUTION",
            format!("expected a (z, y, x) resolution with positive y and x, found {target:?}"),
        );
    }
}

/// The Zarr/HDF5 keys (D17): axes orders that name Z, Y and X once, and with
/// `INPUT_ZARR_MULTIPLE_DATA` the two datasets to read (3D only, as BiaPy's Zarr inputs).
fn check_arrays(config: &Config, c: &mut Checker) {
    let (t, v, e) = (&config.data.train, &config.data.val, &config.data.test);
    if config.problem.ndim == Ndim::D3 {
        for (key, order) in [
            ("DATA.TRAIN.INPUT_IMG_AXES_ORDER", &t.input_img_axes_order),
            ("DATA.TRAIN.INPUT_MASK_AXES_ORDER", &t.input_mask_axes_order),
            ("DATA.VAL.INPUT_IMG_AXES_ORDER", &v.input_img_axes_order),
            ("DATA.VAL.INPUT_MASK_AXES_ORDER", &v.input_mask_axes_order),
            ("DATA.TEST.INPUT_IMG_AXES_ORDER", &e.input_img_axes_order),
            ("DATA.TEST.INPUT_MASK_AXES_ORDER", &e.input_mask_axes_order),
        ] {
            if let Err(message) = AxesOrder::parse(order) {
                c.fail(key, message);
            }
        }
    }
    for (split, on, raw, gt, masks) in [
        (
            "DATA.TRAIN",
            t.input_zarr_multiple_data,
            &t.input_zarr_multiple_data_raw_path,
            &t.input_zarr_multiple_data_gt_path,
            true,
        ),
        (
            "DATA.VAL",
            v.input_zarr_multiple_data,
            &v.input_zarr_multiple_data_raw_path,
            &v.input_zarr_multiple_data_gt_path,
            true,
        ),
        (
            "DATA.TEST",
            e.input_zarr_multiple_data,
            &e.input_zarr_multiple_data_raw_path,
            &e.input_zarr_multiple_data_gt_path,
            e.load_gt,
        ),
    ] {
        if !on {
            continue;
        }
        let key = format!("{split}.INPUT_ZARR_MULTIPLE_DATA");
        c.require(
            config.problem.ndim == Ndim::D3,
            &key,
            "Zarr/HDF5 inputs are 3D only (`PROBLEM.NDIM: 3D`), as in BiaPy",
        );
        let what = "names the image's dataset inside each container of the split's `PATH` (e.g. `volumes.raw`)";
        c.require(!raw.is_empty(), &format!("{key}_RAW_PATH"), format!("is empty: with `{key}: True` it {what}"));
        let what = "names the mask's dataset inside each container of the split's `PATH` (e.g. `volumes.labels`)";
        c.require(
            !masks || !gt.is_empty(),
            &format!("{key}_GT_PATH"),
            format!("is empty: with `{key}: True` it {what}"),
        );
    }
}

/// `DATA.{TRAIN,VAL,TEST}.FILTER_SAMPLES` (spec §3.9).
fn check_filters(config: &Config, c: &mut Checker) {
    let data = &config.data;
    for (key, filter) in [
        ("DATA.TRAIN.FILTER_SAMPLES", &data.train.filter_samples),
        ("DATA.VAL.FILTER_SAMPLES", &data.val.filter_samples),
        ("DATA.TEST.FILTER_SAMPLES", &data.test.filter_samples),
    ] {
        match FilterRules::from_config(filter, key) {
            Ok(None) => {}
            Ok(Some(rules)) => {
                if key == "DATA.TEST.FILTER_SAMPLES" {
                    c.require(
                        !rules.needs_mask() || data.test.with_gt(),
                        &format!("{key}.PROPS"),
                        "its mask properties (foreground, target_*, diff*) need the test masks: set `DATA.TEST.LOAD_GT: True`",
                    );
                    c.require(
                        !config.test.by_chunks.enable,
                        &format!("{key}.ENABLE"),
                        "filters whole test images; `TEST.BY_CHUNKS` predicts every chunk (turn one of them off)",
                    );
                }
            }
            Err(error) => c.fail(&error.key, error.message),
        }
    }
    c.require(
        !data.save_filtered_images || data.train.filter_samples.enable || data.val.filter_samples.enable,
        "DATA.SAVE_FILTERED_IMAGES",
        "writes examples of `DATA.TRAIN.FILTER_SAMPLES` / `DATA.VAL.FILTER_SAMPLES` (BiaPy saves none for the test \
         filter), and neither is on: nothing would be written",
    );
}

fn check_normalization(config: &Config, c: &mut Checker) {
    let norm = &config.data.normalization;
    let clip = &norm.perc_clip;
    if clip.enable && clip.lower_value.first() == Some(&-1.0) {
        let ok = clip.lower_perc > 0.0 && clip.upper_perc < 100.0 && clip.lower_perc < clip.upper_perc;
        c.require(
            ok,
            "DATA.NORMALIZATION.PERC_CLIP.LOWER_PERC",
            format!(
                "percentile clipping needs 0 < `LOWER_PERC` < `UPPER_PERC` < 100, found {} and {}",
                clip.lower_perc, clip.upper_perc
            ),
        );
    }
    if norm.r#type == NormalizationType::ZeroMeanUnitVariance {
        let aug = &config.augmentor;
        c.require(
            !(aug.enable && aug.gamma_contrast),
            "AUGMENTOR.GAMMA_CONTRAST",
            "cannot be used with `zero_mean_unit_variance` normalization",
        );
        c.require(
            !(aug.enable && aug.poisson_noise),
            "AUGMENTOR.POISSON_NOISE",
            "cannot be used with `zero_mean_unit_variance` normalization",
        );
    }
}

fn check_model(config: &Config, c: &mut Checker) {
    let model = &config.model;
    let arch = model.architecture.as_str();
    if !SEMANTIC_ARCHITECTURES.contains(&arch) {
        c.fail(
            "MODEL.ARCHITECTURE",
            format!(
                "`{arch}` is not a semantic segmentation architecture; expected one of {}",
                quoted(SEMANTIC_ARCHITECTURES)
            ),
        );
    }
    if arch == "stunet" {
        check_stunet(model, c);
    }
    let n_levels = model.feature_maps.len();
    c.require(n_levels > 2, "MODEL.FEATURE_MAPS", "expected more than 2 levels");
    if arch == "unetr" {
        // BiaPy: one value for the whole decoder (all zeros become `(0.0,)`).
        c.require(
            model.dropout_values.len() == 1 || model.dropout_values.iter().all(|&p| p == 0.0),
            "MODEL.DROPOUT_VALUES",
            format!("`unetr` takes one value, found {}", model.dropout_values.len()),
        );
        c.require(
            !config.test.full_img,
            "TEST.FULL_IMG",
            "`unetr` takes inputs of exactly `DATA.PATCH_SIZE` (its positional embedding has one entry per token of \
             the patch), so whole images cannot go through it, as in BiaPy",
        );
    } else {
        c.require(
            model.dropout_values.len() == n_levels,
            "MODEL.DROPOUT_VALUES",
            format!(
                "expected {n_levels} values (one per `MODEL.FEATURE_MAPS` level), found {}",
                model.dropout_values.len()
            ),
        );
    }
    c.require(
        model.dropout_values.iter().all(|p| (0.0..=1.0).contains(p)),
        "MODEL.DROPOUT_VALUES",
        "every value must be in [0, 1]",
    );
    for (key, downs) in [("MODEL.YX_DOWN", &model.yx_down), ("MODEL.Z_DOWN", &model.z_down)] {
        c.require(
            downs.len() + 1 == n_levels,
            key,
            format!("expected {} values (levels − 1), found {}", n_levels.saturating_sub(1), downs.len()),
        );
        c.require(downs.iter().all(|d| [1, 2].contains(d)), key, "every factor must be 1 or 2");
    }
    c.require(
        model.conv_layers.len() == n_levels,
        "MODEL.CONV_LAYERS",
        format!("expected {n_levels} values, found {}", model.conv_layers.len()),
    );
    c.require(
        model.conv_layers.iter().all(|&n| n >= 1),
        "MODEL.CONV_LAYERS",
        "every level needs at least one convolution",
    );
    c.require(
        model.isotropy.len() == n_levels,
        "MODEL.ISOTROPY",
        format!("expected {n_levels} values, found {}", model.isotropy.len()),
    );
    let fixed_norms = ["multiresunet", "stunet", "unext_v1", "unext_v2"].contains(&arch);
    c.require(
        fixed_norms || model.normalization != NormLayer::Ln,
        "MODEL.NORMALIZATION",
        "`ln` is not available in the U-Net family; use `in`, `bn`, `sync_bn` or `gn`",
    );
    c.require(model.kernel_size % 2 == 1, "MODEL.KERNEL_SIZE", "expected an odd kernel size");
    c.require(
        model.load_checkpoint_epoch == super::schema::CheckpointEpoch::BestOnVal,
        "MODEL.LOAD_CHECKPOINT_EPOCH",
        "only `best_on_val` is supported yet (set `PATHS.CHECKPOINT_FILE` to load a periodic checkpoint)",
    );
    check_patch_divisibility(config, c);
}

/// STU-Net's pretrained encoder: BiaPy downloads it from Hugging Face (spec architectures §8),
/// skipping the download when a checkpoint is loaded anyway; segsweep downloads nothing. The
/// topology keys are checked where the network is described (`ModelSpec::from_config`).
fn check_stunet(model: &super::schema::Model, c: &mut Checker) {
    let stunet = &model.stunet;
    if !stunet.pretrained {
        return;
    }
    if stunet.variant == super::schema::StunetVariant::Custom {
        c.fail("MODEL.STUNET.PRETRAINED", "the `custom` variant has no pretrained checkpoint (as BiaPy)");
    } else if !model.load_checkpoint {
        c.not_implemented(
            "MODEL.STUNET.PRETRAINED",
            "would download OrgMIM's encoder weights from Hugging Face, and segsweep downloads nothing at run time: set \
             it to False, or load weights you have with `MODEL.LOAD_CHECKPOINT` and `PATHS.CHECKPOINT_FILE`",
        );
    }
}

/// Spec §1.7 #40: every pooling level must divide the patch evenly.
fn check_patch_divisibility(config: &Config, c: &mut Checker) {
    let n_axes = config.problem.ndim.n_axes();
    let patch = &config.data.patch_size;
    let model = &config.model;
    if patch.len() != n_axes + 1 || model.yx_down.len() + 1 != model.feature_maps.len() {
        return;
    }
    let mut sizes: Vec<usize> = patch[..n_axes].to_vec();
    let names = if n_axes == 2 { ["y", "x", ""] } else { ["z", "y", "x"] };
    for level in 0..model.yx_down.len() {
        let factors: Vec<usize> = if n_axes == 2 {
            vec![model.yx_down[level]; 2]
        } else {
            vec![model.z_down.get(level).copied().unwrap_or(2), model.yx_down[level], model.yx_down[level]]
        };
        for axis in 0..n_axes {
            let (size, factor) = (sizes[axis], factors[axis]);
            if factor > 1 && (size % factor != 0 || size <= 2) {
                let total: usize = (0..model.yx_down.len()).map(|_| factor).product();
                c.fail("DATA.PATCH_SIZE", format!(
                    "{patch:?} is not divisible by the downsampling factor at level {level}: {} is {size} there, not a multiple of {factor} (with these pools, {} must be a multiple of {total})",
                    names[axis], names[axis]
                ));
                return;
            }
            sizes[axis] = size / factor;
        }
    }
}

fn check_train(config: &Config, c: &mut Checker) {
    let train = &config.train;
    c.require(train.optimizer.len() == 1, "TRAIN.OPTIMIZER", "expected exactly one optimizer");
    c.require(train.lr.len() == train.optimizer.len(), "TRAIN.LR", "expected one learning rate per optimizer");
    c.require(train.lr.iter().all(|&lr| lr > 0.0), "TRAIN.LR", "learning rates must be positive");
    c.require(
        train.opt_betas.iter().all(|b| b.len() == 2),
        "TRAIN.OPT_BETAS",
        "expected a list of [beta1, beta2] pairs, e.g. [[0.9, 0.999]]",
    );
    c.require(train.gradient_clip_norm >= 0.0, "TRAIN.GRADIENT_CLIP_NORM", "expected 0 (off) or a positive norm");
    c.require(train.batch_size > 0, "TRAIN.BATCH_SIZE", "expected a positive batch size");
    c.require(!train.enable || train.epochs > 0, "TRAIN.EPOCHS", "expected a positive number of epochs");
    c.require(
        train.save_train_preds_freq != 0,
        "TRAIN.SAVE_TRAIN_PREDS_FREQ",
        "expected a number of epochs (1 or more), or -1 to write no previews",
    );
    let sched = &train.lr_scheduler;
    let needs_min_lr = matches!(sched.name, SchedulerName::Reduceonplateau | SchedulerName::Warmupcosine);
    c.require(
        !needs_min_lr || sched.min_lr.iter().any(|&v| v != -1.0),
        "TRAIN.LR_SCHEDULER.MIN_LR",
        "this scheduler needs `MIN_LR`",
    );
    if sched.name == SchedulerName::Reduceonplateau {
        let p = sched.reduceonplateau_patience;
        c.require(p > 0, "TRAIN.LR_SCHEDULER.REDUCEONPLATEAU_PATIENCE", "`reduceonplateau` needs a positive patience");
        c.require(
            train.patience == -1 || p < train.patience,
            "TRAIN.LR_SCHEDULER.REDUCEONPLATEAU_PATIENCE",
            "must be smaller than `TRAIN.PATIENCE`",
        );
    }
    if sched.name == SchedulerName::Warmupcosine {
        let warmup = sched.warmup_cosine_decay_epochs;
        let fraction_ok = sched.cosine_decay_fraction > 0.0 && sched.cosine_decay_fraction <= 1.0;
        c.require(
            warmup >= 0 || fraction_ok,
            "TRAIN.LR_SCHEDULER.WARMUP_COSINE_DECAY_EPOCHS",
            "`warmupcosine` needs warm-up epochs (or `COSINE_DECAY_FRACTION` in (0, 1])",
        );
        c.require(
            warmup < 0 || (warmup as usize) <= train.epochs,
            "TRAIN.LR_SCHEDULER.WARMUP_COSINE_DECAY_EPOCHS",
            "must not exceed `TRAIN.EPOCHS`",
        );
    }
}

fn check_augmentation(config: &Config, c: &mut Checker) {
    let aug = &config.augmentor;
    if !aug.enable {
        return;
    }
    let value = serde_json::to_value(aug).unwrap_or_default();
    for (name, v) in value.as_object().into_iter().flatten() {
        if name.ends_with("_PROB") {
            let p = v.as_f64().unwrap_or(-1.0);
            c.require(
                (0.0..=1.0).contains(&p),
                &format!("AUGMENTOR.{name}"),
                format!("expected a probability in [0, 1], found {v}"),
            );
        }
    }
    let in_unit = |r: [f64; 2]| r.iter().all(|v| (0.0..=1.0).contains(v));
    for (key, range) in [
        ("DROP_RANGE", aug.drop_range),
        ("COUT_SIZE", aug.cout_size),
        ("CBLUR_SIZE", aug.cblur_size),
        ("CMIX_SIZE", aug.cmix_size),
        ("CNOISE_SCALE", aug.cnoise_scale),
        ("CNOISE_SIZE", aug.cnoise_size),
    ] {
        c.require(in_unit(range), &format!("AUGMENTOR.{key}"), format!("expected values in [0, 1], found {range:?}"));
    }
    let rot = aug.random_rot_range;
    c.require(
        rot.iter().all(|v| (-360.0..=360.0).contains(v)),
        "AUGMENTOR.RANDOM_ROT_RANGE",
        "expected angles in [-360, 360]",
    );
    c.require(
        aug.shear_range.iter().all(|v| (-360..=360).contains(v)),
        "AUGMENTOR.SHEAR_RANGE",
        "expected angles in [-360, 360]",
    );
    c.require(
        aug.zoom_range.iter().all(|v| (0.1..=10.0).contains(v)),
        "AUGMENTOR.ZOOM_RANGE",
        "expected factors in [0.1, 10]",
    );
    c.require(
        aug.grid_d_range[0] < aug.grid_d_range[1],
        "AUGMENTOR.GRID_D_RANGE",
        "the first value must be smaller than the second",
    );
    let channels = config.data.patch_size.last().copied().unwrap_or(1);
    c.require(
        !aug.grayscale || channels == 3,
        "AUGMENTOR.GRAYSCALE",
        format!("works on RGB images: `DATA.PATCH_SIZE` must end in 3 channels, found {channels}"),
    );
    for (key, amount) in [
        ("AUGMENTOR.SALT_AMOUNT", aug.salt_amount),
        ("AUGMENTOR.PEPPER_AMOUNT", aug.pepper_amount),
        ("AUGMENTOR.SALT_AND_PEPPER_AMOUNT", aug.salt_and_pepper_amount),
        ("AUGMENTOR.SALT_AND_PEPPER_PROP", aug.salt_and_pepper_prop),
    ] {
        c.require((0.0..=1.0).contains(&amount), key, format!("expected a fraction in [0, 1], found {amount}"));
    }
    c.require(
        aug.motb_k_range[0] >= 1 && aug.motb_k_range[0] <= aug.motb_k_range[1],
        "AUGMENTOR.MOTB_K_RANGE",
        format!("expected kernel sizes 1 ≤ min ≤ max, found {:?}", aug.motb_k_range),
    );
}

fn check_test(config: &Config, c: &mut Checker) {
    let test = &config.test;
    let n_axes = config.problem.ndim.n_axes();
    let is_2d = config.problem.ndim == Ndim::D2;
    c.require(
        test.eval_border_crop.is_empty()
            || (test.eval_border_crop.len() == n_axes && test.eval_border_crop.iter().all(|&v| v >= 0)),
        "TEST.EVAL_BORDER_CROP",
        format!("expected {n_axes} non-negative values"),
    );
    c.require(
        !test.analize_2d_imgs_as_3d_stack || is_2d,
        "TEST.ANALIZE_2D_IMGS_AS_3D_STACK",
        "makes no sense with 3D data",
    );
    c.require(!(test.by_chunks.enable && is_2d), "TEST.BY_CHUNKS.ENABLE", "works with 3D data only");
    // BiaPy ignores `FULL_IMG` in 3D with a warning; an ignored switch is an error here (D14, D16).
    // With `BY_CHUNKS` its own check says why.
    c.require(
        !(test.full_img && !is_2d && !test.by_chunks.enable),
        "TEST.FULL_IMG",
        "predicts 2D images whole; 3D stacks are predicted by patches (BiaPy ignores it in 3D); set it to False",
    );
    if let Binarization::Threshold(t) = test.binarization {
        c.require(
            t > 0.0 && t < 1.0,
            "TEST.BINARIZATION",
            format!("expected a threshold in (0, 1) or `otsu`, found {t}"),
        );
    }
    c.require(
        !(test.reuse_predictions && test.by_chunks.enable),
        "TEST.REUSE_PREDICTIONS",
        "`TEST.BY_CHUNKS` writes labels, not the probabilities to re-use; set one of them to False",
    );
    by_chunks::check(config, c);
    if config.data.test.median_padding {
        let key = "DATA.TEST.MEDIAN_PADDING";
        // BiaPy applies it in its 3D crop only and ignores it elsewhere; an ignored switch is an error (D14).
        c.require(!is_2d, key, "pads 3D stacks only (BiaPy ignores it in 2D); set it to False");
        c.require(
            !test.by_chunks.enable,
            key,
            "is not applied by `TEST.BY_CHUNKS`, which reflects the border; set one of them to False",
        );
    }
    let pp = &test.post_processing;
    if pp.median_filter {
        let key = "TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS";
        c.require(!pp.median_filter_axis.is_empty(), key, "the median filter needs at least one axis");
        c.require(
            pp.median_filter_axis.len() == pp.median_filter_size.len(),
            "TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE",
            "expected one size per `MEDIAN_FILTER_AXIS` entry",
        );
        c.require(
            pp.median_filter_size.iter().all(|&s| s > 0),
            "TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE",
            "sizes must be positive",
        );
        for axis in &pp.median_filter_axis {
            let valid = ["xy", "yx", "zy", "yz", "zx", "xz", "z"].contains(&axis.as_str());
            c.require(valid, key, format!("`{axis}` is not one of `xy`, `yx`, `zy`, `yz`, `zx`, `xz`, `z`"));
            let uses_z = axis.contains('z');
            c.require(!(valid && uses_z && is_2d && !test.analize_2d_imgs_as_3d_stack), key, format!("`{axis}` filters along z, which 2D data lack; set `TEST.ANALIZE_2D_IMGS_AS_3D_STACK: True` to stack the test images"));
        }
    }
}

fn ndim_name(ndim: Ndim) -> &'static str {
    match ndim {
        Ndim::D2 => "2D",
        Ndim::D3 => "3D",
    }
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigError, raw::parse_yaml_text, resolve::resolve};
    use std::path::Path;

    fn problems(yaml: &str) -> Vec<String> {
        match resolve(vec![parse_yaml_text(yaml, Path::new("c.yaml")).unwrap()]) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid(p)) => p.iter().map(ToString::to_string).collect(),
            Err(other) => vec![other.to_string()],
        }
    }

    #[test]
    fn patch_not_divisible_names_the_level() {
        let p = problems("TRAIN: {ENABLE: True}\nDATA: {PATCH_SIZE: [250, 256, 1]}\n");
        assert_eq!(
            p,
            vec![
                "`DATA.PATCH_SIZE` (in `c.yaml`): [250, 256, 1] is not divisible by the downsampling factor at level 1: y is 125 there, not a multiple of 2 (with these pools, y must be a multiple of 16)"
            ]
        );
        assert!(problems("TRAIN: {ENABLE: True}\nDATA: {PATCH_SIZE: [64, 128, 1]}\n").is_empty());
    }

    #[test]
    fn three_d_needs_four_patch_entries_and_fills_overlap() {
        let p = problems("TRAIN: {ENABLE: True}\nPROBLEM: {NDIM: 3D}\n");
        assert!(p[0].starts_with("`DATA.PATCH_SIZE`: expected 4 entries for 3D data"), "{p:?}");
        assert!(
            problems("TRAIN: {ENABLE: True}\nPROBLEM: {NDIM: 3D}\nDATA: {PATCH_SIZE: [32, 64, 64, 1]}\n").is_empty()
        );
    }

    #[test]
    fn nothing_to_do_and_untrained_test() {
        assert_eq!(
            problems("{}"),
            vec!["`TRAIN.ENABLE`: neither `TRAIN.ENABLE` nor `TEST.ENABLE` is set: nothing to do"]
        );
        assert!(problems("TEST: {ENABLE: True}\n")[0].contains("testing without training needs a checkpoint"));
    }

    #[test]
    fn z_median_filter_on_2d_needs_the_stack_option() {
        let yaml = "TRAIN: {ENABLE: True}\nTEST: {POST_PROCESSING: {MEDIAN_FILTER: True, MEDIAN_FILTER_AXIS: [z], MEDIAN_FILTER_SIZE: [5]}}\n";
        assert!(problems(yaml)[0].contains("filters along z, which 2D data lack"));
        let stacked = yaml.replace("TEST: {", "TEST: {ANALIZE_2D_IMGS_AS_3D_STACK: True, ");
        assert!(problems(&stacked).is_empty());
    }

    #[test]
    fn multi_class_rules() {
        let p =
            problems("TRAIN: {ENABLE: True}\nDATA: {N_CLASSES: 3}\nLOSS: {TYPE: [DICE], CLASS_WEIGHTS: [1.0, 2.0]}\n");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("more than 2 classes need `CE`"));
        assert!(p[1].contains("expected 3 weights"));
    }

    #[test]
    fn unsupported_features_are_errors_not_silence() {
        let p = problems("TRAIN: {ENABLE: True}\nDATA: {TRAIN: {PROBABILITY_MAP: True}}\n");
        assert!(p.iter().any(|m| m.contains("only works with `DATA.TRAIN.EXTRACT_RANDOM_PATCH: True`")));
    }

    #[test]
    fn contrastive_loss_checks_its_sizes_and_architecture() {
        let contrast = |extra: &str| {
            problems(&format!("TRAIN: {{ENABLE: True}}\nLOSS: {{CONTRAST: {{ENABLE: True, {extra}}}}}\n"))
        };
        assert!(contrast("MEMORY_SIZE: 10").is_empty(), "{:?}", contrast("MEMORY_SIZE: 10"));
        let p = contrast("MEMORY_SIZE: 0, PIXEL_UPD_FREQ: -1");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("`LOSS.CONTRAST.MEMORY_SIZE`") && p[1].starts_with("`LOSS.CONTRAST.PIXEL_UPD_FREQ`"));
        let p = problems("TRAIN: {ENABLE: True}\nMODEL: {ARCHITECTURE: stunet}\nLOSS: {CONTRAST: {ENABLE: True}}\n");
        assert!(p.iter().any(|m| m.starts_with("`LOSS.CONTRAST.ENABLE`") && m.contains("stunet")), "{p:?}");
    }

    #[test]
    fn stunets_pretrained_encoder_is_refused_unless_a_checkpoint_replaces_it() {
        let stunet =
            |extra: &str| problems(&format!("TRAIN: {{ENABLE: True}}\nMODEL: {{ARCHITECTURE: stunet, {extra}}}\n"));
        assert!(stunet("STUNET: {VARIANT: small}").is_empty());
        let p = stunet("STUNET: {PRETRAINED: True}");
        assert!(p.len() == 1 && p[0].starts_with("`MODEL.STUNET.PRETRAINED`") && p[0].contains("downloads nothing"));
        let p = stunet("STUNET: {VARIANT: custom, PRETRAINED: True}");
        assert!(p.len() == 1 && p[0].contains("no pretrained checkpoint"), "{p:?}");
        let p = stunet("STUNET: {PRETRAINED: True}, LOAD_CHECKPOINT: True");
        assert!(p.iter().all(|m| !m.contains("STUNET")), "{p:?}");
    }

    #[test]
    fn channel_and_noise_augmentations_check_their_inputs() {
        let aug = |keys: &str, patch: &str| {
            problems(&format!(
                "TRAIN: {{ENABLE: True}}\nDATA: {{PATCH_SIZE: {patch}}}\nAUGMENTOR: {{ENABLE: True, {keys}}}\n"
            ))
        };
        let p = aug("GRAYSCALE: True", "[64, 64, 1]");
        assert!(p.len() == 1 && p[0].contains("`AUGMENTOR.GRAYSCALE`") && p[0].contains("found 1"), "{p:?}");
        assert!(aug("GRAYSCALE: True, CHANNEL_SHUFFLE: True", "[64, 64, 3]").is_empty());
        let p = aug("SALT: True, SALT_AMOUNT: 1.5, SALT_AND_PEPPER_PROP: -0.1", "[64, 64, 1]");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(aug("PEPPER: True, SALT_AND_PEPPER: True", "[64, 64, 1]").is_empty());
        // BiaPy's rule: Poisson noise assumes non-negative images, not z-scored ones.
        let p = aug("POISSON_NOISE: True", "[64, 64, 1]");
        assert!(p.len() == 1 && p[0].contains("zero_mean_unit_variance"), "{p:?}");
        assert!(aug("POISSON_NOISE: True", "[64, 64, 1], NORMALIZATION: {TYPE: div}").is_empty());
        assert!(aug("MOTION_BLUR: True", "[64, 64, 1]").is_empty());
        let p = aug("MOTION_BLUR: True, MOTB_K_RANGE: [9, 3]", "[64, 64, 1]");
        assert!(p.len() == 1 && p[0].contains("`AUGMENTOR.MOTB_K_RANGE`"), "{p:?}");
    }

    #[test]
    fn optimizer_and_epoch_from_a_checkpoint_are_refused_when_fine_tuning() {
        let base =
            "TRAIN: {ENABLE: True}\nMODEL: {LOAD_CHECKPOINT: True, ITEMS_TO_LOAD_FROM_CHECKPOINT: [weights, epoch]}\n";
        let p = problems(base);
        assert!(p.len() == 1 && p[0].contains("`epoch` is not loaded by segsweep"), "{p:?}");
        // Testing only: BiaPy does not use them either.
        let test_only = base.replace("TRAIN: {ENABLE: True}", "TRAIN: {ENABLE: False}\nTEST: {ENABLE: True}");
        assert!(problems(&test_only).is_empty(), "{:?}", problems(&test_only));
    }

    #[test]
    fn padding_and_overlap_bounds() {
        let p = problems("TRAIN: {ENABLE: True}\nDATA: {TEST: {PADDING: [128, 0], OVERLAP: [1.0, 0]}}\n");
        assert_eq!(p.len(), 2, "{p:?}");
    }
}
