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
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_S2I;

/**
 * IQ4_NL weights repacked at load ({@link GgmlType#IQ4_NL_INTERLEAVED}) in groups of {@link #ROWS} rows. An IQ4_NL
 * block is an fp16 scale d and 16 bytes of nibbles (low: elements 0..15, high: 16..31) that index ggml's 16-entry
 * table kvalues_iq4nl (int8, -127..113); x = d * table[q]. A group holds first, for each block and c = 0..3, a quad
 * of Q = 4 x ROWS bytes: bytes 4c..4c+3 of each row's block in row order; then each block's ROWS fp16 scales. The
 * file's bytes, at one fixed stride.
 *
 * <p>Batch 1: a quad fills one byte register (16 bytes even at 128 bits, so the whole table fits in one register at
 * every width); its low and high nibbles are looked up in the table ({@code selectFrom}: one vpermb or vpshufb). Seen
 * as 16-bit lanes, row r owns lanes 2r and 2r + 1 (bytes 4c, 4c+1 and 4c+2, 4c+3); their low bytes sign-extended are
 * elements 4c and 4c+2, their high bytes 4c+1 and 4c+3, each multiplied by an activation pair broadcast as one int
 * (Q8_0 activations, {@link Activations#quadPairs}). A product reaches 127 x 127, so a 16-bit lane holds the sum of
 * two (low and high bytes: at most 32258), and each nibble half of a quad is widened pairwise to 32 bits at once
 * (Q4_0's nibbles of 0..15 let a whole block sum in 16 bits). One float conversion per 32-value block. Everything
 * stays in full-width species: no half-width byte loads, no conversions by parts.
 */
