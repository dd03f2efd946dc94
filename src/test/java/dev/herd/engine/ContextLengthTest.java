package dev.herd.engine;

import dev.herd.HerdException;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** How many slots (herd api --parallel) and positions a run gets, from what every node can hold. */
class ContextLengthTest {
    @Test
    void theDefaultServesUpToFourSlotsThatFitBesideTheDefaultContext() {
        assertThat(ContextLength.choose(0, 131072, 1 << 20, 0)).isEqualTo(new ContextLength(4096, 4, "context: 4096 positions of the model's 131072 (the default); raise it with --max-seq-len N"));
        assertThat(ContextLength.choose(0, 256, 1 << 20, 0)).isEqualTo(new ContextLength(256, 4, null));
        assertThat(ContextLength.choose(0, 131072, 10_000, 0).slots()).as("two contexts of 4096 fit").isEqualTo(2);
        assertThat(ContextLength.choose(2048, 131072, 5_000, 0)).isEqualTo(new ContextLength(2048, 2, null));
        assertThat(ContextLength.choose(0, 131072, 3_000, 0)).as("one slot with what fits, as before").extracting(ContextLength::positions, ContextLength::slots)
                .containsExactly(3_000, 1);
    }

    @Test
    void askedForSlotsShareWhatFitsOrAreRefusedWithTheNumbers() {
        assertThat(ContextLength.choose(0, 131072, 1 << 20, 8)).extracting(ContextLength::positions, ContextLength::slots).containsExactly(4096, 8);
        assertThat(ContextLength.choose(0, 131072, 8_000, 8)).extracting(ContextLength::positions, ContextLength::slots).containsExactly(1_000, 8);
        assertThat(ContextLength.choose(1024, 131072, 8_192, 8)).extracting(ContextLength::positions, ContextLength::slots).containsExactly(1024, 8);
        assertThatThrownBy(() -> ContextLength.choose(1024, 131072, 8_191, 8)).isInstanceOf(HerdException.class)
                .hasMessage("--parallel 8: every node can hold 8191 positions of KV cache now, too few for 8 slots of 1024 positions: lower --parallel or --max-seq-len");
        assertThatThrownBy(() -> ContextLength.choose(0, 131072, 2_000, 8)).isInstanceOf(HerdException.class)
                .hasMessage("--parallel 8: every node can hold 2000 positions of KV cache now, too few for 8 slots of 256 positions: lower --parallel");
        assertThatThrownBy(() -> ContextLength.choose(0, 4096, 1 << 20, 33)).isInstanceOf(HerdException.class).hasMessageContaining("between 1 and 32");
        assertThatThrownBy(() -> ContextLength.choose(0, 4096, 1 << 20, -1)).isInstanceOf(HerdException.class).hasMessageContaining("between 1 and 32");
    }
}
