package dev.herd;

/** A problem the user can fix (bad file, bad flag, lost worker): reported as one line, without a stack trace. */
public class HerdException extends RuntimeException {
    public HerdException(String message) {
        super(message);
    }

    public HerdException(String message, Throwable cause) {
        super(message, cause);
    }
}
