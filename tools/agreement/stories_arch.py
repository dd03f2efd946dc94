#!/usr/bin/env python3
"""Writes stories15M (llama2.c's trained weights) as a Hugging Face folder of another architecture, so that
architectures without a small trained model of their own are compared with llama.cpp on text a model predicts well,
not on the nearly uniform distributions of random weights.

  stories_arch.py stories15M.bin ARCH OUT_DIR      ARCH: qwen2, mixtral, qwen3moe, qwen2moe

Every variant computes stories15M's function, or nearly:
- Q and K are stored in Hugging Face's rotate-half order (as transformers' llama conversion permutes them), which
  llama's converter permutes back and the NeoX architectures (Qwen) rotate as they are: the same attention either way.
- qwen2: Q/K/V biases of zero.
- mixtral, qwen3moe: 4 experts, 2 used and renormalized, each expert stories15M's FFN with its hidden units permuted
  (the same function, other weights: an expert read from the wrong rows gives garbage); the router random.
- qwen3moe: per-head q/k norms, which stories15M does not have: its attention changes. Of weights 1, 1.5, 2, 2.5 and
  3, 1.5 keeps the text best predicted (perplexity 5.1 on tinystory.txt, against stories15M's 3.8; 1: 19.9, 2: 9.4).
- qwen2moe: the same experts, not renormalized, and a shared expert (the FFN, permuted) whose down projection is
  scaled by 1.5 behind a gate near zero (sigmoid ~0.5; a gate of zeros made llama.cpp's output NaN): with a router
  near zero the chosen two weigh ~1/4, so the sum is ~the FFN.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np


def read_llama2c(path):
    data = Path(path).read_bytes()
    dim, hidden, layers, heads, kv_heads, vocab, seq = struct.unpack("<7i", data[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    w = np.frombuffer(data, dtype="<f4", offset=28)
    at = 0

    def take(*shape):
        nonlocal at
        n = int(np.prod(shape))
        out = w[at:at + n].reshape(shape)
        at += n
        return out

    hd = dim // heads
    m = {"dim": dim, "hidden": hidden, "layers": layers, "heads": heads, "kv_heads": kv_heads, "vocab": vocab, "seq": seq}
    m["embed"] = take(vocab, dim)
    m["att_norm"] = take(layers, dim)
    m["wq"] = take(layers, dim, dim)
    m["wk"] = take(layers, kv_heads * hd, dim)
    m["wv"] = take(layers, kv_heads * hd, dim)
    m["wo"] = take(layers, dim, dim)
    m["ffn_norm"] = take(layers, dim)
    m["w1"] = take(layers, hidden, dim)
    m["w2"] = take(layers, dim, hidden)
    m["w3"] = take(layers, hidden, dim)
    m["final_norm"] = take(dim)
    take(seq, hd // 2)  # freq_cis_real
    take(seq, hd // 2)  # freq_cis_imag
    m["lm_head"] = None if shared else take(vocab, dim)
    return m


def rotate_half_order(w, heads):
    """transformers' llama conversion: each head's interleaved pairs (2i, 2i+1) to halves (i, i + half)."""
    rows, cols = w.shape
    return w.reshape(heads, rows // heads // 2, 2, cols).transpose(0, 2, 1, 3).reshape(rows, cols)


def write_safetensors(tensors, path):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        b = np.ascontiguousarray(t, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    src, arch, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    m = read_llama2c(src)
    rng = np.random.default_rng(7)
    dim, hidden, layers, heads, kv_heads = m["dim"], m["hidden"], m["layers"], m["heads"], m["kv_heads"]
    hd = dim // heads
    experts, used = 4, 2
    moe = arch in ("mixtral", "qwen3moe", "qwen2moe")
    t = {"model.embed_tokens.weight": m["embed"], "model.norm.weight": m["final_norm"]}
    if m["lm_head"] is None and arch == "qwen2moe":  # llama.cpp's qwen2moe has no tied embeddings: give it its output matrix
        m["lm_head"] = m["embed"]
    if m["lm_head"] is not None:
        t["lm_head.weight"] = m["lm_head"]
    for l in range(layers):
        p = f"model.layers.{l}."
        t[p + "input_layernorm.weight"] = m["att_norm"][l]
        t[p + "post_attention_layernorm.weight"] = m["ffn_norm"][l]
        t[p + "self_attn.q_proj.weight"] = rotate_half_order(m["wq"][l], heads)
        t[p + "self_attn.k_proj.weight"] = rotate_half_order(m["wk"][l], kv_heads)
        t[p + "self_attn.v_proj.weight"] = m["wv"][l]
        t[p + "self_attn.o_proj.weight"] = m["wo"][l]
        if arch in ("qwen2", "qwen2moe"):
            t[p + "self_attn.q_proj.bias"] = np.zeros(dim, np.float32)
            t[p + "self_attn.k_proj.bias"] = np.zeros(kv_heads * hd, np.float32)
            t[p + "self_attn.v_proj.bias"] = np.zeros(kv_heads * hd, np.float32)
        if arch == "qwen3moe":
            t[p + "self_attn.q_norm.weight"] = np.full(hd, 1.5, np.float32)
            t[p + "self_attn.k_norm.weight"] = np.full(hd, 1.5, np.float32)
        w1, w2, w3 = m["w1"][l], m["w2"][l], m["w3"][l]
        if not moe:
            t[p + "mlp.gate_proj.weight"], t[p + "mlp.up_proj.weight"], t[p + "mlp.down_proj.weight"] = w1, w3, w2
            continue
        base = p + ("block_sparse_moe." if arch == "mixtral" else "mlp.")
        t[base + "gate.weight"] = (rng.standard_normal((experts, dim)) * (0.01 if arch == "qwen2moe" else 0.5)).astype(np.float32)
        for e in range(experts):
            perm = rng.permutation(hidden)
            x = base + f"experts.{e}."
            names = ("w1", "w3", "w2") if arch == "mixtral" else ("gate_proj", "up_proj", "down_proj")
            t[x + names[0] + ".weight"] = w1[perm]
            t[x + names[1] + ".weight"] = w3[perm]
            t[x + names[2] + ".weight"] = w2[:, perm]
        if arch == "qwen2moe":
            perm = rng.permutation(hidden)
            t[p + "mlp.shared_expert.gate_proj.weight"] = w1[perm]
            t[p + "mlp.shared_expert.up_proj.weight"] = w3[perm]
            t[p + "mlp.shared_expert.down_proj.weight"] = 1.5 * w2[:, perm]
            t[p + "mlp.shared_expert_gate.weight"] = (rng.standard_normal((1, dim)) * 0.01).astype(np.float32)
    config = {"hidden_size": dim, "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
              "head_dim": hd, "vocab_size": m["vocab"], "max_position_embeddings": m["seq"], "rms_norm_eps": 1e-5,
              "rope_theta": 10000.0, "tie_word_embeddings": m["lm_head"] is None, "hidden_act": "silu",
              "bos_token_id": 1, "eos_token_id": 2}
    config.update({
        "qwen2": {"architectures": ["Qwen2ForCausalLM"], "intermediate_size": hidden},
        "mixtral": {"architectures": ["MixtralForCausalLM"], "intermediate_size": hidden, "num_local_experts": experts,
                    "num_experts_per_tok": used},
        "qwen3moe": {"architectures": ["Qwen3MoeForCausalLM"], "moe_intermediate_size": hidden, "num_experts": experts,
                     "num_experts_per_tok": used, "norm_topk_prob": True},
        "qwen2moe": {"architectures": ["Qwen2MoeForCausalLM"], "moe_intermediate_size": hidden, "num_experts": experts,
                     "num_experts_per_tok": used, "norm_topk_prob": False, "shared_expert_intermediate_size": hidden},
    }[arch])
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=1))
    write_safetensors(t, out / "model.safetensors")


if __name__ == "__main__":
    main()
