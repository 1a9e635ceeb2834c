#!/usr/bin/env python3
"""Runs a Kiln Hugging Face GPT-2 export in transformers and compares its logits with Kiln's.

    check_hf_logits.py EXPORT_DIR IDS.bin LOGITS.bin B T

IDS.bin holds B×T int32 token ids, LOGITS.bin Kiln's B×T×V float32 logits for them (little
endian). The export is loaded with transformers' GPT2LMHeadModel when PyTorch is installed, and
otherwise with FlaxGPT2LMHeadModel (transformers' JAX port of the same model, which reads
model.safetensors through its PyTorch-to-Flax converter: the same names, Conv1D layout and tied
head that GPT2LMHeadModel needs). Prints "ok: ..." and exits 0 when the logits agree to fp32
tolerance, exits 1 with a message when they differ, and 3 when neither framework can be imported.
"""
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
import numpy as np


def run_transformers(export_dir, ids):
    try:
        import torch
        from transformers import GPT2LMHeadModel
    except ImportError:
        pass
    else:
        model = GPT2LMHeadModel.from_pretrained(export_dir).eval()
        with torch.no_grad():
            return "GPT2LMHeadModel (PyTorch)", model(torch.from_numpy(ids.astype(np.int64))).logits.numpy()
    try:
        from transformers import FlaxGPT2LMHeadModel
    except ImportError as e:
        print(f"skipped: neither PyTorch nor Flax transformers can be imported ({e})")
        sys.exit(3)
    model = FlaxGPT2LMHeadModel.from_pretrained(export_dir, from_pt=True)
    return "FlaxGPT2LMHeadModel (JAX)", np.asarray(model(ids).logits)


def main(export_dir, ids_path, logits_path, B, T):
    ids = np.fromfile(ids_path, dtype="<i4").reshape(B, T)
    ours = np.fromfile(logits_path, dtype="<f4")
    if ours.size % (B * T) != 0:
        print(f"FAIL: {logits_path} holds {ours.size} floats, not a multiple of B×T = {B * T}")
        sys.exit(1)
    ours = ours.reshape(B, T, -1)
    name, theirs = run_transformers(export_dir, ids)
    if theirs.shape != ours.shape:
        print(f"FAIL: {name} gives logits of shape {theirs.shape}, Kiln {ours.shape}")
        sys.exit(1)
    err = float(np.max(np.abs(theirs - ours)) / max(1e-12, float(np.max(np.abs(ours)))))
    if not np.isfinite(err) or err > 1e-4:
        print(f"FAIL: {name} logits differ from Kiln's: max |difference| / max |logit| = {err:.3g}")
        sys.exit(1)
    print(f"ok: {name} logits equal Kiln's on {B}×{T} tokens, V={ours.shape[2]} "
          f"(max |difference| / max |logit| = {err:.2g})")


if __name__ == "__main__":
    if len(sys.argv) != 6:
        print(__doc__)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
