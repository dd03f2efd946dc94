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
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2S;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_S2I;

/**
 * Q4_0 weights repacked at load time ({@link GgmlType#Q4_0_INTERLEAVED}) in groups of {@link #ROWS} rows (see {@link
 * InterleavedKernel}), the way llama.cpp repacks Q4_0 for its CPU kernels. A group holds first, for each 32-column
 * block and c = 0..7, a piece of P = 2 x ROWS bytes: bytes 2c and 2c+1 of each row's block in row order (low nibbles:
 * elements 2c, 2c+1; high nibbles: 2c+16, 2c+17); then each block's ROWS fp16 scales. So the pieces follow each
 * other at a fixed stride and the dot product is one flat loop over them, whose body is small. (Eight pieces written
 * out per block parse into ~30,000 nodes at 512 bits, past C2's inlining budget; the calls it then inlines late
 * sometimes lose their vector type, and every vector gets boxed.) C2 does not hoist the segment's bounds check out of
 * this loop: it leaves the inner loop of its range-check loop nest at every block end (see docs/performance.md).
 *
 * <p>Decoding, a piece widened to 16-bit lanes is multiplied by a pair of activations broadcast as one int, so every
 * lane pair belongs to one row. Nibbles are taken as 0..15 and the offset of 8 is subtracted once per block through
 * the block's activation sum; 16 products of at most 15 x 127 fit a 16-bit lane, so a whole block accumulates in
 * 16-bit lanes (low and high nibbles apart: two add chains) and needs one pairwise widening.
 */
final class Q4InterleavedKernel extends InterleavedKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.HALF);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorWidth.HALF);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;

    /** Element (row, col) of a repacked tensor, for the odd reader that wants single rows (slow, scalar). */
    static float get(Tensor w, int row, int col) {
        long group = (row / ROWS) * ROWS * w.rowBytes();
        int r = row % ROWS, blk = col / Activations.BLOCK, e = col % Activations.BLOCK, c = (e % 16) / 2;
        float d = Float.float16ToFloat(w.data().get(Kernels.F16, group + (long) (w.cols() / Activations.BLOCK * 8 + blk) * P + 2 * r));
        int packed = w.data().get(BYTE, group + (long) (blk * 8 + c) * P + 2 * r + (e % 2)) & 0xff;
        return d * ((e < 16 ? packed & 15 : packed >>> 4) - 8);
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        check(w, x, rowFrom, rowTo, x.nibblePairs);
        long groupBytes = ROWS * w.rowBytes();
        for (int g = rowFrom; g < rowTo; g += ROWS) {
            int o = outOffset + g - rowFrom;
            if (x.batch == 1) dot(w.data(), g / ROWS * groupBytes, x, out, o);
            else batch(w.data(), g / ROWS * groupBytes, x, out, o, outStride);
        }
    }

    /** The ROWS rows of the group at byte {@code at} times the first vector of x, into out[o..o+ROWS). */
    private static void dot(MemorySegment w, long at, Activations x, float[] out, int o) {
        int[] p = x.nibblePairs;
        float[] scales = x.scales;
        int[] sums8 = x.sums8;
        int blocks = x.n / Activations.BLOCK;
        long scaleAt = at + (long) blocks * 8 * P;
        FloatVector acc = FloatVector.zero(F);
        ShortVector lo = ShortVector.zero(S), hi = lo;
        for (int i = 0, pieces = 8 * blocks; i < pieces; i++) {
            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B, w, at + (long) i * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_B2S, S, 0);
            lo = lo.add(v.and((short) 15).mul(IntVector.broadcast(I, p[2 * i]).reinterpretShape(S, 0)));
            hi = hi.add(v.lanewise(LSHR, 4).mul(IntVector.broadcast(I, p[2 * i + 1]).reinterpretShape(S, 0)));
            if ((i & 7) == 7) { // the block's eight pieces are in
                int blk = i >>> 3;
                // Each row's two 16-bit lanes to one 32-bit lane (x86 pmaddwd; the Vector API has none), minus 8 x sum(x).
                IntVector pair = (IntVector) lo.add(hi).reinterpretShape(I, 0);
                IntVector sum = pair.lanewise(LSHL, 16).lanewise(ASHR, 16).add(pair.lanewise(ASHR, 16)).sub(sums8[blk]);
                // The ROWS fp16 scales, converted with integer operations (exact for zero and subnormals).
                IntVector h = (IntVector) ShortVector.fromMemorySegment(SH, w, scaleAt + (long) blk * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
                FloatVector d = ((FloatVector) h.lanewise(LSHL, 16).and(SIGN).or(h.lanewise(LSHL, 13).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(F16_BIAS).mul(scales[blk]);
                acc = ((FloatVector) sum.convertShape(I2F, F, 0)).fma(d, acc);
                lo = ShortVector.zero(S);
                hi = lo;
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
            IntVector h = (IntVector) ShortVector.fromMemorySegment(SH, w, at + (long) (blocks * 8 + blk) * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
            FloatVector d = ((FloatVector) h.lanewise(LSHL, 16).and(SIGN).or(h.lanewise(LSHL, 13).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(F16_BIAS);
            FloatVector shift = d.mul(-8f);
            int base = ROWS * k * Activations.BLOCK;
            for (int c = 0; c < 8; c++) {
                // Lane r: row r's bytes 2c (low byte) and 2c + 1 (high byte), i.e. four nibbles of elements
                // 2c, 2c+16 (byte 2c) and 2c+1, 2c+17 (byte 2c+1).
                IntVector v = (IntVector) ShortVector.fromMemorySegment(SH, w, at + (long) (blk * 8 + c) * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
                ((FloatVector) v.and(15).convertShape(I2F, F, 0)).fma(d, shift).intoArray(cols, base + ROWS * (2 * c));
                ((FloatVector) v.lanewise(LSHR, 8).and(15).convertShape(I2F, F, 0)).fma(d, shift).intoArray(cols, base + ROWS * (2 * c + 1));
                ((FloatVector) v.lanewise(LSHR, 4).and(15).convertShape(I2F, F, 0)).fma(d, shift).intoArray(cols, base + ROWS * (2 * c + 16));
                ((FloatVector) v.lanewise(LSHR, 12).convertShape(I2F, F, 0)).fma(d, shift).intoArray(cols, base + ROWS * (2 * c + 17));
            }
        }
    }
}
