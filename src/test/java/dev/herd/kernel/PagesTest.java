package dev.herd.kernel;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PagesTest {
    @Test
    void allocationsAreZeroedAlignedAndFreedWithTheirArena() {
        for (long bytes : List.of(100L, (5L << 20) + 3)) { // below a huge page (the JDK's), and above (a mapping of its own on Linux)
            MemorySegment s;
            try (Arena arena = Arena.ofShared()) {
                s = Pages.allocate(arena, bytes);
                assertThat(s.byteSize()).isEqualTo(bytes);
                assertThat(s.address() % 64).isZero();
                for (long i = 0; i < bytes; i += 997) assertThat(s.get(ValueLayout.JAVA_BYTE, i)).isZero();
                assertThat(s.get(ValueLayout.JAVA_BYTE, bytes - 1)).isZero();
                s.set(ValueLayout.JAVA_BYTE, bytes - 1, (byte) 7);
                assertThat(s.get(ValueLayout.JAVA_BYTE, bytes - 1)).isEqualTo((byte) 7);
            }
            MemorySegment closed = s;
            assertThatThrownBy(() -> closed.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        }
    }

    /** Where Linux gives transparent huge pages on request (as on the machines this project runs on), the weights get them. */
    @Test
    void largeAllocationsTakeHugePagesWhereLinuxOffersThem() throws IOException {
        Path thp = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");
        boolean offered = Files.exists(thp) && !Files.readString(thp).contains("[never]");
        try (Arena arena = Arena.ofShared()) {
            MemorySegment s = Pages.allocate(arena, 16L << 20);
            s.fill((byte) 1);
            assertThat(anonHugeKb(s.address()) >= 2048).as("huge pages under a 16 MiB allocation").isEqualTo(offered);
        }
    }

    /** AnonHugePages of the mapping of this process that holds {@code address} (smaps), in kB; 0 where there is none. */
    private static long anonHugeKb(long address) throws IOException {
        Path smaps = Path.of("/proc/self/smaps");
        if (!Files.exists(smaps)) return 0;
        boolean inside = false;
        for (String line : Files.readAllLines(smaps)) {
            if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                String[] range = line.substring(0, line.indexOf(' ')).split("-");
                inside = Long.parseUnsignedLong(range[0], 16) <= address && address < Long.parseUnsignedLong(range[1], 16);
            } else if (inside && line.startsWith("AnonHugePages:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return 0;
    }
}
