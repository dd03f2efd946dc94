package dev.herd.engine;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * What memory the machine can still give (Linux's MemAvailable, else the JVM's view of free physical memory), and
 * giving back what a finished session used.
 */
public final class Memory {
    /** glibc's malloc_trim, or empty where there is none (not glibc, or native access denied). */
    private static final Optional<MethodHandle> TRIM = trim();

    private Memory() {}

    /** Bytes that can be allocated without swapping (MemAvailable counts reclaimable page cache; cgroup-aware fallback). */
    public static long available() {
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    long kib = Long.parseLong(line.replaceAll("[^0-9]", ""));
                    return Math.min(kib * 1024, os.getTotalMemorySize()); // a container's limit is below the host's MemAvailable
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: the JVM's figure
        }
        return os.getFreeMemorySize();
    }

    /**
     * Gives the memory of an ended session back to the OS. Arenas free their memory when closed, but glibc keeps freed
     * blocks below its (adaptive) mmap threshold in its own heaps, and the JVM keeps the heap it grew to while loading;
     * measured in docs/security.md.
     */
    public static void release() {
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
