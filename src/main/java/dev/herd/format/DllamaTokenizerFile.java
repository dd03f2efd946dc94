package dev.herd.format;

import dev.herd.HerdException;

import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A distributed-llama {@code .t} tokenizer (format v1): raw token bytes with llama2.c-style merge scores, the
 * bos id (ids from bos up are special tokens), eos ids, an optional chat template and add_bos.
 */
public record DllamaTokenizerFile(byte[][] tokens, float[] scores, int bos, int[] eos, String chatTemplate, boolean addBos) {
    static final int MAGIC = 0x567124, OLD_MAGIC = 0x567123;
    /** llama.cpp token types. */
    static final int NORMAL = 1, CONTROL = 3, BYTE = 6;

    public static DllamaTokenizerFile read(Path path) {
        ByteBuffer b;
        try {
            long size = Files.size(path);
            if (size > Limits.MAX_TOKENIZER_BYTES) throw new HerdException(path + ": " + size + " bytes is over the limit of " + Limits.MAX_TOKENIZER_BYTES + " for a tokenizer");
            b = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
        } catch (NoSuchFileException e) {
            throw new HerdException(path + ": no such file");
        } catch (IOException e) {
            throw new HerdException(path + ": cannot read (" + e.getMessage() + ")", e);
        }
        try {
            return parse(path, b);
        } catch (BufferUnderflowException e) {
            throw new HerdException(path + ": truncated at byte " + b.position());
        }
    }

    private static DllamaTokenizerFile parse(Path path, ByteBuffer b) {
        int magic = b.getInt();
        if (magic == OLD_MAGIC) throw new HerdException(path + ": old tokenizer format is not supported; convert the tokenizer again");
        if (magic != MAGIC) throw new HerdException(path + String.format(": not a distributed-llama tokenizer (magic 0x%x, expected 0x%x)", magic, MAGIC));
        int headerSize = b.getInt();
        if (headerSize < 8 || (headerSize - 8) % 8 != 0) throw new HerdException(path + ": bad header size " + headerSize);
        int vocab = -1, bos = -1, templateLength = 0, stopLength = 0, nEos = 0, legacyEos = -1, chatEos = -1;
        boolean addBos = true;
        for (int i = 0; i < (headerSize - 8) / 8; i++) {
            int key = b.getInt(), value = b.getInt();
            switch (key) {
                case 0 -> { if (value != 1) throw new HerdException(path + ": tokenizer version " + value + " is not supported (1 is)"); }
                case 1 -> vocab = value;
                case 2, 5 -> {} // max token length is implied by the tokens; pad is unused
                case 3 -> bos = value;
                case 4 -> legacyEos = value;
                case 6 -> chatEos = value;
                case 7 -> templateLength = value;
                case 8 -> stopLength = value;
                case 9 -> nEos = value;
                case 10 -> addBos = value != 0;
                default -> throw new HerdException(path + ": unknown tokenizer header key " + key);
            }
        }
        if (vocab <= 0 || vocab > b.remaining() / 8) throw new HerdException(path + ": bad or missing vocab_size " + vocab);
        if (bos < 0 || bos >= vocab) throw new HerdException(path + ": bad or missing bos_id " + bos);
        String template = templateLength > 0 ? utf8(bytes(b, fits(path, b, templateLength, 1, "chat template length"))) : null;
        b.position(b.position() + fits(path, b, stopLength, 1, "stop string length"));
        int[] eos = new int[fits(path, b, nEos, 4, "eos count")];
        for (int i = 0; i < nEos; i++) eos[i] = b.getInt();
        if (nEos == 0) eos = Arrays.stream(new int[]{legacyEos, chatEos}).filter(id -> id >= 0).distinct().toArray();
        for (int id : eos) if (id < 0 || id >= vocab) throw new HerdException(path + ": eos id " + id + " is not a token id (vocabulary of " + vocab + ")");
        byte[][] tokens = new byte[vocab][];
        float[] scores = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            scores[i] = b.getFloat();
            int len = b.getInt();
            if (len < 0 || len > b.remaining()) throw new HerdException(path + ": token " + i + " has length " + len + " past the end of the file");
            tokens[i] = bytes(b, len);
        }
        if (b.hasRemaining()) throw new HerdException(path + ": " + b.remaining() + " bytes after the last token");
        return new DllamaTokenizerFile(tokens, scores, bos, eos, template, addBos);
    }

    /** Checks that {@code n} items of {@code size} bytes lie within what is left of the file. */
    private static int fits(Path path, ByteBuffer b, int n, int size, String what) {
        if (n < 0 || n > b.remaining() / size) throw new HerdException(path + ": " + what + " " + n + " runs past the end of the file");
        return n;
    }

    /**
     * GGUF tokenizer metadata. Model "llama" (SentencePiece style: merges by highest score, as distributed-llama
     * encodes); spaces become U+2581 as in SentencePiece vocabularies, and tokens that are not valid UTF-8 are
     * spelled as one {@code <0xNN>} per byte (token type BYTE when a single byte). Ids from bos up are CONTROL.
     * add_space_prefix is false: distributed-llama adds no leading space. {@code tokenizer.ggml.eos_token_ids}
     * (Herd's key) holds every eos id; {@code eos_token_id} the first.
     */
    public Map<String, Object> metadata() {
        String[] text = new String[tokens.length];
        int[] types = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            String s = utf8OrNull(tokens[i]);
            text[i] = s != null ? s.replace(' ', '\u2581') : bytesAsHex(tokens[i]);
            types[i] = i >= bos ? CONTROL : s == null && tokens[i].length == 1 ? BYTE : NORMAL;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tokenizer.ggml.model", "llama");
        m.put("tokenizer.ggml.tokens", text);
        m.put("tokenizer.ggml.scores", scores);
        m.put("tokenizer.ggml.token_type", types);
        m.put("tokenizer.ggml.bos_token_id", bos);
        if (eos.length > 0) m.put("tokenizer.ggml.eos_token_id", eos[0]);
        m.put("tokenizer.ggml.eos_token_ids", eos);
        m.put("tokenizer.ggml.add_bos_token", addBos);
        m.put("tokenizer.ggml.add_space_prefix", false);
        if (chatTemplate != null) m.put("tokenizer.chat_template", chatTemplate);
        return m;
    }

    private static byte[] bytes(ByteBuffer b, int n) {
        byte[] a = new byte[n];
        b.get(a);
        return a;
    }

    private static String utf8(byte[] a) {
        return new String(a, StandardCharsets.UTF_8);
    }

    private static String utf8OrNull(byte[] a) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(a)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private static String bytesAsHex(byte[] a) {
        StringBuilder s = new StringBuilder();
        for (byte x : a) s.append(String.format("<0x%02X>", x & 0xff));
        return s.toString();
    }
}
