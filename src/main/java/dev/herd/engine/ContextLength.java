package dev.herd.engine;

import dev.herd.HerdException;

/**
 * The KV cache length of a run: what was asked for (refused later, naming the node, if it does not fit), else at most
 * {@link #DEFAULT} positions and what every node can hold now. A model's whole context (131072 positions for Llama
 * 3.x) would take gigabytes of KV cache that few runs use. With several slots ({@code herd api --parallel}) every
 * slot has a cache of that length.
 *
 * @param slots sequences served at once, each with its own cache
 * @param note  one line saying the context was bounded and how to raise it; null when nothing was bounded
 */
public record ContextLength(int positions, int slots, String note) {
    public static final int DEFAULT = 4096;
    /** Slots of the default {@code --parallel}, fewer when their caches do not fit. */
    public static final int SLOTS = 4;
    /** Slots at most: a decoding step holds one token of each in a batch. */
    public static final int MAX_SLOTS = Model.BATCH;
    /** The shortest context an asked-for number of slots may be given when the context is left to the default. */
    public static final int MIN_SLOT_POSITIONS = 256;

    public ContextLength(int positions, String note) {
        this(positions, 1, note);
    }

    /**
     * {@link #choose(int, int, int)} for {@code parallel} slots: 0 for up to {@link #SLOTS} that fit beside a context
     * chosen as for one; N for exactly N, each with the context asked for or, by default, what fits (at least
     * {@link #MIN_SLOT_POSITIONS}): N slots that do not fit are refused here, before the load.
     */
    public static ContextLength choose(int requested, int model, int fits, int parallel) {
        if (parallel < 0 || parallel > MAX_SLOTS) {
            throw new HerdException("--parallel must be between 1 and " + MAX_SLOTS + " (0: up to " + SLOTS + ", as memory allows), got " + parallel);
        }
        if (parallel == 1) return choose(requested, model, fits);
        if (parallel == 0) {
            ContextLength one = choose(requested, model, fits);
            return new ContextLength(one.positions(), Math.max(1, Math.min(SLOTS, fits / one.positions())), one.note());
        }
        int each = fits / parallel, need = requested > 0 ? Math.min(requested, model) : Math.min(MIN_SLOT_POSITIONS, model);
        if (each < need) {
            throw new HerdException(String.format("--parallel %d: every node can hold %d positions of KV cache now, too few for %d slots of %d positions:"
                    + " lower --parallel%s", parallel, fits, parallel, need, requested > 0 ? " or --max-seq-len" : ""));
        }
        ContextLength c = choose(requested, model, each);
        return new ContextLength(c.positions(), parallel, c.note());
    }

    /**
     * @param requested positions asked for (--max-seq-len, or what the run needs); 0 for the default
     * @param model     the model's context length
     * @param fits      positions every node can hold now (0 when even the weights do not fit: the load then says where)
     */
    public static ContextLength choose(int requested, int model, int fits) {
        if (requested > 0) return new ContextLength(Math.min(requested, model), null);
        int bound = Math.min(DEFAULT, model);
        int n = Math.max(1, Math.min(bound, fits));
        if (n == model) return new ContextLength(n, null);
        String why = n < bound ? "what fits in memory" : "the default";
        return new ContextLength(n, String.format("context: %d positions of the model's %d (%s); raise it with --max-seq-len N", n, model, why));
    }
}
