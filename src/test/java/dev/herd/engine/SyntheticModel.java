package dev.herd.engine;

import dev.herd.format.GgufWriter;
import dev.herd.tensor.GgmlType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A small random-weight model written as GGUF by test code, with the float values the file really holds
 * (after the test's own ggml-style quantization) kept for {@link ReferenceLlama}.
 */
final class SyntheticModel {

    /** Rope scaling: NONE, the rope_freqs tensor (random divisors), or llama3 metadata. */
    enum Scaling { NONE, TENSOR, METADATA }

    /** {@code experts}: 0 for a dense FFN, else a mixture in which each token uses {@code used}. */
    record Spec(String arch, GgmlType type, boolean tied, Scaling scaling, int dim, int hidden, int layers, int heads,
                int kvHeads, int headDim, int vocab, float theta, int experts, int used, boolean normalized) {
        Spec(String arch, GgmlType type, boolean tied, Scaling scaling, int dim, int hidden, int layers, int heads,
             int kvHeads, int headDim, int vocab, float theta) {
            this(arch, type, tied, scaling, dim, hidden, layers, heads, kvHeads, headDim, vocab, theta, 0, 0, false);
        }

        static Spec llama(GgmlType type, boolean tied, Scaling scaling) {
            return new Spec("llama", type, tied, scaling, 128, 256, 2, 4, 2, 32, 300, 10000);
        }

        /** Qwen3: q/k norms, NeoX rope, and a head size (48) that is not dim / heads (32). */
        static Spec qwen3(GgmlType type, boolean tied) {
            return new Spec("qwen3", type, tied, Scaling.NONE, 128, 256, 2, 4, 2, 48, 300, 1000000);
        }

        /** Qwen2: Q/K/V biases, NeoX rope, no q/k norms. */
        static Spec qwen2(GgmlType type, boolean tied) {
            return new Spec("qwen2", type, tied, Scaling.NONE, 128, 256, 2, 4, 2, 32, 300, 1000000);
        }

        /** Gemma: GeGLU, the embedding times sqrt(dim), NeoX rope, one KV head, and heads (64) wider than dim / heads (32). */
        static Spec gemma(GgmlType type) {
            return new Spec("gemma", type, true, Scaling.NONE, 128, 256, 2, 4, 1, 64, 300, 10000);
        }

        boolean gemma() {
            return arch.equals("gemma");
        }

        boolean neox() {
            return !arch.equals("llama");
        }

        boolean qkNorm() {
            return arch.startsWith("qwen3");
        }

        boolean qkvBias() {
            return arch.startsWith("qwen2");
        }

        @Override
        public String toString() {
            return arch + " " + type + (tied ? " tied" : " untied") + " rope-scaling " + scaling;
        }
    }

    static final float EPS = 1e-5f;
    // Llama 3.1 scaling with a tiny original context, so 32 positions feel it.
    static final float FACTOR = 4, LOW = 1, HIGH = 4;
    static final int ORIGINAL_CONTEXT = 32;

    final Spec spec;
    /** Tensor name → the values the engine should see (dequantized). */
    final Map<String, float[]> floats = new HashMap<>();
    private final GgufWriter writer = new GgufWriter();
    private final SplittableRandom random;

    SyntheticModel(Spec spec, long seed) {
        this.spec = spec;
        this.random = new SplittableRandom(seed);
        String p = spec.arch + ".";
        writer.put("general.architecture", spec.arch)
                .put(p + "embedding_length", spec.dim)
                .put(p + "block_count", spec.layers)
                .put(p + "feed_forward_length", spec.hidden)
                .put(p + "attention.head_count", spec.heads)
                .put(p + "attention.head_count_kv", spec.kvHeads)
                .put(p + "attention.layer_norm_rms_epsilon", EPS)
                .put(p + "rope.freq_base", spec.theta)
                .put(p + "context_length", 64)
                .put(p + "rope.dimension_count", spec.headDim);
        if (spec.headDim != spec.dim / spec.heads) writer.put(p + "attention.key_length", spec.headDim);
        if (spec.scaling == Scaling.METADATA) {
            writer.put(p + "rope.scaling.type", "llama3")
                    .put(p + "rope.scaling.factor", FACTOR)
                    .put(p + "rope.scaling.low_freq_factor", LOW)
                    .put(p + "rope.scaling.high_freq_factor", HIGH)
                    .put(p + "rope.scaling.original_context_length", ORIGINAL_CONTEXT);
        }
        int d = spec.dim, q = spec.heads * spec.headDim, kv = spec.kvHeads * spec.headDim;
        matrix("token_embd.weight", spec.vocab, d, 1f);
        for (int l = 0; l < spec.layers; l++) {
            String b = "blk." + l + ".";
            norm(b + "attn_norm.weight", d);
            matrix(b + "attn_q.weight", q, d, 1 / (float) Math.sqrt(d));
            matrix(b + "attn_k.weight", kv, d, 1 / (float) Math.sqrt(d));
            matrix(b + "attn_v.weight", kv, d, 1 / (float) Math.sqrt(d));
            if (spec.qkvBias()) { // as large as the products they add to, so a bias lost or misplaced shows
                bias(b + "attn_q.bias", q);
                bias(b + "attn_k.bias", kv);
                bias(b + "attn_v.bias", kv);
            }
            matrix(b + "attn_output.weight", d, q, 1 / (float) Math.sqrt(q));
            if (spec.qkNorm()) {
                norm(b + "attn_q_norm.weight", spec.headDim);
                norm(b + "attn_k_norm.weight", spec.headDim);
            }
            norm(b + "ffn_norm.weight", d);
            matrix(b + "ffn_gate.weight", spec.hidden, d, 1 / (float) Math.sqrt(d));
            matrix(b + "ffn_up.weight", spec.hidden, d, 1 / (float) Math.sqrt(d));
            matrix(b + "ffn_down.weight", d, spec.hidden, 1 / (float) Math.sqrt(spec.hidden));
        }
        norm("output_norm.weight", d);
        if (!spec.tied) matrix("output.weight", spec.vocab, d, 1 / (float) Math.sqrt(d));
        if (spec.scaling == Scaling.TENSOR) {
            float[] divisors = new float[spec.headDim / 2];
            for (int i = 0; i < divisors.length; i++) divisors[i] = 1 + 7 * (float) random.nextDouble();
            f32("rope_freqs.weight", divisors);
        }
    }

    Path write(Path path) throws IOException {
        writer.write(path);
        return path;
    }

    /** The Llama 3.1 divisors the reference expects, or null. */
    float[] ropeDivisors() {
        return switch (spec.scaling) {
            case NONE -> null;
            case TENSOR -> floats.get("rope_freqs.weight");
            case METADATA -> ReferenceLlama.llama3Divisors(spec.theta, spec.headDim, FACTOR, LOW, HIGH, ORIGINAL_CONTEXT);
        };
    }

    private void norm(String name, int n) {
        float[] w = new float[n];
        for (int i = 0; i < n; i++) w[i] = 0.5f + (float) random.nextDouble();
        f32(name, w);
    }

    private void bias(String name, int n) {
        float[] w = new float[n];
        for (int i = 0; i < n; i++) w[i] = (float) (random.nextDouble() * 2 - 1);
        f32(name, w);
    }

    private void f32(String name, float[] w) {
        floats.put(name, w);
        writer.tensor(name, GgmlType.F32, new long[]{w.length}, GgufWriter.f32(w));
    }

    /** A rows x cols matrix of uniform values in [-scale, scale] times sqrt(3), stored as the spec's type. */
    private void matrix(String name, int rows, int cols, float scale) {
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) ((random.nextDouble() * 2 - 1) * scale * Math.sqrt(3));
        byte[] bytes = encode(spec.type, w); // also replaces w by what the file holds
        floats.put(name, w);
        writer.tensor(name, spec.type, new long[]{cols, rows}, out -> out.write(bytes));
    }

    /** ggml's reference quantizers (quantize_row_q8_0_ref / q4_0_ref), round-to-nearest. */
    static byte[] encode(GgmlType type, float[] w) {
        ByteBuffer b = ByteBuffer.allocate((int) type.bytes(w.length)).order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case F32 -> b.asFloatBuffer().put(w);
            case F16 -> {
                for (int i = 0; i < w.length; i++) {
                    short h = Float.floatToFloat16(w[i]);
                    b.putShort(h);
                    w[i] = Float.float16ToFloat(h);
                }
            }
            case Q8_0 -> {
                for (int blk = 0; blk < w.length; blk += 32) {
                    float amax = 0;
                    for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(w[blk + i]));
                    float d = amax / 127, id = d != 0 ? 1 / d : 0;
                    short h = Float.floatToFloat16(d);
                    b.putShort(h);
                    for (int i = 0; i < 32; i++) {
                        int q = roundf(w[blk + i] * id);
                        b.put((byte) q);
                        w[blk + i] = Float.float16ToFloat(h) * q;
                    }
                }
            }
            case Q4_0 -> {
                for (int blk = 0; blk < w.length; blk += 32) {
                    float amax = 0, max = 0;
                    for (int i = 0; i < 32; i++) {
                        if (amax < Math.abs(w[blk + i])) {
                            amax = Math.abs(w[blk + i]);
                            max = w[blk + i];
                        }
                    }
                    float d = max / -8, id = d != 0 ? 1 / d : 0;
                    short h = Float.floatToFloat16(d);
                    b.putShort(h);
                    int[] q = new int[32];
                    for (int i = 0; i < 32; i++) q[i] = Math.min(15, (int) (w[blk + i] * id + 8.5f));
                    for (int i = 0; i < 16; i++) b.put((byte) (q[i] | q[i + 16] << 4));
                    for (int i = 0; i < 32; i++) w[blk + i] = Float.float16ToFloat(h) * (q[i] - 8);
                }
            }
            default -> throw new IllegalArgumentException("no test encoder for " + type);
        }
        return b.array();
    }

    /** C's roundf: halves away from zero. */
    static int roundf(float x) {
        return (int) (Math.signum(x) * Math.floor(Math.abs(x) + 0.5f));
    }
}
