package dev.herd.kernel;

import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import static java.nio.ByteOrder.LITTLE_ENDIAN;

/**
 * What the kernels of weights repacked with rows interleaved ({@link Q4InterleavedKernel}, {@link Q8InterleavedKernel})
 * share. A group of {@link #ROWS} rows, one float register's worth (4 at 128 bits, 8 at 256, 16 at 512), takes the
 * bytes those rows take in the file, and each row's result ends in its own float lane: no horizontal sums. The
 * layout is made at load, on the machine that computes, so each node of a cluster may use its own width.
 *
 * <p>Batches expand two groups to floats one tile of columns at a time (one register per column, column-major) and
 * multiply them by four batch vectors per pass, their values interleaved once per matmul so one index walks them
 * ({@link Activations#interleaved}): eight FMA chains (enough to keep two FMA units busy through a latency of four),
 * six loads per eight FMAs (one group by eight vectors took nine), fourteen registers (AVX2 has sixteen). Only
 * arrays cross the calls between a type's expansion and the shared multiplication, so no vector is ever boxed there.
 */
abstract class InterleavedKernel implements Kernel {
    /** Floats per register: rows per group. */
    static final int ROWS = Lanes.F.length();
    /** Bytes of a piece (one byte pair of each row of a group), and 16-bit lanes per register. */
    static final int P = 2 * ROWS;
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LITTLE_ENDIAN);
    /** fp16 bits placed in a float: sign, exponent and mantissa; the exponent bias (15 -> 127) is the 2^112 factor. */
    static final int SIGN = 0x80000000, MAGNITUDE = 0x0fffe000;
    static final float F16_BIAS = 0x1p112f;

    /** Columns per tile of the batch path: 256 columns of a group expanded to floats take ROWS KiB. */
    static final int TILE = 256;
    /** Per thread: a tile of two groups expanded to floats, and their partial sums (ROWS per batch vector each). */
    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[][]{new float[2 * ROWS * TILE], new float[0]});

    /**
     * Writes {@code w} (Q4_0 or Q8_0, rows a multiple of ROWS) with its rows interleaved, as {@code type}, to {@code
     * dst}, which may be w's own memory: each group is staged in a small buffer first. Per group: for each block, its
     * pieces (byte pairs 2c, 2c+1 of the block's values, of every row in turn), then every block's ROWS scales.
     */
    static Tensor repack(Tensor w, MemorySegment dst, GgmlType type) {
        if (w.rows() % ROWS != 0) throw new IllegalArgumentException(w.name() + ": rows not in groups of " + ROWS);
        int blocks = w.cols() / Activations.BLOCK, rowShorts = (int) w.rowBytes() / 2;
        int blockShorts = w.type().blockBytes / 2, pieces = blockShorts - 1;
        long groupBytes = ROWS * w.rowBytes();
        // Every field is a whole number of 16-bit units (scale, byte pairs), so groups move as shorts.
        short[] from = new short[ROWS * rowShorts], to = new short[ROWS * rowShorts];
        for (int g = 0; g < w.rows() / ROWS; g++) {
            MemorySegment.copy(w.data(), SHORT, g * groupBytes, from, 0, from.length);
            for (int blk = 0; blk < blocks; blk++) {
                for (int r = 0; r < ROWS; r++) {
                    int in = r * rowShorts + blk * blockShorts;
                    to[(blocks * pieces + blk) * ROWS + r] = from[in];
                    for (int c = 0; c < pieces; c++) to[(blk * pieces + c) * ROWS + r] = from[in + 1 + c];
                }
            }
            MemorySegment.copy(to, 0, dst, SHORT, g * groupBytes, to.length);
        }
        return new Tensor(w.name(), type, w.rows(), w.cols(), dst);
    }

    /** Checks a matmul's arguments: rowFrom and rowTo must be multiples of ROWS (see {@link Kernels#split}). */
    static void check(Tensor w, Activations x, int rowFrom, int rowTo, int[] prepared) {
        if (w.cols() != x.n) throw new IllegalArgumentException(w.name() + ": " + w.cols() + " columns, vectors of " + x.n);
        if (rowFrom % ROWS != 0 || rowTo % ROWS != 0) throw new IllegalArgumentException(w.name() + ": rows " + rowFrom + ".." + rowTo + " cut a group of " + ROWS);
        if (prepared == null) throw new IllegalStateException(w.name() + ": the activations were not prepared for it (Activations.readBy)");
    }

    /**
     * Per thread: a tile of a group expanded to floats (see {@link #TILE}) and the zeroed partial sums of {@code batch}
     * vectors (ROWS each, padded to a multiple of 8 vectors).
     */
    static float[][] buffers(int batch) {
        int half = half(batch);
        float[][] buffers = BUFFERS.get();
        if (buffers[1].length < 2 * half) buffers[1] = new float[2 * half];
        Arrays.fill(buffers[1], 0, 2 * half, 0f);
        return buffers;
    }

    /** Where the second group's sums start: ROWS per batch vector, padded to a multiple of 8 vectors. */
    static int half(int batch) {
        return ROWS * ((batch + 7) / 8 * 8);
    }

    /**
     * Adds a tile of two groups expanded to floats ({@code width} columns from c0; group A's in {@code cols} from 0,
     * group B's from {@code ROWS * TILE}) times every vector of the batch (the Q8_0-rounded values, as in {@link
     * RowKernel}) to {@code sums} (A's from 0, B's from {@code half}), four vectors per pass (a short last group of
     * eight is padded; see {@link Activations#interleaved}). With one group ({@code colsB} 0), B is A again and its
     * sums are discarded: the same code serves an odd group.
     * Each kernel drives it from its own batch loop, with its own expansion: a shared driver calling both kernels'
     * expansions made C2 inline past its budget (Q8_0's then boxed every vector).
     */
    static void multiply(float[] cols, int c0, int width, int colsB, Activations x, float[] sums, int half) {
        int n = x.n, batch = x.batch;
        float[] xs = x.interleaved;
        for (int b = 0; b < batch; b += 4) {
            int s0 = ROWS * b, s1 = s0 + half;
            FloatVector a0 = FloatVector.fromArray(F, sums, s0), a1 = FloatVector.fromArray(F, sums, s0 + ROWS),
                    a2 = FloatVector.fromArray(F, sums, s0 + 2 * ROWS), a3 = FloatVector.fromArray(F, sums, s0 + 3 * ROWS);
            FloatVector e0 = FloatVector.fromArray(F, sums, s1), e1 = FloatVector.fromArray(F, sums, s1 + ROWS),
                    e2 = FloatVector.fromArray(F, sums, s1 + 2 * ROWS), e3 = FloatVector.fromArray(F, sums, s1 + 3 * ROWS);
            int x0 = (b & ~7) * n + 8 * c0 + (b & 7); // vectors b..b+3 of their group of eight (see Activations#interleaved)
            for (int k = 0; k < width; k++) { // one index, so C2 removes the arrays' bounds checks from the loop
                FloatVector c = FloatVector.fromArray(F, cols, ROWS * k), d = FloatVector.fromArray(F, cols, colsB + ROWS * k);
                FloatVector v = FloatVector.broadcast(F, xs[x0 + 8 * k]);
                a0 = c.fma(v, a0);
                e0 = d.fma(v, e0);
                v = FloatVector.broadcast(F, xs[x0 + 8 * k + 1]);
                a1 = c.fma(v, a1);
                e1 = d.fma(v, e1);
                v = FloatVector.broadcast(F, xs[x0 + 8 * k + 2]);
                a2 = c.fma(v, a2);
                e2 = d.fma(v, e2);
                v = FloatVector.broadcast(F, xs[x0 + 8 * k + 3]);
                a3 = c.fma(v, a3);
                e3 = d.fma(v, e3);
            }
            a0.intoArray(sums, s0);
            a1.intoArray(sums, s0 + ROWS);
            a2.intoArray(sums, s0 + 2 * ROWS);
            a3.intoArray(sums, s0 + 3 * ROWS);
            e0.intoArray(sums, s1);
            e1.intoArray(sums, s1 + ROWS);
            e2.intoArray(sums, s1 + 2 * ROWS);
            e3.intoArray(sums, s1 + 3 * ROWS);
        }
    }

    /** Writes the batch's sums of a group (from {@code at}) to {@code out} from {@code o}, vector b at o + b * stride. */
    static void store(float[] sums, int at, int batch, float[] out, int o, int stride) {
        for (int b = 0; b < batch; b++) System.arraycopy(sums, at + ROWS * b, out, o + b * stride, ROWS);
    }

    @Override
    public boolean needsQuantized() {
        return true;
    }
}
