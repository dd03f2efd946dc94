package dev.herd.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static dev.herd.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** Issue 10, defect 6: the KV cache is sized to what a run needs, not to the context length the file claims. */
class ContextSizingTest {
    @TempDir
    Path dir;

    /** The fixture with llama.context_length set to {@code context} (a uint32 right after its key). */
    private Path withContext(int context) throws Exception {
        byte[] b = Files.readAllBytes(CliTest.fixture());
        byte[] key = "llama.context_length".getBytes(StandardCharsets.US_ASCII);
        int at = indexOf(b, key) + key.length;
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(bb.getInt(at)).as("value type uint32 or int32").isBetween(4, 5);
        bb.putInt(at + 4, context);
        Path p = dir.resolve("long-context.gguf");
        Files.write(p, b);
        return p;
    }

    private static int indexOf(byte[] b, byte[] key) {
        outer:
        for (int i = 0; i + key.length <= b.length; i++) {
            for (int j = 0; j < key.length; j++) if (b[i + j] != key[j]) continue outer;
            return i;
        }
        throw new AssertionError("key not found");
    }

    /** A chat with no system prompt and nothing on stdin: it loads the model, prints its banner and ends. */
    private static CliTest.Result chat(String... args) {
        InputStream stdin = System.in;
        System.setIn(new ByteArrayInputStream(new byte[0]));
        try {
            return run(Stream.concat(Stream.of("chat", "--system", ""), Stream.of(args)).toArray(String[]::new));
        } finally {
            System.setIn(stdin);
        }
    }

    /** A context of 300,000 took 4.2 GB for a 4-step run; the cache now holds the 4 positions the run uses. */
    @Test
    void inferenceKvCacheHoldsTheStepsNotTheContext() throws Exception {
        CliTest.Result r = run("inference", "--model", withContext(300_000).toString(), "--prompt", "Once", "--steps", "4", "--temperature", "0");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("KV cache 4 positions");
    }

    /** A context larger than the memory is one line with the numbers, when asked for. */
    @Test
    void chatWithAContextLargerThanMemoryIsRefusedWithTheNumbers() throws Exception {
        CliTest.Result r = run("chat", "--model", withContext(Integer.MAX_VALUE).toString(), "--max-seq-len", String.valueOf(Integer.MAX_VALUE));
        assertThat(r.code()).isNotZero();
        assertThat(r.err().strip()).doesNotContain("\n").containsPattern("needs [0-9]+ bytes, but [0-9]+ bytes of memory are available");
    }

    /**
     * Issue 13, item 2: by default the context is bounded (a Llama 3.x file claims 131072 positions, gigabytes of KV
     * cache), and one line on stderr says so and how to raise it.
     */
    @Test
    void chatDefaultsToABoundedContextAndSaysHowToRaiseIt() throws Exception {
        CliTest.Result r = chat("--model", withContext(Integer.MAX_VALUE).toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("context: 4096 positions of the model's 2147483647 (the default); raise it with --max-seq-len N")
                .contains("context 4096 tokens");
    }

    @Test
    void aContextAskedForIsKept() throws Exception {
        CliTest.Result r = chat("--model", withContext(300_000).toString(), "--max-seq-len", "5000");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("context 5000 tokens").doesNotContain("raise it");
    }

    /** Issue 14: more slots than every node's memory holds is one line at start, before the load. */
    @Test
    void apiWithMoreSlotsThanMemoryIsRefusedAtStartInOneLine() throws Exception {
        CliTest.Result r = run("api", "--model", withContext(Integer.MAX_VALUE).toString(), "--port", "0", "--parallel", "32", "--max-seq-len", "1000000");
        assertThat(r.code()).isNotZero();
        assertThat(r.err().strip()).doesNotContain("\n")
                .matches("herd: --parallel 32: every node can hold [0-9]+ positions of KV cache now, too few for 32 slots of 1000000 positions: lower --parallel or --max-seq-len");
        CliTest.Result many = run("api", "--model", CliTest.fixture().toString(), "--port", "0", "--parallel", "33");
        assertThat(many.code()).isNotZero();
        assertThat(many.err().strip()).isEqualTo("herd: --parallel must be between 1 and 32 (0: up to 4, as memory allows), got 33");
    }
}
