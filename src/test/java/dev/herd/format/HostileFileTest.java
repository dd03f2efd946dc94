package dev.herd.format;

import dev.herd.HerdException;
import dev.herd.Shared;
import dev.herd.convert.HfConverter;
import dev.herd.engine.KvCache;
import dev.herd.format.GgufConfig;
import dev.herd.model.ModelConfig;
import dev.herd.tensor.GgmlType;
import dev.herd.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/** Issue 10, defects 6 to 9: one hostile file each, every outcome one short printable HerdException. */
class HostileFileTest {
    @TempDir
    Path dir;

    private Path write(String name, byte[] b) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, b);
        return p;
    }

    /** The one clean line a hostile file must give: a HerdException, short, without control characters. */
    static HerdException clean(Throwable t) {
        assertThat(t).isInstanceOf(HerdException.class);
        String m = t.getMessage();
        assertThat(m.length()).as(m.length() > 400 ? m.substring(0, 400) : m).isLessThan(400);
        assertThat(m.chars().noneMatch(c -> c < 0x20 || c == 0x7f)).as(m).isTrue();
        return (HerdException) t;
    }

    private static HerdException fails(Runnable r) {
        return clean(catchThrowable(r::run));
    }

    /** Defect 6: n_layers = 11,259,137 in a 1-layer .m fails at once (it ran 60 s to an OutOfMemoryError). */
    @Test
    void dllamaLayerCountIsCheckedBeforeAnyAllocation() throws IOException {
        DllamaModelTest.MFile m = new DllamaModelTest.MFile(0xABCD00, 64, 96, 1, 4, 2, 32);
        m.header.put(4, 11_259_137);
        byte[] b = patchedHeader(m);
        Path p = write("layers.m", b);
        HerdException e = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> fails(() -> DllamaModel.open(p).close()));
        assertThat(e).hasMessageContaining("n_layers").hasMessageContaining("11259137");
    }

    /** A 1-layer model's bytes under a header that says what {@code m.header} now says. */
    private static byte[] patchedHeader(DllamaModelTest.MFile m) throws IOException {
        int layers = m.header.get(4);
        m.header.put(4, 1);
        byte[] b = m.bytes();
        m.header.put(4, layers);
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 8; at < bb.getInt(4); at += 8) bb.putInt(at + 4, m.header.get(bb.getInt(at)));
        return b;
    }

    /** Defect 6: a KV cache larger than the memory is refused with the numbers (2^31-1 positions asked for 29 TB). */
    @Test
    void kvCacheLargerThanMemoryIsRefusedWithTheNumbers() {
        HerdException e = fails(() -> new KvCache(32, 8, 128, Integer.MAX_VALUE).close());
        assertThat(e).hasMessageContaining("562949953159168 bytes").hasMessageContaining("available");
    }

    /** Defect 6 (and 1): a disk KV cache larger than the free disk space is refused, not created sparse. */
    @Test
    void diskKvCacheLargerThanTheFreeSpaceIsRefused() throws IOException {
        long free = Files.getFileStore(dir).getUsableSpace();
        int positions = (int) Math.min(Integer.MAX_VALUE, free / KvCache.bytes(32, 8, 128, 1) + 1); // just past the free space
        HerdException e = fails(() -> new KvCache(32, 8, 128, positions, new KvCache.Storage(dir)).close());
        assertThat(e).hasMessageContaining(KvCache.bytes(32, 8, 128, positions) + " bytes on disk").hasMessageContaining("free");
    }

    /** Defect 7: file text in an error is quoted short and escaped (a flipped byte gave a 29 MB line with ESC bytes). */
    @Test
    void errorsQuoteAFewDozenPrintableCharactersOfFileText() throws IOException {
        String hostile = "\u001b[2J\u001b]0;owned\u0007" + "x".repeat(1_000_000);
        byte[] unknownType = GgufBytes.header(0, 1).string(hostile).i32(99).bytes();
        Path key = write("key.gguf", unknownType);
        HerdException e = fails(() -> GgufFile.open(key).close());
        assertThat(e).hasMessageContaining("unknown value type 99").hasMessageContaining("\\x1b[2J");
        byte[] arch = GgufBytes.header(0, 1).string("general.architecture").i32(8).string(hostile).bytes();
        try (GgufFile f = GgufFile.open(write("arch.gguf", arch))) {
            assertThat(fails(() -> GgufConfig.read(f))).hasMessageContaining("architecture '\\x1b[2J\\x1b]0;owned\\x07xxx");
        }
        Map<String, Object> meta = Map.of("tokenizer.ggml.model", hostile, "tokenizer.ggml.tokens", new String[]{"a"});
        fails(() -> Tokenizers.fromMetadata(meta, "t"));
    }

    /** Defect 8: arrays of arrays nested 100,000 deep (StackOverflowError in GgufReader.array). */
    @Test
    void nestedGgufArraysAreRefusedWithoutRecursion() throws IOException {
        GgufBytes g = GgufBytes.header(0, 1).string("nested").i32(9);
        for (int i = 0; i < 100_000; i++) g.i32(9).i64(1);
        g.i32(4).i64(0);
        Path p = write("nested.gguf", g.bytes());
        assertThat(fails(() -> GgufFile.open(p).close())).hasMessageContaining("nested");
    }

    /** Defect 8: tensor dimensions whose product overflows a long (ArithmeticException). */
    @Test
    void overflowingGgufDimensionsAreRefused() throws IOException {
        byte[] b = GgufBytes.header(1, 0).tensor("t", GgmlType.F32.id, 0, 1L << 32, 1L << 32).zeros(64).bytes();
        Path p = write("dims.gguf", b);
        assertThat(fails(() -> GgufFile.open(p).close())).hasMessageContaining("'t'");
    }

    /** Defect 8: an offset that overflows past the data start (IndexOutOfBoundsException on first use). */
    @Test
    void negativeAndOverflowingTensorOffsetsAreRefused() throws IOException {
        for (long offset : new long[]{Long.MAX_VALUE - 31, -32}) {
            byte[] b = GgufBytes.header(1, 0).tensor("t", GgmlType.F32.id, offset, 8).zeros(64).bytes();
            Path p = write("offset.gguf", b);
            assertThat(fails(() -> {
                try (GgufFile f = GgufFile.open(p)) {
                    f.bytes("t");
                }
            })).hasMessageContaining("'t'");
        }
    }

    /** Defect 8: .t header lengths (VM array size limit, NegativeArraySizeException, IllegalArgumentException). */
    @Test
    void tokenizerFileLengthsAreChecked() throws IOException {
        byte[] t = Files.readAllBytes(Shared.model("tiny.t"));
        int[][] cases = {{7, Integer.MAX_VALUE}, {7, -5}, {8, -1000}, {8, Integer.MAX_VALUE}, {9, -1}, {9, Integer.MAX_VALUE}, {1, Integer.MAX_VALUE}};
        for (int[] c : cases) {
            Path p = write("bad.t", tokenizerWith(t, c[0], c[1]));
            fails(() -> DllamaTokenizerFile.read(p));
        }
    }

    /** A copy of a .t file with header key {@code key} set to {@code value}, in place of max_token_length (2) if absent. */
    private static byte[] tokenizerWith(byte[] t, int key, int value) {
        ByteBuffer b = ByteBuffer.wrap(t.clone()).order(ByteOrder.LITTLE_ENDIAN);
        for (int k : new int[]{key, 2}) {
            for (int at = 8; at < b.getInt(4); at += 8) {
                if (b.getInt(at) == k) {
                    b.putInt(at, key).putInt(at + 4, value);
                    return b.array();
                }
            }
        }
        throw new AssertionError("tiny.t has neither header key " + key + " nor 2");
    }

    /** Defect 8: a token_type array shorter than the vocabulary (ArrayIndexOutOfBoundsException). */
    @Test
    void shortTokenTypeArrayIsRefused() {
        Map<String, Object> meta = Map.of("tokenizer.ggml.model", "llama", "tokenizer.ggml.tokens", new String[]{"a", "b", "c"},
                "tokenizer.ggml.token_type", new int[]{1});
        assertThat(fails(() -> Tokenizers.fromMetadata(meta, "m"))).hasMessageContaining("token_type");
    }

    /** Defect 8: a safetensors shape whose product overflows (ArithmeticException). */
    @Test
    void overflowingSafetensorsShapeIsRefused() throws IOException {
        byte[] json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}".getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + json.length).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).put(json);
        Path p = write("w.safetensors", b.array());
        assertThat(fails(() -> Safetensors.open(p))).hasMessageContaining("'w'");
    }

    /** Defect 9: non-integer or absurd config.json values (1.5 layers wrote a 1-layer GGUF, 2^64 a 0-layer one). */
    @Test
    void converterRefusesNonIntegerAndAbsurdConfigValues() throws IOException {
        String base = "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":128,"
                + "\"num_attention_heads\":4,\"vocab_size\":96,\"num_hidden_layers\":%s}";
        Consumer<String> refused = layers -> {
            try {
                Path c = write("config.json", String.format(base, layers).getBytes(StandardCharsets.UTF_8));
                assertThat(fails(() -> HfConverter.config(c))).as(layers).hasMessageContaining("num_hidden_layers");
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        };
        for (String v : new String[]{"1.5", "18446744073709551616", "-2", "0", "1e9", "\"2\"", "2000000"}) refused.accept(v);
        Path ok = write("config.json", String.format(base, "2").getBytes(StandardCharsets.UTF_8));
        assertThat(HfConverter.config(ok).layers()).isEqualTo(2);
    }

    /** Defect 8: an eos id beyond the vocabulary in a .t (it reached the engine unchecked). */
    @Test
    void tokenizerFileEosOutsideTheVocabularyIsRefused() throws IOException {
        byte[] t = Files.readAllBytes(Shared.model("tiny.t"));
        ByteBuffer b = ByteBuffer.wrap(t).order(ByteOrder.LITTLE_ENDIAN);
        int template = 0;
        for (int at = 8; at < b.getInt(4); at += 8) if (b.getInt(at) == 7) template = b.getInt(at + 4);
        b.putInt(b.getInt(4) + template, 999); // the first eos id, after the chat template
        Path p = write("eos.t", t);
        assertThat(fails(() -> DllamaTokenizerFile.read(p))).hasMessageContaining("eos id 999");
    }

    /** Duplicate keys, an absurd alignment and a tensor count over the limit are refused before use. */
    @Test
    void ggufHeaderLimits() throws IOException {
        byte[] twice = GgufBytes.header(0, 2).string("k").i32(4).i32(1).string("k").i32(4).i32(2).bytes();
        Path p1 = write("twice.gguf", twice);
        assertThat(fails(() -> GgufFile.open(p1).close())).hasMessageContaining("'k' appears twice");
        byte[] align = GgufBytes.header(1, 1).string("general.alignment").i32(4).i32(1 << 30).tensor("t", 0, 0, 8).zeros(64).bytes();
        Path p2 = write("align.gguf", align);
        assertThat(fails(() -> GgufFile.open(p2).close())).hasMessageContaining("general.alignment 1073741824");
        byte[] many = GgufBytes.header(Limits.MAX_TENSORS + 1, 0).zeros(32 * (Limits.MAX_TENSORS + 1)).bytes();
        Path p3 = write("many.gguf", many);
        assertThat(fails(() -> GgufFile.open(p3).close())).hasMessageContaining("over the limit of 65536");
    }

    /** An index naming a shard that is not a file name (InvalidPathException). */
    @Test
    void safetensorsIndexWithAnInvalidShardNameIsRefused() throws IOException {
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\":{\"w\":\"a\\u0000b\"}}");
        assertThat(fails(() -> Safetensors.open(dir))).hasMessageContaining("not a file name");
    }
}
