package dev.herd.grammar;

import dev.herd.HerdException;

/** A JSON schema Herd cannot enforce: the message names the keyword and where in the schema it is. */
public final class SchemaException extends HerdException {
    SchemaException(String message) {
        super(message);
    }
}
