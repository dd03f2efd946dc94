package dev.herd.kernel;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class SpeedProbeTest {
    /**
     * A figure a real machine gives: above 50 MB/s (the interpreted kernel, which a probe must never time, runs at a
     * few MB/s) and below 10 TB/s (beyond any memory: a probe that skipped its work).
     */
    @Test
    void measuresTheKernelsCompiledSpeed() {
        assertThat(SpeedProbe.bytesPerSecond(1)).isBetween(50_000_000L, 10_000_000_000_000L);
    }
}
