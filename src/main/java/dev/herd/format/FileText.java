package dev.herd.format;

/**
 * Text read from a file, made safe to show in a one-line error: at most {@link #MAX_CHARS} characters, quoted, with
 * control and other invisible characters (ESC, newlines, bidi overrides) escaped, so a hostile file can neither
 * flood the terminal nor send it escape sequences.
 */
public final class FileText {
    public static final int MAX_CHARS = 40;
    /** Longest library message (a JSON parser's) that may carry file text. */
    public static final int MAX_LINE = 200;

    private FileText() {}

    /** {@code s} quoted and escaped, cut to {@link #MAX_CHARS} characters with the length of the rest said. */
    public static String quote(String s) {
        if (s == null) return "null";
        int end = cut(s, MAX_CHARS);
        return "'" + escape(s.substring(0, end), true) + "'" + rest(s, end);
    }

    /** A message that may hold file text (a parser's): its first line, escaped, cut to {@link #MAX_LINE} characters. */
    public static String line(String s) {
        if (s == null) return "";
        int newline = s.indexOf('\n');
        String first = newline < 0 ? s : s.substring(0, newline);
        int end = cut(first, MAX_LINE);
        return escape(first.substring(0, end), false) + rest(first, end);
    }

    /** Index after the first {@code max} code points. */
    private static int cut(String s, int max) {
        return s.codePointCount(0, s.length()) <= max ? s.length() : s.offsetByCodePoints(0, max);
    }

    private static String rest(String s, int end) {
        return end < s.length() ? " (+" + (s.length() - end) + " more chars)" : "";
    }

    private static String escape(String s, boolean quoted) {
        StringBuilder b = new StringBuilder(s.length() + 16);
        s.codePoints().forEach(c -> {
            if (quoted && (c == '\\' || c == '\'')) b.append('\\').appendCodePoint(c);
            else if (printable(c)) b.appendCodePoint(c);
            else b.append(c <= 0xff ? String.format("\\x%02x", c) : String.format("\\u{%x}", c));
        });
        return b.toString();
    }

    private static boolean printable(int c) {
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.UNASSIGNED, Character.PRIVATE_USE, Character.SURROGATE,
                 Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR -> false;
            default -> true;
        };
    }
}
