package dev.herd.api;

import dev.herd.cluster.Stats;
import dev.herd.engine.Model;

import java.util.List;
import java.util.function.IntFunction;

/**
 * An opened model for the server; {@code stats} is the cluster's traffic, null on one node; {@code close} releases the
 * model and its cluster; {@code unanswered} lists the workers that do not answer within the given milliseconds
 * (each as its address and what went wrong), asked only while no generation runs.
 */
public record Backend(Model model, Stats stats, Runnable close, IntFunction<List<String>> unanswered) {
    /** A model on this machine alone. */
    public Backend(Model model, Runnable close) {
        this(model, null, close, millis -> List.of());
    }
}
