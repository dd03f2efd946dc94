package dev.herd.kernel;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static java.nio.ByteOrder.LITTLE_ENDIAN;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2F;
import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;

/**
 * Q8_0 weights (per 32: fp16 scale, 32 int8) times Q8_0 activations in 16-bit integer lanes, at the machine's width:
 * a block is one register of 32 shorts at 512 bits, two pieces of 16 at 256, four of 8 at 128 (16-bit lanes hold
 * the sum of two products, so pieces are taken in pairs).
 */
final class Q8Kernel extends RowKernel {
    static final int BLOCK_BYTES = 34;
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.HALF);
    static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    static final int SL = S.length();

    @Override
    float dot(MemorySegment w, long offset, int cols, Activations x) {
        short[] q = x.q;
        float[] scales = x.scales;
        FloatVector acc = FloatVector.zero(F);
        for (int blk = 0, blocks = cols / Activations.BLOCK; blk < blocks; blk++) {
            long at = offset + blk * (long) BLOCK_BYTES;
            float scale = Float.float16ToFloat(w.get(Kernels.F16, at)) * scales[blk];
            int xi = blk * Activations.BLOCK;
            IntVector sum;
            if (SL == Activations.BLOCK) {
                IntVector pairs = (IntVector) ((ShortVector) ByteVector.fromMemorySegment(B, w, at + 2, LITTLE_ENDIAN).convertShape(B2S, S, 0))
                        .mul(ShortVector.fromArray(S, q, xi)).reinterpretShape(I, 0);
                sum = pairs.lanewise(LSHL, 16).lanewise(ASHR, 16).add(pairs.lanewise(ASHR, 16));
            } else {
                sum = IntVector.zero(I);
                for (int k = 0; k < Activations.BLOCK; k += 2 * SL) {
                    ShortVector lo = (ShortVector) ByteVector.fromMemorySegment(B, w, at + 2 + k, LITTLE_ENDIAN).convertShape(B2S, S, 0);
                    ShortVector hi = (ShortVector) ByteVector.fromMemorySegment(B, w, at + 2 + k + SL, LITTLE_ENDIAN).convertShape(B2S, S, 0);
                    // |sum| <= 2 * 128 * 127 (activations stay within +-127): the two products fit a 16-bit lane.
                    IntVector pairs = (IntVector) lo.mul(ShortVector.fromArray(S, q, xi + k)).add(hi.mul(ShortVector.fromArray(S, q, xi + k + SL))).reinterpretShape(I, 0);
                    // Pairwise sum to 32-bit lanes (what x86 pmaddwd does; the Vector API has no widening multiply-add).
                    sum = sum.add(pairs.lanewise(LSHL, 16).lanewise(ASHR, 16).add(pairs.lanewise(ASHR, 16)));
                }
            }
            acc = ((FloatVector) sum.convertShape(I2F, F, 0)).fma(FloatVector.broadcast(F, scale), acc);
        }
        return Lanes.sum(acc);
    }

    @Override
    void expand(MemorySegment w, long offset, int cols, float[] dst, int at) {
        for (int blk = 0, blocks = cols / Activations.BLOCK; blk < blocks; blk++) {
            long from = offset + blk * (long) BLOCK_BYTES;
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(w.get(Kernels.F16, from)));
            int to = at + blk * Activations.BLOCK;
            for (int half = 0; half < Activations.BLOCK; half += 16) {
                ByteVector bytes = ByteVector.fromMemorySegment(B128, w, from + 2 + half, LITTLE_ENDIAN);
                for (int part = 0; part < 16 / F.length(); part++) {
                    ((FloatVector) bytes.convertShape(B2F, F, part)).mul(d).intoArray(dst, to + half + part * F.length());
                }
            }
        }
    }

    @Override
    public boolean needsQuantized() {
        return true;
    }
}
