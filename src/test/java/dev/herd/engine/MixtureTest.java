package dev.herd.engine;

import dev.herd.HerdException;
import dev.herd.Shared;
import dev.herd.convert.GgufRequantizer;
import dev.herd.convert.WeightTypes;
import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.engine.SyntheticModel.Scaling;
import dev.herd.engine.SyntheticModel.Spec;
import dev.herd.format.GgufFile;
import dev.herd.format.GgufWriter;
import dev.herd.kernel.Kernels;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelTensor;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.herd.Logits.relativeL2;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Mixtures of experts written by Herd's own converter ({@link RandomModel}, F32, requantized by {@link
 * GgufRequantizer}: RandomModel's own quantized weights are random codes under one scale, whose products land on
 * Q8_0 rounding ties often enough to move a few positions by 1e-2 on any model) against {@link ReferenceLlama}'s scalar
 * mixture, at every position of a 32-token run, batched (chunks of 8: tokens of a chunk choose different experts) and
 * token by token, on 1 and 3 threads, with the tolerances of {@link LlamaTest}. Qwen3 MoE (8 experts, 2 used,
 * renormalized and not) and Mixtral (llama with 4 experts, 2 used). The reference reads the file's values back, so
 * the weights are the same; the router, the choice, the weights and the sum over experts are computed independently.
 * Choosing the experts with the smallest logits instead (measured once) moves the F32 logits by 1e-2..4e-2 at
 * every position, a hundred times the F32 bound; the quantized variants' looser bound (below) checks the expert
 * views of repacked, interleaved weights, whose misplacement would give O(1) errors.
 */
class MixtureTest {
    static final int STEPS = 32;

    @TempDir
    Path dir;

    static ModelConfig qwen3moe(boolean normalized) {
        return new ModelConfig(Arch.QWEN3MOE, 64, 32, 2, 4, 2, 32, 96, 64, SyntheticModel.EPS, 1000000, 32, null, false,
                new ModelConfig.Moe(8, 2, normalized));
    }

    /** Qwen2 MoE: Q/K/V biases, 8 experts of 32, 2 used (not renormalized, as llama.cpp runs it), a shared expert of 64. */
    static ModelConfig qwen2moe() {
        return new ModelConfig(Arch.QWEN2MOE, 64, 32, 2, 4, 2, 16, 96, 64, SyntheticModel.EPS, 1000000, 16, null, false,
                new ModelConfig.Moe(8, 2, false, 64));
    }

    static ModelConfig mixtral() {
        return new ModelConfig(Arch.LLAMA, 64, 64, 2, 4, 2, 16, 96, 64, SyntheticModel.EPS, 10000, 16, null, false,
                new ModelConfig.Moe(4, 2, true));
    }

    static Stream<Arguments> variants() {
        Object[][] cases = {
                {qwen3moe(true), GgmlType.F32}, {qwen3moe(false), GgmlType.F32}, {qwen3moe(true), GgmlType.Q8_0},
                {qwen3moe(true), GgmlType.Q4_0}, {mixtral(), GgmlType.F32}, {mixtral(), GgmlType.Q4_0},
                {qwen2moe(), GgmlType.F32}, {qwen2moe(), GgmlType.Q8_0},
        };
        return Arrays.stream(cases).flatMap(c -> Stream.of(1, 3).map(t -> Arguments.of(c[0], c[1], t)));
    }

