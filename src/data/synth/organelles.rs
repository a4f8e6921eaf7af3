//! Mitochondria: elliptic cross-sections of tubes that drift and breathe through the stack,
//! their non-overlapping placement, their rasterisation into labels, and the final composition
//! of the image (background, organelles, distractors, noise).

use std::f32::consts::{PI, TAU};

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use super::texture::{Background, Dims, Gaussian, z_extent};

/// `owner` value of a voxel near no organelle.
const NONE: u16 = u16::MAX;

/// Most placement attempts per sample.
const MAX_TRIES: usize = 300;

/// One elliptic cross-section in one slice.
#[derive(Clone, Copy, Debug)]
pub(super) struct Section {
    cy: f32,
    cx: f32,
    /// Semi-axis along the `u` (major) direction.
    a: f32,
    /// Semi-axis along the `v` (minor) direction.
    b: f32,
    cos: f32,
    sin: f32,
}

impl Section {
    /// Coordinates of pixel `(y, x)` in the ellipse frame `(u, v)`.
    fn frame(&self, y: f32, x: f32) -> (f32, f32) {
        let (dy, dx) = (y - self.cy, x - self.cx);
        (dx * self.cos + dy * self.sin, -dx * self.sin + dy * self.cos)
    }

    /// Approximate signed distance (pixels, negative inside) to the ellipse at frame
    /// coordinates `(u, v)`: the first-order estimate `(r - 1) / |grad r|`, accurate near the
    /// boundary, which is the only place where it matters.
    fn signed_distance(&self, u: f32, v: f32) -> f32 {
        let (qa, qb) = (u / self.a, v / self.b);
        let r = qa.hypot(qb);
        let g = (qa / self.a).hypot(qb / self.b);
        if g < 1e-6 {
            return -self.a.min(self.b);
        }
        (r - 1.0) * r / g
    }

    /// Calls `f(flat index, signed distance)` for every pixel of slice `z` within 2 px of the
    /// ellipse (and clipped to the image).
    fn visit(&self, dims: Dims, z: usize, mut f: impl FnMut(usize, f32)) {
        let reach = self.a.max(self.b) + 2.0;
        let lo = |c: f32| (c - reach).floor().max(0.0) as usize;
        let hi = |c: f32, n: usize| ((c + reach).ceil().max(0.0) as usize).min(n);
        for y in lo(self.cy)..hi(self.cy, dims.ny) {
            for x in lo(self.cx)..hi(self.cx, dims.nx) {
                let (u, v) = self.frame(y as f32, x as f32);
                let d = self.signed_distance(u, v);
                if d < 2.0 {
                    f((z * dims.ny + y) * dims.nx + x, d);
                }
            }
        }
    }
}

/// Striped interior texture: dark parallel bands (cristae) roughly across the major axis,
/// slightly tilted and wavy.
#[derive(Clone, Copy, Debug)]
struct Cristae {
    tilt_cos: f32,
    tilt_sin: f32,
    period: f32,
    phase: f32,
    depth: f32,
    sharpness: i32,
    wave_amp: f32,
    wave_len: f32,
}

impl Cristae {
    fn random(rng: &mut ChaCha8Rng) -> Self {
        let tilt = rng.random_range(-0.35..0.35f32);
        Self {
            tilt_cos: tilt.cos(),
            tilt_sin: tilt.sin(),
            period: rng.random_range(6.0..11.0),
            phase: rng.random_range(0.0..TAU),
            depth: rng.random_range(18.0..32.0),
            sharpness: rng.random_range(2..5),
            wave_amp: rng.random_range(0.0..2.0),
            wave_len: rng.random_range(8.0..20.0),
        }
    }

    /// Darkness (grey levels) at ellipse-frame coordinates `(u, v)`.
    fn darkness(&self, u: f32, v: f32) -> f32 {
        let s = u * self.tilt_cos + v * self.tilt_sin + self.wave_amp * (TAU * v / self.wave_len).sin();
        let c = (TAU * s / self.period + self.phase).cos().max(0.0);
        self.depth * c.powi(self.sharpness)
    }
}

