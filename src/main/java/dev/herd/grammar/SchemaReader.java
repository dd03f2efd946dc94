package dev.herd.grammar;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.format.FileText;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Compiles the JSON Schema subset Herd enforces: type (one or several), properties, required, additionalProperties,
 * items, minItems, maxItems, enum, const, and anyOf whose branches begin differently (a string or null, as optional
 * fields are written); annotations (title, description, ...) are ignored. Anything else is refused by name rather
 * than ignored, since the output could then break the schema. Sizes are bounded.
 */
final class SchemaReader {
    static final int MAX_DEPTH = 32, MAX_NODES = 4096, MAX_ENUM = 1024, MAX_LITERAL = 4096;
    private static final Set<String> KEYWORDS = Set.of("type", "properties", "required", "additionalProperties", "items",
            "minItems", "maxItems", "enum", "const", "anyOf");
    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "$schema", "$id", "$comment", "default",
            "examples", "deprecated", "readOnly", "writeOnly");
    private static final Set<String> TYPES = Set.of("object", "array", "string", "number", "integer", "boolean", "null");
    private static final ObjectMapper JSON = new ObjectMapper();

    private int nodes;
    /** Whether an object that lists its properties admits no others unless additionalProperties says so (tool arguments). */
    private final boolean closed;

    /** JSON Schema's own reading: an object admits properties it does not list unless additionalProperties is false. */
    SchemaReader() {
        this(false);
    }

    SchemaReader(boolean closed) {
        this.closed = closed;
    }

    Node read(JsonNode schema, String at, int depth) {
        if (depth > MAX_DEPTH) throw error(at, "the schema nests deeper than " + MAX_DEPTH + " levels");
        if (++nodes > MAX_NODES) throw error(at, "the schema has more than " + MAX_NODES + " subschemas");
        if (schema.isBoolean()) {
            if (schema.asBoolean()) return Node.ANY;
            throw error(at, "the schema false allows no value");
        }
        if (!schema.isObject()) throw error(at, "a schema must be an object or a boolean");
        for (Iterator<String> names = schema.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!KEYWORDS.contains(name) && !ANNOTATIONS.contains(name)) throw error(at, FileText.quote(name) + " is not supported");
        }
        if (schema.has("anyOf")) return anyOf(schema, at, depth);
        if (schema.has("enum") || schema.has("const")) return literals(schema, at);
        List<Node> members = new ArrayList<>();
        for (String type : types(schema, at)) {
            members.add(switch (type) {
                case "object" -> object(schema, at, depth);
                case "array" -> array(schema, at, depth);
                case "string" -> Node.STRING;
                case "number" -> Node.NUMBER;
                case "integer" -> Node.INTEGER;
                case "boolean" -> Node.BOOLEAN;
                case "null" -> Node.NULL;
                default -> Node.ANY;
            });
        }
        return members.size() == 1 ? members.getFirst() : new Node.Union(List.copyOf(members));
    }

    /** The branches, which must be told apart by their first byte: the parser does not keep several parses open. */
    private Node anyOf(JsonNode schema, String at, int depth) {
        for (Iterator<String> names = schema.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (KEYWORDS.contains(name) && !name.equals("anyOf")) throw error(at, "'anyOf' beside " + FileText.quote(name) + " is not supported");
        }
        JsonNode list = schema.get("anyOf");
        if (!list.isArray() || list.isEmpty()) throw error(at + ".anyOf", "'anyOf' must be a non-empty array of schemas");
        List<Node> members = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            Node n = read(list.get(i), at + ".anyOf[" + i + "]", depth + 1);
            if (n instanceof Node.Union u) members.addAll(u.members);
            else members.add(n);
        }
        for (int b = 0; b < 256; b++) {
            int starts = 0;
            for (Node n : members) if (n.begin(b) != null) starts++;
            if (starts > 1) throw error(at + ".anyOf", "'anyOf' branches that can begin with the same character (" + FileText.quote(String.valueOf((char) b)) + ") are not supported");
        }
        return members.size() == 1 ? members.getFirst() : new Node.Union(List.copyOf(members));
    }

    private static Set<String> types(JsonNode schema, String at) {
        JsonNode t = schema.get("type");
        Set<String> types = new LinkedHashSet<>();
        if (t == null) {
            if (schema.has("properties") || schema.has("required") || schema.has("additionalProperties")) types.add("object");
            else if (schema.has("items") || schema.has("minItems") || schema.has("maxItems")) types.add("array");
            else types.add("any");
            return types;
        }
        List<JsonNode> names = new ArrayList<>();
        if (t.isArray()) t.forEach(names::add);
        else names.add(t);
        if (names.isEmpty()) throw error(at + ".type", "'type' must name at least one type");
        for (JsonNode n : names) {
            String name = n.asText(""); // "" for a non-string
            if (!n.isTextual() || !TYPES.contains(name)) {
                throw error(at + ".type", "'type' must be object, array, string, number, integer, boolean or null, not " + FileText.quote(n.toString()));
            }
            types.add(name);
        }
        if (types.contains("number")) types.remove("integer"); // every integer is a number
        return types;
    }

    private Node object(JsonNode schema, String at, int depth) {
        JsonNode props = schema.path("properties");
        if (!props.isMissingNode() && !props.isObject()) throw error(at + ".properties", "'properties' must be an object");
        List<String> keys = new ArrayList<>(), names = new ArrayList<>();
        List<Node> values = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = props.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> p = it.next();
            String key = text(p.getKey());
            if (!valid(key)) throw error(at + ".properties", "a property name is not valid Unicode");
            names.add(p.getKey());
            keys.add(key.substring(1)); // the escaped name and its closing quote
            values.add(read(p.getValue(), at + ".properties." + p.getKey(), depth + 1));
        }
        BitSet required = new BitSet();
        JsonNode req = schema.path("required");
        if (!req.isMissingNode()) {
            if (!req.isArray()) throw error(at + ".required", "'required' must be an array of property names");
            for (JsonNode r : req) {
                int i = r.isTextual() ? names.indexOf(r.asText()) : -1;
                if (i < 0) throw error(at + ".required", "'required' names " + FileText.quote(r.toString()) + ", which is not in 'properties'");
                required.set(i);
            }
        }
        JsonNode extra = schema.get("additionalProperties");
        Node additional = extra == null ? (closed && schema.has("properties") ? null : Node.ANY)
                : extra.isBoolean() && !extra.asBoolean() ? null : read(extra, at + ".additionalProperties", depth + 1);
        return new Node.Obj(List.copyOf(keys), List.copyOf(values), required, additional);
    }

    private Node array(JsonNode schema, String at, int depth) {
        JsonNode items = schema.get("items");
        if (items != null && items.isArray()) throw error(at + ".items", "'items' as an array (a tuple) is not supported");
        int min = count(schema, "minItems", 0, at), max = count(schema, "maxItems", Integer.MAX_VALUE, at);
        if (min > max) throw error(at, "'minItems' is more than 'maxItems'");
        return new Node.Arr(items == null ? Node.ANY : read(items, at + ".items", depth + 1), min, max);
    }

    private static int count(JsonNode schema, String field, int otherwise, String at) {
        JsonNode v = schema.get(field);
        if (v == null) return otherwise;
        if (!v.isIntegralNumber() || v.asLong() < 0 || !v.canConvertToInt()) throw error(at + "." + field, "'" + field + "' must be a whole number from 0 to " + Integer.MAX_VALUE);
        return v.asInt();
    }

    private static Node literals(JsonNode schema, String at) {
        if (schema.has("enum") && schema.has("const")) throw error(at, "'enum' and 'const' together are not supported");
        JsonNode values = schema.has("const") ? JSON.createArrayNode().add(schema.get("const")) : schema.get("enum");
        if (!values.isArray() || values.isEmpty() || values.size() > MAX_ENUM) throw error(at + ".enum", "'enum' must be an array of 1 to " + MAX_ENUM + " values");
        Set<String> texts = new LinkedHashSet<>();
        for (JsonNode v : values) {
            String t = text(v);
            if (t.length() > MAX_LITERAL) throw error(at + ".enum", "an 'enum' or 'const' value is longer than " + MAX_LITERAL + " bytes");
            if (!valid(t)) throw error(at + ".enum", "an 'enum' or 'const' value holds text that is not valid Unicode");
            texts.add(t);
        }
        return new Node.Literals(List.copyOf(texts));
    }

    /** Whether the JSON text (as Latin-1 bytes) is one the parser reads: no lone surrogate, say. */
    private static boolean valid(String json) {
        State s = new Grammar(Node.ANY).start().advance(json.getBytes(StandardCharsets.ISO_8859_1));
        return s != null && s.complete();
    }

    /** The value as compact JSON, its UTF-8 bytes as Latin-1 characters. */
    private static String text(Object value) {
        try {
            return new String(JSON.writeValueAsBytes(value), StandardCharsets.ISO_8859_1);
        } catch (JsonProcessingException e) {
            throw new SchemaException("a schema value cannot be written as JSON: " + e.getOriginalMessage());
        }
    }

    private static SchemaException error(String at, String message) {
        return new SchemaException(message + (at.isEmpty() ? "" : " (at " + FileText.quote(at) + ")"));
    }
}
