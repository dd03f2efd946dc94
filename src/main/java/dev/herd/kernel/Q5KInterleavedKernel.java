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

import static dev.herd.kernel.Q4KInterleavedKernel.META;
import static dev.herd.kernel.Q4KInterleavedKernel.PIECES;
import static dev.herd.kernel.Q4KInterleavedKernel.SUPER;
import static java.nio.ByteOrder.LITTLE_ENDIAN;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2S;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_S2I;

/**
 * Q5_K weights repacked at load ({@link GgmlType#Q5_K_INTERLEAVED}): {@link Q4KInterleavedKernel}'s layout with the
 * fifth bits. A Q5_K super-block is Q4_K's plus 32 bytes qh, bit j of qh[l] the fifth bit of value l of sub-block j.
 * A group holds Q4_K's nibble pieces, then per super-block 16 pieces of the qh bytes (bytes 2c and 2c+1 of each row,
 * bits inverted), then Q4_K's metadata: 180 bytes per 256 values where the file takes 176 (+2.3 %).
 *
 * <p>Batch 1, on Q8_K activations as Q4_K's: a piece's qh bytes serve all four runs (run k takes bits 2k and 2k+1).
 * Values are taken as q - 16 (-16..15: the inverted bit, times 16, subtracted from the nibble), so 16 products of
 * at most 16 x 127 still fit a 16-bit lane; the 16 x sum(x) this leaves out is added back per sub-block.
 */
