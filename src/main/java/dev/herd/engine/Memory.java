package dev.herd.engine;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/** What memory the machine can still give: Linux's MemAvailable, else the JVM's view of free physical memory. */
public final class Memory {
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
}
