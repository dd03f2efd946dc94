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
    private static final ToolFormat LLAMA3 = new ToolFormat(ChatTemplate.Format.LLAMA3), HERMES = new ToolFormat(ChatTemplate.Format.CHATML);

    @Test
    void llama3WritesBareJsonAndReadsResultsAsIpython() {
        assertThat(LLAMA3.write(new ToolFormat.Call("weather", "{\"city\":\"Rome\"}"))).isEqualTo("{\"name\": \"weather\", \"parameters\": {\"city\":\"Rome\"}}");
        assertThat(LLAMA3.result("sun")).isEqualTo(new ChatTemplate.Message("ipython", "sun"));
        assertThat(LLAMA3.describe(WEATHER)).contains("{\"type\":\"function\",\"function\":{\"name\":\"weather\",\"description\":\"forecast\"}}");
        assertThat(LLAMA3.calls(" {\"name\": \"weather\", \"parameters\": {\"city\": \"Rome\"}}", WEATHER))
                .containsExactly(new ToolFormat.Call("weather", "{\"city\":\"Rome\"}"));
        assertThat(LLAMA3.calls("It is sunny.", WEATHER)).isEmpty();
        assertThat(LLAMA3.calls("{\"name\": \"other\", \"parameters\": {}}", WEATHER)).as("not an offered function").isEmpty();
    }

    @Test
    void hermesWritesTaggedCallsAndReadsSeveral() {
        assertThat(HERMES.write(new ToolFormat.Call("weather", "{}"))).isEqualTo("<tool_call>\n{\"name\": \"weather\", \"arguments\": {}}\n</tool_call>");
        assertThat(HERMES.result("sun")).isEqualTo(new ChatTemplate.Message("user", "<tool_response>\nsun\n</tool_response>"));
        assertThat(HERMES.describe(WEATHER)).contains("<tools>\n{\"type\":\"function\"").contains("</tools>");
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
}
