package dev.herd.cluster;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Gives the memory of an ended session back to the OS. The slice and KV cache are freed with their arena, but glibc
 * keeps freed blocks below its (adaptive) mmap threshold in its own heaps, and the JVM keeps the heap it grew to while
 * loading; measured in docs/security-worker.md.
 */
final class Memory {
    /** glibc's malloc_trim, or empty where there is none (not glibc, or native access denied). */
    private static final Optional<MethodHandle> TRIM = trim();

    private Memory() {}

    static void release() {
        System.gc();
        TRIM.ifPresent(trim -> {
            try {
                int ignored = (int) trim.invokeExact(0L);
            } catch (Throwable e) {
                // nothing to give back then: the memory stays reusable by the next session
            }
        });
    }

    private static Optional<MethodHandle> trim() {
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("malloc_trim")
                    .map(f -> linker.downcallHandle(f, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG)));
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }
}
