package dev.herd.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * llama.cpp's tokenizer test vectors (models/ggml-vocab-llama-*.gguf.inp/.out). The .out ids carry no BOS:
 * test-tokenizer-0 tokenizes with add_special = false and parse_special = false, and the files agree (the empty
 * input expects no ids at all, and no line starts with 1 or 128000), so they are compared with {@link Tokenizer#encode}.
 */
class VectorsTest {

    static List<Resources.Vector> spm() {
        return Resources.vectors("ggml-vocab-llama-spm.gguf");
    }

    static List<Resources.Vector> bpe() {
        return Resources.vectors("ggml-vocab-llama-bpe.gguf");
    }

    @Test
    void expectedIdsCarryNoBos() {
        for (var vectors : List.of(spm(), bpe())) {
            assertThat(vectors).filteredOn(v -> v.text().isEmpty()).singleElement().extracting(Resources.Vector::ids).isEqualTo(new int[0]);
            assertThat(vectors).noneMatch(v -> v.ids().length > 0 && (v.ids()[0] == 1 || v.ids()[0] == 128000));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("spm")
    void spmGguf(Resources.Vector v) {
        assertThat(Resources.spm().encode(v.text())).containsExactly(v.ids());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bpe")
    void bpeGguf(Resources.Vector v) {
        assertThat(Resources.bpe().encode(v.text())).containsExactly(v.ids());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("spm")
    void sentencePieceModel(Resources.Vector v) {
        assertThat(Resources.tokenizer("llama2-tokenizer.model").encode(v.text())).containsExactly(v.ids());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bpe")
    void tokenizerJson(Resources.Vector v) {
        assertThat(Resources.tokenizer("llama3-tokenizer.json").encode(v.text())).containsExactly(v.ids());
    }

    /** SentencePiece drops the space it put in front, so the round trip is exact; byte-level BPE is lossless. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("spm")
    void spmRoundTrip(Resources.Vector v) {
        Tokenizer t = Resources.spm();
        assertThat(t.decode(t.encode(v.text()))).isEqualTo(v.text());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bpe")
    void bpeRoundTrip(Resources.Vector v) {
        Tokenizer t = Resources.bpe();
        assertThat(t.decode(t.encode(v.text()))).isEqualTo(v.text());
    }
}
