package dev.herd.format;

import dev.herd.HerdException;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GgufTest {
    @TempDir
    Path dir;

    private Path sample() throws IOException {
        float[] w = new float[4 * 64];
        for (int i = 0; i < w.length; i++) w[i] = i * 0.5f;
        Path p = dir.resolve("m.gguf");
        new GgufWriter()
                .put("general.architecture", "llama")
                .put("u32", 7)
                .put("i32", -3)
                .put("u64", 1L << 40)
                .put("f32", 1.5f)
                .put("f64", 2.25)
                .put("flag", true)
                .put("i8", new GgufWriter.Typed(1, (byte) -5))
                .put("u16", new GgufWriter.Typed(2, 65535))
                .put("tokens", new String[]{"a", "é", "<s>"})
                .put("scores", new float[]{0.1f, -2f})
                .put("types", new int[]{1, 2, 3})
                .put("bytes", new byte[]{9, 8})
                .put("longs", new long[]{-1, 5})
                .tensor("w", GgmlType.F32, new long[]{64, 4}, GgufWriter.f32(w))
                .tensor("v", GgmlType.F32, new long[]{3}, GgufWriter.f32(new float[]{1, 2, 3}))
                .write(p);
        return p;
    }

    @Test
    void roundTripsEveryValueTypeAndTensors() throws IOException {
        try (GgufFile f = GgufFile.open(sample())) {
            assertThat(f.version()).isEqualTo(3);
            assertThat(f.string("general.architecture")).isEqualTo("llama");
            assertThat(f.integer("u32")).isEqualTo(7);
            assertThat(f.integer("i32")).isEqualTo(-3);
            assertThat(f.integer("u64")).isEqualTo(1L << 40);
            assertThat(f.real("f32", 0)).isEqualTo(1.5f);
            assertThat(f.metadata().get("f64")).isEqualTo(2.25);
            assertThat(f.metadata().get("flag")).isEqualTo(true);
            assertThat(f.metadata().get("i8")).isEqualTo((byte) -5);
            assertThat(f.metadata().get("u16")).isEqualTo((short) -1);
            assertThat(f.array("tokens", String[].class)).containsExactly("a", "é", "<s>");
            assertThat(f.array("scores", float[].class)).containsExactly(0.1f, -2f);
            assertThat(f.array("types", int[].class)).containsExactly(1, 2, 3);
            assertThat(f.array("bytes", byte[].class)).containsExactly(9, 8);
            assertThat(f.array("longs", long[].class)).containsExactly(-1, 5);
            Tensor w = f.tensor("w");
            assertThat(w.rows()).isEqualTo(4);
            assertThat(w.cols()).isEqualTo(64);
            assertThat(w.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 65)).isEqualTo(32.5f);
            assertThat(f.tensor("v").data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 2)).isEqualTo(3f);
            assertThat(f.tensors().get("v").offset() % 32).isZero();
        }
    }

    @Test
    void rejectsWrongMagic() throws IOException {
        Path p = dir.resolve("bad.gguf");
        Files.write(p, "GGML0000000000000000000000".getBytes());
        assertThatThrownBy(() -> GgufFile.open(p)).isInstanceOf(HerdException.class)
                .hasMessageContaining("bad.gguf").hasMessageContaining("not a GGUF file");
    }

    @Test
    void rejectsUnsupportedVersion() throws IOException {
        Path p = dir.resolve("v1.gguf");
        ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putInt(0x46554747).putInt(1);
        Files.write(p, b.array());
        assertThatThrownBy(() -> GgufFile.open(p)).hasMessageContaining("version 1");
    }

    @Test
    void truncatedFilesFailWithAClearMessageAtEveryCut() throws IOException {
        byte[] whole = Files.readAllBytes(sample());
        for (int cut : new int[]{0, 3, 10, 30, 100, 200, whole.length - 100, whole.length - 21}) {
            Path p = dir.resolve("cut" + cut + ".gguf");
            Files.write(p, Arrays.copyOf(whole, cut));
            assertThatThrownBy(() -> GgufFile.open(p)).as("cut at %d", cut).isInstanceOf(HerdException.class)
                    .hasMessageContaining(p.toString());
        }
    }

    @Test
    void tensorPastTheEndIsReported() throws IOException { // the last tensor holds 12 bytes, then 20 of padding
        byte[] whole = Files.readAllBytes(sample());
        Path p = dir.resolve("short.gguf");
        Files.write(p, Arrays.copyOf(whole, whole.length - 24));
        assertThatThrownBy(() -> GgufFile.open(p)).hasMessageContaining("tensor 'v'").hasMessageContaining("past the end");
    }

    @Test
    void corruptLengthsNeverAllocateWildly() throws IOException {
        byte[] whole = Files.readAllBytes(sample());
        // key length of the first metadata entry (byte 24..31) set to a huge value
        ByteBuffer.wrap(whole).order(ByteOrder.LITTLE_ENDIAN).putLong(24, Long.MAX_VALUE / 2);
        Path p = dir.resolve("huge.gguf");
        Files.write(p, whole);
        assertThatThrownBy(() -> GgufFile.open(p)).hasMessageContaining("past the end of the file");
    }

    @ParameterizedTest
    @EnumSource(names = {"IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M", "TQ1_0", "TQ2_0", "MXFP4", "Q8_1", "Q8_K", "I8", "F64"})
    void unreadTensorTypeNamesTensorTypeAndTheTypesRead(GgmlType type) throws IOException {
        Path p = dir.resolve("unread.gguf");
        new GgufWriter().tensor("blk.0.ffn_down.weight", type, new long[]{256, 1}, out -> out.write(new byte[(int) type.bytes(256)])).write(p);
        try (GgufFile f = GgufFile.open(p)) {
            assertThatThrownBy(() -> f.tensor("blk.0.ffn_down.weight")).isInstanceOf(HerdException.class)
                    .hasMessage(p + ": tensor 'blk.0.ffn_down.weight' has type " + type + ", which Herd does not read (it reads"
                            + " F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS)");
        }
    }

    @Test
    void everyKQuantAndLegacyTypeReads() throws IOException {
        Path p = dir.resolve("read.gguf");
        List<GgmlType> types = List.of(GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K,
                GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS);
        GgufWriter w = new GgufWriter();
        for (GgmlType t : types) w.tensor("t." + t, t, new long[]{256, 2}, out -> out.write(new byte[(int) t.bytes(512)]));
        w.write(p);
        try (GgufFile f = GgufFile.open(p)) {
            for (GgmlType t : types) {
                Tensor x = f.tensor("t." + t);
                assertThat(x.type()).isEqualTo(t);
                assertThat(x.rows()).isEqualTo(2);
            }
        }
    }
}
