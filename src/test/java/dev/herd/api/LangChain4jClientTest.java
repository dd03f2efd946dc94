package dev.herd.api;

import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
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

    enum City { PARIS, ROME }

    /** A tool that records its calls. */
    static final class Weather {
        final List<City> calls = new CopyOnWriteArrayList<>();

        @Tool("Weather")
        String weather(City city) {
            calls.add(city);
            return city == City.PARIS ? "sunny" : "rain";
        }
    }

    interface Assistant {
        String chat(String message);
    }

    /**
     * Issue 14: LangChain4j's AI services with a {@code @Tool} method, through herd api. stories15M is made to call it:
     * a turn that a user message ends goes out with {@code tool_choice: required} (the wrapper below), which Herd
     * enforces with its grammar, so the reply is a call of an offered function with arguments that follow its
     * parameters; LangChain4j runs the method and sends its result back (tool_choice left as it was), and the model's
     * text answer ends the exchange.
     */
    @Test
    void aiServicesCallAToolAndAnswerWithItsResult() {
        OpenAiChatModel openAi = OpenAiChatModel.builder().baseUrl(api.url("/v1")).apiKey("lc4j-key").modelName("herd")
                .temperature(0.0).maxTokens(200).build();
        ChatModel callsFirst = new ChatModel() {
            @Override
            public ChatResponse doChat(ChatRequest request) {
                if (request.messages().getLast() instanceof UserMessage) {
                    request = ChatRequest.builder().messages(request.messages())
                            .parameters(request.parameters().overrideWith(ChatRequestParameters.builder().toolChoice(ToolChoice.REQUIRED).build())).build();
                }
                return openAi.chat(request);
            }
        };
        Weather weather = new Weather();
        Assistant assistant = AiServices.builder(Assistant.class).chatModel(callsFirst).tools(weather).build();
        String answer = assistant.chat("Rain?"); // short: stories15M has 256 positions for the tools, the call and the answer
        assertThat(weather.calls).hasSize(1);
        assertThat(answer).isNotBlank();
    }
}
