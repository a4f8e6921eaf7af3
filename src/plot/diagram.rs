//! A U-shaped diagram of an encoder–decoder network: one box per block with its output shape,
//! encoder levels descending on the left, the bottleneck at the bottom, decoder levels rising on
//! the right, the head at the top right, and an arrow for every skip connection.

use std::path::Path;

use plotters::prelude::*;

use super::{PlotError, finish, register_font, temporary_path};

/// Where a block sits in the U.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    Encoder(usize),
    Bottleneck,
    Decoder(usize),
    Head,
}

/// One box of the diagram.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub kind: BlockKind,
    pub name: String,
    /// Output shape, e.g. `[16, 256, 256]`.
    pub shape: String,
    pub n_params: usize,
}

const BOX_W: i32 = 230;
const BOX_H: i32 = 54;
const ROW: i32 = 84;

/// Draws `blocks` into `path` (PNG).
pub fn network_diagram(path: &Path, title: &str, blocks: &[Block]) -> Result<(), PlotError> {
    register_font();
    let depth = blocks.iter().filter(|b| matches!(b.kind, BlockKind::Encoder(_))).count() as i32;
    let size = (900u32, (130 + (depth + 2) * ROW) as u32);
    let tmp = temporary_path(path);
    draw(&tmp, size, title, blocks, depth).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        PlotError::new(path, e)
    })?;
    finish(&tmp, path)
}

fn position(kind: BlockKind, depth: i32, width: i32) -> (i32, i32) {
    let top = 60 + ROW;
    match kind {
        BlockKind::Encoder(level) => (40, top + level as i32 * ROW),
        BlockKind::Decoder(level) => (width - 40 - BOX_W, top + level as i32 * ROW),
        BlockKind::Bottleneck => ((width - BOX_W) / 2, top + depth * ROW),
        BlockKind::Head => (width - 40 - BOX_W, 55),
    }
}

fn draw(
    tmp: &Path,
    size: (u32, u32),
    title: &str,
    blocks: &[Block],
    depth: i32,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(tmp, size).into_drawing_area();
    root.fill(&WHITE)?;
    let width = size.0 as i32;
    root.draw(&Text::new(title.to_string(), (20, 12), ("sans-serif", 20).into_font()))?;
    let centre = |kind| {
        let (x, y) = position(kind, depth, width);
        (x + BOX_W / 2, y + BOX_H / 2)
    };
    let arrow_style = ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(2);
    for level in 0..depth as usize {
        let (ex, ey) = centre(BlockKind::Encoder(level));
        let (dx, dy) = centre(BlockKind::Decoder(level));
        root.draw(&PathElement::new(
            vec![(ex + BOX_W / 2, ey), (dx - BOX_W / 2, dy)],
            RGBColor(44, 160, 44).stroke_width(2),
        ))?;
        let next = if level + 1 < depth as usize { BlockKind::Encoder(level + 1) } else { BlockKind::Bottleneck };
        root.draw(&PathElement::new(vec![(ex, ey + BOX_H / 2), centre(next)], arrow_style))?;
        let below = if level + 1 < depth as usize { BlockKind::Decoder(level + 1) } else { BlockKind::Bottleneck };
        root.draw(&PathElement::new(vec![centre(below), (dx, dy + BOX_H / 2)], arrow_style))?;
    }
    let (hx, hy) = centre(BlockKind::Head);
    let (d0x, d0y) = centre(BlockKind::Decoder(0));
    root.draw(&PathElement::new(vec![(d0x, d0y - BOX_H / 2), (hx, hy + BOX_H / 2)], arrow_style))?;
    for block in blocks {
        let (x, y) = position(block.kind, depth, width);
        let fill = match block.kind {
            BlockKind::Encoder(_) => RGBColor(214, 230, 245),
            BlockKind::Decoder(_) => RGBColor(253, 224, 199),
            BlockKind::Bottleneck => RGBColor(225, 215, 240),
            BlockKind::Head => RGBColor(220, 240, 220),
        };
        root.draw(&Rectangle::new([(x, y), (x + BOX_W, y + BOX_H)], fill.filled()))?;
        root.draw(&Rectangle::new([(x, y), (x + BOX_W, y + BOX_H)], BLACK.stroke_width(1)))?;
        root.draw(&Text::new(block.name.clone(), (x + 8, y + 6), ("sans-serif", 15).into_font()))?;
        let detail = format!("{}  ·  {} params", block.shape, block.n_params);
        root.draw(&Text::new(detail, (x + 8, y + 29), ("sans-serif", 13).into_font()))?;
    }
    let legend = "blue: encoder   purple: bottleneck   orange: decoder   green lines: skip connections";
    root.draw(&Text::new(legend, (20, size.1 as i32 - 24), ("sans-serif", 13).into_font()))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_u() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model_plot.png");
        let mut blocks = Vec::new();
        for level in 0..2 {
            blocks.push(Block {
                kind: BlockKind::Encoder(level),
                name: format!("encoder {level}"),
                shape: "[16, 64, 64]".into(),
                n_params: 10,
            });
            blocks.push(Block {
                kind: BlockKind::Decoder(level),
                name: format!("decoder {level}"),
                shape: "[16, 64, 64]".into(),
                n_params: 10,
            });
        }
        blocks.push(Block {
            kind: BlockKind::Bottleneck,
            name: "bottleneck".into(),
            shape: "[64, 16, 16]".into(),
            n_params: 99,
        });
        blocks.push(Block { kind: BlockKind::Head, name: "head".into(), shape: "[1, 64, 64]".into(), n_params: 17 });
        network_diagram(&path, "unet", &blocks).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 5000);
    }
}
