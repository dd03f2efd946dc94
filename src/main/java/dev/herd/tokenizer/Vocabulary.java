package dev.herd.tokenizer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Token texts, llama.cpp token types and special ids. specials holds the texts of control, unknown and user-defined
 * tokens, userDefined those of user-defined ones only, both longest first.
 */
record Vocabulary(String[] tokens, int[] types, Map<String, Integer> ids, int bos, Set<Integer> eos, boolean addBos,
                  List<String> specials, List<String> userDefined) {

    static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;

    /** End-of-turn markers that stop generation like EOS does (llama.cpp's EOT/EOG detection by text). */
    private static final Set<String> END_OF_TURN = Set.of(
            "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>");

    static Vocabulary of(String[] tokens, int[] types, int bos, int eos, boolean addBos) {
        Map<String, Integer> ids = HashMap.newHashMap(tokens.length);
        for (int i = 0; i < tokens.length; i++) ids.put(tokens[i], i); // a later duplicate wins, as in llama.cpp
        Set<Integer> eosSet = new LinkedHashSet<>();
        if (eos >= 0) eosSet.add(eos);
        List<String> specials = new ArrayList<>(), userDefined = new ArrayList<>();
        for (int i = 0; i < tokens.length; i++) {
            switch (types[i]) {
                case CONTROL, UNKNOWN -> {
                    specials.add(tokens[i]);
                    if (types[i] == CONTROL && END_OF_TURN.contains(tokens[i])) eosSet.add(i);
                }
                case USER_DEFINED -> userDefined.add(tokens[i]);
                default -> {}
            }
        }
        // llama.cpp cuts out longer special texts first
        specials.addAll(userDefined);
        specials.sort(Comparator.comparingInt(String::length).reversed());
        userDefined.sort(Comparator.comparingInt(String::length).reversed());
        return new Vocabulary(tokens, types, ids, bos, Collections.unmodifiableSet(eosSet), addBos, List.copyOf(specials), List.copyOf(userDefined));
    }

    int id(String text) {
        return ids.getOrDefault(text, -1);
    }
}
