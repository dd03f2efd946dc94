package dev.herd.api;

import dev.herd.cluster.Worker;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.List;

/**
 * herd api --parallel on the fixture split over the root and two workers (loopback): each decode step carries the
 * rows of every running request to the workers in one exchange per sync point, and every request still gives
 * exactly the text it gives alone.
 */
class ApiParallelClusterTest {
    static Worker first, second;
    static TestApi api;

    @BeforeAll
    static void start() throws IOException {
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        first = new Worker("127.0.0.1", 0, 1, null, quiet);
        second = new Worker("127.0.0.1", 0, 1, null, quiet);
        Thread.ofPlatform().daemon().start(first::serve);
        Thread.ofPlatform().daemon().start(second::serve);
        api = TestApi.split(null, 16, 0, List.of("127.0.0.1:" + first.port(), "127.0.0.1:" + second.port()), 3);
    }

    @AfterAll
    static void stop() throws IOException {
        api.close();
        first.close();
        second.close();
    }

    @Test
    void requestsServedTogetherGiveExactlyTheirTextsAlone() throws Exception {
        ApiParallelTest.sameTogetherAsAlone(api, 3);
    }
}
