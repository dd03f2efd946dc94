package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.grammar.Grammar;
import dev.herd.grammar.SchemaException;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A request's {@code tools} and {@code tool_choice}, validated: function names as OpenAI allows them, each once,
 * parameters in the schema subset Herd enforces (so that a forced call can follow them).
 *
 * @param offered the functions the model may call: all of them, or the one tool_choice names
 * @param forced  true when tool_choice is "required" or names a function: the reply must be a call
 * @param format  how the model's template family writes calls
 * @param parallel false when parallel_tool_calls is: a reply gives at most one call
 */
record Tools(List<Function> functions, List<Function> offered, boolean forced, ToolFormat format, boolean parallel) {
    static final int MAX_TOOLS = 128;
    private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9_-]{1,64}");

    /** @param parameters the schema as sent (null: none), grammar its compiled form */
    record Function(String name, String description, JsonNode parameters, Grammar grammar) {}

    /** The grammar a reply must follow: one call, when forced; else null. */
    Grammar grammar() {
        return forced ? format.grammar(offered) : null;
    }

    /** The calls a whole reply makes (none if it is text); with parallel_tool_calls false, the first of several. */
    List<ToolFormat.Call> calls(String reply) {
        List<ToolFormat.Call> calls = format.calls(reply, offered);
        return parallel || calls.size() <= 1 ? calls : calls.subList(0, 1);
    }

    /** The tools the model may call, or null when there are none or tool_choice is "none". */
    static Tools read(JsonNode body, ToolFormat format) {
        JsonNode list = body.get("tools"), choice = body.get("tool_choice"), parallelCalls = body.get("parallel_tool_calls");
        if (parallelCalls != null && !parallelCalls.isNull() && !parallelCalls.isBoolean()) {
            throw ApiError.invalid("parallel_tool_calls", "'parallel_tool_calls' must be true or false");
        }
        boolean parallel = parallelCalls == null || parallelCalls.isNull() || parallelCalls.asBoolean();
        boolean none = list == null || list.isNull() || (list.isArray() && list.isEmpty());
        if (none) {
            if (choice != null && !choice.isNull() && !"none".equals(choice.asText(null)) && !"auto".equals(choice.asText(null))) {
                throw ApiError.invalid("tool_choice", "'tool_choice' needs 'tools'");
            }
            return null;
        }
        if (!list.isArray() || list.size() > MAX_TOOLS) throw ApiError.invalid("tools", "'tools' must be an array of up to " + MAX_TOOLS + " tools");
        List<Function> functions = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            Function f = function(list.get(i), "tools[" + i + "]");
            if (!names.add(f.name())) throw ApiError.invalid("tools[" + i + "].function.name", "two tools are named '" + f.name() + "'");
            functions.add(f);
        }
        if (choice == null || choice.isNull() || "auto".equals(choice.asText(null))) return new Tools(functions, functions, false, format, parallel);
        if ("none".equals(choice.asText(null))) return null;
        if ("required".equals(choice.asText(null))) return new Tools(functions, functions, true, format, parallel);
        if (choice.isObject() && "function".equals(choice.path("type").asText()) && choice.path("function").path("name").isTextual()) {
            String name = choice.path("function").path("name").asText();
            for (Function f : functions) if (f.name().equals(name)) return new Tools(functions, List.of(f), true, format, parallel);
            throw ApiError.invalid("tool_choice.function.name", "'tool_choice' names no tool in 'tools'");
        }
        throw ApiError.invalid("tool_choice", "'tool_choice' must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ...}}");
    }

    private static Function function(JsonNode tool, String at) {
        if (tool == null || !tool.isObject() || !"function".equals(tool.path("type").asText())) {
            throw ApiError.invalid(at, "'" + at + "' must be {\"type\": \"function\", \"function\": {...}}");
        }
        JsonNode f = tool.path("function");
        String name = f.path("name").asText("");
        if (!f.path("name").isTextual() || !NAME.matcher(name).matches()) {
            throw ApiError.invalid(at + ".function.name", "'" + at + ".function.name' must be 1 to 64 letters, digits, _ or -");
        }
        JsonNode description = f.get("description");
        if (description != null && !description.isNull() && !description.isTextual()) throw ApiError.invalid(at + ".function.description", "a description must be a string");
        JsonNode parameters = f.get("parameters");
        if (parameters != null && parameters.isNull()) parameters = null;
        if (parameters != null && !(parameters.isObject() && "object".equals(parameters.path("type").asText("object")))) {
            throw ApiError.invalid(at + ".function.parameters", "'" + at + ".function.parameters' must be an object schema");
        }
        try {
            Grammar g = parameters == null ? Grammar.jsonObject() : Grammar.arguments(parameters);
            return new Function(name, description == null ? null : description.asText(null), parameters, g);
        } catch (SchemaException e) {
            throw new ApiError(400, "invalid_request_error", at + ".function.parameters", "unsupported_schema", at + ".function.parameters: " + e.getMessage());
        }
    }
}
