//! The networks of [`crate::model`] as ONNX graphs, block by block in the order their `forward`
//! runs: the U-Net skeleton (encoder levels, max-pooling, bottleneck, decoder steps with their
//! skip connections, head) with its three variants' units, the residual U-Net, ResUNet++,
//! MultiResUNet, STU-Net, the U-NeXts, UNETR and HRNet. Nodes and
//! initializers are named after BiaPy's modules (`down_path.0.block.1.conv.weight`). Inference
//! only: dropout is the identity and batch norm uses its running statistics.

use super::graph::{Attr, Graph};
use crate::config::{Activation, ConvBlockOrder};
use crate::model::attention::AttentionBlock;
use crate::model::blocks::{ConvBlock, ConvStack, UpBlock, Upsampler};
use crate::model::convnext::{ChannelNorm, ConvNextBlock, LayerScale};
use crate::model::heads::{ContrastHeads, HeadNorm};
use crate::model::hrnet::{Cbn, CbnPath, HrModule, Hrnet, ResBlock};
use crate::model::layers::ConvNd;
use crate::model::multiresunet::{ConvBn, MultiResBlock, MultiResUnet, ResPath};
use crate::model::resunet::{ResConvBlock, ResUNet, ResUpBlock};
use crate::model::resunet_pp::{Aspp, PlusAttention, ResUNetPlusPlus};
use crate::model::seunet::SqExBlock;
use crate::model::stunet::{BasicResBlock, Stunet};
use crate::model::unetr::{Unetr, VitBlock};
use crate::model::unext::{Unext, UpStep};
use crate::model::{SegModel, UNet};

/// Adds `model`'s forward pass from the value `input` (`[batch, c, (z,) y, x]`); returns the
/// logits' value name.
pub fn emit(model: &SegModel, g: &mut Graph, input: &str) -> String {
    let ndim = model.ndim().n_axes();
    match model {
        SegModel::Unet(net) | SegModel::AttentionUnet(net) | SegModel::Seunet(net) => unet(g, net, input, ndim),
        SegModel::Resunet(net) | SegModel::ResunetSe(net) => resunet(g, net, input, ndim),
        SegModel::ResunetPlusPlus(net) => resunet_pp(g, net, input, ndim),
        SegModel::Multiresunet(net) => multiresunet(g, net, input, ndim),
        SegModel::Stunet(net) => stunet(g, net, input, ndim),
        SegModel::UnextV1(net) | SegModel::UnextV2(net) => unext(g, net, input, ndim),
        SegModel::Unetr(net) => unetr(g, net, input, ndim),
        SegModel::Hrnet(net) => hrnet(g, net, input, ndim),
    }
}

/// The [`UShape`] of a network with BiaPy's U-shaped fields.
macro_rules! u_shape {
    ($net:expr) => {
        UShape {
            down_path: &$net.down_path,
            bottleneck: &$net.bottleneck,
            up_paths: &$net.up_paths,
            conv_in: $net.conv_in.as_ref(),
            conv_out: $net.conv_out.as_ref(),
        }
    };
}

fn unet(g: &mut Graph, net: &UNet, input: &str, ndim: usize) -> String {
    let shape = u_shape!(net);
    let x = shape.emit(g, input, &net.geometry.pools, ndim, conv_stack, |g, x, skip, up, name| {
        up_block(g, x, skip, up, &format!("up_paths.0.{name}"), ndim)
    });
    head(g, &x, &net.heads, net.contrast.as_ref(), ndim)
}

/// The encoder–bottleneck–decoder walk both networks share (as `crate::model::skeleton` does
/// for their `forward`): each level's output is kept for its decoder step, then max-pooled.
struct UShape<'a, E, U> {
    down_path: &'a [E],
    bottleneck: &'a E,
    up_paths: &'a [U],
    /// `MODEL.LARGER_IO`'s units.
    conv_in: Option<&'a ConvBlock>,
    conv_out: Option<&'a ConvBlock>,
}

impl<E, U> UShape<'_, E, U> {
    fn emit(
        &self,
        g: &mut Graph,
        input: &str,
        pools: &[[usize; 3]],
        ndim: usize,
        level: impl Fn(&mut Graph, &str, &E, &str, usize) -> String,
        up: impl Fn(&mut Graph, &str, &str, &U, usize) -> String,
    ) -> String {
        let mut x = match self.conv_in {
            Some(unit) => conv_unit(g, input, unit, "conv_in", ndim),
            None => input.to_string(),
        };
        let mut skips = Vec::new();
        for (i, block) in self.down_path.iter().enumerate() {
            let features = level(g, &x, block, &format!("down_path.{i}"), ndim);
            x = g.max_pool(&features, pools[i], ndim, &format!("down_path.{i}.pool"));
            skips.push(features);
        }
        x = level(g, &x, self.bottleneck, "bottleneck", ndim);
        for (d, block) in self.up_paths.iter().enumerate() {
            let skip = skips.pop().expect("one skip connection per decoder step");
            x = up(g, &x, &skip, block, d);
        }
        match self.conv_out {
            Some(unit) => conv_unit(g, &x, unit, "conv_out.0", ndim),
            None => x,
        }
    }
}

fn conv_stack(g: &mut Graph, x: &str, stack: &ConvStack, name: &str, ndim: usize) -> String {
    let mut x = x.to_string();
    for (j, unit) in stack.block.iter().enumerate() {
        x = conv_unit(g, &x, unit, &format!("{name}.block.{j}"), ndim);
    }
    x
}

