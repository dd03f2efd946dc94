package dev.herd.cluster;

/**
 * The all-reduce of a mesh: every node sends its encoded partial sum to every other node at once, then adds the N
 * encoded vectors in node order, so every node holds bit-identical totals after one network hop (the star needs two:
 * to the root and back). Bounded in size so that all the sends fit in the socket buffers while no node is reading
 * yet; a prompt batch goes through the root instead.
 */
final class Mesh {
    static final int MAX_BYTES = 64 << 10;

    private Mesh() {}

    /** The links of one node, by node index. */
    interface Links {
        void send(int node, Message m);

        /** The next PARTIAL from {@code node}, checked to be {@code bytes} long. */
        Message receive(int node, int bytes);
    }

    /** v[0 .. n) becomes the sum over all nodes; {@code buf} and {@code scratch} are work space of the right size. */
    static void allReduce(SyncCodec codec, float[] v, int n, byte[] buf, float[] scratch, int nodes, int me, Links links) {
        int bytes = codec.bytes(n);
        codec.encode(v, n, buf);
        Message mine = new Message(Message.PARTIAL, buf, bytes);
        for (int k = 0; k < nodes; k++) if (k != me) links.send(k, mine);
        for (int k = 0; k < nodes; k++) {
            byte[] partial = k == me ? buf : links.receive(k, bytes).payload(); // mine as the others see it
            codec.decode(partial, n, v, scratch, k > 0);
        }
    }
}
