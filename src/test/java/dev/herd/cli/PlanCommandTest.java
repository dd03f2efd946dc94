package dev.herd.cli;

import dev.herd.Shared;
import dev.herd.convert.HfConverter;
import dev.herd.convert.RandomModel;
import dev.herd.convert.WeightTypes;
import dev.herd.format.GgufFile;
import dev.herd.format.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/** {@code herd plan} end to end: a table per node from headers only, and one line for every bad input. */
class PlanCommandTest {
    @TempDir
    Path dir;

    /** Gemma 7B's shape: heads of 256 (16 x 256 = 4096, wider than its dim of 3072), tied, one node count per KV-head divisor. */
    @Test
    void gemmaShapeIsPlanned() {
        CliTest.Result r = CliTest.run("plan", "--model", "gemma-7b", "--nodes", "2");
        assertThat(r.err()).isEmpty();
        assertThat(r.out()).contains("GEMMA, dim 3072, 28 layers, 16 heads (16 KV), FFN 24576, vocab 256000", "valid node counts: 1, 2, 4, 8, 16");
    }

    @Test
    void nodesShortOfMemoryAreFlagged() {
        CliTest.Result r = CliTest.run("plan", "--model", "llama3.1-8b", "--nodes", "2", "--memory", "2,8");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("valid node counts: 1, 2, 4, 8, 16, 32\n");
        String[] rows = table(r.out());
        assertThat(rows).hasSize(3);
        assertThat(rows[1]).startsWith("root ").endsWith("TOO SMALL");
        assertThat(rows[2]).startsWith("node 1 ").doesNotContain("TOO SMALL");
        assertThat(r.out()).contains("1 node is short of memory").contains("tok/s");
    }

    /** Weights 3:1 on an 8B: the root holds three times a worker's slice, where 3 equal nodes cannot split 32 heads. */
    @Test
    void nodeWeightsGiveUnequalSlices() {
        CliTest.Result r = CliTest.run("plan", "--model", "llama3.1-8b", "--nodes", "2", "--node-weights", "3,1");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("2 nodes weighted 3:1, context");
        String[] rows = table(r.out());
        double root = Double.parseDouble(rows[1].split("\\s+")[1]), worker = Double.parseDouble(rows[2].split("\\s+")[2]);
        assertThat(root / worker).as(r.out()).isBetween(3.0, 3.6); // plus the root's token embedding
        assertThat(CliTest.run("plan", "--model", "llama3.1-8b", "--nodes", "3", "--node-weights", "2,1,1").out()).contains("weighted 2:1:1");
        assertThat(CliTest.run("plan", "--model", "llama3.1-8b", "--nodes", "3", "--node-weights", "2,1").err()).isEqualTo("herd: --node-weights gives 2 weights for 3 nodes\n");
    }

    /** --parallel N (as herd api takes it): N KV caches of the context's length on every node, the rest unchanged. */
    @Test
    void parallelRequestsMultiplyTheKvCache() {
        String[] one = table(CliTest.run("plan", "--model", "llama3.1-8b", "--nodes", "2", "--max-seq-len", "8192").out());
        CliTest.Result r = CliTest.run("plan", "--model", "llama3.1-8b", "--nodes", "2", "--max-seq-len", "8192", "--parallel", "4");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("context 8192 of 131072 positions for each of 4 requests at once");
        String[] four = table(r.out());
        for (int node = 1; node <= 2; node++) {
            String[] a = one[node].trim().split("\\s+"), b = four[node].trim().split("\\s+");
            int at = node == 1 ? 1 : 2; // "root" is one word, "node 1" two
            assertThat(Double.parseDouble(b[at])).as("weights").isEqualTo(Double.parseDouble(a[at]));
            assertThat(Double.parseDouble(b[at + 1])).as("KV cache").isCloseTo(4 * Double.parseDouble(a[at + 1]), within(0.02));
            assertThat(Double.parseDouble(b[at + 2])).as("buffers").isEqualTo(Double.parseDouble(a[at + 2]));
        }
        assertThat(expected(r.out())).as("one stream's tok/s, its own cache read").isEqualTo(expected(CliTest.run("plan", "--model",
                "llama3.1-8b", "--nodes", "2", "--max-seq-len", "8192").out()));
        assertThat(CliTest.run("plan", "--model", "llama3.1-8b", "--nodes", "2", "--parallel", "0").err()).isEqualTo("herd: --parallel must be between 1 and 32, got 0\n");
        assertThat(CliTest.run("plan", "--model", "llama3.1-8b", "--nodes", "2", "--parallel", "33").err()).isEqualTo("herd: --parallel must be between 1 and 32, got 33\n");
    }

