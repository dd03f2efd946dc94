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
import static jdk.incubator.vector.VectorOperators.B2F;
import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;

/** Q8_0 weights (per 32: fp16 scale, 32 int8) times Q8_0 activations, in 16-bit integer lanes, as {@link Q4Kernel}. */
final class Q8Kernel extends RowKernel {
    static final int BLOCK_BYTES = 34;
    static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    static final VectorSpecies<Short> S = ShortVector.SPECIES_256;

    @Override
    float dot(MemorySegment w, long offset, int cols, Activations x) {
        short[] q = x.q;
        float[] scales = x.scales;
        FloatVector acc = FloatVector.zero(F);
        for (int blk = 0, blocks = cols / Activations.BLOCK; blk < blocks; blk++) {
            long at = offset + blk * (long) BLOCK_BYTES;
            float scale = Float.float16ToFloat(w.get(Kernels.F16, at)) * scales[blk];
            ShortVector lo = (ShortVector) ByteVector.fromMemorySegment(B, w, at + 2, LITTLE_ENDIAN).convertShape(B2S, S, 0);
            ShortVector hi = (ShortVector) ByteVector.fromMemorySegment(B, w, at + 18, LITTLE_ENDIAN).convertShape(B2S, S, 0);
            int xi = blk * Activations.BLOCK;
            // |sum| <= 2 * 128 * 127 (activations stay within +-127): the two products fit a 16-bit lane.
            IntVector pairs = lo.mul(ShortVector.fromArray(S, q, xi)).add(hi.mul(ShortVector.fromArray(S, q, xi + 16))).reinterpretAsInts();
            IntVector sum = pairs.lanewise(LSHL, 16).lanewise(ASHR, 16).add(pairs.lanewise(ASHR, 16));
            acc = ((FloatVector) sum.convert(I2F, 0)).fma(FloatVector.broadcast(F, scale), acc);
        }
        return Lanes.sum(acc);
    }

    @Override
    void expand(MemorySegment w, long offset, int cols, float[] dst, int at) {
        for (int blk = 0, blocks = cols / Activations.BLOCK; blk < blocks; blk++) {
            long from = offset + blk * (long) BLOCK_BYTES;
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(w.get(Kernels.F16, from)));
            int to = at + blk * Activations.BLOCK;
            for (int i = 0; i < Activations.BLOCK; i += F.length()) {
                ((FloatVector) ByteVector.fromMemorySegment(B8, w, from + 2 + i, LITTLE_ENDIAN).convertShape(B2F, F, 0)).mul(d).intoArray(dst, to + i);
            }
        }
    }

    @Override
    public boolean needsQuantized() {
        return true;
    }
}
