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
 * Q4_K weights repacked at load ({@link GgmlType#Q4_K_INTERLEAVED}) in groups of {@link #ROWS} rows (see {@link
 * InterleavedKernel}). A Q4_K super-block holds 256 values in four runs of 32 bytes, each run two 32-value sub-blocks
 * (low nibbles: sub-block 2k, high nibbles: 2k+1), every sub-block with a 6-bit scale and min; x = d sc q - dmin m.
 * A group holds first, for each super-block, run k and c = 0..15, a piece of P = 2 x ROWS bytes: bytes 2c and 2c+1
 * of each row's run in row order (as Q4_0's pieces, at one fixed stride); then per super-block its metadata, 20 x ROWS
 * bytes: for each sub-block j the ROWS 16-bit pairs (scale, min) unpacked from the 12 packed bytes, then ROWS ints
 * (d, dmin) as the file has them. 148 bytes per 256 values where the file takes 144 (+2.8 %): unpacking the 6-bit
 * fields in the loop would cost more than the 4 bytes.
 *
 * <p>Batch 1 multiplies Q8_K activations (int8 values with one scale per 256, as ggml; {@link Activations#kPairs}),
 * so a whole super-block sums in integers: per run, the low and high nibbles of 16 pieces accumulate in 16-bit lanes
 * against the activation pairs (16 products of at most 15 x 127 fit), each row's lane pair is widened once per
 * sub-block and multiplied by its integer scale in 32-bit lanes; the mins meet the activations' sub-block sums the same
 * way. One float conversion per super-block, with d and dmin times the activation scale. The sums stay below 2^25.
 */
final class Q4KInterleavedKernel extends InterleavedKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.HALF);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorWidth.HALF);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    static final int SUPER = 256, FILE_BYTES = 144;
    /** Pieces per super-block, and metadata bytes per super-block of a group. */
    static final int PIECES = 64, META = 20 * ROWS;

    /** Writes the Q4_K tensor {@code w} (rows a multiple of ROWS) repacked to {@code dst} (148 bytes per 256 values). */
    static Tensor repack(Tensor w, MemorySegment dst) {
        if (w.rows() % ROWS != 0) throw new IllegalArgumentException(w.name() + ": rows not in groups of " + ROWS);
        int supers = w.cols() / SUPER, inRow = (int) w.rowBytes();
        Tensor out = new Tensor(w.name(), GgmlType.Q4_K_INTERLEAVED, w.rows(), w.cols(), dst);
        int outGroup = (int) (ROWS * out.rowBytes()), metaAt = supers * PIECES * P;
        byte[] from = new byte[ROWS * inRow], to = new byte[outGroup];
        for (int g = 0; g < w.rows() / ROWS; g++) {
            MemorySegment.copy(w.data(), BYTE, (long) g * ROWS * inRow, from, 0, from.length);
            for (int s = 0; s < supers; s++) {
                int meta = metaAt + s * META;
                for (int r = 0; r < ROWS; r++) {
                    int in = r * inRow + s * FILE_BYTES;
                    for (int k = 0; k < 4; k++) {
                        for (int c = 0; c < 16; c++) {
                            int piece = ((s * 4 + k) * 16 + c) * P + 2 * r;
                            to[piece] = from[in + 16 + 32 * k + 2 * c];
                            to[piece + 1] = from[in + 16 + 32 * k + 2 * c + 1];
                        }
                    }
                    meta(from, in, to, meta, r);
                }
            }
            MemorySegment.copy(to, 0, dst, BYTE, (long) g * outGroup, to.length);
        }
        return out;
    }

    /**
     * Row r's metadata of the super-block at {@code from[in]} (d, dmin, 12 packed bytes) to
     * its places in the super-block's metadata at {@code to[meta]}: (scale, min) of each sub-block, then (d, dmin).
     */
    private static void meta(byte[] from, int in, byte[] to, int meta, int r) {
        for (int j = 0; j < 8; j++) {
            to[meta + j * P + 2 * r] = (byte) scaleOrMin(from, in + 4, j, false);
            to[meta + j * P + 2 * r + 1] = (byte) scaleOrMin(from, in + 4, j, true);
        }
        System.arraycopy(from, in, to, meta + 16 * ROWS + 4 * r, 4);
    }

    /** ggml's get_scale_min_k4: the 6-bit scale (or min) of sub-block j from the 12 packed bytes at {@code at}. */
    private static int scaleOrMin(byte[] b, int at, int j, boolean min) {
        if (j < 4) return b[at + j + (min ? 4 : 0)] & 63;
        int low = b[at + j + 4] & 0xff, high = (b[at + j - (min ? 0 : 4)] & 0xff) >> 6;
        return (min ? low >> 4 : low & 0xf) | high << 4;
    }

    /** Element (row, col) of a repacked tensor (slow, scalar), computed as ggml's dequantize_row_q4_K does. */
    static float get(Tensor w, int row, int col) {
        int supers = w.cols() / SUPER, r = row % ROWS, s = col / SUPER, e = col % SUPER, k = e / 64, l = e % 32;
        long group = (long) (row / ROWS) * ROWS * w.rowBytes(), meta = group + (long) supers * PIECES * P + (long) s * META;
        int j = e / 32, packed = w.data().get(BYTE, group + (long) ((s * 4 + k) * 16 + l / 2) * P + 2 * r + l % 2) & 0xff;
        int q = j % 2 == 0 ? packed & 15 : packed >>> 4;
        int sc = w.data().get(BYTE, meta + (long) j * P + 2 * r) & 0xff, m = w.data().get(BYTE, meta + (long) j * P + 2 * r + 1) & 0xff;
        float d = Float.float16ToFloat(w.data().get(Kernels.F16, meta + 16L * ROWS + 4 * r));
        float dmin = Float.float16ToFloat(w.data().get(Kernels.F16, meta + 16L * ROWS + 4 * r + 2));
        return d * sc * q - dmin * m;
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        check(w, x, rowFrom, rowTo, x.kPairs);
        long groupBytes = ROWS * w.rowBytes();
        for (int g = rowFrom; g < rowTo; g += ROWS) {
            int o = outOffset + g - rowFrom;
            if (x.batch == 1) dot(w.data(), g / ROWS * groupBytes, x, out, o);
            else batch(w.data(), g / ROWS * groupBytes, x, out, o, outStride);
        }
    }

    /**
     * The ROWS rows of the group at byte {@code at} times the first vector of x (Q8_K), into out[o..o+ROWS). The
     * loops nest as the data does (super-block, run, 16 pieces): 1.0-1.3x one flat loop over the pieces with the
     * run's and super-block's ends as branches at 512 bits, 1.1-1.8x at 256 and 128 (thread CPU time, 2048 x 8192).
     */
    private static void dot(MemorySegment w, long at, Activations x, float[] out, int o) {
        int[] p = x.kPairs, sums = x.kSums;
        float[] scales = x.kScales;
        int supers = x.n / SUPER;
        long metaAt = at + (long) supers * PIECES * P;
        FloatVector acc = FloatVector.zero(F);
        for (int s = 0; s < supers; s++) {
            long meta = metaAt + (long) s * META;
            IntVector dots = IntVector.zero(I), mins = dots;
            for (int k = 0; k < 4; k++) { // run k: sub-blocks 2k (low nibbles) and 2k + 1 (high)
                int run = 4 * s + k;
                ShortVector lo = ShortVector.zero(S), hi = lo;
                for (int i = 16 * run; i < 16 * run + 16; i++) {
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B, w, at + (long) i * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_B2S, S, 0);
                    lo = lo.add(v.and((short) 15).mul(IntVector.broadcast(I, p[2 * i]).reinterpretShape(S, 0)));
                    hi = hi.add(v.lanewise(LSHR, 4).mul(IntVector.broadcast(I, p[2 * i + 1]).reinterpretShape(S, 0)));
                }
                // Each row's two 16-bit lanes to one 32-bit lane (x86 pmaddwd; the Vector API has none).
                IntVector a = (IntVector) lo.reinterpretShape(I, 0), b = (IntVector) hi.reinterpretShape(I, 0);
                a = a.lanewise(LSHL, 16).lanewise(ASHR, 16).add(a.lanewise(ASHR, 16));
                b = b.lanewise(LSHL, 16).lanewise(ASHR, 16).add(b.lanewise(ASHR, 16));
                // Each row's (scale, min) of the two sub-blocks, 16 bits each.
                IntVector sa = (IntVector) ShortVector.fromMemorySegment(SH, w, meta + 2L * k * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
                IntVector sb = (IntVector) ShortVector.fromMemorySegment(SH, w, meta + (2L * k + 1) * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
                dots = dots.add(a.mul(sa.and(255))).add(b.mul(sb.and(255)));
                mins = mins.add(sa.lanewise(LSHR, 8).mul(sums[2 * run])).add(sb.lanewise(LSHR, 8).mul(sums[2 * run + 1]));
            }
            IntVector h = IntVector.fromMemorySegment(I, w, meta + 16 * ROWS, LITTLE_ENDIAN);
            // d (low half) and dmin (high half), fp16 to float with integer operations (exact for zero and subnormals).
            FloatVector d = ((FloatVector) h.lanewise(LSHL, 16).and(SIGN).or(h.lanewise(LSHL, 13).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(F16_BIAS);
            FloatVector dmin = ((FloatVector) h.and(SIGN).or(h.lanewise(LSHR, 3).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(F16_BIAS);
            float xs = scales[s];
            acc = ((FloatVector) dots.convertShape(I2F, F, 0)).fma(d.mul(xs), acc);
            acc = ((FloatVector) mins.convertShape(I2F, F, 0)).fma(dmin.mul(-xs), acc);
        }
        acc.intoArray(out, o);
    }

    /** The ROWS rows of the group at byte {@code at} times every vector of the batch, one super-block at a time. */
    private static void batch(MemorySegment w, long at, Activations x, float[] out, int o, int stride) {
        float[][] buffers = buffers(x.batch);
        int supers = x.n / SUPER;
        for (int s = 0; s < supers; s++) {
            expand(w, at, supers, s, buffers[0]);
            multiply(buffers[0], s * SUPER, SUPER, x, buffers[1]);
        }
        store(buffers[1], x.batch, out, o, stride);
    }

    /** Super-block s of the group at byte {@code at} as floats: (r, col) at ROWS * col + r. */
    private static void expand(MemorySegment w, long at, int supers, int s, float[] cols) {
        long meta = at + (long) supers * PIECES * P + (long) s * META;
        IntVector h = IntVector.fromMemorySegment(I, w, meta + 16 * ROWS, LITTLE_ENDIAN);
        FloatVector d = ((FloatVector) h.lanewise(LSHL, 16).and(SIGN).or(h.lanewise(LSHL, 13).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(F16_BIAS);
        FloatVector dmin = ((FloatVector) h.and(SIGN).or(h.lanewise(LSHR, 3).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(-F16_BIAS);
        for (int k = 0; k < 4; k++) { // run k: sub-blocks 2k (low nibbles) and 2k + 1 (high)
            IntVector sa = (IntVector) ShortVector.fromMemorySegment(SH, w, meta + 2L * k * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
            IntVector sb = (IntVector) ShortVector.fromMemorySegment(SH, w, meta + (2L * k + 1) * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
            FloatVector da = d.mul((FloatVector) sa.and(255).convertShape(I2F, F, 0)), ma = dmin.mul((FloatVector) sa.lanewise(LSHR, 8).convertShape(I2F, F, 0));
            FloatVector db = d.mul((FloatVector) sb.and(255).convertShape(I2F, F, 0)), mb = dmin.mul((FloatVector) sb.lanewise(LSHR, 8).convertShape(I2F, F, 0));
            for (int c = 0; c < 16; c++) {
                // Lane r: row r's bytes 2c (low byte) and 2c + 1 (high byte) of the run.
                IntVector v = (IntVector) ShortVector.fromMemorySegment(SH, w, at + (long) ((s * 4 + k) * 16 + c) * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
                int col = ROWS * (64 * k + 2 * c);
                ((FloatVector) v.and(15).convertShape(I2F, F, 0)).fma(da, ma).intoArray(cols, col);
                ((FloatVector) v.lanewise(LSHR, 8).and(15).convertShape(I2F, F, 0)).fma(da, ma).intoArray(cols, col + ROWS);
                ((FloatVector) v.lanewise(LSHR, 4).and(15).convertShape(I2F, F, 0)).fma(db, mb).intoArray(cols, col + 32 * ROWS);
                ((FloatVector) v.lanewise(LSHR, 12).convertShape(I2F, F, 0)).fma(db, mb).intoArray(cols, col + 33 * ROWS);
            }
        }
    }
}
