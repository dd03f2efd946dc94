package dev.herd.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The pages under the weights. {@link #release}: pages of a read-only file mapping that this process will not read
 * again leave its resident set (madvise MADV_DONTNEED) and stay in the OS page cache, so a later read costs a page
 * fault, not a disk read. {@link #allocate}: memory for repacked weights in transparent huge pages where Linux offers
 * them on request (madvise MADV_HUGEPAGE), a 2 MiB page where there would be 512 of 4 KiB: 512 times fewer page faults
 * while the weights are written (each costs more in a virtual machine) and fewer TLB misses each time a token reads
 * them. Where the calls are not available (Windows, macOS for huge pages) both fall back to what the JDK does.
 */
final class Pages {
    private static final int MADV_DONTNEED = 4; // the same on Linux and macOS
    private static final int MADV_HUGEPAGE = 14, PROT_READ_WRITE = 3, MAP_PRIVATE_ANONYMOUS = 0x22; // Linux
    private static final long PAGE = 4096, HUGE = 2 << 20;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MADVISE = lookup("madvise", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final boolean LINUX = System.getProperty("os.name", "").startsWith("Linux");
    private static final MethodHandle MMAP = LINUX ? lookup("mmap", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG)) : null;
    private static final MethodHandle MUNMAP = LINUX ? lookup("munmap", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG)) : null;

    private Pages() {}

    private static MethodHandle lookup(String name, FunctionDescriptor signature) {
        try {
            return LINKER.defaultLookup().find(name).map(f -> LINKER.downcallHandle(f, signature)).orElse(null);
        } catch (RuntimeException | LinkageError e) {
            return null; // e.g. native access not enabled: the JDK's own ways
        }
    }

    /**
     * {@code bytes} of zeroed memory aligned to 64 bytes, freed when {@code arena} closes: from an anonymous mapping
     * advised into huge pages on Linux (sizes of at least one huge page), else {@code arena.allocate}.
     */
    static MemorySegment allocate(Arena arena, long bytes) {
        if (MMAP == null || MUNMAP == null || MADVISE == null || bytes < HUGE) return arena.allocate(bytes, 64);
        long mapped = bytes + HUGE; // room to start on a huge-page boundary
        MemorySegment at;
        try {
            at = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, mapped, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0L);
        } catch (Throwable e) {
            return arena.allocate(bytes, 64);
        }
        if (at.address() == -1L || at.address() == 0) return arena.allocate(bytes, 64); // MAP_FAILED
        long start = (at.address() + HUGE - 1) & -HUGE;
        try {
            int ignored = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), bytes & -HUGE, MADV_HUGEPAGE);
        } catch (Throwable e) {
            // Advice only: 4 KiB pages then.
        }
        long base = at.address();
        return MemorySegment.ofAddress(start).reinterpret(bytes, arena, s -> unmap(base, mapped));
    }

    private static void unmap(long address, long bytes) {
        try {
            int ignored = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(address), bytes);
        } catch (Throwable e) {
            // the process keeps the mapping: nothing else to do
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
