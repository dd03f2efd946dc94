package dev.herd.cluster;

import dev.herd.HerdException;
import org.junit.jupiter.api.Test;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;

import static dev.herd.Logits.relativeL2;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * llama.cpp's mixtures split across nodes in the file's own types. ss-q4_k_m.gguf (stories15M cut to 2 layers, see
 * src/test/resources/models) holds Q5_0 attention outputs (288 columns, 32-value blocks) and Q4_K / Q6_K FFN-down
 * matrices (768 columns, 256-value blocks): 3 nodes cut them at 96 and 256 columns, on both types' block boundaries.
 */
class KQuantSplitTest {

    @Test
    void aQ4KMMixtureGivesOneNodesTokensOnThree() throws Exception {
        Path model = fixture("ss-q4_k_m.gguf");
        int[] tokens = {1, 400, 263, 431, 17, 300};
        try (LocalCluster workers = new LocalCluster(2, null);
             LocalCluster.Run three = new LocalCluster.Run(model, workers.addresses(), null, SyncCodec.F32, 64);
             LocalCluster.Run one = new LocalCluster.Run(model, List.of(), null, SyncCodec.F32, 64)) {
            assertThat(three.greedy(new int[]{1, 400}, 30)).containsExactly(one.greedy(new int[]{1, 400}, 30));
            assertThat(relativeL2(three.llama.forward(tokens, 0, false), one.llama.forward(tokens, 0, false))).isLessThan(1e-5);
            assertThat(workers.log()).contains("loaded");
        }
    }

    @Test
    void twoNodesWouldCutTheSuperBlocksAndAreRefusedWithTheValidCounts() throws Exception {
        Path model = fixture("kq-q4_k_m.gguf"); // 4 heads of 64, hidden 768: halves of 128 and 384 columns
        try (LocalCluster workers = new LocalCluster(1, null)) {
            assertThatThrownBy(() -> new LocalCluster.Run(model, workers.addresses(), null, SyncCodec.F32, 32).close())
                    .isInstanceOf(HerdException.class)
                    .hasMessage("cannot split this model across 2 nodes: each node's 128 attention-output columns would cut"
                            + " 256-value quantization blocks; valid node counts: [1]");
        }
    }

    private static Path fixture(String name) throws URISyntaxException {
        return Path.of(KQuantSplitTest.class.getResource("/models/" + name).toURI());
    }
}
