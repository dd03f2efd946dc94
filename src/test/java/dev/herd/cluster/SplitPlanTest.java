package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.convert.RandomModel;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelTensor;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SplitPlanTest {
    static final SplitPlan.Shape STORIES_F32 = new SplitPlan.Shape(288, 768, 6, 6, 48, 32000, 1, 1, 0);
    static final SplitPlan.Shape STORIES_Q8 = new SplitPlan.Shape(288, 768, 6, 6, 48, 32000, 32, 32, 0);
    static final SplitPlan.Shape LLAMA_1B = new SplitPlan.Shape(2048, 8192, 32, 8, 64, 128256, 32, 32, 0);

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

    /**
     * Qwen1.5-MoE-A2.7B's shape (60 experts of 1408, a shared expert of 5632 = 4 x 1408): each node holds the shared
     * expert's rows in the experts' share; a shared width that is not a whole multiple cannot be cut that way.
     */
    @Test
    void sharedExpertRowsFollowTheExpertsShare() {
        ModelConfig c = RandomModel.shapeOf("qwen1.5-moe-a2.7b");
        assertThat(c.moe()).isEqualTo(new ModelConfig.Moe(60, 4, false, 5632));
        SplitPlan plan = SplitPlan.of(c, 32, 4);
        List<SplitPlan.Part> parts = plan.parts(c, 3, false);
        SplitPlan.Part gate = parts.stream().filter(p -> p.name().equals("blk.0.ffn_gate_shexp.weight")).findFirst().orElseThrow();
        SplitPlan.Part down = parts.stream().filter(p -> p.name().equals("blk.0.ffn_down_shexp.weight")).findFirst().orElseThrow();
        assertThat(new int[]{gate.from(), gate.to(), gate.localRows()}).containsExactly(4224, 5632, 1408);
        assertThat(new int[]{down.from(), down.to(), down.localCols()}).containsExactly(4224, 5632, 1408);
        assertThat(parts.stream().filter(p -> p.name().equals("blk.0.ffn_gate_inp_shexp.weight")).findFirst().orElseThrow().cut()).isEqualTo(ModelTensor.Cut.WHOLE);
        assertThat(plan.local(c, 3).shared()).isEqualTo(1408);

        SplitPlan.Shape odd = new SplitPlan.Shape(2048, 1408, 16, 16, 128, 151936, 32, 32, 5000);
        assertThat(SplitPlan.invalidReason(odd, 1)).isNull();
        assertThat(SplitPlan.invalidReason(odd, 2)).isEqualTo("the shared expert's width 5000 is not a whole multiple of the experts' 1408");
    }

    /** Weights 2:1:1 on the 1B shape: half the KV heads, FFN rows and vocabulary on node 0, in whole units, covering all. */
    @Test
    void unequalWeightsGiveProportionalSlicesInWholeUnits() {
        SplitPlan.Shape kQuant = new SplitPlan.Shape(2048, 8192, 32, 8, 64, 128256, 256, 256, 0);
        SplitPlan plan = new SplitPlan(3, kQuant, List.of(2, 1, 1));
        int[][] expected = {{0, 4, 0, 4096, 0, 64128}, {4, 6, 4096, 6144, 64128, 96192}, {6, 8, 6144, 8192, 96192, 128256}};
        for (int i = 0; i < 3; i++) {
            SplitPlan.Slice s = plan.slice(i);
            assertThat(new int[]{s.kvHeadFrom(), s.kvHeadTo(), s.hiddenFrom(), s.hiddenTo(), s.vocabFrom(), s.vocabTo()}).containsExactly(expected[i]);
            assertThat(s.heads()).isEqualTo(4 * s.kvHeads());
        }
        // 5:3 of 8 KV heads and 32 units of 256 FFN rows: 5 and 3 heads, 20 and 12 units
        SplitPlan fiveThree = new SplitPlan(2, kQuant, List.of(5, 3));
        assertThat(fiveThree.slice(0).kvHeads()).isEqualTo(5);
        assertThat(fiveThree.slice(1).hidden()).isEqualTo(12 * 256);
        assertThat(new SplitPlan(2, kQuant, List.of(7, 7)).slice(1)).isEqualTo(new SplitPlan(2, kQuant).slice(1)); // equal weights: the equal split
    }

    @Test
    void unequalWeightsAreRefusedWhereTheyCannotHoldWholeUnits() {
        assertThatThrownBy(() -> new SplitPlan(9, LLAMA_1B, List.of(2, 1, 1, 1, 1, 1, 1, 1, 1))).isInstanceOf(HerdException.class)
                .hasMessage("cannot split this model by the weights [2, 1, 1, 1, 1, 1, 1, 1, 1]: unequal weights need at most as many nodes as the model's 8 KV heads");
        assertThatThrownBy(() -> new SplitPlan(2, LLAMA_1B, List.of(1, 20))).isInstanceOf(HerdException.class)
                .hasMessageEndingWith("node 0's weight 1 is too small to hold a whole KV head and 32 FFN rows");
        // 1:1:2 of stories' 6 KV heads: 2, 1 and 3 heads, and one head's 48 Wo columns cut Q8_0's 32-value blocks
        assertThatThrownBy(() -> new SplitPlan(3, STORIES_Q8, List.of(1, 1, 2))).isInstanceOf(HerdException.class)
                .hasMessageEndingWith("node 1's 48 attention-output columns would cut 32-value quantization blocks");
        assertThatThrownBy(() -> new SplitPlan(2, LLAMA_1B, List.of(1, 1001))).isInstanceOf(HerdException.class).hasMessageContaining("1..1000");
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