fn conv_unit(g: &mut Graph, x: &str, unit: &ConvBlock, name: &str, ndim: usize) -> String {
    let norm_act = |g: &mut Graph, x: String| {
        let x = match &unit.norm {
            Some(norm) => g.norm(&x, norm, &format!("{name}.norm"), ndim),
            None => x,
        };
        match unit.act {
            Some(act) => g.activation(&x, act, &format!("{name}.act")),
            None => x,
        }
    };
    let x = match unit.order {
        ConvBlockOrder::ConvNormAct => {
            let conv = g.conv(x, &unit.conv, &format!("{name}.conv"));
            norm_act(g, conv)
        }
        ConvBlockOrder::NormActConv => {
            let pre = norm_act(g, x.to_string());
            g.conv(&pre, &unit.conv, &format!("{name}.conv"))
        }
    };
    match &unit.se {
        Some(se) => squeeze_excite(g, &x, se, &format!("{name}.se"), ndim),
        None => x,
    }
}

/// `x · sigmoid(fc2(relu(fc1(mean over space of x))))`, per sample and channel.
fn squeeze_excite(g: &mut Graph, x: &str, se: &SqExBlock, name: &str, ndim: usize) -> String {
    let pooled = g.node("GlobalAveragePool", format!("{name}.squeeze"), &[x], vec![]);
    let flat = g.node("Flatten", format!("{name}.flat"), &[&pooled], vec![("axis", Attr::Int(1))]);
    let w1 = g.param(format!("{name}.fc1.weight"), &se.fc1.weight);
    let hidden = g.node("MatMul", format!("{name}.fc1"), &[&flat, &w1], vec![]);
    let hidden = g.node("Relu", format!("{name}.relu"), &[&hidden], vec![]);
    let w2 = g.param(format!("{name}.fc2.weight"), &se.fc2.weight);
    let weights = g.node("MatMul", format!("{name}.fc2"), &[&hidden, &w2], vec![]);
    let weights = g.node("Sigmoid", format!("{name}.excite"), &[&weights], vec![]);
    let spatial: Vec<i64> = (2..2 + ndim as i64).collect();
    let axes = g.int64(format!("{name}.axes"), &spatial);
    let weights = g.node("Unsqueeze", format!("{name}.weights"), &[&weights, &axes], vec![]);
    g.node("Mul", name.to_string(), &[x, &weights], vec![])
}

fn up_block(g: &mut Graph, x: &str, bridge: &str, up: &UpBlock, name: &str, ndim: usize) -> String {
    let upsampled = match &up.up {
        Upsampler::Transpose(conv) => g.conv_transpose(x, conv, &format!("{name}.up")),
        Upsampler::Resize(conv) => {
            let resized = g.upsample(x, up.factors, ndim, &format!("{name}.resize"));
            g.conv(&resized, conv, &format!("{name}.up"))
        }
    };
    let normed = g.norm(&upsampled, &up.up_norm, &format!("{name}.up_norm"), ndim);
    let upsampled = g.activation(&normed, up.act, &format!("{name}.up_act"));
    let bridge = match &up.attention_gate {
        Some(gate) => attention_gate(g, &upsampled, bridge, gate, &format!("{name}.attention_gate"), ndim),
        None => bridge.to_string(),
    };
    let joined = g.node("Concat", format!("{name}.concat"), &[&upsampled, &bridge], vec![("axis", Attr::Int(1))]);
    conv_stack(g, &joined, &up.conv_block, &format!("{name}.conv_block"), ndim)
}

/// `x · sigmoid(norm(psi(relu(norm(w_g(g)) + w_x(x)))))`.
fn attention_gate(g: &mut Graph, gating: &str, x: &str, gate: &AttentionBlock, name: &str, ndim: usize) -> String {
    let g1 = g.conv(gating, &gate.w_g, &format!("{name}.w_g"));
    let g1 = g.norm(&g1, &gate.w_g_norm, &format!("{name}.w_g_norm"), ndim);
    let x1 = g.conv(x, &gate.w_x, &format!("{name}.w_x"));
    let sum = g.node("Add", format!("{name}.sum"), &[&g1, &x1], vec![]);
    let relu = g.node("Relu", format!("{name}.relu"), &[&sum], vec![]);
    let psi = g.conv(&relu, &gate.psi, &format!("{name}.psi"));
    let psi = g.norm(&psi, &gate.psi_norm, &format!("{name}.psi_norm"), ndim);
    let psi = g.node("Sigmoid", format!("{name}.sigmoid"), &[&psi], vec![]);
    g.node("Mul", name.to_string(), &[x, &psi], vec![])
}

fn resunet(g: &mut Graph, net: &ResUNet, input: &str, ndim: usize) -> String {
    let shape = u_shape!(net);
    let x = shape.emit(g, input, &net.geometry.pools, ndim, res_block, |g, x, skip, up, d| {
        res_up_block(g, x, skip, up, &format!("up_paths.{d}"), ndim)
    });
    head(g, &x, &net.heads, net.contrast.as_ref(), ndim)
}

fn res_block(g: &mut Graph, x: &str, block: &ResConvBlock, name: &str, ndim: usize) -> String {
    let mut y = x.to_string();
    if let Some(norm) = &block.pre_norm {
        y = g.norm(&y, norm, &format!("{name}.pre_norm"), ndim);
    }
    if let Some(act) = block.pre_act {
        y = g.activation(&y, act, &format!("{name}.pre_act"));
    }
    // `resunet_se`: the extra unit's output feeds the main path and is the residual.
    let residual = match &block.extra {
        Some(extra) => {
            y = conv_unit(g, &y, extra, &format!("{name}.pre_conv"), ndim);
            y.clone()
        }
        None => x.to_string(),
    };
    let y = conv_unit(g, &y, &block.conv1, &format!("{name}.conv1"), ndim);
    let y = conv_unit(g, &y, &block.conv2, &format!("{name}.conv2"), ndim);
    let shortcut = match &block.shortcut {
        Some(conv) => g.conv(&residual, conv, &format!("{name}.shortcut")),
        None => residual,
    };
    let shortcut = match &block.shortcut_norm {
        Some(norm) => g.norm(&shortcut, norm, &format!("{name}.shortcut_norm"), ndim),
        None => shortcut,
    };
    let sum = g.node("Add", format!("{name}.add"), &[&y, &shortcut], vec![]);
    match &block.se {
        Some(se) => squeeze_excite(g, &sum, se, &format!("{name}.se_block"), ndim),
        None => sum,
    }
}

