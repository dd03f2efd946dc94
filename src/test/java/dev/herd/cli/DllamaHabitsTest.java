package dev.herd.cli;

import dev.herd.Shared;
import dev.herd.cluster.Worker;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

import static dev.herd.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** Issue 13, item 7: distributed-llama users' habits work, or say what to do. */
class DllamaHabitsTest {
    @Test
    void commaSeparatedWorkersAreOneList() throws Exception {
        List<Worker> workers = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) { // the committed model splits across 3 nodes
                Worker w = new Worker("127.0.0.1", 0, 1, null, new PrintStream(new ByteArrayOutputStream()));
                workers.add(w);
                Thread.ofPlatform().daemon().start(w::serve);
            }
            String list = "127.0.0.1:" + workers.get(0).port() + ",127.0.0.1:" + workers.get(1).port();
            CliTest.Result r = run("inference", "--model", CliTest.fixture().toString(), "--prompt", "Once upon a time", "--steps", "8",
                    "--temperature", "0", "--workers", list);
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.err()).contains("node 1 of 3").contains("node 2 of 3");
            assertThat(r.out()).startsWith("Once upon a time");
        } finally {
            for (Worker w : workers) w.close();
        }
    }

    @Test
    void weightsFloatTypeIsCheckedAgainstTheFile() throws Exception {
        String model = CliTest.fixture().toString(); // Q8_0
        CliTest.Result ok = run("inference", "--model", model, "--prompt", "Once", "--steps", "4", "--temperature", "0", "--weights-float-type", "q80");
        assertThat(ok.code()).as(ok.err()).isZero();
        CliTest.Result wrong = run("inference", "--model", model, "--prompt", "Once", "--steps", "4", "--weights-float-type", "q40");
        assertThat(wrong.code()).isEqualTo(1);
        assertThat(wrong.err().strip()).doesNotContain("\n")
                .isEqualTo("herd: --weights-float-type q40 (Q4_0) does not match " + model + ", whose weights are Q8_0: drop the flag"
                        + " (the file says its type), or convert the model with `herd convert --weights-float-type q40`");
        CliTest.Result unknown = run("inference", "--model", model, "--prompt", "Once", "--steps", "4", "--weights-float-type", "q3");
        assertThat(unknown.err()).contains("unknown weight float type 'q3'");
    }

    @Test
    void aLlama2cCheckpointPointsToHerdConvert() {
        String bin = Shared.model("stories260K.bin").toString();
        CliTest.Result r = run("inference", "--model", bin, "--prompt", "Once", "--steps", "4");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).doesNotContain("\n").startsWith("herd: " + bin + ": not a GGUF file")
                .contains("herd convert --model " + bin + " --tokenizer tokenizer.model --output model.gguf");
    }
}
