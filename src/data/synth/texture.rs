//! Background of a synthetic EM image: smooth multi-scale value noise, uneven illumination,
//! per-pixel Gaussian noise, and dark distractor structures (membranes of other organelles,
//! vesicles) that belong to the background class.
//!
//! Every field is a flat `(z, y, x)` row-major `Vec<f32>` in grey levels, drawn from the RNG it
//! is given and from nothing else.

use std::f32::consts::TAU;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

/// Spatial shape `(z, y, x)` of one sample; `nz == 1` for 2D.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Dims {
    pub nz: usize,
    pub ny: usize,
    pub nx: usize,
}

impl Dims {
    /// Number of voxels.
    pub fn len(&self) -> usize {
        self.nz * self.ny * self.nx
    }

    /// Pixels per slice.
    pub fn plane(&self) -> usize {
        self.ny * self.nx
    }

    /// Image area relative to a 256 x 256 slice: densities are quoted per such slice.
    pub fn area_scale(&self) -> f32 {
        self.plane() as f32 / 65536.0
    }
}

/// One octave of value noise: lattice spacing in pixels (`cell`) and in slices (`cell_z`), and
/// amplitude in grey levels (roughly the standard deviation of the octave).
#[derive(Clone, Copy, Debug)]
pub(super) struct Octave {
    pub cell: f32,
    pub cell_z: f32,
    pub amp: f32,
}

/// A standard normal source (Box–Muller) that uses both values of each pair.
pub(super) struct Gaussian {
    rng: ChaCha8Rng,
    spare: Option<f32>,
}

impl Gaussian {
    pub fn new(rng: ChaCha8Rng) -> Self {
        Self { rng, spare: None }
    }

    /// Next N(0, 1) draw.
    pub fn next(&mut self) -> f32 {
        if let Some(v) = self.spare.take() {
            return v;
        }
        let u1 = 1.0 - self.rng.random::<f32>(); // (0, 1]: ln is finite
        let u2 = self.rng.random::<f32>();
        let r = (-2.0 * u1.ln()).sqrt();
        self.spare = Some(r * (TAU * u2).sin());
        r * (TAU * u2).cos()
    }
}

/// The smooth background fields of one sample.
pub(super) struct Background {
    /// Slowly varying part: base grey level, illumination gradient, very coarse noise.
    pub low: Vec<f32>,
    /// Cytoplasm texture: a few octaves of value noise, zero mean.
    pub texture: Vec<f32>,
    /// Fine granular texture used inside organelles instead of `texture`, zero mean.
    pub matrix: Vec<f32>,
}

impl Background {
    /// Draws all background fields. Coarse octaves are correlated across `z`; the finest ones
    /// change from slice to slice.
    pub fn generate(rng: &mut ChaCha8Rng, dims: Dims) -> Self {
        let mut low = vec![rng.random_range(128.0..148.0f32); dims.len()];
        let swing = rng.random_range(10.0..28.0);
        add_illumination(rng, dims, swing, &mut low);
        let coarse = Octave { cell: 96.0, cell_z: 24.0, amp: rng.random_range(6.0..12.0) };
        add_value_noise(rng, dims, coarse, &mut low);

        let mut texture = vec![0.0; dims.len()];
        for (cell, cell_z, amp) in [(24.0, 6.0, 9.0), (11.0, 3.0, 6.0), (5.0, 1.5, 4.0)] {
            let amp = amp * rng.random_range(0.8..1.25f32);
            add_value_noise(rng, dims, Octave { cell, cell_z, amp }, &mut texture);
        }
        let mut matrix = vec![0.0; dims.len()];
        let amp = rng.random_range(4.0..7.0);
        add_value_noise(rng, dims, Octave { cell: 2.5, cell_z: 1.0, amp }, &mut matrix);
        Self { low, texture, matrix }
    }
}