fn res_up_block(g: &mut Graph, x: &str, bridge: &str, up: &ResUpBlock, name: &str, ndim: usize) -> String {
    let upsampled = match &up.up {
        Some(conv) => g.conv_transpose(x, conv, &format!("{name}.up")),
        None => g.upsample(x, up.factors, ndim, &format!("{name}.resize")),
    };
    let joined = g.node("Concat", format!("{name}.concat"), &[&upsampled, bridge], vec![("axis", Attr::Int(1))]);
    res_block(g, &joined, &up.conv_block, &format!("{name}.conv_block"), ndim)
}

/// ResUNet++'s forward (`crate::model::resunet_pp`): levels with SE, pooled after level 0,
/// the ASPP bridge, gated residual up-blocks, the ASPP output and the head.
fn resunet_pp(g: &mut Graph, net: &ResUNetPlusPlus, input: &str, ndim: usize) -> String {
    let mut x = match &net.conv_in {
        Some(unit) => conv_unit(g, input, unit, "conv_in", ndim),
        None => input.to_string(),
    };
    let mut skips = Vec::with_capacity(net.down_path.len());
    for (level, block) in net.down_path.iter().enumerate() {
        x = res_block(g, &x, block, &format!("down_path.{level}"), ndim);
        if let Some(se) = net.sqex_blocks.get(level) {
            x = squeeze_excite(g, &x, se, &format!("sqex_blocks.{level}"), ndim);
        }
        if level > 0 {
            x = g.max_pool(&x, net.geometry.pools[level - 1], ndim, &format!("down_path.{level}.pool"));
        }
        skips.push(x.clone());
    }
    x = aspp(g, &x, &net.aspp_bridge, "aspp_bridge", ndim);
    for (step, (gate, up)) in net.attentions.iter().zip(&net.up_paths).enumerate() {
        let skip = skips[skips.len() - 2 - step].clone();
        x = plus_attention(g, &skip, &x, gate, &format!("attentions.0.{step}"), ndim);
        x = res_up_block(g, &x, &skip, up, &format!("up_paths.0.{step}"), ndim);
    }
    x = aspp(g, &x, &net.aspp_out, "aspp_out.0", ndim);
    if let Some(unit) = &net.conv_out {
        x = conv_unit(g, &x, unit, "conv_out.0", ndim);
    }
    head(g, &x, &net.heads, net.contrast.as_ref(), ndim)
}

/// Three dilated conv → ReLU → norm branches, concatenated, then the 1×1 `output` conv.
fn aspp(g: &mut Graph, x: &str, aspp: &Aspp, name: &str, ndim: usize) -> String {
    let branches: Vec<String> = aspp
        .branches
        .iter()
        .enumerate()
        .map(|(i, branch)| {
            let branch_name = format!("{name}.aspp_block{}", i + 1);
            let y = g.conv(x, &branch.conv, &format!("{branch_name}.0"));
            let y = g.node("Relu", format!("{branch_name}.relu"), &[&y], vec![]);
            g.norm(&y, &branch.norm, &format!("{branch_name}.2"), ndim)
        })
        .collect();
    let inputs: Vec<&str> = branches.iter().map(String::as_str).collect();
    let joined = g.node("Concat", format!("{name}.concat"), &inputs, vec![("axis", Attr::Int(1))]);
    g.conv(&joined, &aspp.output, &format!("{name}.output"))
}

/// `x · conv₁(relu(norm(pool(conv₃(relu(norm(skip)))) + conv₃(relu(norm(x))))))`.
fn plus_attention(g: &mut Graph, skip: &str, x: &str, gate: &PlusAttention, name: &str, ndim: usize) -> String {
    let branch = |g: &mut Graph, input: &str, norm, conv, part: &str| {
        let y = g.norm(input, norm, &format!("{name}.{part}.0"), ndim);
        let y = g.node("Relu", format!("{name}.{part}.relu"), &[&y], vec![]);
        g.conv(&y, conv, &format!("{name}.{part}.2"))
    };
    let e = branch(g, skip, &gate.encoder_norm, &gate.encoder_conv, "conv_encoder");
    let e = g.max_pool(&e, gate.pool, ndim, &format!("{name}.conv_encoder.pool"));
    let d = branch(g, x, &gate.decoder_norm, &gate.decoder_conv, "conv_decoder");
    let sum = g.node("Add", format!("{name}.sum"), &[&e, &d], vec![]);
    let attention = branch(g, &sum, &gate.attn_norm, &gate.attn_conv, "conv_attn");
    g.node("Mul", name.to_string(), &[x, &attention], vec![])
}

