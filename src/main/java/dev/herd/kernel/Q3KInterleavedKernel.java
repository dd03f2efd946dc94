package dev.herd.kernel;

import dev.herd.codec.Q2_K;
import dev.herd.codec.Q3_K;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import static java.nio.ByteOrder.LITTLE_ENDIAN;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.S2I;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2S;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_S2I;

/**
 * Q3_K and Q2_K weights repacked at load time ({@link GgmlType#Q3_K_INTERLEAVED}) in groups of {@link #ROWS} rows (see
 * {@link InterleavedKernel}) into the shape of {@link Q4InterleavedKernel}'s. Both types scale 16-value sub-blocks by
 * small integers under a super-block's d and dmin: x = d * a * level - dmin * b (Q2_K: a, b its 4-bit scale and min,
 * levels 0..3; Q3_K: a its 6-bit scale - 32, level + 4 in 0..7, b = 4a, dmin = d). In Q4_0's piece order a block's
 * low nibbles are its first sub-block and its high nibbles the second, which Q4_0's kernel already sums in two
 * chains; here each chain gets its own scale. A group holds every block's eight pieces, then per block each row's
 * scale pair (int8), then per block each row's min pair (int8), then per super-block each row's d and each row's
 * -dmin (floats): 168 bytes per 256 values where the files take 110 (Q3_K) and 84 (Q2_K).
 *
 * <p>Decoding, a block's two chains become two per-row sums (one pairwise widening each), are scaled by a in 32-bit
 * lanes, and the minima meet the activations' per-sub-block sums ({@link Activations#halfSums}); the block then adds
 * two multiply-adds, d and -dmin times the activations' Q8_0 scale.
 */