/// Adds an illumination plane of total swing `swing` grey levels across the slice, in a random
/// direction, with a slight drift along `z`.
fn add_illumination(rng: &mut ChaCha8Rng, dims: Dims, swing: f32, out: &mut [f32]) {
    let theta = rng.random_range(0.0..TAU);
    let (sin, cos) = theta.sin_cos();
    let extent = ((dims.ny * dims.ny + dims.nx * dims.nx) as f32).sqrt();
    let z_slope = rng.random_range(-0.15..0.15f32);
    let (cy, cx, cz) = (dims.ny as f32 / 2.0, dims.nx as f32 / 2.0, dims.nz as f32 / 2.0);
    let mut i = 0;
    for z in 0..dims.nz {
        for y in 0..dims.ny {
            for x in 0..dims.nx {
                let along = (x as f32 - cx) * cos + (y as f32 - cy) * sin;
                out[i] += swing * along / extent + z_slope * (z as f32 - cz);
                i += 1;
            }
        }
    }
}

/// Lattice index and smoothstep weight of every coordinate along one axis.
fn axis_weights(n: usize, cell: f32, offset: f32) -> (Vec<usize>, Vec<f32>) {
    (0..n)
        .map(|i| {
            let f = (i as f32 + offset) / cell;
            let i0 = f.floor();
            let t = f - i0;
            (i0 as usize, t * t * (3.0 - 2.0 * t))
        })
        .unzip()
}

/// Adds one octave of value noise: uniform random values on a lattice with a random phase,
/// interpolated with cubic (smoothstep) weights along each axis. Scaled so that its standard
/// deviation is roughly `oct.amp`.
pub(super) fn add_value_noise(rng: &mut ChaCha8Rng, dims: Dims, oct: Octave, out: &mut [f32]) {
    let (cz, cxy) = (oct.cell_z.max(1.0), oct.cell.max(1.0));
    let (iz, tz) = axis_weights(dims.nz, cz, rng.random_range(0.0..cz));
    let (iy, ty) = axis_weights(dims.ny, cxy, rng.random_range(0.0..cxy));
    let (ix, tx) = axis_weights(dims.nx, cxy, rng.random_range(0.0..cxy));
    let g = [iz[dims.nz - 1] + 2, iy[dims.ny - 1] + 2, ix[dims.nx - 1] + 2];
    // Uniform on [-1, 1] has sd 0.577; interpolation shrinks it to about 0.35 on average.
    let scale = oct.amp / 0.35;
    let lattice: Vec<f32> = (0..g[0] * g[1] * g[2]).map(|_| scale * rng.random_range(-1.0..1.0f32)).collect();
    let at = |z: usize, y: usize, x: usize| lattice[(z * g[1] + y) * g[2] + x];
    let lerp = |a: f32, b: f32, t: f32| a + (b - a) * t;
    let mut i = 0;
    for z in 0..dims.nz {
        let (z0, wz) = (iz[z], tz[z]);
        for y in 0..dims.ny {
            let (y0, wy) = (iy[y], ty[y]);
            for x in 0..dims.nx {
                let (x0, wx) = (ix[x], tx[x]);
                let plane = |zz: usize| {
                    let top = lerp(at(zz, y0, x0), at(zz, y0, x0 + 1), wx);
                    let bottom = lerp(at(zz, y0 + 1, x0), at(zz, y0 + 1, x0 + 1), wx);
                    lerp(top, bottom, wy)
                };
                out[i] += lerp(plane(z0), plane(z0 + 1), wz);
                i += 1;
            }
        }
    }
}

/// Extent in `z` of a structure: centre slice and half-length. 2D samples get an unbounded
/// extent so that every structure is present in their only slice.
pub(super) fn z_extent(rng: &mut ChaCha8Rng, dims: Dims, half: std::ops::Range<f32>) -> (f32, f32) {
    if dims.nz == 1 {
        return (0.0, f32::INFINITY);
    }
    let nz = dims.nz as f32;
    (rng.random_range(0.0..nz), (rng.random_range(half) * nz).max(2.0))
}

/// Max-stamps an anti-aliased dark disk of `radius` pixels into one slice. With `lumen < 1`
/// only a 1.5 px rim gets the full `dark`; the inside gets `lumen` times it.
fn stamp_disk(slice: &mut [f32], dims: Dims, centre: [f32; 2], radius: f32, dark: f32, lumen: f32) {
    let reach = radius + 1.0;
    let y0 = (centre[0] - reach).floor().max(0.0) as usize;
    let x0 = (centre[1] - reach).floor().max(0.0) as usize;
    let y1 = ((centre[0] + reach).ceil().max(0.0) as usize).min(dims.ny);
    let x1 = ((centre[1] + reach).ceil().max(0.0) as usize).min(dims.nx);
    for y in y0..y1 {
        for x in x0..x1 {
            let dist = (y as f32 - centre[0]).hypot(x as f32 - centre[1]);
            let outer = (radius + 0.5 - dist).clamp(0.0, 1.0);
            let inner = (radius - 1.0 - dist).clamp(0.0, 1.0);
            let v = dark * (outer - (1.0 - lumen) * inner);
            let px = &mut slice[y * dims.nx + x];
            *px = px.max(v);
        }
    }
}