/// MultiResUNet's forward (`crate::model::multiresunet`).
fn multiresunet(g: &mut Graph, net: &MultiResUnet, input: &str, ndim: usize) -> String {
    let depth = net.respaths.len();
    let mut x = input.to_string();
    let mut skips = Vec::with_capacity(depth);
    for level in 0..depth {
        let features = multires_block(g, &x, &net.blocks[level], &format!("multiresblock{}", level + 1), ndim);
        x = g.max_pool(&features, net.geometry.pools[level], ndim, &format!("pool{}", level + 1));
        skips.push(res_path(g, &features, &net.respaths[level], &format!("respath{}", level + 1), ndim));
    }
    x = multires_block(g, &x, &net.blocks[depth], &format!("multiresblock{}", depth + 1), ndim);
    for (step, up) in net.ups.iter().enumerate() {
        let index = depth + 2 + step;
        let skip = skips.pop().expect("one res path per decoder step");
        let upsampled = g.conv_transpose(&x, up, &format!("upsample{index}"));
        let joined =
            g.node("Concat", format!("upsample{index}.concat"), &[&upsampled, &skip], vec![("axis", Attr::Int(1))]);
        x = multires_block(g, &joined, &net.blocks[depth + 1 + step], &format!("multiresblock{index}"), ndim);
    }
    head(g, &x, &net.heads, net.contrast.as_ref(), ndim)
}

fn conv_bn(g: &mut Graph, x: &str, unit: &ConvBn, name: &str, ndim: usize) -> String {
    let y = g.conv(x, &unit.conv, &format!("{name}.conv1"));
    let y = g.norm(&y, &unit.bn, &format!("{name}.batchnorm"), ndim);
    if unit.relu { g.node("Relu", format!("{name}.relu"), &[&y], vec![]) } else { y }
}

fn multires_block(g: &mut Graph, x: &str, block: &MultiResBlock, name: &str, ndim: usize) -> String {
    let shortcut = conv_bn(g, x, &block.shortcut, &format!("{name}.shortcut"), ndim);
    let a = conv_bn(g, x, &block.conv_3x3, &format!("{name}.conv_3x3"), ndim);
    let b = conv_bn(g, &a, &block.conv_5x5, &format!("{name}.conv_5x5"), ndim);
    let c = conv_bn(g, &b, &block.conv_7x7, &format!("{name}.conv_7x7"), ndim);
    let joined = g.node("Concat", format!("{name}.concat"), &[&a, &b, &c], vec![("axis", Attr::Int(1))]);
    let joined = g.norm(&joined, &block.batch_norm1, &format!("{name}.batch_norm1"), ndim);
    let sum = g.node("Add", format!("{name}.add"), &[&joined, &shortcut], vec![]);
    let y = g.norm(&sum, &block.batch_norm2, &format!("{name}.batch_norm2"), ndim);
    g.node("Relu", format!("{name}.relu"), &[&y], vec![])
}

/// Each step's one norm appears twice in the graph, with the same weights (BiaPy's quirk).
fn res_path(g: &mut Graph, x: &str, path: &ResPath, name: &str, ndim: usize) -> String {
    let mut x = x.to_string();
    for (l, ((shortcut, conv), bn)) in path.shortcuts.iter().zip(&path.convs).zip(&path.bns).enumerate() {
        let skip = conv_bn(g, &x, shortcut, &format!("{name}.shortcuts.{l}"), ndim);
        let y = conv_bn(g, &x, conv, &format!("{name}.convs.{l}"), ndim);
        let y = g.norm(&y, bn, &format!("{name}.bns.{l}.first"), ndim);
        let y = g.node("Relu", format!("{name}.bns.{l}.relu1"), &[&y], vec![]);
        let sum = g.node("Add", format!("{name}.bns.{l}.add"), &[&y, &skip], vec![]);
        let y = g.norm(&sum, bn, &format!("{name}.bns.{l}.second"), ndim);
        x = g.node("Relu", format!("{name}.bns.{l}.relu2"), &[&y], vec![]);
    }
    x
}

/// STU-Net's forward (`crate::model::stunet`).
fn stunet(g: &mut Graph, net: &Stunet, input: &str, ndim: usize) -> String {
    let (bottleneck, encoder) = net.conv_blocks_context.split_last().expect("at least two stages");
    let mut x = input.to_string();
    let mut skips = Vec::with_capacity(encoder.len());
    for (d, blocks) in encoder.iter().enumerate() {
        x = stunet_stage(g, &x, blocks, &format!("conv_blocks_context.{d}"), ndim);
        skips.push(x.clone());
    }
    x = stunet_stage(g, &x, bottleneck, &format!("conv_blocks_context.{}", encoder.len()), ndim);
    let pools = &net.geometry.pools;
    for (u, (up, blocks)) in net.upsample_layers.iter().zip(&net.conv_blocks_localization).enumerate() {
        let name = format!("upsample_layers.{u}");
        let skip = skips.pop().expect("one skip per decoder stage");
        let upsampled = g.upsample_nearest(&x, pools[pools.len() - 1 - u], ndim, &format!("{name}.interpolate"));
        let upsampled = g.conv(&upsampled, up, &format!("{name}.conv"));
        let joined = g.node("Concat", format!("{name}.concat"), &[&upsampled, &skip], vec![("axis", Attr::Int(1))]);
        x = stunet_stage(g, &joined, blocks, &format!("conv_blocks_localization.{u}"), ndim);
    }
    let x = g.conv(&x, &net.seg_outputs[0], "seg_outputs.0");
    g.conv(&x, &net.heads[0], "heads.0")
}

