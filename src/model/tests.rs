//! Whole-model tests for [`SegModel`]: shapes for every architecture in 2D and 3D, input and
//! spec errors, gradient flow and a short training run. Tiny inputs, so they run in seconds.

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::testutil::spec;
use super::*;

/// A small 2D or 3D spec of `arch` with feature maps `[4, 8, 16]`.
fn small(arch: &str, ndim: &str, extra: &str) -> ModelSpec {
    let patch = if ndim == "3D" { "[8, 16, 16, 1]" } else { "[16, 16, 1]" };
    spec(&format!(
        "PROBLEM: {{NDIM: {ndim}}}\nDATA: {{PATCH_SIZE: {patch}}}\nMODEL: {{ARCHITECTURE: {arch}, FEATURE_MAPS: [4, 8, 16]{extra}}}"
    ))
}

fn names_total(model: &SegModel) -> usize {
    model.biapy_state_dict_names().iter().map(|(_, s, _)| s.iter().product::<usize>()).sum()
}

#[test]
fn default_2d_unet_maps_64x64_to_one_logit_channel() {
    let device = Device::flex();
    let model = SegModel::new(&spec(""), &device);
    assert_eq!(model.n_params(), 1_944_241);
    let x = Tensor::<4>::random([2, 1, 64, 64], Distribution::Normal(0.0, 1.0), &device);
    assert_eq!(model.forward2d(x).expect("fits").dims(), [2, 1, 64, 64]);
}

