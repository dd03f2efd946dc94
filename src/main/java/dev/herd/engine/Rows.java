package dev.herd.engine;

import dev.herd.HerdException;

/**
 * The tokens of one forward pass, each at a position of a region of the KV cache (a slot's, from {@code base}). Either
 * a run of consecutive positions in one region (a prompt chunk: one batched matmul over the rows), or rows that are
 * each the next token of a different sequence ({@link #each}): their matmuls run row by row with the kernels of a lone
 * token, while the weights are in cache, so every row gives exactly what it gives alone, whatever else is in the pass.
 */
public final class Rows {
    final int[] base, pos;
    int n;
    boolean each;

    public Rows(int capacity) {
        base = new int[capacity];
        pos = new int[capacity];
    }

    /** {@code n} consecutive positions from {@code pos} of the region at {@code base}. */
    public Rows run(int base, int pos, int n) {
        size(n, false);
        for (int b = 0; b < n; b++) {
            this.base[b] = base;
            this.pos[b] = pos + b;
        }
        return this;
    }

    /** {@code n} rows, each its own sequence's token; {@link #set} gives each its place. */
    public Rows each(int n) {
        size(n, true);
        return this;
    }

    private void size(int n, boolean each) {
        if (n < 1 || n > base.length) throw new IllegalArgumentException("a pass of " + n + " rows, not 1.." + base.length);
        this.n = n;
        this.each = each;
    }

    public void set(int row, int base, int pos) {
        this.base[row] = base;
        this.pos[row] = pos;
    }

    public int n() {
        return n;
    }

    public boolean each() {
        return each;
    }

    public int base(int row) {
        return base[row];
    }

    public int pos(int row) {
        return pos[row];
    }

    /**
     * Refuses rows outside a cache of {@code positions} (base + pos could overflow), and a run whose rows are not
     * consecutive positions of one region (its later rows attend to the earlier ones' keys).
     */
    void check(int positions) {
        for (int b = 0; b < n; b++) {
            if (base[b] < 0 || pos[b] < 0 || pos[b] >= positions - base[b]) {
                throw new HerdException("position " + pos[b] + " of the region at " + base[b] + " is outside the KV cache of " + positions + " positions");
            }
            if (!each && b > 0 && (base[b] != base[0] || pos[b] != pos[0] + b)) {
                throw new HerdException("a batch of rows that are not consecutive positions of one region");
            }
        }
    }
}