fn stunet_stage(g: &mut Graph, x: &str, blocks: &[BasicResBlock], name: &str, ndim: usize) -> String {
    let mut x = x.to_string();
    for (b, block) in blocks.iter().enumerate() {
        let name = format!("{name}.{b}");
        let y = g.conv(&x, &block.conv1, &format!("{name}.conv1"));
        let y = g.norm(&y, &block.norm1, &format!("{name}.norm1"), ndim);
        let y = g.activation(&y, Activation::LeakyRelu, &format!("{name}.act1"));
        let y = g.conv(&y, &block.conv2, &format!("{name}.conv2"));
        let y = g.norm(&y, &block.norm2, &format!("{name}.norm2"), ndim);
        let residual = match &block.conv3 {
            Some(conv) => g.conv(&x, conv, &format!("{name}.conv3")),
            None => x.clone(),
        };
        let sum = g.node("Add", format!("{name}.add"), &[&y, &residual], vec![]);
        x = g.activation(&sum, Activation::LeakyRelu, &format!("{name}.act2"));
    }
    x
}

/// The U-NeXt's forward (`crate::model::unext`); drop path is the identity at inference.
fn unext(g: &mut Graph, net: &Unext, input: &str, ndim: usize) -> String {
    let x = g.conv(input, &net.stem, "down_path.0.0");
    let mut x = channel_norm(g, &x, &net.stem_norm, "down_path.0.2", ndim);
    let mut skips = Vec::with_capacity(net.levels.len());
    for (i, ((blocks, norm), conv)) in net.levels.iter().zip(&net.down_norms).zip(&net.down_convs).enumerate() {
        x = convnext_blocks(g, &x, blocks, &format!("down_path.{}", i + 1), ndim);
        skips.push(x.clone());
        let normed = channel_norm(g, &x, norm, &format!("downsample_layers.{i}.1"), ndim);
        x = g.conv(&normed, conv, &format!("downsample_layers.{i}.3"));
    }
    x = convnext_blocks(g, &x, &net.bottleneck, "bottleneck", ndim);
    for (step, up) in net.ups.iter().enumerate() {
        let skip = skips.pop().expect("one skip per decoder step");
        x = unext_up(g, &x, &skip, up, &format!("up_paths.0.{step}"), ndim);
    }
    let last = format!("up_paths.0.{}", net.ups.len());
    let x = g.conv_transpose(&x, &net.inverted_stem, &format!("{last}.0"));
    let x = channel_norm(g, &x, &net.inverted_stem_norm, &format!("{last}.2"), ndim);
    head(g, &x, &net.heads, net.contrast.as_ref(), ndim)
}

fn unext_up(g: &mut Graph, x: &str, skip: &str, up: &UpStep, name: &str, ndim: usize) -> String {
    let x = channel_norm(g, x, &up.norm, &format!("{name}.up.0.1"), ndim);
    let upsampled = match &up.up {
        Upsampler::Transpose(conv) => g.conv_transpose(&x, conv, &format!("{name}.up.1")),
        Upsampler::Resize(conv) => {
            let resized = g.upsample(&x, up.factors, ndim, &format!("{name}.up.1"));
            g.conv(&resized, conv, &format!("{name}.up.2"))
        }
    };
    let joined = g.node("Concat", format!("{name}.concat"), &[&upsampled, skip], vec![("axis", Attr::Int(1))]);
    let x = g.conv(&joined, &up.conv_block, &format!("{name}.conv_block.block.0"));
    convnext_blocks(g, &x, &up.cn_block, &format!("{name}.cn_block"), ndim)
}

/// Channels-first ↔ channels-last permutations for a tensor with `ndim` spatial axes.
fn channel_perms(ndim: usize) -> (Vec<i64>, Vec<i64>) {
    let n = ndim as i64 + 2;
    let last = std::iter::once(0).chain(2..n).chain(std::iter::once(1)).collect();
    let first = [0, n - 1].into_iter().chain(1..n - 1).collect();
    (last, first)
}

/// A channel norm's layer norm over the last axis.
fn layer_norm_last(g: &mut Graph, x: &str, norm: &ChannelNorm, name: &str) -> String {
    layer_norm_eps(g, x, &norm.norm, norm.epsilon, name)
}

/// A ViT layer norm (ε [`crate::model::unetr::EPSILON`]) over the last axis.
fn layer_norm(g: &mut Graph, x: &str, norm: &burn::nn::LayerNorm, name: &str) -> String {
    layer_norm_eps(g, x, norm, crate::model::unetr::EPSILON, name)
}

/// Layer norm over the last axis (`LayerNormalization`, opset 17).
fn layer_norm_eps(g: &mut Graph, x: &str, norm: &burn::nn::LayerNorm, epsilon: f64, name: &str) -> String {
    let scale = g.param(format!("{name}.weight"), &norm.gamma);
    let mut inputs = vec![x.to_string(), scale];
    if let Some(beta) = &norm.beta {
        inputs.push(g.param(format!("{name}.bias"), beta));
    }
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let attrs = vec![("axis", Attr::Int(-1)), ("epsilon", Attr::Float(epsilon as f32))];
    g.node("LayerNormalization", name.to_string(), &inputs, attrs)
}

/// A channel norm on a channels-first tensor: transpose, layer norm, transpose back.
fn channel_norm(g: &mut Graph, x: &str, norm: &ChannelNorm, name: &str, ndim: usize) -> String {
    let (last, first) = channel_perms(ndim);
    let t = g.node("Transpose", format!("{name}.to_last"), &[x], vec![("perm", Attr::Ints(last))]);
    let y = layer_norm_last(g, &t, norm, &format!("{name}.ln"));
    g.node("Transpose", name.to_string(), &[&y], vec![("perm", Attr::Ints(first))])
}

/// `x · W + b` on the last axis (burn's `[in, out]` weight).
fn linear(g: &mut Graph, x: &str, fc: &burn::nn::Linear, name: &str) -> String {
    let weight = g.param(format!("{name}.weight"), &fc.weight);
    let product = g.node("MatMul", format!("{name}.matmul"), &[x, &weight], vec![]);
    match &fc.bias {
        Some(bias) => {
            let bias = g.param(format!("{name}.bias"), bias);
            g.node("Add", name.to_string(), &[&product, &bias], vec![])
        }
        None => product,
    }
}

