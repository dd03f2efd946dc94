package dev.herd.kernel;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static java.nio.ByteOrder.LITTLE_ENDIAN;
import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.S2F;

/**
 * Q4_0 weights (per 32: fp16 scale, 16 bytes; byte j holds element j in its low and j + 16 in its high nibble, both
 * offset by 8) times Q8_0 activations, in 16-bit integer lanes. Block bodies stay inline in the loops: split into
 * helpers, C2 stops inlining the vector calls (NodeCountInliningCutoff) and boxes the vectors.
 */
final class Q4Kernel extends RowKernel {
    static final int BLOCK_BYTES = 18;
    static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    static final VectorSpecies<Short> S = ShortVector.SPECIES_256;

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
        return acc.reduceLanes(ADD);
    }

    @Override
    void expand(MemorySegment w, long offset, int cols, float[] dst, int at) {
        for (int blk = 0, blocks = cols / Activations.BLOCK; blk < blocks; blk++) {
            long from = offset + blk * (long) BLOCK_BYTES;
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(w.get(Kernels.F16, from)));
            ShortVector packed = (ShortVector) ByteVector.fromMemorySegment(B, w, from + 2, LITTLE_ENDIAN).convertShape(B2S, S, 0);
            ShortVector lo = packed.and((short) 15).sub((short) 8);
            ShortVector hi = packed.lanewise(ASHR, 4).and((short) 15).sub((short) 8);
            int to = at + blk * Activations.BLOCK;
            ((FloatVector) lo.convertShape(S2F, F, 0)).mul(d).intoArray(dst, to);
            ((FloatVector) lo.convertShape(S2F, F, 1)).mul(d).intoArray(dst, to + 8);
            ((FloatVector) hi.convertShape(S2F, F, 0)).mul(d).intoArray(dst, to + 16);
            ((FloatVector) hi.convertShape(S2F, F, 1)).mul(d).intoArray(dst, to + 24);
        }
    }

    @Override
    public boolean needsQuantized() {
        return true;
    }
}
