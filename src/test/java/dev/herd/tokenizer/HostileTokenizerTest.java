package dev.herd.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.HerdException;
import dev.herd.format.Limits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Issue 10, defect 8: tokenizer data that indexed out of bounds or split at a missing space is one clean error. */
class HostileTokenizerTest {
    @TempDir
    Path dir;

    @Test
    void bosIdOutsideTheVocabularyIsRefused() {
        Map<String, Object> meta = Map.of("tokenizer.ggml.model", "llama", "tokenizer.ggml.tokens", new String[]{"a", "b"},
                "tokenizer.ggml.bos_token_id", 99);
        assertThatThrownBy(() -> Tokenizers.fromMetadata(meta, "m")).isInstanceOf(HerdException.class)
                .hasMessageContaining("bos_token_id' = 99");
    }

    @Test
    void bpeMergeWithoutASpaceIsRefused() {
        Map<String, Object> meta = Map.of("tokenizer.ggml.model", "gpt2", "tokenizer.ggml.pre", "llama-bpe",
                "tokenizer.ggml.tokens", new String[]{"a", "b", "ab"}, "tokenizer.ggml.merges", new String[]{"ab"});
        assertThatThrownBy(() -> Tokenizers.fromMetadata(meta, "m")).isInstanceOf(HerdException.class)
                .hasMessageContaining("merge 0 'ab' is not two tokens");
    }

    /** A byte-level BPE tokenizer.json that passes the format checks, with the given vocab and merges. */
    private Path tokenizerJson(Map<String, Object> vocab, List<Object> merges) throws IOException {
        Map<String, Object> json = Map.of(
                "model", Map.of("type", "BPE", "vocab", vocab, "merges", merges),
                "decoder", Map.of("type", "ByteLevel"),
                "pre_tokenizer", Map.of("type", "Sequence", "pretokenizers", List.of(Map.of("type", "Split",
                        "pattern", Map.of("Regex", TokenizerMetadata.LLAMA3_REGEX)))));
        Path p = dir.resolve("tokenizer.json");
        new ObjectMapper().writeValue(p.toFile(), json);
        return p;
    }

    @Test
    void tokenizerJsonWithANegativeIdOrAOneSidedMergeIsRefused() throws IOException {
        Path negative = tokenizerJson(Map.of("a", 0, "b", -1), List.of());
        assertThatThrownBy(() -> TokenizerMetadata.read(negative)).isInstanceOf(HerdException.class).hasMessageContaining("token id '-1'");
        Path huge = tokenizerJson(Map.of("a", 0, "b", Integer.MAX_VALUE), List.of());
        assertThatThrownBy(() -> TokenizerMetadata.read(huge)).isInstanceOf(HerdException.class).hasMessageContaining("token id '2147483647'");
        Path merge = tokenizerJson(Map.of("a", 0, "b", 1), List.of(List.of("a")));
        assertThatThrownBy(() -> TokenizerMetadata.read(merge)).isInstanceOf(HerdException.class).hasMessageContaining("is not a pair");
    }

    /** A tokenizer file is read whole: one over 1 GiB (here sparse) is refused by its size, before any read. */
    @Test
    void tokenizerFileOverTheSizeLimitIsRefusedUnread() throws IOException {
        Path big = dir.resolve("tokenizer.model");
        try (FileChannel ch = FileChannel.open(big, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.SPARSE)) {
            ch.write(ByteBuffer.wrap(new byte[]{'}'}), Limits.MAX_TOKENIZER_BYTES);
        }
        assertThatThrownBy(() -> TokenizerMetadata.read(big)).isInstanceOf(HerdException.class).hasMessageContaining("over the limit of 1073741824");
    }
}
