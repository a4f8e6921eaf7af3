"""Zarr and HDF5 files written and read by the reference libraries, for tests/it/arrays.rs.

Usage:
  arrays.py write SRC DST FORMAT ORDER   every SRC/*.tif (z, y, x) written to DST in FORMAT
                                         (zarr2: zarr-python, format 2, its default Blosc;
                                         zarr3: format 3, its default Zstandard; h5: h5py,
                                         gzip, the dataset nested as `volumes/raw`), its axes
                                         permuted to ORDER (T and C of length 1).
  arrays.py read SRC DST ORDER           every SRC/*.tif compared with DST/<stem>.zarr or .h5
                                         read by zarr-python / h5py in ORDER; prints
                                         {"compared": N, "equal": N} or exits 1 naming the file.
"""

import json
import pathlib
import sys

import h5py
import numpy as np
import tifffile
import zarr


def to_order(zyx: np.ndarray, order: str) -> np.ndarray:
    """(z, y, x) as the axes of ORDER (T and C of length 1)."""
    full = "TZCYX"
    data = zyx[np.newaxis, :, np.newaxis]
    perm = [full.index(a) for a in order] + [full.index(a) for a in full if a not in order]
    moved = data.transpose(perm)
    return moved.reshape(moved.shape[: len(order)])


def first_array(path: pathlib.Path) -> np.ndarray:
    if path.suffix == ".h5":
        with h5py.File(path, "r") as f:
            name = []
            f.visit(lambda n: name.append(n) if isinstance(f[n], h5py.Dataset) else None)
            return np.array(f[sorted(name)[0]])
    node = zarr.open(str(path), mode="r")
    while isinstance(node, zarr.Group):
        node = node[sorted(node.keys())[0]]
    return np.array(node)


def write(src: pathlib.Path, dst: pathlib.Path, fmt: str, order: str) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for tif in sorted(src.glob("*.tif")):
        data = to_order(tifffile.imread(tif), order)
        if fmt == "h5":
            with h5py.File(dst / f"{tif.stem}.h5", "w") as f:
                f.create_dataset("volumes/raw", data=data, chunks=True, compression="gzip")
        else:
            version = 2 if fmt == "zarr2" else 3
            array = zarr.create_array(
                store=str(dst / f"{tif.stem}.zarr"),
                shape=data.shape,
                chunks=tuple(max(1, n // 2) for n in data.shape),
                dtype=data.dtype,
                zarr_format=version,
            )
            array[...] = data


def read(src: pathlib.Path, dst: pathlib.Path, order: str) -> None:
    compared = 0
    for tif in sorted(src.glob("*.tif")):
        expected = to_order(tifffile.imread(tif), order)
        found = [p for p in (dst / f"{tif.stem}.zarr", dst / f"{tif.stem}.h5") if p.exists()]
        got = first_array(found[0])
        if got.shape != expected.shape or got.dtype != expected.dtype or not np.array_equal(got, expected):
            print(f"{found[0]}: {got.shape} {got.dtype} differs from {tif}", file=sys.stderr)
            sys.exit(1)
        compared += 1
    print(json.dumps({"compared": compared, "equal": compared}))


def main() -> None:
    if sys.argv[1] == "write":
        write(pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        read(pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]), sys.argv[4])


if __name__ == "__main__":
    main()