    @ParameterizedTest(name = "{0} {1}, {2} threads")
    @MethodSource("variants")
    void matchesReferenceAtEveryPosition(ModelConfig c, GgmlType type, int threads) {
        Path path = write(c, type, dir);
        Spec spec = new Spec(c.arch().gguf, type, false, Scaling.NONE, c.dim(), c.hidden(), c.layers(), c.heads(), c.kvHeads(),
                c.headDim(), c.vocab(), c.ropeTheta(), c.moe().experts(), c.moe().used(), c.moe().normalized());
        int[] tokens = new SplittableRandom(7).ints(STEPS, 0, c.vocab()).toArray();
        boolean q8 = Kernels.of(type).needsQuantized();
        ReferenceLlama ref = new ReferenceLlama(spec, floats(path), null, q8, STEPS);
        float[][] expected = new float[STEPS][];
        for (int p = 0; p < STEPS; p++) expected[p] = ref.forward(tokens[p], p);

        try (Llama batched = Llama.load(path, STEPS, threads, 8); Llama single = Llama.load(path, STEPS, threads, 1)) {
            float[] all = batched.forward(tokens, 0, false);
            double[] batchedErrors = new double[STEPS], singleErrors = new double[STEPS];
            for (int p = 0; p < STEPS; p++) {
                batchedErrors[p] = relativeL2(Arrays.copyOfRange(all, p * c.vocab(), (p + 1) * c.vocab()), expected[p]);
                singleErrors[p] = relativeL2(single.forward(tokens[p], p), expected[p]);
            }
            assertErrors(batchedErrors, q8, "batched");
            assertErrors(singleErrors, q8, "token by token");
        }
    }

    /**
     * F32: {@link LlamaTest}'s bounds. Q8_0 activations: every position within 3e-2 as there, but not the median:
     * these small random models put a Q8_0 rounding tie in the KV cache within the first few positions (the same
     * happens to dense models of these shapes), after which every later position is 5e-3..1.5e-2 away.
     */
    static void assertErrors(double[] errors, boolean q8, String what) {
        if (!q8) {
            LlamaTest.assertErrors(errors, false, what);
            return;
        }
        assertThat(Arrays.stream(errors).max().orElseThrow()).as("%s: worst relative L2 error, all: %s", what, Arrays.toString(errors)).isLessThanOrEqualTo(3e-2);
    }

    /** A random model of config c in weights of {@code type}, written by Herd's converters. */
    static Path write(ModelConfig c, GgmlType type, Path dir) {
        Path f32 = dir.resolve("moe-f32.gguf"), path = dir.resolve("moe-" + type + ".gguf");
        RandomModel.write(c, GgmlType.F32, f32, 11, Map.of(), Progress.NONE);
        if (type == GgmlType.F32) return f32;
        GgufRequantizer.convert(f32, path, type, Map.of(), Progress.NONE);
        return path;
    }

    /** A mixture without experts, choosing more than it has, or missing an expert tensor: one line that says so. */
    @org.junit.jupiter.api.Test
    void badMixtureIsOneLineNamingTheProblem() throws IOException {
        Path good = write(qwen3moe(true), GgmlType.F32, dir);
        Object[][] cases = { // metadata to change (or a tensor to drop), what the error says
                {"qwen3moe.expert_count", 0, "'qwen3moe.expert_count' = 0, 'qwen3moe.expert_used_count' = 2: expert count 0 is outside 1..1024"},
                {"qwen3moe.expert_used_count", 9, "experts used per token 9 is outside 1..8 (the expert count)"},
                {"qwen3moe.expert_used_count", 0, "experts used per token 0 is outside 1..8"},
                {"blk.1.ffn_up_exps.weight", null, "tensor 'blk.1.ffn_up_exps.weight' is missing"},
                {"blk.0.ffn_gate_inp.weight", null, "tensor 'blk.0.ffn_gate_inp.weight' is missing"},
        };
        for (Object[] c : cases) {
            Path bad = dir.resolve("bad.gguf");
            rewrite(good, bad, (String) c[0], c[1]);
            assertThatThrownBy(() -> Llama.load(bad, 16, 1, 4)).as((String) c[2]).isInstanceOf(HerdException.class)
                    .hasMessageContaining((String) c[2]).message().doesNotContain("\n");
        }
        Path dense = dir.resolve("dense.gguf"); // a qwen3moe file must have experts
        rewrite(good, dense, "qwen3moe.expert_count", null);
        assertThatThrownBy(() -> Llama.load(dense, 16, 1, 4)).isInstanceOf(HerdException.class)
                .hasMessageContaining("metadata key 'qwen3moe.expert_count' is missing (qwen3moe is a mixture of experts)");
    }

