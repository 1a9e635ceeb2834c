#!/usr/bin/env python3
"""Checks a Kiln Hugging Face GPT-2 export against the llm.c model file of the same model.

    check_hf_export.py EXPORT_DIR MODEL.bin
    check_hf_export.py --make-hub MODEL.bin OUT_DIR

Reads EXPORT_DIR/model.safetensors with safetensors.numpy (the library transformers uses) and
MODEL.bin (llm.c version 3, float32) with numpy.fromfile, and checks what GPT2LMHeadModel
expects (FORMATS.md section 4.6): every name with the transformer. prefix, float32, the HF
shapes, no lm_head, the four Conv1D matrices transposed from llm.c's (out, in) layout, wte cut
to V rows, everything else equal; and config.json's sizes. Exits 1 with a message on the first
difference, so the Swift test that runs it fails.

With --make-hub it goes the other way: it converts MODEL.bin to a folder laid out as the hub's
openai-community/gpt2 (names without the transformer. prefix, the attn.bias / attn.masked_bias
buffers, a tied lm_head.weight copy, the hub's config.json keys), written by safetensors'
own save_file, for Kiln's importer to read back.
"""
import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def llmc_tensors(path):
    header = np.fromfile(path, dtype="<i4", count=256)
    if header[0] != 20240326 or header[1] != 3:
        fail(f"{path}: not an llm.c version 3 model file (magic {header[0]}, version {header[1]})")
    maxT, V, L, NH, C, Vp = (int(x) for x in header[2:8])
    shapes = [("wte", (Vp, C)), ("wpe", (maxT, C)), ("ln1w", (L, C)), ("ln1b", (L, C)),
              ("qkvw", (L, 3 * C, C)), ("qkvb", (L, 3 * C)), ("attprojw", (L, C, C)), ("attprojb", (L, C)),
              ("ln2w", (L, C)), ("ln2b", (L, C)), ("fcw", (L, 4 * C, C)), ("fcb", (L, 4 * C)),
              ("fcprojw", (L, C, 4 * C)), ("fcprojb", (L, C)), ("lnfw", (C,)), ("lnfb", (C,))]
    flat = np.fromfile(path, dtype="<f4", offset=1024)
    total = sum(int(np.prod(s)) for _, s in shapes)
    if flat.size != total:
        fail(f"{path}: {flat.size} floats after the header, the header implies {total}")
    tensors, at = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape))
        tensors[name] = flat[at:at + n].reshape(shape)
        at += n
    return dict(maxT=maxT, V=V, L=L, NH=NH, C=C, Vp=Vp), tensors


