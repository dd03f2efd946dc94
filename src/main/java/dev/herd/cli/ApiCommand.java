package dev.herd.cli;

import dev.herd.HerdException;
import dev.herd.api.ApiServer;
import dev.herd.api.Backend;
import dev.herd.api.HttpLimits;
import dev.herd.engine.ContextLength;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** Serves the model over an OpenAI-compatible HTTP API and a chat page, until the process is stopped. */
@Command(name = "api", mixinStandardHelpOptions = true, description = "Serve the model over an OpenAI-compatible HTTP API, with a chat page at /.")
final class ApiCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "ADDR", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "9990", paramLabel = "N", description = "Port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--api-key", paramLabel = "KEY", description = "Require 'Authorization: Bearer KEY' (default: the HERD_API_KEY variable, else none).")
    String apiKey;

    @Option(names = "--parallel", defaultValue = "0", paramLabel = "N", description = "Requests served at once (continuous batching), each with its own KV cache of the context's length;"
            + " 0 = up to " + ContextLength.SLOTS + " as every node's memory allows; at most " + ContextLength.MAX_SLOTS + ". Slots that do not fit are refused at start (default: ${DEFAULT-VALUE}).")
    int parallel;

    @Option(names = "--queue", defaultValue = "16", paramLabel = "N", description = "Requests that may wait while every slot generates; more get 429 (default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--cors", paramLabel = "ORIGIN", description = "Let web pages of ORIGIN (e.g. https://app.example, or *) call the API from a browser (default: none; the chat page at / is the server's own origin and needs none).")
    String cors;

    @Option(names = "--max-connections", defaultValue = "256", paramLabel = "N", description = "Connections held at once; more are answered 503 (default: ${DEFAULT-VALUE}).")
    int maxConnections;

    @Option(names = "--header-timeout-ms", defaultValue = "10000", paramLabel = "MS", description = "Time a client has to send a request's headers, and the longest a connection may idle (default: ${DEFAULT-VALUE}).")
    long headerMillis;

    @Option(names = "--body-timeout-ms", defaultValue = "30000", paramLabel = "MS", description = "Time a client has to send a request's body after its headers (default: ${DEFAULT-VALUE}).")
    long bodyMillis;

    @Option(names = "--token-delay-ms", defaultValue = "0", hidden = true, description = "Pause after each token (to watch streaming, or test slow requests).")
    long tokenDelayMs;

    @Override
    public Integer call() throws Exception {
        if (queue < 0) throw new HerdException("--queue must be >= 0, got " + queue);
        if (parallel < 0 || parallel > ContextLength.MAX_SLOTS) {
            throw new HerdException("--parallel must be between 1 and " + ContextLength.MAX_SLOTS + " (0: up to " + ContextLength.SLOTS + ", as memory allows), got " + parallel);
        }
        if (maxConnections < 1 || headerMillis < 1 || bodyMillis < 1) {
            throw new HerdException("--max-connections, --header-timeout-ms and --body-timeout-ms must be at least 1");
        }
        String key = apiKey != null ? apiKey : System.getenv("HERD_API_KEY");
        ApiServer server;
        try {
            server = ApiServer.start(() -> {
                ModelOptions.Run run = model.open(Integer.MAX_VALUE, parallel);
                return run.cluster() == null ? new Backend(run.model(), run::close)
                        : new Backend(run.model(), run.stats(), run::close, run.cluster()::unanswered);
            }, new ApiServer.Options(host, port, key == null || key.isEmpty() ? null : key, queue, tokenDelayMs,
                    cors, new HttpLimits(maxConnections, headerMillis, bodyMillis)));
        } catch (IOException e) {
            throw new HerdException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }));
        System.out.printf("herd api: serving %s on http://%s:%d/ (OpenAI API under /v1), %d request%s at once%n", server.modelName(), host, server.port(),
                server.slots(), server.slots() == 1 ? "" : "s");
        System.out.flush();
        stopped.await();
        return 0;
    }
}
