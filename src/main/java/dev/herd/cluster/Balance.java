package dev.herd.cluster;

import dev.herd.HerdException;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Consumer;

/**
 * Shares from measured speeds ({@code --balance auto}): a node's time per token is its share of the weights over its
 * speed, so shares in proportion to the speeds let every node reach each sync at once. Weights run from 1 to
 * {@link #SCALE} (the fastest node's). Where such weights cannot split the model (a share too small for a whole KV
 * head, attention-output columns that would cut a quantization block), the equal split is taken, and the log says why.
 */
final class Balance {
    static final int SCALE = 100;

    private Balance() {}

    /** Each node's weight: its speed against the fastest, on 1..{@link #SCALE}. */
    static List<Integer> weights(long[] speeds) {
        long fastest = 0;
        for (long s : speeds) {
            if (s <= 0) throw new IllegalArgumentException("a speed of " + s);
            fastest = Math.max(fastest, s);
        }
        List<Integer> weights = new ArrayList<>();
        for (long s : speeds) weights.add((int) Math.max(1, Math.round((double) SCALE * s / fastest)));
        return weights;
    }

    /** The shares to split by: {@link #weights}, else equal ones; {@code check} throws HerdException for shares that cannot split the model. */
    static List<Integer> shares(long[] speeds, Consumer<List<Integer>> check, PrintStream log) {
        List<Integer> weights = weights(speeds);
        List<String> figures = new ArrayList<>();
        for (int i = 0; i < speeds.length; i++) figures.add(String.format("node %d %.2f GB/s", i, speeds[i] / 1e9));
        try {
            check.accept(weights);
            log.printf("balance: measured %s: weights %s%n", String.join(", ", figures), weights);
            return weights;
        } catch (HerdException uneven) {
            List<Integer> equal = Collections.nCopies(speeds.length, 1);
            try {
                check.accept(equal);
            } catch (HerdException e) {
                throw new HerdException(uneven.getMessage() + "; equal shares neither: " + e.getMessage(), e);
            }
            log.printf("balance: measured %s, but %s: equal shares%n", String.join(", ", figures), uneven.getMessage());
            return equal;
        }
    }
}
