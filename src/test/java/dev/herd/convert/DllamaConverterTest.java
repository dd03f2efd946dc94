package dev.herd.convert;

import dev.herd.Shared;
import dev.herd.format.DllamaModel;
import dev.herd.format.GgufFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class DllamaConverterTest {
    @TempDir
    Path dir;

    @Test
    void tinyModelAndTokenizerBecomeAGgufWithTheSameBytes() {
        Path out = dir.resolve("tiny.gguf");
        AtomicLong done = new AtomicLong();
        DllamaConverter.convert(Shared.model("tiny_q40.m"), Shared.model("tiny.t"), out, (t, n, d, total) -> done.set(d == total && t == n ? d : -1));
        try (GgufFile m = DllamaModel.open(Shared.model("tiny_q40.m")); GgufFile g = GgufFile.open(out)) {
            assertThat(g.tensors().keySet()).containsExactlyElementsOf(m.tensors().keySet());
            for (String name : m.tensors().keySet()) {
                assertThat(g.tensors().get(name).dims()).as(name).containsExactly(m.tensors().get(name).dims());
                assertThat(g.tensors().get(name).type()).as(name).isEqualTo(m.tensors().get(name).type());
                assertThat(g.bytes(name).mismatch(m.bytes(name))).as(name).isEqualTo(-1);
            }
            assertThat(g.integer("llama.embedding_length")).isEqualTo(384);
            assertThat(g.string("tokenizer.ggml.model")).isEqualTo("llama");
            assertThat(g.array("tokenizer.ggml.tokens", String[].class)).hasSize(384);
            assertThat(g.integer("tokenizer.ggml.bos_token_id")).isEqualTo(379);
            assertThat(g.array("tokenizer.ggml.eos_token_ids", int[].class)).containsExactly(380, 381);
            assertThat(g.metadata().get("tokenizer.ggml.add_bos_token")).isEqualTo(true);
            assertThat(g.string("tokenizer.chat_template")).contains("<|start_header_id|>");
        }
        assertThat(done.get()).isPositive();
    }
}