/// Where an organelle is in every slice: a tube whose centre drifts linearly plus a small
/// wobble, whose axes breathe and taper to rounded ends, and which turns slowly.
#[derive(Clone, Copy, Debug)]
struct Path {
    z_mid: f32,
    half: f32,
    centre: [f32; 2],
    drift: [f32; 2],
    wobble: [f32; 2],
    wobble_phase: [f32; 2],
    wobble_freq: f32,
    a: f32,
    b: f32,
    angle: f32,
    spin: f32,
    breathe: f32,
    breathe_phase: f32,
    breathe_freq: f32,
}

impl Path {
    fn random(rng: &mut ChaCha8Rng, dims: Dims) -> Self {
        let lim = dims.ny.min(dims.nx) as f32;
        let b = rng.random_range(11.0..24.0f32).min(lim / 8.0).max(4.0);
        let a = (b * rng.random_range(1.25..2.5f32)).min(lim / 3.0).max(b);
        let centre = [rng.random_range(0.0..dims.ny as f32), rng.random_range(0.0..dims.nx as f32)];
        let (z_mid, half) = z_extent(rng, dims, 0.4..1.2);
        let mut r = |lo: f32, hi: f32| rng.random_range(lo..hi);
        Self {
            z_mid,
            half,
            centre,
            drift: [r(-0.8, 0.8), r(-0.8, 0.8)],
            wobble: [r(0.0, 1.5), r(0.0, 1.5)],
            wobble_phase: [r(0.0, TAU), r(0.0, TAU)],
            wobble_freq: r(0.15, 0.4),
            a,
            b,
            angle: r(0.0, PI),
            spin: r(-0.02, 0.02),
            breathe: r(0.0, 0.12),
            breathe_phase: r(0.0, TAU),
            breathe_freq: r(0.1, 0.3),
        }
    }

    /// The cross-section in slice `z`, if the tube reaches it.
    fn section(&self, z: usize) -> Option<Section> {
        let dz = z as f32 - self.z_mid;
        let cap = if self.half.is_finite() {
            let u = dz / self.half;
            if u.abs() > 1.0 {
                return None;
            }
            (1.0 - u * u).sqrt().max(0.4)
        } else {
            1.0
        };
        let scale = cap * (1.0 + self.breathe * (self.breathe_freq * dz + self.breathe_phase).sin());
        let wobble = |k: usize| self.wobble[k] * (self.wobble_freq * dz + self.wobble_phase[k]).sin();
        let (sin, cos) = (self.angle + self.spin * dz).sin_cos();
        Some(Section {
            cy: self.centre[0] + self.drift[0] * dz + wobble(0),
            cx: self.centre[1] + self.drift[1] * dz + wobble(1),
            a: self.a * scale,
            b: self.b * scale,
            cos,
            sin,
        })
    }
}

/// One mitochondrion: its path and its appearance.
#[derive(Clone, Copy, Debug)]
pub(super) struct Organelle {
    path: Path,
    /// Membrane ring thickness in pixels (inside the boundary).
    thickness: f32,
    /// How much darker than the background the membrane ring is.
    membrane_dark: f32,
    /// Interior mean relative to the smooth background level.
    interior_offset: f32,
    cristae: Cristae,
}

impl Organelle {
    fn random(rng: &mut ChaCha8Rng, dims: Dims) -> Self {
        Self {
            path: Path::random(rng, dims),
            thickness: rng.random_range(2.0..3.0),
            membrane_dark: rng.random_range(42.0..62.0),
            interior_offset: rng.random_range(-14.0..4.0),
            cristae: Cristae::random(rng),
        }
    }

    /// Calls `f(flat index, signed distance)` for every voxel near this organelle.
    fn visit(&self, dims: Dims, mut f: impl FnMut(usize, f32)) {
        for z in 0..dims.nz {
            if let Some(s) = self.path.section(z) {
                s.visit(dims, z, &mut f);
            }
        }
    }
}

