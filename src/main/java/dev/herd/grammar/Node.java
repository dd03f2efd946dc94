package dev.herd.grammar;

import java.util.BitSet;
import java.util.List;

/**
 * A compiled schema: what a JSON value may be. Nodes compare by identity, so that parser states holding them hash
 * fast. Literal texts (enum values, property names) are kept as Latin-1 strings of their UTF-8 bytes: one char a byte.
 */
abstract sealed class Node {
    /** The frame that reads this value from its first byte, or null when the value cannot start with {@code b}. */
    abstract Frame begin(int b);

    static final Node STRING = new Node.Str();
    static final Node NUMBER = new Node.Num(false), INTEGER = new Node.Num(true);
    static final Node BOOLEAN = new Node.Literals(List.of("true", "false")), NULL = new Node.Literals(List.of("null"));
    static final Node ANY = new Node.Any();
    static final Obj ANY_OBJECT = new Obj(List.of(), List.of(), new BitSet(), ANY);
    static final Arr ANY_ARRAY = new Arr(ANY, 0, Integer.MAX_VALUE);

    static final class Obj extends Node {
        /** Property names JSON-escaped, each followed by its closing quote: what a key frame matches. */
        final List<String> keys;
        final List<Node> values;
        final BitSet required; // bit i: keys[i] is required
        final Node additional; // null: no other keys

        Obj(List<String> keys, List<Node> values, BitSet required, Node additional) {
            this.keys = keys;
            this.values = values;
            this.required = required;
            this.additional = additional;
        }

        @Override
        Frame begin(int b) {
            return b == '{' ? Frame.Obj.before(this) : null;
        }
    }

    static final class Arr extends Node {
        final Node items;
        final int min, max;

        Arr(Node items, int min, int max) {
            this.items = items;
            this.min = min;
            this.max = max;
        }

        @Override
        Frame begin(int b) {
            return b == '[' ? new Frame.Arr(this, 0, Frame.Arr.BEFORE) : null;
        }
    }

    static final class Str extends Node {
        @Override
        Frame begin(int b) {
            return b == '"' ? Frame.Str.BEFORE : null;
        }
    }

    static final class Num extends Node {
        final boolean integer;

        Num(boolean integer) {
            this.integer = integer;
        }

        @Override
        Frame begin(int b) {
            return b == '-' || (b >= '0' && b <= '9') ? new Frame.Num(integer, Frame.Num.BEFORE) : null;
        }
    }

    /** One of a few exact texts: true/false, null, enum and const values (compact JSON). */
    static final class Literals extends Node {
        final List<String> texts;

        Literals(List<String> texts) {
            this.texts = texts;
        }

        @Override
        Frame begin(int b) {
            for (String t : texts) if (t.charAt(0) == b) return new Frame.Lit(texts, 0);
            return null;
        }
    }

    /** Several types told apart by their first byte ({@code "type": ["string", "null"]}). */
    static final class Union extends Node {
        final List<Node> members;

        Union(List<Node> members) {
            this.members = members;
        }

        @Override
        Frame begin(int b) {
            for (Node n : members) {
                Frame f = n.begin(b);
                if (f != null) return f;
            }
            return null;
        }
    }

    /** One of several values, each after its own fixed text and all before the same one (a tool call by name). */
    static final class Tagged extends Node {
        final List<String> prefixes; // Latin-1 bytes; none is a prefix of another
        final List<Node> values;
        final String suffix;

        Tagged(List<String> prefixes, List<Node> values, String suffix) {
            this.prefixes = prefixes;
            this.values = values;
            this.suffix = suffix;
        }

        @Override
        Frame begin(int b) {
            for (String p : prefixes) if (p.charAt(0) == b) return new Frame.Tag(this, "");
            return null;
        }
    }

    /** Any JSON value. */
    static final class Any extends Node {
        @Override
        Frame begin(int b) {
            return switch (b) {
                case '{' -> Frame.Obj.before(ANY_OBJECT);
                case '[' -> new Frame.Arr(ANY_ARRAY, 0, Frame.Arr.BEFORE);
                case '"' -> STRING.begin(b);
                case 't', 'f' -> BOOLEAN.begin(b);
                case 'n' -> NULL.begin(b);
                default -> NUMBER.begin(b);
            };
        }
    }
}
