package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.engine.Memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether a plan fits this machine now: its weights and in-memory KV cache in the memory that is available (not the
 * total, which other processes use), and a disk KV cache in the free space of the temporary directory, each with a
 * margin, checked before anything is allocated.
 */
final class Budget {
    /** Left free for the JVM, its buffers and the rest of the machine: 512 MiB or a tenth of the need, the larger. */
    static long margin(long need) {
        return Math.max(512L << 20, need / 10);
    }

    private Budget() {}

    static void check(long memory, long disk) {
        long available = Memory.available();
        if (memory + margin(memory) > available) {
            throw new HerdException(String.format("the plan needs %s of memory for weights and KV cache (plus a margin of %s),"
                    + " but only %s is available on this worker", mib(memory), mib(margin(memory)), mib(available)));
        }
        if (disk > 0) {
            Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
            long free = usableSpace(tmp);
            if (disk + margin(disk) > free) {
                throw new HerdException(String.format("the KV cache on disk needs %s (plus a margin of %s), but %s has only %s free",
                        mib(disk), mib(margin(disk)), tmp, mib(free)));
            }
        }
    }

    static long usableSpace(Path dir) {
        try {
            return Files.getFileStore(dir).getUsableSpace();
        } catch (IOException e) {
            throw new HerdException("cannot tell the free space of " + dir + " for a KV cache on disk: " + e.getMessage(), e);
        }
    }

    private static String mib(long bytes) {
        return String.format("%.0f MiB", bytes / 1048576.0);
    }
}
