package dev.herd.engine;

import dev.herd.tokenizer.TokenDecoder;
import dev.herd.tokenizer.Tokenizer;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;

/**
 * Runs the whole generation path at load, on dummy tokens, so that the first request runs compiled code as later
 * ones do: the batched prompt pass (norms, RoPE, attention, quantizing activations, the matmuls as the engine calls
 * them), single-token passes, both kinds of sampling, and the tokenizer. {@code Kernels.warmUp} only warms the matmul
 * kernels, on their own; until C2 compiles the rest of the forward pass, the first prompt runs interpreted or C1 code.
 *
 * <p>On a split model the passes go through the cluster like any other, so they warm the workers (their forward pass
 * and their side of the syncs) too.
 *
 * <p>The passes write keys and values at positions {@code 0 .. BATCH + SINGLES} of every node's cache (and position 0
 * of the second slot, with several: a decoding step of two rows) and nothing
 * else keeps state between forward passes: a pass at position p first stores the keys and values of its own tokens,
 * then reads positions up to p, all of which a real run has stored itself by then. So what the warm-up leaves in the
 * cache is never read, and a run after it gives bit for bit what it gives without one.
 *
 * <p>Bounded in time: the first round always runs, and is mostly spent waiting for the JIT (it costs what the first
 * prompt used to lose); a second one runs if the first ended within {@code budgetNanos}; then rounds stop when the
 * next one would end after the budget, when a round is 10x faster than the first (like the kernels' warm-up), or once
 * the JIT has finished no compilation for at least {@link #QUIET_NANOS} and two rounds (the code is as compiled as it
 * gets; a JVM that is already warm stops there).
 */
public final class WarmUp {
    /** Default budget. */
    public static final long BUDGET_NANOS = 1_500_000_000L;
    /**
     * Tokens of the batched pass. The batched kernels take vectors in groups (of 4, or 8 padded) and then one by one,
     * and C2 compiles a branch the warm-up never took as a trap that sends the first prompt to take it back to the
     * interpreter (with 12 tokens, a 5-token first prompt took 41-111 ms instead of 7-13): 14 = 3 x 4 + 2 = 8 + 6
     * runs every group loop and remainder loop more than once.
     */
    static final int BATCH = 14;
    /** Single-token (decode) passes per round, after the batched one. */
    static final int SINGLES = 2;
    static final long QUIET_NANOS = 100_000_000L;
    /** The slots of the warm-up's decoding step (with several), each at position 0. */
    private static final int[] SLOT_INDEX = {0, 1}, POSITION_0 = {0, 0};
    private static final String TEXT = "Once upon a time, in a quiet town by the sea, a curious girl found 3 shiny stones.";

    /** What the warm-up did, for logs and tests. */
    public record Report(int rounds, long nanos, long firstRoundNanos, long lastRoundNanos) {}

    private WarmUp() {}

    /** Whether {@link Model#open} warms a model up: yes unless {@code -Dherd.warmup=false}. */
    public static boolean enabled() {
        return !"false".equalsIgnoreCase(System.getProperty("herd.warmup", "true"));
    }

    /** @param tokenizer null to leave the tokenizer cold */
    public static Report run(Llama llama, Tokenizer tokenizer, long budgetNanos) {
        int seq = llama.maxSeqLen(), vocab = llama.vocab();
        int batch = Math.max(1, Math.min(Math.min(BATCH, llama.batchSize()), seq - 1));
        int singles = Math.min(SINGLES, seq - batch), slots = Math.min(llama.slots(), Math.min(batch, SLOT_INDEX.length));
        int[] tokens = new int[batch];
        for (int i = 0; i < batch; i++) tokens[i] = 1 + (int) ((i * 997L) % Math.max(vocab - 1, 1));
        Sampler greedy = Sampler.greedy(vocab), nucleus = new Sampler(vocab, 0.8f, 0, 0.9f, 1);
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        boolean watchJit = jit != null && jit.isCompilationTimeMonitoringSupported();
        long start = System.nanoTime(), first = 0, took = 0, quietSince = start, compiled = watchJit ? jit.getTotalCompilationTime() : 0;
        int rounds = 0, quietRounds = 0;
        while (true) {
            long t0 = System.nanoTime();
            if (tokenizer != null) tokenize(tokenizer);
            float[] logits = llama.forward(tokens, 0, true);
            greedy.sample(logits);
            nucleus.sample(logits); // once a round: over a flat distribution it sorts the whole vocabulary
            for (int i = 0; i < singles; i++) greedy.sample(llama.forward(tokens[i % batch], batch + i));
            if (slots > 1) llama.decode(slots, SLOT_INDEX, tokens, POSITION_0); // a step of continuous batching
            long now = System.nanoTime();
            took = now - t0;
            if (rounds++ == 0) {
                first = took;
                if (now - start < budgetNanos) continue; // the second round costs a fraction of the first
                break;
            }
            if (took * 10 < first || now - start + took > budgetNanos) break;
            if (watchJit) {
                long c = jit.getTotalCompilationTime();
                if (c != compiled) {
                    compiled = c;
                    quietSince = now;
                    quietRounds = 0;
                } else if (++quietRounds >= 2 && now - quietSince >= QUIET_NANOS && rounds >= 3) {
                    break;
                }
            }
        }
        return new Report(rounds, System.nanoTime() - start, first, took);
    }

    private static void tokenize(Tokenizer tokenizer) {
        int[] ids = tokenizer.withBos(tokenizer.encode(TEXT));
        tokenizer.encodeWithSpecials(TEXT);
        TokenDecoder decoder = tokenizer.decoder();
        for (int id : ids) decoder.next(id);
        decoder.flush();
        tokenizer.decode(ids);
    }
}
