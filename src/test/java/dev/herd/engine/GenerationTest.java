package dev.herd.engine;

import dev.herd.Stories15M;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The generation service on the committed stories15M model: logprobs, stop strings, cancellation, context, embeddings. */
class GenerationTest {
    static Model model;
    static Generation generation;

    @BeforeAll
    static void load() {
        model = Model.open(Stories15M.q8(), null, 128, 1);
        generation = new Generation(model);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** A generation of up to {@code max} tokens with these stops and logprobs; the pieces' text is collected in {@code pieces}. */
    private static Generation.Result run(String prompt, Sampler sampler, List<String> stops, int top, int max, List<Sequence.Piece> pieces) {
        Sequence seq = new Sequence(model, sampler, stops, top, pieces::add, () -> false);
        return generation.run(generation.encode(prompt).ids(), 0, max, seq);
    }

    /** The log-softmax of one logits row, in double, computed here. */
    private static double[] logSoftmax(float[] logits, int from, int vocab) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[from + i]);
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[from + i] - max);
        double[] out = new double[vocab];
        for (int i = 0; i < vocab; i++) out[i] = logits[from + i] - max - Math.log(sum);
        return out;
    }

    @Test
    void logprobsAreTheModelsLogSoftmaxAtEachSampledToken() {
        List<Sequence.Piece> pieces = new ArrayList<>();
        Generation.Result r = run("Once upon a time", new Sampler(model.llama.vocab(), 0.9f, 0, 0.95f, 7), List.of(), 5, 12, pieces);
        int[] prompt = generation.encode("Once upon a time").ids(), tokens = r.run().tokens();
        List<Logprob> logprobs = pieces.stream().flatMap(p -> p.logprobs().stream()).toList();
        assertThat(logprobs).extracting(Logprob::token).containsExactly(Arrays.stream(tokens).boxed().toArray(Integer[]::new));

        // The same forward passes again (the prompt in one, then one per token: batched evaluation rounds differently),
        // each row log-softmaxed here.
        int vocab = model.llama.vocab();
        float[] logits = model.llama.forward(prompt, 0, true);
        for (int i = 0; i < tokens.length; i++) {
            double[] expected = logSoftmax(logits, 0, vocab);
            Logprob got = logprobs.get(i);
            assertThat(got.logprob()).as("token %d", i).isCloseTo(expected[tokens[i]], within(1e-9));
            assertThat(got.bytes()).isEqualTo(model.tokenizer.bytes(tokens[i]));
            double[] best = Arrays.stream(expected).map(v -> -v).sorted().map(v -> -v).limit(5).toArray();
            assertThat(got.top()).hasSize(5);
            for (int k = 0; k < 5; k++) {
                Logprob alternative = got.top().get(k);
                assertThat(alternative.logprob()).as("token %d, alternative %d", i, k).isCloseTo(best[k], within(1e-9))
                        .isCloseTo(expected[alternative.token()], within(1e-9));
            }
            logits = model.llama.forward(tokens[i], prompt.length + i);
        }
    }

    @Test
    void aStopStringCutsTheTextAndEndsTheGeneration() {
        Generation.Result whole = run("Once upon a time", Sampler.greedy(model.llama.vocab()), List.of(), -1, 30, new ArrayList<>());
        String text = whole.text();
        String stop = text.substring(text.indexOf(' ', 10), text.indexOf(' ', 10) + 4);
        List<Sequence.Piece> pieces = new ArrayList<>();
        Generation.Result cut = run("Once upon a time", Sampler.greedy(model.llama.vocab()), List.of(stop), 0, 30, pieces);
        assertThat(cut.text()).isEqualTo(text.substring(0, text.indexOf(stop)));
        assertThat(cut.stopString()).isTrue();
        assertThat(cut.finish()).isEqualTo("stop");
        assertThat(whole.finish()).isEqualTo("length");
        assertThat(cut.run().tokens().length).isLessThan(whole.run().tokens().length);
        assertThat(pieces.stream().map(Sequence.Piece::text).reduce("", String::concat)).isEqualTo(cut.text());
        assertThat(pieces.stream().mapToInt(p -> p.logprobs().size()).sum()).as("every token's logprob, once").isEqualTo(cut.run().tokens().length);
    }

    @Test
    void aCancelledSequenceStopsAtItsNextToken() {
        int[] seen = {0};
        Sequence seq = new Sequence(model, Sampler.greedy(model.llama.vocab()), List.of(), -1, p -> seen[0]++, () -> seen[0] >= 3);
        Generation.Result r = generation.run(generation.encode("Once upon a time").ids(), 0, 30, seq);
        assertThat(r.run().tokens()).hasSize(3);
        assertThat(r.run().stop()).isEqualTo(Generator.Stop.HALTED);
    }

    @Test
    void thePromptMustLeaveRoomToGenerate() {
        assertThat(generation.room(127)).isEqualTo(1);
        assertThatThrownBy(() -> generation.room(128)).isInstanceOf(Generation.ContextFull.class)
                .hasMessage("the prompt has 128 tokens but the context holds 128: no room to generate");
        assertThatThrownBy(() -> generation.room(20, 20)).hasMessage("the prompt has 20 tokens but --steps is 20 (the prompt included): no room to generate");
        int[] tooLong = new int[128];
        Arrays.fill(tooLong, 1);
        ChatSession chat = new ChatSession(model);
        assertThatThrownBy(() -> chat.complete(tooLong, new Sequence(model, Sampler.greedy(model.llama.vocab()), p -> {}), 5))
                .isInstanceOf(Generation.ContextFull.class);
    }

    @Test
    void embeddingsAreUnitLengthDeterministicAndTellTextsApart() {
        float[] a = generation.embedding(generation.encode("The cat sat on the mat.").ids());
        run("Once upon a time", Sampler.greedy(model.llama.vocab()), List.of(), -1, 20, new ArrayList<>()); // fills the cache between
        float[] again = generation.embedding(generation.encode("The cat sat on the mat.").ids());
        float[] b = generation.embedding(generation.encode("A rocket flew to the moon.").ids());
        assertThat(a).hasSize(model.llama.config.dim());
        assertThat(norm(a)).isCloseTo(1, within(1e-5));
        assertThat(norm(b)).isCloseTo(1, within(1e-5));
        assertThat(again).containsExactly(a);
        double cosine = 0;
        for (int i = 0; i < a.length; i++) cosine += a[i] * b[i];
        assertThat(cosine).as("cosine of two different texts").isLessThan(0.99);
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float x : v) s += x * x;
        return Math.sqrt(s);
    }
}
