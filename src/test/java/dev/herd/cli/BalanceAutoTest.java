package dev.herd.cli;

import dev.herd.cluster.Worker;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

import static dev.herd.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** Issue 13, item 5: --balance auto splits by the speeds the nodes measure, and gives one node's text. */
class BalanceAutoTest {
    @Test
    void measuredSharesGiveTheTextOfOneNode() throws Exception {
        String model = CliTest.fixture().toString();
        CliTest.Result one = run("inference", "--model", model, "--prompt", "Once upon a time", "--steps", "12", "--temperature", "0");
        assertThat(one.code()).as(one.err()).isZero();
        List<Worker> workers = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) {
                Worker w = new Worker("127.0.0.1", 0, 1, null, new PrintStream(new ByteArrayOutputStream()));
                workers.add(w);
                Thread.ofPlatform().daemon().start(w::serve);
            }
            CliTest.Result r = run("inference", "--model", model, "--prompt", "Once upon a time", "--steps", "12", "--temperature", "0",
                    "--balance", "auto", "--workers", "127.0.0.1:" + workers.get(0).port(), "127.0.0.1:" + workers.get(1).port());
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.err()).containsPattern("balance: measured node 0 [0-9.]+ GB/s, node 1 [0-9.]+ GB/s, node 2 [0-9.]+ GB/s");
            assertThat(r.out()).isEqualTo(one.out());
        } finally {
            for (Worker w : workers) w.close();
        }
    }

    @Test
    void givenWeightsAndBadValuesAreRefusedInOneLine() throws Exception {
        String model = CliTest.fixture().toString();
        CliTest.Result weighted = run("inference", "--model", model, "--prompt", "Once", "--steps", "4", "--balance", "auto",
                "--workers", "127.0.0.1:1*2");
        assertThat(weighted.code()).isEqualTo(1);
        assertThat(weighted.err().strip()).isEqualTo("herd: --balance auto measures the weights: drop HOST:PORT*W and --root-weight");
        CliTest.Result bad = run("inference", "--model", model, "--prompt", "Once", "--steps", "4", "--balance", "fast");
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err().strip()).isEqualTo("herd: --balance must be weights or auto, got 'fast'");
    }
}
