package dev.herd.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.Shared;
import dev.herd.Stories15M;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The committed stories15M (Q8_0 GGUF, made by Herd's converter from the llama2.c checkpoint) against
 * golden-stories15M.json, greedy outputs of the F32 checkpoint from an independent numpy forward pass: the model, its
 * conversion and the whole forward pass (RoPE pairs, attention, norms, tied output) on real trained weights. Before,
 * the F32 checkpoint (59 MB, not committed: ../shared only) was held to the golden ids exactly and its logits to 1e-3;
 * here the tolerances are Q8_0's, measured against that F32 run. The F32 forward pass is held exactly to a golden on
 * a real checkpoint in Stories260KTest (by scripts/llama2c-golden.py, which also gives golden-stories15M.json's ids and
 * logits from the F32 stories15M), and to
 * 1e-4 against a scalar reference forward pass on synthetic models in LlamaTest; F32 stories15M (the Q8_0 weights in
 * F32) runs in ClusterTest, KvCacheTest and LostWorkerTest.
 */
class Stories15MTest {
    /**
     * Where the model's top two tokens are within this many logits, Q8_0 may swap them. Q8_0 moves single logits by
     * up to 0.5 (measured against F32 over every token of the 147 golden positions), the gap between the top two much
     * less: 0.11 and 0.17 at the only two positions where it swaps them (F32 margins 0.046 and 0.016, Q8_0 margins
     * 0.065 and 0.149 the other way).
     */
    static final float NEAR_TIE = 0.25f;
    /** Q8_0's error on the top-5 logits at position 0 (logits 7.6 to 12.3): measured at most 0.058. */
    static final float POS0_TOLERANCE = 0.15f;

    record Case(int[] prompt, int[] greedy, int[] top5Ids, float[] top5Logits) {}

    static Llama load() {
        return Llama.load(Stories15M.q8(), 256, 2, 32);
    }

    /**
     * Fed each golden sequence, the model picks the golden token at every generated position (147 over the three
     * prompts), except at most two near ties, where the golden token is its runner-up within {@link #NEAR_TIE}.
     */
    @Test
    void picksTheGoldenTokensExceptAtNearTies() throws IOException {
        int flips = 0, positions = 0;
        try (Llama model = load()) {
            int v = model.vocab();
            for (Case c : golden()) {
                float[] logits = model.forward(c.greedy, 0, false);
                for (int p = c.prompt.length - 1; p < c.greedy.length - 1; p++, positions++) {
                    float[] row = Arrays.copyOfRange(logits, p * v, (p + 1) * v);
                    int picked = Sampler.argmax(row, v), golden = c.greedy[p + 1];
                    if (picked == golden) continue;
                    flips++;
                    row[picked] = Float.NEGATIVE_INFINITY;
                    assertThat(Sampler.argmax(row, v)).as("runner-up at position %d", p).isEqualTo(golden);
                    assertThat(logits[p * v + picked] - row[golden]).as("margin of %d over golden %d at position %d", picked, golden, p)
                            .isLessThan(NEAR_TIE);
                }
            }
        }
        assertThat(positions).isEqualTo(147);
        assertThat(flips).as("near ties swapped").isLessThanOrEqualTo(2);
    }

    /**
     * Greedy generation (the prompt in one batch, then token by token through the KV cache) gives the golden ids until
     * it meets a near tie: where it first leaves them, the golden token and its own are within {@link #NEAR_TIE} in
     * the model's logits fed the golden sequence. Batched and token-by-token logits differ by float rounding, which a
     * Q8_0 rounding of the activations can amplify to ~0.1 logits, so either side of a near tie may be taken (at 256
     * bits, generation and the batched pass took different sides of the 0.065 one). Measured at 512, 256 and 128 bits:
     * 54 of 64, 44 of 44 and 16 of 39 generated tokens golden.
     */
    @Test
    void greedyGenerationGivesTheGoldenIdsUntilANearTie() throws IOException {
        int golden = 0;
        try (Llama model = load(); Llama check = load()) {
            int v = model.vocab();
            for (Case c : golden()) {
                int[] got = new Generator(model, Sampler.greedy(v)).generate(c.prompt, 0, c.greedy.length - c.prompt.length, (t, ns) -> {}).tokens();
                assertThat(got).hasSize(c.greedy.length - c.prompt.length);
                int same = 0;
                while (same < got.length && got[same] == c.greedy[c.prompt.length + same]) same++;
                golden += same;
                if (same == got.length) continue;
                int p = c.prompt.length - 1 + same;
                float[] row = Arrays.copyOfRange(check.forward(c.greedy, 0, false), p * v, (p + 1) * v);
                assertThat(Math.abs(row[got[same]] - row[c.greedy[p + 1]]))
                        .as("prompt %s: %d instead of golden %d at position %d", Arrays.toString(c.prompt), got[same], c.greedy[p + 1], p)
                        .isLessThan(NEAR_TIE);
            }
        }
        assertThat(golden).as("golden tokens generated (measured 114 of 147)").isGreaterThanOrEqualTo(100);
    }

    /** At position 0 the model ranks the golden top 5 in the golden order, each logit within {@link #POS0_TOLERANCE}. */
    @Test
    void top5LogitsAtPositionZero() throws IOException {
        Case c = golden().getFirst();
        try (Llama model = Llama.load(Stories15M.q8(), 256, 1, 32)) {
            float[] logits = model.forward(c.prompt[0], 0).clone();
            for (int i = 0; i < 5; i++) {
                assertThat(logits[c.top5Ids[i]]).as("logit of %d", c.top5Ids[i]).isCloseTo(c.top5Logits[i], within(POS0_TOLERANCE));
                assertThat(Sampler.argmax(logits, logits.length)).as("rank %d", i).isEqualTo(c.top5Ids[i]);
                logits[c.top5Ids[i]] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    static List<Case> golden() throws IOException {
        return golden("golden-stories15M.json");
    }

    /** The cases of a golden file (prompt ids, greedy ids, top-5 logits at position 0). */
    static List<Case> golden(String file) throws IOException {
        List<Case> cases = new ArrayList<>();
        for (JsonNode c : new ObjectMapper().readTree(Shared.model(file).toFile()).get("cases")) {
            JsonNode top = c.get("logits_pos0_top5");
            int[] ids = new int[top.size()];
            float[] logits = new float[top.size()];
            for (int i = 0; i < top.size(); i++) {
                ids[i] = top.get(i).get(0).asInt();
                logits[i] = (float) top.get(i).get(1).asDouble();
            }
            cases.add(new Case(ints(c.get("prompt_ids")), ints(c.get("greedy_ids")), ids, logits));
        }
        return cases;
    }

    private static int[] ints(JsonNode a) {
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = a.get(i).asInt();
        return v;
    }
}