final class Q5KInterleavedKernel extends InterleavedKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.HALF);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorWidth.HALF);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    private static final int FILE_BYTES = 176, HIGH = 16;

    /** Writes the Q5_K tensor {@code w} (rows a multiple of ROWS) repacked to {@code dst} (180 bytes per 256 values). */
    static Tensor repack(Tensor w, MemorySegment dst) {
        if (w.rows() % ROWS != 0) throw new IllegalArgumentException(w.name() + ": rows not in groups of " + ROWS);
        int supers = w.cols() / SUPER, inRow = (int) w.rowBytes();
        Tensor out = new Tensor(w.name(), GgmlType.Q5_K_INTERLEAVED, w.rows(), w.cols(), dst);
        int outGroup = (int) (ROWS * out.rowBytes()), highAt = supers * PIECES * P, metaAt = highAt + supers * HIGH * P;
        byte[] from = new byte[ROWS * inRow], to = new byte[outGroup];
        for (int g = 0; g < w.rows() / ROWS; g++) {
            MemorySegment.copy(w.data(), BYTE, (long) g * ROWS * inRow, from, 0, from.length);
            for (int s = 0; s < supers; s++) {
                for (int r = 0; r < ROWS; r++) {
                    int in = r * inRow + s * FILE_BYTES;
                    for (int k = 0; k < 4; k++) {
                        for (int c = 0; c < 16; c++) {
                            int piece = ((s * 4 + k) * 16 + c) * P + 2 * r;
                            to[piece] = from[in + 48 + 32 * k + 2 * c];
                            to[piece + 1] = from[in + 48 + 32 * k + 2 * c + 1];
                        }
                    }
                    for (int c = 0; c < 16; c++) {
                        int piece = highAt + (s * HIGH + c) * P + 2 * r;
                        to[piece] = (byte) ~from[in + 16 + 2 * c];
                        to[piece + 1] = (byte) ~from[in + 16 + 2 * c + 1];
                    }
                    Q4KInterleavedKernel.meta(from, in, to, metaAt + s * META, r);
                }
            }
            MemorySegment.copy(to, 0, dst, BYTE, (long) g * outGroup, to.length);
        }
        return out;
    }

    /** Element (row, col) of a repacked tensor (slow, scalar), computed as ggml's dequantize_row_q5_K does. */
    static float get(Tensor w, int row, int col) {
        int supers = w.cols() / SUPER, r = row % ROWS, s = col / SUPER, e = col % SUPER, k = e / 64, l = e % 32, j = e / 32;
        long group = (long) (row / ROWS) * ROWS * w.rowBytes(), highAt = group + (long) supers * PIECES * P;
        long meta = highAt + (long) supers * HIGH * P + (long) s * META;
        int packed = w.data().get(BYTE, group + (long) ((s * 4 + k) * 16 + l / 2) * P + 2 * r + l % 2) & 0xff;
        int high = ~w.data().get(BYTE, highAt + (long) (s * HIGH + l / 2) * P + 2 * r + l % 2) >> j & 1;
        int q = (j % 2 == 0 ? packed & 15 : packed >>> 4) + 16 * high;
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

    /** The ROWS rows of the group at byte {@code at} times the first vector of x (Q8_K), into out[o..o+ROWS). */
    private static void dot(MemorySegment w, long at, Activations x, float[] out, int o) {
        int[] p = x.kPairs, sums = x.kSums;
        float[] scales = x.kScales;
        int supers = x.n / SUPER;
        long highAt = at + (long) supers * PIECES * P, metaAt = highAt + (long) supers * HIGH * P;
        FloatVector acc = FloatVector.zero(F);
        for (int s = 0; s < supers; s++) {
            long meta = metaAt + (long) s * META;
            IntVector dots = IntVector.zero(I), mins = dots;
            for (int k = 0; k < 4; k++) { // run k: sub-blocks 2k (low nibbles) and 2k + 1 (high)
                int run = 4 * s + k;
                ShortVector lo = ShortVector.zero(S), hi = lo;
                for (int c = 0; c < 16; c++) {
                    int i = 16 * run + c;
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B, w, at + (long) i * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_B2S, S, 0);
                    // The inverted fifth bits of the piece's values in run k: bits 2k (low nibbles) and 2k + 1.
                    long h = highAt + (long) (s * HIGH + c) * P;
                    ShortVector t = ((ShortVector) ByteVector.fromMemorySegment(B, w, h, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_B2S, S, 0)).lanewise(LSHR, 2 * k);
                    ShortVector ql = v.and((short) 15).sub(t.lanewise(LSHL, 4).and((short) 16));
                    ShortVector qh = v.lanewise(LSHR, 4).sub(t.lanewise(LSHL, 3).and((short) 16));
                    lo = lo.add(ql.mul(IntVector.broadcast(I, p[2 * i]).reinterpretShape(S, 0)));
                    hi = hi.add(qh.mul(IntVector.broadcast(I, p[2 * i + 1]).reinterpretShape(S, 0)));
                }
                // Each row's two 16-bit lanes to one 32-bit lane, plus the 16 x sum(x) of values taken as q - 16.
                IntVector a = (IntVector) lo.reinterpretShape(I, 0), b = (IntVector) hi.reinterpretShape(I, 0);
                a = a.lanewise(LSHL, 16).lanewise(ASHR, 16).add(a.lanewise(ASHR, 16)).add(16 * sums[2 * run]);
                b = b.lanewise(LSHL, 16).lanewise(ASHR, 16).add(b.lanewise(ASHR, 16)).add(16 * sums[2 * run + 1]);
                IntVector sa = (IntVector) ShortVector.fromMemorySegment(SH, w, meta + 2L * k * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
                IntVector sb = (IntVector) ShortVector.fromMemorySegment(SH, w, meta + (2L * k + 1) * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
                dots = dots.add(a.mul(sa.and(255))).add(b.mul(sb.and(255)));
                mins = mins.add(sa.lanewise(LSHR, 8).mul(sums[2 * run])).add(sb.lanewise(LSHR, 8).mul(sums[2 * run + 1]));
            }
            IntVector hd = IntVector.fromMemorySegment(I, w, meta + 16 * ROWS, LITTLE_ENDIAN);
            FloatVector d = ((FloatVector) hd.lanewise(LSHL, 16).and(SIGN).or(hd.lanewise(LSHL, 13).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(F16_BIAS);
            FloatVector dmin = ((FloatVector) hd.and(SIGN).or(hd.lanewise(LSHR, 3).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(F16_BIAS);
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
        long highAt = at + (long) supers * PIECES * P, meta = highAt + (long) supers * HIGH * P + (long) s * META;
        IntVector hd = IntVector.fromMemorySegment(I, w, meta + 16 * ROWS, LITTLE_ENDIAN);
        FloatVector d = ((FloatVector) hd.lanewise(LSHL, 16).and(SIGN).or(hd.lanewise(LSHL, 13).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(F16_BIAS);
        FloatVector dmin = ((FloatVector) hd.and(SIGN).or(hd.lanewise(LSHR, 3).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(F16_BIAS);
        for (int k = 0; k < 4; k++) { // run k: sub-blocks 2k (low nibbles) and 2k + 1 (high)
            IntVector sa = (IntVector) ShortVector.fromMemorySegment(SH, w, meta + 2L * k * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
            IntVector sb = (IntVector) ShortVector.fromMemorySegment(SH, w, meta + (2L * k + 1) * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
            // x = D (q' + 16) - M with q' = q - 16: fma(q', D, 16 D - M)
            FloatVector da = d.mul((FloatVector) sa.and(255).convertShape(I2F, F, 0)), db = d.mul((FloatVector) sb.and(255).convertShape(I2F, F, 0));
            FloatVector ca = da.mul(16f).sub(dmin.mul((FloatVector) sa.lanewise(LSHR, 8).convertShape(I2F, F, 0)));
            FloatVector cb = db.mul(16f).sub(dmin.mul((FloatVector) sb.lanewise(LSHR, 8).convertShape(I2F, F, 0)));
            for (int c = 0; c < 16; c++) {
                // Lane r: row r's bytes 2c (low byte) and 2c + 1 (high byte) of the run, and of the inverted qh.
                IntVector v = (IntVector) ShortVector.fromMemorySegment(SH, w, at + (long) ((s * 4 + k) * 16 + c) * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
                IntVector t = ((IntVector) ShortVector.fromMemorySegment(SH, w, highAt + (long) (s * HIGH + c) * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0)).lanewise(LSHR, 2 * k);
                int col = ROWS * (64 * k + 2 * c);
                ((FloatVector) v.and(15).sub(t.lanewise(LSHL, 4).and(16)).convertShape(I2F, F, 0)).fma(da, ca).intoArray(cols, col);
                ((FloatVector) v.lanewise(LSHR, 8).and(15).sub(t.lanewise(LSHR, 4).and(16)).convertShape(I2F, F, 0)).fma(da, ca).intoArray(cols, col + ROWS);
                ((FloatVector) v.lanewise(LSHR, 4).and(15).sub(t.lanewise(LSHL, 3).and(16)).convertShape(I2F, F, 0)).fma(db, cb).intoArray(cols, col + 32 * ROWS);
                ((FloatVector) v.lanewise(LSHR, 12).sub(t.lanewise(LSHR, 5).and(16)).convertShape(I2F, F, 0)).fma(db, cb).intoArray(cols, col + 33 * ROWS);
            }
        }
    }
}
