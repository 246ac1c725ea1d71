package io.gemmaserving.runtime.server;

import io.gemmaserving.runtime.engine.batch.BatchScheduler;

/** Fired once the model is loaded and its scheduler runs: metrics whose labels come from the scheduler's limits. */
record SchedulerStarted(BatchScheduler scheduler) {
}
