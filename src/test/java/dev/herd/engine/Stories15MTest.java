package dev.herd.engine;

import dev.herd.format.Llama2cCheckpoint;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
        Llama2cCheckpoint.convert(SharedFiles.model("stories15M.bin"), gguf, Map.of());
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

    /** The few fields of the golden file this test needs, read with regular expressions (no JSON library here). */
    static List<Case> golden() throws IOException {
        String json = Files.readString(SharedFiles.model("golden-stories15M.json"));
        json = json.substring(0, json.indexOf("\"tokenizer_cases\""));
        Matcher m = Pattern.compile("\"prompt_ids\":\\s*\\[([^]]*)]\\s*,\\s*\"greedy_ids\":\\s*\\[([^]]*)][^\\[]*\"logits_pos0_top5\":\\s*\\[((?:\\s*\\[[^]]*],?)*)\\s*]").matcher(json);
        List<Case> cases = new ArrayList<>();
        while (m.find()) {
            String[] pairs = m.group(3).replaceAll("[\\[\\s]", "").split("],?");
            int[] ids = new int[pairs.length];
            float[] logits = new float[pairs.length];
            for (int i = 0; i < pairs.length; i++) {
                String[] p = pairs[i].split(",");
                ids[i] = Integer.parseInt(p[0]);
                logits[i] = Float.parseFloat(p[1]);
            }
            cases.add(new Case(ints(m.group(1)), ints(m.group(2)), ids, logits));
        }
        return cases;
    }

    private static int[] ints(String s) {
        return Arrays.stream(s.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
    }
}
