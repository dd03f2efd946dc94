package dev.herd.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.grammar.Grammar;
import dev.herd.tokenizer.ChatTemplate;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ToolFormatTest {
    private static final List<Tools.Function> WEATHER = List.of(new Tools.Function("weather", "forecast", null, Grammar.jsonObject()));
    private static final ToolFormat LLAMA3 = new ToolFormat(ToolFormat.Form.LLAMA3), HERMES = new ToolFormat(ToolFormat.Form.HERMES),
            MISTRAL = new ToolFormat(ToolFormat.Form.MISTRAL);

    @Test
    void llama3WritesBareJsonAndReadsResultsAsIpython() {
        assertThat(LLAMA3.write(List.of(new ToolFormat.Call("weather", "{\"city\":\"Rome\"}")))).isEqualTo("{\"name\": \"weather\", \"parameters\": {\"city\":\"Rome\"}}");
        assertThat(LLAMA3.result("sun")).isEqualTo(new ChatTemplate.Message("ipython", "sun"));
        assertThat(LLAMA3.offer(List.of(new ChatTemplate.Message("user", "Rain?")), WEATHER).getFirst())
                .satisfies(m -> assertThat(m.role()).isEqualTo("system"))
                .satisfies(m -> assertThat(m.content()).contains("{\"type\":\"function\",\"function\":{\"name\":\"weather\",\"description\":\"forecast\"}}"));
        assertThat(LLAMA3.calls(" {\"name\": \"weather\", \"parameters\": {\"city\": \"Rome\"}}", WEATHER))
                .containsExactly(new ToolFormat.Call("weather", "{\"city\":\"Rome\"}"));
        assertThat(LLAMA3.calls("It is sunny.", WEATHER)).isEmpty();
        assertThat(LLAMA3.calls("{\"name\": \"other\", \"parameters\": {}}", WEATHER)).as("not an offered function").isEmpty();
    }

    @Test
    void hermesWritesTaggedCallsAndReadsSeveral() {
        assertThat(HERMES.write(List.of(new ToolFormat.Call("weather", "{}")))).isEqualTo("<tool_call>\n{\"name\": \"weather\", \"arguments\": {}}\n</tool_call>");
        assertThat(HERMES.result("sun")).isEqualTo(new ChatTemplate.Message("user", "<tool_response>\nsun\n</tool_response>"));
        List<ChatTemplate.Message> offered = HERMES.offer(List.of(new ChatTemplate.Message("system", "Be brief."), new ChatTemplate.Message("user", "Rain?")), WEATHER);
        assertThat(offered).hasSize(2);
        assertThat(offered.getFirst().content()).startsWith("Be brief.\n\n").contains("<tools>\n{\"type\":\"function\"").contains("</tools>");
        String two = "<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"a\": 1}}\n</tool_call>\n<tool_call>{\"name\":\"weather\",\"arguments\":{}}</tool_call>";
        assertThat(HERMES.calls(two, WEATHER)).containsExactly(new ToolFormat.Call("weather", "{\"a\":1}"), new ToolFormat.Call("weather", "{}"));
        assertThat(HERMES.calls("Sure! " + two, WEATHER)).as("text beside the calls").isEmpty();
        assertThat(HERMES.calls("<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"a\":", WEATHER)).as("cut short").isEmpty();
    }

    /** parallel_tool_calls: false gives at most one call (the first), and anything but a boolean is a 400 naming it. */
    @Test
    void parallelToolCallsFalseKeepsTheFirstCall() throws Exception {
        String two = "<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"a\": 1}}\n</tool_call>\n<tool_call>{\"name\":\"weather\",\"arguments\":{}}</tool_call>";
        String tools = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"weather\"}}]";
        ObjectMapper json = new ObjectMapper();
        assertThat(Tools.read(json.readTree("{" + tools + "}"), HERMES).calls(two)).hasSize(2);
        assertThat(Tools.read(json.readTree("{" + tools + ",\"parallel_tool_calls\":true}"), HERMES).calls(two)).hasSize(2);
        assertThat(Tools.read(json.readTree("{" + tools + ",\"parallel_tool_calls\":false}"), HERMES).calls(two))
                .containsExactly(new ToolFormat.Call("weather", "{\"a\":1}"));
        assertThatThrownBy(() -> Tools.read(json.readTree("{" + tools + ",\"parallel_tool_calls\":\"no\"}"), HERMES))
                .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.getMessage()).contains("parallel_tool_calls"));
    }

    /**
     * Mistral's v3 form (mistral_common's encoding): the offer as a JSON array in its own turn right before the last
     * user turn, the calls as one array after [TOOL_CALLS], results as {"content": text} in [TOOL_RESULTS].
     */
    @Test
    void mistralWritesControlTokenFormsAndReadsAnArrayOfCalls() {
        List<ToolFormat.Call> two = List.of(new ToolFormat.Call("weather", "{\"city\":\"Rome\"}"), new ToolFormat.Call("weather", "{}"));
        assertThat(MISTRAL.write(two)).isEqualTo("[TOOL_CALLS] [{\"name\": \"weather\", \"arguments\": {\"city\":\"Rome\"}}, {\"name\": \"weather\", \"arguments\": {}}]");
        assertThat(MISTRAL.result("It is \"sunny\"")).isEqualTo(new ChatTemplate.Message("tool", "{\"content\":\"It is \\\"sunny\\\"\"}"));
        assertThat(MISTRAL.opening()).isEqualTo("[TOOL_CALLS]");
        assertThat(LLAMA3.opening()).isEmpty();
        assertThat(HERMES.opening()).isEmpty();

        var system = new ChatTemplate.Message("system", "Be brief.");
        var first = new ChatTemplate.Message("user", "Hi");
        var answer = new ChatTemplate.Message("assistant", "Hello");
        var last = new ChatTemplate.Message("user", "Rain?");
        var offer = new ChatTemplate.Message(ChatTemplate.TOOLS_ROLE, "[{\"type\":\"function\",\"function\":{\"name\":\"weather\",\"description\":\"forecast\"}}]");
        assertThat(MISTRAL.offer(List.of(system, first, answer, last), WEATHER)).containsExactly(system, first, answer, offer, last);
        var call = new ChatTemplate.Message("assistant", MISTRAL.write(two.subList(0, 1)));
        var result = MISTRAL.result("sun");
        assertThat(MISTRAL.offer(List.of(last, call, result), WEATHER)).as("after a call, still before the user's question")
                .containsExactly(offer, last, call, result);

        assertThat(MISTRAL.calls(" [{\"name\": \"weather\", \"arguments\": {\"city\": \"Rome\"}}, {\"name\":\"weather\",\"arguments\":{}}]", WEATHER))
                .containsExactlyElementsOf(two);
        assertThat(MISTRAL.calls("[]", WEATHER)).isEmpty();
        assertThat(MISTRAL.calls("It is sunny.", WEATHER)).isEmpty();
        assertThat(MISTRAL.calls("[{\"name\": \"other\", \"arguments\": {}}]", WEATHER)).as("not an offered function").isEmpty();
        assertThat(MISTRAL.calls("[{\"name\": \"weather\", \"arguments\": {\"a\":", WEATHER)).as("cut short").isEmpty();
    }

    /** Mistral's form needs the control tokens in the vocabulary: Mistral v1/v2 tokenizers (and others) get Hermes'. */
    @Test
    void theFormFollowsTheFamilyAndTheVocabulary() {
        assertThat(ToolFormat.of(ChatTemplate.Format.LLAMA3, MistralVocab.tokenizer()).form).isEqualTo(ToolFormat.Form.LLAMA3);
        assertThat(ToolFormat.of(ChatTemplate.Format.MISTRAL, MistralVocab.tokenizer()).form).isEqualTo(ToolFormat.Form.MISTRAL);
        assertThat(ToolFormat.of(ChatTemplate.Format.MISTRAL, MistralVocab.llama2()).form).isEqualTo(ToolFormat.Form.HERMES);
        assertThat(ToolFormat.of(ChatTemplate.Format.CHATML, MistralVocab.tokenizer()).form).isEqualTo(ToolFormat.Form.HERMES);
    }
}
