package dev.herd.tokenizer;

import dev.herd.format.GgufFile;
import dev.herd.format.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Tokenizer files turned into GGUF metadata match llama.cpp's vocab GGUFs and tokenize the same after a GGUF round trip. */
class TokenizerMetadataTest {
    @TempDir
    Path dir;

    @Test
    void sentencePieceModelGivesLlamaCppMetadata() {
        Map<String, Object> meta = TokenizerMetadata.read(Resources.path("llama2-tokenizer.model"));
        try (GgufFile ref = GgufFile.open(Resources.path("ggml-vocab-llama-spm.gguf"))) {
            for (String key : new String[]{"tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                    "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                    "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token"}) {
                assertThat(meta.get(key)).as(key).isEqualTo(ref.metadata().get(key));
            }
        }
    }

    @Test
    void tokenizerJsonGivesLlamaCppMetadata() {
        Map<String, Object> meta = TokenizerMetadata.read(Resources.path("llama3-tokenizer.json"));
        try (GgufFile ref = GgufFile.open(Resources.path("ggml-vocab-llama-bpe.gguf"))) {
            for (String key : new String[]{"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens",
                    "tokenizer.ggml.token_type", "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"}) {
                assertThat(meta.get(key)).as(key).isEqualTo(ref.metadata().get(key));
            }
        }
        assertThat((String) meta.get("tokenizer.chat_template")).startsWith("{% set loop_messages = messages %}");
    }

    @Test
    void ggufFromTokenizerJsonReproducesBpeVectors() throws IOException {
        Tokenizer t = roundTrip("llama3-tokenizer.json");
        for (Resources.Vector v : Resources.vectors("ggml-vocab-llama-bpe.gguf")) {
            assertThat(t.encode(v.text())).as(v.toString()).containsExactly(v.ids());
        }
        assertThat(t.bos()).isEqualTo(128000);
        assertThat(t.eos()).containsExactly(128001, 128009);
        assertThat(t.addBos()).isTrue();
    }

    @Test
    void ggufFromSentencePieceModelReproducesSpmVectors() throws IOException {
        Tokenizer t = roundTrip("llama2-tokenizer.model");
        for (Resources.Vector v : Resources.vectors("ggml-vocab-llama-spm.gguf")) {
            assertThat(t.encode(v.text())).as(v.toString()).containsExactly(v.ids());
        }
        assertThat(t.bos()).isEqualTo(1);
        assertThat(t.eos()).containsExactly(2);
    }

    private Tokenizer roundTrip(String file) throws IOException {
        GgufWriter w = new GgufWriter().put("general.architecture", "llama");
        TokenizerMetadata.read(Resources.path(file)).forEach(w::put);
        Path gguf = dir.resolve(file + ".gguf");
        w.write(gguf);
        try (GgufFile g = GgufFile.open(gguf)) {
            return Tokenizers.fromGguf(g);
        }
    }
}
