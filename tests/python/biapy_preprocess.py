"""BiaPy 3.7.1's own `preprocess_data` on images, for tests/it/preprocess.rs.

Usage: biapy_preprocess.py < JOBS_JSON

JOBS_JSON is a list of jobs {"image": PATH, "settings": {...}, "ndim": "2d"|"3d", "kind":
"image"|"mask"}, run in one process (BiaPy's import is the slow part). IMAGE is read with BiaPy's
`load_img_data`; "settings" holds the `DATA.PREPROCESS` section (keys as in BiaPy's config, e.g.
{"RESIZE": {"ENABLE": true, ...}}), merged over BiaPy's defaults. Prints, after a line `RESULTS`,
one line per job: {"shape": [...], "dtype": "...", "values": [...]} (row-major, channels last).
"""

import json
import sys

import numpy as np
from biapy.config.config import Config
from biapy.data.data_manipulation import load_img_data
from biapy.data.pre_processing import preprocess_data


def run(path: str, settings: dict, ndim: str, kind: str) -> dict:
    cfg = Config("/tmp", "preprocess_check").get_cfg_defaults()
    cfg.defrost()
    for section, values in settings.items():
        for key, value in values.items():
            if isinstance(value, list):
                value = tuple(value)
            setattr(getattr(cfg.DATA.PREPROCESS, section), key, value)
    img, _ = load_img_data(path, is_3d=(ndim == "3d"))
    if kind == "mask":
        out = preprocess_data(cfg.DATA.PREPROCESS, y_data=[img], is_2d=(ndim == "2d"), is_y_mask=True)[0]
    else:
        out = preprocess_data(cfg.DATA.PREPROCESS, x_data=[img], is_2d=(ndim == "2d"))[0]
    out = np.asarray(out)
    return {"shape": list(out.shape), "dtype": str(out.dtype), "values": out.astype(float).ravel().tolist()}


def main() -> None:
    jobs = json.load(sys.stdin)
    results = [run(j["image"], j["settings"], j["ndim"], j["kind"]) for j in jobs]
    # BiaPy prints as it goes: the results follow a marker line.
    print("RESULTS")
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
