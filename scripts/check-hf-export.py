#!/usr/bin/env python3
"""Load a Kiln Hugging Face GPT-2 export with transformers and compare its logits to Kiln's.

Usage:  python3 scripts/check-hf-export.py EXPORT_DIR [--tokens T.npy --logits L.npy] [--atol 1e-3]

EXPORT_DIR is what `Checkpoint.writeHF(directory:)` (tune export --hf) wrote: model.safetensors
and config.json. With --tokens (int array, shape (B, T)) and --logits (float32, shape (B, T, V)
or (B, T, Vp) as Kiln's forward pass computes them; pad columns are ignored), the script runs
GPT2LMHeadModel on the tokens and requires the two sets of logits to agree within --atol.
Without them it loads the model, runs one forward pass and prints the logits' shape.

transformers and torch are optional (about 5 GB, not in requirements-test.txt): when they are
not importable the script prints a skip message and exits 0, so test runs without them pass.
Exit status 1 means the export did not load or the logits differ.
"""

import argparse
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export_dir")
    ap.add_argument("--tokens", help=".npy of token ids, shape (B, T)")
    ap.add_argument("--logits", help=".npy of Kiln's logits for those tokens, shape (B, T, V or Vp)")
    ap.add_argument("--atol", type=float, default=1e-3,
                    help="largest allowed |difference| (float32 sums in another order differ by ~1e-5)")
    args = ap.parse_args()
    if (args.tokens is None) != (args.logits is None):
        ap.error("--tokens and --logits go together")

    try:
        import numpy as np
        import torch
        from transformers import GPT2LMHeadModel
    except ImportError as e:
        print(f"skipped: {e.name} is not installed (pip install torch transformers to run this check)")
        return 0

    model = GPT2LMHeadModel.from_pretrained(args.export_dir)
    model.eval()
    V = model.config.vocab_size
    # Weight tying survived the round trip: the output layer is the token embedding.
    if model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr():
        print("FAIL: lm_head is not tied to wte")
        return 1

    if args.tokens is None:
        tokens = torch.zeros((1, min(8, model.config.n_positions)), dtype=torch.long)
    else:
        tokens = torch.from_numpy(np.load(args.tokens).astype(np.int64))
        if tokens.ndim != 2:
            print(f"FAIL: tokens have shape {tuple(tokens.shape)}, expected (B, T)")
            return 1
    with torch.no_grad():
        logits = model(tokens).logits.float().numpy()
    print(f"loaded {args.export_dir}: {model.config.n_layer} layers, n_embd {model.config.n_embd}, "
          f"vocab {V}; logits {logits.shape}")
    if args.logits is None:
        return 0

    reference = np.load(args.logits).astype(np.float32)
    if reference.shape[:2] != logits.shape[:2] or reference.shape[2] < V:
        print(f"FAIL: reference logits have shape {reference.shape}, model gives {logits.shape}")
        return 1
    diff = np.abs(reference[:, :, :V] - logits)
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    print(f"max |Kiln - transformers| = {diff.max():.3g} at (b, t, v) = {tuple(int(i) for i in worst)}, "
          f"mean {diff.mean():.3g}")
    if not diff.max() <= args.atol:
        print(f"FAIL: logits differ by more than {args.atol}")
        return 1
    print("ok: logits agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
