package dev.herd.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.HerdException;
import dev.herd.format.FileText;
import dev.herd.format.Limits;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A tokenizer.model or tokenizer.json (+ tokenizer_config.json) as the GGUF metadata llama.cpp's converter writes,
 * keyed as llama.cpp names them, so a converter can embed it with {@code metadata.forEach(ggufWriter::put)} and
 * {@link Tokenizers} can build a tokenizer from files and GGUFs the same way.
 */
public final class TokenizerMetadata {
    /** The Llama 3 pre-tokenizer regex as tokenizer.json spells it; llama.cpp calls this pre-tokenizer "llama-bpe". */
    static final String LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
            + " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private TokenizerMetadata() {}

    /** Reads a tokenizer.model or a tokenizer.json, told apart by content; a tokenizer_config.json beside it is used. */
    public static Map<String, Object> read(Path file) {
        byte[] bytes = readBytes(file);
        if (isJson(bytes)) return fromJson(file, bytes);
        return fromSentencePiece(SentencePieceModel.parse(bytes, file.toString()));
    }

    /** JSON starts with '{' and ends with '}' (a protobuf starts with the tag byte 0x0a, so both ends are checked). */
    /** Whether {@code file} is a tokenizer.json (and not a SentencePiece tokenizer.model), by its content. */
    public static boolean isJson(Path file) {
        return isJson(readBytes(file));
    }

    private static boolean isJson(byte[] bytes) {
        int a = 0, b = bytes.length - 1;
        while (a <= b && (bytes[a] <= ' ' || (bytes[a] & 0xff) >= 0xbb)) a++; // whitespace and a UTF-8 BOM
        while (b >= a && bytes[b] <= ' ') b--;
        return a < b && bytes[a] == '{' && bytes[b] == '}';
    }

    private static Map<String, Object> fromSentencePiece(SentencePieceModel m) {
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("tokenizer.ggml.model", "llama");
        meta.put("tokenizer.ggml.pre", "default");
        meta.put("tokenizer.ggml.tokens", m.pieces());
        meta.put("tokenizer.ggml.scores", m.scores());
        meta.put("tokenizer.ggml.token_type", m.types());
        meta.put("tokenizer.ggml.bos_token_id", m.bos());
        meta.put("tokenizer.ggml.eos_token_id", m.eos());
        meta.put("tokenizer.ggml.unknown_token_id", m.unk());
        meta.put("tokenizer.ggml.add_bos_token", true);
        meta.put("tokenizer.ggml.add_eos_token", false);
        meta.put("tokenizer.ggml.add_space_prefix", m.addSpacePrefix());
        return meta;
    }

    private static Map<String, Object> fromJson(Path file, byte[] bytes) {
        ObjectMapper json = new ObjectMapper();
        try {
            JsonNode tokenizer = json.readTree(bytes);
            Path configFile = config(file);
            JsonNode config = configFile == null ? json.createObjectNode() : json.readTree(configFile.toFile());
            return fromHuggingFace(tokenizer, config, file.toString());
        } catch (IOException e) {
            throw new HerdException(file + ": cannot read tokenizer JSON: " + FileText.line(e.getMessage()), e);
        }
    }

    /** tokenizer_config.json beside a tokenizer.json (also for prefixed names like llama3-tokenizer.json). */
    private static Path config(Path file) {
        String name = file.getFileName().toString();
        for (String candidate : new String[]{name.replace("tokenizer.json", "tokenizer_config.json"), "tokenizer_config.json"}) {
            Path p = file.resolveSibling(candidate);
            if (!candidate.equals(name) && Files.isRegularFile(p)) return p;
        }
        return null;
    }

