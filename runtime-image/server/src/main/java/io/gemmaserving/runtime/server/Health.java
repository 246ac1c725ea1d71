package io.gemmaserving.runtime.server;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;
import org.eclipse.microprofile.health.Readiness;
import org.eclipse.microprofile.health.Startup;

/**
 * /health/started: weights loaded; /health/ready: loaded, warmed up, not draining; /health/live: the process answers
 * (a load failure ends the process, see {@link StartupFailure}).
 */
public final class Health {

    private Health() {
    }

    @Startup
    @ApplicationScoped
    public static class Started implements HealthCheck {
        @Inject
        ModelHolder holder;

        @Override
        public HealthCheckResponse call() {
            return HealthCheckResponse.named("model-loaded").status(holder.loaded()).build();
        }
    }

    @Readiness
    @ApplicationScoped
    public static class Ready implements HealthCheck {
        @Inject
        ModelHolder holder;

        @Override
        public HealthCheckResponse call() {
            var b = HealthCheckResponse.named("model-ready").status(holder.ready());
            if (holder.draining()) {
                b.withData("draining", true);
            }
            return b.build();
        }
    }

    @Liveness
    @ApplicationScoped
    public static class Live implements HealthCheck {
        @Override
        public HealthCheckResponse call() {
            return HealthCheckResponse.named("runtime").status(true).build();
        }
    }
}