fn convnext_blocks(g: &mut Graph, x: &str, blocks: &[ConvNextBlock], name: &str, ndim: usize) -> String {
    let mut x = x.to_string();
    for (j, block) in blocks.iter().enumerate() {
        x = convnext_block(g, &x, block, &format!("{name}.{j}"), ndim);
    }
    x
}

fn convnext_block(g: &mut Graph, x: &str, block: &ConvNextBlock, name: &str, ndim: usize) -> String {
    let (last, first) = channel_perms(ndim);
    let y = g.conv(x, &block.dwconv, &format!("{name}.block.0"));
    let y = g.node("Transpose", format!("{name}.block.1"), &[&y], vec![("perm", Attr::Ints(last))]);
    let y = layer_norm_last(g, &y, &block.norm, &format!("{name}.block.2"));
    let y = linear(g, &y, &block.fc1, &format!("{name}.block.3"));
    let mut y = g.activation(&y, Activation::Gelu, &format!("{name}.block.4"));
    if let Some(grn) = &block.grn {
        let grn_name = format!("{name}.block.5");
        let norm = g.node(
            "ReduceL2",
            format!("{grn_name}.l2"),
            &[&y],
            vec![("axes", Attr::Ints(vec![1, 2])), ("keepdims", Attr::Int(1))],
        );
        let mean = g.node(
            "ReduceMean",
            format!("{grn_name}.mean"),
            &[&norm],
            vec![("axes", Attr::Ints(vec![-1])), ("keepdims", Attr::Int(1))],
        );
        let eps = g.float(format!("{grn_name}.eps"), &[], &[1e-6]);
        let mean = g.node("Add", format!("{grn_name}.mean_eps"), &[&mean, &eps], vec![]);
        let scale = g.node("Div", format!("{grn_name}.n"), &[&norm, &mean], vec![]);
        let scaled = g.node("Mul", format!("{grn_name}.xn"), &[&y, &scale], vec![]);
        let gamma = g.param(format!("{grn_name}.gamma"), &grn.gamma);
        let beta = g.param(format!("{grn_name}.beta"), &grn.beta);
        let scaled = g.node("Mul", format!("{grn_name}.gamma_xn"), &[&scaled, &gamma], vec![]);
        let shifted = g.node("Add", format!("{grn_name}.plus_beta"), &[&scaled, &beta], vec![]);
        y = g.node("Add", grn_name, &[&shifted, &y], vec![]);
    }
    let fc2 = if block.grn.is_some() { 6 } else { 5 };
    let y = linear(g, &y, &block.fc2, &format!("{name}.block.{fc2}"));
    let mut y = g.node("Transpose", format!("{name}.block.{}", fc2 + 1), &[&y], vec![("perm", Attr::Ints(first))]);
    if let Some(scale) = &block.layer_scale {
        let scale = match scale {
            LayerScale::D2(p) => g.param(format!("{name}.layer_scale"), p),
            LayerScale::D3(p) => g.param(format!("{name}.layer_scale"), p),
        };
        y = g.node("Mul", format!("{name}.scaled"), &[&y, &scale], vec![]);
    }
    g.node("Add", name.to_string(), &[x, &y], vec![])
}

