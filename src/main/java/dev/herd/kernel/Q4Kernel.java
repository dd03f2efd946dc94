package dev.herd.kernel;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static java.nio.ByteOrder.LITTLE_ENDIAN;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;

/**
 * Q4_0 weights (per 32: fp16 scale, 16 bytes; byte j holds element j in its low and j + 16 in its high nibble, both
 * offset by 8) times Q8_0 activations, in 16-bit integer lanes. Block bodies stay inline in the loops: split into
 * helpers, C2 stops inlining the vector calls (NodeCountInliningCutoff) and boxes the vectors.
 */
final class Q4Kernel extends RowKernel {
    static final int BLOCK_BYTES = 18;
    static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    static final VectorSpecies<Short> S = ShortVector.SPECIES_256;
    static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_256;

    @Override
    float dot(MemorySegment w, long offset, int cols, Activations x) {
        short[] q = x.q;
        float[] scales = x.scales;
        FloatVector acc = FloatVector.zero(F);
        for (int blk = 0, blocks = cols / Activations.BLOCK; blk < blocks; blk++) {
            long at = offset + blk * (long) BLOCK_BYTES;
            float scale = Float.float16ToFloat(w.get(Kernels.F16, at)) * scales[blk];
            // Widen bytes to 16-bit lanes first: x86 has no byte-lane shifts.
            ShortVector packed = (ShortVector) ByteVector.fromMemorySegment(B, w, at + 2, LITTLE_ENDIAN).convertShape(B2S, S, 0);
            ShortVector lo = packed.and((short) 15).sub((short) 8);
            ShortVector hi = packed.lanewise(ASHR, 4).and((short) 15).sub((short) 8);
            int xi = blk * Activations.BLOCK;
            // |sum| <= 2 * 8 * 128: the two products fit a 16-bit lane.
            ShortVector p = lo.mul(ShortVector.fromArray(S, q, xi)).add(hi.mul(ShortVector.fromArray(S, q, xi + 16)));
            // Pairwise sum to 32-bit lanes (what x86 pmaddwd does; the Vector API has no widening multiply-add).
            IntVector pairs = p.reinterpretAsInts();
            IntVector sum = pairs.lanewise(LSHL, 16).lanewise(ASHR, 16).add(pairs.lanewise(ASHR, 16));
            acc = ((FloatVector) sum.convert(I2F, 0)).fma(FloatVector.broadcast(F, scale), acc);
        }
        return Lanes.sum(acc);
    }

    @Override
    void expand(MemorySegment w, long offset, int cols, float[] dst, int at) {
        for (int blk = 0, blocks = cols / Activations.BLOCK; blk < blocks; blk++) {
            long from = offset + blk * (long) BLOCK_BYTES;
            float scale = Float.float16ToFloat(w.get(Kernels.F16, from));
            FloatVector d = FloatVector.broadcast(F, scale), shift = FloatVector.broadcast(F, -8 * scale);
            int to = at + blk * Activations.BLOCK;
            // Eight bytes widened straight to int lanes give 8 low and 8 high nibbles; (n - 8) * d as one FMA.
            for (int half = 0; half < 16; half += 8) {
                IntVector packed = (IntVector) ByteVector.fromMemorySegment(B8, w, from + 2 + half, LITTLE_ENDIAN).convertShape(B2I, I, 0);
                ((FloatVector) packed.and(15).convert(I2F, 0)).fma(d, shift).intoArray(dst, to + half);
                ((FloatVector) packed.lanewise(ASHR, 4).and(15).convert(I2F, 0)).fma(d, shift).intoArray(dst, to + 16 + half);
            }
        }
    }

    @Override
    public boolean needsQuantized() {
        return true;
    }
}
