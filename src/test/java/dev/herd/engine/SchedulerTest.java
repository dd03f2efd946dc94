package dev.herd.engine;

import dev.herd.HerdException;
import dev.herd.Stories15M;
import dev.herd.format.GgufConfig;
import dev.herd.format.GgufFile;
import dev.herd.model.ModelConfig;
import dev.herd.model.Weights;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Continuous batching on the committed stories15M model: a decode step's rows, and generations running at once on the
 * slots of a {@link Scheduler}, give bit for bit what each gives alone.
 */
class SchedulerTest {
    static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());
    static final String[] PROMPTS = {"Once upon a time", "The cat", "Tom and Lily went to the park with their dog. It was a sunny day and"};
    static Model alone, shared;

    @BeforeAll
    static void load() {
        alone = Model.open(Stories15M.q8(), null, 128, 1);
        shared = Model.open(Stories15M.q8(), null, 128, 3, 1, Runner.LOCAL, QUIET);
    }

    @AfterAll
    static void close() {
        alone.close();
        shared.close();
    }

    @Test
    void aDecodeStepsRowsAreWhatEachTokenGivesAlone(@TempDir Path dir) {
        assertRowsAlone(alone, shared);
        // F32 weights take the row kernels (not the interleaved ones): their lone-token path too
        Path f32 = Stories15M.f32(dir);
        try (Model one = Model.open(f32, null, 128, 1); Model three = Model.open(f32, null, 128, 3, 1, Runner.LOCAL, QUIET)) {
            assertRowsAlone(one, three);
        }
        // Q4_0's kernel runs the rows as one batch (Kernel.rowsExact)
        Path q4 = Stories15M.q4(dir);
        try (Model one = Model.open(q4, null, 128, 1); Model three = Model.open(q4, null, 128, 3, 1, Runner.LOCAL, QUIET)) {
            assertRowsAlone(one, three);
        }
    }

    private static void assertRowsAlone(Model one, Model three) {
        int[][] prompts = new int[3][];
        for (int i = 0; i < 3; i++) prompts[i] = one.encodePrompt(PROMPTS[i]);
        assertRowsAlone(one.llama, three.llama, prompts);
    }

    /**
     * A decode step's rows on a K-quant file (the committed kq-q4_k_m: Q4_K matrices, which run the rows as one batch,
     * and Q6_K ones, which run them one by one), from prompts of random token ids.
     */
    @Test
    void kQuantDecodeStepsRowsAreWhatEachTokenGivesAlone() throws Exception {
        Path file = KQuantModelTest.fixture("kq-q4_k_m.gguf");
        SplittableRandom random = new SplittableRandom(3);
        int[][] prompts = {random.ints(4, 0, 512).toArray(), random.ints(1, 0, 512).toArray(), random.ints(9, 0, 512).toArray()};
        try (GgufFile f1 = GgufFile.open(file); GgufFile f3 = GgufFile.open(file)) {
            ModelConfig c = GgufConfig.read(f1);
            Llama one = new Llama(c, Weights.from(f1.source(), c), 32, 1, 1, 8, Sync.NONE, KvCache.Storage.MEMORY);
            Llama three = new Llama(c, Weights.from(f3.source(), c), 32, 3, 1, 8, Sync.NONE, KvCache.Storage.MEMORY);
            assertRowsAlone(one, three, prompts);
        }
    }

    /** Greedy continuations of the prompts, alone on {@code one}, then together on the slots of {@code three} (in another order). */
    private static void assertRowsAlone(Llama one, Llama three, int[][] prompts) {
        int vocab = one.vocab(), steps = 6;
        float[][][] expected = new float[3][steps + 1][];
        int[][] tokens = new int[3][steps + 1];
        for (int i = 0; i < 3; i++) {
            float[] logits = one.forward(prompts[i], 0, true);
            for (int s = 0; ; s++) {
                expected[i][s] = logits.clone();
                tokens[i][s] = Sampler.greedy(vocab).sample(logits);
                if (s == steps) break;
                logits = one.forward(tokens[i][s], prompts[i].length + s);
            }
        }
        int[] order = {2, 0, 1}, slots = new int[3], next = new int[3], pos = new int[3];
        for (int i = 0; i < 3; i++) assertThat(three.forward(i, prompts[i], 0, true)).isEqualTo(expected[i][0]);
        for (int s = 0; s < steps; s++) {
            for (int b = 0; b < 3; b++) {
                int i = order[(b + s) % 3]; // each step in another order
                slots[b] = i;
                next[b] = tokens[i][s];
                pos[b] = prompts[i].length + s;
            }
            float[] rows = three.decode(3, slots, next, pos);
            for (int b = 0; b < 3; b++) {
                float[] row = java.util.Arrays.copyOfRange(rows, b * vocab, (b + 1) * vocab);
                assertThat(row).as("step %d, prompt %d", s, slots[b]).isEqualTo(expected[slots[b]][s + 1]);
            }
        }
    }

    /** A seeded generation's tokens on {@code forward}. */
    private static int[] generate(Model m, Forward forward, int prompt, int max, int seed) {
        Generation g = new Generation(m, forward);
        Sequence seq = new Sequence(m, new Sampler(m.llama.vocab(), 0.9f, 0, 0.95f, seed), piece -> {});
        return g.run(m.encodePrompt(PROMPTS[prompt]), 0, max, seq).run().tokens();
    }

    @Test
    void generationsRunningTogetherGiveTheirTokensAlone() throws Exception {
        int[] max = {40, 12, 25};
        List<int[]> expected = new ArrayList<>();
        for (int i = 0; i < 3; i++) expected.add(generate(alone, alone.llama, i, max[i], 10 + i));
        try (Scheduler scheduler = new Scheduler(shared.llama)) {
            for (int round = 0; round < 2; round++) { // the second round finds the slots used
                List<CompletableFuture<int[]>> runs = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    int p = i, slot = (i + round) % 3;
                    runs.add(CompletableFuture.supplyAsync(() -> {
                        try {
                            return generate(shared, scheduler.slot(slot), p, max[p], 10 + p);
                        } finally {
                            scheduler.slot(slot).leave();
                        }
                    }));
                }
                for (int i = 0; i < 3; i++) assertThat(runs.get(i).get()).as("round %d, prompt %d", round, i).isEqualTo(expected.get(i));
            }
        }
    }

    @Test
    void aFailedPassFailsOnlyItsOwnGenerationAndAClosedSchedulerRefusesWork() throws Exception {
        int[] expected = generate(alone, alone.llama, 0, 30, 3);
        Scheduler scheduler = new Scheduler(shared.llama);
        CompletableFuture<int[]> good = CompletableFuture.supplyAsync(() -> generate(shared, scheduler.slot(0), 0, 30, 3));
        // a token outside the vocabulary fails the pass it is in: here a prompt's, alone in its chunk
        assertThatThrownBy(() -> scheduler.slot(1).prompt(new int[]{1, shared.llama.vocab() + 5}, 0))
                .isInstanceOf(HerdException.class).hasMessageContaining("outside the vocabulary");
        assertThatThrownBy(() -> scheduler.slot(2).prompt(new int[]{1, 2}, 127)).isInstanceOf(HerdException.class).hasMessageContaining("exceed the context of 128");
        assertThat(good.get()).isEqualTo(expected);
        scheduler.close();
        assertThatThrownBy(() -> scheduler.slot(0).next(1, 0)).isInstanceOf(HerdException.class).hasMessageContaining("closed");
    }
}
