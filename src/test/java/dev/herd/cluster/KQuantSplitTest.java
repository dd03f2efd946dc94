package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.format.GgufFile;
import dev.herd.model.LlamaConfig;
import org.junit.jupiter.api.Test;

import java.io.PrintStream;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Splitting K-quant models across nodes is not done yet: the root says so in one line instead of sending slices. */
class KQuantSplitTest {

    @Test
    void refusesToSplitAQ4KMFileInOneLine() throws Exception {
        Path model = Path.of(KQuantSplitTest.class.getResource("/models/kq-q4_k_m.gguf").toURI());
        try (LocalCluster workers = new LocalCluster(1, null); GgufFile file = GgufFile.open(model);
             ClusterRunner root = new ClusterRunner(workers.addresses(), null, SyncCodec.F32, new PrintStream(PrintStream.nullOutputStream()))) {
            assertThatThrownBy(() -> root.build(file, LlamaConfig.from(file), 32, 1)).isInstanceOf(HerdException.class)
                    .hasMessageMatching("tensor '[a-z0-9_.]+' is Q[46]_K: Herd runs Q[46]_K models on one node but cannot split them"
                            + " across nodes yet \\(it splits F32, F16, BF16, Q8_0, Q4_0\\)");
        }
    }
}