    /**
     * A 212 GiB Llama 3.1 405B GGUF (its header, then a hole: a sparse file) is planned in seconds, mapping only a
     * window of its first bytes, with the numbers of the same shape named.
     */
    @Test
    void aHugeFileIsPlannedFromItsHeaderAlone() throws Exception {
        Path file = sparseGguf("llama3.1-405b", dir.resolve("405b.gguf"));
        assertThat(Files.size(file)).isGreaterThan(200L << 30);
        CliTest.Result fromFile = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> CliTest.run("plan", "--model", file.toString(), "--nodes", "8"));
        assertThat(fromFile.code()).as(fromFile.err()).isZero();
        CliTest.Result fromShape = CliTest.run("plan", "--model", "llama3.1-405b", "--nodes", "8");
        assertThat(table(fromFile.out())).isEqualTo(table(fromShape.out())).hasSize(3);
        try (GgufFile h = GgufFile.header(file)) {
            assertThat(h.tensors()).hasSize(1 + 126 * 9 + 2 + 1);
            assertThat(mappedBytes(file)).isPositive().isLessThanOrEqualTo(16 << 20);
        }
    }

    /** A header longer than the first window (a 24 MiB metadata array) is read in a larger one, the same as in full. */
    @Test
    void aHeaderLongerThanTheFirstWindowIsReadWhole() throws IOException {
        Path file = dir.resolve("long-header.gguf");
        new GgufWriter().put("general.architecture", "llama").put("test.big", new int[6 << 20])
                .tensor("t", dev.herd.tensor.GgmlType.F32, new long[]{8}, GgufWriter.f32(new float[8])).write(file);
        try (GgufFile full = GgufFile.open(file); GgufFile head = GgufFile.header(file)) {
            assertThat(head.tensors()).usingRecursiveComparison().isEqualTo(full.tensors());
            assertThat(head.array("test.big", int[].class)).hasSize(6 << 20);
            assertThat(head.metadata().keySet()).isEqualTo(full.metadata().keySet());
        }
    }

    /** One node: the weights it reads per token (all but the embedding, of which one row) at 10 GB/s, then twice that. */
    @Test
    void computeTimeIsTheBytesReadPerTokenOverTheMemoryBandwidth() {
        long read;
        try (GgufFile h = HfConverter.header(RandomModel.shape("llama3.1-8b"), WeightTypes.parse("q40"), Path.of("8b"))) {
            GgufFile.TensorInfo embedding = h.tensors().get("token_embd.weight");
            read = h.tensors().values().stream().mapToLong(GgufFile.TensorInfo::bytes).sum() - embedding.bytes() + embedding.type().bytes(4096);
        }
        for (int gbps : List.of(10, 20)) {
            CliTest.Result r = CliTest.run("plan", "--model", "llama3.1-8b", "--nodes", "1", "--memory-bandwidth", String.valueOf(gbps));
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.out()).contains(String.format("compute %.0f ms (node 0), network 0.0 ms", read / (gbps * 1e9) * 1e3))
                    .contains(String.format("expected: %.2g tok/s", gbps * 1e9 / read));
        }
    }

    @Test
    void aConfigJsonIsPlannedInTheTypesConvertWouldWrite() {
        Path config = Shared.model("kq-config.json");
        CliTest.Result q40 = CliTest.run("plan", "--model", config.toString(), "--nodes", "2");
        assertThat(q40.code()).as(q40.err()).isZero();
        assertThat(q40.out()).contains("(Q4_0, F32)");
        CliTest.Result kq = CliTest.run("plan", "--model", config.toString(), "--nodes", "1", "--weights-float-type", "q4_k_m");
        assertThat(kq.code()).as(kq.err()).isZero();
        assertThat(kq.out()).contains("Q4_K").contains("Q6_K");
    }

    @Test
    void badInputIsOneLine() throws IOException {
        Path gguf = Shared.model("ss-f16.gguf");
        byte[] bytes = Files.readAllBytes(gguf);
        Path cut = Files.write(dir.resolve("cut.gguf"), Arrays.copyOf(bytes, 100));
        Path half = Files.write(dir.resolve("half.gguf"), Arrays.copyOf(bytes, bytes.length / 2));
        Path garbage = Files.write(dir.resolve("model.gguf"), "not a model at all".getBytes());
        Path huge = Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["LlamaForCausalLM"], "hidden_size": 1048576, "intermediate_size": 1048576,
                 "num_hidden_layers": 1024, "num_attention_heads": 8192, "num_key_value_heads": 8192, "vocab_size": 32000,
                 "max_position_embeddings": 2147483647}""");
        Path m = Shared.model("tiny_q40.m");
        Path shortM = Files.write(dir.resolve("short.m"), Arrays.copyOf(Files.readAllBytes(m), 4000));
        List<List<String>> cases = List.of(
                List.of("--model", "llama3.1-8b", "--nodes", "3"),
                List.of("--model", "llama3.1-8b", "--nodes", "0"),
                List.of("--model", "llama3.1-8b", "--nodes", "2", "--memory", "8,8,8"),
                List.of("--model", "llama3.1-8b", "--nodes", "2", "--memory", "-1"),
                List.of("--model", "llama3.1-8b", "--nodes", "2", "--weights-float-type", "q3"),
                List.of("--model", "llama3.1-8b", "--nodes", "2", "--buffer-float-type", "f16"),
                List.of("--model", "no-such-shape", "--nodes", "2"),
                List.of("--model", "bad\u0000name", "--nodes", "2"),
                List.of("--model", dir.resolve("missing.gguf").toString(), "--nodes", "2"),
                List.of("--model", cut.toString(), "--nodes", "1"),
                List.of("--model", half.toString(), "--nodes", "1"),
                List.of("--model", garbage.toString(), "--nodes", "1"),
                List.of("--model", shortM.toString(), "--nodes", "1"),
                List.of("--model", m.toString(), "--nodes", "1", "--weights-float-type", "q80"),
                List.of("--model", huge.toString(), "--nodes", "1", "--max-seq-len", "2147483647"),
                List.of("--model", dir.resolve("nothing-here").toString(), "--nodes", "1"),
                List.of("--model", Files.createDirectory(dir.resolve("empty")).toString(), "--nodes", "1"));
        for (List<String> args : cases) {
            CliTest.Result r = CliTest.run(concat("plan", args));
            assertThat(r.code()).as(args + ": " + r.err()).isNotZero();
            assertThat(r.out()).as(args.toString()).isEmpty();
            assertThat(r.err()).as(args.toString()).startsWith("herd").endsWith("\n").doesNotContain("Exception")
                    .satisfies(e -> assertThat(e.strip().lines()).hasSize(1));
        }
        assertThat(CliTest.run("plan", "--model", "llama3.1-8b", "--nodes", "3").err())
                .isEqualTo("herd: cannot split this model across 3 nodes: 32 attention heads do not divide evenly into 3; valid node counts: [1, 2, 4, 8, 16, 32]\n");
        assertThat(CliTest.run("plan", "--model", half.toString(), "--nodes", "1").err()).contains("ends past the end of the file");
        assertThat(CliTest.run("plan", "--model", shortM.toString(), "--nodes", "1").err()).contains("file is truncated");
        assertThat(CliTest.run("plan", "--model", huge.toString(), "--nodes", "1", "--max-seq-len", "2147483647").err())
                .isEqualTo("herd: a KV cache of 2147483647 positions is too large to plan: lower --max-seq-len\n");
    }

    private static String[] concat(String first, List<String> rest) {
        String[] a = new String[rest.size() + 1];
        a[0] = first;
        for (int i = 0; i < rest.size(); i++) a[i + 1] = rest.get(i);
        return a;
    }

    /** The table's lines: its heading, the root's row and the workers' (alike ones share a row). */
    private static String expected(String out) {
        return out.lines().filter(l -> l.startsWith("expected: ")).findFirst().orElseThrow();
    }

    private static String[] table(String out) {
        List<String> lines = out.lines().toList();
        int from = lines.indexOf(lines.stream().filter(l -> l.startsWith("GiB ")).findFirst().orElseThrow());
        int to = from + 1;
        while (to < lines.size() && !lines.get(to).isEmpty()) to++;
        return lines.subList(from, to).toArray(String[]::new);
    }

    /** Writes the header herd convert would write for {@code shape} in Q4_0, then a hole as long as its tensors. */
    private static Path sparseGguf(String shape, Path out) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        GgufWriter w = new GgufWriter();
        try (GgufFile h = HfConverter.header(RandomModel.shape(shape), WeightTypes.parse("q40"), Path.of(shape))) {
            h.metadata().forEach(w::put);
            h.tensors().values().forEach(t -> w.tensor(t.name(), t.type(), t.dims(), o -> {
                throw new HeaderDone();
            }));
            try {
                w.write(head);
            } catch (HeaderDone e) {
                // the header and its padding are written: the data would follow
            }
            GgufFile.TensorInfo last = h.tensors().values().stream().reduce((a, b) -> b).orElseThrow();
            try (RandomAccessFile f = new RandomAccessFile(out.toFile(), "rw")) {
                f.write(head.toByteArray());
                f.setLength(head.size() + last.offset() + last.bytes());
            }
        }
        return out;
    }

    private static final class HeaderDone extends RuntimeException {}

    /** Bytes of {@code file} this process has mapped now (Linux's /proc/self/maps). */
    private static long mappedBytes(Path file) throws IOException {
        String name = file.toRealPath().toString();
        long bytes = 0;
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            if (!line.endsWith(name)) continue;
            String[] range = line.substring(0, line.indexOf(' ')).split("-");
            bytes += Long.parseUnsignedLong(range[1], 16) - Long.parseUnsignedLong(range[0], 16);
        }
        return bytes;
    }
}
