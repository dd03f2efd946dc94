package dev.herd.engine;

import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;

import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.tensor.GgmlType;
import dev.herd.tokenizer.ChatTemplate;
import dev.herd.tokenizer.ChatTemplate.Message;
import dev.herd.tokenizer.TokenizerMetadata;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** A conversation that grows by a turn evaluates the new turn only, the previous reply included as generated. */
class ChatSessionTest {
    @TempDir
    Path dir;

    @Test
    void nextTurnReusesThePromptAndTheReplyAsGenerated() throws Exception {
        Path model = dir.resolve("tiny-llama3.gguf");
        Path tokenizer = Path.of(ChatSessionTest.class.getResource("/tokenizer/llama3-tokenizer.json").toURI());
        // seed 3: the random model's greedy reply ("stvastva...") is tokenized differently when its text is encoded
        // again, and has no leading or trailing white space, which the Llama 3 template strips (a reply the template
        // changes cannot keep its tokens and falls back to the prefix the tokens share)
        RandomModel.write(RandomModel.shape("tiny"), GgmlType.Q8_0, model, 3, TokenizerMetadata.read(tokenizer), Progress.NONE);
        try (Model m = Model.open(model, null, 256, 1)) {
            ChatSession chat = new ChatSession(m);
            assertThat(chat.template().format()).isEqualTo(ChatTemplate.Format.LLAMA3);
            List<Message> messages = new ArrayList<>(List.of(new Message("user", "Tell me a story")));
            int[] first = chat.prompt(messages);
            Generation.Result one = chat.complete(first, new Sequence(m, Sampler.greedy(m.llama.vocab()), p -> {}), 10);
            int[] reply = one.run().tokens();
            assertThat(m.tokenizer.decode(reply)).isEqualTo(m.tokenizer.decode(reply).strip()).isNotEmpty();
            assertThat(m.tokenizer.encode(m.tokenizer.decode(reply))).as("the reply's text encoded again").isNotEqualTo(reply);
            messages.add(new Message("assistant", m.tokenizer.decode(reply)));
            messages.add(new Message("user", "Another one"));
            int[] second = chat.prompt(messages);
            Generation.Result two = chat.complete(second, new Sequence(m, Sampler.greedy(m.llama.vocab()), p -> {}), 4);
            // everything up to the reply's last token (which was sampled but not fed) came from the cache
            assertThat(two.reused()).isEqualTo(first.length + reply.length - 1);
            assertThat(second.length - two.reused()).as("tokens evaluated for the new turn").isLessThan(20);
        }
    }

    /** Llama 2's template: "[/INST] reply </s>": the space before </s> does not stop the reply's tokens from being kept. */
    @Test
    void llama2TemplateAlsoKeepsTheReply() throws Exception {
        Path model = dir.resolve("tiny-llama2.gguf");
        Path tokenizer = Path.of(ChatSessionTest.class.getResource("/tokenizer/llama2-tokenizer.model").toURI());
        ModelConfig shape = new ModelConfig(Arch.LLAMA, 256, 512, 2, 8, 4, 32, 32000, 1024, 1e-5f, 10000, null, true);
        RandomModel.write(shape, GgmlType.Q8_0, model, 5, TokenizerMetadata.read(tokenizer), Progress.NONE);
        try (Model m = Model.open(model, null, 256, 1)) {
            ChatSession chat = new ChatSession(m);
            assertThat(chat.template().format()).isEqualTo(ChatTemplate.Format.LLAMA2);
            List<Message> messages = new ArrayList<>(List.of(new Message("user", "Tell me a story")));
            int[] first = chat.prompt(messages);
            int[] reply = chat.complete(first, new Sequence(m, Sampler.greedy(m.llama.vocab()), p -> {}), 10).run().tokens();
            String text = m.tokenizer.decode(reply); // as the API returns it: without the first token's leading space
            assertThat(m.tokenizer.piece(reply[0])).startsWith("▁");
            messages.add(new Message("assistant", text));
            messages.add(new Message("user", "Another one"));
            int[] second = chat.prompt(messages);
            Generation.Result two = chat.complete(second, new Sequence(m, Sampler.greedy(m.llama.vocab()), p -> {}), 4);
            assertThat(two.reused()).isEqualTo(first.length + reply.length - 1);
            assertThat(second.length - two.reused()).as("tokens evaluated for the new turn").isLessThan(20);
        }
    }
}
