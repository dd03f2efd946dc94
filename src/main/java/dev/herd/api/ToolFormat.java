package dev.herd.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.herd.grammar.Grammar;
import dev.herd.tokenizer.ChatTemplate;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How a chat template family writes tools: Llama 3.1+ answers with a bare JSON object {@code {"name": ...,
 * "parameters": ...}} and reads results in the {@code ipython} role; the others in Hermes' form, which Qwen's
 * templates use: calls in {@code <tool_call>} tags, results in {@code <tool_response>} tags of a user turn. (Mistral's
 * own form starts with the control token {@code [TOOL_CALLS]}, which a text grammar cannot write; its models get the
 * Hermes form.)
 */
final class ToolFormat {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern TAGGED = Pattern.compile("<tool_call>\\s*(.*?)\\s*</tool_call>", Pattern.DOTALL);

    /** A call: arguments as compact JSON text, as OpenAI returns them. */
    record Call(String name, String arguments) {}

    private final boolean bare;

    ToolFormat(ChatTemplate.Format family) {
        this.bare = family == ChatTemplate.Format.LLAMA3;
    }

    /** The system prompt text that offers the functions. */
    String describe(List<Tools.Function> functions) {
        StringBuilder defs = new StringBuilder();
        for (Tools.Function f : functions) {
            ObjectNode fn = JSON.createObjectNode().put("name", f.name());
            if (f.description() != null) fn.put("description", f.description());
            if (f.parameters() != null) fn.set("parameters", f.parameters());
            ObjectNode tool = JSON.createObjectNode().put("type", "function");
            tool.set("function", fn);
            defs.append(tool).append('\n');
        }
        if (bare) {
            return "You have access to the following functions. To call one, respond with only a JSON object of the form "
                    + "{\"name\": function name, \"parameters\": dictionary of argument name and its value}. Do not use variables.\n\n" + defs;
        }
        return "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n" + defs + "</tools>\n\n"
                + "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n"
                + "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>";
    }

    /** A past call as the assistant wrote it. */
    String write(Call c) {
        return prefix(c.name()) + c.arguments() + suffix();
    }

    /** A tool's result as the turn the model reads it in. */
    ChatTemplate.Message result(String content) {
        return bare ? new ChatTemplate.Message("ipython", content) : new ChatTemplate.Message("user", "<tool_response>\n" + content + "\n</tool_response>");
    }

    /** Replies that are exactly one call of one of the functions, with arguments of its schema. */
    Grammar grammar(List<Tools.Function> offered) {
        return Grammar.tagged(offered.stream().map(f -> prefix(f.name())).toList(), offered.stream().map(Tools.Function::grammar).toList(), suffix());
    }

    private String prefix(String name) {
        String key = bare ? "parameters" : "arguments";
        return (bare ? "" : "<tool_call>\n") + "{\"name\": \"" + name + "\", \"" + key + "\": "; // names need no escaping
    }

    private String suffix() {
        return bare ? "}" : "}\n</tool_call>";
    }

    /** The calls the reply makes, empty if it is not (wholly) calls of offered functions. */
    List<Call> calls(String reply, List<Tools.Function> offered) {
        List<String> objects = new ArrayList<>();
        if (bare) {
            objects.add(reply.strip());
        } else {
            Matcher m = TAGGED.matcher(reply);
            int end = 0;
            while (m.find()) {
                if (!reply.substring(end, m.start()).isBlank()) return List.of();
                objects.add(m.group(1));
                end = m.end();
            }
            if (!reply.substring(end).isBlank()) return List.of();
        }
        List<Call> calls = new ArrayList<>();
        for (String text : objects) {
            Call c = call(text, offered);
            if (c == null) return List.of();
            calls.add(c);
        }
        return calls;
    }

    private Call call(String text, List<Tools.Function> offered) {
        try {
            JsonNode o = JSON.readTree(text);
            JsonNode args = o == null ? null : o.has("parameters") ? o.get("parameters") : o.get("arguments");
            if (args == null || !args.isObject() || !o.path("name").isTextual()) return null;
            String name = o.get("name").asText();
            return offered.stream().anyMatch(f -> f.name().equals(name)) ? new Call(name, JSON.writeValueAsString(args)) : null;
        } catch (JsonProcessingException e) {
            return null;
        }
    }
}
