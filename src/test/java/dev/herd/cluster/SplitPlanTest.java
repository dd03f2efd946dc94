package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SplitPlanTest {
    static final SplitPlan.Shape STORIES_F32 = new SplitPlan.Shape(288, 768, 6, 6, 48, 32000, 1, 1);
    static final SplitPlan.Shape STORIES_Q8 = new SplitPlan.Shape(288, 768, 6, 6, 48, 32000, 32, 32);
    static final SplitPlan.Shape LLAMA_1B = new SplitPlan.Shape(2048, 8192, 32, 8, 64, 128256, 32, 32);

    @Test
    void quantizedStoriesCannotSplitInTwoBecauseSlicesCutBlocks() {
        assertThat(SplitPlan.validCounts(STORIES_Q8, 8)).containsExactly(1, 3);
        assertThatThrownBy(() -> new SplitPlan(2, STORIES_Q8)).isInstanceOf(HerdException.class)
                .hasMessageContaining("144 attention-output columns").hasMessageContaining("valid node counts: [1, 3]");
    }

    /** Node 1 of 3 of 24 query heads over 12 KV heads of 32: query heads 8..16, KV heads 4..8. */
    @Test
    void qwen2BiasesFollowTheRowsOfTheirMatrices() {
        ModelConfig c = new ModelConfig(Arch.QWEN2, 256, 384, 1, 24, 12, 32, 384, 256, 1e-6f, 1000000, null, true);
        Map<String, SplitPlan.Part> parts = SplitPlan.of(c, 32, 3).parts(c, 1, false).stream()
                .collect(Collectors.toMap(SplitPlan.Part::name, p -> p));
        for (String m : List.of("attn_q", "attn_k", "attn_v")) {
            SplitPlan.Part matrix = parts.get("blk.0." + m + ".weight"), bias = parts.get("blk.0." + m + ".bias");
            assertThat(bias.localRows()).isEqualTo(1);
            assertThat(List.of(bias.from(), bias.to(), bias.localCols())).as(m).isEqualTo(List.of(matrix.from(), matrix.to(), matrix.localRows()));
        }
        assertThat(parts.get("blk.0.attn_q.bias").from()).isEqualTo(8 * 32);
        assertThat(parts.get("blk.0.attn_k.bias").from()).isEqualTo(4 * 32);
        assertThat(parts).doesNotContainKey("token_embd.weight").containsKey("output.weight"); // tied: sent as the embedding's rows
    }

    @Test
    void aMixtureIsCutOnTheLargestBlockOfAnyLayerPerMatrix() {
        ModelConfig c = new ModelConfig(Arch.LLAMA, 2048, 2048, 3, 32, 8, 64, 128256, 4096, 1e-5f, 500000, 64, null, false);
        List<GgmlType> q50 = List.of(GgmlType.Q5_0, GgmlType.Q5_0, GgmlType.Q5_0), oneQ6K = List.of(GgmlType.Q5_0, GgmlType.Q6_K, GgmlType.Q5_0);
        assertThat(SplitPlan.of(c, q50, q50, 16).nodes()).isEqualTo(16); // 128 columns each: whole 32-value blocks
        // one layer's Wo in Q6_K: 128 columns would cut its 256-value blocks
        assertThatThrownBy(() -> SplitPlan.of(c, oneQ6K, q50, 16)).isInstanceOf(HerdException.class)
                .hasMessage("cannot split this model across 16 nodes: each node's 128 attention-output columns would cut"
                        + " 256-value quantization blocks; valid node counts: [1, 2, 4, 8]");
        // the same for W2 alone
        assertThatThrownBy(() -> SplitPlan.of(c, q50, oneQ6K, 16)).isInstanceOf(HerdException.class)
                .hasMessageContaining("128 FFN-down columns would cut 256-value quantization blocks");
        assertThat(SplitPlan.of(c, q50, oneQ6K, 8).nodes()).isEqualTo(8);
    }

    @Test
    void floatStoriesSplitsIntoEveryDivisorOfItsHeads() {
        assertThat(SplitPlan.validCounts(STORIES_F32, 8)).containsExactly(1, 2, 3, 6);
    }

    @Test
    void moreNodesThanKvHeadsReplicateKvHeads() {
        assertThat(SplitPlan.validCounts(LLAMA_1B, 32)).containsExactly(1, 2, 4, 8, 16, 32);
        SplitPlan plan = new SplitPlan(16, LLAMA_1B);
        for (int i = 0; i < 16; i++) {
            SplitPlan.Slice s = plan.slice(i);
            assertThat(s.heads()).isEqualTo(2);
            assertThat(s.kvHeads()).isEqualTo(1);
            assertThat(s.kvHeadFrom()).isEqualTo(i / 2); // nodes 2k and 2k+1 share KV head k
        }
    }

    @Test
    void slicesCoverEveryRowExactlyOnce() {
        SplitPlan plan = new SplitPlan(3, STORIES_Q8);
        int hidden = 0, vocab = 0, heads = 0;
        for (int i = 0; i < 3; i++) {
            SplitPlan.Slice s = plan.slice(i);
            assertThat(s.hiddenFrom()).isEqualTo(hidden);
            assertThat(s.vocabFrom()).isEqualTo(vocab);
            assertThat(s.headFrom()).isEqualTo(heads);
            hidden = s.hiddenTo();
            vocab = s.vocabTo();
            heads = s.headTo();
        }
        assertThat(hidden).isEqualTo(768);
        assertThat(vocab).isEqualTo(32000);
        assertThat(heads).isEqualTo(6);
    }
}