#[test]
fn three_classes_give_three_logit_channels() {
    let device = Device::flex();
    let model = SegModel::new(&spec("DATA: {N_CLASSES: 3}"), &device);
    assert_eq!(model.n_params(), 1_944_275);
    let x = Tensor::<4>::random([1, 1, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    assert_eq!(model.forward2d(x).expect("fits").dims(), [1, 3, 32, 32]);
}

#[test]
fn default_3d_unet_keeps_the_volume_size_with_and_without_z_pooling() {
    let device = Device::flex();
    // With z_down 1 the transposed convolutions are (1, 2, 2): 4·(256·128 + 128·64 + 64·32 +
    // 32·16) = 174,080 weights fewer. BiaPy's patch check wants more than 2 slices at the last
    // level, hence z = 32 with four z pools.
    for (z_down, z, n_params) in [("[1, 1, 1, 1]", 16, 5_474_257), ("[2, 2, 2, 2]", 32, 5_648_337)] {
        let yaml =
            format!("PROBLEM: {{NDIM: 3D}}\nDATA: {{PATCH_SIZE: [{z}, 32, 32, 1]}}\nMODEL: {{Z_DOWN: {z_down}}}");
        let model = SegModel::new(&spec(&yaml), &device);
        assert_eq!(model.n_params(), n_params, "z_down {z_down}");
        let x = Tensor::<5>::random([1, 1, z, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(model.forward3d(x).expect("fits").dims(), [1, 1, z, 32, 32], "z_down {z_down}");
    }
}

#[test]
fn every_architecture_builds_and_runs_in_2d_and_3d() {
    let device = Device::flex();
    for arch in ["unet", "attention_unet", "resunet", "seunet", "resunet_se", "resunet++"] {
        for upsample in ["convtranspose", "upsampling"] {
            let extra = format!(", UPSAMPLE_LAYER: {upsample}");
            let model = SegModel::new(&small(arch, "2D", &extra), &device);
            assert_eq!(model.n_params(), names_total(&model), "{arch} {upsample}");
            assert_eq!(model.block_params().iter().sum::<usize>(), model.n_params());
            let x = Tensor::<4>::random([2, 1, 16, 16], Distribution::Normal(0.0, 1.0), &device);
            assert_eq!(model.forward2d(x).expect("fits").dims(), [2, 1, 16, 16], "{arch} {upsample}");

            let model = SegModel::new(&small(arch, "3D", &extra), &device);
            assert_eq!(model.n_params(), names_total(&model), "{arch} {upsample} 3D");
            let x = Tensor::<5>::random([1, 1, 8, 16, 16], Distribution::Normal(0.0, 1.0), &device);
            assert_eq!(model.forward3d(x).expect("fits").dims(), [1, 1, 8, 16, 16], "{arch} {upsample} 3D");
        }
    }
}

#[test]
fn larger_io_adds_a_wider_unit_before_the_encoder_and_after_the_decoder() {
    let device = Device::flex();
    for arch in ["unet", "attention_unet", "resunet", "seunet", "resunet_se", "resunet++"] {
        for (ndim, input) in [("2D", vec![1, 1, 16, 16]), ("3D", vec![1, 1, 8, 16, 16])] {
            let plain = SegModel::new(&small(arch, ndim, ""), &device);
            let model = SegModel::new(&small(arch, ndim, ", LARGER_IO: True"), &device);
            assert_eq!(model.n_params(), names_total(&model), "{arch} {ndim}");
            assert_eq!(model.block_params().iter().sum::<usize>(), model.n_params());
            let names = model.biapy_state_dict_names();
            let shape = |name: &str| names.iter().find(|(n, _, _)| n == name).map(|(_, s, _)| s.clone());
            let k = if ndim == "2D" { vec![5, 5] } else { vec![5, 5, 5] };
            assert_eq!(shape("conv_in.block.0.weight"), Some([vec![4, 1], k.clone()].concat()), "{arch} {ndim}");
            assert_eq!(shape("conv_out.0.block.0.weight"), Some([vec![4, 4], k.clone()].concat()), "{arch} {ndim}");
            // `down_path.0` now takes the 4 channels of `conv_in`: conv_in (4·1·k + 4 + norm) and
            // conv_out (4·4·k + 4 + norm) are added, the first level's input grows from 1 to 4.
            assert!(model.n_params() > plain.n_params(), "{arch} {ndim}");
            let position = |name: &str| names.iter().position(|(n, _, _)| n.starts_with(name)).unwrap();
            let bridge = if arch == "resunet++" { "aspp_bridge." } else { "bottleneck." };
            assert!(position("down_path.") < position("conv_in.") && position("conv_in.") < position(bridge));
            assert!(position("conv_out.") < position("heads."));
            let y = if ndim == "2D" {
                model
                    .forward2d(Tensor::<4>::random([1, 1, 16, 16], Distribution::Normal(0.0, 1.0), &device))
                    .unwrap()
                    .dims()
                    .to_vec()
            } else {
                model
                    .forward3d(Tensor::<5>::random([1, 1, 8, 16, 16], Distribution::Normal(0.0, 1.0), &device))
                    .unwrap()
                    .dims()
                    .to_vec()
            };
            assert_eq!(y, input, "{arch} {ndim}");
        }
    }
}

#[test]
fn variants_add_their_blocks_to_the_unet() {
    let device = Device::flex();
    let count = |arch| SegModel::new(&small(arch, "2D", ""), &device).n_params();
    let (unet, attention, se) = (count("unet"), count("attention_unet"), count("seunet"));
    // Attention gates at F = 8 and 4: W_g (8·4+4) + its norm (8) + W_x (36) + psi (5) + norm (2),
    // and W_g (4·2+2) + norm (4) + W_x (10) + psi (3) + norm (2).
    assert_eq!(attention - unet, (36 + 8 + 36 + 5 + 2) + (10 + 4 + 10 + 3 + 2));
    // SE blocks (hidden width 1) after 2 units per level on 4 and 8 channels, encoder and decoder,
    // and after the 2 bottleneck units on 16 channels.
    assert_eq!(se - unet, 2 * (2 * 2 * 4 + 2 * 2 * 8) + 2 * 2 * 16);
}

#[test]
fn options_change_the_layers() {
    let device = Device::flex();
    let x = Tensor::<4>::random([1, 3, 16, 16], Distribution::Normal(0.0, 1.0), &device);
    for extra in [
        ", CONV_BLOCK_ORDER: norm_act_conv",
        ", CONV_LAYERS: [1, 3, 2], DROPOUT_VALUES: [0.1, 0.2, 0.3]",
        ", NORMALIZATION: bn, ACTIVATION: leaky_relu, KERNEL_SIZE: 5",
        ", ACTIVATION: gelu",
    ] {
        let yaml =
            format!("DATA: {{PATCH_SIZE: [16, 16, 3], N_CLASSES: 4}}\nMODEL: {{FEATURE_MAPS: [4, 8, 16]{extra}}}");
        let model = SegModel::new(&spec(&yaml), &device);
        assert_eq!(model.n_params(), names_total(&model), "{extra}");
        assert_eq!(model.forward2d(x.clone()).expect("fits").dims(), [1, 4, 16, 16], "{extra}");
    }
    let yaml = "MODEL: {FEATURE_MAPS: [4, 8, 16], CONV_BLOCK_ORDER: norm_act_conv}";
    let names = SegModel::new(&spec(yaml), &device).biapy_state_dict_names();
    // Norm over the single input channel first, then the conv at index 2.
    assert_eq!((names[0].0.clone(), names[0].1.clone()), ("down_path.0.block.0.block.0.weight".to_string(), vec![1]));
    assert_eq!(
        (names[2].0.clone(), names[2].1.clone()),
        ("down_path.0.block.0.block.2.weight".to_string(), vec![4, 1, 3, 3])
    );
}

#[test]
fn anisotropic_3d_levels_use_flat_kernels() {
    let yaml = "PROBLEM: {NDIM: 3D}\nDATA: {PATCH_SIZE: [4, 16, 16, 1]}\n\
                MODEL: {FEATURE_MAPS: [4, 8, 16], ISOTROPY: [false, true, true], Z_DOWN: [1, 2]}";
    let spec = spec(yaml);
    assert_eq!(spec.kernel(0), [1, 3, 3]);
    let device = Device::flex();
    let model = SegModel::new(&spec, &device);
    let names = model.biapy_state_dict_names();
    assert_eq!(names[0].1, vec![4, 1, 1, 3, 3]);
    let x = Tensor::<5>::random([1, 1, 4, 16, 16], Distribution::Normal(0.0, 1.0), &device);
    assert_eq!(model.forward3d(x).expect("fits").dims(), [1, 1, 4, 16, 16]);
}

#[test]
fn wrong_inputs_are_errors_not_panics() {
    let device = Device::flex();
    let model = SegModel::new(&small("unet", "2D", ""), &device);
    let cases: [Vec<usize>; 3] = [vec![1, 2, 16, 16], vec![1, 1, 16, 6], vec![1, 1, 0, 16]];
    for dims in cases {
        let x = Tensor::<4>::zeros(dims.clone(), &device);
        let err = model.forward2d(x).expect_err("does not fit");
        assert!(matches!(err, ModelError::Input { .. }), "{dims:?}: {err}");
    }
    let err = model.forward3d(Tensor::<5>::zeros([1, 1, 4, 16, 16], &device)).expect_err("2D model");
    assert_eq!(
        err.to_string(),
        "model input has shape [1, 1, 4, 16, 16]; expected [batch, 1, y, x] with spatial sizes multiples of [4, 4]"
    );
}

#[test]
fn unsupported_specs_are_errors() {
    let mut config = crate::config::Config::default();
    config.model.architecture = "simple_cnn".into();
    let err = ModelSpec::from_config(&config).expect_err("not built");
    assert_eq!(err, ModelError::UnsupportedArchitecture("simple_cnn".into()));

    let mut bad = small("resunet", "2D", "");
    bad.conv_layers = vec![3, 3, 3];
    assert!(matches!(SegModel::try_new(&bad, &Device::flex()), Err(ModelError::InvalidSpec { .. })));
    let mut bad = small("unet", "2D", "");
    bad.dropout = vec![0.0, 1.0, 0.0];
    assert!(matches!(bad.validate(), Err(ModelError::InvalidSpec { key: "MODEL.DROPOUT_VALUES", .. })));
    let mut bad = small("unet", "2D", "");
    bad.norm = NormLayer::Gn;
    assert!(matches!(bad.validate(), Err(ModelError::InvalidSpec { key: "MODEL.NORMALIZATION", .. })));
    bad.feature_maps = vec![16, 32, 64];
    assert!(bad.validate().is_ok());
}

#[test]
fn every_parameter_of_every_architecture_gets_a_gradient() {
    let device = Device::flex().autodiff();
    for arch in ["unet", "attention_unet", "resunet", "seunet", "resunet_se", "resunet++"] {
        let extra = ", DROPOUT_VALUES: [0.1, 0.1, 0.1], NORMALIZATION: bn";
        let model = SegModel::new(&small(arch, "2D", extra), &device);
        let x = Tensor::<4>::random([2, 1, 16, 16], Distribution::Normal(0.0, 1.0), &device);
        let logits = model.forward2d(x).expect("fits");
        let loss = (logits.clone() * logits).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        assert_eq!(grads.len(), model.biapy_state_dict_names().len(), "{arch}");
    }
}

/// BCE with logits, mean over all elements: `max(x, 0) − x·t + log(1 + e^(−|x|))`.
fn bce_with_logits(logits: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let softplus = logits.clone().abs().neg().exp().log1p();
    (logits.clone().clamp_min(0.0) - logits * target + softplus).mean()
}

#[test]
fn adam_reduces_the_loss_of_a_small_unet() {
    let device = Device::flex().autodiff();
    let mut model = SegModel::new(&small("unet", "2D", ""), &device);
    let input = Tensor::<4>::random([1, 1, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    // A fixed disc in the middle of the patch.
    let mask: Vec<f32> = (0..32 * 32)
        .map(|i| {
            let (y, x) = ((i / 32) as f32 - 15.5, (i % 32) as f32 - 15.5);
            if y * y + x * x < 100.0 { 1.0 } else { 0.0 }
        })
        .collect();
    let target = Tensor::<4>::from_data(TensorData::new(mask, [1, 1, 32, 32]), &device);
    let mut optim = AdamConfig::new().init();
    let mut losses = Vec::new();
    for _ in 0..20 {
        let loss = bce_with_logits(model.forward2d(input.clone()).expect("fits"), target.clone());
        losses.push(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(last < 0.5 * first, "loss went {first} → {last}: {losses:?}");
}

/// `tests/fixtures/biapy/layouts/<arch>_<2d|3d>.txt`: BiaPy 3.7.1's state dict for its 2D and 3D
/// templates with only `MODEL.ARCHITECTURE` changed, measured from BiaPy (`name<TAB>[shape]` per
/// tensor, then `# total parameters: N`). Buffers (batch norm's running statistics, marked
/// `buffer`) are left out: [`biapy_layout_buffers`] lists them.
fn biapy_layout(file: &str) -> (Vec<(String, Vec<usize>)>, usize) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/biapy/layouts").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut names = Vec::new();
    let mut total = 0;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("# total parameters: ") {
            total = n.trim().parse().expect("a count");
        } else if !line.starts_with('#') && !line.ends_with("\tbuffer") {
            let (name, rest) = line.split_once('\t').expect("name<TAB>[shape]");
            // A third column marks UNETR's frozen `pos_embed` (a parameter all the same).
            let shape = rest.split('\t').next().unwrap_or_default();
            let shape = shape.trim().trim_start_matches('[').trim_end_matches(']');
            let dims = shape.split(',').filter(|d| !d.trim().is_empty()).map(|d| d.trim().parse().expect("a dim"));
            names.push((name.to_string(), dims.collect()));
        }
    }
    (names, total)
}

/// The running statistics among a layout file's buffers (`num_batches_tracked` is written by the
/// `.pth` writer beside them and has no burn tensor).
fn biapy_layout_buffers(file: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/biapy/layouts").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut names: Vec<String> = text
        .lines()
        .filter(|line| line.ends_with("\tbuffer") && line.contains(".running_"))
        .map(|line| line.split('\t').next().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn every_architecture_round_trips_its_biapy_name() {
    for arch in Arch::ALL {
        assert_eq!(Arch::from_name(arch.name()), Some(arch));
    }
}

#[test]
fn every_architecture_has_biapys_state_dict_name_for_name_and_shape_for_shape() {
    let device = Device::flex();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for arch in Arch::ALL.map(Arch::name) {
        for ndim in ["2d", "3d"] {
            let template = root.join(format!("templates/semantic_segmentation/{ndim}_semantic_segmentation.yaml"));
            let mut sets = vec![format!("MODEL.ARCHITECTURE={arch}")];
            // BiaPy's own build fails for the 3D template with the U-NeXts (80³ is not a multiple of
            // their stem × pools, 32; spec §7); the layout comes from the constructor, whose tensors
            // do not depend on the patch.
            if arch.starts_with("unext") && ndim == "3d" {
                sets.push("DATA.PATCH_SIZE=(64, 64, 64, 1)".into());
            }
            // BiaPy measured the template with `hrnet` written into the file, where its converter
            // makes it `W18`; a command-line override keeps config.py's `W48`.
            if arch == "hrnet" {
                sets.push("MODEL.HRNET.VARIANT=W18".into());
            }
            let config = crate::config::load(&template, &sets).unwrap().config;
            let model = SegModel::new(&ModelSpec::from_config(&config).unwrap(), &device);
            let (expected, total) = biapy_layout(&format!("{}_{ndim}.txt", arch.replace("++", "_pp")));
            let names: Vec<(String, Vec<usize>)> =
                model.biapy_state_dict_names().into_iter().map(|(n, s, _)| (n, s)).collect();
            let first_difference = names.iter().zip(&expected).position(|(a, b)| a != b);
            assert_eq!(first_difference, None, "{arch} {ndim}: ours {:?}", first_difference.map(|i| &names[i]));
            assert_eq!(names.len(), expected.len(), "{arch} {ndim}");
            assert_eq!(model.n_params(), total, "{arch} {ndim}: BiaPy's parameter count");
            let file = format!("{}_{ndim}.txt", arch.replace("++", "_pp"));
            let mut buffers: Vec<String> = crate::model::biapy_names::renaming(&model)
                .expect("every tensor has a BiaPy name")
                .into_iter()
                .map(|r| r.biapy)
                .filter(|name| name.contains(".running_"))
                .collect();
            buffers.sort();
            assert_eq!(buffers, biapy_layout_buffers(&file), "{arch} {ndim}: batch norm buffers");
        }
    }
}

#[test]
fn contrastive_heads_have_biapys_layout_and_parameter_count() {
    // BiaPy 3.7.1's `U_Net(feature_maps=[4, 8, 16], normalization="bn")` has 8,213 parameters
    // and 8,436 with `contrast=True, contrast_proj_dim=8`: the heads add 223. Their names are
    // `heads.{0,1,3}` and `proj_head.proj.{0,1,3}`.
    let device = Device::flex();
    let contrast = ", NORMALIZATION: bn}\nLOSS: {CONTRAST: {ENABLE: True, PROJ_DIM: 8}";
    for arch in ["unet", "resunet"] {
        let spec = small(arch, "2D", contrast);
        assert_eq!(spec.contrast, Some(8));
        let model = SegModel::new(&spec, &device);
        let plain = SegModel::new(&small(arch, "2D", ", NORMALIZATION: bn"), &device);
        assert_eq!(model.n_params() - plain.n_params(), 223, "{arch}");
        let renames = crate::model::biapy_names::renaming(&model).expect("every tensor has a BiaPy name");
        let mut heads: Vec<&str> = renames
            .iter()
            .map(|r| r.biapy.as_str())
            .filter(|n| n.starts_with("heads.") || n.starts_with("proj_head."))
            .collect();
        heads.sort_unstable();
        assert_eq!(
            heads,
            [
                "heads.0.bias",
                "heads.0.weight",
                "heads.1.bias",
                "heads.1.running_mean",
                "heads.1.running_var",
                "heads.1.weight",
                "heads.3.weight",
                "proj_head.proj.0.bias",
                "proj_head.proj.0.weight",
                "proj_head.proj.1.bias",
                "proj_head.proj.1.running_mean",
                "proj_head.proj.1.running_var",
                "proj_head.proj.1.weight",
                "proj_head.proj.3.bias",
                "proj_head.proj.3.weight",
            ],
            "{arch}"
        );
    }
}

#[test]
fn every_architecture_but_stunet_gives_logits_and_an_embedding_with_contrastive_heads() {
    let device = Device::flex();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let template = root.join("templates/semantic_segmentation/2d_semantic_segmentation.yaml");
    for arch in Arch::ALL.into_iter().filter(|a| *a != Arch::Stunet) {
        let mut sets = vec![
            format!("MODEL.ARCHITECTURE={}", arch.name()),
            "LOSS.CONTRAST.ENABLE=True".to_string(),
            "LOSS.CONTRAST.PROJ_DIM=6".to_string(),
            "DATA.N_CLASSES=3".to_string(),
            "DATA.PATCH_SIZE=(32, 32, 1)".to_string(),
            "DATA.TEST.PADDING=(0, 0)".to_string(),
        ];
        match arch {
            Arch::Hrnet => sets.push("MODEL.HRNET.VARIANT=W18".into()),
            Arch::Unetr => sets.extend(
                ["MODEL.VIT_TOKEN_SIZE=8", "MODEL.VIT_EMBED_DIM=16", "MODEL.VIT_NUM_LAYERS=2", "MODEL.VIT_NUM_HEADS=2"]
                    .map(String::from),
            ),
            Arch::Multiresunet => {}
            _ => sets.push("MODEL.FEATURE_MAPS=[16, 32, 64]".into()),
        }
        let config = crate::config::load(&template, &sets).unwrap().config;
        let model = SegModel::new(&ModelSpec::from_config(&config).unwrap(), &device);
        assert!(
            crate::model::biapy_names::renaming(&model).is_some(),
            "{}: every tensor has a BiaPy name",
            arch.name()
        );
        let x = Tensor::<4>::random([2, 1, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        let (logits, embed) = model.forward_embed(x.clone()).unwrap();
        assert_eq!(logits.dims(), [2, 3, 32, 32], "{}", arch.name());
        let side = if arch == Arch::Hrnet { 8 } else { 32 };
        assert_eq!(embed.expect("an embedding").dims(), [2, 6, side, side], "{}", arch.name());
        let plain = model.forward2d(x).unwrap();
        let same = plain.into_data().try_to_vec::<f32>().unwrap() == logits.into_data().try_to_vec::<f32>().unwrap();
        assert!(same, "{}: the logits do not depend on asking for the embedding", arch.name());
    }
    // `config check` refuses the pair first; the builder refuses it too.
    let yaml = "TRAIN: {ENABLE: True}\nLOSS: {CONTRAST: {ENABLE: True}}";
    let mut config = crate::config::load_str(yaml, &[]).unwrap().config;
    config.model.architecture = "stunet".into();
    let refused = ModelSpec::from_config(&config);
    assert!(matches!(refused, Err(ModelError::InvalidSpec { key: "LOSS.CONTRAST.ENABLE", .. })), "{refused:?}");
}
