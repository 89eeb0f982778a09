#!/usr/bin/env python3
"""Regenerates samples/ and the compact layer trace from the PyTorch LightGlue fixtures
(shared/fixtures/lightglue_disk, produced by the reference implementation).

* samples/<pair>/image{0,1}.safetensors: `sparseglue match` feature files (keypoints [N,2],
  descriptors [N,128], image_size [2] = (width, height), scores [N]; float32), plus gt.safetensors
  for the homography pair.
* Tests/SparseGlueTests/Fixtures/lightglue/trace_layers_1_7.safetensors: for layers 1..7 of the
  256-keypoint trace, the full layer outputs (`layer{l}_cross_desc{0,1}`, the next layer's input),
  the first 32 rows of the self-block outputs, token confidences and matchabilities (4 MB instead
  of the 7.4 MB of the seven per-layer files).

Needs only the Python standard library and numpy:

    python3 scripts/make-fixtures.py ../shared/fixtures/lightglue_disk .
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32}


def read(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def write(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        dtype = {np.dtype(v): k for k, v in DTYPES.items()}[array.dtype]
        blob = array.tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main(fixtures, root):
    out = Path(root) / "samples"
    for pair in ["sacre_coeur", "dsc_0410_0411", "sacre_coeur_H"]:
        x = read(Path(fixtures) / pair / "inputs.safetensors")
        (Path(out) / pair).mkdir(parents=True, exist_ok=True)
        for side in (0, 1):
            write(Path(out) / pair / f"image{side}.safetensors", {
                "keypoints": x[f"kpts{side}"].astype(np.float32),
                "descriptors": x[f"desc{side}"].astype(np.float32),
                "image_size": x[f"image_size{side}"].astype(np.float32),
                "scores": x[f"scores{side}"].astype(np.float32),
            }, {"source": f"shared/fixtures/lightglue_disk/{pair}/inputs.safetensors, image {side}",
                "features": "DISK (kornia 0.9.0, depth weights), 1024 keypoints by score"})
        if pair == "sacre_coeur_H":
            gt = read(Path(fixtures) / pair / "gt.safetensors")
            write(Path(out) / pair / "gt.safetensors",
                  {k: gt[k] for k in ["H_0to1", "gt_matches0", "gt_matches1"]},
                  {"source": "shared/fixtures/lightglue_disk/sacre_coeur_H/gt.safetensors",
                   "gt_matches": "j if H(kpts0[i]) and kpts1[j] are mutual nearest within 3 px, -1 none, -2 outside"})


    trace, layers = Path(fixtures) / "trace_sacre_coeur_256", {}
    for l in range(1, 8):
        t = read(trace / f"layer_{l}.safetensors")
        for side in (0, 1):
            layers[f"layer{l}_cross_desc{side}"] = t[f"cross_desc{side}"]
            layers[f"layer{l}_self_desc{side}_rows32"] = t[f"self_desc{side}"][:32]
            layers[f"layer{l}_token_conf{side}"] = t[f"token_conf{side}"]
            layers[f"layer{l}_matchability{side}"] = t[f"matchability{side}"]
    write(Path(root) / "Tests/SparseGlueTests/Fixtures/lightglue/trace_layers_1_7.safetensors", layers,
          {"source": "shared/fixtures/lightglue_disk/trace_sacre_coeur_256/layer_{1..7}.safetensors"})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
