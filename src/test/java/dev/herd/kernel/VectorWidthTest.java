package dev.herd.kernel;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class VectorWidthTest {
    @Test
    void choosesAPowerOfTwoNoWiderThanTheHardware() {
        assertThat(VectorWidth.choose(512, 512)).isEqualTo(512);
        assertThat(VectorWidth.choose(256, 512)).isEqualTo(256);
        assertThat(VectorWidth.choose(128, 512)).isEqualTo(128);
        assertThat(VectorWidth.choose(512, 256)).as("never wider than the hardware").isEqualTo(256);
        assertThat(VectorWidth.choose(512, 128)).isEqualTo(128);
        assertThat(VectorWidth.choose(2048, 2048)).as("SVE: at most 512").isEqualTo(512);
        assertThat(VectorWidth.choose(384, 384)).isEqualTo(256);
        assertThat(VectorWidth.choose(300, 512)).isEqualTo(256);
        assertThat(VectorWidth.choose(64, 64)).as("no narrower vectors than 128 bits").isEqualTo(128);
    }

    /** Each test JVM of the build runs at one width (see the surefire executions in pom.xml): check it is that one. */
    @Test
    void kernelsUseTheWidthThisJvmRunsAt() {
        Integer expected = Integer.getInteger("herd.expectVector");
        int bits = expected != null ? expected : VectorWidth.choose(Integer.getInteger("herd.vector", VectorWidth.HARDWARE), VectorWidth.HARDWARE);
        assertThat(VectorWidth.BITS).isEqualTo(bits);
        assertThat(VectorWidth.BITS).isLessThanOrEqualTo(Math.max(128, VectorWidth.HARDWARE));
        assertThat(Lanes.F.vectorBitSize()).isEqualTo(bits);
        assertThat(Q4InterleavedKernel.ROWS).isEqualTo(bits / 32);
    }
}