final class Iq4NlInterleavedKernel extends InterleavedKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorWidth.HALF);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    /** Bytes of a quad (four bytes of each row of a group). */
    static final int Q = 4 * ROWS;
    /** ggml's kvalues_iq4nl. */
    static final byte[] VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    /** The table repeated across a byte register (indexes 0..15 only ever read its first 16 lanes). */
    private static final ByteVector TABLE = ByteVector.fromArray(B, repeated(), 0);

    private static byte[] repeated() {
        byte[] t = new byte[B.length()];
        for (int i = 0; i < t.length; i++) t[i] = VALUES[i % 16];
        return t;
    }

    /**
     * Writes the IQ4_NL tensor {@code w} (rows a multiple of ROWS) repacked to {@code dst}, which may be w's own
     * memory: each group is staged in a small buffer first.
     */
    static Tensor repack(Tensor w, MemorySegment dst) {
        if (w.rows() % ROWS != 0) throw new IllegalArgumentException(w.name() + ": rows not in groups of " + ROWS);
        int blocks = w.cols() / Activations.BLOCK, inRow = (int) w.rowBytes(), size = GgmlType.IQ4_NL.blockBytes;
        byte[] from = new byte[ROWS * inRow], to = new byte[ROWS * inRow];
        for (int g = 0; g < w.rows() / ROWS; g++) {
            MemorySegment.copy(w.data(), BYTE, (long) g * from.length, from, 0, from.length);
            for (int blk = 0; blk < blocks; blk++) {
                for (int r = 0; r < ROWS; r++) {
                    int in = r * inRow + blk * size, scale = (blocks * 4 * Q) + blk * P + 2 * r;
                    to[scale] = from[in];
                    to[scale + 1] = from[in + 1];
                    for (int c = 0; c < 4; c++) System.arraycopy(from, in + 2 + 4 * c, to, (blk * 4 + c) * Q + 4 * r, 4);
                }
            }
            MemorySegment.copy(to, 0, dst, BYTE, (long) g * to.length, to.length);
        }
        return new Tensor(w.name(), GgmlType.IQ4_NL_INTERLEAVED, w.rows(), w.cols(), dst);
    }

    /** Element (row, col) of a repacked tensor (slow, scalar). */
    static float get(Tensor w, int row, int col) {
        long group = (long) (row / ROWS) * ROWS * w.rowBytes();
        int r = row % ROWS, blk = col / Activations.BLOCK, e = col % Activations.BLOCK, j = e % 16;
        float d = Float.float16ToFloat(w.data().get(Kernels.F16, group + (long) (w.cols() / Activations.BLOCK) * 4 * Q + (long) blk * P + 2 * r));
        int packed = w.data().get(BYTE, group + (long) (blk * 4 + j / 4) * Q + 4 * r + j % 4) & 0xff;
        return d * VALUES[e < 16 ? packed & 15 : packed >>> 4];
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        check(w, x, rowFrom, rowTo, x.quadPairs);
        long groupBytes = ROWS * w.rowBytes();
        for (int g = rowFrom; g < rowTo; g += ROWS) {
            int o = outOffset + g - rowFrom;
            if (x.batch == 1) dot(w.data(), g / ROWS * groupBytes, x, out, o);
            else batch(w.data(), g / ROWS * groupBytes, x, out, o, outStride);
        }
    }

    /** The ROWS rows of the group at byte {@code at} times the first vector of x, into out[o..o+ROWS). */
    private static void dot(MemorySegment w, long at, Activations x, float[] out, int o) {
        int[] p = x.quadPairs;
        float[] scales = x.scales;
        int blocks = x.n / Activations.BLOCK;
        long scaleAt = at + (long) blocks * 4 * Q;
        ByteVector table = TABLE;
        FloatVector acc = FloatVector.zero(F);
        IntVector sum = IntVector.zero(I);
        for (int i = 0, quads = 4 * blocks; i < quads; i++) {
            ByteVector v = ByteVector.fromMemorySegment(B, w, at + (long) i * Q, LITTLE_ENDIAN);
            ShortVector lo = (ShortVector) v.and((byte) 15).selectFrom(table).reinterpretShape(S, 0);
            ShortVector hi = (ShortVector) ((ByteVector) ((ShortVector) v.reinterpretShape(S, 0)).lanewise(LSHR, 4).reinterpretShape(B, 0)).and((byte) 15).selectFrom(table).reinterpretShape(S, 0);
            // Per 16-bit lane: its low byte's value times one activation plus its high byte's times the next pair's.
            ShortVector a = lo.lanewise(LSHL, 8).lanewise(ASHR, 8).mul(IntVector.broadcast(I, p[4 * i]).reinterpretShape(S, 0))
                    .add(lo.lanewise(ASHR, 8).mul(IntVector.broadcast(I, p[4 * i + 1]).reinterpretShape(S, 0)));
            ShortVector b = hi.lanewise(LSHL, 8).lanewise(ASHR, 8).mul(IntVector.broadcast(I, p[4 * i + 2]).reinterpretShape(S, 0))
                    .add(hi.lanewise(ASHR, 8).mul(IntVector.broadcast(I, p[4 * i + 3]).reinterpretShape(S, 0)));
            // Each row's two 16-bit lanes to one 32-bit lane (x86 pmaddwd; the Vector API has none).
            IntVector ia = (IntVector) a.reinterpretShape(I, 0), ib = (IntVector) b.reinterpretShape(I, 0);
            sum = sum.add(ia.lanewise(LSHL, 16).lanewise(ASHR, 16)).add(ia.lanewise(ASHR, 16))
                    .add(ib.lanewise(LSHL, 16).lanewise(ASHR, 16)).add(ib.lanewise(ASHR, 16));
            if ((i & 3) == 3) { // the block's four quads are in
                int blk = i >>> 2;
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
        ByteVector table = TABLE;
        for (int k = 0; k < count; k++) {
            int blk = first + k;
            IntVector h = (IntVector) ShortVector.fromMemorySegment(SH, w, at + (long) blocks * 4 * Q + (long) blk * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
            FloatVector d = ((FloatVector) h.lanewise(LSHL, 16).and(SIGN).or(h.lanewise(LSHL, 13).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(F16_BIAS);
            for (int c = 0; c < 4; c++) {
                ByteVector v = ByteVector.fromMemorySegment(B, w, at + (long) (blk * 4 + c) * Q, LITTLE_ENDIAN);
                // Lane r: row r's bytes 4c..4c+3 looked up, low nibbles (elements 4c..4c+3) and high (16 more).
                IntVector lo = (IntVector) v.and((byte) 15).selectFrom(table).reinterpretShape(I, 0);
                IntVector hi = (IntVector) ((ByteVector) ((ShortVector) v.reinterpretShape(S, 0)).lanewise(LSHR, 4).reinterpretShape(B, 0)).and((byte) 15).selectFrom(table).reinterpretShape(I, 0);
                int col = ROWS * (k * Activations.BLOCK + 4 * c);
                ((FloatVector) lo.lanewise(LSHL, 24).lanewise(ASHR, 24).convertShape(I2F, F, 0)).mul(d).intoArray(cols, col);
                ((FloatVector) lo.lanewise(LSHL, 16).lanewise(ASHR, 24).convertShape(I2F, F, 0)).mul(d).intoArray(cols, col + ROWS);
                ((FloatVector) lo.lanewise(LSHL, 8).lanewise(ASHR, 24).convertShape(I2F, F, 0)).mul(d).intoArray(cols, col + 2 * ROWS);
                ((FloatVector) lo.lanewise(ASHR, 24).convertShape(I2F, F, 0)).mul(d).intoArray(cols, col + 3 * ROWS);
                ((FloatVector) hi.lanewise(LSHL, 24).lanewise(ASHR, 24).convertShape(I2F, F, 0)).mul(d).intoArray(cols, col + 16 * ROWS);
                ((FloatVector) hi.lanewise(LSHL, 16).lanewise(ASHR, 24).convertShape(I2F, F, 0)).mul(d).intoArray(cols, col + 17 * ROWS);
                ((FloatVector) hi.lanewise(LSHL, 8).lanewise(ASHR, 24).convertShape(I2F, F, 0)).mul(d).intoArray(cols, col + 18 * ROWS);
                ((FloatVector) hi.lanewise(ASHR, 24).convertShape(I2F, F, 0)).mul(d).intoArray(cols, col + 19 * ROWS);
            }
        }
    }
}
