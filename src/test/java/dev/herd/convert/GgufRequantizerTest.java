package dev.herd.convert;

import dev.herd.HerdException;
import dev.herd.format.GgufFile;
import dev.herd.format.GgufWriter;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GgufRequantizerTest {
    @TempDir
    Path dir;

    static float[] random(int n) {
        Random r = new Random(n);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    @Test
    void matricesTakeTheTargetTypeAndTheRestIsCopiedExactly() throws IOException {
        Path in = dir.resolve("in.gguf"), out = dir.resolve("out.gguf");
        byte[] q4 = new byte[(int) GgmlType.Q4_0.bytes(64 * 2)];
        new Random(3).nextBytes(q4);
        new GgufWriter().put("general.architecture", "llama")
                .tensor("a.weight", GgmlType.F32, new long[]{64, 3}, GgufWriter.f32(random(192)))
                .tensor("b.weight", GgmlType.Q4_0, new long[]{64, 2}, o -> o.write(q4))
                .tensor("norm.weight", GgmlType.F32, new long[]{64}, GgufWriter.f32(random(64)))
                .write(in);
        GgufRequantizer.convert(in, out, GgmlType.Q4_0, Map.of("tokenizer.ggml.model", "llama"), Progress.NONE);
        try (GgufFile a = GgufFile.open(in); GgufFile b = GgufFile.open(out)) {
            assertThat(b.tensors().get("a.weight").type()).isEqualTo(GgmlType.Q4_0);
            Close.check(b, "a.weight", Close.decode(a, "a.weight"));
            assertThat(b.bytes("b.weight").mismatch(a.bytes("b.weight"))).as("random bytes, NaN scales included").isEqualTo(-1);
            assertThat(b.bytes("norm.weight").mismatch(a.bytes("norm.weight"))).isEqualTo(-1);
            assertThat(b.integer("general.file_type")).isEqualTo(2);
            assertThat(b.string("tokenizer.ggml.model")).isEqualTo("llama");
        }
    }

    @Test
    void aTypeHerdCannotReadIsNamedNotAnInternalError() throws IOException {
        Path in = dir.resolve("k.gguf"), out = dir.resolve("x.gguf");
        new GgufWriter().tensor("output.weight", GgmlType.IQ2_XS, new long[]{256, 2}, o -> o.write(new byte[2 * 74])).write(in);
        assertThatThrownBy(() -> GgufRequantizer.convert(in, out, GgmlType.Q8_0, Map.of(), Progress.NONE))
                .isInstanceOf(HerdException.class).hasMessageContaining("output.weight").hasMessageContaining("IQ2_XS")
                .hasMessageContaining("Q6_K"); // among the types it reads
        assertThat(out).doesNotExist();
    }

    @Test
    void aKQuantFileRequantizesFromItsDecodedValues() throws IOException {
        Path in = dir.resolve("k6.gguf"), out = dir.resolve("k6-q8.gguf");
        byte[] q6 = new byte[2 * 210];
        new java.util.Random(3).nextBytes(q6);
        for (int b = 0; b < 2; b++) { // a finite scale d in each block
            q6[b * 210 + 208] = (byte) Float.floatToFloat16(0.001f);
            q6[b * 210 + 209] = (byte) (Float.floatToFloat16(0.001f) >> 8);
        }
        new GgufWriter().tensor("output.weight", GgmlType.Q6_K, new long[]{256, 2}, o -> o.write(q6)).write(in);
        GgufRequantizer.convert(in, out, GgmlType.Q8_0, Map.of(), Progress.NONE);
        try (GgufFile a = GgufFile.open(in); GgufFile b = GgufFile.open(out)) {
            assertThat(b.tensors().get("output.weight").type()).isEqualTo(GgmlType.Q8_0);
            Close.check(b, "output.weight", Close.decode(a, "output.weight"));
        }
    }
}
