#!/usr/bin/env python3
"""Greedy outputs of a llama2.c checkpoint from a plain numpy float32 forward pass (llama2.c's run.c, written again):
independent of Herd, for golden files the tests compare Herd with.

usage: llama2c-golden.py MODEL.bin STEPS PROMPT_IDS... > golden.json
  PROMPT_IDS: comma-separated token ids, one argument per case, e.g. 1 1,403,407
Prints JSON: per case the prompt ids, the greedy ids (prompt included, STEPS more), the top 5 (id, logit) at
position 0 and the smallest top-2 margin over the generated positions (where a float rounding could swap them).
"""
import json, sys
import numpy as np


def load(path):
    raw = open(path, "rb").read()
    dim, hidden, layers, heads, kv_heads, vocab, seq = np.frombuffer(raw[:28], dtype="<i4")
    shared, vocab = vocab > 0, abs(int(vocab))
    w = np.frombuffer(raw[28:], dtype="<f4")
    hs, kv_dim = dim // heads, dim // heads * kv_heads
    at = 0

    def take(*shape):
        nonlocal at
        n = int(np.prod(shape))
        a = w[at:at + n].reshape(shape)
        at += n
        return a

    m = dict(embd=take(vocab, dim), rms_att=take(layers, dim), wq=take(layers, dim, dim), wk=take(layers, kv_dim, dim),
             wv=take(layers, kv_dim, dim), wo=take(layers, dim, dim), rms_ffn=take(layers, dim),
             w1=take(layers, hidden, dim), w2=take(layers, dim, hidden), w3=take(layers, hidden, dim), rms_final=take(dim))
    take(seq, hs // 2), take(seq, hs // 2)  # legacy freq_cis tables, unused by run.c
    m["cls"] = m["embd"] if shared else take(vocab, dim)
    m.update(dim=int(dim), layers=int(layers), heads=int(heads), kv_heads=int(kv_heads), hs=int(hs), seq=int(seq))
    return m


def rmsnorm(x, w):
    return (x / np.sqrt(np.mean(x * x, dtype=np.float32) + np.float32(1e-5))).astype(np.float32) * w


def rope(v, pos, hs):
    i = np.arange(0, v.shape[0], 2)
    freq = np.float32(1.0) / np.power(np.float32(10000.0), (i % hs).astype(np.float32) / np.float32(hs))
    c, s = np.cos(pos * freq).astype(np.float32), np.sin(pos * freq).astype(np.float32)
    a, b = v[0::2].copy(), v[1::2].copy()
    out = np.empty_like(v)
    out[0::2], out[1::2] = a * c - b * s, a * s + b * c
    return out


def forward(m, cache, tok, pos):
    """Logits after token tok at position pos; cache holds each layer's keys and values of positions 0..pos-1."""
    hs, group = m["hs"], m["heads"] // m["kv_heads"]
    x = m["embd"][tok].copy()
    for l in range(m["layers"]):
        keys, values = cache.setdefault(l, ([], []))
        del keys[pos:], values[pos:]
        xb = rmsnorm(x, m["rms_att"][l])
        q = rope(m["wq"][l] @ xb, pos, hs)
        keys.append(rope(m["wk"][l] @ xb, pos, hs))
        values.append(m["wv"][l] @ xb)
        k, v = np.stack(keys), np.stack(values)
        att_out = np.empty(m["dim"], dtype=np.float32)
        for h in range(m["heads"]):
            kh = h // group
            scores = k[:, kh * hs:(kh + 1) * hs] @ q[h * hs:(h + 1) * hs] / np.sqrt(np.float32(hs))
            p = np.exp(scores - scores.max())
            p /= p.sum()
            att_out[h * hs:(h + 1) * hs] = p.astype(np.float32) @ v[:, kh * hs:(kh + 1) * hs]
        x = x + m["wo"][l] @ att_out
        xb = rmsnorm(x, m["rms_ffn"][l])
        a, b = m["w1"][l] @ xb, m["w3"][l] @ xb
        x = x + m["w2"][l] @ ((a / (np.float32(1) + np.exp(-a))) * b)
    return m["cls"] @ rmsnorm(x, m["rms_final"])


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    m, steps = load(argv[0]), int(argv[1])
    cases = []
    for arg in argv[2:]:
        ids = [int(t) for t in arg.split(",")]
        seq, margins, cache = list(ids), [], {}
        for pos, tok in enumerate(ids[:-1]):
            logits = forward(m, cache, tok, pos)
            if pos == 0:
                first = logits
        for _ in range(steps):
            logits = forward(m, cache, seq[-1], len(seq) - 1)
            if len(seq) == 1:
                first = logits
            top2 = np.sort(logits)[-2:]
            margins.append(float(top2[1] - top2[0]))
            seq.append(int(np.argmax(logits)))
        top = np.argsort(-first)[:5]
        cases.append(dict(prompt_ids=ids, greedy_ids=seq, logits_pos0_top5=[[int(t), round(float(first[t]), 6)] for t in top],
                          smallest_margin=round(min(margins), 6)))
    head = json.dumps(dict(model=argv[0].split("/")[-1], steps=steps))[:-1]
    print(head + ', "cases": [\n' + ",\n".join(json.dumps(c) for c in cases) + "\n]}")


if __name__ == "__main__":
    main(sys.argv[1:])
