package dev.herd.api;

import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** LangChain4j's OpenAI module, a real client, against {@code herd api} on one node (and, in a subclass, split). */
class LangChain4jClientTest {
    static TestApi api;

    @BeforeAll
    static void start() throws IOException {
        api = new TestApi("lc4j-key", 16, 0);
    }

    @AfterAll
    static void stop() throws IOException {
        api.close();
    }

    @Test
    void chat() {
        OpenAiChatModel model = OpenAiChatModel.builder().baseUrl(api.url("/v1")).apiKey("lc4j-key").modelName("herd")
                .temperature(0.0).maxTokens(12).build();
        ChatResponse r = model.chat(SystemMessage.from("You tell stories."), UserMessage.from("Tell me a story"));
        assertThat(r.aiMessage().text()).isNotBlank();
        assertThat(r.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(r.tokenUsage().outputTokenCount()).isEqualTo(12);
        assertThat(r.tokenUsage().inputTokenCount()).isPositive();
        assertThat(r.metadata().modelName()).isEqualTo("stories15M-q8_0.gguf");
    }

    @Test
    void streamingChat() throws Exception {
        OpenAiStreamingChatModel model = OpenAiStreamingChatModel.builder().baseUrl(api.url("/v1")).apiKey("lc4j-key").modelName("herd")
                .temperature(0.0).maxTokens(15).build();
        List<String> pieces = new ArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        model.chat("Once upon a time", new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String piece) {
                pieces.add(piece);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(60, TimeUnit.SECONDS);
        assertThat(pieces.size()).isGreaterThan(1);
        assertThat(String.join("", pieces)).isEqualTo(r.aiMessage().text()).isNotBlank();
        assertThat(r.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(r.tokenUsage().outputTokenCount()).isEqualTo(15);
    }
}
