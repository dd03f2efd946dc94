package dev.herd.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.function.ToIntFunction;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What each timing of a generation counts, on the committed stories15M model. The clock is the real one plus an
 * offset that only the token picker moves, by an hour per pick: a time that contains a pick is at least an hour, one
 * without is the model's real milliseconds. So the assertions hold whatever the machine's speed.
 */
class GeneratorTest {
    static final long HOUR = 3_600_000_000_000L;
    static final int EOS = 2;
    static Llama model;

    @BeforeAll
    static void load() throws Exception {
        model = Llama.load(Path.of(GeneratorTest.class.getResource("/models/stories15M-q8_0.gguf").toURI()), 64, 1, 32);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** Picks greedily, but returns EOS at pick number {@code eosAt} (1-based; 0: never); each pick costs an hour. */
    static final class SlowPicker implements ToIntFunction<float[]>, LongSupplier {
        final int eosAt;
        long offset;
        int picks;

        SlowPicker(int eosAt) {
            this.eosAt = eosAt;
        }

        @Override
        public int applyAsInt(float[] logits) {
            offset += HOUR;
            return ++picks == eosAt ? EOS : Sampler.argmax(logits, model.vocab());
        }

        @Override
        public long getAsLong() {
            return System.nanoTime() + offset;
        }
    }

    static final int[] PROMPT = {1, 9038, 2501, 263, 931}; // <s> Once upon a time

    @Test
    void promptTimeIsTheForwardPassAloneAndTimeToFirstTokenAddsTheSampling() {
        SlowPicker p = new SlowPicker(0);
        List<Long> nanos = new ArrayList<>();
        Generator.Result r = new Generator(model, p, p, EOS).generate(PROMPT, 0, 6, (t, n) -> nanos.add(n));
        assertThat(r.stop()).isEqualTo(Generator.Stop.LENGTH);
        assertThat(r.tokens()).hasSize(6);
        assertThat(r.promptNanos()).as("prompt evaluation, without the first pick").isPositive().isLessThan(HOUR);
        assertThat(r.firstTokenNanos() / HOUR).as("hours in the time to first token: one pick").isEqualTo(1);
        assertThat(r.firstTokenNanos()).isGreaterThan(r.promptNanos());
        assertThat(nanos.getFirst()).as("the listener's time for the first token").isEqualTo(r.firstTokenNanos());
        assertThat(r.decodeSteps()).isEqualTo(5);
        assertThat(r.decodeNanos() / HOUR).as("hours in decoding: one pick per step").isEqualTo(5);
        assertThat(r.promptPerSecond()).isEqualTo(PROMPT.length / (r.promptNanos() / 1e9));
    }

    /** The step that produced EOS was run and timed: it counts as a decode step, though EOS is not returned. */
    @Test
    void decodeStepsIncludeTheOneThatProducedEos() {
        SlowPicker p = new SlowPicker(5);
        Generator.Result r = new Generator(model, p, p, EOS).generate(PROMPT, 0, 20, (t, n) -> {});
        assertThat(r.stop()).isEqualTo(Generator.Stop.EOS);
        assertThat(r.tokens()).hasSize(4);
        assertThat(r.decodeSteps()).isEqualTo(4);
        assertThat(r.decodeNanos() / HOUR).isEqualTo(4);
        assertThat(r.decodePerSecond()).isEqualTo(4 / (r.decodeNanos() / 1e9));
    }

    @Test
    void firstTokenAloneHasNoDecodeSteps() {
        SlowPicker p = new SlowPicker(0);
        Generator.Result r = new Generator(model, p, p, EOS).generate(PROMPT, 0, 1, (t, n) -> {});
        assertThat(r.tokens()).hasSize(1);
        assertThat(r.decodeSteps()).isZero();
        assertThat(r.decodeNanos()).isZero();
        assertThat(r.decodePerSecond()).isZero();
    }
}
