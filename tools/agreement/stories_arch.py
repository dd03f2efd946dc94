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
import importlib.util
import json
import struct
import sys
from pathlib import Path

import numpy as np


def read_llama2c(path):
    """The checkpoint as scripts/llama2c-golden.py reads it (its one llama2.c reader)."""
    golden = Path(__file__).resolve().parents[2] / "scripts" / "llama2c-golden.py"
    spec = importlib.util.spec_from_file_location("llama2c_golden", golden)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load(path)


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
    dim, layers, heads, kv_heads, hd = m["dim"], m["layers"], m["heads"], m["kv_heads"], m["hs"]
    hidden, vocab = m["w1"].shape[1], m["embd"].shape[0]
    tied = m["cls"] is m["embd"]
    experts, used = 4, 2
    moe = arch in ("mixtral", "qwen3moe", "qwen2moe")
    t = {"model.embed_tokens.weight": m["embd"], "model.norm.weight": m["rms_final"]}
    if tied and arch == "qwen2moe":  # llama.cpp's qwen2moe has no tied embeddings: give it its output matrix
        tied = False
    if not tied:
        t["lm_head.weight"] = m["cls"]
    for l in range(layers):
        p = f"model.layers.{l}."
        t[p + "input_layernorm.weight"] = m["rms_att"][l]
        t[p + "post_attention_layernorm.weight"] = m["rms_ffn"][l]
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
              "head_dim": hd, "vocab_size": vocab, "max_position_embeddings": m["seq"], "rms_norm_eps": 1e-5,
              "rope_theta": 10000.0, "tie_word_embeddings": tied, "hidden_act": "silu",
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
