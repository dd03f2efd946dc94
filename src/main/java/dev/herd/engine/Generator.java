package dev.herd.engine;

import java.util.Arrays;
import java.util.function.LongSupplier;
import java.util.function.ToIntFunction;

/**
 * Prompt evaluation then the decode loop. Every prompt token is fed to the model, the last one included (the
 * distributed-llama bug of feeding tokens[n] at position n-1 is not reproduced): its logits give the first new token.
 */
public final class Generator {

    /** Receives each generated token and the nanoseconds spent producing it (for the first: the whole prompt and its sampling). */
    @FunctionalInterface
    public interface Listener {
        void token(int token, long nanos);

        /** Asked after each token: true ends generation there (a stop string was seen, the client left). */
        default boolean halted() {
            return false;
        }
    }

    /** HALTED: the listener asked to stop. */
    public enum Stop { EOS, LENGTH, CONTEXT, HALTED }

    /**
     * The generated tokens (without the prompt and without the EOS token), why generation stopped, and timings, none
     * of which includes the listener's time.
     *
     * @param promptNanos     the forward passes over the prompt alone (not the sampling of the first token)
     * @param decodeNanos     the decode steps: each a forward pass of the previous token and the sampling of the next
     * @param firstTokenNanos from the start of prompt evaluation to the first token sampled: promptNanos and that sampling
     * @param decodeSteps     the decode steps decodeNanos counts: every generated token but the first, plus the step that
     *                        produced EOS when generation stopped there (EOS is not in {@code tokens})
     */
    public record Result(int[] tokens, Stop stop, int promptTokens, long promptNanos, long decodeNanos, long firstTokenNanos, int decodeSteps) {
        /** Prompt tokens evaluated per second of prompt evaluation; 0 without a measurable time. */
        public double promptPerSecond() {
            return perSecond(promptTokens, promptNanos);
        }

        /** Decode steps per second of decoding; 0 when generation ended with the first token. */
        public double decodePerSecond() {
            return perSecond(decodeSteps, decodeNanos);
        }

        static double perSecond(int n, long nanos) {
            return n <= 0 || nanos <= 0 ? 0 : n / (nanos / 1e9);
        }
    }

    private final Forward model;
    private final ToIntFunction<float[]> sampler;
    private final LongSupplier clock;
    private final int[] eos;

    public Generator(Forward model, Sampler sampler, int... eosIds) {
        this(model, sampler::sample, System::nanoTime, eosIds);
    }

    /** With any token picker: a {@link Sequence}'s, which also notes the logprobs of what it samples. */
    public Generator(Forward model, ToIntFunction<float[]> picker, int... eosIds) {
        this(model, picker, System::nanoTime, eosIds);
    }

    /** With any token picker and clock: lets tests tell which phase a time was spent in. */
    Generator(Forward model, ToIntFunction<float[]> sampler, LongSupplier clock, int... eosIds) {
        this.model = model;
        this.sampler = sampler;
        this.clock = clock;
        this.eos = eosIds.clone();
    }

    /**
     * Evaluates {@code prompt} at positions startPos.. (earlier positions must already be in the cache) and
     * generates up to {@code maxTokens} tokens.
     */
    public Result generate(int[] prompt, int startPos, int maxTokens, Listener listener) {
        if (prompt.length == 0 || maxTokens < 1) throw new IllegalArgumentException("need a prompt (at least BOS) and maxTokens >= 1");
        // Every generated token but the last needs a cache slot.
        int[] out = new int[Math.min(maxTokens, Math.max(1, model.maxSeqLen() - startPos - prompt.length + 1))];
        long start = clock.getAsLong();
        float[] logits = model.prompt(prompt, startPos);
        long promptNanos = clock.getAsLong() - start;
        int next = sampler.applyAsInt(logits);
        long firstTokenNanos = clock.getAsLong() - start, tokenNanos = firstTokenNanos, decodeNanos = 0;
        int pos = startPos + prompt.length, n = 0, steps = 0;
        while (true) {
            if (isEos(next)) return new Result(Arrays.copyOf(out, n), Stop.EOS, prompt.length, promptNanos, decodeNanos, firstTokenNanos, steps);
            out[n++] = next;
            listener.token(next, tokenNanos);
            if (listener.halted()) return new Result(Arrays.copyOf(out, n), Stop.HALTED, prompt.length, promptNanos, decodeNanos, firstTokenNanos, steps);
            if (n == maxTokens) return new Result(out, Stop.LENGTH, prompt.length, promptNanos, decodeNanos, firstTokenNanos, steps);
            if (pos == model.maxSeqLen()) return new Result(Arrays.copyOf(out, n), Stop.CONTEXT, prompt.length, promptNanos, decodeNanos, firstTokenNanos, steps);
            long t0 = clock.getAsLong();
            next = sampler.applyAsInt(model.next(next, pos++));
            tokenNanos = clock.getAsLong() - t0;
            decodeNanos += tokenNanos;
            steps++;
        }
    }

    private boolean isEos(int token) {
        for (int e : eos) if (e == token) return true;
        return false;
    }
}
