#!/usr/bin/env python3
"""An independent GPT-2 in numpy, float64: forward and a hand-written backward.

It is the golden reference for Kiln's Swift GPT (Tests/GPTModelTests/GoldenTests.swift) and
shares no code with it. Usage:

    reference_gpt2.py CONFIG.json PARAMS.bin BATCH.json OUT.bin

CONFIG.json  the model shape: maxSeqLen, vocabSize, paddedVocabSize, numLayers, numHeads, channels
PARAMS.bin   raw little-endian float32 parameters in llm.c's checkpoint order, no header
BATCH.json   B, T, inputs, targets (B*T each), optional weights (loss weights, 0 = masked) and
             documentIDs (attention stays within a run of equal ids; positions restart there)
OUT.bin      little-endian float64: mean loss (sum of w*loss / sum of w), the B*T per-token
             losses, the B*T*Vp logits, then the gradient of the mean loss for every parameter
             in checkpoint order

Conventions (llm.c / GPT-2): pre-LayerNorm blocks with eps 1e-5, GELU in its tanh form, causal
attention scaled by 1/sqrt(head size), output head tied to wte, softmax over the first V logits
only (pad logits get no probability and no gradient).
"""
import json
import sys

import numpy as np

EPS = 1e-5
GELU_SCALE = np.sqrt(2.0 / np.pi)


def parameter_shapes(cfg):
    V, Vp, maxT = cfg["vocabSize"], cfg["paddedVocabSize"], cfg["maxSeqLen"]
    L, C = cfg["numLayers"], cfg["channels"]
    return [
        ("wte", (Vp, C)), ("wpe", (maxT, C)),
        ("ln1w", (L, C)), ("ln1b", (L, C)),
        ("qkvw", (L, 3 * C, C)), ("qkvb", (L, 3 * C)),
        ("attprojw", (L, C, C)), ("attprojb", (L, C)),
        ("ln2w", (L, C)), ("ln2b", (L, C)),
        ("fcw", (L, 4 * C, C)), ("fcb", (L, 4 * C)),
        ("fcprojw", (L, C, 4 * C)), ("fcprojb", (L, C)),
        ("lnfw", (C,)), ("lnfb", (C,)),
    ]


def load_parameters(path, cfg):
    flat = np.fromfile(path, dtype="<f4").astype(np.float64)
    params, at = {}, 0
    for name, shape in parameter_shapes(cfg):
        n = int(np.prod(shape))
        params[name] = flat[at:at + n].reshape(shape)
        at += n
    if at != flat.size:
        raise SystemExit(f"{path}: {flat.size} floats, the config needs {at}")
    return params


def layernorm_forward(x, w, b):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)  # biased, as PyTorch and llm.c
    rstd = 1.0 / np.sqrt(var + EPS)
    xhat = (x - mean) * rstd
    return xhat * w + b, (xhat, rstd)


def layernorm_backward(dout, cache, w):
    xhat, rstd = cache
    dw = (dout * xhat).sum(axis=(0, 1))
    db = dout.sum(axis=(0, 1))
    g = dout * w
    dx = rstd * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))
    return dx, dw, db


def documents(B, T, ids):
    """Run index and position of every token: a document is a run of equal ids in a row."""
    run = np.zeros((B, T), dtype=np.int64)
    pos = np.zeros((B, T), dtype=np.int64)
    for b in range(B):
        for t in range(1, T):
            same = ids is None or ids[b, t] == ids[b, t - 1]
            run[b, t] = run[b, t - 1] + (0 if same else 1)
            pos[b, t] = pos[b, t - 1] + 1 if same else 0
    return run, pos


