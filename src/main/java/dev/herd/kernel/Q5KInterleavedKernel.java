package dev.herd.kernel;

import dev.herd.codec.Iq4Xs;
import dev.herd.codec.Q4_K;
import dev.herd.codec.Q5_1;
import dev.herd.codec.Q5_K;
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

/**
 * Q5_K, Q5_1 and IQ4_XS weights repacked at load time ({@link GgmlType#Q5_K_INTERLEAVED}) in groups of {@link #ROWS} rows
 * (see {@link InterleavedKernel}) into the shape of {@link Q8InterleavedKernel}'s: one byte per value, its level
 * (Q5_K, Q5_1: 0..31; IQ4_XS: its entry in the IQ4_NL table, -127..113), in pieces holding values 2c and 2c+1 of each row's
 * 32-value block; then per block the ROWS steps and the ROWS minima as floats (x = step * level - min, as ggml
 * dequantizes; Q5_1's minimum is its -m, IQ4_XS has none). 40 bytes per 32 values, where the files take 22 (Q5_K),
 * 24 (Q5_1) and 17 (IQ4_XS): the
 * flat loop of Q8_0's kernel, whose compiled form keeps its vectors in registers, against assembling levels from bit
 * planes or table lookups in the loop (kernels that did either, now and then, boxed vectors: docs/performance.md).
 */
final class Q5KInterleavedKernel extends InterleavedKernel {
    private static final int PIECES = 16;
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.HALF);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;

    /** Element (row, col) of a repacked tensor, for the odd reader that wants single rows (slow, scalar). */
    static float get(Tensor w, int row, int col) {
        long group = (row / ROWS) * ROWS * w.rowBytes(), meta = group + (long) w.cols() / Activations.BLOCK * PIECES * P;
        int r = row % ROWS, blk = col / Activations.BLOCK, e = col % Activations.BLOCK;
        byte level = w.data().get(BYTE, group + (long) (blk * PIECES + e / 2) * P + 2 * r + e % 2);
        float step = w.data().get(Kernels.F32, meta + (long) blk * 4 * P + 4L * r);
        float min = w.data().get(Kernels.F32, meta + (long) blk * 4 * P + 2 * P + 4L * r);
        return step * level - min;
    }

    /** {@code w} (Q5_K or IQ4_XS, rows in groups of ROWS) in this kernel's layout, written to {@code dst} (Q5_K_INTERLEAVED's size). */
    static Tensor repack(Tensor w, MemorySegment dst) {
        if (w.rows() % ROWS != 0) throw new IllegalArgumentException(w.name() + ": rows not in groups of " + ROWS);
        GgmlType type = w.type();
        if (type != GgmlType.Q5_K && type != GgmlType.Q5_1 && type != GgmlType.IQ4_XS) throw new IllegalArgumentException(w.name() + ": " + type + " is not Q5_K, Q5_1 or IQ4_XS");
        int sub = type.blockSize / Activations.BLOCK;
        MemorySegment src = w.data();
        int blocks = w.cols() / Activations.BLOCK, meta = blocks * PIECES * P;
        long rowBytes = w.rowBytes(), groupBytes = ROWS * GgmlType.Q5_K_INTERLEAVED.bytes(w.cols());
        byte[] to = new byte[(int) groupBytes], block = new byte[type.blockBytes], levels = new byte[Activations.BLOCK];
        MemorySegment out = MemorySegment.ofArray(to);
        for (int g = 0; g < w.rows() / ROWS; g++) {
            for (int r = 0; r < ROWS; r++) {
                for (int blk = 0; blk < blocks; blk++) {
                    long in = (g * ROWS + r) * rowBytes + blk / sub * (long) type.blockBytes;
                    int j = blk % sub;
                    if (type == GgmlType.Q5_K) { // the common type: from a heap copy of the block, byte reads at int offsets
                        if (j == 0) MemorySegment.copy(src, BYTE, in, block, 0, block.length);
                        Q5_K.levels(block, j, levels);
                    } else {
                        for (int e = 0; e < Activations.BLOCK; e++) {
                            levels[e] = (byte) (type == GgmlType.Q5_1 ? Q5_1.level(src, in, e) : Iq4Xs.level(src, in, Activations.BLOCK * j + e));
                        }
                    }
                    for (int e = 0; e < Activations.BLOCK; e++) to[(blk * PIECES + e / 2) * P + 2 * r + e % 2] = levels[e];
                    float step = switch (type) {
                        case Q5_K -> Q4_K.step(src, in, j);
                        case Q5_1 -> Q5_1.d(src, in);
                        default -> Iq4Xs.step(src, in, j);
                    }, min = switch (type) {
                        case Q5_K -> Q4_K.min(src, in, j);
                        case Q5_1 -> -Q5_1.m(src, in);
                        default -> 0f;
                    };
                    out.set(Kernels.F32, meta + blk * 4L * P + 4L * r, step);
                    out.set(Kernels.F32, meta + blk * 4L * P + 2L * P + 4L * r, min);
                }
            }
            MemorySegment.copy(to, 0, dst, BYTE, g * groupBytes, to.length);
        }
        return new Tensor(w.name(), type == GgmlType.Q5_1 ? GgmlType.Q5_1_INTERLEAVED : GgmlType.Q5_K_INTERLEAVED, w.rows(), w.cols(), dst);
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        check(w, x, rowFrom, rowTo, x.sums8 == null ? null : x.pairs);
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
        int[] sums8 = x.sums8;
        int blocks = x.n / Activations.BLOCK;
        long metaAt = at + (long) blocks * PIECES * P;
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
                // step * sum(level q) - min * sum(q) over the block's int8 activations q, times their scale.
                FloatVector step = FloatVector.fromMemorySegment(F, w, metaAt + (long) blk * 4 * P, LITTLE_ENDIAN).mul(scales[blk]);
                FloatVector min = FloatVector.fromMemorySegment(F, w, metaAt + (long) blk * 4 * P + 2 * P, LITTLE_ENDIAN).mul(scales[blk] * (sums8[blk] * 0.125f));
                acc = ((FloatVector) sum.convertShape(I2F, F, 0)).fma(step, acc.sub(min));
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
        long metaAt = at + (long) blocks * PIECES * P;
        for (int k = 0; k < count; k++) {
            int blk = first + k;
            FloatVector step = FloatVector.fromMemorySegment(F, w, metaAt + (long) blk * 4 * P, LITTLE_ENDIAN);
            FloatVector min = FloatVector.fromMemorySegment(F, w, metaAt + (long) blk * 4 * P + 2 * P, LITTLE_ENDIAN).neg();
            int base = ROWS * k * Activations.BLOCK;
            for (int c = 0; c < PIECES; c++) {
                // Lane pair (2r, 2r+1): row r's values 2c and 2c+1; as shorts they become ints holding both bytes.
                ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B, w, at + (long) (blk * PIECES + c) * P, LITTLE_ENDIAN).convertShape(B2S, S, 0);
                IntVector both = (IntVector) v.reinterpretShape(I, 0);
                ((FloatVector) both.lanewise(LSHL, 16).lanewise(ASHR, 16).convertShape(I2F, F, 0)).fma(step, min).intoArray(cols, base + ROWS * (2 * c));
                ((FloatVector) both.lanewise(ASHR, 16).convertShape(I2F, F, 0)).fma(step, min).intoArray(cols, base + ROWS * (2 * c + 1));
            }
        }
    }
}
