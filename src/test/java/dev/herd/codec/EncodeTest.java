package dev.herd.codec;

import dev.herd.format.Quantizer;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Herd's quantizers write exactly the bytes of ggml's quantize_row_*_ref on the committed vectors
 * (src/test/resources/ggml, README there): the values the decode vectors were made from, and for the K-quants 7
 * super-blocks of edge cases (zeros, one outlier, negative only, positive only, tiny values, constants).
 */
class EncodeTest {

    @ParameterizedTest
    @ValueSource(strings = {"q4_k", "q5_k", "q6_k"})
    void mixedScalesGiveGgmlsBlocks(String type) throws IOException {
        assertThat(quantize(type, GgmlVectors.floats("big.in.f32"))).isEqualTo(GgmlVectors.blocks(type));
    }

    @ParameterizedTest
    @ValueSource(strings = {"q8_0", "q4_0", "q5_0", "q5_1", "f16", "bf16"})
    void legacyTypesGiveGgmlsBlocks(String type) throws IOException {
        assertThat(quantize(type, GgmlVectors.floats("small.in.f32"))).isEqualTo(GgmlVectors.blocks(type));
    }

    @ParameterizedTest
    @ValueSource(strings = {"q4_k", "q5_k", "q6_k"})
    void edgeCasesGiveGgmlsBlocks(String type) throws IOException {
        byte[] expected = GgmlVectors.resource(type + ".quant.bin");
        byte[] actual = quantize(type, GgmlVectors.floats("kquants.in.f32"));
        GgmlType t = GgmlType.valueOf(type.toUpperCase());
        for (int b = 0; b < expected.length / t.blockBytes; b++) { // block by block, to name the case that differs
            int from = b * t.blockBytes, to = from + t.blockBytes;
            assertThat(java.util.Arrays.copyOfRange(actual, from, to)).as("super-block " + b)
                    .isEqualTo(java.util.Arrays.copyOfRange(expected, from, to));
        }
        assertThat(actual).hasSameSizeAs(expected);
    }

    private static byte[] quantize(String type, float[] x) {
        GgmlType t = GgmlType.valueOf(type.toUpperCase());
        byte[] out = new byte[(int) t.bytes(x.length)];
        java.util.Arrays.fill(out, (byte) 0x5a); // a reused buffer: every byte must be written
        Quantizer.encode(t, x, 0, x.length, out, 0);
        return out;
    }
}
