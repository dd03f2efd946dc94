package dev.herd.engine;

import java.util.List;

/**
 * Cuts generated text at the first stop string. Text that could be the start of a stop string is held back until
 * the next pieces show it is not, so a stream never shows part of a stop string.
 */
public final class StopFilter {
    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    public StopFilter(List<String> stops) {
        this.stops = stops;
    }

    /** Adds a piece; returns the text now safe to show (empty once stopped). */
    public String push(String piece) {
        if (stopped) return "";
        held.append(piece);
        int cut = -1;
        for (String s : stops) {
            int at = held.indexOf(s);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0) {
            stopped = true;
            return take(cut);
        }
        return take(held.length() - heldBack());
    }

    /** The text still held back, at the end of generation. */
    public String flush() {
        return stopped ? "" : take(held.length());
    }

    public boolean stopped() {
        return stopped;
    }

    /** Length of the longest end of the held text that begins some stop string. */
    private int heldBack() {
        String h = held.toString();
        int best = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, h.length()); k > best; k--) {
                if (h.regionMatches(h.length() - k, s, 0, k)) {
                    best = k;
                    break;
                }
            }
        }
        return best;
    }

    private String take(int end) {
        String out = held.substring(0, end);
        held.delete(0, end);
        return out;
    }
}
