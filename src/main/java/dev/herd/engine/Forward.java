package dev.herd.engine;

/**
 * The forward pass one generation runs on: a whole {@link Llama} (its first slot), or a slot of one that
 * {@link Scheduler} shares between concurrent generations. Logits arrays are reused: valid until the next call.
 */
public interface Forward {
    /** Evaluates {@code tokens} at positions startPos.. (earlier ones must be in the cache); the last one's logits. */
    float[] prompt(int[] tokens, int startPos);

    /** Decodes one token at {@code pos}; its logits. */
    float[] next(int token, int pos);

    /** The sum of the final hidden states of {@code tokens} evaluated at positions 0.. ({@link Llama#hiddenSum}). */
    double[] hiddenSum(int[] tokens);

    /** Positions a sequence can use. */
    int maxSeqLen();
}