/// Places organelles until a random target foreground fraction (12-26 %) is reached. A
/// candidate is rejected when more than 2 % of it overlaps an accepted one (grown by 1 px),
/// so organelles at most touch. At least one organelle is always placed.
pub(super) fn place(rng: &mut ChaCha8Rng, dims: Dims) -> Vec<Organelle> {
    let target = rng.random_range(0.12..0.26f32) * dims.len() as f32;
    let mut occupied = vec![false; dims.len()];
    let (mut filled, mut placed) = (0usize, Vec::new());
    for _ in 0..MAX_TRIES {
        if filled as f32 >= target {
            break;
        }
        let candidate = Organelle::random(rng, dims);
        let (mut inside, mut overlap) = (0usize, 0usize);
        candidate.visit(dims, |i, d| {
            if d <= 0.0 {
                inside += 1;
                overlap += usize::from(occupied[i]);
            }
        });
        if inside == 0 || overlap * 50 > inside {
            continue;
        }
        candidate.visit(dims, |i, d| occupied[i] |= d <= 1.0);
        filled += inside;
        placed.push(candidate);
    }
    placed
}

/// Which organelle (if any) each voxel belongs to, and its signed distance to that one.
pub(super) struct Raster {
    owner: Vec<u16>,
    dist: Vec<f32>,
    /// `sections[z * n_organelles + k]`.
    sections: Vec<Option<Section>>,
    n: usize,
}

impl Raster {
    /// Rasterises `organelles`: where they touch, a voxel goes to the one it is deepest in.
    pub fn new(organelles: &[Organelle], dims: Dims) -> Self {
        let n = organelles.len();
        let mut owner = vec![NONE; dims.len()];
        let mut dist = vec![f32::INFINITY; dims.len()];
        for (k, o) in organelles.iter().enumerate() {
            o.visit(dims, |i, d| {
                if d < 1.0 && d < dist[i] {
                    dist[i] = d;
                    owner[i] = k as u16;
                }
            });
        }
        let sections = (0..dims.nz).flat_map(|z| organelles.iter().map(move |o| o.path.section(z))).collect();
        Self { owner, dist, sections, n }
    }

    /// The label of every voxel: with 2 classes 1 = organelle; with 3 classes 1 = membrane
    /// ring, 2 = interior; 0 = background.
    pub fn labels(&self, organelles: &[Organelle], n_classes: usize) -> Vec<u8> {
        let label = |(&k, &d): (&u16, &f32)| {
            if k == NONE || d > 0.0 {
                0
            } else if n_classes == 2 || d > -organelles[k as usize].thickness {
                1
            } else {
                2
            }
        };
        self.owner.iter().zip(&self.dist).map(label).collect()
    }
}

/// Everything the image is composed from.
pub(super) struct Scene<'a> {
    pub dims: Dims,
    pub organelles: &'a [Organelle],
    pub raster: &'a Raster,
    pub background: &'a Background,
    pub distractors: &'a [f32],
    pub noise_sigma: f32,
}

impl Scene<'_> {
    /// Noise-free grey level of voxel `i` at `(z, y, x)`.
    fn clean(&self, i: usize, z: usize, y: usize, x: usize) -> f32 {
        let bg = &self.background;
        let mut v = bg.low[i] + bg.texture[i];
        let mut inside = 0.0;
        let k = self.raster.owner[i];
        if k != NONE {
            let o = &self.organelles[k as usize];
            let s = self.raster.sections[z * self.raster.n + k as usize].expect("owner has a section");
            let (d, t) = (self.raster.dist[i], o.thickness);
            let (u, w) = s.frame(y as f32, x as f32);
            inside = (0.5 - d).clamp(0.0, 1.0);
            let fade = (-(d + t) - 0.5).clamp(0.0, 1.0);
            let interior = bg.low[i] + o.interior_offset + bg.matrix[i] - fade * o.cristae.darkness(u, w);
            let band = (t / 2.0 + 0.5 - (d + t / 2.0).abs()).clamp(0.0, 1.0);
            v += inside * (interior - v) - o.membrane_dark * band;
        }
        v - (1.0 - inside) * self.distractors[i]
    }

    /// The final u8 image: clean image plus Gaussian noise, rounded and clamped.
    pub fn render(&self, noise: &mut Gaussian) -> Vec<u8> {
        let d = self.dims;
        let mut out = Vec::with_capacity(d.len());
        for z in 0..d.nz {
            for y in 0..d.ny {
                for x in 0..d.nx {
                    let i = out.len();
                    let v = self.clean(i, z, y, x) + self.noise_sigma * noise.next();
                    out.push(v.round().clamp(0.0, 255.0) as u8);
                }
            }
        }
        out
    }
}