/// Darkness (grey levels to subtract) of the background distractors: thin curvy membranes of
/// other structures and small vesicles. They are background in the mask.
pub(super) fn distractors(rng: &mut ChaCha8Rng, dims: Dims) -> Vec<f32> {
    let mut dark = vec![0.0; dims.len()];
    let n_curves = (dims.area_scale() * rng.random_range(4.0..9.0f32)).round() as usize;
    for _ in 0..n_curves.max(1) {
        stamp_curve(rng, dims, &mut dark);
    }
    // Vesicles span about 2r + 1 slices: keep their density per slice independent of nz.
    let depth = if dims.nz == 1 { 1.0 } else { (dims.nz as f32 / 9.0).max(1.0) };
    let per_slice = dims.area_scale() * rng.random_range(8.0..16.0f32);
    for _ in 0..(per_slice * depth).round() as usize {
        stamp_vesicle(rng, dims, &mut dark);
    }
    dark
}

/// A curvy line (a sheet in 3D, drifting across slices), a random walk with smoothly changing
/// heading, stamped as a chain of small disks.
fn stamp_curve(rng: &mut ChaCha8Rng, dims: Dims, dark: &mut [f32]) {
    let (ny, nx) = (dims.ny as f32, dims.nx as f32);
    let mut p = [rng.random_range(0.0..ny), rng.random_range(0.0..nx)];
    let mut heading = rng.random_range(0.0..TAU);
    let mut turn = 0.0f32;
    let len = rng.random_range(0.2..0.8f32) * ny.max(nx);
    let mut points = Vec::with_capacity(len as usize + 1);
    for _ in 0..len as usize {
        points.push(p);
        turn = (0.9 * turn + rng.random_range(-0.04..0.04f32)).clamp(-0.12, 0.12);
        heading += turn;
        p = [p[0] + heading.sin(), p[1] + heading.cos()];
    }
    let radius = rng.random_range(0.6..1.3f32);
    let depth = rng.random_range(30.0..60.0f32);
    let (z_mid, half) = z_extent(rng, dims, 0.2..0.8);
    let drift = [rng.random_range(-0.8..0.8f32), rng.random_range(-0.8..0.8f32)];
    for z in 0..dims.nz {
        let dz = z as f32 - z_mid;
        if dz.abs() > half {
            continue;
        }
        let slice = &mut dark[z * dims.plane()..(z + 1) * dims.plane()];
        for q in &points {
            let c = [q[0] + drift[0] * dz, q[1] + drift[1] * dz];
            stamp_disk(slice, dims, c, radius, depth, 1.0);
        }
    }
}

/// A vesicle: a sphere of radius 2-7 px; small ones are solid dark blobs, larger ones dark
/// rings with a lighter lumen.
fn stamp_vesicle(rng: &mut ChaCha8Rng, dims: Dims, dark: &mut [f32]) {
    let c = [rng.random_range(0.0..dims.ny as f32), rng.random_range(0.0..dims.nx as f32)];
    let zc = if dims.nz == 1 { 0.0 } else { rng.random_range(0.0..dims.nz as f32) };
    let r = rng.random_range(2.0..7.0f32);
    let depth = rng.random_range(30.0..55.0f32);
    let lumen = if r > 4.5 { rng.random_range(0.15..0.45f32) } else { 1.0 };
    for z in 0..dims.nz {
        let rz2 = r * r - (z as f32 - zc).powi(2);
        if rz2 < 1.0 {
            continue;
        }
        let rz = rz2.sqrt();
        let lumen = if rz < 3.0 { 1.0 } else { lumen };
        let slice = &mut dark[z * dims.plane()..(z + 1) * dims.plane()];
        stamp_disk(slice, dims, c, rz, depth, lumen);
    }
}
