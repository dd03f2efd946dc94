package dev.herd.engine;

import dev.herd.engine.SyntheticModel.Scaling;
import dev.herd.engine.SyntheticModel.Spec;
import dev.herd.kernel.Kernels;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The engine against {@link ReferenceLlama} on synthetic Llama-3-shaped models, at every position of a 32-token run,
 * both batched (chunks of 8, so chunking is covered too) and token by token, on 1, 2 and 3 threads.
 *
 * <p>Tolerance: relative L2 error of each position's logits ≤ 1e-4 and max-abs error ≤ 1e-3 (logits are O(1..10)).
 * Both sides do the same arithmetic (same dequantized weights; when the kernel quantizes activations to Q8_0, the
 * reference rounds them the same way), so what remains is float32 summation order and RoPE/exp in float vs double,
 * about 1e-6 relative per op; 1e-4 leaves two orders of margin, yet a wrong rope pair, head mapping or norm gives
 * errors of order 1. Without that emulation, Q8_0 activations alone would add about 0.2 % per matmul input
 * (half a step of 1/127 of the block maximum) — a looser bound that would hide subtle bugs.
 */
class LlamaTest {
    static final int STEPS = 32;
    static final double REL_L2 = 1e-4, MAX_ABS = 1e-3;

    @TempDir
    Path dir;

    static Stream<Arguments> variants() {
        Spec[] specs = {
                Spec.llama(GgmlType.F32, false, Scaling.TENSOR),
                Spec.llama(GgmlType.F32, true, Scaling.METADATA),
                Spec.llama(GgmlType.F16, true, Scaling.NONE),
                Spec.llama(GgmlType.Q8_0, true, Scaling.METADATA),
                Spec.llama(GgmlType.Q8_0, false, Scaling.NONE),
                Spec.llama(GgmlType.Q4_0, false, Scaling.TENSOR),
                Spec.llama(GgmlType.Q4_0, true, Scaling.METADATA),
                Spec.qwen3(GgmlType.F32, false),
                Spec.qwen3(GgmlType.Q8_0, true),
        };
        return Arrays.stream(specs).flatMap(s -> Stream.of(1, 2, 3).map(t -> Arguments.of(s, t)));
    }

    @ParameterizedTest(name = "{0}, {1} threads")
    @MethodSource("variants")
    void matchesReferenceAtEveryPosition(Spec spec, int threads) throws IOException {
        SyntheticModel synthetic = new SyntheticModel(spec, 42);
        Path path = synthetic.write(dir.resolve("m.gguf"));
        int[] tokens = new SplittableRandom(7).ints(STEPS, 0, spec.vocab()).toArray();
        boolean q8 = Kernels.of(spec.type()).needsQuantized();
        ReferenceLlama ref = new ReferenceLlama(spec, synthetic.floats, synthetic.ropeDivisors(), q8, STEPS);
        float[][] expected = new float[STEPS][];
        for (int p = 0; p < STEPS; p++) expected[p] = ref.forward(tokens[p], p);

        try (Llama batched = Llama.load(path, STEPS, threads, 8); Llama single = Llama.load(path, STEPS, threads, 1)) {
            float[] all = batched.forward(tokens, 0, false);
            for (int p = 0; p < STEPS; p++) {
                float[] row = Arrays.copyOfRange(all, p * spec.vocab(), (p + 1) * spec.vocab());
                assertClose(row, expected[p], "batched, position " + p);
                assertClose(single.forward(tokens[p], p), expected[p], "token by token, position " + p);
            }
            float[] last = batched.forward(tokens, 0, true);
            assertClose(last, expected[STEPS - 1], "last-only logits");
        }
    }

    static void assertClose(float[] actual, float[] expected, String what) {
        assertThat(actual).as(what).hasSize(expected.length);
        double diff = 0, norm = 0, maxAbs = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = actual[i] - expected[i];
            diff += d * d;
            norm += (double) expected[i] * expected[i];
            maxAbs = Math.max(maxAbs, Math.abs(d));
        }
        double rel = Math.sqrt(diff / norm);
        assertThat(rel).as("%s: relative L2 error", what).isLessThanOrEqualTo(REL_L2);
        assertThat(maxAbs).as("%s: max abs error", what).isLessThanOrEqualTo(MAX_ABS);
    }
}
