package dev.herd.kernel;

import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static java.nio.ByteOrder.LITTLE_ENDIAN;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_S2I;

/**
 * Q8_0 weights repacked at load time ({@link GgmlType#Q8_0_INTERLEAVED}) in groups of {@link #ROWS} rows (see {@link
 * InterleavedKernel}): for each 32-column block and c = 0..15, a piece of P = 2 x ROWS bytes holding values 2c and
 * 2c+1 of each row's block in row order; then each block's ROWS fp16 scales. A piece widened to 16-bit lanes meets
 * the activation pair (2c, 2c+1) broadcast as one int, so every lane pair belongs to one row; two pieces' products
 * (at most 2 x 128 x 127) share a 16-bit lane before the pairwise widening to 32 bits, and each row ends in its own
 * float lane: one flat loop over the pieces, no horizontal sums.
 */
final class Q8InterleavedKernel extends InterleavedKernel {
    private static final int PIECES = 16;
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.HALF);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorWidth.HALF);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Float> F = Lanes.F;

    /** Element (row, col) of a repacked tensor, for the odd reader that wants single rows (slow, scalar). */
    static float get(Tensor w, int row, int col) {
        long group = (row / ROWS) * ROWS * w.rowBytes();
        int r = row % ROWS, blk = col / Activations.BLOCK, e = col % Activations.BLOCK;
        float d = Float.float16ToFloat(w.data().get(Kernels.F16, group + (long) (w.cols() / Activations.BLOCK * PIECES + blk) * P + 2 * r));
        return d * w.data().get(ValueLayout.JAVA_BYTE, group + (long) (blk * PIECES + e / 2) * P + 2 * r + (e % 2));
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        check(w, x, rowFrom, rowTo, x.pairs);
        long groupBytes = ROWS * w.rowBytes();
        for (int g = rowFrom; g < rowTo; g += ROWS) {
            int o = outOffset + g - rowFrom;
            if (x.batch == 1) dot(w.data(), g / ROWS * groupBytes, x, out, o);
            else batch(w.data(), g / ROWS * groupBytes, x, out, o, outStride);
        }
    }

    /** The ROWS rows of the group at byte {@code at} times the first vector of x, into out[o..o+ROWS). */
    private static void dot(MemorySegment w, long at, Activations x, float[] out, int o) {
        int[] p = x.pairs;
        float[] scales = x.scales;
        int blocks = x.n / Activations.BLOCK;
        long scaleAt = at + (long) blocks * PIECES * P;
        FloatVector acc = FloatVector.zero(F);
        IntVector sum = IntVector.zero(I);
        for (int i = 0, pieces = PIECES * blocks; i < pieces; i += 2) {
            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B, w, at + (long) i * P, LITTLE_ENDIAN).convertShape(B2S, S, 0);
            ShortVector u = (ShortVector) ByteVector.fromMemorySegment(B, w, at + (long) i * P + P, LITTLE_ENDIAN).convertShape(B2S, S, 0);
            IntVector pair = (IntVector) v.mul(IntVector.broadcast(I, p[i]).reinterpretShape(S, 0))
                    .add(u.mul(IntVector.broadcast(I, p[i + 1]).reinterpretShape(S, 0))).reinterpretShape(I, 0);
            // Each row's two 16-bit lanes to one 32-bit lane (x86 pmaddwd; the Vector API has none).
            sum = sum.add(pair.lanewise(LSHL, 16).lanewise(ASHR, 16)).add(pair.lanewise(ASHR, 16));
            if ((i & 15) == 14) { // the block's sixteen pieces are in
                int blk = i >>> 4;
                // The ROWS fp16 scales, converted with integer operations (exact for zero and subnormals).
                IntVector h = (IntVector) ShortVector.fromMemorySegment(SH, w, scaleAt + (long) blk * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
                FloatVector d = ((FloatVector) h.lanewise(LSHL, 16).and(SIGN).or(h.lanewise(LSHL, 13).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(F16_BIAS).mul(scales[blk]);
                acc = ((FloatVector) sum.convertShape(I2F, F, 0)).fma(d, acc);
                sum = IntVector.zero(I);
            }
        }
        acc.intoArray(out, o);
    }

    /** The ROWS rows of the group at byte {@code at} times every vector of the batch, a tile of columns at a time. */
    private static void batch(MemorySegment w, long at, Activations x, float[] out, int o, int stride) {
        float[][] buffers = buffers(x.batch);
        for (int c0 = 0; c0 < x.n; c0 += TILE) {
            int width = Math.min(x.n - c0, TILE);
            expand(w, at, x.n / Activations.BLOCK, c0 / Activations.BLOCK, width / Activations.BLOCK, buffers[0]);
            multiply(buffers[0], c0, width, x, buffers[1]);
        }
        store(buffers[1], x.batch, out, o, stride);
    }

    /** Blocks [first, first + count) of the group at byte {@code at} (of {@code blocks}) as floats: (r, col) at ROWS * col + r. */
    private static void expand(MemorySegment w, long at, int blocks, int first, int count, float[] cols) {
        for (int k = 0; k < count; k++) {
            int blk = first + k;
            IntVector h = (IntVector) ShortVector.fromMemorySegment(SH, w, at + (long) (blocks * PIECES + blk) * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
            FloatVector d = ((FloatVector) h.lanewise(LSHL, 16).and(SIGN).or(h.lanewise(LSHL, 13).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(F16_BIAS);
            int base = ROWS * k * Activations.BLOCK;
            for (int c = 0; c < PIECES; c++) {
                // Lane pair (2r, 2r+1): row r's values 2c and 2c+1; as shorts they become ints holding both bytes.
                ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B, w, at + (long) (blk * PIECES + c) * P, LITTLE_ENDIAN).convertShape(B2S, S, 0);
                IntVector both = (IntVector) v.reinterpretShape(I, 0);
                ((FloatVector) both.lanewise(LSHL, 16).lanewise(ASHR, 16).convertShape(I2F, F, 0)).mul(d).intoArray(cols, base + ROWS * (2 * c));
                ((FloatVector) both.lanewise(ASHR, 16).convertShape(I2F, F, 0)).mul(d).intoArray(cols, base + ROWS * (2 * c + 1));
            }
        }
    }
}
