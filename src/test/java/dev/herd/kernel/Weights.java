package dev.herd.kernel;

import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;

/** Random weights of each type, placed at an odd offset as mmap slices are. */
final class Weights {
    private Weights() {}

    /** The type a kernel's in-memory type is made from. */
    static GgmlType fileType(GgmlType type) {
        return switch (type) {
            case Q4_0_INTERLEAVED -> GgmlType.Q4_0;
            case Q8_0_INTERLEAVED -> GgmlType.Q8_0;
            case Q6_K_INTERLEAVED -> GgmlType.Q6_K;
            case Q4_K_INTERLEAVED -> GgmlType.Q4_K;
            case Q5_K_INTERLEAVED -> GgmlType.Q5_K;
            case Q3_K_INTERLEAVED -> GgmlType.Q3_K;
            default -> type;
        };
    }

    static Tensor random(GgmlType type, int rows, int cols, long seed, Arena arena) {
        Random rnd = new Random(seed);
        long bytes = rows * type.bytes(cols);
        int misalign = 1 + rnd.nextInt(7);
        MemorySegment data = arena.allocate(bytes + misalign, 64).asSlice(misalign, bytes);
        switch (type) {
            case F32 -> {
                for (long i = 0; i < bytes / 4; i++) data.setAtIndex(Kernels.F32, i, (float) rnd.nextGaussian());
            }
            case F16 -> {
                for (long i = 0; i < bytes / 2; i++) data.setAtIndex(Kernels.F16, i, Float.floatToFloat16(half(rnd)));
            }
            case BF16 -> {
                for (long i = 0; i < bytes / 2; i++) {
                    data.setAtIndex(Kernels.F16, i, (short) (Float.floatToRawIntBits((float) rnd.nextGaussian()) >>> 16));
                }
            }
            case Q4_0, Q8_0, IQ4_NL -> {
                for (long at = 0; at < bytes; at += type.blockBytes) {
                    data.set(Kernels.F16, at, Float.floatToFloat16(scale(rnd)));
                    for (int j = 2; j < type.blockBytes; j++) data.set(ValueLayout.JAVA_BYTE, at + j, (byte) rnd.nextInt());
                }
            }
            case Q6_K -> { // every bit random (6-bit values, signed scales), then the super-block's half scale d
                for (long at = 0; at < bytes; at += type.blockBytes) {
                    for (int j = 0; j < 208; j++) data.set(ValueLayout.JAVA_BYTE, at + j, (byte) rnd.nextInt());
                    data.set(Kernels.F16, at + 208, Float.floatToFloat16(scale(rnd)));
                }
            }
            case Q3_K -> { // every bit random (levels, high bits, 6-bit scales), then the half scale d
                for (long at = 0; at < bytes; at += type.blockBytes) {
                    for (int j = 0; j < 108; j++) data.set(ValueLayout.JAVA_BYTE, at + j, (byte) rnd.nextInt());
                    data.set(Kernels.F16, at + 108, Float.floatToFloat16(scale(rnd)));
                }
            }
            case Q2_K -> { // every bit random (4-bit scales and mins, levels), then half d and dmin
                for (long at = 0; at < bytes; at += type.blockBytes) {
                    for (int j = 0; j < 80; j++) data.set(ValueLayout.JAVA_BYTE, at + j, (byte) rnd.nextInt());
                    data.set(Kernels.F16, at + 80, Float.floatToFloat16(scale(rnd)));
                    data.set(Kernels.F16, at + 82, Float.floatToFloat16(Math.abs(scale(rnd))));
                }
            }
            case Q4_K, Q5_K -> { // half d and dmin, then every bit random (6-bit scales and mins, high bits, nibbles)
                for (long at = 0; at < bytes; at += type.blockBytes) {
                    data.set(Kernels.F16, at, Float.floatToFloat16(scale(rnd)));
                    data.set(Kernels.F16, at + 2, Float.floatToFloat16(Math.abs(scale(rnd))));
                    for (int j = 4; j < type.blockBytes; j++) data.set(ValueLayout.JAVA_BYTE, at + j, (byte) rnd.nextInt());
                }
            }
            case Q4_1, Q5_1 -> { // half d and m, then every bit random
                for (long at = 0; at < bytes; at += type.blockBytes) {
                    data.set(Kernels.F16, at, Float.floatToFloat16(scale(rnd)));
                    data.set(Kernels.F16, at + 2, Float.floatToFloat16(scale(rnd)));
                    for (int j = 4; j < type.blockBytes; j++) data.set(ValueLayout.JAVA_BYTE, at + j, (byte) rnd.nextInt());
                }
            }
            case IQ4_XS, Q5_0 -> { // half d, then every bit random
                for (long at = 0; at < bytes; at += type.blockBytes) {
                    data.set(Kernels.F16, at, Float.floatToFloat16(scale(rnd)));
                    for (int j = 2; j < type.blockBytes; j++) data.set(ValueLayout.JAVA_BYTE, at + j, (byte) rnd.nextInt());
                }
            }
            default -> throw new IllegalArgumentException(type.toString());
        }
        return new Tensor("w", type, rows, cols, data);
    }

    /** Mostly normal values, some subnormal halves and zeros. */
    private static float half(Random rnd) {
        return switch (rnd.nextInt(20)) {
            case 0 -> 0f;
            case 1 -> (float) rnd.nextGaussian() * 1e-6f;
            default -> (float) rnd.nextGaussian();
        };
    }

    /** Block scales: some zero blocks, magnitudes across several decades, both signs. */
    private static float scale(Random rnd) {
        return rnd.nextInt(10) == 0 ? 0f : (float) (rnd.nextGaussian() * Math.pow(10, -1 - rnd.nextInt(3)));
    }

    static void fill(Activations x, long seed) {
        Random rnd = new Random(seed);
        for (int i = 0; i < x.values.length; i++) x.values[i] = (float) rnd.nextGaussian() * (i % 97 == 0 ? 30 : 1);
        if (x.n >= 64) Arrays.fill(x.values, 32, 64, 0f); // an all-zero block: scale 0
    }
}
