package dev.herd.codec;

import dev.herd.tensor.GgmlType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every codec decodes ggml's own blocks to exactly the floats ggml's dequantizer gives (vectors in
 * src/test/resources/ggml, made by ggml's reference codec: see the README there). Compared as bits, so that a
 * rounding difference (an fma, another order of products) fails.
 */
class CodecTest {

    @ParameterizedTest
    @EnumSource(names = {"F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
    void decodesLikeGgmlBitForBit(GgmlType type) throws IOException {
        byte[] blocks = GgmlVectors.blocks(type.name().toLowerCase());
        float[] expected = GgmlVectors.decoded(type.name().toLowerCase());
        assertThat(blocks.length).isEqualTo(type.bytes(expected.length));
        assertThat(expected.length / type.blockSize).as("blocks in the vector").isGreaterThanOrEqualTo(4);

        float[] row = new float[expected.length];
        Codecs.of(type).decode(MemorySegment.ofArray(blocks), 0, row, 0, row.length);
        for (int i = 0; i < row.length; i++) {
            assertThat(Float.floatToRawIntBits(row[i])).as("%s value %d: %s, ggml %s", type, i, row[i], expected[i])
                    .isEqualTo(Float.floatToRawIntBits(expected[i]));
        }
        float[] one = new float[type.blockSize]; // block by block, at an offset, equals the row
        Codecs.of(type).decodeBlock(MemorySegment.ofArray(blocks), type.blockBytes, one, 0);
        for (int i = 0; i < one.length; i++) assertThat(one[i]).isEqualTo(expected[type.blockSize + i]);
    }
}
