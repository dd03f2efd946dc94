package dev.herd.kernel;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Releases pages of a read-only file mapping that this process will not read again (madvise MADV_DONTNEED): they
 * leave its resident set and stay in the OS page cache, so a later read costs a page fault, not a disk read. Where
 * madvise is not available (Windows) nothing happens.
 */
final class Pages {
    private static final int MADV_DONTNEED = 4; // the same on Linux and macOS
    private static final long PAGE = 4096;
    private static final MethodHandle MADVISE = lookup();

    private Pages() {}

    private static MethodHandle lookup() {
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("madvise").map(f -> linker.downcallHandle(f,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT))).orElse(null);
        } catch (RuntimeException | LinkageError e) {
            return null; // e.g. native access not enabled: keep the pages
        }
    }

    /** Releases the whole pages inside {@code mapped}, which must be (part of) a read-only file mapping. */
    static void release(MemorySegment mapped) {
        if (MADVISE == null || !mapped.isMapped() || !mapped.isReadOnly()) return;
        long start = (mapped.address() + PAGE - 1) & -PAGE, end = (mapped.address() + mapped.byteSize()) & -PAGE;
        if (end <= start) return;
        try {
            int ignored = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), end - start, MADV_DONTNEED);
        } catch (Throwable e) {
            // Advice only: the pages simply stay resident.
        }
    }
}
