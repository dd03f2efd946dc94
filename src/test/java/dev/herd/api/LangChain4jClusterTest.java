package dev.herd.api;

import dev.herd.cluster.Worker;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/** The same LangChain4j checks against {@code herd api} with the model split across the root and 2 local workers. */
class LangChain4jClusterTest extends LangChain4jClientTest {
    static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());
    static final List<Worker> workers = new ArrayList<>();

    @BeforeAll
    static void start() throws IOException {
        for (int i = 0; i < 2; i++) {
            Worker w = new Worker("127.0.0.1", 0, 1, null, QUIET);
            workers.add(w);
            Thread.ofPlatform().daemon().start(w::serve);
        }
        api = TestApi.split("lc4j-key", 16, 0, workers.stream().map(w -> "127.0.0.1:" + w.port()).toList());
    }

    @AfterAll
    static void stop() throws IOException {
        api.close();
        for (Worker w : workers) w.close();
    }
}
