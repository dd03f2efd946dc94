package dev.herd.engine;

import dev.herd.model.ModelConfig;
import dev.herd.model.Weights;

/**
 * A layer's feed-forward network: from the normed input {@code pass.xb} to {@code pass.out} (this node's partial sum
 * on a split model). Every model Herd runs has the dense SwiGLU one; a mixture-of-experts FFN (router, top-k experts,
 * each expert a SwiGLU of its own slice) is another implementation, chosen in {@link #of}.
 */
interface FeedForward {
    /** Runs layer {@code pass.layer} for the batch. */
    void run();

    /** Bytes of the heap buffers it allocates, for planning. */
    static long bufferBytes(ModelConfig c, int batchSize) {
        return SwiGlu.bufferBytes(c, batchSize);
    }

    static FeedForward of(ModelConfig c, Weights w, Pass pass) {
        return new SwiGlu(c, w, pass);
    }
}
