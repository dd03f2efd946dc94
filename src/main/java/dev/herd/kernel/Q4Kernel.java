package dev.herd.kernel;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static java.nio.ByteOrder.LITTLE_ENDIAN;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;

/**
 * Q4_0 weights in the file's layout (per 32: fp16 scale, 16 bytes; byte j holds element j in its low and j + 16 in
 * its high nibble, both offset by 8) times Q8_0 activations, in 16-bit integer lanes. The engine uses it only for
 * matrices whose rows do not fill the interleaved layout's groups ({@link Q4InterleavedKernel}). A block's 16 bytes
 * widen to at most 256 bits of shorts, so the dot product runs at most 256 bits wide (two 128-bit pieces at 128).
 * Block bodies stay inline in the loops: split into helpers, C2 stops inlining the vector calls
 * (NodeCountInliningCutoff) and boxes the vectors.
 */
final class Q4Kernel extends RowKernel {
    static final int BLOCK_BYTES = 18;
    private static final VectorShape NARROW = Lanes.NARROW.vectorShape();
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(NARROW.vectorBitSize() / 2));
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, NARROW);
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, NARROW);
    static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;
    static final VectorSpecies<Integer> IW = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final int SL = S.length();

    @Override
    float dot(MemorySegment w, long offset, int cols, Activations x) {
        short[] q = x.q;
        float[] scales = x.scales;
        FloatVector acc = FloatVector.zero(Lanes.NARROW);
        for (int blk = 0, blocks = cols / Activations.BLOCK; blk < blocks; blk++) {
            long at = offset + blk * (long) BLOCK_BYTES;
            float scale = Float.float16ToFloat(w.get(Kernels.F16, at)) * scales[blk];
            int xi = blk * Activations.BLOCK;
            ShortVector p = ShortVector.zero(S);
            for (int k = 0; k < 16; k += SL) {
                // Widen bytes to 16-bit lanes first: x86 has no byte-lane shifts.
                ShortVector packed = (ShortVector) ByteVector.fromMemorySegment(B, w, at + 2 + k, LITTLE_ENDIAN).convertShape(B2S, S, 0);
                ShortVector lo = packed.and((short) 15).sub((short) 8);
                ShortVector hi = packed.lanewise(ASHR, 4).and((short) 15).sub((short) 8);
                // |sum| <= 4 * 8 * 128: the products fit a 16-bit lane.
                p = p.add(lo.mul(ShortVector.fromArray(S, q, xi + k))).add(hi.mul(ShortVector.fromArray(S, q, xi + 16 + k)));
            }
            // Pairwise sum to 32-bit lanes (what x86 pmaddwd does; the Vector API has no widening multiply-add).
            IntVector pairs = (IntVector) p.reinterpretShape(I, 0);
            IntVector sum = pairs.lanewise(LSHL, 16).lanewise(ASHR, 16).add(pairs.lanewise(ASHR, 16));
            acc = ((FloatVector) sum.convertShape(I2F, Lanes.NARROW, 0)).fma(FloatVector.broadcast(Lanes.NARROW, scale), acc);
        }
        return Lanes.sumNarrow(acc);
    }

    @Override
    void expand(MemorySegment w, long offset, int cols, float[] dst, int at) {
        int l = F.length();
        for (int blk = 0, blocks = cols / Activations.BLOCK; blk < blocks; blk++) {
            long from = offset + blk * (long) BLOCK_BYTES;
            float scale = Float.float16ToFloat(w.get(Kernels.F16, from));
            FloatVector d = FloatVector.broadcast(F, scale), shift = FloatVector.broadcast(F, -8 * scale);
            int to = at + blk * Activations.BLOCK;
            ByteVector bytes = ByteVector.fromMemorySegment(B128, w, from + 2, LITTLE_ENDIAN);
            // Bytes widened straight to int lanes give low and high nibbles; (n - 8) * d as one FMA.
            for (int part = 0; part < 16 / l; part++) {
                IntVector packed = (IntVector) bytes.convertShape(B2I, IW, part);
                ((FloatVector) packed.and(15).convertShape(I2F, F, 0)).fma(d, shift).intoArray(dst, to + part * l);
                ((FloatVector) packed.lanewise(ASHR, 4).and(15).convertShape(I2F, F, 0)).fma(d, shift).intoArray(dst, to + 16 + part * l);
            }
        }
    }

    @Override
    public boolean needsQuantized() {
        return true;
    }
}
