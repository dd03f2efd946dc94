package dev.herd.kernel;

import jdk.incubator.vector.VectorShape;

/**
 * The vector width every kernel uses, chosen once per JVM: the widest the hardware and the JVM offer (128 bits on
 * ARM NEON and under {@code -XX:MaxVectorSize=16}, 256 on AVX2, 512 on AVX-512), or {@code -Dherd.vector=128|256|512}
 * for tests and benchmarks, never wider than the hardware: a species C2 cannot map to registers runs as Java objects,
 * tens of times slower. Kernels take their species from here as {@code static final} constants, so C2 compiles one
 * width per JVM.
 */
public final class VectorWidth {
    private VectorWidth() {}

    /** What the hardware and the JVM's flags allow. */
    public static final int HARDWARE = VectorShape.preferredShape().vectorBitSize();
    /** The width in use. */
    public static final int BITS = choose(Integer.getInteger("herd.vector", HARDWARE), HARDWARE);
    /** Vectors of the width in use, and of half of it (the source of a widening conversion). */
    static final VectorShape SHAPE = VectorShape.forBitSize(BITS), HALF = VectorShape.forBitSize(BITS / 2);

    /** The power of two from 128 to 512 closest to {@code requested} without exceeding {@code hardware}. */
    static int choose(int requested, int hardware) {
        int bits = 128;
        while (bits < 512 && bits * 2 <= Math.min(requested, hardware)) bits *= 2;
        return bits;
    }

    public static String describe() {
        return BITS + "-bit vectors" + (BITS < HARDWARE ? " (hardware: " + HARDWARE + ")" : "");
    }
}
