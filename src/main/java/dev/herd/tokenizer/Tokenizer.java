package dev.herd.tokenizer;

import java.util.Set;

/** Text to token ids and back, as llama.cpp does it for the model's vocabulary. */
public interface Tokenizer {

    /** Plain text to ids: no BOS, special-token texts such as {@code <s>} are tokenized as ordinary text. */
    int[] encode(String text);

    /** Like {@link #encode} but control-token texts (chat-template markers) become their single ids. */
    int[] encodeWithSpecials(String text);

    /** Concatenated text of the ids; control tokens decode to nothing. */
    String decode(int[] ids);

    /** Raw bytes of one token's text (a byte token gives its single byte, a control token nothing). */
    byte[] bytes(int id);

    /** The token's text as stored in the vocabulary, e.g. {@code ▁Hello}, {@code <|eot_id|>}. */
    String piece(int id);

    /** The id of a token by its vocabulary text, or -1. */
    int id(String piece);

    int bos();

    /** Ids that end generation: the EOS token first, then end-of-turn tokens such as {@code <|eot_id|>}. */
    Set<Integer> eos();

    /** Whether the model expects BOS at the start of a prompt. */
    boolean addBos();

    int vocabSize();

    default boolean isEos(int id) {
        return eos().contains(id);
    }

    /** The ids with BOS in front if the model wants it. */
    default int[] withBos(int[] ids) {
        if (!addBos() || bos() < 0) return ids;
        int[] out = new int[ids.length + 1];
        out[0] = bos();
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** A decoder for streaming generated ids one by one. */
    default TokenDecoder decoder() {
        return new TokenDecoder(this);
    }
}
