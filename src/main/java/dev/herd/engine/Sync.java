package dev.herd.engine;

/**
 * What a forward pass exchanges with the other nodes when a model is split across machines. The forward pass calls
 * it between ops, on the coordinating thread. One node: {@link #NONE}, which exchanges nothing.
 */
public interface Sync {
    /** Which logits a forward pass produces. */
    enum Logits { NONE, LAST, ALL }

    /** Root: tells the other nodes to run tokens[from .. from + rows.n()) at the rows' places (they receive the embeddings). */
    void start(int[] tokens, int from, Rows rows, Logits logits);

    /** Sums {@code v[0 .. batch * dim)} over all nodes, in place: every node ends with the same total. */
    void allReduce(float[] v, int batch, int dim);

    /**
     * Root: returns full logits rows (batch x vocab) made of every node's slice, its own being {@code local}
     * (batch x local vocab). Worker: sends {@code local} to the root and returns it.
     */
    float[] gather(float[] local, int batch);

    /** The whole vocabulary, given this node's slice of it. */
    default int vocab(int local) {
        return local;
    }

    Sync NONE = new Sync() {
        @Override
        public void start(int[] tokens, int from, Rows rows, Logits logits) {}

        @Override
        public void allReduce(float[] v, int batch, int dim) {}

        @Override
        public float[] gather(float[] local, int batch) {
            return local;
        }
    };
}
