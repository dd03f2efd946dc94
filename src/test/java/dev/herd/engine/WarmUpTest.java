package dev.herd.engine;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The warm-up at load leaves no trace in what a model computes: a run after it gives the same logits, bit for bit, as
 * the same run on a model that was never warmed up, also at the positions the warm-up wrote into the KV cache.
 */
class WarmUpTest {
    static final long BUDGET = 500_000_000L;

    static Path fixture() throws Exception {
        return Path.of(WarmUpTest.class.getResource("/models/stories15M-q8_0.gguf").toURI());
    }

    /**
     * Every logits row of a short prompt evaluated at once, then the last-only logits of a shorter prompt and of
     * single-token steps after it, over positions the warm-up used (0 .. 15) and beyond; sampling at a temperature.
     */
    static List<float[]> run(Llama m) {
        List<float[]> out = new ArrayList<>();
        out.add(m.forward(new int[]{1, 9038, 2501, 263, 931, 29892, 727, 471}, 0, false));
        Generator g = new Generator(m, new Sampler(m.vocab(), 0.9f, 0, 0.9f, 42), 2);
        int[] prompt = {1, 9038, 2501};
        out.add(m.forward(prompt, 0, true).clone());
        Generator.Result r = g.generate(prompt, 0, 24, (t, n) -> {});
        out.add(toFloats(r.tokens()));
        int pos = prompt.length;
        for (int t : Arrays.copyOf(r.tokens(), 10)) out.add(m.forward(t, pos++).clone());
        return out;
    }

    static float[] toFloats(int[] ids) {
        float[] f = new float[ids.length];
        for (int i = 0; i < ids.length; i++) f[i] = ids[i];
        return f;
    }

    static void assertBitIdentical(List<float[]> warm, List<float[]> cold) {
        assertThat(warm).hasSameSizeAs(cold);
        for (int i = 0; i < cold.size(); i++) {
            float[] a = warm.get(i), b = cold.get(i);
            assertThat(a.length).isEqualTo(b.length);
            for (int j = 0; j < b.length; j++) {
                if (Float.floatToRawIntBits(a[j]) != Float.floatToRawIntBits(b[j])) {
                    throw new AssertionError("output " + i + " differs at " + j + ": " + a[j] + " after warm-up, " + b[j] + " without");
                }
            }
        }
    }

    @Test
    void aRunAfterTheWarmUpIsBitIdenticalToOneWithout() throws Exception {
        List<float[]> cold, warm;
        try (Llama m = Llama.load(fixture(), 64, 2, 32)) {
            cold = run(m);
        }
        try (Llama m = Llama.load(fixture(), 64, 2, 32)) {
            WarmUp.Report report = WarmUp.run(m, null, BUDGET);
            assertThat(report.rounds()).isPositive();
            warm = run(m);
        }
        assertBitIdentical(warm, cold);
    }

    /** Model.open warms up (tokenizer included) and still gives the text a model without warm-up gives. */
    @Test
    void modelOpenWarmsUpAndGivesTheSameText() throws Exception {
        int[] expected;
        try (Llama m = Llama.load(fixture(), 256, 1, Model.BATCH)) {
            expected = new Generator(m, new Sampler(m.vocab(), 1f, 0, 0.9f, 7), 2).generate(new int[]{1, 450, 11203}, 0, 40, (t, n) -> {}).tokens();
        }
        assertThat(WarmUp.enabled()).isTrue();
        try (Model m = Model.open(fixture(), null, 256, 1)) {
            assertThat(m.warmUp).isNotNull();
            assertThat(m.warmUp.rounds()).isPositive();
            int[] tokens = new Generator(m.llama, new Sampler(m.llama.vocab(), 1f, 0, 0.9f, 7), 2)
                    .generate(new int[]{1, 450, 11203}, 0, 40, (t, n) -> {}).tokens();
            assertThat(tokens).containsExactly(expected);
        }
    }

    /** A context shorter than the warm-up's passes: it uses what fits. */
    @Test
    void tinyContext() throws Exception {
        for (int seq : new int[]{1, 2, 5}) {
            try (Llama m = Llama.load(fixture(), seq, 1, 32)) {
                assertThat(WarmUp.run(m, null, BUDGET).rounds()).isPositive();
                float[] logits = m.forward(1, 0);
                assertThat(logits).hasSize(m.vocab());
            }
        }
    }
}
