package dev.herd.api;

import dev.herd.engine.Model;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code --cors ORIGIN}: that origin's pages may call the API (CORS is off by default: {@link ApiHttpTest}). */
class ApiCorsTest {
    @Test
    void theGivenOriginIsAllowedAndPreflightsAnswered() throws Exception {
        ApiServer.Options options = new ApiServer.Options("127.0.0.1", 0, null, 4, 0, "http://app.example", HttpLimits.DEFAULT);
        try (ApiServer server = ApiServer.start(() -> {
            Model m = Model.open(TestApi.FIXTURE, null, 0, 1);
            return new Backend(m, m::close);
        }, options); HttpClient http = HttpClient.newHttpClient()) {
            URI chat = URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions");
            HttpResponse<String> preflight = send(http, HttpRequest.newBuilder(chat).method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                    .header("Origin", "http://app.example").header("Access-Control-Request-Method", "POST").build());
            assertThat(preflight.statusCode()).isEqualTo(204);
            assertThat(preflight.headers().firstValue("Access-Control-Allow-Origin")).hasValue("http://app.example");
            assertThat(preflight.headers().firstValue("Access-Control-Allow-Headers")).hasValueSatisfying(h -> assertThat(h).contains("Authorization"));
            HttpResponse<String> post = send(http, HttpRequest.newBuilder(chat).header("Origin", "http://app.example")
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2}")).build());
            assertThat(post.statusCode()).isEqualTo(200);
            assertThat(post.headers().firstValue("Access-Control-Allow-Origin")).hasValue("http://app.example");
        }
    }

    private static HttpResponse<String> send(HttpClient http, HttpRequest r) throws IOException, InterruptedException {
        return http.send(r, HttpResponse.BodyHandlers.ofString());
    }
}
