package dev.herd.engine;

import java.util.Arrays;

/**
 * Prompt evaluation then the decode loop. Every prompt token is fed to the model, the last one included (the
 * distributed-llama bug of feeding tokens[n] at position n-1 is not reproduced): its logits give the first new token.
 */
public final class Generator {

    /** Receives each generated token and the nanoseconds spent producing it (for the first: the whole prompt). */
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

    /** The generated tokens (without the prompt and without the EOS token), why generation stopped, and timings. */
    public record Result(int[] tokens, Stop stop, int promptTokens, long promptNanos, long decodeNanos) {}

    private final Llama model;
    private final Sampler sampler;
    private final int[] eos;

    public Generator(Llama model, Sampler sampler, int... eosIds) {
        this.model = model;
        this.sampler = sampler;
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
        long start = System.nanoTime();
        int next = sampler.sample(model.forward(prompt, startPos, true));
        long promptNanos = System.nanoTime() - start, tokenNanos = promptNanos, decodeNanos = 0;
        int pos = startPos + prompt.length, n = 0;
        while (true) {
            if (isEos(next)) return new Result(Arrays.copyOf(out, n), Stop.EOS, prompt.length, promptNanos, decodeNanos);
            out[n++] = next;
            listener.token(next, tokenNanos);
            if (listener.halted()) return new Result(Arrays.copyOf(out, n), Stop.HALTED, prompt.length, promptNanos, decodeNanos);
            if (n == maxTokens) return new Result(out, Stop.LENGTH, prompt.length, promptNanos, decodeNanos);
            if (pos == model.maxSeqLen()) return new Result(Arrays.copyOf(out, n), Stop.CONTEXT, prompt.length, promptNanos, decodeNanos);
            long t0 = System.nanoTime();
            next = sampler.sample(model.forward(next, pos++));
            tokenNanos = System.nanoTime() - t0;
            decodeNanos += tokenNanos;
        }
    }

    private boolean isEos(int token) {
        for (int e : eos) if (e == token) return true;
        return false;
    }
}