/// UNETR's forward (`crate::model::unetr`), for inputs of exactly the patch size. The class
/// token and the positional embedding enter as one constant: the tokens are padded with a zero
/// row in front and `[cls + pos₀, pos₁, …]` is added, which is BiaPy's `cat` then `+ pos_embed`
/// value for value.
fn unetr(g: &mut Graph, net: &Unetr, input: &str, ndim: usize) -> String {
    let t = &net.topology;
    let e = t.embed as i64;
    let g_axis = t.grid() as i64;
    let embedded = g.conv(input, &net.patch_embed, "patch_embed.proj");
    let flat_shape = g.int64("patch_embed.flat_shape".into(), &[0, e, -1]);
    let flat = g.node("Reshape", "patch_embed.flat".into(), &[&embedded, &flat_shape], vec![]);
    let tokens = g.node("Transpose", "patch_embed.tokens".into(), &[&flat], vec![("perm", Attr::Ints(vec![0, 2, 1]))]);
    let pads = g.int64("cls_token.pads".into(), &[0, 1, 0, 0, 0, 0]);
    let padded = g.node("Pad", "cls_token.slot".into(), &[&tokens, &pads], vec![]);
    let pos = net.pos_embed.val();
    let first = pos.clone().narrow(1, 0, 1) + net.cls_token.val();
    let n_tokens = pos.dims()[1];
    let rest = pos.narrow(1, 1, n_tokens - 1);
    let embedding = g.tensor("cls_token_pos_embed".into(), burn::tensor::Tensor::cat(vec![first, rest], 1));
    let mut x = g.node("Add", "pos_embed.add".into(), &[&padded, &embedding], vec![]);
    let starts = g.int64("tokens.starts".into(), &[1]);
    let ends = g.int64("tokens.ends".into(), &[i64::MAX]);
    let axes = g.int64("tokens.axes".into(), &[1]);
    let drop_cls =
        |g: &mut Graph, x: &str, name: &str| g.node("Slice", name.to_string(), &[x, &starts, &ends, &axes], vec![]);
    let taps = t.skip_blocks();
    let mut skips = Vec::new();
    for (b, block) in net.blocks.iter().enumerate() {
        x = vit_block(g, &x, block, &format!("blocks.{b}"), t.heads);
        if taps.contains(&(b + 1)) {
            skips.insert(0, drop_cls(g, &x, &format!("blocks.{b}.skip")));
        }
    }
    let mut map_shape = vec![0];
    map_shape.extend(std::iter::repeat_n(g_axis, ndim));
    map_shape.push(e);
    let map_shape = g.int64("tokens.map_shape".into(), &map_shape);
    let to_first: Vec<i64> = [0, ndim as i64 + 1].into_iter().chain(1..=ndim as i64).collect();
    let token_map = |g: &mut Graph, x: &str, name: &str| {
        let grid = g.node("Reshape", format!("{name}.grid"), &[x, &map_shape], vec![]);
        g.node("Transpose", name.to_string(), &[&grid], vec![("perm", Attr::Ints(to_first.clone()))])
    };
    let last = drop_cls(g, &x, "blocks.last");
    let last = token_map(g, &last, "bottleneck.in");
    let mut y = g.conv_transpose(&last, &net.bottleneck, "bottleneck");
    for (level, skip) in skips.iter().enumerate() {
        let mut z = token_map(g, skip, &format!("mid_blue_block.{level}.in"));
        for (s, step) in net.mid_blue_block[level].iter().enumerate() {
            z = g.conv_transpose(&z, &step.up, &format!("mid_blue_block.{level}.{}", 2 * s));
            z = conv_unit(g, &z, &step.unit, &format!("mid_blue_block.{level}.{}", 2 * s + 1), ndim);
        }
        let joined =
            g.node("Concat", format!("two_yellow_layers.{level}.concat"), &[&y, &z], vec![("axis", Attr::Int(1))]);
        y = conv_stack(g, &joined, &net.two_yellow_layers[level], &format!("two_yellow_layers.{level}"), ndim);
        y = g.conv_transpose(&y, &net.up_green_layers[level], &format!("up_green_layers.{level}"));
    }
    let levels = t.levels();
    let image_name = format!("two_yellow_layers.{}", levels - 1);
    let image = conv_stack(g, input, &net.two_yellow_layers[levels - 1], &image_name, ndim);
    let joined = g.node("Concat", "two_yellow_layers.last.concat".into(), &[&image, &y], vec![("axis", Attr::Int(1))]);
    let y = conv_stack(g, &joined, &net.two_yellow_layers[levels], &format!("two_yellow_layers.{levels}"), ndim);
    head(g, &y, &net.heads, net.contrast.as_ref(), ndim)
}

/// `x += proj(MHSA(LN(x)))`, `x += fc2(GELU(fc1(LN(x))))` on `[batch, tokens, E]`.
fn vit_block(g: &mut Graph, x: &str, block: &VitBlock, name: &str, heads: usize) -> String {
    let e = block.proj.weight.dims()[0];
    let head_dim = e / heads;
    let normed = layer_norm(g, x, &block.norm1, &format!("{name}.norm1"));
    let qkv = linear(g, &normed, &block.qkv, &format!("{name}.attn.qkv"));
    let split_shape = g.int64(format!("{name}.attn.split_shape"), &[0, 0, 3, heads as i64, head_dim as i64]);
    let split = g.node("Reshape", format!("{name}.attn.split"), &[&qkv, &split_shape], vec![]);
    let perm = vec![("perm", Attr::Ints(vec![2, 0, 3, 1, 4]))];
    let per_head = g.node("Transpose", format!("{name}.attn.heads"), &[&split], perm);
    let pick = |g: &mut Graph, i: i64, what: &str| {
        let index = g.int64(format!("{name}.attn.{what}_index"), &[i]);
        let attrs = vec![("axis", Attr::Int(0))];
        let picked = g.node("Gather", format!("{name}.attn.{what}_picked"), &[&per_head, &index], attrs);
        let axes = g.int64(format!("{name}.attn.{what}_axes"), &[0]);
        g.node("Squeeze", format!("{name}.attn.{what}"), &[&picked, &axes], vec![])
    };
    let (q, k, v) = (pick(g, 0, "q"), pick(g, 1, "k"), pick(g, 2, "v"));
    let scale = g.float(format!("{name}.attn.scale"), &[], &[(head_dim as f32).powf(-0.5)]);
    let q = g.node("Mul", format!("{name}.attn.q_scaled"), &[&q, &scale], vec![]);
    let kt = g.node("Transpose", format!("{name}.attn.kt"), &[&k], vec![("perm", Attr::Ints(vec![0, 1, 3, 2]))]);
    let scores = g.node("MatMul", format!("{name}.attn.scores"), &[&q, &kt], vec![]);
    let weights = g.node("Softmax", format!("{name}.attn.softmax"), &[&scores], vec![("axis", Attr::Int(-1))]);
    let attended = g.node("MatMul", format!("{name}.attn.attended"), &[&weights, &v], vec![]);
    let perm = vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))];
    let back = g.node("Transpose", format!("{name}.attn.back"), &[&attended], perm);
    let merge_shape = g.int64(format!("{name}.attn.merge_shape"), &[0, 0, e as i64]);
    let merged = g.node("Reshape", format!("{name}.attn.merged"), &[&back, &merge_shape], vec![]);
    let attn = linear(g, &merged, &block.proj, &format!("{name}.attn.proj"));
    let x = g.node("Add", format!("{name}.attn.residual"), &[x, &attn], vec![]);
    let normed = layer_norm(g, &x, &block.norm2, &format!("{name}.norm2"));
    let hidden = linear(g, &normed, &block.fc1, &format!("{name}.mlp.fc1"));
    let hidden = g.activation(&hidden, Activation::Gelu, &format!("{name}.mlp.act"));
    let mlp = linear(g, &hidden, &block.fc2, &format!("{name}.mlp.fc2"));
    g.node("Add", name.to_string(), &[&x, &mlp], vec![])
}