    private static Map<String, Object> fromHuggingFace(JsonNode tokenizer, JsonNode config, String source) {
        JsonNode model = tokenizer.path("model");
        if (!"BPE".equals(model.path("type").asText()) || !tokenizer.path("decoder").toString().contains("ByteLevel")) {
            throw new HerdException(source + ": only byte-level BPE tokenizer.json is supported (for a SentencePiece model use its tokenizer.model)");
        }
        if (!tokenizer.path("pre_tokenizer").findValuesAsText("Regex").contains(LLAMA3_REGEX)) {
            throw new HerdException(source + ": pre-tokenizer is not Llama 3's; only the llama-bpe pre-tokenizer is supported");
        }
        int size = 0;
        for (JsonNode id : model.path("vocab")) size = Math.max(size, tokenId(id, source) + 1);
        for (JsonNode t : tokenizer.path("added_tokens")) size = Math.max(size, tokenId(t.path("id"), source) + 1);
        String[] tokens = new String[size];
        int[] types = new int[size];
        for (var e : model.path("vocab").properties()) {
            tokens[e.getValue().asInt()] = e.getKey();
            types[e.getValue().asInt()] = Vocabulary.NORMAL;
        }
        for (JsonNode t : tokenizer.path("added_tokens")) {
            int id = t.path("id").asInt();
            tokens[id] = t.path("content").asText();
            types[id] = t.path("special").asBoolean() ? Vocabulary.CONTROL : Vocabulary.USER_DEFINED;
        }
        for (int i = 0; i < size; i++) {
            if (tokens[i] == null) { // holes in the id range, named as llama.cpp's converter names them
                tokens[i] = "[PAD" + i + "]";
                types[i] = Vocabulary.UNUSED;
            }
        }
        JsonNode mergeNodes = model.path("merges");
        String[] merges = new String[mergeNodes.size()];
        for (int i = 0; i < merges.length; i++) {
            JsonNode m = mergeNodes.get(i);
            if (m.isArray() && m.size() != 2) throw new HerdException(source + ": merge " + i + " " + FileText.quote(m.toString()) + " is not a pair");
            merges[i] = m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText();
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("tokenizer.ggml.model", "gpt2");
        meta.put("tokenizer.ggml.pre", "llama-bpe");
        meta.put("tokenizer.ggml.tokens", tokens);
        meta.put("tokenizer.ggml.token_type", types);
        meta.put("tokenizer.ggml.merges", merges);
        int bos = special(config, "bos_token", tokens), eos = special(config, "eos_token", tokens);
        if (bos >= 0) meta.put("tokenizer.ggml.bos_token_id", bos);
        if (eos >= 0) meta.put("tokenizer.ggml.eos_token_id", eos);
        meta.put("tokenizer.ggml.add_bos_token", config.path("add_bos_token").asBoolean(true));
        meta.put("tokenizer.ggml.add_eos_token", config.path("add_eos_token").asBoolean(false));
        String template = chatTemplate(config.path("chat_template"));
        if (template != null) meta.put("tokenizer.chat_template", template);
        return meta;
    }

    private static int tokenId(JsonNode id, String source) {
        if (!id.canConvertToExactIntegral() || id.asLong() < 0 || id.asLong() >= Limits.MAX_VOCAB) {
            throw new HerdException(source + ": token id " + FileText.quote(id.toString()) + " is not an integer from 0 to " + (Limits.MAX_VOCAB - 1));
        }
        return id.asInt();
    }

    /** Id of a special token named in tokenizer_config.json, as a string or as {"content": ...}. */
    private static int special(JsonNode config, String key, String[] tokens) {
        JsonNode v = config.path(key);
        String text = v.isObject() ? v.path("content").asText(null) : v.asText(null);
        return text == null ? -1 : Arrays.asList(tokens).indexOf(text);
    }

    /** The template string, or the one named "default" where the config holds a list of named templates. */
    private static String chatTemplate(JsonNode v) {
        if (v.isTextual()) return v.asText();
        for (JsonNode t : v) {
            if ("default".equals(t.path("name").asText())) return t.path("template").asText();
        }
        return null;
    }

    private static byte[] readBytes(Path file) {
        try {
            long size = Files.size(file);
            if (size > Limits.MAX_TOKENIZER_BYTES) throw new HerdException(file + ": " + size + " bytes is over the limit of " + Limits.MAX_TOKENIZER_BYTES + " for a tokenizer");
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new HerdException("cannot read tokenizer " + file + ": " + e.getMessage(), e);
        }
    }
}
