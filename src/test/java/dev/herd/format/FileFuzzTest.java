package dev.herd.format;

import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.HerdException;
import dev.herd.Shared;
import dev.herd.convert.HfConverter;
import dev.herd.convert.HfFolder;
import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.engine.Model;
import dev.herd.tensor.GgmlType;
import dev.herd.tokenizer.Tokenizer;
import dev.herd.tokenizer.Tokenizers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Issue 10: mutated GGUF, .m, .t, safetensors and config.json files (fixed seed) through the real loaders. Every
 * outcome is a success or a HerdException of one short printable line; no other exception, no case past its
 * deadline, no case allocating more than {@link #MAX_ALLOCATED} bytes of heap (the thread's own count).
 */
class FileFuzzTest {
    static final long SEED = 10;
    static final int CASES = 300; // per kind: 1,800 in all
    static final long MAX_ALLOCATED = 64L << 20;
    static final long DEADLINE_SECONDS = 20;

    @TempDir
    static Path dir;
    private static String warmUp;
    private static final ExecutorService POOL = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "file-fuzz");
        t.setDaemon(true); // a hung case must not keep the JVM alive
        return t;
    });

    @BeforeAll
    static void noWarmUp() {
        warmUp = System.getProperty("herd.warmup");
        System.setProperty("herd.warmup", "false"); // loading, not compiling, is under test
    }

    @AfterAll
    static void restore() {
        if (warmUp == null) System.clearProperty("herd.warmup");
        else System.setProperty("herd.warmup", warmUp);
        POOL.shutdownNow();
    }

    interface Loader {
        void load(Path file) throws Exception;
    }

    /** A loader's outcomes: cases by result ("ok", or the HerdException's first words) and the most heap one took. */
    record Tally(String kind, Map<String, Integer> outcomes, long maxAllocated, int cases) {}

    private static final List<Tally> TALLIES = new ArrayList<>();

    @Test
    void ggufModel() throws Exception {
        Path t = Shared.model("tiny.t");
        Path gguf = dir.resolve("model.gguf");
        ModelConfig cfg = new ModelConfig(Arch.LLAMA, 64, 96, 1, 4, 2, 16, 384, 64, 1e-5f, 10000, new ModelConfig.RopeScaling(8, 1, 4, 32), false);
        RandomModel.write(cfg, GgmlType.Q8_0, gguf, 1, DllamaTokenizerFile.read(t).metadata(), Progress.NONE);
        fuzz("gguf model", Files.readAllBytes(gguf), "m.gguf", 2048, p -> run(Model.open(p, null, 8, 1)));
    }

    @Test
    void ggufVocabulary() throws Exception {
        Path vocab = Path.of(getClass().getResource("/tokenizer/ggml-vocab-llama-spm.gguf").toURI());
        fuzz("gguf vocabulary", Files.readAllBytes(vocab), "v.gguf", 1 << 16, p -> {
            Tokenizer tok = Tokenizers.fromFile(p);
            tok.decode(tok.encode("Hello world, 123! \u00e9\u4e16"));
        });
    }

    @Test
    void dllamaModel() throws Exception {
        Path t = Shared.model("tiny.t");
        byte[] m = new DllamaModelTest.MFile(0xABCD00, 64, 96, 1, 4, 2, 384).bytes();
        fuzz("distributed-llama .m", m, "m.m", 256, p -> run(Model.open(p, t, 8, 1)));
    }

    @Test
    void dllamaTokenizer() throws Exception {
        Path m = dir.resolve("good.m");
        Files.write(m, new DllamaModelTest.MFile(0xABCD00, 64, 96, 1, 4, 2, 384).bytes());
        fuzz("distributed-llama .t", Files.readAllBytes(Shared.model("tiny.t")), "t.t", 512, p -> run(Model.open(m, p, 8, 1)));
    }

    @Test
    void huggingFace() throws Exception {
        Path hf = HfFolder.of("LlamaForCausalLM", 64, 128, 1, 4, 2, 0, 96, false, 1).write(dir.resolve("hf"), "F32", 1);
        byte[] weights = Files.readAllBytes(hf.resolve("model.safetensors")), config = Files.readAllBytes(hf.resolve("config.json"));
        Path out = dir.resolve("hf.gguf");
        fuzz("safetensors", weights, "hf/model.safetensors", 1024, p -> HfConverter.convert(hf, out, GgmlType.Q8_0, Map.of(), Progress.NONE));
        Files.write(hf.resolve("model.safetensors"), weights);
        fuzz("config.json", config, "hf/config.json", 1 << 12, p -> HfConverter.convert(hf, out, GgmlType.F32, Map.of(), Progress.NONE));
    }

    @AfterAll
    static void report() {
        for (Tally t : TALLIES) {
            System.out.printf("file fuzz %s: %d cases, max %.1f MB allocated, outcomes %s%n", t.kind, t.cases, t.maxAllocated / 1e6, t.outcomes);
        }
    }

    /** Loads a model, then runs one forward pass: shapes that loaded must compute. */
    private static void run(Model m) {
        try (m) {
            int[] ids = m.encodePrompt("Hello world");
            m.llama.forward(Arrays.copyOf(ids, Math.min(ids.length, 4)), 0, true);
        }
    }

    /** {@link #CASES} mutants of {@code original}, written to {@code name} in turn, each loaded once. */
    private void fuzz(String kind, byte[] original, String name, int header, Loader loader) throws Exception {
        SplittableRandom random = new SplittableRandom(SEED ^ kind.hashCode());
        Mutator mutator = new Mutator(name.endsWith(".gguf") ? GgufFields.of(original) : List.of());
        Path file = dir.resolve(name);
        Map<String, Integer> outcomes = new TreeMap<>();
        long maxAllocated = 0;
        Files.write(file, original);
        loader.load(file); // the original loads, and class loading and first compilations are not counted below
        for (int i = 0; i < CASES; i++) {
            byte[] mutant = mutator.mutate(original, header, random);
            Files.write(file, mutant);
            long[] allocated = new long[1];
            Future<Throwable> f = POOL.submit(() -> {
                var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
                long before = mx.getCurrentThreadAllocatedBytes();
                try {
                    loader.load(file);
                    return null;
                } catch (Throwable t) {
                    return t;
                } finally {
                    allocated[0] = mx.getCurrentThreadAllocatedBytes() - before;
                }
            });
            Throwable t;
            try {
                t = f.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                f.cancel(true);
                throw new AssertionError(kind + " case " + i + " did not finish within " + DEADLINE_SECONDS + " s");
            }
            String where = kind + " case " + i + " (seed " + SEED + ")";
            if (t != null && !(t instanceof HerdException)) {
                fail(where + ": " + t, t);
            }
            if (t != null) {
                String m = t.getMessage();
                assertThat(m.length()).as(where + ": " + m.substring(0, Math.min(m.length(), 300))).isLessThan(400);
                assertThat(m.chars().allMatch(c -> c >= 0x20 && c != 0x7f)).as(where + ": " + m).isTrue();
            }
            assertThat(allocated[0]).as(where + " allocated bytes").isLessThan(MAX_ALLOCATED);
            maxAllocated = Math.max(maxAllocated, allocated[0]);
            outcomes.merge(t == null ? "ok" : "HerdException", 1, Integer::sum);
        }
        TALLIES.add(new Tally(kind, outcomes, maxAllocated, CASES));
    }

    /**
     * Byte-level mutations, most of them in the first {@code header} bytes where lengths and counts live; for GGUF,
     * half of them hit a numeric header field exactly (a count, a length, a value type, a dimension, an offset).
     */
    record Mutator(List<int[]> fields) {
        private static final long[] INTERESTING = {0, 1, -1, 9, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, Integer.MAX_VALUE, Integer.MIN_VALUE,
                0xffffffffL, 1L << 32, 11_259_137, 300_000, Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE - 31, -32, 1 << 20, 1 << 30};
        private static final String[] JSON_VALUES = {"1.5", "-1", "0", "1e309", "18446744073709551616", "\"x\"", "null", "[]", "{}",
                "2147483648", "1e9", "\"\\u001b[2J\"", "[[[[[[[[1]]]]]]]]"};

        byte[] mutate(byte[] original, int header, SplittableRandom r) {
            byte[] b = original.clone();
            int n = 1 + r.nextInt(3);
            for (int k = 0; k < n; k++) {
                if (b.length == 0) break;
                if (!fields.isEmpty() && r.nextBoolean()) {
                    int[] f = fields.get(r.nextInt(fields.size()));
                    long v = r.nextInt(4) == 0 ? (r.nextBoolean() ? 1 : -1) * (1L << r.nextInt(63)) : INTERESTING[r.nextInt(INTERESTING.length)];
                    put(b, f[0], v, f[1]);
                    continue;
                }
                int at = position(b.length, header, r);
                switch (r.nextInt(isJson(original) ? 7 : 6)) {
                    case 0 -> b[at] ^= (byte) (1 << r.nextInt(8));
                    case 1 -> b[at] = (byte) r.nextInt(256);
                    case 2 -> put(b, at, INTERESTING[r.nextInt(INTERESTING.length)], 4);
                    case 3 -> put(b, at, INTERESTING[r.nextInt(INTERESTING.length)], 8);
                    case 4 -> b = Arrays.copyOf(b, at); // truncated
                    case 5 -> put(b, at & ~3, INTERESTING[r.nextInt(INTERESTING.length)], 4); // aligned, as header fields are
                    default -> b = jsonValue(b, r);
                }
            }
            return b;
        }

        private static int position(int length, int header, SplittableRandom r) {
            int limit = r.nextInt(10) < 8 ? Math.min(length, header) : length;
            return r.nextInt(limit);
        }

        private static void put(byte[] b, int at, long v, int width) {
            ByteBuffer bb = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v);
            for (int i = 0; i < width && at + i < b.length; i++) b[at + i] = bb.get(i);
        }

        private static boolean isJson(byte[] b) {
            return b.length > 0 && b[0] == '{';
        }

        /** One number of the JSON replaced by a hostile value. */
        private static byte[] jsonValue(byte[] b, SplittableRandom r) {
            String s = new String(b, StandardCharsets.UTF_8);
            List<int[]> numbers = new ArrayList<>();
            var m = java.util.regex.Pattern.compile("(?<=: ?)-?[0-9][0-9.eE+-]*").matcher(s);
            while (m.find()) numbers.add(new int[]{m.start(), m.end()});
            if (numbers.isEmpty()) return b;
            int[] at = numbers.get(r.nextInt(numbers.size()));
            String v = JSON_VALUES[r.nextInt(JSON_VALUES.length)];
            return (s.substring(0, at[0]) + v + s.substring(at[1])).getBytes(StandardCharsets.UTF_8);
        }
    }
}