def main(export_dir, llmc_path):
    cfg, llm = llmc_tensors(llmc_path)
    V, L, C = cfg["V"], cfg["L"], cfg["C"]

    with open(f"{export_dir}/config.json") as f:
        config = json.load(f)
    for key, want in [("model_type", "gpt2"), ("architectures", ["GPT2LMHeadModel"]), ("vocab_size", V),
                      ("n_positions", cfg["maxT"]), ("n_embd", C), ("n_layer", L), ("n_head", cfg["NH"]),
                      ("activation_function", "gelu_new"), ("layer_norm_epsilon", 1e-5),
                      ("tie_word_embeddings", True)]:
        if config.get(key) != want:
            fail(f"config.json {key} = {config.get(key)!r}, expected {want!r}")

    path = f"{export_dir}/model.safetensors"
    with safe_open(path, framework="np") as f:
        if f.metadata() != {"format": "pt"}:
            fail(f"metadata {f.metadata()}, transformers needs format pt")
    sd = load_file(path)

    # name -> (llm.c tensor, transposed) as GPT2LMHeadModel.state_dict() names them.
    expected = {
        "transformer.wte.weight": (llm["wte"][:V], False),
        "transformer.wpe.weight": (llm["wpe"], False),
        "transformer.ln_f.weight": (llm["lnfw"], False),
        "transformer.ln_f.bias": (llm["lnfb"], False),
    }
    per_layer = [("ln_1.weight", "ln1w", False), ("ln_1.bias", "ln1b", False),
                 ("attn.c_attn.weight", "qkvw", True), ("attn.c_attn.bias", "qkvb", False),
                 ("attn.c_proj.weight", "attprojw", True), ("attn.c_proj.bias", "attprojb", False),
                 ("ln_2.weight", "ln2w", False), ("ln_2.bias", "ln2b", False),
                 ("mlp.c_fc.weight", "fcw", True), ("mlp.c_fc.bias", "fcb", False),
                 ("mlp.c_proj.weight", "fcprojw", True), ("mlp.c_proj.bias", "fcprojb", False)]
    for l in range(L):
        for hf, ours, transposed in per_layer:
            expected[f"transformer.h.{l}.{hf}"] = (llm[ours][l], transposed)

    if set(sd) != set(expected):
        fail(f"names differ: extra {sorted(set(sd) - set(expected))}, missing {sorted(set(expected) - set(sd))}")
    for name, (ours, transposed) in expected.items():
        want = ours.T if transposed else ours
        got = sd[name]
        if got.dtype != np.float32:
            fail(f"{name} is {got.dtype}, expected float32")
        if got.shape != want.shape:
            fail(f"{name} has shape {got.shape}, expected {want.shape}")
        if not np.array_equal(got, want):
            fail(f"{name} differs from the llm.c tensor{' (transposed)' if transposed else ''}")
    print(f"ok: {len(expected)} tensors, L={L} C={C} V={V}, Conv1D transposes and wte rows match {llmc_path}")


def make_hub(llmc_path, out_dir):
    import os
    from safetensors.numpy import save_file

    cfg, llm = llmc_tensors(llmc_path)
    V, L, T = cfg["V"], cfg["L"], cfg["maxT"]
    sd = {"wte.weight": llm["wte"][:V], "wpe.weight": llm["wpe"],
          "ln_f.weight": llm["lnfw"], "ln_f.bias": llm["lnfb"],
          "lm_head.weight": llm["wte"][:V].copy()}
    names = [("ln_1.weight", "ln1w", False), ("ln_1.bias", "ln1b", False),
             ("attn.c_attn.weight", "qkvw", True), ("attn.c_attn.bias", "qkvb", False),
             ("attn.c_proj.weight", "attprojw", True), ("attn.c_proj.bias", "attprojb", False),
             ("ln_2.weight", "ln2w", False), ("ln_2.bias", "ln2b", False),
             ("mlp.c_fc.weight", "fcw", True), ("mlp.c_fc.bias", "fcb", False),
             ("mlp.c_proj.weight", "fcprojw", True), ("mlp.c_proj.bias", "fcprojb", False)]
    for l in range(L):
        for hf, ours, transposed in names:
            sd[f"h.{l}.{hf}"] = llm[ours][l].T if transposed else llm[ours][l]
        sd[f"h.{l}.attn.bias"] = np.tril(np.ones((T, T), dtype=np.float32)).reshape(1, 1, T, T)
        sd[f"h.{l}.attn.masked_bias"] = np.array(-1e4, dtype=np.float32)
    os.makedirs(out_dir, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in sd.items()}, f"{out_dir}/model.safetensors",
              metadata={"format": "pt"})
    config = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
              "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
              "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": T, "n_embd": cfg["C"],
              "n_head": cfg["NH"], "n_layer": L, "n_positions": T, "resid_pdrop": 0.1,
              "summary_activation": None, "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
              "summary_type": "cls_index", "summary_use_proj": True,
              "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
              "vocab_size": V}
    with open(f"{out_dir}/config.json", "w") as f:
        json.dump(config, f, indent=2)
    print(f"ok: wrote {len(sd)} tensors to {out_dir}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--make-hub":
        make_hub(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3:
        main(sys.argv[1], sys.argv[2])
    else:
        print(__doc__)
        sys.exit(2)
