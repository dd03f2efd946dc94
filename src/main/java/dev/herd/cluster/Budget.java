package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.engine.Memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether a plan fits a worker: its weights and in-memory KV cache in the memory that is available (not the total,
 * which other processes use), and a disk KV cache in the free space of its KV cache folder, each with a margin. The
 * root checks it with what each worker reported in its handshake before it sends any weight (and picks the default
 * context with it); the worker checks again with its figures of the moment before it allocates.
 */
final class Budget {
    /** What a worker reported it can hold: bytes of memory available, bytes free in its KV cache folder. */
    record Capacity(long memory, long disk) {
        /** This machine now, with its KV cache folder {@code kvDir}. */
        static Capacity here(Path kvDir) {
            long disk;
            try {
                disk = usableSpace(kvDir);
            } catch (HerdException e) {
                disk = 0; // no disk KV cache here; an in-memory one still fits
            }
            return new Capacity(Memory.available(), disk);
        }
    }

    /** Left free for the JVM, its buffers and the rest of the machine: 512 MiB or a tenth of the need, the larger. */
    static long margin(long need) {
        return Math.max(512L << 20, need / 10);
    }

    /** The largest need that leaves its margin free in {@code room} bytes. */
    private static long usable(long room) {
        return Math.max(0, Math.min(room - (512L << 20), room / 11 * 10));
    }

    private Budget() {}

    /**
     * Positions of context a node can hold: its KV cache ({@code perPosition} bytes a position) beside {@code weights}
     * in memory, or on disk when {@code kvOnDisk}. 0 when not even the weights fit.
     */
    static int positions(long weights, long perPosition, Capacity c, boolean kvOnDisk) {
        if (usable(c.memory()) < weights) return 0;
        long room = kvOnDisk ? usable(c.disk()) : usable(c.memory()) - weights;
        return (int) Math.min(Integer.MAX_VALUE, room / perPosition);
    }

    /** Null when the slice fits {@code c}, else why not, with the numbers. */
    static String shortfall(long weights, long kv, Capacity c, boolean kvOnDisk) {
        long memory = weights + (kvOnDisk ? 0 : kv);
        if (memory + margin(memory) > c.memory()) {
            return String.format("needs %s of memory (weights %s + KV cache %s, plus a margin of %s), but %s is available",
                    mib(memory), mib(weights), mib(kvOnDisk ? 0 : kv), mib(margin(memory)), mib(c.memory()));
        }
        if (kvOnDisk && kv + margin(kv) > c.disk()) {
            return String.format("needs %s of disk for the KV cache (plus a margin of %s), but its KV cache folder has %s free",
                    mib(kv), mib(margin(kv)), mib(c.disk()));
        }
        return null;
    }

    /** The worker's own check, with its figures of the moment. */
    static void check(long weights, long kv, boolean kvOnDisk, Path kvDir) {
        String why = shortfall(weights, kv, Capacity.here(kvDir), kvOnDisk);
        if (why != null) throw new HerdException("the plan " + why + " on this worker" + (kvOnDisk ? " (KV cache folder " + kvDir + ")" : ""));
    }

    static long usableSpace(Path dir) {
        try {
            Files.createDirectories(dir);
            return Files.getFileStore(dir).getUsableSpace();
        } catch (IOException e) {
            throw new HerdException("cannot use " + dir + " as the KV cache folder: " + e.getMessage(), e);
        }
    }

    static String mib(long bytes) {
        return String.format("%.0f MiB", bytes / 1048576.0);
    }
}
