package dev.herd.cluster;

import java.util.function.Supplier;

/**
 * The all-reduce of two nodes: each sends its partial sum and receives the other's at the same time, then both add
 * the same two (encoded) vectors, so both hold bit-identical totals after one network hop. Bounded in size so that
 * both sends fit in the socket buffers while neither side is reading yet (a prompt batch falls back to the star).
 */
final class Exchange {
    static final int MAX_BYTES = 64 << 10;

    private Exchange() {}

    /** v[0 .. n) becomes mine + theirs; {@code buf} and {@code scratch} are work space of the right size. */
    static void swap(SyncCodec codec, float[] v, int n, byte[] buf, float[] scratch, Runnable send, Supplier<Message> receive) {
        codec.encode(v, n, buf);
        send.run();
        Message theirs = receive.get();
        codec.decode(buf, n, v, scratch, false); // my partial as the other node sees it
        codec.decode(theirs.payload(), n, v, scratch, true);
    }
}
