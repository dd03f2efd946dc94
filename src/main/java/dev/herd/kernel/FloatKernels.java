package dev.herd.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static java.nio.ByteOrder.LITTLE_ENDIAN;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.S2I;

/**
 * F32, F16 and BF16 weights times float activations, with FMA, at the machine's vector width ({@link VectorWidth}):
 * L floats per register, half floats loaded L at a time as a half-width vector and widened. Rows are multiples of 32
 * values, so of L and 2L at every width. Each type has its own loops: a shared loop calling a per-type load would not
 * inline that call, and the vectors would be boxed.
 */
final class FloatKernels {
    private FloatKernels() {}

    static final VectorSpecies<Float> F = RowKernel.F;
    static final int L = F.length();
    static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorWidth.HALF);
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);

    static final class F32 extends RowKernel {
        @Override
        float dot(MemorySegment w, long offset, int cols, Activations x) {
            float[] v = x.values;
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            int i = 0;
            for (; i + 4 * L <= cols; i += 4 * L) {
                long at = offset + 4L * i;
                a0 = FloatVector.fromMemorySegment(F, w, at, LITTLE_ENDIAN).fma(FloatVector.fromArray(F, v, i), a0);
                a1 = FloatVector.fromMemorySegment(F, w, at + 4L * L, LITTLE_ENDIAN).fma(FloatVector.fromArray(F, v, i + L), a1);
                a2 = FloatVector.fromMemorySegment(F, w, at + 8L * L, LITTLE_ENDIAN).fma(FloatVector.fromArray(F, v, i + 2 * L), a2);
                a3 = FloatVector.fromMemorySegment(F, w, at + 12L * L, LITTLE_ENDIAN).fma(FloatVector.fromArray(F, v, i + 3 * L), a3);
            }
            for (; i < cols; i += L) a0 = FloatVector.fromMemorySegment(F, w, offset + 4L * i, LITTLE_ENDIAN).fma(FloatVector.fromArray(F, v, i), a0);
            return Lanes.sum(a0.add(a1).add(a2.add(a3)));
        }

        @Override
        void expand(MemorySegment w, long offset, int cols, float[] dst, int at) {
            MemorySegment.copy(w, Kernels.F32, offset, dst, at, cols);
        }

        @Override
        public boolean needsQuantized() {
            return false;
        }
    }

    /**
     * Half floats converted in lanes: the magnitude bits moved into float position and scaled by 2^112 give zeros,
     * subnormals and normals exactly; infinities and NaNs (absent from model weights) come out as large finite values.
     */
    static final class F16 extends RowKernel {
        @Override
        float dot(MemorySegment w, long offset, int cols, Activations x) {
            float[] v = x.values;
            FloatVector a0 = FloatVector.zero(F), a1 = a0;
            for (int i = 0; i < cols; i += 2 * L) {
                long at = offset + 2L * i;
                IntVector h0 = (IntVector) ShortVector.fromMemorySegment(H, w, at, LITTLE_ENDIAN).convertShape(S2I, I, 0);
                IntVector h1 = (IntVector) ShortVector.fromMemorySegment(H, w, at + 2L * L, LITTLE_ENDIAN).convertShape(S2I, I, 0);
                FloatVector w0 = ((FloatVector) ((IntVector) ((FloatVector) h0.and(0x7fff).lanewise(LSHL, 13).reinterpretShape(F, 0)).mul(0x1p112f)
                        .reinterpretShape(I, 0)).or(h0.and(0x8000).lanewise(LSHL, 16)).reinterpretShape(F, 0));
                FloatVector w1 = ((FloatVector) ((IntVector) ((FloatVector) h1.and(0x7fff).lanewise(LSHL, 13).reinterpretShape(F, 0)).mul(0x1p112f)
                        .reinterpretShape(I, 0)).or(h1.and(0x8000).lanewise(LSHL, 16)).reinterpretShape(F, 0));
                a0 = w0.fma(FloatVector.fromArray(F, v, i), a0);
                a1 = w1.fma(FloatVector.fromArray(F, v, i + L), a1);
            }
            return Lanes.sum(a0.add(a1));
        }

        @Override
        void expand(MemorySegment w, long offset, int cols, float[] dst, int at) {
            for (int i = 0; i < cols; i += L) {
                IntVector h = (IntVector) ShortVector.fromMemorySegment(H, w, offset + 2L * i, LITTLE_ENDIAN).convertShape(S2I, I, 0);
                ((FloatVector) ((IntVector) ((FloatVector) h.and(0x7fff).lanewise(LSHL, 13).reinterpretShape(F, 0)).mul(0x1p112f)
                        .reinterpretShape(I, 0)).or(h.and(0x8000).lanewise(LSHL, 16)).reinterpretShape(F, 0)).intoArray(dst, at + i);
            }
        }

        @Override
        public boolean needsQuantized() {
            return false;
        }
    }

    /** Brain floats are the top half of a float: widen and shift. */
    static final class BF16 extends RowKernel {
        @Override
        float dot(MemorySegment w, long offset, int cols, Activations x) {
            float[] v = x.values;
            FloatVector a0 = FloatVector.zero(F), a1 = a0;
            for (int i = 0; i < cols; i += 2 * L) {
                long at = offset + 2L * i;
                FloatVector w0 = (FloatVector) ((IntVector) ShortVector.fromMemorySegment(H, w, at, LITTLE_ENDIAN).convertShape(S2I, I, 0))
                        .lanewise(LSHL, 16).reinterpretShape(F, 0);
                FloatVector w1 = (FloatVector) ((IntVector) ShortVector.fromMemorySegment(H, w, at + 2L * L, LITTLE_ENDIAN).convertShape(S2I, I, 0))
                        .lanewise(LSHL, 16).reinterpretShape(F, 0);
                a0 = w0.fma(FloatVector.fromArray(F, v, i), a0);
                a1 = w1.fma(FloatVector.fromArray(F, v, i + L), a1);
            }
            return Lanes.sum(a0.add(a1));
        }

        @Override
        void expand(MemorySegment w, long offset, int cols, float[] dst, int at) {
            for (int i = 0; i < cols; i += L) {
                ((FloatVector) ((IntVector) ShortVector.fromMemorySegment(H, w, offset + 2L * i, LITTLE_ENDIAN).convertShape(S2I, I, 0))
                        .lanewise(LSHL, 16).reinterpretShape(F, 0)).intoArray(dst, at + i);
            }
        }

        @Override
        public boolean needsQuantized() {
            return false;
        }
    }
}
