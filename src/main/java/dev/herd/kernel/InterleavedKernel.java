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
 * What the kernels of weights repacked with rows interleaved ({@link Q4InterleavedKernel}, {@link Q8InterleavedKernel},
 * {@link Q6InterleavedKernel}) share. A group of {@link #ROWS} rows, one float register's worth (4 at 128 bits, 8 at
 * 256, 16 at 512), takes the bytes those rows take in the file (Q6_K's 31 % more: one byte per value), and each row's
 * result ends in its own float lane: no horizontal sums. The
 * layout is made at load, on the machine that computes, so each node of a cluster may use its own width.
 *
 * <p>Batches (but those of the layouts with Q4_0's nibble pieces, which stay in integers: {@link IntBatch}) expand a group to floats one tile of columns at a time (one register per column, column-major) and
 * multiply it by eight batch vectors per pass, their values interleaved once per matmul so one index walks all eight
 * ({@link Activations#interleaved}): eight FMA chains, one column load per eight FMAs. Only arrays cross the calls
 * between a type's expansion and the shared multiplication, so no vector is ever boxed there.
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
    /** Per thread: a tile of a group expanded to floats, and the partial sums (ROWS per batch vector). */
    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[][]{new float[ROWS * TILE], new float[0]});

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
        int padded = (batch + 7) / 8 * 8;
        float[][] buffers = BUFFERS.get();
        if (buffers[1].length < ROWS * padded) buffers[1] = new float[ROWS * padded];
        Arrays.fill(buffers[1], 0, ROWS * padded, 0f);
        return buffers;
    }

    /**
     * Adds a tile of a group expanded to floats ({@code width} columns from c0, in {@code cols}) times every vector of
     * the batch (the Q8_0-rounded values, as in {@link RowKernel}) to {@code sums}, eight vectors per pass (a short
     * last group is padded; see {@link Activations#interleaved}). Each kernel drives it from its own batch loop, with
     * its own expansion: a shared driver calling both kernels' expansions made C2 inline past its budget (Q8_0's then
     * boxed every vector).
     */
    static void multiply(float[] cols, int c0, int width, Activations x, float[] sums) {
        int n = x.n, batch = x.batch;
        float[] xs = x.interleaved;
        for (int b = 0; b < batch; b += 8) {
            int s0 = ROWS * b;
            FloatVector a0 = FloatVector.fromArray(F, sums, s0), a1 = FloatVector.fromArray(F, sums, s0 + ROWS),
                    a2 = FloatVector.fromArray(F, sums, s0 + 2 * ROWS), a3 = FloatVector.fromArray(F, sums, s0 + 3 * ROWS),
                    a4 = FloatVector.fromArray(F, sums, s0 + 4 * ROWS), a5 = FloatVector.fromArray(F, sums, s0 + 5 * ROWS),
                    a6 = FloatVector.fromArray(F, sums, s0 + 6 * ROWS), a7 = FloatVector.fromArray(F, sums, s0 + 7 * ROWS);
            int x0 = b * n + 8 * c0; // b is a multiple of 8: its group of 8 vectors starts at (b / 8) * n * 8
            for (int i = 0, j = x0; i < ROWS * width; i += ROWS, j += 8) {
                FloatVector c = FloatVector.fromArray(F, cols, i);
                a0 = c.fma(FloatVector.broadcast(F, xs[j]), a0);
                a1 = c.fma(FloatVector.broadcast(F, xs[j + 1]), a1);
                a2 = c.fma(FloatVector.broadcast(F, xs[j + 2]), a2);
                a3 = c.fma(FloatVector.broadcast(F, xs[j + 3]), a3);
                a4 = c.fma(FloatVector.broadcast(F, xs[j + 4]), a4);
                a5 = c.fma(FloatVector.broadcast(F, xs[j + 5]), a5);
                a6 = c.fma(FloatVector.broadcast(F, xs[j + 6]), a6);
                a7 = c.fma(FloatVector.broadcast(F, xs[j + 7]), a7);
            }
            a0.intoArray(sums, s0);
            a1.intoArray(sums, s0 + ROWS);
            a2.intoArray(sums, s0 + 2 * ROWS);
            a3.intoArray(sums, s0 + 3 * ROWS);
            a4.intoArray(sums, s0 + 4 * ROWS);
            a5.intoArray(sums, s0 + 5 * ROWS);
            a6.intoArray(sums, s0 + 6 * ROWS);
            a7.intoArray(sums, s0 + 7 * ROWS);
        }
    }

    /** Writes the batch's sums of a group to {@code out} from {@code o}, vector b at o + b * stride. */
    static void store(float[] sums, int batch, float[] out, int o, int stride) {
        for (int b = 0; b < batch; b++) System.arraycopy(sums, ROWS * b, out, o + b * stride, ROWS);
    }

    @Override
    public boolean needsQuantized() {
        return true;
    }
}
