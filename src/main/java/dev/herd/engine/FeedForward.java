package dev.herd.engine;

import dev.herd.model.ModelConfig;
import dev.herd.model.Weights;

/**
 * A layer's feed-forward network: from the normed input {@code pass.xb} to {@code pass.out} (this node's partial sum
 * on a split model): the dense {@link Glu} (SwiGLU or GeGLU), or a {@link Mixture} of experts when the config has one (with a shared
 * expert, a Glu of its own, when it has one).
 */
interface FeedForward {
    /** Runs layer {@code pass.layer} for the batch. */
    void run();

    /** Bytes of the heap buffers it allocates, for planning. */
    static long bufferBytes(ModelConfig c, int batchSize) {
        return c.moe() == null ? Glu.bufferBytes(c.hidden(), batchSize) : Mixture.bufferBytes(c, batchSize);
    }

    static FeedForward of(ModelConfig c, Weights w, Pass pass) {
        return c.moe() == null ? Glu.dense(c, w, pass) : new Mixture(c, w, pass);
    }
}
