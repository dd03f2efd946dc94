package dev.herd.engine;

/**
 * Keys and values of every past position, F32, per layer {@code maxSeqLen x kvDim} floats. Each KV head's positions
 * are contiguous ([kvHead][pos][headDim]) so attention for one head streams through one block of memory, and a node
 * that owns whole KV heads owns whole blocks.
 */
public final class KvCache {
    public final int maxSeqLen;
    final int headDim;
    final float[][] keys;
    final float[][] values;

    public KvCache(int layers, int kvHeads, int headDim, int maxSeqLen) {
        long perLayer = (long) maxSeqLen * kvHeads * headDim;
        if (perLayer > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("KV cache layer too large: " + perLayer + " floats");
        this.maxSeqLen = maxSeqLen;
        this.headDim = headDim;
        this.keys = new float[layers][(int) perLayer];
        this.values = new float[layers][(int) perLayer];
    }

    /** Index of the first value of {@code kvHead} at {@code pos} in a layer's keys or values. */
    int at(int kvHead, int pos) {
        return (kvHead * maxSeqLen + pos) * headDim;
    }
}
