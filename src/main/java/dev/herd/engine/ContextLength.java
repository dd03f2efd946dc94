package dev.herd.engine;

/**
 * The KV cache length of a run: what was asked for (refused later, naming the node, if it does not fit), else at most
 * {@link #DEFAULT} positions and what every node can hold now. A model's whole context (131072 positions for Llama
 * 3.x) would take gigabytes of KV cache that few runs use.
 *
 * @param note one line saying the context was bounded and how to raise it; null when nothing was bounded
 */
public record ContextLength(int positions, String note) {
    public static final int DEFAULT = 4096;

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
