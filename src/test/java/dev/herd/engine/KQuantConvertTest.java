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

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static dev.herd.tensor.GgmlType.F32;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Herd's converter writes the files llama.cpp's quantizer writes: the F32 originals of the committed llama.cpp
 * fixtures (src/test/resources/models, README there; made again here as KQuantModelTest does and checked by sha256
 * there), converted by Herd to q4_k_m and q6_k, hold every tensor in the same type with the same bytes as llama.cpp's
 * own file (its choice per tensor: Q6_K for output and the last layer's attn_v and ffn_down, and for 288-wide rows its
 * fallbacks Q5_0 and Q8_0), and load.
 */
class KQuantConvertTest {
    @TempDir
    static Path dir;
    static Path random, stories;

    @BeforeAll
    static void makeOriginals() throws Exception {
        random = dir.resolve("kq-f32.gguf");
        RandomModel.write(HfConverter.config(KQuantModelTest.fixture("kq-config.json")), F32, random, 11, Map.of(), Progress.NONE);
        stories = dir.resolve("ss-f32.gguf");
        SmallStories.write(dir, stories);
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
}
