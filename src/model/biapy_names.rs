//! D9: BiaPy's PyTorch state-dict names for the U-Net family's parameters, so a checkpoint
//! segsweep writes loads into BiaPy's model (`strict=True`) and a BiaPy checkpoint loads here.
//! Maps burn's module paths (`Unet.down_path.0.block.1.conv.D2.weight`) to BiaPy's
//! (`down_path.0.block.1.block.0.weight`), spec §7.3. Pure: names in, names out.
//!
//! ```
//! use segsweep::model::biapy_names::to_biapy;
//! assert_eq!(to_biapy("Unet.up_paths.2.up.Transpose.D2.weight").as_deref(), Some("up_paths.0.2.up.0.weight"));
//! assert_eq!(to_biapy("Unet.down_path.0.block.1.norm.Instance.gamma").as_deref(), Some("down_path.0.block.1.block.1.weight"));
//! ```

/// Architecture variants burn prefixes paths with.
const VARIANTS: &[&str] = &["Unet", "AttentionUnet", "Seunet", "Resunet"];

/// PyTorch's name of a normalisation parameter (`gamma` → `weight`, `beta` → `bias`).
fn norm_param(name: &str) -> Option<&str> {
    match name {
        "gamma" => Some("weight"),
        "beta" => Some("bias"),
        "running_mean" | "running_var" => Some(name),
        _ => None,
    }
}

/// `block.{j}.conv.D2.weight` → `block.{j}.block.0.weight`; `block.{j}.norm.X.gamma` →
/// `block.{j}.block.1.weight`.
fn conv_unit(segments: &[&str]) -> Option<String> {
    match segments {
        ["block", j, "conv", _, param] => Some(format!("block.{j}.block.0.{param}")),
        ["block", j, "norm", _, param] => Some(format!("block.{j}.block.1.{}", norm_param(param)?)),
        _ => None,
    }
}

/// BiaPy's name of burn parameter path `path`, or `None` when the path is not part of the
/// U-Net layout this module knows.
pub fn to_biapy(path: &str) -> Option<String> {
    let mut segments: Vec<&str> = path.split('.').collect();
    if segments.first().is_some_and(|s| VARIANTS.contains(s)) {
        segments.remove(0);
    }
    match segments.as_slice() {
        ["down_path", i, rest @ ..] => Some(format!("down_path.{i}.{}", conv_unit(rest)?)),
        ["bottleneck", rest @ ..] => Some(format!("bottleneck.{}", conv_unit(rest)?)),
        ["up_paths", d, "up", "Transpose", _, param] => Some(format!("up_paths.0.{d}.up.0.{param}")),
        ["up_paths", d, "up_norm", _, param] => Some(format!("up_paths.0.{d}.up.1.{}", norm_param(param)?)),
        ["up_paths", d, "conv_block", rest @ ..] => Some(format!("up_paths.0.{d}.conv_block.{}", conv_unit(rest)?)),
        ["heads", h, _, param] => Some(format!("heads.{h}.{param}")),
        _ => None,
    }
}

/// The burn → BiaPy renaming of `paths`, when every path maps, no two collide and the trainable
/// ones are exactly `expected` (BiaPy's names for this model); `None` otherwise (the caller then
/// keeps burn's names).
pub fn renaming(paths: &[String], expected: &[String]) -> Option<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> =
        paths.iter().map(|p| to_biapy(p).map(|b| (p.clone(), b))).collect::<Option<_>>()?;
    let mut names: Vec<&String> = pairs.iter().map(|(_, b)| b).collect();
    names.sort();
    names.dedup();
    if names.len() != pairs.len() {
        return None;
    }
    let buffers = |n: &&String| n.ends_with("running_mean") || n.ends_with("running_var");
    let mut trainable: Vec<&String> = names.into_iter().filter(|n| !buffers(n)).collect();
    let mut wanted: Vec<&String> = expected.iter().collect();
    trainable.sort();
    wanted.sort();
    (trainable == wanted).then_some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layer_kind_maps() {
        let cases = [
            ("Unet.bottleneck.block.0.conv.D2.bias", "bottleneck.block.0.block.0.bias"),
            ("Unet.bottleneck.block.1.norm.Batch.running_var", "bottleneck.block.1.block.1.running_var"),
            ("Unet.up_paths.0.up_norm.Instance.beta", "up_paths.0.0.up.1.bias"),
            ("Unet.up_paths.3.conv_block.block.0.conv.D3.weight", "up_paths.0.3.conv_block.block.0.block.0.weight"),
            ("Unet.heads.0.D2.weight", "heads.0.weight"),
        ];
        for (burn, biapy) in cases {
            assert_eq!(to_biapy(burn).as_deref(), Some(biapy), "{burn}");
        }
        assert_eq!(to_biapy("Unet.somewhere.else.weight"), None);
    }

    #[test]
    fn renaming_needs_the_exact_expected_set() {
        let paths = vec!["Unet.heads.0.D2.weight".to_string(), "Unet.heads.0.D2.bias".to_string()];
        let expected = vec!["heads.0.weight".to_string(), "heads.0.bias".to_string()];
        assert_eq!(renaming(&paths, &expected).unwrap().len(), 2);
        assert!(renaming(&paths, &expected[..1]).is_none());
        assert!(renaming(&["Unet.odd.weight".to_string()], &[]).is_none());
    }
}
