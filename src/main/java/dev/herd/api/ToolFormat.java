package dev.herd.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.herd.grammar.Grammar;
import dev.herd.tokenizer.ChatTemplate;
import dev.herd.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How a chat template family writes tools. Llama 3.1+ answers with a bare JSON object {@code {"name": ...,
 * "parameters": ...}} and reads results in the {@code ipython} role. Mistral's tokenizers from v3 on have control
 * tokens for tools: the offer in {@code [AVAILABLE_TOOLS]} before the last user turn, the calls as a JSON array after
 * {@code [TOOL_CALLS]}, results in {@code [TOOL_RESULTS]} (mistral_common's encoding, without call ids). The others,
 * and Mistral models whose vocabulary lacks those tokens, use Hermes' form, which Qwen's templates use: calls in
 * {@code <tool_call>} tags, results in {@code <tool_response>} tags of a user turn.
 */
final class ToolFormat {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern TAGGED = Pattern.compile("<tool_call>\\s*(.*?)\\s*</tool_call>", Pattern.DOTALL);
    /** The control token that opens Mistral's calls: a forced call's prompt ends with it, since a text grammar cannot write it. */
    static final String MISTRAL_CALLS = "[TOOL_CALLS]";

    enum Form { LLAMA3, HERMES, MISTRAL }

    /** A call: arguments as compact JSON text, as OpenAI returns them. */
    record Call(String name, String arguments) {}

    final Form form;

    ToolFormat(Form form) {
        this.form = form;
    }

    /** The form of a template family; Mistral's only where the tokenizer has its tool tokens. */
    static ToolFormat of(ChatTemplate.Format family, Tokenizer tokenizer) {
        return new ToolFormat(switch (family) {
            case LLAMA3 -> Form.LLAMA3;
            case MISTRAL -> List.of(MISTRAL_CALLS, "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]")
                    .stream().allMatch(t -> tokenizer.id(t) >= 0) ? Form.MISTRAL : Form.HERMES;
            default -> Form.HERMES;
        });
    }

    /** The conversation with the functions offered. */
    List<ChatTemplate.Message> offer(List<ChatTemplate.Message> messages, List<Tools.Function> functions) {
        List<ChatTemplate.Message> out = new ArrayList<>(messages);
        if (form == Form.MISTRAL) {
            ArrayNode defs = JSON.createArrayNode();
            functions.forEach(f -> defs.add(definition(f)));
            int lastUser = out.size() - 1;
            while (lastUser >= 0 && !out.get(lastUser).role().equals("user")) lastUser--;
            out.add(lastUser >= 0 ? lastUser : firstTurn(out), new ChatTemplate.Message(ChatTemplate.TOOLS_ROLE, defs.toString()));
            return out;
        }
        String offer = describe(functions);
        if (out.getFirst().role().equals("system")) out.set(0, new ChatTemplate.Message("system", out.getFirst().content() + "\n\n" + offer));
        else out.addFirst(new ChatTemplate.Message("system", offer));
        return out;
    }

    private static int firstTurn(List<ChatTemplate.Message> messages) {
        return messages.getFirst().role().equals("system") ? 1 : 0;
    }

    private static ObjectNode definition(Tools.Function f) {
        ObjectNode fn = JSON.createObjectNode().put("name", f.name());
        if (f.description() != null) fn.put("description", f.description());
        if (f.parameters() != null) fn.set("parameters", f.parameters());
        ObjectNode tool = JSON.createObjectNode().put("type", "function");
        tool.set("function", fn);
        return tool;
    }

    /** The system prompt text that offers the functions (Llama 3 and Hermes). */
    private String describe(List<Tools.Function> functions) {
        StringBuilder defs = new StringBuilder();
        for (Tools.Function f : functions) defs.append(definition(f)).append('\n');
        if (form == Form.LLAMA3) {
            return "You have access to the following functions. To call one, respond with only a JSON object of the form "
                    + "{\"name\": function name, \"parameters\": dictionary of argument name and its value}. Do not use variables.\n\n" + defs;
        }
        return "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n" + defs + "</tools>\n\n"
                + "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n"
                + "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>";
    }

    /** Past calls as the assistant wrote them. */
    String write(List<Call> calls) {
        List<String> each = calls.stream().map(c -> prefix(c.name()) + c.arguments() + "}").toList();
        return switch (form) {
            case LLAMA3 -> String.join("\n", each);
            case HERMES -> String.join("\n", each.stream().map(c -> "<tool_call>\n" + c + "\n</tool_call>").toList());
            case MISTRAL -> MISTRAL_CALLS + " [" + String.join(", ", each) + "]";
        };
    }

    /** A tool's result as the turn the model reads it in. */
    ChatTemplate.Message result(String content) {
        return switch (form) {
            case LLAMA3 -> new ChatTemplate.Message("ipython", content);
            case HERMES -> new ChatTemplate.Message("user", "<tool_response>\n" + content + "\n</tool_response>");
            case MISTRAL -> new ChatTemplate.Message("tool", JSON.createObjectNode().put("content", content).toString());
        };
    }

    /** The text that opens a forced call in the prompt: Mistral's control token, which a text grammar cannot write. */
    String opening() {
        return form == Form.MISTRAL ? MISTRAL_CALLS : "";
    }

    /** Replies that are exactly one call of one of the functions, with arguments of its schema (after {@link #opening}). */
    Grammar grammar(List<Tools.Function> offered) {
        List<String> prefixes = offered.stream().map(f -> switch (form) {
            case LLAMA3 -> prefix(f.name());
            case HERMES -> "<tool_call>\n" + prefix(f.name());
            case MISTRAL -> "[" + prefix(f.name()); // the space the tokenizer puts after [TOOL_CALLS] is the grammar's one allowed space
        }).toList();
        String suffix = switch (form) {
            case LLAMA3 -> "}";
            case HERMES -> "}\n</tool_call>";
            case MISTRAL -> "}]";
        };
        return Grammar.tagged(prefixes, offered.stream().map(Tools.Function::grammar).toList(), suffix);
    }

    private String prefix(String name) {
        return "{\"name\": \"" + name + "\", \"" + (form == Form.LLAMA3 ? "parameters" : "arguments") + "\": "; // names need no escaping
    }

    /** The calls the reply makes, empty if it is not (wholly) calls of offered functions. */
    List<Call> calls(String reply, List<Tools.Function> offered) {
        List<JsonNode> objects = new ArrayList<>();
        switch (form) {
            case LLAMA3 -> objects.add(parse(reply.strip()));
            case HERMES -> {
                Matcher m = TAGGED.matcher(reply);
                int end = 0;
                while (m.find()) {
                    if (!reply.substring(end, m.start()).isBlank()) return List.of();
                    objects.add(parse(m.group(1)));
                    end = m.end();
                }
                if (!reply.substring(end).isBlank()) return List.of();
            }
            case MISTRAL -> { // the [TOOL_CALLS] token itself decodes to no text
                JsonNode list = parse(reply.strip());
                if (list == null || !list.isArray() || list.isEmpty()) return List.of();
                list.forEach(objects::add);
            }
        }
        List<Call> calls = new ArrayList<>();
        for (JsonNode o : objects) {
            Call c = call(o, offered);
            if (c == null) return List.of();
            calls.add(c);
        }
        return calls;
    }

    private static JsonNode parse(String text) {
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    private static Call call(JsonNode o, List<Tools.Function> offered) {
        JsonNode args = o == null ? null : o.has("parameters") ? o.get("parameters") : o.get("arguments");
        if (args == null || !args.isObject() || !o.path("name").isTextual()) return null;
        String name = o.get("name").asText();
        return offered.stream().anyMatch(f -> f.name().equals(name)) ? new Call(name, args.toString()) : null;
    }
}
