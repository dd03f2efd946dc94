package dev.herd.engine;

import dev.herd.convert.GgufRequantizer;
import dev.herd.convert.HfConverter;
import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.convert.WeightTypes;
import dev.herd.format.GgufFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.nio.file.Path;
import java.util.Map;

import static dev.herd.tensor.GgmlType.F32;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Herd's converter writes the files llama.cpp's quantizer writes: the originals of the committed llama.cpp fixtures
 * (src/test/resources/models, README there: the random F32 ones made again here as KQuantModelTest does and checked
 * by sha256 there, the small stories one committed in F16), converted by Herd to q4_k_m and q6_k, hold every tensor in the same type with the same bytes as llama.cpp's
 * own file (its choice per tensor: Q6_K for output and the last layer's attn_v and ffn_down, and for 288-wide rows its
 * fallbacks Q5_0 and Q8_0), and load.
 */
class KQuantConvertTest {
    @TempDir
    static Path dir;
    static Path random, stories, deep;

    @BeforeAll
    static void makeOriginals() throws Exception {
        deep = dir.resolve("deep-f32.gguf");
        RandomModel.write(HfConverter.config(KQuantModelTest.fixture("deep-config.json")), F32, deep, 3, Map.of(), Progress.NONE);
        random = dir.resolve("kq-f32.gguf");
        RandomModel.write(HfConverter.config(KQuantModelTest.fixture("kq-config.json")), F32, random, 11, Map.of(), Progress.NONE);
        stories = KQuantModelTest.fixture("ss-f16.gguf");
    }

    @ParameterizedTest
    @CsvSource({"kq-q4_k_m.gguf, q4_k_m", "kq-q6_k.gguf, q6_k", "ss-q4_k_m.gguf, q4_k_m"})
    void writesLlamaCppsTensorsByteForByte(String fixture, String type) throws Exception {
        Path out = dir.resolve(fixture + ".herd.gguf");
        GgufRequantizer.convert(fixture.startsWith("ss") ? stories : random, out, WeightTypes.parse(type), Map.of(), Progress.NONE);
        try (GgufFile mine = GgufFile.open(out); GgufFile theirs = GgufFile.open(KQuantModelTest.fixture(fixture))) {
            assertThat(mine.tensors().keySet()).containsExactlyInAnyOrderElementsOf(theirs.tensors().keySet());
            for (GgufFile.TensorInfo t : theirs.tensors().values()) {
                assertThat(mine.tensors().get(t.name()).type()).as(t.name()).isEqualTo(t.type());
                assertThat(mine.bytes(t.name()).mismatch(theirs.bytes(t.name()))).as(t.name() + " bytes").isEqualTo(-1);
            }
            assertThat(mine.integer("general.file_type")).isEqualTo(theirs.integer("general.file_type"));
        }
        try (Llama m = Llama.load(out, 32, 1, 1)) {
            assertThat(m.forward(1, 0)).hasSize(m.config.vocab());
        }
    }

    /**
     * Every rule on an 80-layer Llama with grouped-query attention (llama.cpp's "70B"), tied embeddings and rows of 32,
     * 64 and 256 values: use_more_bits over 80 layers, Q5_K for the other attn_v, Q6_K for the tied token_embd, the
     * Q5_0 and Q8_0 fallbacks. Each tensor's type and the sha256 of its bytes equal those of llama.cpp's own file,
     * listed in deep-TYPE.tensors (the file itself, 4 to 6 MB, is not committed).
     */
    @ParameterizedTest
    @CsvSource({"q4_k_m, 15", "q6_k, 18"})
    void choosesAndWritesLikeLlamaCppOnEveryTensorOfAnEightyLayerModel(String type, int fileType) throws Exception {
        Path out = dir.resolve("deep-" + type + ".gguf");
        GgufRequantizer.convert(deep, out, WeightTypes.parse(type), Map.of(), Progress.NONE);
        List<String> mine = new ArrayList<>();
        try (GgufFile f = GgufFile.open(out)) {
            for (GgufFile.TensorInfo t : f.tensors().values()) {
                byte[] sha = MessageDigest.getInstance("SHA-256").digest(f.bytes(t.name()).toArray(ValueLayout.JAVA_BYTE));
                mine.add(t.name() + " " + t.type() + " " + HexFormat.of().formatHex(sha, 0, 8));
            }
            assertThat(f.integer("general.file_type")).isEqualTo(fileType);
        }
        List<String> theirs = Files.readAllLines(KQuantModelTest.fixture("deep-" + type + ".tensors"));
        assertThat(mine).as("the F32 original may have changed: README in src/test/resources/models").containsExactlyInAnyOrderElementsOf(theirs);
    }
}
