package dev.herd.cluster;

import dev.herd.HerdException;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BalanceTest {
    @Test
    void weightsFollowTheSpeedsWithTheFastestAtTheScale() {
        assertThat(Balance.weights(new long[]{4_000_000_000L, 2_000_000_000L, 1_000_000_000L, 3_330_000_000L})).containsExactly(100, 50, 25, 83);
        assertThat(Balance.weights(new long[]{1_000_000_000L, 1_000_000L})).containsExactly(100, 1); // never below 1
        assertThatThrownBy(() -> Balance.weights(new long[]{1, 0})).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void weightsThatCannotSplitTheModelFallBackToEqualShares() {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        List<Integer> shares = Balance.shares(new long[]{3_000_000_000L, 1_000_000_000L}, w -> {
            if (!w.equals(List.of(1, 1))) throw new HerdException("node 1's 48 attention-output columns would cut 32-value quantization blocks");
        }, new PrintStream(log));
        assertThat(shares).containsExactly(1, 1);
        assertThat(log.toString()).isEqualTo("balance: measured node 0 3.00 GB/s, node 1 1.00 GB/s, but node 1's 48 attention-output"
                + " columns would cut 32-value quantization blocks: equal shares\n");
    }

    @Test
    void sharesThatSplitAreTakenAndLogged() {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        assertThat(Balance.shares(new long[]{2_000_000_000L, 1_000_000_000L}, w -> {}, new PrintStream(log))).containsExactly(100, 50);
        assertThat(log.toString()).isEqualTo("balance: measured node 0 2.00 GB/s, node 1 1.00 GB/s: weights [100, 50]\n");
    }

    @Test
    void whenNoSharesSplitTheModelBothReasonsAreGiven() {
        assertThatThrownBy(() -> Balance.shares(new long[]{2, 1}, w -> {
            throw new HerdException(w.equals(List.of(1, 1)) ? "3 nodes do not divide 8 heads" : "too small");
        }, new PrintStream(new ByteArrayOutputStream()))).isInstanceOf(HerdException.class)
                .hasMessage("too small; equal shares neither: 3 nodes do not divide 8 heads");
    }
}