    /**
     * llama.cpp's layout of a mixture before April 2024, one tensor per expert ({@code blk.N.ffn_gate.E.weight}, the
     * experts of a layer interleaved: gate, down, up of expert 0, then of expert 1...): refused at load in one line
     * that says how to stack them, then stacked by {@code herd convert} (the requantizer) byte for byte into the file
     * llama.cpp writes today, whose logits are the original's exactly.
     */
    @org.junit.jupiter.api.Test
    void perExpertTensorsAreStackedByTheConverter() throws IOException {
        Path stacked = write(mixtral(), GgmlType.Q8_0, dir), old = dir.resolve("per-expert.gguf"), restacked = dir.resolve("restacked.gguf");
        int experts = mixtral().moe().experts();
        try (GgufFile f = GgufFile.open(stacked)) {
            GgufWriter w = new GgufWriter();
            f.metadata().forEach(w::put);
            Map<String, GgufFile.TensorInfo> perLayer = new java.util.LinkedHashMap<>();
            for (GgufFile.TensorInfo t : f.tensors().values()) {
                if (!t.name().endsWith("_exps.weight")) {
                    byte[] bytes = f.bytes(t.name()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                    w.tensor(t.name(), t.type(), t.dims(), o -> o.write(bytes));
                    continue;
                }
                perLayer.put(t.name(), t);
                if (!t.name().contains("ffn_down_exps")) continue; // the last of the layer's three: write them expert by expert
                for (int e = 0; e < experts; e++) {
                    for (String kind : new String[]{"gate", "down", "up"}) {
                        GgufFile.TensorInfo s = perLayer.get(t.name().replace("ffn_down_exps", "ffn_" + kind + "_exps"));
                        long bytes = s.type().bytes(s.elements()) / experts;
                        byte[] part = f.bytes(s.name()).asSlice(e * bytes, bytes).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                        w.tensor(ModelTensor.ExpertTensor.name(s.name(), e), s.type(), new long[]{s.dims()[0], s.dims()[1]}, o -> o.write(part));
                    }
                }
            }
            w.write(old);
        }
        assertThatThrownBy(() -> Llama.load(old, 16, 1, 4)).isInstanceOf(HerdException.class).message().doesNotContain("\n")
                .contains("each expert is a tensor of its own ('blk.0.ffn_gate.0.weight', ...)", "herd convert --model FILE --output NEW.gguf --weights-float-type keep");
        GgufRequantizer.convert(old, restacked, WeightTypes.KEEP, Map.of(), Progress.NONE);
        try (GgufFile a = GgufFile.open(stacked); GgufFile b = GgufFile.open(restacked)) {
            for (GgufFile.TensorInfo t : a.tensors().values()) {
                GgufFile.TensorInfo r = b.tensors().get(t.name());
                assertThat(r).as(t.name()).isNotNull();
                assertThat(r.dims()).as(t.name()).containsExactly(t.dims());
                assertThat(b.bytes(t.name()).mismatch(a.bytes(t.name()))).as(t.name()).isEqualTo(-1L);
            }
            assertThat(b.tensors()).hasSameSizeAs(a.tensors());
        }
        int[] tokens = new SplittableRandom(3).ints(12, 0, mixtral().vocab()).toArray();
        try (Llama a = Llama.load(stacked, 16, 1, 4); Llama b = Llama.load(restacked, 16, 1, 4)) {
            assertThat(b.forward(tokens, 0, false)).containsExactly(a.forward(tokens, 0, false));
        }

        // an expert left out, the middle one or the last, or one of another shape: refused in one line naming it
        String gate = "blk.0.ffn_gate_exps.weight";
        for (int e : new int[]{1, experts - 1}) {
            Path missing = dir.resolve("missing-" + e + ".gguf");
            rewrite(old, missing, ModelTensor.ExpertTensor.name(gate, e), null);
            assertThatThrownBy(() -> GgufRequantizer.convert(missing, dir.resolve("out.gguf"), WeightTypes.KEEP, Map.of(), Progress.NONE))
                    .isInstanceOf(HerdException.class).hasMessageEndingWith(": expert " + e + " of '" + gate + "' is missing");
        }
        Path differ = dir.resolve("differ.gguf");
        try (GgufFile f = GgufFile.open(old)) {
            GgufWriter w = new GgufWriter();
            f.metadata().forEach(w::put);
            String halved = ModelTensor.ExpertTensor.name(gate, 1);
            for (GgufFile.TensorInfo t : f.tensors().values()) {
                byte[] bytes = f.bytes(t.name()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                boolean cut = t.name().equals(halved);
                byte[] kept = cut ? java.util.Arrays.copyOf(bytes, bytes.length / 2) : bytes;
                w.tensor(t.name(), t.type(), cut ? new long[]{t.dims()[0], t.dims()[1] / 2} : t.dims(), o -> o.write(kept));
            }
            w.write(differ);
        }
        assertThatThrownBy(() -> GgufRequantizer.convert(differ, dir.resolve("out.gguf"), WeightTypes.KEEP, Map.of(), Progress.NONE))
                .isInstanceOf(HerdException.class).hasMessageEndingWith(": the experts of '" + gate + "' differ in shape or type ('blk.0.ffn_gate.1.weight')");
        assertThat(dir.resolve("out.gguf")).as("nothing written").doesNotExist();
    }

    /**
     * distributed-llama's Qwen3 MoE .m file (its experts one by one after the router, each its gate, down and up;
     * the embedding in F32): refused at load in one line that says how to convert it, and converted by {@code herd
     * convert} into a GGUF whose logits are those of the file it was written from.
     */
    @org.junit.jupiter.api.Test
    void aDistributedLlamaMixtureConvertsToTheSameModel() throws IOException {
        // qwen3moe(true) with the vocabulary of the committed distributed-llama tokenizer tiny.t
        ModelConfig c = new ModelConfig(Arch.QWEN3MOE, 64, 32, 2, 4, 2, 32, 384, 64, SyntheticModel.EPS, 1000000, 32, null, false,
                new ModelConfig.Moe(8, 2, true));
        Path gguf = write(c, GgmlType.Q8_0, dir), m = dir.resolve("moe.m"), converted = dir.resolve("from-m.gguf"), t = Shared.model("tiny.t");
        try (GgufFile f = GgufFile.open(gguf)) {
            java.nio.file.Files.write(m, dllama(f, c));
        }
        assertThatThrownBy(() -> Model.open(m, t, 0, 1)).isInstanceOf(HerdException.class).message().doesNotContain("\n")
                .contains("moe.m: each expert is a tensor of its own ('blk.0.ffn_gate.0.weight', ...)", "herd convert --model FILE --output NEW.gguf");
        dev.herd.convert.DllamaConverter.convert(m, t, converted, Progress.NONE);
        // herd plan sizes the .m's weights as those of the model it converts to (its buffers also count the tokenizer, which a .m lacks)
        try (GgufFile a = GgufFile.header(converted); GgufFile b = dev.herd.format.DllamaModel.header(m)) {
            var node = new dev.herd.cluster.ClusterPlan(a, 1, 64, dev.herd.cluster.SyncCodec.Q80, 1).nodes().getFirst();
            var fromM = new dev.herd.cluster.ClusterPlan(b, 1, 64, dev.herd.cluster.SyncCodec.Q80, 1).nodes().getFirst();
            assertThat(fromM.weights()).isEqualTo(node.weights());
            assertThat(fromM.readPerToken()).isEqualTo(node.readPerToken());
        }
        try (GgufFile a = GgufFile.open(gguf); GgufFile b = GgufFile.open(converted)) {
            for (String name : new String[]{"blk.1.ffn_gate_exps.weight", "blk.1.ffn_down_exps.weight", "blk.1.ffn_up_exps.weight", "blk.1.ffn_gate_inp.weight"}) {
                assertThat(b.tensors().get(name).dims()).as(name).containsExactly(a.tensors().get(name).dims());
                assertThat(b.bytes(name).mismatch(a.bytes(name))).as(name).isEqualTo(-1L);
            }
        }
        int[] tokens = new SplittableRandom(5).ints(12, 0, c.vocab()).toArray();
        try (Llama a = Llama.load(gguf, 16, 1, 4); Llama b = Llama.load(converted, 16, 1, 4)) {
            assertThat(b.forward(tokens, 0, false)).containsExactly(a.forward(tokens, 0, false));
        }
    }

    /** The model of an open Qwen3 MoE GGUF as distributed-llama's converter writes it (Q80 weights, F32 embedding). */
    private static byte[] dllama(GgufFile f, ModelConfig c) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        int[][] header = {{0, 0}, {1, 0xABCD02}, {2, c.dim()}, {3, 3 * c.dim()}, {4, c.layers()}, {5, c.heads()}, {6, c.kvHeads()},
                {7, c.moe().experts()}, {8, c.moe().used()}, {9, c.vocab()}, {10, c.contextLength()}, {11, 1}, {12, (int) c.ropeTheta()},
                {13, 3}, {19, c.headDim()}, {20, 5}, {21, c.hidden()}};
        java.nio.ByteBuffer h = java.nio.ByteBuffer.allocate(8 + 8 * header.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        h.putInt(0x0A00ABCD).putInt(8 + 8 * header.length);
        for (int[] kv : header) h.putInt(kv[0]).putInt(kv[1]);
        out.write(h.array());
        float[] embd = new float[c.vocab() * c.dim()];
        dev.herd.codec.Codecs.of(f.tensors().get("token_embd.weight").type()).decode(f.bytes("token_embd.weight"), 0, embd, 0, embd.length);
        java.nio.ByteBuffer e = java.nio.ByteBuffer.allocate(4 * embd.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float v : embd) e.putFloat(v);
        out.write(e.array());
        java.util.function.Consumer<String> raw = name -> out.writeBytes(f.bytes(name).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        for (int l = 0; l < c.layers(); l++) {
            String b = "blk." + l + ".";
            for (String t : new String[]{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate_inp"}) raw.accept(b + t + ".weight");
            int experts = c.moe().experts();
            for (int x = 0; x < experts; x++) {
                for (String t : new String[]{"ffn_gate_exps", "ffn_down_exps", "ffn_up_exps"}) {
                    var all = f.bytes(b + t + ".weight");
                    long each = all.byteSize() / experts;
                    out.writeBytes(all.asSlice(x * each, each).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                }
            }
            for (String t : new String[]{"attn_q_norm", "attn_k_norm", "attn_norm", "ffn_norm"}) raw.accept(b + t + ".weight");
        }
        raw.accept("output_norm.weight");
        raw.accept("output.weight");
        return out.toByteArray();
    }

    /** {@code in} written to {@code out} with metadata {@code key} set to {@code value}, or without it (a tensor or a key) when value is null. */
    private static void rewrite(Path in, Path out, String key, Object value) throws IOException {
        try (GgufFile f = GgufFile.open(in)) {
            GgufWriter w = new GgufWriter();
            f.metadata().forEach((k, v) -> { if (!k.equals(key)) w.put(k, v); });
            if (value != null) w.put(key, value);
            for (GgufFile.TensorInfo t : f.tensors().values()) {
                if (t.name().equals(key)) continue;
                byte[] bytes = f.bytes(t.name()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                w.tensor(t.name(), t.type(), t.dims(), o -> o.write(bytes));
            }
            w.write(out);
        }
    }

    /** Every tensor of the file as the floats it holds (experts stacked one after the other). */
    static Map<String, float[]> floats(Path path) {
        Map<String, float[]> m = new HashMap<>();
        try (GgufFile f = GgufFile.open(path)) {
            for (String name : f.tensors().keySet()) m.put(name, Dequant.all(f.tensor(name)));
        }
        return m;
    }
}
