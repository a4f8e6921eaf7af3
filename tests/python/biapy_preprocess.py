"""BiaPy 3.7.1's own `preprocess_data` on one image, for tests/it/preprocess.rs.

Usage: biapy_preprocess.py IMAGE SETTINGS_JSON {2d|3d} {image|mask}

IMAGE is read with BiaPy's `load_img_data`; SETTINGS_JSON holds the `DATA.PREPROCESS` section
(keys as in BiaPy's config, e.g. {"RESIZE": {"ENABLE": true, ...}}), merged over BiaPy's
defaults. Prints {"shape": [...], "dtype": "...", "values": [...]} (row-major, channels last).
"""

import json
import sys

import numpy as np
from biapy.config.config import Config
from biapy.data.data_manipulation import load_img_data
from biapy.data.pre_processing import preprocess_data


def main() -> None:
    path, settings, ndim, kind = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
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
    print(json.dumps({"shape": list(out.shape), "dtype": str(out.dtype), "values": out.astype(float).ravel().tolist()}))


if __name__ == "__main__":
    main()
