package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.cluster.LostWorkerTest;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** /health on a real loopback cluster: the root and two worker processes, one of which is killed. */
class ApiHealthTest {
    @Test
    void healthIs503NamingAKilledWorker() throws Exception {
        int[] first = new int[1], second = new int[1];
        Process one = LostWorkerTest.startWorker(first), two = LostWorkerTest.startWorker(second);
        try (TestApi api = TestApi.split(null, 4, 0, List.of("127.0.0.1:" + first[0], "127.0.0.1:" + second[0]))) {
            HttpResponse<String> healthy = api.get("/health");
            assertThat(healthy.statusCode()).as(healthy.body()).isEqualTo(200);
            assertThat(TestApi.json(healthy.body()).get("status").asText()).isEqualTo("ok");
            assertThat(api.post("/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":3}").statusCode()).isEqualTo(200);

            two.destroyForcibly();
            assertThat(two.waitFor(10, TimeUnit.SECONDS)).isTrue();
            for (int i = 0; i < 2; i++) { // the probe that found it, then the dropped model's reason
                HttpResponse<String> lost = api.get("/health");
                assertThat(lost.statusCode()).isEqualTo(503);
                assertThat(lost.headers().firstValue("Content-Type")).hasValue("application/json");
                JsonNode body = TestApi.json(lost.body());
                assertThat(body.get("status").asText()).isEqualTo("unavailable");
                assertThat(body.get("error").asText()).contains("lost worker 127.0.0.1:" + second[0]).doesNotContain("127.0.0.1:" + first[0]);
            }
        } finally {
            one.destroyForcibly();
            two.destroyForcibly();
        }
    }
}