/// HRNet's forward (`crate::model::hrnet`): sizes of the interpolations are read off the
/// branches at run time, as PyTorch's `size=` arguments are.
fn hrnet(g: &mut Graph, net: &Hrnet, input: &str, ndim: usize) -> String {
    let x = cbn(g, input, &net.conv1_block, "conv1_block", ndim);
    let mut x = cbn(g, &x, &net.conv2_block, "conv2_block", ndim);
    for (b, block) in net.layer1.iter().enumerate() {
        x = hr_res_block(g, &x, block, &format!("layer1.{b}"), ndim);
    }
    let mut ys = vec![x];
    for (k, (transition, modules)) in net.transitions.iter().zip(&net.stages).enumerate() {
        let mut xs: Vec<String> = transition
            .iter()
            .enumerate()
            .map(|(b, t)| {
                let input = ys.get(b).unwrap_or_else(|| ys.last().expect("a branch")).clone();
                match t {
                    None => input,
                    Some(path) => cbn_path(g, &input, path, &format!("transitions.{k}.{b}"), ndim),
                }
            })
            .collect();
        for (m, module) in modules.iter().enumerate() {
            xs = hr_module(g, xs, module, &format!("stages.{k}.{m}"), ndim);
        }
        ys = xs;
    }
    let mut feats = vec![ys[0].clone()];
    for (b, y) in ys.iter().enumerate().skip(1) {
        feats.push(g.resize_like(y, &ys[0], &format!("head.resize.{b}")));
    }
    let refs: Vec<&str> = feats.iter().map(String::as_str).collect();
    let joined = g.node("Concat", "head.concat".into(), &refs, vec![("axis", Attr::Int(1))]);
    let logits = head(g, &joined, &net.heads, net.contrast.as_ref(), ndim);
    let [_, sy, sx] = crate::model::hrnet::STEP;
    g.upsample(&logits, [1, sy * sy, sx * sx], ndim, "upsample_logits")
}

fn cbn(g: &mut Graph, x: &str, unit: &Cbn, name: &str, ndim: usize) -> String {
    let y = g.conv(x, &unit.conv, &format!("{name}.block.0"));
    let y = g.norm(&y, &unit.norm, &format!("{name}.block.1"), ndim);
    match unit.act {
        Some(act) => g.activation(&y, act, &format!("{name}.block.2")),
        None => y,
    }
}

fn cbn_path(g: &mut Graph, x: &str, path: &CbnPath, name: &str, ndim: usize) -> String {
    let mut x = x.to_string();
    for (k, unit) in path.units.iter().enumerate() {
        let unit_name = if path.sequential { format!("{name}.{k}") } else { name.to_string() };
        x = cbn(g, &x, unit, &unit_name, ndim);
    }
    x
}

fn hr_res_block(g: &mut Graph, x: &str, block: &ResBlock, name: &str, ndim: usize) -> String {
    let mut y = x.to_string();
    for (k, unit) in block.convs.iter().enumerate() {
        y = cbn(g, &y, unit, &format!("{name}.conv{}_block", k + 1), ndim);
    }
    let residual = match &block.downsample {
        Some((conv, norm)) => {
            let r = g.conv(x, conv, &format!("{name}.downsample.0"));
            g.norm(&r, norm, &format!("{name}.downsample.1"), ndim)
        }
        None => x.to_string(),
    };
    let sum = g.node("Add", format!("{name}.add"), &[&y, &residual], vec![]);
    g.node("Relu", format!("{name}.relu"), &[&sum], vec![])
}

fn hr_module(g: &mut Graph, xs: Vec<String>, module: &HrModule, name: &str, ndim: usize) -> Vec<String> {
    let xs: Vec<String> = xs
        .into_iter()
        .zip(&module.branches)
        .enumerate()
        .map(|(b, (x, blocks))| {
            let mut x = x;
            for (k, block) in blocks.iter().enumerate() {
                x = hr_res_block(g, &x, block, &format!("{name}.branches.{b}.{k}"), ndim);
            }
            x
        })
        .collect();
    let mut out = Vec::with_capacity(xs.len());
    for (i, paths) in module.fuse_layers.iter().enumerate() {
        let mut sum = xs[i].clone();
        for (j, path) in paths.iter().enumerate() {
            let fuse = format!("{name}.fuse_layers.{i}.{j}");
            let Some(path) = path else { continue };
            let term = cbn_path(g, &xs[j], path, &fuse, ndim);
            let term = if j > i { g.resize_like(&term, &xs[i], &format!("{fuse}.resize")) } else { term };
            sum = g.node("Add", format!("{fuse}.add"), &[&sum, &term], vec![]);
        }
        out.push(g.activation(&sum, module.act, &format!("{name}.fuse_act.{i}")));
    }
    out
}

/// The output head: `heads.0`, or `LOSS.CONTRAST`'s segmentation head at inference (3×3
/// convolution, norm, 1×1 convolution; its dropout is the identity). The projection head is
/// training-only and not exported.
fn head(g: &mut Graph, x: &str, heads: &[ConvNd], contrast: Option<&ContrastHeads>, ndim: usize) -> String {
    let Some(pair) = contrast else {
        return g.conv(x, &heads[0], "heads.0");
    };
    let y = g.conv(x, &pair.conv, "heads.0");
    let y = match &pair.norm {
        HeadNorm::Layer(norm) => g.norm(&y, norm, "heads.1", ndim),
        HeadNorm::Channel(norm) => channel_norm(g, &y, norm, "heads.1", ndim),
    };
    g.conv(&y, &pair.classifier, "heads.3")
}