def main():
    cfg_path, params_path, batch_path, out_path = sys.argv[1:5]
    cfg = json.load(open(cfg_path))
    batch = json.load(open(batch_path))
    P = load_parameters(params_path, cfg)
    V, Vp, L, NH, C = cfg["vocabSize"], cfg["paddedVocabSize"], cfg["numLayers"], cfg["numHeads"], cfg["channels"]
    B, T = batch["B"], batch["T"]
    hs = C // NH
    inp = np.array(batch["inputs"], dtype=np.int64).reshape(B, T)
    tgt = np.array(batch["targets"], dtype=np.int64).reshape(B, T)
    w = np.ones((B, T)) if batch.get("weights") is None else np.array(batch["weights"], dtype=np.float64).reshape(B, T)
    ids = None if batch.get("documentIDs") is None else np.array(batch["documentIDs"]).reshape(B, T)
    assert (inp >= 0).all() and (inp < V).all()
    assert ((tgt >= 0) & (tgt < V) | (w == 0)).all()

    run, pos = documents(B, T, ids)
    mask = np.tril(np.ones((T, T), dtype=bool))[None] & (run[:, :, None] == run[:, None, :])  # (B, T, T)
    mask = mask[:, None]  # (B, 1, T, T), broadcast over heads

    # ---- forward ----
    x = P["wte"][inp] + P["wpe"][pos]
    layers = []
    for l in range(L):
        c = {"x": x}
        ln1, c["ln1c"] = layernorm_forward(x, P["ln1w"][l], P["ln1b"][l])
        qkv = ln1 @ P["qkvw"][l].T + P["qkvb"][l]
        q, k, v = (qkv[..., i * C:(i + 1) * C].reshape(B, T, NH, hs).transpose(0, 2, 1, 3) for i in range(3))
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hs)
        s = np.where(mask, s, -np.inf)
        s = s - s.max(-1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(-1, keepdims=True)
        y = (p @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        x2 = x + y @ P["attprojw"][l].T + P["attprojb"][l]
        ln2, c["ln2c"] = layernorm_forward(x2, P["ln2w"][l], P["ln2b"][l])
        h = ln2 @ P["fcw"][l].T + P["fcb"][l]
        th = np.tanh(GELU_SCALE * (h + 0.044715 * h ** 3))
        g = 0.5 * h * (1 + th)
        x3 = x2 + g @ P["fcprojw"][l].T + P["fcprojb"][l]
        c.update(ln1=ln1, q=q, k=k, v=v, p=p, y=y, x2=x2, ln2=ln2, h=h, th=th, g=g)
        layers.append(c)
        x = x3
    lnf, lnfc = layernorm_forward(x, P["lnfw"], P["lnfb"])
    logits = lnf @ P["wte"].T  # (B, T, Vp): the tied head
    real = logits[..., :V]
    m = real.max(-1, keepdims=True)
    lse = m + np.log(np.exp(real - m).sum(-1, keepdims=True))
    probs = np.exp(real - lse)
    safe_tgt = np.where(w > 0, tgt, 0)
    losses = np.where(w > 0, lse[..., 0] - np.take_along_axis(real, safe_tgt[..., None], -1)[..., 0], 0.0)
    loss = (w * losses).sum() / w.sum()

    # ---- backward of the mean loss ----
    G = {name: np.zeros(shape) for name, shape in parameter_shapes(cfg)}
    scale = w / w.sum()
    dlogits = np.zeros((B, T, Vp))
    dlogits[..., :V] = probs * scale[..., None]
    bb, tt = np.nonzero(w > 0)
    dlogits[bb, tt, tgt[bb, tt]] -= scale[bb, tt]
    G["wte"] += dlogits.reshape(-1, Vp).T @ lnf.reshape(-1, C)
    dlnf = dlogits @ P["wte"]
    dx, G["lnfw"], G["lnfb"] = layernorm_backward(dlnf, lnfc, P["lnfw"])
    for l in reversed(range(L)):
        c = layers[l]
        # x3 = x2 + fcproj(g): dx flows to both
        G["fcprojw"][l] = dx.reshape(-1, C).T @ c["g"].reshape(-1, 4 * C)
        G["fcprojb"][l] = dx.sum(axis=(0, 1))
        dg = dx @ P["fcprojw"][l]
        h, th = c["h"], c["th"]
        dh = dg * (0.5 * (1 + th) + 0.5 * h * (1 - th ** 2) * GELU_SCALE * (1 + 3 * 0.044715 * h ** 2))
        G["fcw"][l] = dh.reshape(-1, 4 * C).T @ c["ln2"].reshape(-1, C)
        G["fcb"][l] = dh.sum(axis=(0, 1))
        dln2 = dh @ P["fcw"][l]
        d, G["ln2w"][l], G["ln2b"][l] = layernorm_backward(dln2, c["ln2c"], P["ln2w"][l])
        dx2 = dx + d
        # x2 = x + attproj(y)
        G["attprojw"][l] = dx2.reshape(-1, C).T @ c["y"].reshape(-1, C)
        G["attprojb"][l] = dx2.sum(axis=(0, 1))
        dy = (dx2 @ P["attprojw"][l]).reshape(B, T, NH, hs).transpose(0, 2, 1, 3)
        p, q, k, v = c["p"], c["q"], c["k"], c["v"]
        dp = dy @ v.transpose(0, 1, 3, 2)
        dv = p.transpose(0, 1, 3, 2) @ dy
        ds = p * (dp - (p * dp).sum(-1, keepdims=True)) / np.sqrt(hs)
        dq = ds @ k
        dk = ds.transpose(0, 1, 3, 2) @ q
        dqkv = np.concatenate([t.transpose(0, 2, 1, 3).reshape(B, T, C) for t in (dq, dk, dv)], axis=-1)
        G["qkvw"][l] = dqkv.reshape(-1, 3 * C).T @ c["ln1"].reshape(-1, C)
        G["qkvb"][l] = dqkv.sum(axis=(0, 1))
        dln1 = dqkv @ P["qkvw"][l]
        d, G["ln1w"][l], G["ln1b"][l] = layernorm_backward(dln1, c["ln1c"], P["ln1w"][l])
        dx = dx2 + d
    np.add.at(G["wte"], inp.reshape(-1), dx.reshape(-1, C))
    np.add.at(G["wpe"], pos.reshape(-1), dx.reshape(-1, C))

    out = [np.array([loss]), losses.reshape(-1), logits.reshape(-1)]
    out += [G[name].reshape(-1) for name, _ in parameter_shapes(cfg)]
    np.concatenate(out).astype("<f8").tofile(out_path)


if __name__ == "__main__":
    main()
