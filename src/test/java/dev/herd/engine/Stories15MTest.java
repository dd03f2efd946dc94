package dev.herd.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.Shared;
import dev.herd.format.Llama2cCheckpoint;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** stories15M converted to GGUF reproduces the independent numpy forward pass of golden-stories15M.json. */
class Stories15MTest {
    @TempDir
    static Path dir;
    static Path gguf;

    record Case(int[] prompt, int[] greedy, int[] top5Ids, float[] top5Logits) {}

    @BeforeAll
    static void convert() {
        gguf = dir.resolve("stories15M.gguf");
        Llama2cCheckpoint.convert(Shared.model("stories15M.bin"), gguf, Map.of());
    }

    @Test
    void greedyIdsMatchGoldenExactly() throws IOException {
        List<Case> cases = golden();
        assertThat(cases).hasSize(3);
        try (Llama model = Llama.load(gguf, 256, 2, 32)) {
            for (Case c : cases) {
                Generator g = new Generator(model, Sampler.greedy(model.config.vocab()));
                int steps = c.greedy.length - c.prompt.length;
                Generator.Result r = g.generate(c.prompt, 0, steps, (t, ns) -> {});
                int[] all = Arrays.copyOf(c.prompt, c.prompt.length + r.tokens().length);
                System.arraycopy(r.tokens(), 0, all, c.prompt.length, r.tokens().length);
                assertThat(all).as("prompt %s", Arrays.toString(c.prompt)).containsExactly(c.greedy);
            }
        }
    }

    @Test
    void top5LogitsAtPositionZero() throws IOException {
        Case c = golden().getFirst();
        try (Llama model = Llama.load(gguf, 256, 1, 32)) {
            float[] logits = model.forward(c.prompt[0], 0);
            for (int i = 0; i < 5; i++) {
                assertThat(logits[c.top5Ids[i]]).as("logit of %d", c.top5Ids[i]).isCloseTo(c.top5Logits[i], within(1e-3f));
            }
            assertThat(Sampler.argmax(logits, logits.length)).isEqualTo(c.top5Ids[0]);
        }
    }

    /**
     * The committed Q8_0 fixture picks the golden token at each of the first 20 generated positions (fed the golden
     * sequence), except where the fp32 model itself barely prefers it: a top-2 margin under {@link #NEAR_TIE} logits,
     * which weight quantization may flip (the third case has one, 0.016 logits at its 17th token; llama.cpp, with its
     * f16 KV cache, happens to keep it).
     */
    @Test
    void committedQ8FixtureFollowsTheGoldenTokensExceptAtNearTies() throws Exception {
        Path fixture = Path.of(Stories15MTest.class.getResource("/models/stories15M-q8_0.gguf").toURI());
        try (Llama q8 = Llama.load(fixture, 256, 2, 32); Llama f32 = Llama.load(gguf, 256, 2, 32)) {
            int flips = 0;
            for (Case c : golden()) {
                int[] seq = Arrays.copyOf(c.greedy, c.prompt.length + 20);
                float[] a = q8.forward(seq, 0, false), b = f32.forward(seq, 0, false);
                int v = q8.vocab();
                for (int p = c.prompt.length - 1; p < seq.length - 1; p++) {
                    int picked = Sampler.argmax(Arrays.copyOfRange(a, p * v, (p + 1) * v), v);
                    if (picked == seq[p + 1]) continue;
                    float[] row = Arrays.copyOfRange(b, p * v, (p + 1) * v);
                    float margin = row[seq[p + 1]] - row[picked];
                    assertThat(margin).as("fp32 margin where Q8_0 picks %d instead of %d at position %d", picked, seq[p + 1], p)
                            .isLessThan(NEAR_TIE);
                    flips++;
                }
            }
            assertThat(flips).as("near ties flipped over 60 positions").isLessThanOrEqualTo(1);
        }
    }

    static final float NEAR_TIE = 0.05f;

    static List<Case> golden() throws IOException {
        List<Case> cases = new ArrayList<>();
        for (JsonNode c : new ObjectMapper().readTree(Shared.model("golden-stories15M.json").toFile()).get("cases")) {
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
