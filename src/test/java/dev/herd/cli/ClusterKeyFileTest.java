package dev.herd.cli;

import dev.herd.cluster.Worker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The cluster key read from a file (so it does not show in ps), on the root and the workers. */
class ClusterKeyFileTest {
    @TempDir
    Path dir;

    @Test
    void rootAndWorkersShareAKeyFromAFile() throws Exception {
        Path key = Files.writeString(dir.resolve("key"), "file-key\n"), other = Files.writeString(dir.resolve("other"), "other-key\n");
        List<Worker> workers = new ArrayList<>();
        try {
            List<String> args = new ArrayList<>(List.of("inference", "--model", CliTest.fixture().toString(), "--prompt", "Once upon a time",
                    "--steps", "8", "--temperature", "0", "--workers"));
            for (int i = 0; i < 2; i++) { // the committed model splits across 3 nodes
                CliTest.Result worker = CliTest.run("worker", "--cluster-key-file", dir.resolve("missing").toString(), "--port", "0");
                assertThat(worker.code()).isEqualTo(1);
                assertThat(worker.err()).contains("cannot read the cluster key file");
                Worker w = new Worker("127.0.0.1", 0, 1, dev.herd.cluster.Handshake.key(null, key), new PrintStream(new ByteArrayOutputStream()));
                workers.add(w);
                Thread.ofPlatform().daemon().start(w::serve);
                args.add("127.0.0.1:" + w.port());
            }
            List<String> good = new ArrayList<>(args), wrong = new ArrayList<>(args), both = new ArrayList<>(args);
            good.addAll(List.of("--cluster-key-file", key.toString()));
            wrong.addAll(List.of("--cluster-key-file", other.toString()));
            both.addAll(List.of("--cluster-key-file", key.toString(), "--cluster-key", "file-key"));
            CliTest.Result r = CliTest.run(good.toArray(String[]::new));
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.out()).startsWith("Once upon a time");
            r = CliTest.run(wrong.toArray(String[]::new));
            assertThat(r.code()).isEqualTo(1);
            assertThat(r.err()).contains("holds a different cluster key");
            r = CliTest.run(both.toArray(String[]::new));
            assertThat(r.code()).isEqualTo(1);
            assertThat(r.err()).contains("--cluster-key or --cluster-key-file, not both");
        } finally {
            for (Worker w : workers) w.close();
        }
    }
}
