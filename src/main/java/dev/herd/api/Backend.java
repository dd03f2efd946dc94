package dev.herd.api;

import dev.herd.cluster.Stats;
import dev.herd.engine.Model;

/**
 * An opened model for the server; {@code stats} is the cluster's traffic, null on one node; {@code close} releases the
 * model and its cluster.
 */
public record Backend(Model model, Stats stats, Runnable close) {}