final class Q3KInterleavedKernel extends InterleavedKernel {
    private static final int SUPER = 256, BLOCKS = SUPER / Activations.BLOCK;
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.HALF);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorWidth.HALF);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;

    /** Element (row, col) of a repacked tensor, for the odd reader that wants single rows (slow, scalar). */
    static float get(Tensor w, int row, int col) {
        long group = (row / ROWS) * ROWS * w.rowBytes();
        int blocks = w.cols() / Activations.BLOCK;
        int r = row % ROWS, blk = col / Activations.BLOCK, e = col % Activations.BLOCK, c = (e % 16) / 2, half = e / 16;
        int packed = w.data().get(BYTE, group + (long) (blk * 8 + c) * P + 2 * r + (e % 2)) & 0xff;
        int a = w.data().get(BYTE, group + (long) (blocks * 8 + blk) * P + 2 * r + half);
        int b = w.data().get(BYTE, group + (long) (blocks * 9 + blk) * P + 2 * r + half);
        long supers = group + (long) blocks * 10 * P + (long) (blk / BLOCKS) * 4 * P;
        float d = w.data().get(Kernels.F32, supers + 4L * r), negDmin = w.data().get(Kernels.F32, supers + 2L * P + 4L * r);
        return d * a * (half == 0 ? packed & 15 : packed >>> 4) + negDmin * b; // the codecs' products, each exact
    }

    /** {@code w} (Q3_K or Q2_K, rows in groups of ROWS) in this kernel's layout, written to {@code dst} (Q3_K_INTERLEAVED's size). */
    static Tensor repack(Tensor w, MemorySegment dst) {
        if (w.rows() % ROWS != 0) throw new IllegalArgumentException(w.name() + ": rows not in groups of " + ROWS);
        boolean q3 = w.type() == GgmlType.Q3_K;
        if (!q3 && w.type() != GgmlType.Q2_K) throw new IllegalArgumentException(w.name() + ": " + w.type() + " is not Q3_K or Q2_K");
        MemorySegment src = w.data();
        int blocks = w.cols() / Activations.BLOCK, supers = w.cols() / SUPER;
        long rowBytes = w.rowBytes(), groupBytes = ROWS * GgmlType.Q3_K_INTERLEAVED.bytes(w.cols());
        byte[] to = new byte[(int) groupBytes];
        MemorySegment out = MemorySegment.ofArray(to);
        for (int g = 0; g < w.rows() / ROWS; g++) {
            for (int r = 0; r < ROWS; r++) {
                for (int s = 0; s < supers; s++) {
                    long in = (g * ROWS + r) * rowBytes + (long) s * w.type().blockBytes;
                    for (int i = 0; i < SUPER; i++) {
                        int blk = s * BLOCKS + i / 32, e = i % 32;
                        int level = q3 ? Q3_K.level(src, in, i) + 4 : Q2_K.level(src, in, i);
                        to[(blk * 8 + (e % 16) / 2) * P + 2 * r + e % 2] |= (byte) (e < 16 ? level : level << 4);
                    }
                    for (int j = 0; j < 16; j++) { // sub-block j is half j % 2 of block j / 2
                        int blk = s * BLOCKS + j / 2, a = q3 ? Q3_K.scale(src, in, j) : Q2_K.scale(src, in, j);
                        to[(blocks * 8 + blk) * P + 2 * r + j % 2] = (byte) a;
                        to[(blocks * 9 + blk) * P + 2 * r + j % 2] = (byte) (q3 ? 4 * a : Q2_K.min(src, in, j));
                    }
                    long at = (long) blocks * 10 * P + (long) s * 4 * P + 4L * r;
                    out.set(Kernels.F32, at, q3 ? Q3_K.d(src, in) : Q2_K.d(src, in));
                    out.set(Kernels.F32, at + 2L * P, -(q3 ? Q3_K.d(src, in) : Q2_K.dmin(src, in)));
                }
            }
            MemorySegment.copy(to, 0, dst, BYTE, g * groupBytes, to.length);
            Arrays.fill(to, (byte) 0);
        }
        return new Tensor(w.name(), GgmlType.Q3_K_INTERLEAVED, w.rows(), w.cols(), dst);
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        check(w, x, rowFrom, rowTo, x.halfSums);
        long groupBytes = ROWS * w.rowBytes();
        for (int g = rowFrom; g < rowTo; g += ROWS) {
            int o = outOffset + g - rowFrom;
            if (x.batch == 1) dot(w.data(), g / ROWS * groupBytes, x, out, o);
            else batch(w.data(), g / ROWS * groupBytes, x, out, o, outStride);
        }
    }

    /** The ROWS rows of the group at byte {@code at} times the first vector of x, into out[o..o+ROWS). */
    private static void dot(MemorySegment w, long at, Activations x, float[] out, int o) {
        int[] p = x.nibblePairs, halves = x.halfSums;
        float[] scales = x.scales;
        int blocks = x.n / Activations.BLOCK;
        long scaleAt = at + (long) blocks * 8 * P, minAt = scaleAt + (long) blocks * P, superAt = minAt + (long) blocks * P;
        FloatVector acc = FloatVector.zero(F);
        ShortVector lo = ShortVector.zero(S), hi = lo;
        for (int i = 0, pieces = 8 * blocks; i < pieces; i++) {
            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B, w, at + (long) i * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_B2S, S, 0);
            lo = lo.add(v.and((short) 15).mul(IntVector.broadcast(I, p[2 * i]).reinterpretShape(S, 0)));
            hi = hi.add(v.lanewise(LSHR, 4).mul(IntVector.broadcast(I, p[2 * i + 1]).reinterpretShape(S, 0)));
            if ((i & 7) == 7) { // the block's eight pieces are in
                int blk = i >>> 3;
                // Each chain's row pairs to one 32-bit lane per row (x86 pmaddwd; the Vector API has none).
                IntVector l = (IntVector) lo.reinterpretShape(I, 0), h = (IntVector) hi.reinterpretShape(I, 0);
                l = l.lanewise(LSHL, 16).lanewise(ASHR, 16).add(l.lanewise(ASHR, 16));
                h = h.lanewise(LSHL, 16).lanewise(ASHR, 16).add(h.lanewise(ASHR, 16));
                // Each row's int8 pairs, sign-extended: the first sub-block's in the low byte, the second's above.
                IntVector a = (IntVector) ShortVector.fromMemorySegment(SH, w, scaleAt + (long) blk * P, LITTLE_ENDIAN).convertShape(S2I, I, 0);
                IntVector b = (IntVector) ShortVector.fromMemorySegment(SH, w, minAt + (long) blk * P, LITTLE_ENDIAN).convertShape(S2I, I, 0);
                IntVector scaled = l.mul(a.lanewise(LSHL, 24).lanewise(ASHR, 24)).add(h.mul(a.lanewise(ASHR, 8)));
                IntVector minima = b.lanewise(LSHL, 24).lanewise(ASHR, 24).mul(halves[2 * blk]).add(b.lanewise(ASHR, 8).mul(halves[2 * blk + 1]));
                long dAt = superAt + (long) (blk / BLOCKS) * 4 * P;
                FloatVector d = FloatVector.fromMemorySegment(F, w, dAt, LITTLE_ENDIAN).mul(scales[blk]);
                FloatVector negDmin = FloatVector.fromMemorySegment(F, w, dAt + 2L * P, LITTLE_ENDIAN).mul(scales[blk]);
                acc = ((FloatVector) minima.convertShape(I2F, F, 0)).fma(negDmin, ((FloatVector) scaled.convertShape(I2F, F, 0)).fma(d, acc));
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
        long scaleAt = at + (long) blocks * 8 * P, minAt = scaleAt + (long) blocks * P, superAt = minAt + (long) blocks * P;
        for (int k = 0; k < count; k++) {
            int blk = first + k;
            long dAt = superAt + (long) (blk / BLOCKS) * 4 * P;
            FloatVector d = FloatVector.fromMemorySegment(F, w, dAt, LITTLE_ENDIAN);
            FloatVector negDmin = FloatVector.fromMemorySegment(F, w, dAt + 2L * P, LITTLE_ENDIAN);
            IntVector a = (IntVector) ShortVector.fromMemorySegment(SH, w, scaleAt + (long) blk * P, LITTLE_ENDIAN).convertShape(S2I, I, 0);
            IntVector b = (IntVector) ShortVector.fromMemorySegment(SH, w, minAt + (long) blk * P, LITTLE_ENDIAN).convertShape(S2I, I, 0);
            FloatVector stepLo = d.mul((FloatVector) a.lanewise(LSHL, 24).lanewise(ASHR, 24).convertShape(I2F, F, 0));
            FloatVector stepHi = d.mul((FloatVector) a.lanewise(ASHR, 8).convertShape(I2F, F, 0));
            FloatVector minLo = negDmin.mul((FloatVector) b.lanewise(LSHL, 24).lanewise(ASHR, 24).convertShape(I2F, F, 0));
            FloatVector minHi = negDmin.mul((FloatVector) b.lanewise(ASHR, 8).convertShape(I2F, F, 0));
            int base = ROWS * k * Activations.BLOCK;
            for (int c = 0; c < 8; c++) {
                // Lane r: row r's bytes 2c (low byte) and 2c + 1 (high byte), i.e. four nibbles of elements
                // 2c, 2c+16 (byte 2c) and 2c+1, 2c+17 (byte 2c+1).
                IntVector v = (IntVector) ShortVector.fromMemorySegment(SH, w, at + (long) (blk * 8 + c) * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
                ((FloatVector) v.and(15).convertShape(I2F, F, 0)).fma(stepLo, minLo).intoArray(cols, base + ROWS * (2 * c));
                ((FloatVector) v.lanewise(LSHR, 8).and(15).convertShape(I2F, F, 0)).fma(stepLo, minLo).intoArray(cols, base + ROWS * (2 * c + 1));
                ((FloatVector) v.lanewise(LSHR, 4).and(15).convertShape(I2F, F, 0)).fma(stepHi, minHi).intoArray(cols, base + ROWS * (2 * c + 16));
                ((FloatVector) v.lanewise(LSHR, 12).convertShape(I2F, F, 0)).fma(stepHi, minHi).intoArray(cols, base + ROWS * (2 * c + 17));
            }
        }
    }
}
