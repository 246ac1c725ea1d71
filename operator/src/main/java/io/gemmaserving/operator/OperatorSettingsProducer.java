package io.gemmaserving.operator;

import io.gemmaserving.operator.plan.OperatorSettings;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/** In the Quarkus application the reconciler gets its settings from here: the operator Deployment's environment. */
public class OperatorSettingsProducer {

    @Produces
    @Singleton
    OperatorSettings settings() {
        return OperatorSettings.fromEnvironment();
    }
}
